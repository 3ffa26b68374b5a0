/*
 * Exceptions and interrupts for the emu CPU: raising faults from instruction
 * handlers, the exception bitmap check that turns them into VM exits, the
 * double-fault rules (SDM Vol. 3A 6.15, Tables 6-4 and 6-5) and delivery
 * through the guest's IVT/IDT (SDM Vol. 3A 6.12 and 6.14; 20.1.4 for real
 * mode).
 */
#include <inttypes.h>
#include <stdio.h>

#include "core/nested_hooks.h"
#include "emu.h"
#include "seg.h"
#include "task.h"
#include "tss.h"

static bool vector_has_error(unsigned v)
{
	return v == X86_DF || v == X86_TS || v == X86_NP || v == X86_SS || v == X86_GP ||
	       v == X86_PF || v == X86_AC || v == X86_CP;
}

void emu_raise(struct emu_cpu *c, unsigned vector, uint32_t error)
{
	c->exc_vector = (int)vector;
	c->exc_has_error = vector_has_error(vector);
	c->exc_error = c->exc_has_error ? error : 0;
	longjmp(c->jb, 1);
}

void emu_raise_noerr(struct emu_cpu *c, unsigned vector)
{
	emu_raise(c, vector, 0);
}

void emu_abort(struct emu_cpu *c)
{
	c->exc_vector = -1;
	c->delivering = -1;
	longjmp(c->jb, 1);
}

void emu_unimplemented(struct emu_cpu *c, const struct emu_insn *i)
{
	/* aux: the instruction's first bytes, for telling forms apart. */
	uint64_t raw = 0;
	uint64_t la = c->seg_base[SEG_CS] + c->s->rip;
	uint64_t gpa;
	if (emu_translate_probe(c, la, ACC_EXEC, &gpa)) {
		uint8_t *h = aspace_ram_ptr(&c->vm->as, gpa, i->len < 8 ? i->len : 8);
		if (h)
			memcpy(&raw, h, i->len < 8 ? i->len : 8);
	}
	vcpu_trace(c->v, TORTUGA_EV_UNIMPLEMENTED, i->mnem, 0, raw, 0);
	vm_guest_warn(c->vm, "unimplemented instruction %s at rip 0x%" PRIx64 ": #UD",
		      ZydisMnemonicGetString((ZydisMnemonic)i->mnem), c->s->rip);
	emu_raise_noerr(c, X86_UD);
}

/* ---- double faults ---- */

enum exc_class { EXC_BENIGN, EXC_CONTRIBUTORY, EXC_PAGE_FAULT };

static enum exc_class exc_class(int v)
{
	switch (v) {
	case X86_DE:
	case X86_TS:
	case X86_NP:
	case X86_SS:
	case X86_GP:
		return EXC_CONTRIBUTORY;
	case X86_PF:
		return EXC_PAGE_FAULT;
	default:
		return EXC_BENIGN;
	}
}

static void triple_fault(struct emu_cpu *c)
{
	struct vm_exit e = { .reason = TORTUGA_EXIT_TRIPLE_FAULT };
	c->delivering = -1;
	vcpu_handle_exit(c->v, &e);
	emu_break(c);
}

void emu_handle_fault(struct emu_cpu *c, unsigned vector, bool has_error, uint32_t error)
{
	int first = c->delivering;
	uint32_t first_info = c->delivering_info, first_error = c->delivering_error;
	bool page_fault = vector == X86_PF;
	if (first >= 0) {
		enum exc_class a = exc_class(first), b = exc_class((int)vector);
		if (first == X86_DF && b != EXC_BENIGN) {
			triple_fault(c);
			return;
		}
		if ((a == EXC_CONTRIBUTORY && b == EXC_CONTRIBUTORY) ||
		    (a == EXC_PAGE_FAULT && b != EXC_BENIGN)) {
			vector = X86_DF;
			has_error = true;
			error = 0;
		}
	}
	c->delivering = -1;
	/* SDM 26.2: an exception whose exception-bitmap bit is set exits. */
	if (vmx_exit_on_exception(c->v->ctls, vector, error)) {
		struct vm_exit e = {
			.reason = TORTUGA_EXIT_EXCEPTION_NMI,
			.qual = vector == X86_PF ? c->exc_cr2 : 0,
			.intr_info = INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | vector |
				     (has_error ? INTR_INFO_HAS_ERROR : 0),
			.intr_error = error,
			.aux = vector,
		};
		/* An exception while delivering another event: the exit reports
		 * that event as being delivered (SDM 28.2.4). */
		if (first >= 0) {
			e.idt_vec_info = first_info;
			e.idt_vec_error = first_error;
		}
		vcpu_handle_exit(c->v, &e);
		return;
	}
	if (page_fault)
		c->s->cr2 = c->exc_cr2; /* delivered (or turned into #DF): CR2 is loaded */
	emu_deliver(c, vector, INTR_TYPE_HW_EXCEPTION >> 8, has_error, error, c->s->rip);
}

