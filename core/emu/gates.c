/*
 * Far CALL and JMP through call gates (SDM Vol. 3A 5.8.3-5.8.6, 5.8.3.1 for
 * IA-32e mode; Vol. 2A CALL and JMP pseudocode, "IF far call/jump to call
 * gate"). Task gates and TSS selectors start a task switch (task.c).
 */
#include "emu.h"
#include "gates.h"
#include "seg.h"
#include "task.h"
#include "tss.h"

/* Descriptor types reached by a far CALL/JMP selector (Table 3-2; in
 * IA-32e mode only the 64-bit call gate is valid, 5.8.3.1). */
#define TYPE_CALL_GATE16 0x4u
#define TYPE_TASK_GATE 0x5u
#define TYPE_CALL_GATE32 0xcu

bool emu_far_is_system(struct emu_cpu *c, uint16_t sel)
{
	uint64_t lo, hi;
	if (!(sel & ~3u) || !emu_read_descriptor(c, sel, &lo, &hi, false))
		return false; /* the code-segment path raises the fault */
	return !(lo & (1ull << 44));
}

/* Push onto the stack the call will continue on; writes at the new CPL. */
static void push(struct emu_cpu *c, const struct x86_segment *ss, uint64_t *sp, unsigned sz, uint64_t v,
		 unsigned cpl, uint32_t err)
{
	emu_stack_push(c, ss, sp, sz, v, ACC_WRITE | (cpl < 3 ? ACC_SUPER : 0), err);
}

void emu_far_gate(struct emu_cpu *c, const struct emu_insn *i, uint16_t gsel, bool call)
{
	struct x86_state *s = c->s;
	bool ia32e = (s->efer & EFER_LMA) != 0;
	uint32_t gerr = gsel & ~3u;
	uint64_t glo, ghi;
	if (!emu_read_descriptor(c, gsel, &glo, &ghi, ia32e))
		emu_raise(c, X86_GP, gerr);
	unsigned type = (unsigned)(glo >> 40) & 0xf;
	unsigned gdpl = (unsigned)(glo >> 45) & 3;
	if (!ia32e && (type == TYPE_TASK_GATE || type == SYS_TYPE_TSS_AVAIL || type == SYS_TYPE_TSS_BUSY ||
		       type == 0x1 || type == 0x3)) {
		/* A task switch (SDM Vol. 2A JMP/CALL "TASK-GATE", "TASK-STATE-
		 * SEGMENT"): the gate's or TSS's DPL must be >= CPL and RPL. */
		if (gdpl < c->cpl || gdpl < (gsel & 3u))
			emu_raise(c, X86_GP, gerr);
		if (!(glo & (1ull << 47)))
			emu_raise(c, X86_NP, gerr);
		uint16_t tss = type == TYPE_TASK_GATE ? (uint16_t)(glo >> 16) : gsel;
		emu_task_switch_exit(c, tss, call ? TASK_SWITCH_CALL : TASK_SWITCH_JMP, c->next_rip, -1, false, 0);
		return;
	}
	bool gate64 = ia32e && type == TYPE_CALL_GATE32;
	if (ia32e ? (!gate64 || ((ghi >> 40) & 0x1f)) : (type != TYPE_CALL_GATE16 && type != TYPE_CALL_GATE32))
		emu_raise(c, X86_GP, gerr);
	/* Gate DPL >= CPL and >= RPL of the gate selector. */
	if (gdpl < c->cpl || gdpl < (gsel & 3u))
		emu_raise(c, X86_GP, gerr);
	if (!(glo & (1ull << 47)))
		emu_raise(c, X86_NP, gerr);

	uint16_t csel = (uint16_t)(glo >> 16);
	uint64_t target = (glo & 0xffff) | ((glo >> 32) & 0xffff0000ull);
	if (gate64)
		target |= (ghi & 0xffffffffull) << 32;
	unsigned sz = gate64 ? 8 : type == TYPE_CALL_GATE32 ? 4 : 2;
	if (sz == 2)
		target &= 0xffff;
	unsigned params = gate64 ? 0 : (unsigned)(glo >> 32) & 0x1f;

	struct x86_segment cs;
	unsigned cpl = c->cpl;
	unsigned new_cpl = emu_gate_target_cs(c, csel, 0, gate64, &cs);
	/* JMP through a gate never changes privilege: a non-conforming target
	 * must have DPL = CPL. */
	if (!call && new_cpl != cpl)
		emu_raise(c, X86_GP, csel & ~3u);
	if (gate64 ? !arch_canonical_la(c, target) : target > cs.limit)
		emu_raise(c, X86_GP, 0);

	uint64_t ret = c->next_rip;
	uint16_t old_cs = s->seg[SEG_CS].sel;
	if (!call) {
		s->seg[SEG_CS] = cs;
		c->next_rip = target;
	} else if (new_cpl < cpl) {
		/* CALL to more privilege: the new stack from the TSS, then the
		 * caller's SS:ESP, the parameters, CS:EIP (5.8.5, Figure 5-13). */
		struct x86_segment ss;
		uint64_t nsp;
		if (gate64) {
			nsp = emu_tss_rsp64(c, new_cpl, 0, 0);
			if (!arch_canonical_la(c, nsp))
				emu_raise(c, X86_SS, 0);
			ss = (struct x86_segment){ .sel = (uint16_t)new_cpl,
						   .ar = SEG_AR_UNUSABLE | (new_cpl << SEG_AR_DPL_SHIFT) };
		} else {
			emu_tss_stack32(c, new_cpl, 0, &ss, &nsp);
			nsp &= (ss.ar & SEG_AR_DB) ? 0xffffffffull : 0xffffull;
		}
		uint32_t ss_err = gate64 ? 0 : ss.sel & ~3u;
		uint64_t old_sp = s->gpr[GPR_RSP];
		uint64_t sp = nsp;
		push(c, &ss, &sp, sz, s->seg[SEG_SS].sel, new_cpl, ss_err);
		push(c, &ss, &sp, sz, old_sp & size_mask(sz), new_cpl, ss_err);
		/* Parameters are read from the caller's stack at the old CPL. */
		unsigned oss = emu_stack_size(c);
		for (unsigned k = params; k-- > 0;) {
			uint64_t v = emu_read(c, SEG_SS, (old_sp + k * sz) & size_mask(oss), sz);
			push(c, &ss, &sp, sz, v, new_cpl, ss_err);
		}
		push(c, &ss, &sp, sz, old_cs, new_cpl, ss_err);
		push(c, &ss, &sp, sz, ret, new_cpl, ss_err);
		s->seg[SEG_SS] = ss;
		s->seg[SEG_CS] = cs;
		s->gpr[GPR_RSP] = gate64 ? sp : (ss.ar & SEG_AR_DB) ? (uint32_t)sp : ((nsp & ~0xffffull) | sp);
		c->next_rip = target;
	} else {
		/* CALL at the same privilege: CS:EIP on the current stack. */
		struct x86_segment ss = s->seg[SEG_SS];
		uint64_t sp = s->gpr[GPR_RSP];
		unsigned stack = emu_stack_size(c);
		if (stack != 8)
			sp &= size_mask(stack);
		push(c, &ss, &sp, sz, old_cs, cpl, 0);
		push(c, &ss, &sp, sz, ret, cpl, 0);
		s->seg[SEG_CS] = cs;
		s->gpr[GPR_RSP] = stack == 8 ? sp : stack == 4 ? (uint32_t)sp : ((s->gpr[GPR_RSP] & ~0xffffull) | sp);
		c->next_rip = target;
	}
	emu_update_mode(c);
	emu_break(c);
	(void)i;
}
