/*
 * Hardware task switches with 32-bit TSSes (SDM Vol. 3A 8.3 "Task
 * Switching", 8.4 "Task Linking", Table 8-1 "Exception Conditions Checked
 * During a Task Switch"): far JMP/CALL to a TSS or task gate, an interrupt
 * or exception through an IDT task gate, IRET with EFLAGS.NT = 1.
 *
 * On VT-x every task switch is a VM exit (SDM Vol. 3C 26.2, basic reason 9,
 * qualification Table 28-2); L0 emulates it (KVM's kvm_task_switch()). The
 * emu exits, and performs the switch when L0's handler asks for it through
 * the backend's task_switch operation. 16-bit TSSes and virtual-8086 tasks
 * are not modelled (#TS and #GP respectively, with a log line).
 */
#include <inttypes.h>

#include "core/arch.h"
#include "emu.h"
#include "seg.h"
#include "task.h"

/* The 32-bit TSS (Figure 8-2), field offsets. */
enum tss32_field {
	TSS_LINK = 0x00,
	TSS_CR3 = 0x1c,
	TSS_EIP = 0x20,
	TSS_EFLAGS = 0x24,
	TSS_EAX = 0x28, /* EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI: 4 bytes apart */
	TSS_ES = 0x48, /* ES, CS, SS, DS, FS, GS: 4 bytes apart */
	TSS_LDT = 0x60,
	TSS_TRAP = 0x64,
	TSS32_MIN_LIMIT = 0x67,
};

#define TYPE_TSS16_AVAIL 0x1u
#define TYPE_TSS16_BUSY 0x3u
#define TYPE_TSS32_AVAIL 0x9u
#define TYPE_TSS32_BUSY 0xbu
#define TYPE_BUSY_BIT 0x2u

static uint32_t tss_read(struct emu_cpu *c, uint64_t base, unsigned off, unsigned size)
{
	return (uint32_t)emu_read_slow(c, (base + off) & 0xffffffffull, size, ACC_READ | ACC_IMPLICIT);
}

static void tss_write(struct emu_cpu *c, uint64_t base, unsigned off, unsigned size, uint32_t v)
{
	emu_write_slow(c, (base + off) & 0xffffffffull, size, v, ACC_WRITE | ACC_IMPLICIT);
}

/* Set or clear the busy bit of a TSS descriptor in the GDT. */
static void set_busy(struct emu_cpu *c, uint16_t sel, bool busy)
{
	uint64_t a = (c->s->gdtr.base + (sel & ~7u) + 5) & 0xffffffffull;
	uint8_t b = (uint8_t)emu_read_slow(c, a, 1, ACC_READ | ACC_IMPLICIT);
	b = busy ? (b | TYPE_BUSY_BIT) : (b & ~TYPE_BUSY_BIT);
	emu_write_slow(c, a, 1, b, ACC_WRITE | ACC_IMPLICIT);
}

/*
 * A segment register of the new task (Table 8-1): an invalid selector or
 * descriptor is #TS(selector); not present is #NP (#SS for SS).
 */
static void load_task_seg(struct emu_cpu *c, unsigned seg, uint16_t sel, unsigned cpl)
{
	struct x86_segment *sg = &c->s->seg[seg];
	if (!(sel & ~3u)) {
		if (seg == SEG_CS || seg == SEG_SS)
			emu_raise(c, X86_TS, sel & ~3u);
		*sg = (struct x86_segment){ .sel = sel, .ar = SEG_AR_UNUSABLE };
		return;
	}
	uint64_t lo, hi;
	if (!emu_read_descriptor(c, sel, &lo, &hi, false))
		emu_raise(c, X86_TS, sel & ~3u);
	unsigned ar = (unsigned)(lo >> 40) & 0xff;
	unsigned dpl = (ar >> 5) & 3, rpl = sel & 3u;
	bool code = ar & SEG_AR_TYPE_CODE, conforming = code && (ar & SEG_AR_TYPE_DC);
	bool ok = ar & SEG_AR_S;
	switch (seg) {
	case SEG_CS:
		ok = ok && code && (conforming ? dpl <= rpl : dpl == rpl);
		break;
	case SEG_SS:
		ok = ok && !code && (ar & SEG_AR_TYPE_RW) && dpl == cpl && rpl == cpl;
		break;
	default:
		ok = ok && (!code || (ar & SEG_AR_TYPE_RW)) && (conforming || (dpl >= cpl && dpl >= rpl));
	}
	if (!ok)
		emu_raise(c, X86_TS, sel & ~3u);
	if (!(ar & SEG_AR_P))
		emu_raise(c, seg == SEG_SS ? X86_SS : X86_NP, sel & ~3u);
	emu_set_accessed(c, sel, lo);
	emu_seg_from_desc(sg, sel, lo | (1ull << 40), hi);
}

