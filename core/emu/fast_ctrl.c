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

/* The last instruction ran generically and set RIP (and may have changed
 * what the run loop must check): back to the loop. Not reached for a block
 * cut short that broke. */
void emu_exec_end(struct emu_cpu *c, const struct emu_insn *i)
{
	if (!(c->cur_block->insn[c->cur_block->n - 1].flags & EI_END))
		c->s->rip = (c->block_rip + i->off) & c->ip_mask;
	emu_retire(c, c->cur_block->n);
	c->cur_block = NULL;
}

/* Retire the block, then run the next one if its link matches and nothing
 * needs the run loop (exec.h "Chaining"). */
static inline void chain(struct emu_cpu *c, const struct emu_insn *i, uint64_t rip)
{
	const struct emu_block *b = c->cur_block;
	struct vcpu *v = c->v;
	uint64_t n = b->n, cycles = v->cycles + n * COST_INSN_DEFAULT;
	v->stats.insns += n;
	v->cycles = cycles;
	c->cur_block = NULL;
	if (unlikely(cycles >= v->poll_at || vm_should_stop(c->vm)))
		return;
	struct emu_link *l = (struct emu_link *)&b->link[rip != ((c->block_rip + i->off) & c->ip_mask)];
	const struct emu_block *nb = l->b;
	if (unlikely(l->la != c->seg_base[SEG_CS] + rip || l->epoch != c->tlb_epoch ||
		     l->code_gen != c->vm->ram.code_gen)) {
		c->stale_link = l;
		c->stale_link_flushes = emu_vm_of(c->vm)->flushes;
		return;
	}
	uint64_t left = c->chain_left;
	if (unlikely(nb->n > left))
		return;
	c->chain_left = left - nb->n;
	c->cur_block = nb;
	c->cur = nb->insn;
	c->block_rip = rip;
	nb->insn[0].exec(c, nb->insn);
}

void emu_exec_chain(struct emu_cpu *c, const struct emu_insn *i)
{
	chain(c, i, c->s->rip);
}

void emu_exec_chain_seq(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t rip = (c->block_rip + i->off) & c->ip_mask;
	c->s->rip = rip;
	chain(c, i, rip);
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
		int taken = fast_cc(c, cc);                                                    \
		if (taken) {                                                                   \
			t += (uint64_t)i->op[0].disp;                                          \
			if (unlikely(taken < 0 || !canonical(c, t))) {                         \
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
