/*
 * Local APIC (Intel SDM Vol. 3A chapter 11). Register layout: lapic_regs.def.
 *
 * The APIC timer counts at the TSC rate (the model's tsc_hz, 1 GHz by
 * default: the 1-ns APIC bus period KVM uses) divided by the divide
 * configuration. Interrupts are accepted into the IRR; the core's
 * interrupt logic (core/intr.c) injects the highest one at VM entry, as L0
 * does on VT-x.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/arch.h"
#include "core/cpuid.h"
#include "core/vm.h"
#include "ioapic.h"
#include "lapic.h"

#define LR_RO 1u
#define LR_WO 2u
#define LR_RW 3u

enum {
#define X(name, off, count, xa, x2, wm, desc) LR_##name = (off) >> 4,
#include "lapic_regs.def"
#undef X
	LR_COUNT = 64,
};

static const struct lapic_reg {
	uint8_t xapic, x2apic;
	uint32_t x2wmask;
	const char *name;
} reg_table[LR_COUNT] = {
#define X(name, off, count, xa, x2, wm, desc) \
	[((off) >> 4)...(((off) >> 4) + (count)-1)] = { xa, x2, wm, desc },
#include "lapic_regs.def"
#undef X
};

/* Version register: version 0x14 (integrated APIC), 6 LVT entries (max
 * LVT entry 5), no EOI-broadcast suppression (11.4.8 Figure 11-7). */
#define LAPIC_VERSION 0x00050014u

/* LVT bits (11.5.1 Figure 11-8). */
#define LVT_MASKED (1u << 16)
#define LVT_DM(v) (((v) >> 8) & 7)
#define LVT_TIMER_MODE(v) (((v) >> 17) & 3)
enum { TIMER_ONESHOT = 0, TIMER_PERIODIC = 1, TIMER_TSC_DEADLINE = 2 };
#define SVR_ENABLE (1u << 8)

/* ESR bits (11.5.3 Figure 11-9). */
#define ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define ESR_ILLEGAL_REGISTER (1u << 7)

struct lapic {
	struct vcpu *v;
	uint64_t base; /* IA32_APIC_BASE */
	uint32_t reg[LR_COUNT];
	uint32_t esr_pending; /* errors since the last ESR write */
	struct vm_timer timer;
	uint64_t timer_start; /* guest time the count started from */
	uint64_t tsc_deadline; /* IA32_TSC_DEADLINE */
};

static inline bool x2apic_mode(const struct lapic *l)
{
	return (l->base & (APIC_BASE_EN | APIC_BASE_EXTD)) == (APIC_BASE_EN | APIC_BASE_EXTD);
}

bool lapic_hw_enabled(const struct lapic *l)
{
	return (l->base & APIC_BASE_EN) != 0;
}

static inline bool sw_enabled(const struct lapic *l)
{
	return (l->reg[LR_SVR] & SVR_ENABLE) != 0;
}

/* ---- 256-bit registers: ISR, TMR, IRR ---- */

static inline bool bit_get(const struct lapic *l, unsigned base, unsigned v)
{
	return (l->reg[base + v / 32] >> (v % 32)) & 1;
}

static inline void bit_set(struct lapic *l, unsigned base, unsigned v, bool on)
{
	if (on)
		l->reg[base + v / 32] |= 1u << (v % 32);
	else
		l->reg[base + v / 32] &= ~(1u << (v % 32));
}

static int highest(const struct lapic *l, unsigned base)
{
	for (int w = 7; w >= 0; w--)
		if (l->reg[base + w])
			return w * 32 + 31 - __builtin_clz(l->reg[base + w]);
	return -1;
}

/* PPR (11.8.3.1): TPR if its class is at least the highest in-service
 * class, else that class. */
static uint32_t ppr(const struct lapic *l)
{
	uint32_t tpr = l->reg[LR_TPR] & 0xff;
	int isrv = highest(l, LR_ISR);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	return (tpr & 0xf0) >= isr_class ? tpr : isr_class;
}

int lapic_pending(const struct lapic *l)
{
	if (!lapic_hw_enabled(l))
		return -1;
	int irrv = highest(l, LR_IRR);
	if (irrv < 0 || ((unsigned)irrv & 0xf0) <= (ppr(l) & 0xf0))
		return -1;
	return irrv;
}

