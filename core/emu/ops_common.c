/*
 * Operand access, stack and branch helpers shared by all instruction handlers.
 */
#include "emu.h"

uint64_t emu_ea(struct emu_cpu *c, const struct emu_insn *i, const struct emu_operand *o)
{
	uint64_t ea = (uint64_t)o->disp;
	if (o->base == EMU_REG_RIP)
		ea += c->next_rip;
	else if (o->base != EMU_REG_NONE)
		ea += c->s->gpr[o->base];
	if (o->index != EMU_REG_NONE)
		ea += c->s->gpr[o->index] * o->scale;
	switch (i->addrsize) {
	case 4:
		return (uint32_t)ea;
	case 2:
		return (uint16_t)ea;
	default:
		return ea;
	}
}

uint64_t emu_op_read(struct emu_cpu *c, const struct emu_insn *i, unsigned n)
{
	const struct emu_operand *o = &i->op[n];
	switch (o->kind) {
	case OPK_REG:
		return gpr_read(c, o->reg, o->hi8, o->size);
	case OPK_MEM:
		return emu_read(c, o->seg, emu_ea(c, i, o), o->size);
	case OPK_IMM:
		return (uint64_t)o->disp;
	case OPK_SEG:
		return c->s->seg[o->reg].sel;
	default:
		emu_unimplemented(c, i);
	}
}

void emu_op_write(struct emu_cpu *c, const struct emu_insn *i, unsigned n, uint64_t val)
{
	const struct emu_operand *o = &i->op[n];
	switch (o->kind) {
	case OPK_REG:
		gpr_write(c, o->reg, o->hi8, o->size, val);
		break;
	case OPK_MEM:
		emu_write(c, o->seg, emu_ea(c, i, o), o->size, val);
		break;
	default:
		emu_unimplemented(c, i);
	}
}

uint64_t emu_op_la(struct emu_cpu *c, const struct emu_insn *i, unsigned n, unsigned acc)
{
	const struct emu_operand *o = &i->op[n];
	uint64_t la = emu_la(c, o->seg, emu_ea(c, i, o), o->size, acc);
	if (acc == ACC_WRITE)
		emu_probe_write(c, la, o->size);
	return la;
}

/* Stack address size: 64-bit mode uses RSP, otherwise SS.B selects ESP/SP
 * (SDM Vol. 1 6.2.3). */
unsigned emu_stack_size(const struct emu_cpu *c)
{
	if (c->mode == MODE_LONG64)
		return 8;
	return (c->s->seg[SEG_SS].ar & SEG_AR_DB) ? 4 : 2;
}

static uint64_t sp_update(uint64_t old, uint64_t val, unsigned ss)
{
	if (ss == 8)
		return val;
	if (ss == 4)
		return (uint32_t)val;
	return (old & ~0xffffull) | (val & 0xffff);
}

void emu_push(struct emu_cpu *c, unsigned size, uint64_t val)
{
	struct x86_state *s = c->s;
	unsigned ss = emu_stack_size(c);
	uint64_t sp = (s->gpr[GPR_RSP] - size) & size_mask(ss);
	emu_write(c, SEG_SS, sp, size, val);
	s->gpr[GPR_RSP] = sp_update(s->gpr[GPR_RSP], sp, ss);
}

uint64_t emu_pop(struct emu_cpu *c, unsigned size)
{
	struct x86_state *s = c->s;
	unsigned ss = emu_stack_size(c);
	uint64_t sp = s->gpr[GPR_RSP] & size_mask(ss);
	uint64_t val = emu_read(c, SEG_SS, sp, size);
	s->gpr[GPR_RSP] = sp_update(s->gpr[GPR_RSP], sp + size, ss);
	return val;
}

/*
 * Near branch (SDM Vol. 2A JMP/CALL): in 64-bit mode the target must be
 * canonical (#GP(0)); elsewhere it is truncated to the operand size and must
 * be within the CS limit (#GP(0)).
 */
void emu_jump(struct emu_cpu *c, uint64_t target)
{
	if (c->mode == MODE_LONG64) {
		if (!arch_canonical_la(c, target))
			emu_raise(c, X86_GP, 0);
	} else {
		target &= c->cur->opsize == 2 ? 0xffffull : 0xffffffffull;
		if (target > c->s->seg[SEG_CS].limit)
			emu_raise(c, X86_GP, 0);
	}
	c->next_rip = target;
}

void emu_exit_insn(struct emu_cpu *c, const struct emu_insn *i, struct vm_exit *e)
{
	e->insn_len = i->len;
	vcpu_handle_exit(c->v, e);
	/* The handler retired the instruction (or not: a fault was queued). */
	c->next_rip = c->s->rip;
	emu_break(c);
}
