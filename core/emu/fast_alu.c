/*
 * Specialised handlers for register and immediate operand forms (exec.h,
 * fast.h): the integer ALU, MOV and its extending forms, LEA, INC/DEC/NEG/
 * NOT, shifts by an immediate, IMUL, CMOVcc and SETcc. The semantics are
 * those of ops_alu.c / ops_data.c (Intel SDM Vol. 2, each instruction's
 * "Operation" and "Flags Affected"); these drop the generic operand
 * decoding. None of them can fault; the few that need a flag the lazy record
 * does not give cheaply (fast_cc, fast_cf) run the generic handler instead.
 *
 * Handlers are instantiated from always-inline bodies with the operation,
 * the size class (enum fast_sz) and whether flags are recorded as
 * compile-time constants.
 */
#include "fast.h"

FAST_INLINE void alu_r(struct emu_cpu *c, const struct emu_insn *i, enum fast_alu op, enum fast_sz szk, bool imm,
		       bool flags)
{
	struct lazy_flags lf;
	fast_alu_r(c, i, op, szk, imm, &lf);
	if (flags)
		fast_lf(c, lf.op, lf.size, lf.dst, lf.src, lf.res);
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

/* { [size] = { full, no flags } } rows */
#define PAIR(pfx, a, szk) [szk] = { pfx##_##a##_##szk, pfx##_nf_##a##_##szk },
#define ROW2(pfx, a) { FAST_FOR_SIZES_ARG(PAIR, pfx, a) }
#define FAST_FOR_SIZES_ARG(M, p, a) M(p, a, FS_8) M(p, a, FS_4) M(p, a, FS_2) M(p, a, FS_1)
#define ROW_RR(op) [op] = ROW2(alu_rr, op),
#define ROW_RI(op) [op] = ROW2(alu_ri, op),
const emu_fn fast_alu_rr[FA_COUNT][FS_COUNT][2] = { FAST_FOR_ALU(ROW_RR) };
const emu_fn fast_alu_ri[FA_COUNT][FS_COUNT][2] = { FAST_FOR_ALU(ROW_RI) };

/* ---- one-operand ALU ---- */

enum un_op { UN_INC, UN_DEC, UN_NEG, UN_NOT };

/*
 * INC/DEC leave CF alone ("The CF flag is not affected"): the record keeps
 * the CF of the flags before, which must be known without a call (else the
 * generic handler runs). NEG sets the flags of 0 - dst. NOT sets none.
 */
FAST_INLINE bool unary_r(struct emu_cpu *c, const struct emu_insn *i, enum un_op op, enum fast_sz szk, bool flags,
			 enum fast_cfsrc cfs)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	unsigned sz = FAST_SZ(szk);
	uint64_t m = size_mask(sz);
	uint64_t dv = gpr[d->reg] & m, r;
	int cf = 0;
	if (flags && (op == UN_INC || op == UN_DEC)) {
		cf = fast_cf_src(c, cfs);
		if (unlikely(cf < 0))
			return false;
	}
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
		fast_lf(c, op == UN_INC ? LF_INC : LF_DEC, sz, dv, 1, r);
		c->lf.cf = (uint8_t)cf;
	}
	return true;
}

/* A handler that records the flags (INC/DEC: with CF from cfs). */
#define DEF_UNARY_FULL(name, op, szk, cfs)                                                     \
	static void name(struct emu_cpu *c, const struct emu_insn *i)                          \
	{                                                                                      \
		if (unlikely(!unary_r(c, i, op, szk, true, cfs))) {                            \
			emu_exec_generic(c, i);                                                \
			return;                                                                \
		}                                                                              \
		EMU_NEXT(c, i);                                                                \
	}
#define DEF_UNARY(op, szk)                                                                     \
	DEF_UNARY_FULL(un_##op##_##szk, op, szk, CFS_ANY)                                      \
	static void un_nf_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)            \
	{                                                                                      \
		unary_r(c, i, op, szk, false, CFS_ANY);                                        \
		EMU_NEXT(c, i);                                                                \
	}