unsigned lapic_masked_irr_class(const struct lapic *l)
{
	int irrv = highest(l, LR_IRR);
	if (irrv < 0 || ((unsigned)irrv & 0xf0) > (ppr(l) & 0xf0))
		return 0;
	return ((unsigned)irrv >> 4) & 0xf;
}

int lapic_ack(struct lapic *l)
{
	int v = lapic_pending(l);
	if (v < 0)
		return -1;
	bit_set(l, LR_IRR, (unsigned)v, false);
	bit_set(l, LR_ISR, (unsigned)v, true);
	return v;
}

static void record_error(struct lapic *l, uint32_t err);

void lapic_accept_fixed(struct lapic *l, unsigned vector, bool level_triggered)
{
	if (!lapic_hw_enabled(l))
		return;
	/* Vectors 0-15 are illegal (11.5.2); a software-disabled APIC drops
	 * fixed interrupts (11.4.7.2). */
	if (vector < 16) {
		record_error(l, ESR_RECV_ILLEGAL_VECTOR);
		return;
	}
	if (!sw_enabled(l))
		return;
	bit_set(l, LR_IRR, vector, true);
	bit_set(l, LR_TMR, vector, level_triggered);
}

static void record_error(struct lapic *l, uint32_t err)
{
	l->esr_pending |= err;
	uint32_t lvt = l->reg[LR_LVT_ERROR];
	if (!(lvt & LVT_MASKED))
		lapic_accept_fixed(l, lvt & 0xff, false);
}

/* EOI (11.8.5): retire the highest in-service vector; a level-triggered
 * one is broadcast to the I/O APIC. */
static void eoi(struct lapic *l)
{
	int v = highest(l, LR_ISR);
	if (v < 0)
		return;
	bit_set(l, LR_ISR, (unsigned)v, false);
	if (bit_get(l, LR_TMR, (unsigned)v))
		ioapic_eoi(l->v->vm, (unsigned)v);
}

/* ---- timer (11.5.4) ---- */

static uint64_t timer_divisor(const struct lapic *l)
{
	uint32_t d = l->reg[LR_TDCR];
	unsigned code = (d & 3) | ((d >> 1) & 4); /* bits 0, 1, 3 */
	return code == 7 ? 1 : 2ull << code;
}

static unsigned timer_mode(const struct lapic *l)
{
	return LVT_TIMER_MODE(l->reg[LR_LVT_TIMER]);
}

static uint64_t period(const struct lapic *l)
{
	return (uint64_t)l->reg[LR_TMICT] * timer_divisor(l);
}

static void timer_start(struct lapic *l, uint64_t now)
{
	l->timer_start = now;
	if (l->reg[LR_TMICT] && timer_mode(l) != TIMER_TSC_DEADLINE)
		vm_timer_arm(&l->timer, now + period(l));
	else
		vm_timer_disarm(&l->timer);
}

static void tsc_deadline_arm(struct lapic *l)
{
	if (timer_mode(l) != TIMER_TSC_DEADLINE || !l->tsc_deadline) {
		vm_timer_disarm(&l->timer);
		return;
	}
	/* Guest time at which the TSC reaches the deadline. */
	uint64_t off = l->v->s.tsc_offset;
	uint64_t t = l->tsc_deadline - off;
	uint64_t now = vcpu_now(l->v);
	vm_timer_arm(&l->timer, (int64_t)(l->tsc_deadline - (now + off)) <= 0 ? now : t);
}

static void timer_fire(void *opaque, uint64_t when)
{
	struct lapic *l = opaque;
	uint32_t lvt = l->reg[LR_LVT_TIMER];
	if (!(lvt & LVT_MASKED))
		lapic_accept_fixed(l, lvt & 0xff, false);
	switch (timer_mode(l)) {
	case TIMER_PERIODIC:
		if (period(l)) {
			l->timer_start = when;
			vm_timer_arm(&l->timer, when + period(l));
		}
		break;
	case TIMER_TSC_DEADLINE:
		l->tsc_deadline = 0; /* the MSR reads 0 once it fired */
		break;
	default:
		break;
	}
}

