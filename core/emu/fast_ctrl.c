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
	/* Count the blocks the chain completed before this one (exec.h). */
	uint64_t done = c->chain_entered - c->cur_block->n;
	if (done) {
		emu_retire(c, done);
		c->chain_entered -= done;
		c->chain_end -= done;
	}
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
 * what the run loop must check), or the block was cut short: back to the
 * loop. */
void emu_exec_end(struct emu_cpu *c, const struct emu_insn *i)
{
	if (!(c->cur_block->insn[c->cur_block->n - 1].flags & EI_END))
		c->s->rip = (c->block_rip + i->off) & c->ip_mask;
	c->cur = i;
}

static inline bool canonical(const struct emu_cpu *c, uint64_t la)
{
	return (uint64_t)((int64_t)(la << c->canon_shift) >> c->canon_shift) == la;
}

/*
 * The running block ends with RIP = rip, leaving through its link `which`:
 * run the next block if the link matches and it fits in the chain's budget
 * (exec.h "Chaining"), else store RIP and return to the run loop. `br` is a
 * branch to check first (its target, or NULL if the caller did): a block
 * the link leads to was looked up at a canonical RIP, so only a target
 * without a matching link needs the check, which makes the branch fault
 * (#GP(0), SDM Vol. 2A JMP/Jcc) through the generic handler.
 */
static inline void chain(struct emu_cpu *c, const struct emu_insn *br, unsigned which, uint64_t rip)
{
	const struct emu_block *b = c->cur_block;
	struct emu_link *l = (struct emu_link *)&b->link[which];
	if (unlikely(l->rip != rip || l->epoch != c->tlb_epoch)) {
		if (br && unlikely(!canonical(c, rip))) {
			emu_exec_generic(c, br);
			return;
		}
		c->s->rip = rip;
		c->cur = &b->insn[b->n];
		c->stale_link = l;
		c->stale_link_flushes = emu_vm_of(c->vm)->flushes;
		return;
	}
	const struct emu_block *nb = l->b;
	uint64_t entered = c->chain_entered + nb->n;
	if (unlikely(entered > c->chain_end) || (!EMU_SIBCALLS && ++c->chain_depth > EMU_CHAIN_DEPTH_NOSIB)) {
		c->s->rip = rip;
		c->cur = &b->insn[b->n];
		return;
	}
	c->chain_entered = entered;
	c->cur_block = nb;
	c->block_rip = rip;
	nb->insn[0].exec(c, nb->insn);
}

/* After a branch that ran generically: link 0 if it fell through. */
void emu_exec_chain(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t rip = c->s->rip;
	chain(c, NULL, rip != ((c->block_rip + i->off) & c->ip_mask), rip);
}

void emu_exec_chain_seq(struct emu_cpu *c, const struct emu_insn *i)
{
	chain(c, NULL, 0, (c->block_rip + i->off) & c->ip_mask);
}

/* The RIP of the instruction after i. */
static inline uint64_t next_rip(const struct emu_cpu *c, const struct emu_insn *i)
{
	return c->block_rip + i->off + i->len;
}

/* Jcc ends its block: it goes on through link 1 if taken, 0 if not. */
#define DEF_JCC(cc)                                                                            \
	static void jcc_##cc(struct emu_cpu *c, const struct emu_insn *i)                      \
	{                                                                                      \
		int taken = fast_cc(c, cc);                                                    \
		if (unlikely(taken < 0)) {                                                     \
			emu_exec_generic(c, i);                                                \
			return;                                                                \
		}                                                                              \
		uint64_t t = next_rip(c, i);                                                   \
		if (taken)                                                                     \
			chain(c, i, 1, t + (uint64_t)i->op[0].disp);                           \
		else                                                                           \
			chain(c, NULL, 0, t);                                                  \
	}
FAST_FOR_CC(DEF_JCC)
#define JCC_ENTRY(cc) jcc_##cc,
const emu_fn fast_jcc[16] = { FAST_FOR_CC(JCC_ENTRY) };

void fast_jmp_rel(struct emu_cpu *c, const struct emu_insn *i)
{
	chain(c, i, 1, next_rip(c, i) + (uint64_t)i->op[0].disp);
}

/* The stack slot [RSP-relative la, +8) through the TLB (SS's base is 0 in
 * 64-bit mode, but c->seg_base says so). */
