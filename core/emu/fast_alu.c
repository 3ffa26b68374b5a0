/*
 * Specialised handlers for register and immediate operand forms (exec.h,
 * fast.h): the integer ALU, MOV and its extending forms, LEA, shifts and
 * IMUL without flags, CMOVcc and SETcc. The semantics are those of
 * ops_alu.c / ops_data.c (Intel SDM Vol. 2, each instruction's "Operation"
 * and "Flags Affected"); these only drop the generic operand decoding. None
 * of them can fault, so none falls back.
 *
 * Handlers are instantiated from always-inline bodies with the operation,
 * the size class (enum fast_sz) and whether flags are recorded as
 * compile-time constants.
 */
#include "fast.h"




/* dst op= src for register dst; src a register or the immediate. */
FAST_INLINE void alu_r(struct emu_cpu *c, const struct emu_insn *i, enum fast_alu op, enum fast_sz szk, bool imm,
		  bool flags)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	unsigned sz = FAST_SZ(szk, d);
	uint64_t m = size_mask(sz);
	uint64_t dv = gpr[d->reg] & m;
	uint64_t sv = (imm ? (uint64_t)i->op[1].disp : gpr[i->op[1].reg]) & m;
	uint64_t r = fast_alu_res(op, dv, sv) & m;
	if (fast_alu_wb(op))
		fast_gpr_write(gpr, d->reg, sz, r);
	if (flags)
		fast_lf(c, fast_alu_lf(op), sz, dv, sv, r);
}

#define DEF_ALU_R(op, szk)                                                                     \
	static void alu_rr_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)           \
	{                                                                                      \
		alu_r(c, i, op, szk, false, true);                                             \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void alu_rr_nf_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)        \
	{                                                                                      \
		alu_r(c, i, op, szk, false, false);                                            \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void alu_ri_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)           \
	{                                                                                      \
		alu_r(c, i, op, szk, true, true);                                              \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void alu_ri_nf_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)        \
	{                                                                                      \
		alu_r(c, i, op, szk, true, false);                                             \
		EMU_NEXT(c, i);                                                                \
	}


#define DEF_ALU_R_ALL(op) FAST_FOR_SIZES(DEF_ALU_R, op)
FAST_FOR_ALU(DEF_ALU_R_ALL)

