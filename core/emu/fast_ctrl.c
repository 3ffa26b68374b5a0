/*
 * The threaded executor's fixed parts (exec.h) -- the generic step and the
 * block sentinels -- and the specialised control transfers and stack
 * operations of 64-bit mode: Jcc, JMP and CALL rel, RET, PUSH/POP r64
 * (Intel SDM Vol. 2: each instruction's "Operation"). In 64-bit mode near
 * branches and stack operations use 64-bit operands, SS's base is 0, and a
 * branch target must be canonical or the branch raises #GP(0) (Vol. 2A JMP,
 * Jcc; Vol. 3A 3.3.7.1): a target that is not, or a stack access that
 * misses the TLB, goes to emu_exec_generic().
 */
#include "fast.h"

void emu_exec_generic(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	uint64_t rip = (c->block_rip + i->off) & c->ip_mask;
	s->rip = rip;
	c->cur = i;
	c->next_rip = (rip + i->len) & c->ip_mask;
	i->fn(c, i);
	s->rip = c->next_rip;
	if (unlikely(c->brk))
		return;
	EMU_NEXT(c, i);
}

void emu_exec_end(struct emu_cpu *c, const struct emu_insn *i)
{
	c->cur = i;
}

void emu_exec_end_seq(struct emu_cpu *c, const struct emu_insn *i)
{
	c->s->rip = (c->block_rip + i->off) & c->ip_mask;
	c->cur = i;
}

static inline bool canonical(const struct emu_cpu *c, uint64_t la)
{
	return (uint64_t)((int64_t)(la << c->canon_shift) >> c->canon_shift) == la;
}

/* The RIP of the instruction after i. */
static inline uint64_t next_rip(const struct emu_cpu *c, const struct emu_insn *i)
{
	return c->block_rip + i->off + i->len;
}

#define DEF_JCC(cc)                                                                            \
	static void jcc_##cc(struct emu_cpu *c, const struct emu_insn *i)                      \
	{                                                                                      \
		uint64_t t = next_rip(c, i);                                                   \
		if (fast_cc(c, cc)) {                                                          \
			t += (uint64_t)i->op[0].disp;                                          \
			if (unlikely(!canonical(c, t))) {                                      \
				emu_exec_generic(c, i);                                        \
				return;                                                        \
			}                                                                      \
		}                                                                              \
		c->s->rip = t;                                                                 \
		EMU_NEXT(c, i);                                                                \
	}
FAST_FOR_CC(DEF_JCC)
#define JCC_ENTRY(cc) jcc_##cc,
const emu_fn fast_jcc[16] = { FAST_FOR_CC(JCC_ENTRY) };

void fast_jmp_rel(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t t = next_rip(c, i) + (uint64_t)i->op[0].disp;
	if (unlikely(!canonical(c, t))) {
		emu_exec_generic(c, i);
		return;
	}
	c->s->rip = t;
	EMU_NEXT(c, i);
}

/* The stack slot [la, la+8) through a TLB array, or NULL. */
static inline void *stack_slot(const struct emu_cpu *c, const struct tlb_entry *arr, uint64_t la)
{
	return fast_host(c, arr, c->seg_base[SEG_SS] + la, 8);
}

void fast_call_rel(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	uint64_t ret = next_rip(c, i), t = ret + (uint64_t)i->op[0].disp;
	uint64_t sp = s->gpr[GPR_RSP] - 8;
	void *h = stack_slot(c, c->tlb->w, sp);
	if (unlikely(!h || !canonical(c, t))) {
		emu_exec_generic(c, i);
		return;
	}
	fast_store(h, 8, ret);
	s->gpr[GPR_RSP] = sp;
	s->rip = t;
	EMU_NEXT(c, i);
}

void fast_ret(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	uint64_t sp = s->gpr[GPR_RSP];
	void *h = stack_slot(c, c->tlb->r, sp);
	uint64_t t;
	if (unlikely(!h) || (t = fast_load(h, 8), unlikely(!canonical(c, t)))) {
		emu_exec_generic(c, i);
		return;
	}
	s->gpr[GPR_RSP] = sp + 8;
	s->rip = t;
	EMU_NEXT(c, i);
}

/* PUSH r64 stores the register's value before the decrement (so PUSH RSP
 * pushes the old RSP, SDM Vol. 2B PUSH). */
void fast_push_r(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	uint64_t sp = s->gpr[GPR_RSP] - 8;
	void *h = stack_slot(c, c->tlb->w, sp);
	if (unlikely(!h)) {
		emu_exec_generic(c, i);
		return;
	}
	fast_store(h, 8, s->gpr[i->op[0].reg]);
	s->gpr[GPR_RSP] = sp;
	EMU_NEXT(c, i);
}

/* POP r64 increments RSP before writing the register (so POP RSP loads the
 * popped value, SDM Vol. 2B POP). */
void fast_pop_r(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	uint64_t sp = s->gpr[GPR_RSP];
	void *h = stack_slot(c, c->tlb->r, sp);
	if (unlikely(!h)) {
		emu_exec_generic(c, i);
		return;
	}
	uint64_t v = fast_load(h, 8);
	s->gpr[GPR_RSP] = sp + 8;
	s->gpr[i->op[0].reg] = v;
	EMU_NEXT(c, i);
}