FAST_FOR_SIZES(DEF_UNARY, UN_INC)
FAST_FOR_SIZES(DEF_UNARY, UN_DEC)
FAST_FOR_SIZES(DEF_UNARY, UN_NEG)
FAST_FOR_SIZES(DEF_UNARY, UN_NOT)

const emu_fn fast_inc_r[FS_COUNT][2] = ROW2(un, UN_INC);
const emu_fn fast_dec_r[FS_COUNT][2] = ROW2(un, UN_DEC);
const emu_fn fast_neg_r[FS_COUNT][2] = ROW2(un, UN_NEG);
const emu_fn fast_not_r[FS_COUNT][2] = ROW2(un, UN_NOT);

/* INC/DEC with a CF source known at specialisation (fast.h); CFS_ANY is
 * the plain handler. */
#define DEF_INCDEC_CF(op, szk, cfs) DEF_UNARY_FULL(un_cf_##op##_##szk##_##cfs, op, szk, cfs)
#define DEF_INCDEC_CF_SRC(op, szk) \
	DEF_INCDEC_CF(op, szk, CFS_LOGIC) DEF_INCDEC_CF(op, szk, CFS_SUB) \
	DEF_INCDEC_CF(op, szk, CFS_ADD) DEF_INCDEC_CF(op, szk, CFS_INCDEC)
