/*
 * Control transfer (Intel SDM Vol. 2): JMP, Jcc, J*CXZ, LOOPcc, CALL, RET,
 * far JMP/CALL/RET to code segments, ENTER/LEAVE, INT n/INT3/INTO/INT1 and
 * IRET. Far transfers through call gates are in gates.c.
 */
#include "emu.h"
#include "gates.h"
#include "ops.h"
#include "seg.h"
#include "task.h"

static uint64_t branch_target(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_operand *o = &i->op[0];
	if (o->kind == OPK_REL)
		return c->next_rip + (uint64_t)o->disp;
	/* Near indirect: 64-bit mode forces 64-bit operands (SDM JMP/CALL). */
	return emu_op_read(c, i, 0) & size_mask(i->opsize);
}

void op_jmp(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_jump(c, branch_target(c, i));
}

void op_jcc(struct emu_cpu *c, const struct emu_insn *i)
{
	if (emu_cc(c, i->cc))
		emu_jump(c, c->next_rip + (uint64_t)i->op[0].disp);
}

static uint64_t count_reg(struct emu_cpu *c, const struct emu_insn *i)
{
	return c->s->gpr[GPR_RCX] & size_mask(i->addrsize);
}

void op_jcxz(struct emu_cpu *c, const struct emu_insn *i)
{
	if (!count_reg(c, i))
		emu_jump(c, c->next_rip + (uint64_t)i->op[0].disp);
}

/* LOOP/LOOPE/LOOPNE: the count register is (E/R)CX by address size; the
 * flags are not modified. */
void op_loop(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t n = (count_reg(c, i) - 1) & size_mask(i->addrsize);
	gpr_write(c, GPR_RCX, false, i->addrsize, n);
	bool take = n != 0;
	if (i->mnem == ZYDIS_MNEMONIC_LOOPE)
		take = take && emu_cc(c, 4);
	else if (i->mnem == ZYDIS_MNEMONIC_LOOPNE)
		take = take && emu_cc(c, 5);
	if (take)
		emu_jump(c, c->next_rip + (uint64_t)i->op[0].disp);
}

void op_call(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t target = branch_target(c, i);
	uint64_t ret = c->next_rip;
	/* Check the target before pushing, so a bad target leaves RSP alone. */
	emu_jump(c, target);
	emu_push(c, i->opsize, ret);
}

void op_ret(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	uint64_t old_rsp = s->gpr[GPR_RSP];
	uint64_t target = emu_pop(c, i->opsize);
	uint64_t new_rsp = s->gpr[GPR_RSP];
	s->gpr[GPR_RSP] = old_rsp;
	emu_jump(c, target);
	s->gpr[GPR_RSP] = new_rsp;
	if (i->nops && i->op[0].kind == OPK_IMM) {
		unsigned ss = emu_stack_size(c);
		uint64_t sp = (s->gpr[GPR_RSP] + ((uint64_t)i->op[0].disp & 0xffff)) & size_mask(ss);
		s->gpr[GPR_RSP] = ss == 8 ? sp : ss == 4 ? (uint32_t)sp : ((s->gpr[GPR_RSP] & ~0xffffull) | sp);
	}
}

/*
 * ENTER imm16, imm8 (SDM Vol. 2A ENTER "Operation"): push rBP, remember the
 * new stack pointer as FrameTemp, copy NestingLevel - 1 frame pointers from
 * the old frame (rBP decremented by the operand size, at the stack address
 * size), push FrameTemp, then rBP = FrameTemp and rSP -= AllocSize.
 * NestingLevel is imm8 MOD 32. The SDM's exceptions include a #PF "if a
 * write using the final value of the stack pointer would cause a page
 * fault": that probe comes after the pushes (as on hardware, whose pushes
 * stay in memory when it faults) and before any register changes.
 */