/* ---- delivery ---- */

static bool is_external(unsigned type)
{
	/* EXT in error codes (SDM 3A 6.13): set unless the event being
	 * delivered is a software interrupt (INT n) or a software exception
	 * (INT3, INTO); INT1 is a privileged software exception and sets it. */
	return type != (INTR_TYPE_SW_INTR >> 8) && type != (INTR_TYPE_SW_EXCEPTION >> 8);
}

static bool is_software(unsigned type)
{
	return type == (INTR_TYPE_SW_INTR >> 8) || type == (INTR_TYPE_SW_EXCEPTION >> 8);
}

/*
 * The RFLAGS image an event handler gets (SDM 3A 18.3.1.1, "Instruction-
 * Breakpoint Exception Condition"): RF = 1 for every fault-class exception
 * except a debug exception from an instruction breakpoint, so that returning
 * to the faulting instruction does not re-trigger a breakpoint on it; the
 * current RF (0 once an instruction has started) for traps, interrupts and
 * software interrupts. tortuga raises #DB only as a trap (single-step, INT1).
 */
static uint64_t flags_image(struct emu_cpu *c, unsigned vector, unsigned type)
{
	uint64_t f = emu_flags(c);
	bool fault = type == (INTR_TYPE_HW_EXCEPTION >> 8) && vector < 32 &&
		     vector != X86_DB && vector != X86_NMI && vector != X86_BP && vector != X86_OF &&
		     vector != X86_DF && vector != X86_MC;
	return fault ? f | RFLAGS_RF : f;
}

static void push_la(struct emu_cpu *c, uint64_t *rsp, unsigned size, uint64_t val, uint64_t ss_base,
		    uint64_t mask, unsigned acc)
{
	*rsp = (*rsp - size) & mask;
	emu_write_slow(c, (ss_base + *rsp) & 0xffffffffull, size, val, acc);
}

static void deliver_real(struct emu_cpu *c, unsigned vector, uint64_t return_rip)
{
	struct x86_state *s = c->s;
	if (vector * 4u + 3 > s->idtr.limit)
		emu_raise(c, X86_GP, 0);
	uint32_t ent = (uint32_t)emu_read_slow(c, s->idtr.base + vector * 4u, 4, ACC_READ);
	uint64_t sp = s->gpr[GPR_RSP];
	uint64_t ss_base = s->seg[SEG_SS].base;
	uint64_t mask = 0xffff;
	uint64_t flags = emu_flags(c);
	push_la(c, &sp, 2, flags, ss_base, mask, ACC_WRITE);
	push_la(c, &sp, 2, s->seg[SEG_CS].sel, ss_base, mask, ACC_WRITE);
	push_la(c, &sp, 2, return_rip, ss_base, mask, ACC_WRITE);
	s->gpr[GPR_RSP] = (s->gpr[GPR_RSP] & ~0xffffull) | sp;
	emu_set_flags(c, flags & ~(RFLAGS_IF | RFLAGS_TF | RFLAGS_AC | RFLAGS_RF));
	emu_real_seg(&s->seg[SEG_CS], (uint16_t)(ent >> 16));
	s->rip = ent & 0xffff;
}

/* Load the target code segment of a gate; returns the new CPL. */
unsigned emu_gate_target_cs(struct emu_cpu *c, uint16_t sel, uint32_t ext, bool want64,
			       struct x86_segment *cs)
{
	if (!(sel & ~3u))
		emu_raise(c, X86_GP, ext);
	uint64_t lo, hi;
	if (!emu_read_descriptor(c, sel, &lo, &hi, false))
		emu_raise(c, X86_GP, (sel & ~3u) | ext);
	uint32_t ar = (uint32_t)((lo >> 40) & 0xff) | (uint32_t)(((lo >> 52) & 0xf) << 12);
	unsigned dpl = (ar >> 5) & 3;
	if (!(ar & SEG_AR_S) || !(ar & SEG_AR_TYPE_CODE) || dpl > c->cpl)
		emu_raise(c, X86_GP, (sel & ~3u) | ext);
	if (want64 && (!(ar & SEG_AR_L) || (ar & SEG_AR_DB)))
		emu_raise(c, X86_GP, (sel & ~3u) | ext);
	if (!(ar & SEG_AR_P))
		emu_raise(c, X86_NP, (sel & ~3u) | ext);
	unsigned new_cpl = (ar & SEG_AR_TYPE_DC) ? c->cpl : dpl;
	emu_seg_from_desc(cs, (uint16_t)((sel & ~3u) | new_cpl), lo | (1ull << 40), hi);
	return new_cpl;
}