static uint32_t current_count(const struct lapic *l)
{
	uint32_t init = l->reg[LR_TMICT];
	if (!init || timer_mode(l) == TIMER_TSC_DEADLINE)
		return 0;
	uint64_t ticks = (vcpu_now(l->v) - l->timer_start) / timer_divisor(l);
	if (timer_mode(l) == TIMER_PERIODIC)
		return init - (uint32_t)(ticks % init);
	return ticks >= init ? 0 : init - (uint32_t)ticks;
}

/* ---- registers ---- */

static uint32_t ldr_x2apic(uint32_t id)
{
	/* 11.12.10.2: cluster ID = ID[19:4] in bits 31:16, one bit per
	 * logical ID in 15:0. */
	return ((id >> 4) << 16) | (1u << (id & 0xf));
}

static uint32_t reg_read(struct lapic *l, unsigned idx)
{
	switch (idx) {
	case LR_PPR:
		return ppr(l);
	case LR_TMCCT:
		return current_count(l);
	case LR_ID:
		return x2apic_mode(l) ? l->v->id : l->reg[LR_ID];
	case LR_LDR:
		return x2apic_mode(l) ? ldr_x2apic(l->v->id) : l->reg[LR_LDR];
	default:
		return l->reg[idx];
	}
}

static void send_ipi(struct lapic *l, uint32_t lo, uint32_t dest)
{
	struct apic_msg m = {
		.dest = dest,
		.vector = lo & 0xff,
		.mode = (lo >> 8) & 7,
		.logical = (lo >> 11) & 1,
		.level = (lo >> 14) & 1,
		.trigger_level = (lo >> 15) & 1,
		.shorthand = (lo >> 18) & 3,
		.x2apic = x2apic_mode(l),
	};
	if ((m.mode == APIC_DM_FIXED || m.mode == APIC_DM_LOWEST) && m.vector < 16) {
		record_error(l, ESR_SEND_ILLEGAL_VECTOR);
		return;
	}
	apic_deliver(l->v->vm, l, &m);
}

static void write_lvt(struct lapic *l, unsigned idx, uint32_t val, uint32_t mask)
{
	uint32_t old = l->reg[idx];
	val &= mask;
	if (!sw_enabled(l))
		val |= LVT_MASKED;
	/* Keep the read-only delivery-status and remote-IRR bits. */
	l->reg[idx] = val | (old & ((1u << 12) | (1u << 14)));
	if (idx == LR_LVT_TIMER && LVT_TIMER_MODE(old) != LVT_TIMER_MODE(val)) {
		/* Changing the timer mode disarms the timer (11.5.4.1). */
		vm_timer_disarm(&l->timer);
		l->reg[LR_TMICT] = 0;
		l->tsc_deadline = 0;
	}
}

static void reg_write(struct lapic *l, unsigned idx, uint32_t val)
{
	switch (idx) {
	case LR_ID:
		l->reg[LR_ID] = val & 0xff000000u;
		break;
	case LR_TPR:
		l->reg[LR_TPR] = val & 0xff;
		break;
	case LR_EOI:
		eoi(l);
		break;
	case LR_LDR:
		l->reg[LR_LDR] = val & 0xff000000u;
		break;
	case LR_DFR:
		l->reg[LR_DFR] = val | 0x0fffffffu;
		break;
	case LR_SVR:
		l->reg[LR_SVR] = val & 0x1ff;
		if (!(val & SVR_ENABLE)) {
			/* Software disable masks every LVT entry (11.4.7.2). */
			for (unsigned k = LR_LVT_TIMER; k <= LR_LVT_ERROR; k++)
				l->reg[k] |= LVT_MASKED;
		}
		break;
	case LR_ESR:
		/* A write latches the errors since the previous one (11.5.3). */
		l->reg[LR_ESR] = l->esr_pending;
		l->esr_pending = 0;
		break;
	case LR_ICR_LO:
		l->reg[LR_ICR_LO] = val & ~(1u << 12);
		send_ipi(l, val, l->reg[LR_ICR_HI] >> 24);
		break;
	case LR_ICR_HI:
		l->reg[LR_ICR_HI] = val & 0xff000000u;
		break;
	case LR_LVT_TIMER:
		write_lvt(l, idx, val,
			  cpu_has(&l->v->vm->model, CPUF_TSC_DEADLINE) ? 0x000700ffu : 0x000300ffu);
		if (timer_mode(l) == TIMER_TSC_DEADLINE)
			tsc_deadline_arm(l);
		break;
	case LR_LVT_THERMAL:
	case LR_LVT_PERF:
		write_lvt(l, idx, val, 0x000107ffu);
		break;
	case LR_LVT_LINT0:
	case LR_LVT_LINT1:
		write_lvt(l, idx, val, 0x0001a7ffu);
		break;
	case LR_LVT_ERROR:
		write_lvt(l, idx, val, 0x000100ffu);
		break;
	case LR_TMICT:
		if (timer_mode(l) == TIMER_TSC_DEADLINE)
			break; /* ignored in TSC-deadline mode (11.5.4.1) */
		l->reg[LR_TMICT] = val;
		timer_start(l, vcpu_now(l->v));
		break;
	case LR_TDCR: {
		/* Keep the count where it is: restart from the current count. */
		uint32_t cur = current_count(l);
		l->reg[LR_TDCR] = val & 0xb;
		if (l->timer.deadline != TIMER_NEVER && timer_mode(l) != TIMER_TSC_DEADLINE) {
			uint64_t now = vcpu_now(l->v);
			l->timer_start = now - (uint64_t)(l->reg[LR_TMICT] - cur) * timer_divisor(l);
			vm_timer_arm(&l->timer, now + (uint64_t)cur * timer_divisor(l));
		}
		break;
	}
	case LR_SELF_IPI:
		lapic_accept_fixed(l, val & 0xff, false);
		break;
	default:
		break;
	}
}

