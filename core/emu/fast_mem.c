/*
 * Specialised handlers for memory operand forms in 64-bit mode with 64-bit
 * addresses (exec.h, fast.h): loads, stores and read-modify-writes of the
 * integer ALU, MOV, MOVZX/MOVSX. The fast path is a hit in the current
 * TLB's read array (or write array, for anything that writes) for an
 * access within one page: every fault condition -- a non-present or
 * forbidden page, a non-canonical address, alignment checking, a watched
 * page, MMIO, a page holding decoded code -- misses there, and the
 * instruction then runs its full semantics through emu_exec_generic().
 * In 64-bit mode the segment bases of ES, CS, SS and DS are 0 and no limits
 * apply (SDM Vol. 3A 5.2.1); c->seg_base holds exactly that.
 *
 * A read-modify-write goes through the write array alone: a page the TLB
 * lets one write is readable too (a write entry is only filled when the
 * access rights allow the write, SDM Vol. 3A 4.6, and never for a page that
 * data breakpoints watch).
 */
#include "fast.h"


FAST_INLINE uint64_t mem_la(const struct emu_cpu *c, const uint64_t *gpr, const struct emu_insn *i,
		       const struct emu_operand *o)
{
	return c->seg_base[o->seg] + fast_ea(c, gpr, i, o);
}


/* reg op= [mem] */
FAST_INLINE bool alu_rm(struct emu_cpu *c, const struct emu_insn *i, enum fast_alu op, enum fast_sz szk)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	unsigned sz = FAST_SZ(szk);
	uint64_t m = size_mask(sz);
	void *h = fast_host(c, c->tlb->r, mem_la(c, gpr, i, &i->op[1]), sz);
	if (!h)
		return false;
	uint64_t dv = gpr[d->reg] & m, sv = fast_load(h, sz);
	uint64_t r = fast_alu_res(op, dv, sv) & m;
	if (fast_alu_wb(op))
		fast_gpr_write(gpr, d->reg, sz, r);
	fast_lf(c, fast_alu_lf(op), sz, dv, sv, r);
	return true;
}

/* [mem] op= reg or imm; CMP and TEST only read. */
FAST_INLINE bool alu_m(struct emu_cpu *c, const struct emu_insn *i, enum fast_alu op, enum fast_sz szk, bool imm)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	unsigned sz = FAST_SZ(szk);
	uint64_t m = size_mask(sz);
	bool wb = fast_alu_wb(op);
	void *h = fast_host(c, wb ? c->tlb->w : c->tlb->r, mem_la(c, gpr, i, d), sz);
	if (!h)
		return false;
	uint64_t sv = (imm ? (uint64_t)i->op[1].disp : gpr[i->op[1].reg]) & m;
	uint64_t dv = fast_load(h, sz);
	uint64_t r = fast_alu_res(op, dv, sv) & m;
	if (wb)
		fast_store(h, sz, r);
	fast_lf(c, fast_alu_lf(op), sz, dv, sv, r);
	return true;
}

#define FAST_OR_GENERIC(call)                                                                  \
	do {                                                                                   \
		if (unlikely(!(call))) {                                                       \
			emu_exec_generic(c, i);                                                \
			return;                                                                \
		}                                                                              \
		EMU_NEXT(c, i);                                                                \
	} while (0)

#define DEF_ALU_M(op, szk)                                                                     \
	static void alu_rm_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)           \
	{                                                                                      \
		FAST_OR_GENERIC(alu_rm(c, i, op, szk));                                        \
	}                                                                                      \
	static void alu_mr_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)           \
	{                                                                                      \
		FAST_OR_GENERIC(alu_m(c, i, op, szk, false));                                  \
	}                                                                                      \
	static void alu_mi_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)           \
	{                                                                                      \
		FAST_OR_GENERIC(alu_m(c, i, op, szk, true));                                   \
	}

#define DEF_ALU_M_ALL(op) FAST_FOR_SIZES(DEF_ALU_M, op)
FAST_FOR_ALU(DEF_ALU_M_ALL)