void op_enter(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	unsigned sz = i->opsize, ss = emu_stack_size(c);
	uint64_t alloc = (uint64_t)i->op[0].disp & 0xffff;
	unsigned level = (unsigned)i->op[1].disp & 31;
	uint64_t sm = size_mask(ss);
	uint64_t rsp = s->gpr[GPR_RSP], rbp = s->gpr[GPR_RBP];
	uint64_t frame = (rsp - sz) & sm; /* FrameTemp */
	uint64_t sp = (frame - (uint64_t)level * sz) & sm;
	uint64_t final_sp = (sp - alloc) & sm;
	emu_write(c, SEG_SS, frame, sz, rbp);
	sp = frame;
	for (unsigned l = 1; l < level; l++) {
		rbp = (rbp - sz) & sm;
		uint64_t v = emu_read(c, SEG_SS, rbp, sz);
		sp = (sp - sz) & sm;
		emu_write(c, SEG_SS, sp, sz, v);
	}
	if (level) {
		sp = (sp - sz) & sm;
		emu_write(c, SEG_SS, sp, sz, frame);
	}
	emu_probe_write(c, emu_la(c, SEG_SS, final_sp, sz, ACC_WRITE), sz);
	/* rBP = FrameTemp at the operand size: a 16-bit ENTER writes only BP,
	 * in 64-bit mode too (as hardware and Bochs do; the SDM's pseudocode
	 * assigns RBP there without saying how FrameTemp is extended). */
	gpr_write(c, GPR_RBP, false, sz, frame);
	s->gpr[GPR_RSP] = ss == 8 ? final_sp : ss == 4 ? (uint32_t)final_sp : ((rsp & ~0xffffull) | final_sp);
}

/* LEAVE: RSP = RBP, then pop RBP; nothing changes if the pop faults. */
void op_leave(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	unsigned ss = emu_stack_size(c);
	uint64_t sp = s->gpr[GPR_RBP] & size_mask(ss);
	uint64_t v = emu_read(c, SEG_SS, sp, i->opsize);
	sp += i->opsize;
	s->gpr[GPR_RSP] = ss == 8 ? sp : ss == 4 ? (uint32_t)sp : ((s->gpr[GPR_RSP] & ~0xffffull) | (sp & 0xffff));
	gpr_write(c, GPR_RBP, false, i->opsize, v);
}

/* ---- software interrupts ---- */

/*
 * INT3 and INTO are software exceptions: the exception bitmap applies to
 * them (SDM Vol. 3C 26.2). INT n is a software interrupt and never exits.
 */
static void soft_event(struct emu_cpu *c, const struct emu_insn *i, unsigned vector, unsigned type)
{
	if (type != (INTR_TYPE_SW_INTR >> 8) && vmx_exit_on_exception(c->v->ctls, vector, 0)) {
		struct vm_exit e = {
			.reason = TORTUGA_EXIT_EXCEPTION_NMI,
			.intr_info = INTR_INFO_VALID | (type << 8) | vector,
			.aux = vector,
		};
		e.insn_len = i->len;
		vcpu_handle_exit(c->v, &e);
		/* L0 reinjects with the instruction length (a trap). */
		c->v->inject.type = (uint8_t)type;
		c->v->inject.insn_len = i->len;
		c->next_rip = c->s->rip;
		emu_break(c);
		return;
	}
	emu_deliver(c, vector, type, false, 0, c->next_rip);
	c->next_rip = c->s->rip;
}

void op_int(struct emu_cpu *c, const struct emu_insn *i)
{
	soft_event(c, i, (unsigned)(i->op[0].disp & 0xff), INTR_TYPE_SW_INTR >> 8);
}

void op_int3(struct emu_cpu *c, const struct emu_insn *i)
{
	soft_event(c, i, X86_BP, INTR_TYPE_SW_EXCEPTION >> 8);
}

void op_into(struct emu_cpu *c, const struct emu_insn *i)
{
	if (emu_cc(c, 0))
		soft_event(c, i, X86_OF, INTR_TYPE_SW_EXCEPTION >> 8);
}

void op_int1(struct emu_cpu *c, const struct emu_insn *i)
{
	soft_event(c, i, X86_DB, INTR_TYPE_PRIV_SW_EXCEPTION >> 8);
}

/* ---- RFLAGS images (POPF, IRET) ---- */

/*
 * Which flags an RFLAGS image may change (SDM Vol. 2B POPF/IRET): VM, VIF,
 * VIP and RF are never loaded by POPF; IOPL only at CPL 0; IF only when
 * CPL <= IOPL. Reserved bits read as 0 (bit 1 as 1).
 */
uint64_t emu_flags_merge(struct emu_cpu *c, uint64_t old, uint64_t img, unsigned size, bool iret)
{
	uint64_t mask = RFLAGS_ARITH | RFLAGS_TF | RFLAGS_DF | RFLAGS_NT | RFLAGS_AC | RFLAGS_ID;
	unsigned iopl = (old >> 12) & 3;
	if (c->cpl == 0)
		mask |= RFLAGS_IOPL | RFLAGS_IF;
	else if (c->cpl <= iopl)
		mask |= RFLAGS_IF;
	if (iret)
		mask |= RFLAGS_RF;
	if (size == 2)
		mask &= 0xffff;
	uint64_t nf = (old & ~mask) | (img & mask);
	if (!iret)
		nf &= ~RFLAGS_RF;
	return (nf & 0x3f7fd7ull) | RFLAGS_FIXED1;
}