static void deliver_64(struct emu_cpu *c, unsigned vector, unsigned type, bool has_error, uint32_t error,
		       uint64_t return_rip)
{
	struct x86_state *s = c->s;
	uint32_t ext = is_external(type) ? 1 : 0;
	uint32_t idt_err = vector * 8u + 2u + ext;
	if (vector * 16u + 15 > s->idtr.limit)
		emu_raise(c, X86_GP, idt_err);
	uint64_t lo = emu_read_slow(c, s->idtr.base + vector * 16u, 8, ACC_READ | ACC_IMPLICIT);
	uint64_t hi = emu_read_slow(c, s->idtr.base + vector * 16u + 8, 8, ACC_READ | ACC_IMPLICIT);
	unsigned gtype = (lo >> 40) & 0xf, gdpl = (lo >> 45) & 3;
	if (gtype != SYS_TYPE_INT_GATE && gtype != SYS_TYPE_TRAP_GATE)
		emu_raise(c, X86_GP, idt_err);
	if (is_software(type) && gdpl < c->cpl)
		emu_raise(c, X86_GP, idt_err);
	if (!(lo & (1ull << 47)))
		emu_raise(c, X86_NP, idt_err);
	uint16_t sel = (uint16_t)(lo >> 16);
	uint64_t target = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull) | (hi << 32);
	unsigned ist = (lo >> 32) & 7;

	struct x86_segment cs;
	unsigned new_cpl = emu_gate_target_cs(c, sel, ext, true, &cs);
	if (!arch_canonical_la(c, target))
		emu_raise(c, X86_GP, ext);

	uint64_t old_ss = s->seg[SEG_SS].sel, old_rsp = s->gpr[GPR_RSP];
	uint64_t rsp = old_rsp;
	if (new_cpl < c->cpl || ist) {
		rsp = emu_tss_rsp64(c, new_cpl, ist, ext);
		if (!arch_canonical_la(c, rsp))
			emu_raise(c, X86_SS, ext);
	}
	rsp &= ~0xfull;
	uint64_t flags = flags_image(c, vector, type);
	unsigned saved_cpl = c->cpl;
	/* Stack writes happen at the new privilege level. */
	unsigned acc = ACC_WRITE | (new_cpl < 3 ? ACC_SUPER : 0);
	const uint64_t frame[6] = { old_ss, old_rsp, flags, s->seg[SEG_CS].sel, return_rip, error };
	int n = has_error ? 6 : 5;
	if (!arch_canonical_la(c, rsp - 8u * (unsigned)n))
		emu_raise(c, X86_SS, ext);
	for (int k = 0; k < n; k++) {
		rsp -= 8;
		emu_write_slow(c, rsp, 8, frame[k], acc);
	}
	if (new_cpl < saved_cpl) {
		/* SS gets a NULL selector with RPL = new CPL (SDM 6.14.4). */
		s->seg[SEG_SS].sel = (uint16_t)new_cpl;
		s->seg[SEG_SS].ar = SEG_AR_UNUSABLE | (new_cpl << SEG_AR_DPL_SHIFT);
		s->seg[SEG_SS].base = 0;
		s->seg[SEG_SS].limit = 0;
	}
	s->gpr[GPR_RSP] = rsp;
	s->seg[SEG_CS] = cs;
	s->rip = target;
	uint64_t clear = RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM;
	if (gtype == SYS_TYPE_INT_GATE)
		clear |= RFLAGS_IF;
	emu_set_flags(c, flags & ~clear);
	emu_update_mode(c);
}