static void task_switch(struct emu_cpu *c, uint16_t sel, unsigned source, uint64_t next_eip, bool has_error,
			uint32_t error)
{
	struct x86_state *s = c->s;
	/* Faults on the new TSS are #TS for IRET (the back link), #GP for
	 * the others (Table 8-1). */
	unsigned bad = source == TASK_SWITCH_IRET ? X86_TS : X86_GP;
	uint64_t lo, hi;
	if ((sel & 4) || !(sel & ~3u) || !emu_read_descriptor(c, sel, &lo, &hi, false))
		emu_raise(c, bad, sel & ~3u);
	unsigned type = (unsigned)(lo >> 40) & 0x1f;
	if (type == TYPE_TSS16_AVAIL || type == TYPE_TSS16_BUSY) {
		vm_guest_warn(c->vm, "task switch to a 16-bit TSS is not modelled: #TS");
		emu_raise(c, X86_TS, sel & ~3u);
	}
	bool want_busy = source == TASK_SWITCH_IRET;
	if (type != (want_busy ? TYPE_TSS32_BUSY : TYPE_TSS32_AVAIL))
		emu_raise(c, want_busy ? X86_TS : X86_GP, sel & ~3u);
	if (!(lo & (1ull << 47)))
		emu_raise(c, X86_NP, sel & ~3u);
	struct x86_segment ntr;
	emu_seg_from_desc(&ntr, sel, lo, hi);
	if (ntr.limit < TSS32_MIN_LIMIT)
		emu_raise(c, X86_TS, sel & ~3u);
	if (s->tr.limit < TSS32_MIN_LIMIT)
		emu_raise(c, X86_TS, s->tr.sel & ~3u);

	/* Read the new task's state before anything changes. */
	uint64_t nb = ntr.base;
	uint32_t ncr3 = tss_read(c, nb, TSS_CR3, 4), neip = tss_read(c, nb, TSS_EIP, 4);
	uint32_t nflags = tss_read(c, nb, TSS_EFLAGS, 4);
	uint32_t ngpr[8];
	uint16_t nsel[SEG_COUNT];
	for (int k = 0; k < 8; k++)
		ngpr[k] = tss_read(c, nb, TSS_EAX + 4u * (unsigned)k, 4);
	for (int k = 0; k < SEG_COUNT; k++)
		nsel[k] = (uint16_t)tss_read(c, nb, TSS_ES + 4u * (unsigned)k, 2);
	uint16_t nldt = (uint16_t)tss_read(c, nb, TSS_LDT, 2);
	if (nflags & RFLAGS_VM) {
		vm_guest_warn(c->vm, "task switch to a virtual-8086 task is not modelled: #GP");
		emu_raise(c, X86_GP, 0);
	}

	/* Save the current task (8.3 step 7). JMP and IRET leave the old task:
	 * its busy bit clears; IRET also clears NT in its saved EFLAGS. */
	uint64_t ob = s->tr.base;
	uint32_t oflags = (uint32_t)emu_flags(c);
	if (source == TASK_SWITCH_IRET)
		oflags &= ~(uint32_t)RFLAGS_NT;
	tss_write(c, ob, TSS_EIP, 4, (uint32_t)next_eip);
	tss_write(c, ob, TSS_EFLAGS, 4, oflags);
	for (int k = 0; k < 8; k++)
		tss_write(c, ob, TSS_EAX + 4u * (unsigned)k, 4, (uint32_t)s->gpr[k]);
	for (int k = 0; k < SEG_COUNT; k++)
		tss_write(c, ob, TSS_ES + 4u * (unsigned)k, 2, s->seg[k].sel);
	if (source == TASK_SWITCH_JMP || source == TASK_SWITCH_IRET)
		set_busy(c, s->tr.sel, false);
	/* CALL and task gates nest the new task: back link and NT (8.4). */
	if (source == TASK_SWITCH_CALL || source == TASK_SWITCH_GATE) {
		tss_write(c, nb, TSS_LINK, 2, s->tr.sel);
		nflags |= (uint32_t)RFLAGS_NT;
	}
	if (source != TASK_SWITCH_IRET)
		set_busy(c, sel, true);

	/* The new task (8.3 steps 9-12): TR, CR0.TS, CR3, LDTR, registers,
	 * then the segment descriptors, whose faults belong to the new task. */
	s->tr = ntr;
	s->tr.ar = (s->tr.ar & ~0xfu) | TYPE_TSS32_BUSY;
	s->cr0 |= CR0_TS;
	if ((s->cr0 & CR0_PG) && arch_write_cr3(c->v, ncr3) != ARCH_OK)
		emu_raise(c, X86_GP, 0);
	for (int k = 0; k < 8; k++)
		s->gpr[k] = ngpr[k];
	emu_set_flags(c, (nflags & 0x3f7fd7u) | RFLAGS_FIXED1);
	s->rip = neip;
	c->next_rip = neip;
	for (int k = 0; k < SEG_COUNT; k++) {
		/* Selectors first, so that a fault shows the new task's. */
		s->seg[k].sel = nsel[k];
		s->seg[k].ar |= SEG_AR_UNUSABLE;
	}
	if (!(nldt & ~3u)) {
		s->ldtr = (struct x86_segment){ .sel = nldt, .ar = SEG_AR_UNUSABLE };
	} else {
		uint64_t llo, lhi;
		if ((nldt & 4) || !emu_read_descriptor(c, nldt, &llo, &lhi, false) ||
		    ((llo >> 40) & 0x1f) != SYS_TYPE_LDT)
			emu_raise(c, X86_TS, nldt & ~3u);
		if (!(llo & (1ull << 47)))
			emu_raise(c, X86_TS, nldt & ~3u);
		emu_seg_from_desc(&s->ldtr, nldt, llo, lhi);
	}
	unsigned cpl = nsel[SEG_CS] & 3u;
	load_task_seg(c, SEG_CS, nsel[SEG_CS], cpl);
	emu_update_mode(c);
	load_task_seg(c, SEG_SS, nsel[SEG_SS], cpl);
	for (int k = 0; k < SEG_COUNT; k++)
		if (k != SEG_CS && k != SEG_SS)
			load_task_seg(c, (unsigned)k, nsel[k], cpl);
	emu_update_mode(c);
	emu_tlb_flush(c);
	/* An exception's error code goes on the new task's stack (8.3). */
	if (has_error)
		emu_push(c, (s->seg[SEG_SS].ar & SEG_AR_DB) ? 4 : 2, error);
	if (neip > s->seg[SEG_CS].limit)
		emu_raise(c, X86_GP, 0);
	emu_break(c);
}

void emu_task_switch_exit(struct emu_cpu *c, uint16_t sel, unsigned source, uint64_t next_eip, int vector,
			  bool has_error, uint32_t error)
{
	/* SDM Vol. 3C 28.2.1 Table 28-2: TSS selector in 15:0, the source in
	 * 31:30. */
	struct vm_exit e = {
		.reason = TORTUGA_EXIT_TASK_SWITCH,
		.qual = sel | ((uint64_t)source << 30),
		.aux = vector >= 0 ? (uint64_t)vector : sel,
		.insn_len = source == TASK_SWITCH_GATE ? 0 : c->cur ? c->cur->len : 0,
	};
	c->task_switch_ok = false;
	vcpu_handle_exit(c->v, &e);
	if (c->task_switch_ok)
		task_switch(c, sel, source, next_eip, has_error, error);
	else
		emu_break(c);
}

void emu_task_switch_allow(struct vcpu *v, const struct vm_exit *e)
{
	(void)e;
	emu_of(v)->task_switch_ok = true;
}