FAST_FOR_SIZES(DEF_INCDEC_CF_SRC, UN_INC)
FAST_FOR_SIZES(DEF_INCDEC_CF_SRC, UN_DEC)
#define INCDEC_CF_ROW(op, szk) \
	[szk] = { un_##op##_##szk, un_cf_##op##_##szk##_CFS_LOGIC, un_cf_##op##_##szk##_CFS_SUB, \
		  un_cf_##op##_##szk##_CFS_ADD, un_cf_##op##_##szk##_CFS_INCDEC },
const emu_fn fast_incdec_cf[2][FS_COUNT][CFS_COUNT] = {
	{ FAST_FOR_SIZES(INCDEC_CF_ROW, UN_INC) },
	{ FAST_FOR_SIZES(INCDEC_CF_ROW, UN_DEC) },
};

/* ---- MOV ---- */

FAST_INLINE void mov_r(struct emu_cpu *c, const struct emu_insn *i, enum fast_sz szk, bool imm)
{
	uint64_t *gpr = c->s->gpr;
	uint64_t v = imm ? (uint64_t)i->op[1].disp : gpr[i->op[1].reg];
	fast_gpr_write(gpr, i->op[0].reg, FAST_SZ(szk), v);
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
const emu_fn fast_mov_rr[FS_COUNT] = { mov_rr_FS_8, mov_rr_FS_4, mov_rr_FS_2, mov_rr_FS_1 };
const emu_fn fast_mov_ri[FS_COUNT] = { mov_ri_FS_8, mov_ri_FS_4, mov_ri_FS_2, mov_ri_FS_1 };

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
#define DEF_LEA(szk, ea)                                                                       \
	static void lea_##szk##_##ea(struct emu_cpu *c, const struct emu_insn *i)              \
	{                                                                                      \
		uint64_t *gpr = c->s->gpr;                                                     \
		fast_gpr_write(gpr, i->op[0].reg, FAST_SZ(szk), fast_la(c, gpr, i, &i->op[1], ea, false)); \
		EMU_NEXT(c, i);                                                                \
	}
#define DEF_LEA_EA(szk) DEF_LEA(szk, EA_B) DEF_LEA(szk, EA_BI) DEF_LEA(szk, EA_I) DEF_LEA(szk, EA_X)
DEF_LEA_EA(FS_8)
DEF_LEA_EA(FS_4)
DEF_LEA_EA(FS_2)
#define LEA_ROW(szk) { lea_##szk##_EA_B, lea_##szk##_EA_BI, lea_##szk##_EA_I, lea_##szk##_EA_X }
const emu_fn fast_lea[FS_COUNT][EA_COUNT] = { LEA_ROW(FS_8), LEA_ROW(FS_4), LEA_ROW(FS_2) }; /* no 8-bit LEA */

void fast_nop(struct emu_cpu *c, const struct emu_insn *i)
{
	EMU_NEXT(c, i);
}

/* ---- shifts by an immediate ---- */

/*
 * SHL/SHR/SAR r, imm for a masked count n with 0 < n < the operand width
 * (spec.c checks): the flags as op_shift sets them (SDM Vol. 2B SAL/SAR/SHL/
 * SHR): CF the last bit shifted out, OF = CF ^ MSB(result) for SHL, MSB of
 * the original for SHR, 0 for SAR; SF, ZF, PF from the result; AF cleared.
 */
FAST_INLINE void shift_ri(struct emu_cpu *c, const struct emu_insn *i, enum fast_shift op, enum fast_sz szk,
			  bool flags)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	unsigned sz = FAST_SZ(szk), bits = 8 * sz;
	unsigned n = (unsigned)i->op[1].disp & (sz == 8 ? 0x3f : 0x1f);
	uint64_t m = size_mask(sz), dv = gpr[d->reg] & m, r;
	bool cf, of;
	if (op == FSH_SHL) {
		r = (dv << n) & m;
		cf = (dv >> (bits - n)) & 1;
		of = cf ^ (r >> (bits - 1));
	} else if (op == FSH_SHR) {
		r = dv >> n;
		cf = (dv >> (n - 1)) & 1;
		of = dv >> (bits - 1);
	} else {
		int64_t sd = (int64_t)sign_extend(dv, sz);
		r = (uint64_t)(sd >> n) & m;
		cf = (sd >> (n - 1)) & 1;
		of = false;
	}
	fast_gpr_write(gpr, d->reg, sz, r);
	if (flags)
		fast_set_arith(c, emu_szp(r, sz) | (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0));
}

#define DEF_SHIFT(op, szk)                                                                     \
	static void shift_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)            \
	{                                                                                      \
		shift_ri(c, i, op, szk, true);                                                 \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void shift_nf_##op##_##szk(struct emu_cpu *c, const struct emu_insn *i)         \
	{                                                                                      \
		shift_ri(c, i, op, szk, false);                                                \
		EMU_NEXT(c, i);                                                                \
	}
FAST_FOR_SIZES(DEF_SHIFT, FSH_SHL)
FAST_FOR_SIZES(DEF_SHIFT, FSH_SHR)
FAST_FOR_SIZES(DEF_SHIFT, FSH_SAR)
const emu_fn fast_shift_ri[FSH_COUNT][FS_COUNT][2] = {
	[FSH_SHL] = ROW2(shift, FSH_SHL),
	[FSH_SHR] = ROW2(shift, FSH_SHR),
	[FSH_SAR] = ROW2(shift, FSH_SAR),
};

/* ---- IMUL r, r and IMUL r, r, imm ---- */

/* The low half is the result; CF = OF = the signed product did not fit,
 * SF, ZF, PF from the result, AF cleared (as op_imul). */
FAST_INLINE void imul_r(struct emu_cpu *c, const struct emu_insn *i, enum fast_sz szk, bool imm, bool flags)
{
	uint64_t *gpr = c->s->gpr;
	unsigned sz = FAST_SZ(szk);
	int64_t a = (int64_t)sign_extend(gpr[imm ? i->op[1].reg : i->op[0].reg], sz);
	int64_t b = (int64_t)sign_extend(imm ? (uint64_t)i->op[2].disp : gpr[i->op[1].reg], sz);
	uint64_t r;
	bool fits;
	if (sz == 8) {
		int64_t p;
		fits = !__builtin_mul_overflow(a, b, &p);
		r = (uint64_t)p;
	} else {
		int64_t p = a * b; /* both within 32 bits: no 64-bit overflow */
		r = (uint64_t)p & size_mask(sz);
		fits = p == (int64_t)sign_extend(r, sz);
	}
	fast_gpr_write(gpr, i->op[0].reg, sz, r);
	if (flags)
		fast_set_arith(c, emu_szp(r, sz) | (fits ? 0 : RFLAGS_CF | RFLAGS_OF));
}

#define DEF_IMUL(unused, szk)                                                                  \
	static void imul_rr_##szk(struct emu_cpu *c, const struct emu_insn *i)                 \
	{                                                                                      \
		imul_r(c, i, szk, false, true);                                                \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void imul_rr_nf_##szk(struct emu_cpu *c, const struct emu_insn *i)              \
	{                                                                                      \
		imul_r(c, i, szk, false, false);                                               \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void imul_rri_##szk(struct emu_cpu *c, const struct emu_insn *i)                \
	{                                                                                      \
		imul_r(c, i, szk, true, true);                                                 \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void imul_rri_nf_##szk(struct emu_cpu *c, const struct emu_insn *i)             \
	{                                                                                      \
		imul_r(c, i, szk, true, false);                                                \
		EMU_NEXT(c, i);                                                                \
	}
DEF_IMUL(0, FS_8)
DEF_IMUL(0, FS_4)
DEF_IMUL(0, FS_2)
const emu_fn fast_imul_rr[FS_COUNT][2] = {
	{ imul_rr_FS_8, imul_rr_nf_FS_8 }, { imul_rr_FS_4, imul_rr_nf_FS_4 }, { imul_rr_FS_2, imul_rr_nf_FS_2 }
};
const emu_fn fast_imul_rri[FS_COUNT][2] = {
	{ imul_rri_FS_8, imul_rri_nf_FS_8 }, { imul_rri_FS_4, imul_rri_nf_FS_4 }, { imul_rri_FS_2, imul_rri_nf_FS_2 }
};

/* ---- CMOVcc r, r and SETcc r8 ---- */

/* A false condition still zero-extends a 32-bit destination (SDM CMOVcc
 * "Operation"). */
#define DEF_CC(cc)                                                                             \
	static void cmov_##cc(struct emu_cpu *c, const struct emu_insn *i)                     \
	{                                                                                      \
		uint64_t *gpr = c->s->gpr;                                                     \
		const struct emu_operand *d = &i->op[0];                                       \
		int t = fast_cc(c, cc);                                                        \
		if (unlikely(t < 0)) {                                                         \
			emu_exec_generic(c, i);                                                \
			return;                                                                \
		}                                                                              \
		if (t)                                                                         \
			fast_gpr_write(gpr, d->reg, d->size, gpr[i->op[1].reg]);               \
		else if (d->size == 4)                                                         \
			gpr[d->reg] = (uint32_t)gpr[d->reg];                                   \
		EMU_NEXT(c, i);                                                                \
	}                                                                                      \
	static void setcc_##cc(struct emu_cpu *c, const struct emu_insn *i)                    \
	{                                                                                      \
		int t = fast_cc(c, cc);                                                        \
		if (unlikely(t < 0)) {                                                         \
			emu_exec_generic(c, i);                                                \
			return;                                                                \
		}                                                                              \
		fast_gpr_write(c->s->gpr, i->op[0].reg, 1, (uint64_t)t);                       \
		EMU_NEXT(c, i);                                                                \
	}
FAST_FOR_CC(DEF_CC)
#define CMOV_ENTRY(cc) cmov_##cc,
#define SETCC_ENTRY(cc) setcc_##cc,
const emu_fn fast_cmov_rr[16] = { FAST_FOR_CC(CMOV_ENTRY) };
const emu_fn fast_setcc_r[16] = { FAST_FOR_CC(SETCC_ENTRY) };