/* ---- xAPIC MMIO (11.4.1): 32-bit accesses to the first dword of each
 * 16-byte register; anything else reads 0 and is dropped. ---- */

bool lapic_mmio_claims(const struct lapic *l, uint64_t gpa)
{
	return lapic_hw_enabled(l) && !x2apic_mode(l) && (gpa & PAGE_MASK) == (l->base & 0x000ffffffffff000ull);
}

uint64_t lapic_mmio_read(struct lapic *l, uint64_t gpa, unsigned size)
{
	unsigned off = gpa & 0xfff;
	unsigned idx = off >> 4;
	if ((off & 0xf) + size > 4 || !(reg_table[idx].xapic & LR_RO)) {
		if (!reg_table[idx].xapic)
			record_error(l, ESR_ILLEGAL_REGISTER);
		return 0;
	}
	uint64_t v = reg_read(l, idx) >> (8 * (off & 3));
	return size >= 4 ? (uint32_t)v : v & ((1ull << (8 * size)) - 1);
}

void lapic_mmio_write(struct lapic *l, uint64_t gpa, unsigned size, uint64_t val)
{
	unsigned off = gpa & 0xfff;
	unsigned idx = off >> 4;
	if ((off & 0xf) || size != 4) {
		vm_guest_warn(l->v->vm, "local APIC: %u-byte write at offset 0x%x ignored", size, off);
		return;
	}
	if (!(reg_table[idx].xapic & LR_WO)) {
		if (!reg_table[idx].xapic)
			record_error(l, ESR_ILLEGAL_REGISTER);
		return;
	}
	reg_write(l, idx, (uint32_t)val);
}

/* ---- x2APIC MSRs (11.12.1.2, 11.12.1.3) and IA32_TSC_DEADLINE ---- */

bool lapic_msr_owned(uint32_t msr)
{
	return (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST) || msr == MSR_TSC_DEADLINE;
}

int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val)
{
	if (msr == MSR_TSC_DEADLINE) {
		if (!cpu_has(&l->v->vm->model, CPUF_TSC_DEADLINE))
			return ARCH_FAULT(X86_GP);
		/* Reads 0 outside TSC-deadline mode (11.5.4.1). */
		*val = timer_mode(l) == TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
		return ARCH_OK;
	}
	unsigned idx = msr - MSR_X2APIC_FIRST;
	if (!x2apic_mode(l) || idx >= LR_COUNT || !(reg_table[idx].x2apic & LR_RO))
		return ARCH_FAULT(X86_GP);
	if (idx == LR_ICR_LO)
		*val = ((uint64_t)l->reg[LR_ICR_HI] << 32) | l->reg[LR_ICR_LO];
	else
		*val = reg_read(l, idx);
	return ARCH_OK;
}