/* ---- far transfers ---- */

/*
 * The CS descriptor of a far JMP/CALL/RET target that is a code segment
 * (SDM Vol. 2A JMP "IF far jump to a conforming/nonconforming code segment").
 * rpl_rule: for RET the new CPL is the selector's RPL.
 */
static void far_code_seg(struct emu_cpu *c, uint16_t sel, unsigned new_cpl, struct x86_segment *cs)
{
	if (!(sel & ~3u))
		emu_raise(c, X86_GP, 0);
	uint64_t lo, hi;
	if (!emu_read_descriptor(c, sel, &lo, &hi, false))
		emu_raise(c, X86_GP, sel & ~3u);
	uint32_t ar = (uint32_t)((lo >> 40) & 0xff) | (uint32_t)(((lo >> 52) & 0xf) << 12);
	unsigned dpl = (ar >> 5) & 3, rpl = sel & 3;
	/* Gates reach here only from RET and IRET, which need a code segment
	 * (far CALL/JMP through gates go to gates.c). */
	if (!(ar & SEG_AR_S) || !(ar & SEG_AR_TYPE_CODE))
		emu_raise(c, X86_GP, sel & ~3u);
	if (ar & SEG_AR_TYPE_DC) {
		if (dpl > new_cpl)
			emu_raise(c, X86_GP, sel & ~3u);
	} else if (rpl > new_cpl || dpl != new_cpl) {
		emu_raise(c, X86_GP, sel & ~3u);
	}
	if ((c->s->efer & EFER_LMA) && (ar & SEG_AR_L) && (ar & SEG_AR_DB))
		emu_raise(c, X86_GP, sel & ~3u);
	if (!(ar & SEG_AR_P))
		emu_raise(c, X86_NP, sel & ~3u);
	emu_set_accessed(c, sel, lo);
	emu_seg_from_desc(cs, (uint16_t)((sel & ~3u) | new_cpl), lo | (1ull << 40), hi);
}

/* Read ptr16:16/32/64 from memory: offset first, then the selector. */
static void far_pointer(struct emu_cpu *c, const struct emu_insn *i, uint16_t *sel, uint64_t *off)
{
	const struct emu_operand *o = &i->op[0];
	if (o->kind == OPK_PTR) {
		*sel = i->sel;
		*off = (uint64_t)o->disp;
		return;
	}
	unsigned osz = o->size - 2;
	uint64_t ea = emu_ea(c, i, o);
	*off = emu_read(c, o->seg, ea, osz);
	*sel = (uint16_t)emu_read(c, o->seg, (ea + osz) & size_mask(i->addrsize), 2);
}

static void far_jump_to(struct emu_cpu *c, const struct emu_insn *i, uint16_t sel, uint64_t off)
{
	struct x86_state *s = c->s;
	off &= size_mask(i->opsize);
	if (c->mode == MODE_REAL16) {
		emu_real_seg(&s->seg[SEG_CS], sel);
		c->next_rip = off;
	} else {
		struct x86_segment cs;
		far_code_seg(c, sel, c->cpl, &cs);
		if (!(cs.ar & SEG_AR_L) && off > cs.limit)
			emu_raise(c, X86_GP, 0);
		s->seg[SEG_CS] = cs;
		c->next_rip = off;
	}
	emu_update_mode(c);
	emu_break(c);
}

void op_jmp_far(struct emu_cpu *c, const struct emu_insn *i)
{
	uint16_t sel;
	uint64_t off;
	far_pointer(c, i, &sel, &off);
	if (c->mode != MODE_REAL16 && emu_far_is_system(c, sel)) {
		emu_far_gate(c, i, sel, false);
		return;
	}
	far_jump_to(c, i, sel, off);
}

void op_call_far(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	uint16_t sel;
	uint64_t off;
	far_pointer(c, i, &sel, &off);
	if (c->mode != MODE_REAL16 && emu_far_is_system(c, sel)) {
		emu_far_gate(c, i, sel, true);
		return;
	}
	unsigned sz = i->opsize;
	uint16_t old_cs = s->seg[SEG_CS].sel;
	uint64_t ret = c->next_rip;
	/* The stack slots are checked under the old mode before CS changes;
	 * then nothing after the jump can fault (SDM CALL far). */
	unsigned ss = emu_stack_size(c);
	uint64_t sp = (s->gpr[GPR_RSP] - 2 * sz) & size_mask(ss);
	uint64_t la = emu_la(c, SEG_SS, sp, 2 * sz, ACC_WRITE);
	emu_probe_write(c, la, 2 * sz);
	far_jump_to(c, i, sel, off);
	emu_write_la(c, la + sz, sz, old_cs);
	emu_write_la(c, la, sz, ret);
	s->gpr[GPR_RSP] = ss == 8 ? sp : ss == 4 ? (uint32_t)sp : ((s->gpr[GPR_RSP] & ~0xffffull) | (sp & 0xffff));
}