static void deliver_32(struct emu_cpu *c, unsigned vector, unsigned type, bool has_error, uint32_t error,
		       uint64_t return_rip)
{
	struct x86_state *s = c->s;
	uint32_t ext = is_external(type) ? 1 : 0;
	uint32_t idt_err = vector * 8u + 2u + ext;
	if (vector * 8u + 7 > s->idtr.limit)
		emu_raise(c, X86_GP, idt_err);
	uint64_t lo = emu_read_slow(c, (s->idtr.base + vector * 8u) & 0xffffffffull, 8,
				    ACC_READ | ACC_IMPLICIT);
	unsigned gtype = (lo >> 40) & 0x1f, gdpl = (lo >> 45) & 3;
	/* 0x0e/0x0f: 32-bit interrupt/trap gate; 0x06/0x07: 16-bit; S bit (0x10) clear. */
	bool gate32 = gtype == 0x0e || gtype == 0x0f;
	bool gate16 = gtype == 0x06 || gtype == 0x07;
	if (gtype == 0x05) {
		/* A task gate (SDM 6.12.2): the handler is a task. */
		if (is_software(type) && gdpl < c->cpl)
			emu_raise(c, X86_GP, idt_err);
		if (!(lo & (1ull << 47)))
			emu_raise(c, X86_NP, idt_err);
		emu_task_switch_exit(c, (uint16_t)(lo >> 16), TASK_SWITCH_GATE, return_rip, (int)vector, has_error,
				     error);
		return;
	}
	if (!gate32 && !gate16)
		emu_raise(c, X86_GP, idt_err);
	if (is_software(type) && gdpl < c->cpl)
		emu_raise(c, X86_GP, idt_err);
	if (!(lo & (1ull << 47)))
		emu_raise(c, X86_NP, idt_err);
	uint16_t sel = (uint16_t)(lo >> 16);
	uint32_t target = (uint32_t)((lo & 0xffff) | ((lo >> 32) & 0xffff0000ull));
	if (gate16)
		target &= 0xffff; /* 16-bit gates hold a 16-bit offset */
	struct x86_segment cs;
	unsigned new_cpl = emu_gate_target_cs(c, sel, ext, false, &cs);
	if (target > cs.limit)
		emu_raise(c, X86_GP, ext);

	unsigned sz = gate32 ? 4 : 2;
	uint64_t flags = flags_image(c, vector, type);
	struct x86_segment ss = s->seg[SEG_SS];
	uint64_t esp = s->gpr[GPR_RSP];
	bool priv = new_cpl < c->cpl;
	if (priv)
		emu_tss_stack32(c, new_cpl, ext, &ss, &esp);
	uint64_t mask = (ss.ar & SEG_AR_DB) ? 0xffffffffull : 0xffffull;
	unsigned acc = ACC_WRITE | (new_cpl < 3 ? ACC_SUPER : 0);
	/* A stack fault while pushing the frame: #SS(EXT), or #SS(new SS)
	 * after a stack switch (SDM 6.15 "Interrupt 12"). */
	uint32_t ss_err = (priv ? (ss.sel & ~3u) : 0) | ext;
	uint64_t sp = esp & mask;
	if (priv) {
		emu_stack_push(c, &ss, &sp, sz, s->seg[SEG_SS].sel, acc, ss_err);
		emu_stack_push(c, &ss, &sp, sz, s->gpr[GPR_RSP], acc, ss_err);
	}
	emu_stack_push(c, &ss, &sp, sz, flags, acc, ss_err);
	emu_stack_push(c, &ss, &sp, sz, s->seg[SEG_CS].sel, acc, ss_err);
	emu_stack_push(c, &ss, &sp, sz, return_rip, acc, ss_err);
	if (has_error)
		emu_stack_push(c, &ss, &sp, sz, error, acc, ss_err);
	if (priv)
		s->seg[SEG_SS] = ss;
	s->gpr[GPR_RSP] = (esp & ~mask) | sp;
	if (mask == 0xffffffffull)
		s->gpr[GPR_RSP] = (uint32_t)s->gpr[GPR_RSP];
	s->seg[SEG_CS] = cs;
	s->rip = target;
	uint64_t clear = RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM;
	if ((gtype & 1) == 0)
		clear |= RFLAGS_IF; /* interrupt gate */
	emu_set_flags(c, flags & ~clear);
	emu_update_mode(c);
}

void emu_deliver(struct emu_cpu *c, unsigned vector, unsigned type, bool has_error, uint32_t error,
		 uint64_t return_rip)
{
	struct x86_state *s = c->s;
	c->delivering = (int)vector;
	c->delivering_info = INTR_INFO_VALID | (type << 8) | vector | (has_error ? INTR_INFO_HAS_ERROR : 0);
	c->delivering_error = error;
	if (!is_software(type))
		vcpu_trace(c->v, TORTUGA_EV_EXCEPTION, (uint16_t)vector, error,
			   vector == X86_PF ? s->cr2 : 0, 0);
	if (!(s->cr0 & CR0_PE))
		deliver_real(c, vector, return_rip);
	else if (s->efer & EFER_LMA)
		deliver_64(c, vector, type, has_error, error, return_rip);
	else
		deliver_32(c, vector, type, has_error, error, return_rip);
	c->delivering = -1;
	s->interruptibility &= ~(INTR_BLOCK_STI | INTR_BLOCK_MOV_SS);
	if (c->v->level == 2 && c->v->nested)
		nested_event_delivered(c->v);
	emu_break(c);
}