static inline bool stack_slot(const struct emu_cpu *c, bool write, uint64_t la, void **h)
{
	return fast_host(c, write, c->seg_base[SEG_SS] + la, 8, h);
}

void fast_call_rel(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	uint64_t ret = next_rip(c, i), t = ret + (uint64_t)i->op[0].disp;
	uint64_t sp = s->gpr[GPR_RSP] - 8;
	void *h;
	if (unlikely(!stack_slot(c, true, sp, &h) || !canonical(c, t))) {
		emu_exec_generic(c, i);
		return;
	}
	fast_store(h, 8, ret);
	s->gpr[GPR_RSP] = sp;
	chain(c, NULL, 1, t);
}

void fast_ret(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	uint64_t sp = s->gpr[GPR_RSP];
	void *h;
	uint64_t t;
	if (unlikely(!stack_slot(c, false, sp, &h)) || (t = fast_load(h, 8), unlikely(!canonical(c, t)))) {
		emu_exec_generic(c, i);
		return;
	}
	s->gpr[GPR_RSP] = sp + 8;
	chain(c, NULL, 1, t);
}

/* PUSH r64 stores the register's value before the decrement (so PUSH RSP
 * pushes the old RSP, SDM Vol. 2B PUSH). */
void fast_push_r(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	uint64_t sp = s->gpr[GPR_RSP] - 8;
	void *h;
	if (unlikely(!stack_slot(c, true, sp, &h))) {
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
	void *h;
	if (unlikely(!stack_slot(c, false, sp, &h))) {
		emu_exec_generic(c, i);
		return;
	}
	uint64_t v = fast_load(h, 8);
	s->gpr[GPR_RSP] = sp + 8;
	s->gpr[i->op[0].reg] = v;
	EMU_NEXT(c, i);
}

/* ---- ALU + Jcc pairs ---- */

/* Whether fast_cc_of() answers cc for a record of op (SDM Vol. 1 Appendix
 * B): E and S from any result, the rest but O and P after SUB/CMP, all but
 * P after logic. */
bool fast_fusable(enum lf_op op, unsigned cc)
{
	unsigned k = cc >> 1;
	if (k == 2 || k == 4)
		return true;
	if (op == LF_SUB)
		return k == 1 || k == 3 || k == 6 || k == 7;
	if (op == LF_LOGIC)
		return k != 5;
	return false;
}

/* The Jcc j after an instruction that left the record lf (already stored),
 * evaluated without reloading it; what fast_cc_of() cannot answer runs j
 * generically. */
FAST_INLINE void fused_jcc(struct emu_cpu *c, const struct emu_insn *j, const struct lazy_flags *lf, unsigned cc)
{
	int taken = fast_cc_of(c, lf, cc);
	if (unlikely(taken < 0)) {
		emu_exec_generic(c, j);
		return;
	}
	uint64_t t = next_rip(c, j);
	if (taken)
		chain(c, j, 1, t + (uint64_t)j->op[0].disp);
	else
		chain(c, NULL, 0, t);
}

#define DEF_ALU_JCC(aop, form, szk, cc)                                                        \
	static void alu_jcc_##aop##_##form##_##szk##_##cc(struct emu_cpu *c, const struct emu_insn *i) \
	{                                                                                      \
		struct lazy_flags lf;                                                          \
		fast_alu_r(c, i, aop, szk, form, &lf);                                         \
		fast_lf(c, lf.op, lf.size, lf.dst, lf.src, lf.res);                            \
		fused_jcc(c, i + 1, &lf, cc);                                                  \
	}
#define DEF_ALU_JCC_CC(op, form, szk) FAST_FOR_CC_ARG3(DEF_ALU_JCC, op, form, szk)
#define FAST_FOR_CC_ARG3(M, a, b, d)                                                           \
	M(a, b, d, 0) M(a, b, d, 1) M(a, b, d, 2) M(a, b, d, 3) M(a, b, d, 4) M(a, b, d, 5)   \
	M(a, b, d, 6) M(a, b, d, 7) M(a, b, d, 8) M(a, b, d, 9) M(a, b, d, 10) M(a, b, d, 11) \
	M(a, b, d, 12) M(a, b, d, 13) M(a, b, d, 14) M(a, b, d, 15)
#define DEF_ALU_JCC_OP(op)                                                                     \
	DEF_ALU_JCC_CC(op, 0, FS_8)                                                            \
	DEF_ALU_JCC_CC(op, 0, FS_4)                                                            \
	DEF_ALU_JCC_CC(op, 1, FS_8)                                                            \
	DEF_ALU_JCC_CC(op, 1, FS_4)
FAST_FOR_ALU(DEF_ALU_JCC_OP)

#define ALU_JCC_ENTRY(op, form, szk, cc) alu_jcc_##op##_##form##_##szk##_##cc,
#define ALU_JCC_ROW(op)                                                                        \
	[op] = { { { FAST_FOR_CC_ARG3(ALU_JCC_ENTRY, op, 0, FS_8) },                           \
		   { FAST_FOR_CC_ARG3(ALU_JCC_ENTRY, op, 0, FS_4) } },                         \
		 { { FAST_FOR_CC_ARG3(ALU_JCC_ENTRY, op, 1, FS_8) },                           \
		   { FAST_FOR_CC_ARG3(ALU_JCC_ENTRY, op, 1, FS_4) } } },
const emu_fn fast_alu_jcc[FA_COUNT][2][2][16] = { FAST_FOR_ALU(ALU_JCC_ROW) };

/* INC/DEC r + Jcc: CF comes from the record before (fast_cf_src), else both
 * run on their own handlers. */
#define DEF_INCDEC_JCC(dec, szk, cfs, cc)                                                      \
	static void incdec_jcc_##dec##_##szk##_##cfs##_##cc(struct emu_cpu *c, const struct emu_insn *i) \
	{                                                                                      \
		uint64_t *gpr = c->s->gpr;                                                     \
		unsigned sz = FAST_SZ(szk), reg = i->op[0].reg;                                \
		uint64_t m = size_mask(sz), dv = gpr[reg] & m, r = (dec ? dv - 1 : dv + 1) & m; \
		int cf = fast_cf_src(c, cfs);                                                  \
		if (unlikely(cf < 0)) {                                                        \
			emu_exec_generic(c, i);                                                \
			return;                                                                \
		}                                                                              \
		fast_gpr_write(gpr, reg, sz, r);                                               \
		struct lazy_flags lf = { .dst = dv, .src = 1, .res = r, .op = dec ? LF_DEC : LF_INC, \
					 .size = (uint8_t)sz, .cf = (uint8_t)cf };              \
		c->lf = lf;                                                                    \
		fused_jcc(c, i + 1, &lf, cc);                                                  \
	}
#define FAST_FOR_CFS_ARG2(M, a, b) \
	M(a, b, CFS_ANY) M(a, b, CFS_LOGIC) M(a, b, CFS_SUB) M(a, b, CFS_ADD) M(a, b, CFS_INCDEC)
#define DEF_INCDEC_JCC_CC(dec, szk, cfs) FAST_FOR_CC_ARG3(DEF_INCDEC_JCC, dec, szk, cfs)
FAST_FOR_CFS_ARG2(DEF_INCDEC_JCC_CC, 0, FS_8)
FAST_FOR_CFS_ARG2(DEF_INCDEC_JCC_CC, 0, FS_4)
FAST_FOR_CFS_ARG2(DEF_INCDEC_JCC_CC, 1, FS_8)
FAST_FOR_CFS_ARG2(DEF_INCDEC_JCC_CC, 1, FS_4)
#define INCDEC_JCC_ENTRY(dec, szk, cfs, cc) incdec_jcc_##dec##_##szk##_##cfs##_##cc,
#define INCDEC_JCC_ROW(dec, szk, cfs) [cfs] = { FAST_FOR_CC_ARG3(INCDEC_JCC_ENTRY, dec, szk, cfs) },
const emu_fn fast_incdec_jcc[2][2][CFS_COUNT][16] = {
	{ { FAST_FOR_CFS_ARG2(INCDEC_JCC_ROW, 0, FS_8) }, { FAST_FOR_CFS_ARG2(INCDEC_JCC_ROW, 0, FS_4) } },
	{ { FAST_FOR_CFS_ARG2(INCDEC_JCC_ROW, 1, FS_8) }, { FAST_FOR_CFS_ARG2(INCDEC_JCC_ROW, 1, FS_4) } },
};