#define ROW2(pfx, op)                                                                          \
	[op] = { [FS_8] = { pfx##_##op##_FS_8, pfx##_nf_##op##_FS_8 },                         \
		 [FS_4] = { pfx##_##op##_FS_4, pfx##_nf_##op##_FS_4 },                         \
		 [FS_N] = { pfx##_##op##_FS_N, pfx##_nf_##op##_FS_N } },
#define ROW_RR(op) ROW2(alu_rr, op)
#define ROW_RI(op) ROW2(alu_ri, op)

const emu_fn fast_alu_rr[FA_COUNT][FS_COUNT][2] = { FAST_FOR_ALU(ROW_RR) };
const emu_fn fast_alu_ri[FA_COUNT][FS_COUNT][2] = { FAST_FOR_ALU(ROW_RI) };

/* ---- one-operand ALU ---- */

enum un_op { UN_INC, UN_DEC, UN_NEG, UN_NOT };

/*
 * INC/DEC leave CF alone ("The CF flag is not affected"): the record keeps
 * the CF of the flags before. NEG sets the flags of 0 - dst. NOT sets none.
 */
FAST_INLINE void unary_r(struct emu_cpu *c, const struct emu_insn *i, enum un_op op, enum fast_sz szk, bool flags)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	unsigned sz = FAST_SZ(szk, d);
	uint64_t m = size_mask(sz);
	uint64_t dv = gpr[d->reg] & m, r;
	switch (op) {
	case UN_INC:
		r = (dv + 1) & m;
		break;
	case UN_DEC:
		r = (dv - 1) & m;
		break;
	case UN_NEG:
		r = (0 - dv) & m;
		break;
	default:
		r = ~dv & m;
	}
	fast_gpr_write(gpr, d->reg, sz, r);
	if (flags && op == UN_NEG) {
		fast_lf(c, LF_SUB, sz, 0, dv, r);
	} else if (flags && op != UN_NOT) {
		uint8_t cf = emu_cf(c);
		fast_lf(c, op == UN_INC ? LF_INC : LF_DEC, sz, dv, 1, r);
		c->lf.cf = cf;
	}
}

#define DEF_UNARY(op, szk)                                                                     \
	static void un_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)               \
	{                                                                                      \
		unary_r(c, i, op, szk, true);                                                  \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void un_nf_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)            \
	{                                                                                      \
		unary_r(c, i, op, szk, false);                                                 \
		EMU_NEXT(c, i);                                                                \
	}
FAST_FOR_SIZES(DEF_UNARY, UN_INC)
FAST_FOR_SIZES(DEF_UNARY, UN_DEC)
FAST_FOR_SIZES(DEF_UNARY, UN_NEG)
FAST_FOR_SIZES(DEF_UNARY, UN_NOT)

#define ROW_UN(op)                                                                             \
	{ [FS_8] = { un_##op##_FS_8, un_nf_##op##_FS_8 },                                      \
	  [FS_4] = { un_##op##_FS_4, un_nf_##op##_FS_4 },                                      \
	  [FS_N] = { un_##op##_FS_N, un_nf_##op##_FS_N } }
const emu_fn fast_inc_r[FS_COUNT][2] = ROW_UN(UN_INC);
const emu_fn fast_dec_r[FS_COUNT][2] = ROW_UN(UN_DEC);
const emu_fn fast_neg_r[FS_COUNT][2] = ROW_UN(UN_NEG);
const emu_fn fast_not_r[FS_COUNT][2] = ROW_UN(UN_NOT);

/* ---- MOV ---- */

FAST_INLINE void mov_r(struct emu_cpu *c, const struct emu_insn *i, enum fast_sz szk, bool imm)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	uint64_t v = imm ? (uint64_t)i->op[1].disp : gpr[i->op[1].reg];
	fast_gpr_write(gpr, d->reg, FAST_SZ(szk, d), v);
}

#define DEF_MOV(unused, szk)                                                                   \
	static void mov_rr_##szk(struct emu_cpu *c, const struct emu_insn *i)                  \
	{                                                                                      \
		mov_r(c, i, szk, false);                                                       \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void mov_ri_##szk(struct emu_cpu *c, const struct emu_insn *i)                  \
	{                                                                                      \
		mov_r(c, i, szk, true);                                                        \
		EMU_NEXT(c, i);                                                                \
	}
FAST_FOR_SIZES(DEF_MOV, 0)
const emu_fn fast_mov_rr[FS_COUNT] = { mov_rr_FS_8, mov_rr_FS_4, mov_rr_FS_N };
const emu_fn fast_mov_ri[FS_COUNT] = { mov_ri_FS_8, mov_ri_FS_4, mov_ri_FS_N };

/* MOVZX/MOVSX/MOVSXD from a register (not AH..BH). */
void fast_movzx_rr(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t *gpr = c->s->gpr;
	uint64_t v = gpr[i->op[1].reg] & size_mask(i->op[1].size);
	fast_gpr_write(gpr, i->op[0].reg, i->op[0].size, v);
	EMU_NEXT(c, i);
}

void fast_movsx_rr(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t *gpr = c->s->gpr;
	uint64_t v = sign_extend(gpr[i->op[1].reg], i->op[1].size);
	fast_gpr_write(gpr, i->op[0].reg, i->op[0].size, v);
	EMU_NEXT(c, i);
}

/* LEA with a 64-bit address size: the address truncated to the operand size. */
#define DEF_LEA(unused, szk)                                                                   \
	static void lea_##szk(struct emu_cpu *c, const struct emu_insn *i)                     \
	{                                                                                      \
		uint64_t *gpr = c->s->gpr;                                                     \
		const struct emu_operand *d = &i->op[0];                                       \
		fast_gpr_write(gpr, d->reg, FAST_SZ(szk, d), fast_ea(c, gpr, i, &i->op[1]));     \
		EMU_NEXT(c, i);                                                                \
	}
FAST_FOR_SIZES(DEF_LEA, 0)
const emu_fn fast_lea[FS_COUNT] = { lea_FS_8, lea_FS_4, lea_FS_N };

void fast_nop(struct emu_cpu *c, const struct emu_insn *i)
{
	EMU_NEXT(c, i);
}

/* ---- shifts by an immediate, flags dead (8/4-byte operands) ---- */

/* The count is masked to 5 bits (6 with 64-bit operands), so it is below
 * the operand width; a count of 0 still writes a 32-bit register (which
 * zero-extends it). */
FAST_INLINE void shift_ri(struct emu_cpu *c, const struct emu_insn *i, enum fast_shift op, enum fast_sz szk)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	unsigned sz = FAST_SZ(szk, d);
	unsigned n = (unsigned)i->op[1].disp & (sz == 8 ? 0x3f : 0x1f);
	uint64_t m = size_mask(sz), dv = gpr[d->reg] & m, r;
	if (op == FSH_SHL)
		r = dv << n;
	else if (op == FSH_SHR)
		r = dv >> n;
	else
		r = (uint64_t)((int64_t)sign_extend(dv, sz) >> n);
	fast_gpr_write(gpr, d->reg, sz, r & m);
}

#define DEF_SHIFT(op, szk)                                                                     \
	static void shift_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)            \
	{                                                                                      \
		shift_ri(c, i, op, szk);                                                       \
		EMU_NEXT(c, i);                                                                \
	}
DEF_SHIFT(FSH_SHL, FS_8)
DEF_SHIFT(FSH_SHL, FS_4)
DEF_SHIFT(FSH_SHR, FS_8)
DEF_SHIFT(FSH_SHR, FS_4)
DEF_SHIFT(FSH_SAR, FS_8)
DEF_SHIFT(FSH_SAR, FS_4)
const emu_fn fast_shift_ri_nf[FSH_COUNT][FS_COUNT] = {
	[FSH_SHL] = { shift_FSH_SHL_FS_8, shift_FSH_SHL_FS_4, NULL },
	[FSH_SHR] = { shift_FSH_SHR_FS_8, shift_FSH_SHR_FS_4, NULL },
	[FSH_SAR] = { shift_FSH_SAR_FS_8, shift_FSH_SAR_FS_4, NULL },
};

/* ---- IMUL r, r and IMUL r, r, imm with flags dead: the low half ---- */

#define DEF_IMUL(unused, szk)                                                                  \
	static void imul_rr_##szk(struct emu_cpu *c, const struct emu_insn *i)                 \
	{                                                                                      \
		uint64_t *gpr = c->s->gpr;                                                     \
		const struct emu_operand *d = &i->op[0];                                       \
		fast_gpr_write(gpr, d->reg, FAST_SZ(szk, d), gpr[d->reg] * gpr[i->op[1].reg]);   \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void imul_rri_##szk(struct emu_cpu *c, const struct emu_insn *i)                \
	{                                                                                      \
		uint64_t *gpr = c->s->gpr;                                                     \
		const struct emu_operand *d = &i->op[0];                                       \
		fast_gpr_write(gpr, d->reg, FAST_SZ(szk, d),                                     \
			       gpr[i->op[1].reg] * (uint64_t)i->op[2].disp);                   \
		EMU_NEXT(c, i);                                                                \
	}
FAST_FOR_SIZES(DEF_IMUL, 0)
const emu_fn fast_imul_rr_nf[FS_COUNT] = { imul_rr_FS_8, imul_rr_FS_4, imul_rr_FS_N };
const emu_fn fast_imul_rri_nf[FS_COUNT] = { imul_rri_FS_8, imul_rri_FS_4, imul_rri_FS_N };

/* ---- CMOVcc r, r and SETcc r8 ---- */

/* A false condition still zero-extends a 32-bit destination (SDM CMOVcc
 * "Operation"). */
#define DEF_CC(cc)                                                                             \
	static void cmov_##cc(struct emu_cpu *c, const struct emu_insn *i)                     \
	{                                                                                      \
		uint64_t *gpr = c->s->gpr;                                                     \
		const struct emu_operand *d = &i->op[0];                                       \
		if (fast_cc(c, cc))                                                            \
			fast_gpr_write(gpr, d->reg, d->size, gpr[i->op[1].reg]);               \
		else if (d->size == 4)                                                         \
			gpr[d->reg] = (uint32_t)gpr[d->reg];                                   \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void setcc_##cc(struct emu_cpu *c, const struct emu_insn *i)                    \
	{                                                                                      \
		fast_gpr_write(c->s->gpr, i->op[0].reg, 1, fast_cc(c, cc));                    \
		EMU_NEXT(c, i);                                                                \
	}
FAST_FOR_CC(DEF_CC)
#define CMOV_ENTRY(cc) cmov_##cc,
#define SETCC_ENTRY(cc) setcc_##cc,
const emu_fn fast_cmov_rr[16] = { FAST_FOR_CC(CMOV_ENTRY) };
const emu_fn fast_setcc_r[16] = { FAST_FOR_CC(SETCC_ENTRY) };