int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val)
{
	if (msr == MSR_TSC_DEADLINE) {
		if (!cpu_has(&l->v->vm->model, CPUF_TSC_DEADLINE))
			return ARCH_FAULT(X86_GP);
		if (timer_mode(l) != TIMER_TSC_DEADLINE)
			return ARCH_OK; /* ignored */
		l->tsc_deadline = val;
		tsc_deadline_arm(l);
		return ARCH_OK;
	}
	unsigned idx = msr - MSR_X2APIC_FIRST;
	if (!x2apic_mode(l) || idx >= LR_COUNT || !(reg_table[idx].x2apic & LR_WO))
		return ARCH_FAULT(X86_GP);
	/* Reserved bits: the upper half of every register but the ICR, and
	 * the bits outside the register's mask (EOI and ESR take only 0). */
	uint64_t mask = reg_table[idx].x2wmask;
	if (idx == LR_ICR_LO)
		mask |= 0xffffffff00000000ull;
	if (idx == LR_LVT_TIMER && !cpu_has(&l->v->vm->model, CPUF_TSC_DEADLINE))
		mask &= ~(1ull << 18);
	if (val & ~mask)
		return ARCH_FAULT(X86_GP);
	if (idx == LR_ICR_LO) {
		l->reg[LR_ICR_HI] = (uint32_t)(val >> 32);
		l->reg[LR_ICR_LO] = (uint32_t)val;
		send_ipi(l, (uint32_t)val, (uint32_t)(val >> 32));
		return ARCH_OK;
	}
	reg_write(l, idx, (uint32_t)val);
	return ARCH_OK;
}

/* ---- CR8 ---- */

uint64_t lapic_get_cr8(const struct lapic *l)
{
	return (l->reg[LR_TPR] >> 4) & 0xf;
}

void lapic_set_cr8(struct lapic *l, uint64_t cr8)
{
	l->reg[LR_TPR] = (uint32_t)(cr8 & 0xf) << 4;
}

bool lapic_accepts_extint(const struct lapic *l)
{
	if (!lapic_hw_enabled(l))
		return true;
	uint32_t lvt0 = l->reg[LR_LVT_LINT0];
	return !(lvt0 & LVT_MASKED) && LVT_DM(lvt0) == APIC_DM_EXTINT;
}

/* ---- state ---- */

static void regs_reset(struct lapic *l, uint32_t id_reg)
{
	memset(l->reg, 0, sizeof(l->reg));
	l->reg[LR_ID] = id_reg;
	l->reg[LR_VERSION] = LAPIC_VERSION;
	l->reg[LR_DFR] = 0xffffffffu;
	l->reg[LR_SVR] = 0xff;
	for (unsigned k = LR_LVT_TIMER; k <= LR_LVT_ERROR; k++)
		l->reg[k] = LVT_MASKED;
	l->esr_pending = 0;
	l->tsc_deadline = 0;
	vm_timer_disarm(&l->timer);
}

void lapic_reset(struct lapic *l)
{
	l->base = LAPIC_DEFAULT_BASE | APIC_BASE_EN | (l->v->id == 0 ? APIC_BASE_BSP : 0);
	regs_reset(l, l->v->id << 24);
}

void lapic_init_signal(struct lapic *l)
{
	regs_reset(l, l->reg[LR_ID]);
}

uint64_t lapic_get_base(const struct lapic *l)
{
	return l->base;
}

/*
 * IA32_APIC_BASE (11.4.4, 11.12.5 Figure 11-27 "Local x2APIC State
 * Transitions"): EN = 0 with EXTD = 1 is invalid, x2APIC cannot go straight
 * back to xAPIC nor be entered from the disabled state, EXTD needs CPUID
 * x2APIC; reserved bits (7:0, 9, above MAXPHYADDR) are #GP; BSP is
 * read-only. Disabling returns the APIC to its power-up state (11.4.3).
 */
