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

#define FOR_EA(M, a, b) M(a, b, EA_B) M(a, b, EA_BI) M(a, b, EA_I) M(a, b, EA_X)
#define EA_ROW(pfx, a, b) { pfx##_##a##_##b##_EA_B, pfx##_##a##_##b##_EA_BI, pfx##_##a##_##b##_EA_I, pfx##_##a##_##b##_EA_X }

#define FAST_OR_GENERIC(call)                                                                  \
	do {                                                                                   \
		if (unlikely(!(call))) {                                                       \
			emu_exec_generic(c, i);                                                \
			return;                                                                \
		}                                                                              \
		EMU_NEXT(c, i);                                                                \
	} while (0)

/* ---- ALU ---- */

/* reg op= [mem] */
FAST_INLINE bool alu_rm(struct emu_cpu *c, const struct emu_insn *i, enum fast_alu op, enum fast_sz szk,
			enum fast_ea ea)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	unsigned sz = FAST_SZ(szk);
	uint64_t m = size_mask(sz);
	void *h;
	if (!fast_host(c, false, fast_la(c, gpr, i, &i->op[1], ea, true), sz, &h))
		return false;
	uint64_t dv = gpr[d->reg] & m, sv = fast_load(h, sz);
	uint64_t r = fast_alu_res(op, dv, sv) & m;
	if (fast_alu_wb(op))
		fast_gpr_write(gpr, d->reg, sz, r);
	fast_lf(c, fast_alu_lf(op), sz, dv, sv, r);
	return true;
}

/* [mem] op= reg or imm; CMP and TEST only read. */
FAST_INLINE bool alu_m(struct emu_cpu *c, const struct emu_insn *i, enum fast_alu op, enum fast_sz szk,
		       enum fast_ea ea, bool imm)
{
	uint64_t *gpr = c->s->gpr;
	unsigned sz = FAST_SZ(szk);
	uint64_t m = size_mask(sz);
	bool wb = fast_alu_wb(op);
	void *h;
	if (!fast_host(c, wb, fast_la(c, gpr, i, &i->op[0], ea, true), sz, &h))
		return false;
	uint64_t sv = (imm ? (uint64_t)i->op[1].disp : gpr[i->op[1].reg]) & m;
	uint64_t dv = fast_load(h, sz);
	uint64_t r = fast_alu_res(op, dv, sv) & m;
	if (wb)
		fast_store(h, sz, r);
	fast_lf(c, fast_alu_lf(op), sz, dv, sv, r);
	return true;
}

#define DEF_ALU_M(op, szk, ea)                                                                 \
	static void alu_rm_##op##_##szk##_##ea(struct emu_cpu *c, const struct emu_insn *i)    \
	{                                                                                      \
		FAST_OR_GENERIC(alu_rm(c, i, op, szk, ea));                                    \
	}                                                                                      \
	static void alu_mr_##op##_##szk##_##ea(struct emu_cpu *c, const struct emu_insn *i)    \
	{                                                                                      \
		FAST_OR_GENERIC(alu_m(c, i, op, szk, ea, false));                              \
	}                                                                                      \
	static void alu_mi_##op##_##szk##_##ea(struct emu_cpu *c, const struct emu_insn *i)    \
	{                                                                                      \
		FAST_OR_GENERIC(alu_m(c, i, op, szk, ea, true));                               \
	}
#define DEF_ALU_M_EA(op, szk) FOR_EA(DEF_ALU_M, op, szk)
#define DEF_ALU_M_ALL(op) FAST_FOR_SIZES(DEF_ALU_M_EA, op)
FAST_FOR_ALU(DEF_ALU_M_ALL)

#define ALU_ROW(pfx, op)                                                                       \
	[op] = { EA_ROW(pfx, op, FS_8), EA_ROW(pfx, op, FS_4), EA_ROW(pfx, op, FS_2), EA_ROW(pfx, op, FS_1) },
#define ROW_RM(op) ALU_ROW(alu_rm, op)
#define ROW_MR(op) ALU_ROW(alu_mr, op)
#define ROW_MI(op) ALU_ROW(alu_mi, op)
const emu_fn fast_alu_rm[FA_COUNT][FS_COUNT][EA_COUNT] = { FAST_FOR_ALU(ROW_RM) };
const emu_fn fast_alu_mr[FA_COUNT][FS_COUNT][EA_COUNT] = { FAST_FOR_ALU(ROW_MR) };
const emu_fn fast_alu_mi[FA_COUNT][FS_COUNT][EA_COUNT] = { FAST_FOR_ALU(ROW_MI) };

/* ---- MOV ---- */