/* RET far, same or outer privilege (SDM Vol. 2B RET). */
void op_retf(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	unsigned sz = i->opsize, ss = emu_stack_size(c);
	uint64_t sp = s->gpr[GPR_RSP] & size_mask(ss);
	uint64_t imm = i->nops ? ((uint64_t)i->op[0].disp & 0xffff) : 0;
	uint64_t off = emu_read(c, SEG_SS, sp, sz);
	uint16_t sel = (uint16_t)emu_read(c, SEG_SS, (sp + sz) & size_mask(ss), sz);
	sp = (sp + 2 * sz + imm) & size_mask(ss);
	if (c->mode == MODE_REAL16) {
		emu_real_seg(&s->seg[SEG_CS], sel);
		c->next_rip = off & size_mask(sz);
	} else {
		unsigned rpl = sel & 3;
		if (rpl < c->cpl)
			emu_raise(c, X86_GP, sel & ~3u);
		struct x86_segment cs;
		far_code_seg(c, sel, rpl, &cs);
		if (rpl > c->cpl) {
			/* Return to an outer level: pop SS:RSP too. */
			uint64_t nsp = emu_read(c, SEG_SS, sp, sz);
			uint16_t nss = (uint16_t)emu_read(c, SEG_SS, (sp + sz) & size_mask(ss), sz);
			s->seg[SEG_CS] = cs;
			emu_update_mode(c);
			emu_load_seg(c, SEG_SS, nss);
			sp = (nsp + imm) & size_mask(emu_stack_size(c));
			for (int k = 0; k < SEG_COUNT; k++) {
				if (k == SEG_CS || k == SEG_SS)
					continue;
				/* Data segments the outer level may not use become NULL. */
				struct x86_segment *dg = &s->seg[k];
				unsigned ddpl = (dg->ar >> 5) & 3;
				bool conforming_code = (dg->ar & SEG_AR_TYPE_CODE) && (dg->ar & SEG_AR_TYPE_DC);
				if (!(dg->ar & SEG_AR_UNUSABLE) && ddpl < rpl && !conforming_code &&
				    (k < SEG_FS || c->mode != MODE_LONG64)) {
					dg->sel = 0;
					dg->ar |= SEG_AR_UNUSABLE;
				}
			}
		} else {
			s->seg[SEG_CS] = cs;
		}
		c->next_rip = off & size_mask(sz);
	}
	unsigned nss = emu_stack_size(c);
	s->gpr[GPR_RSP] = nss == 8 ? sp : nss == 4 ? (uint32_t)sp : ((s->gpr[GPR_RSP] & ~0xffffull) | (sp & 0xffff));
	emu_update_mode(c);
	emu_break(c);
}

/* ---- IRET ---- */

static void iret_real(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	unsigned sz = i->opsize;
	uint64_t old_rsp = s->gpr[GPR_RSP];
	uint64_t ip = emu_pop(c, sz);
	uint16_t cs = (uint16_t)emu_pop(c, sz);
	uint64_t fl = emu_pop(c, sz);
	if (ip > 0xffff && sz == 4 && ip > s->seg[SEG_CS].limit) {
		s->gpr[GPR_RSP] = old_rsp;
		emu_raise(c, X86_GP, 0);
	}
	emu_real_seg(&s->seg[SEG_CS], cs);
	c->next_rip = ip;
	uint64_t old = emu_flags(c);
	uint64_t mask = sz == 2 ? 0xffffull : 0x257fd5ull; /* real mode: VM/VIP/VIF kept */
	uint64_t nf = (old & ~mask) | (fl & mask);
	emu_set_flags(c, nf);
}