int lapic_set_base(struct lapic *l, uint64_t val)
{
	const struct vm *vm = l->v->vm;
	uint64_t rsvd = 0xffull | (1ull << 9) | (~0ull << vm->model.phys_bits);
	if (!cpu_has(&vm->model, CPUF_X2APIC))
		rsvd |= APIC_BASE_EXTD;
	if (val & rsvd)
		return ARCH_FAULT(X86_GP);
	bool en = val & APIC_BASE_EN, extd = val & APIC_BASE_EXTD;
	bool was_en = lapic_hw_enabled(l), was_x2 = x2apic_mode(l);
	if (!en && extd)
		return ARCH_FAULT(X86_GP);
	if (was_x2 && en && !extd)
		return ARCH_FAULT(X86_GP);
	if (!was_en && en && extd)
		return ARCH_FAULT(X86_GP);
	uint64_t bsp = l->base & APIC_BASE_BSP;
	l->base = (val & ~APIC_BASE_BSP) | bsp;
	if (was_en && !en)
		regs_reset(l, l->v->id << 24);
	return ARCH_OK;
}

/* ---- delivery (11.6.2 destinations, 11.6.1 delivery modes) ---- */

static bool match_dest(const struct lapic *l, const struct apic_msg *m)
{
	if (!lapic_hw_enabled(l))
		return false;
	if (x2apic_mode(l)) {
		uint32_t id = l->v->id;
		if (m->dest == 0xffffffffu)
			return true;
		if (!m->logical)
			return m->dest == id;
		uint32_t ldr = ldr_x2apic(id);
		return (m->dest >> 16) == (ldr >> 16) && (m->dest & ldr & 0xffff);
	}
	uint32_t d = m->dest & 0xff;
	if (d == 0xff)
		return true;
	if (!m->logical)
		return d == l->reg[LR_ID] >> 24;
	uint32_t ldr = l->reg[LR_LDR] >> 24;
	if ((l->reg[LR_DFR] >> 28) == 0xf)
		return (d & ldr) != 0; /* flat model */
	return (d >> 4) == (ldr >> 4) && (d & ldr & 0xf); /* cluster model */
}

static void deliver_one(struct lapic *t, const struct apic_msg *m)
{
	struct vcpu *v = t->v;
	switch (m->mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		lapic_accept_fixed(t, m->vector, m->trigger_level);
		break;
	case APIC_DM_NMI:
		v->nmi_pending = true;
		break;
	case APIC_DM_INIT:
		/* INIT level de-assert (level 0, level-triggered) is a no-op.
		 * A SIPI that came before the INIT is void (the INIT resets the
		 * processor, which then waits for a SIPI: SDM 9.4.2); one that
		 * comes after it starts the processor, even if its thread has
		 * not yet handled the INIT (threaded runs). */
		if (m->level || !m->trigger_level) {
			v->init_pending = true;
			v->sipi_pending = false;
		}
		break;
	case APIC_DM_SIPI:
		v->sipi_pending = true;
		v->sipi_vector = m->vector;
		break;
	default:
		vm_guest_warn(v->vm, "APIC delivery mode %u is not modelled; message dropped", m->mode);
		return;
	}
	vcpu_notify(v);
}

void apic_deliver(struct vm *vm, struct lapic *src, const struct apic_msg *m)
{
	struct lapic *lowest = NULL;
	for (uint32_t i = 0; i < vm->nvcpus; i++) {
		struct lapic *t = vm->vcpus[i]->lapic;
		bool hit;
		switch (m->shorthand) {
		case 1:
			hit = t == src;
			break;
		case 2:
			hit = lapic_hw_enabled(t);
			break;
		case 3:
			hit = t != src && lapic_hw_enabled(t);
			break;
		default:
			hit = match_dest(t, m);
		}
		if (!hit)
			continue;
		if (m->mode == APIC_DM_LOWEST) {
			/* Lowest priority: the target with the lowest TPR; ties go
			 * to the lowest APIC ID (implementation-specific, 11.6.2.4). */
			if (!lowest || (t->reg[LR_TPR] & 0xff) < (lowest->reg[LR_TPR] & 0xff))
				lowest = t;
			continue;
		}
		deliver_one(t, m);
	}
	if (lowest)
		deliver_one(lowest, m);
}

/* ---- lifetime ---- */

int lapic_create(struct vcpu *v)
{
	struct lapic *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->v = v;
	l->timer = (struct vm_timer){ .fire = timer_fire, .opaque = l, .owner = v, .name = "lapic-timer" };
	int err = vm_timer_register(v->vm, &l->timer);
	if (err) {
		free(l);
		return err;
	}
	v->lapic = l;
	lapic_reset(l);
	return 0;
}

void lapic_destroy(struct vcpu *v)
{
	free(v->lapic);
	v->lapic = NULL;
}