FAST_INLINE bool mov_rm(struct emu_cpu *c, const struct emu_insn *i, enum fast_sz szk, enum fast_ea ea)
{
	uint64_t *gpr = c->s->gpr;
	unsigned sz = FAST_SZ(szk);
	void *h;
	if (!fast_host(c, false, fast_la(c, gpr, i, &i->op[1], ea, true), sz, &h))
		return false;
	fast_gpr_write(gpr, i->op[0].reg, sz, fast_load(h, sz));
	return true;
}

FAST_INLINE bool mov_m(struct emu_cpu *c, const struct emu_insn *i, enum fast_sz szk, enum fast_ea ea, bool imm)
{
	uint64_t *gpr = c->s->gpr;
	unsigned sz = FAST_SZ(szk);
	void *h;
	if (!fast_host(c, true, fast_la(c, gpr, i, &i->op[0], ea, true), sz, &h))
		return false;
	fast_store(h, sz, imm ? (uint64_t)i->op[1].disp : gpr[i->op[1].reg]);
	return true;
}

#define DEF_MOV_M(unused, szk, ea)                                                             \
	static void mov_rm_##szk##_##ea(struct emu_cpu *c, const struct emu_insn *i)           \
	{                                                                                      \
		FAST_OR_GENERIC(mov_rm(c, i, szk, ea));                                        \
	}                                                                                      \
	static void mov_mr_##szk##_##ea(struct emu_cpu *c, const struct emu_insn *i)           \
	{                                                                                      \
		FAST_OR_GENERIC(mov_m(c, i, szk, ea, false));                                  \
	}                                                                                      \
	static void mov_mi_##szk##_##ea(struct emu_cpu *c, const struct emu_insn *i)           \
	{                                                                                      \
		FAST_OR_GENERIC(mov_m(c, i, szk, ea, true));                                   \
	}
#define DEF_MOV_M_EA(unused, szk) FOR_EA(DEF_MOV_M, unused, szk)
FAST_FOR_SIZES(DEF_MOV_M_EA, 0)
#define EA_ROW1(pfx, szk) { pfx##_##szk##_EA_B, pfx##_##szk##_EA_BI, pfx##_##szk##_EA_I, pfx##_##szk##_EA_X }
#define MOV_ROW(pfx) { EA_ROW1(pfx, FS_8), EA_ROW1(pfx, FS_4), EA_ROW1(pfx, FS_2), EA_ROW1(pfx, FS_1) }
const emu_fn fast_mov_rm[FS_COUNT][EA_COUNT] = MOV_ROW(mov_rm);
const emu_fn fast_mov_mr[FS_COUNT][EA_COUNT] = MOV_ROW(mov_mr);
const emu_fn fast_mov_mi[FS_COUNT][EA_COUNT] = MOV_ROW(mov_mi);

/* ---- MOVZX/MOVSX/MOVSXD r, [mem] ---- */

FAST_INLINE bool extend_rm(struct emu_cpu *c, const struct emu_insn *i, bool sx, unsigned ssz, enum fast_sz dszk,
			   enum fast_ea ea)
{
	uint64_t *gpr = c->s->gpr;
	void *h;
	if (!fast_host(c, false, fast_la(c, gpr, i, &i->op[1], ea, true), ssz, &h))
		return false;
	uint64_t v = fast_load(h, ssz);
	fast_gpr_write(gpr, i->op[0].reg, FAST_SZ(dszk), sx ? sign_extend(v, ssz) : v);
	return true;
}

#define DEF_EXT(sx, ssz, ea)                                                                   \
	static void ext_##sx##_##ssz##_FS_8_##ea(struct emu_cpu *c, const struct emu_insn *i)  \
	{                                                                                      \
		FAST_OR_GENERIC(extend_rm(c, i, sx, ssz, FS_8, ea));                           \
	}                                                                                      \
	static void ext_##sx##_##ssz##_FS_4_##ea(struct emu_cpu *c, const struct emu_insn *i)  \
	{                                                                                      \
		FAST_OR_GENERIC(extend_rm(c, i, sx, ssz, FS_4, ea));                           \
	}
#define DEF_EXT_SZ(sx) FOR_EA(DEF_EXT, sx, 1) FOR_EA(DEF_EXT, sx, 2) FOR_EA(DEF_EXT, sx, 4)
DEF_EXT_SZ(0)
DEF_EXT_SZ(1)
#define EXT_SRC(sx, ssz) { EA_ROW(ext, sx, ssz##_FS_8), EA_ROW(ext, sx, ssz##_FS_4) }
const emu_fn fast_extend_rm[2][3][2][EA_COUNT] = {
	{ EXT_SRC(0, 1), EXT_SRC(0, 2), EXT_SRC(0, 4) },
	{ EXT_SRC(1, 1), EXT_SRC(1, 2), EXT_SRC(1, 4) },
};