static void iret_protected(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	unsigned sz = i->opsize;
	if (s->rflags & RFLAGS_NT && !(s->efer & EFER_LMA)) {
		/* Return from a nested task to the back link (SDM IRET
		 * "TASK-RETURN"). */
		if (s->tr.limit < 1)
			emu_raise(c, X86_TS, s->tr.sel & ~3u);
		uint16_t link = (uint16_t)emu_read_slow(c, s->tr.base & 0xffffffffull, 2, ACC_READ | ACC_IMPLICIT);
		emu_task_switch_exit(c, link, TASK_SWITCH_IRET, c->next_rip, -1, false, 0);
		return;
	}
	if ((s->rflags & RFLAGS_NT) && (s->efer & EFER_LMA))
		emu_raise(c, X86_GP, 0);
	unsigned ss = emu_stack_size(c);
	uint64_t sp = s->gpr[GPR_RSP] & size_mask(ss);
	uint64_t ip = emu_read(c, SEG_SS, sp, sz);
	uint16_t sel = (uint16_t)emu_read(c, SEG_SS, (sp + sz) & size_mask(ss), sz);
	uint64_t fl = emu_read(c, SEG_SS, (sp + 2 * sz) & size_mask(ss), sz);
	sp = (sp + 3 * sz) & size_mask(ss);
	unsigned rpl = sel & 3;
	bool to_outer = rpl > c->cpl;
	bool pop_ss = to_outer || c->mode == MODE_LONG64;
	uint64_t nsp = 0;
	uint16_t nss = 0;
	if (pop_ss) {
		nsp = emu_read(c, SEG_SS, sp, sz);
		nss = (uint16_t)emu_read(c, SEG_SS, (sp + sz) & size_mask(ss), sz);
	}
	if (rpl < c->cpl)
		emu_raise(c, X86_GP, sel & ~3u);
	struct x86_segment cs;
	far_code_seg(c, sel, rpl, &cs);
	uint64_t old_flags = emu_flags(c);
	if (!(cs.ar & SEG_AR_L)) {
		ip &= 0xffffffffull;
		if (ip > cs.limit)
			emu_raise(c, X86_GP, 0);
	} else if (!arch_canonical_la(c, ip)) {
		emu_raise(c, X86_GP, 0);
	}
	uint64_t nf = emu_flags_merge(c, old_flags, fl, sz, true);
	s->seg[SEG_CS] = cs;
	emu_update_mode(c);
	if (pop_ss) {
		/* 64-bit mode may return to a NULL SS at CPL < 3 (SDM IRET). */
		if (!(nss & ~3u) && (cs.ar & SEG_AR_L) && rpl != 3) {
			s->seg[SEG_SS].sel = nss;
			s->seg[SEG_SS].ar = SEG_AR_UNUSABLE | (rpl << SEG_AR_DPL_SHIFT);
			s->seg[SEG_SS].base = 0;
			s->seg[SEG_SS].limit = 0;
			emu_update_mode(c);
		} else {
			emu_load_seg(c, SEG_SS, nss);
		}
		unsigned nssz = emu_stack_size(c);
		s->gpr[GPR_RSP] = nssz == 8 ? nsp : nssz == 4 ? (uint32_t)nsp : ((s->gpr[GPR_RSP] & ~0xffffull) | (nsp & 0xffff));
	} else {
		s->gpr[GPR_RSP] = ss == 8 ? sp : ss == 4 ? (uint32_t)sp : ((s->gpr[GPR_RSP] & ~0xffffull) | (sp & 0xffff));
	}
	c->next_rip = ip;
	/* Flags merge used the old CPL's privileges (computed above). */
	emu_set_flags(c, nf);
	emu_update_mode(c);
	if (to_outer) {
		for (int k = 0; k < SEG_COUNT; k++) {
			if (k == SEG_CS || k == SEG_SS)
				continue;
			struct x86_segment *dg = &s->seg[k];
			unsigned ddpl = (dg->ar >> 5) & 3;
			bool conforming_code = (dg->ar & SEG_AR_TYPE_CODE) && (dg->ar & SEG_AR_TYPE_DC);
			if (!(dg->ar & SEG_AR_UNUSABLE) && ddpl < rpl && !conforming_code) {
				dg->sel = 0;
				dg->ar |= SEG_AR_UNUSABLE;
			}
		}
	}
}

void op_iret(struct emu_cpu *c, const struct emu_insn *i)
{
	if (c->mode == MODE_REAL16 && !(c->s->rflags & RFLAGS_VM))
		iret_real(c, i);
	else if (c->s->rflags & RFLAGS_VM)
		emu_raise(c, X86_GP, 0); /* virtual-8086 mode is not implemented */
	else
		iret_protected(c, i);
	/* IRET ends NMI blocking (SDM 6.7.1) -- or virtual-NMI blocking with
	 * "virtual NMIs"; with "NMI exiting" alone it leaves NMI blocking
	 * alone (SDM Vol. 3C 26.3, IRET). */
	uint32_t pin = c->v->ctls->pin;
	if (!(pin & VMX_PIN_NMI_EXITING) || (pin & VMX_PIN_VIRTUAL_NMIS))
		c->s->interruptibility &= ~INTR_BLOCK_NMI;
	emu_break(c);
}