#define ROW(pfx, op) [op] = { pfx##_##op##_FS_8, pfx##_##op##_FS_4, pfx##_##op##_FS_2, pfx##_##op##_FS_1 },
#define ROW_RM(op) ROW(alu_rm, op)
#define ROW_MR(op) ROW(alu_mr, op)
#define ROW_MI(op) ROW(alu_mi, op)
const emu_fn fast_alu_rm[FA_COUNT][FS_COUNT] = { FAST_FOR_ALU(ROW_RM) };
const emu_fn fast_alu_mr[FA_COUNT][FS_COUNT] = { FAST_FOR_ALU(ROW_MR) };
const emu_fn fast_alu_mi[FA_COUNT][FS_COUNT] = { FAST_FOR_ALU(ROW_MI) };

/* ---- MOV ---- */

FAST_INLINE bool mov_rm(struct emu_cpu *c, const struct emu_insn *i, enum fast_sz szk)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	unsigned sz = FAST_SZ(szk);
	void *h = fast_host(c, c->tlb->r, mem_la(c, gpr, i, &i->op[1]), sz);
	if (!h)
		return false;
	fast_gpr_write(gpr, d->reg, sz, fast_load(h, sz));
	return true;
}

FAST_INLINE bool mov_m(struct emu_cpu *c, const struct emu_insn *i, enum fast_sz szk, bool imm)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	unsigned sz = FAST_SZ(szk);
	void *h = fast_host(c, c->tlb->w, mem_la(c, gpr, i, d), sz);
	if (!h)
		return false;
	fast_store(h, sz, imm ? (uint64_t)i->op[1].disp : gpr[i->op[1].reg]);
	return true;
}

#define DEF_MOV_M(unused, szk)                                                                 \
	static void mov_rm_##szk(struct emu_cpu *c, const struct emu_insn *i)                  \
	{                                                                                      \
		FAST_OR_GENERIC(mov_rm(c, i, szk));                                            \
	}                                                                                      \
	static void mov_mr_##szk(struct emu_cpu *c, const struct emu_insn *i)                  \
	{                                                                                      \
		FAST_OR_GENERIC(mov_m(c, i, szk, false));                                      \
	}                                                                                      \
	static void mov_mi_##szk(struct emu_cpu *c, const struct emu_insn *i)                  \
	{                                                                                      \
		FAST_OR_GENERIC(mov_m(c, i, szk, true));                                       \
	}
FAST_FOR_SIZES(DEF_MOV_M, 0)
const emu_fn fast_mov_rm[FS_COUNT] = { mov_rm_FS_8, mov_rm_FS_4, mov_rm_FS_2, mov_rm_FS_1 };
const emu_fn fast_mov_mr[FS_COUNT] = { mov_mr_FS_8, mov_mr_FS_4, mov_mr_FS_2, mov_mr_FS_1 };
const emu_fn fast_mov_mi[FS_COUNT] = { mov_mi_FS_8, mov_mi_FS_4, mov_mi_FS_2, mov_mi_FS_1 };

/* MOVZX/MOVSX/MOVSXD r, [mem] */
FAST_INLINE bool extend_rm(struct emu_cpu *c, const struct emu_insn *i, bool sx)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *s = &i->op[1];
	void *h = fast_host(c, c->tlb->r, mem_la(c, gpr, i, s), s->size);
	if (!h)
		return false;
	uint64_t v = fast_load(h, s->size);
	fast_gpr_write(gpr, i->op[0].reg, i->op[0].size, sx ? sign_extend(v, s->size) : v);
	return true;
}

void fast_movzx_rm(struct emu_cpu *c, const struct emu_insn *i)
{
	FAST_OR_GENERIC(extend_rm(c, i, false));
}

void fast_movsx_rm(struct emu_cpu *c, const struct emu_insn *i)
{
	FAST_OR_GENERIC(extend_rm(c, i, true));
}
