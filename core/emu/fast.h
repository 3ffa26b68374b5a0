/*
 * Building blocks of the specialised handlers (fast_*.c) and the handler
 * tables spec.c chooses from (private to core/emu/). See exec.h for the
 * contract: a specialised handler never faults; what its fast path does not
 * cover goes to emu_exec_generic().
 */
#ifndef CORE_EMU_FAST_H
#define CORE_EMU_FAST_H

#include "exec.h"

/* Operand sizes a handler is specialised for (byte registers: not AH..BH). */
enum fast_sz { FS_8, FS_4, FS_2, FS_1, FS_COUNT };

/* Two-operand ALU operations with a specialised form. */
enum fast_alu { FA_ADD, FA_OR, FA_AND, FA_SUB, FA_XOR, FA_CMP, FA_TEST, FA_COUNT };

enum fast_shift { FSH_SHL, FSH_SHR, FSH_SAR, FSH_COUNT };

/* Memory operand forms (64-bit addresses): base + disp, base + index *
 * scale + disp, index * scale + disp -- all with a segment whose base is 0
 * in 64-bit mode (ES, CS, SS, DS) -- and the rest (RIP-relative, absolute,
 * FS/GS), computed by the general case. */
enum fast_ea { EA_B, EA_BI, EA_I, EA_X, EA_COUNT };

/* ---- shared by the handler files ---- */

#define FAST_INLINE static inline __attribute__((always_inline))

/* The operand size of a size class. */
#define FAST_SZ(szk) ((szk) == FS_8 ? 8u : (szk) == FS_4 ? 4u : (szk) == FS_2 ? 2u : 1u)

/* Instantiation helpers: M(a, size class), M(ALU op), M(condition code). */
#define FAST_FOR_SIZES(M, a) M(a, FS_8) M(a, FS_4) M(a, FS_2) M(a, FS_1)
#define FAST_FOR_ALU(M) M(FA_ADD) M(FA_OR) M(FA_AND) M(FA_SUB) M(FA_XOR) M(FA_CMP) M(FA_TEST)
#define FAST_FOR_CC(M) \
	M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)

FAST_INLINE uint64_t fast_alu_res(enum fast_alu op, uint64_t d, uint64_t s)
{
	switch (op) {
	case FA_ADD:
		return d + s;
	case FA_OR:
		return d | s;
	case FA_AND:
	case FA_TEST:
		return d & s;
	case FA_SUB:
	case FA_CMP:
		return d - s;
	default:
		return d ^ s;
	}
}

/* The lazy-flags record of an ALU operation (AND/OR/XOR/TEST: CF = OF = 0,
 * SF/ZF/PF from the result, AF cleared as ops_alu.c does). */
FAST_INLINE enum lf_op fast_alu_lf(enum fast_alu op)
{
	return op == FA_ADD ? LF_ADD : (op == FA_SUB || op == FA_CMP) ? LF_SUB : LF_LOGIC;
}

/* CMP and TEST only set flags. */
FAST_INLINE bool fast_alu_wb(enum fast_alu op)
{
	return op != FA_CMP && op != FA_TEST;
}

/* ---- operands ---- */

/* Register write with the x86-64 rules (32-bit writes zero-extend, 8/16-bit
 * writes merge), for a size known at compile time where possible. */
static inline void fast_gpr_write(uint64_t *gpr, unsigned reg, unsigned sz, uint64_t v)
{
	if (sz == 8)
		gpr[reg] = v;
	else if (sz == 4)
		gpr[reg] = (uint32_t)v;
	else if (sz == 2)
		gpr[reg] = (gpr[reg] & ~0xffffull) | (v & 0xffff);
	else
		gpr[reg] = (gpr[reg] & ~0xffull) | (v & 0xff);
}

/*
 * Linear address of a memory operand with a 64-bit address size (spec.c
 * picks memory forms only then) in 64-bit mode, of the form `ea` (enum
 * fast_ea). RIP-relative operands count from the end of the instruction
 * (SDM Vol. 2A 2.2.1.6); segment bases other than FS's and GS's are 0
 * (Vol. 3A 3.4.4). LEA (seg = false) wants the effective address alone.
 */
static inline __attribute__((always_inline)) uint64_t fast_la(const struct emu_cpu *c, const uint64_t *gpr,
							      const struct emu_insn *i,
							      const struct emu_operand *o, enum fast_ea ea,
							      bool seg)
{
	uint64_t a = (uint64_t)o->disp;
	switch (ea) {
	case EA_B:
		return a + gpr[o->base];
	case EA_BI:
		return a + gpr[o->base] + (gpr[o->index] << __builtin_ctz(o->scale));
	case EA_I:
		return a + (gpr[o->index] << __builtin_ctz(o->scale));
	default:
		if (o->base < 16)
			a += gpr[o->base];
		else if (o->base == EMU_REG_RIP)
			a += c->block_rip + i->off + i->len;
		if (o->index < 16)
			a += gpr[o->index] << __builtin_ctz(o->scale);
		return seg ? a + c->seg_base[o->seg] : a;
	}
}

/*
 * The host address of a data access of `size` bytes at la, if the current
 * TLB's read (or write) array has it. The tag compared is that of the
 * access's last byte: an access that crosses into the next page, and a
 * non-canonical address (never cached), miss. Alignment checking (CR0.AM,
 * CPL 3 and RFLAGS.AC: SDM 3A 6.15 "Interrupt 17") concerns misaligned
 * accesses only, which take the slow path when it is armed.
 */
static inline bool fast_host(const struct emu_cpu *c, bool write, uint64_t la, unsigned size, void **h)
{
	const struct emu_tlb *t = c->tlb;
	const struct tlb_entry *e = &(write ? t->w : t->r)[(la >> 12) & (TLB_SIZE - 1)];
	if (unlikely(e->tag != (((la + size - 1) & ~0xfffull) | t->gen)))
		return false;
	if (size > 1 && unlikely(la & (size - 1)) && (c->s->rflags & c->ac_mask))
		return false;
	*h = (void *)(uintptr_t)(la + e->addend);
	return true;
}

static inline uint64_t fast_load(const void *h, unsigned size)
{
	switch (size) {
	case 1:
		return *(const uint8_t *)h;
	case 2: {
		uint16_t v;
		memcpy(&v, h, 2);
		return v;
	}
	case 4: {
		uint32_t v;
		memcpy(&v, h, 4);
		return v;
	}
	default: {
		uint64_t v;
		memcpy(&v, h, 8);
		return v;
	}
	}
}

static inline void fast_store(void *h, unsigned size, uint64_t v)
{
	switch (size) {
	case 1:
		*(uint8_t *)h = (uint8_t)v;
		break;
	case 2: {
		uint16_t x = (uint16_t)v;
		memcpy(h, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v;
		memcpy(h, &x, 4);
		break;
	}
	default:
		memcpy(h, &v, 8);
	}
}

/* dst op= src for a register dst, src a register or the immediate; fills
 * the operation's lazy-flags record (for the caller to store or not). */
FAST_INLINE void fast_alu_r(struct emu_cpu *c, const struct emu_insn *i, enum fast_alu op, enum fast_sz szk,
			    bool imm, struct lazy_flags *lf)
{
	uint64_t *gpr = c->s->gpr;
	const struct emu_operand *d = &i->op[0];
	unsigned sz = FAST_SZ(szk);
	uint64_t m = size_mask(sz);
	uint64_t dv = gpr[d->reg] & m;
	uint64_t sv = (imm ? (uint64_t)i->op[1].disp : gpr[i->op[1].reg]) & m;
	uint64_t r = fast_alu_res(op, dv, sv) & m;
	if (fast_alu_wb(op))
		fast_gpr_write(gpr, d->reg, sz, r);
	lf->op = (uint8_t)fast_alu_lf(op);
	lf->size = (uint8_t)sz;
	lf->dst = dv;
	lf->src = sv;
	lf->res = r;
}

/* ---- lazy flags ---- */

/* Record a flag-setting operation on values already masked to sz (the
 * carry-in byte matters only to ADC/SBB/INC/DEC, which set it). */
static inline void fast_lf(struct emu_cpu *c, enum lf_op op, unsigned sz, uint64_t d, uint64_t s, uint64_t r)
{
	c->lf.op = (uint8_t)op;
	c->lf.size = (uint8_t)sz;
	c->lf.dst = d;
	c->lf.src = s;
	c->lf.res = r;
}

/*
 * A condition code (SDM Vol. 1 Appendix B, Table B-1; cc is the low nibble
 * of the Jcc opcode, a constant in every caller) from the lazy record
 * without materialising RFLAGS for the common producers: ZF and SF of any
 * recorded result, every condition but P after SUB/CMP (compared with the
 * operands shifted to the top of 64 bits, so that the unsigned and signed
 * compares of the operation's size are plain 64-bit ones) and after logic
 * instructions (CF = OF = 0), any condition once RFLAGS holds the flags.
 * Returns -1 for the rest, which the caller leaves to the generic handler
 * (emu_cc()), so that the fast handler itself calls nothing. fast_cc_of()
 * evaluates a record the caller holds (a fused ALU + Jcc pair, in registers).
 */
static inline int fast_cc_of(const struct emu_cpu *c, const struct lazy_flags *lf, unsigned cc)
{
	unsigned op = lf->op;
	bool v;
	if (op == LF_NONE) {
		uint64_t f = c->s->rflags;
		bool cf = f & RFLAGS_CF, zf = f & RFLAGS_ZF, sf = f & RFLAGS_SF, of = f & RFLAGS_OF;
		switch (cc >> 1) {
		case 0: v = of; break;
		case 1: v = cf; break;
		case 2: v = zf; break;
		case 3: v = cf || zf; break;
		case 4: v = sf; break;
		case 5: v = f & RFLAGS_PF; break;
		case 6: v = sf != of; break;
		default: v = zf || sf != of; break;
		}
		return v ^ (cc & 1);
	}
	unsigned sh = 64 - 8 * lf->size;
	uint64_t r = lf->res << sh;
	if ((cc >> 1) == 2)
		return (r == 0) ^ (cc & 1); /* E */
	if ((cc >> 1) == 4)
		return ((int64_t)r < 0) ^ (cc & 1); /* S */
	if (op == LF_SUB) {
		uint64_t d = lf->dst << sh, s = lf->src << sh;
		switch (cc >> 1) {
		case 1: v = d < s; break; /* B */
		case 3: v = d <= s; break; /* BE */
		case 6: v = (int64_t)d < (int64_t)s; break; /* L */
		case 7: v = (int64_t)d <= (int64_t)s; break; /* LE */
		default: return -1;
		}
		return v ^ (cc & 1);
	}
	if (op == LF_LOGIC) {
		switch (cc >> 1) {
		case 0:
		case 1: v = false; break; /* O, B */
		case 3: v = r == 0; break; /* BE */
		case 6: v = (int64_t)r < 0; break; /* L: SF != OF */
		case 7: v = r == 0 || (int64_t)r < 0; break; /* LE */
		default: return -1;
		}
		return v ^ (cc & 1);
	}
	return -1;
}

static inline int fast_cc(const struct emu_cpu *c, unsigned cc)
{
	return fast_cc_of(c, &c->lf, cc);
}

/*
 * Where the CF an INC/DEC keeps ("The CF flag is not affected", SDM Vol. 2A
 * INC, DEC) comes from, when spec.c knows which handler left the record:
 * any record (fast_cf), or the record of an earlier instruction of the
 * block with nothing but flag-less specialised forms in between: a logic
 * operation (CF = 0), SUB/CMP, ADD, or INC/DEC (the CF it kept).
 */
enum fast_cfsrc { CFS_ANY, CFS_LOGIC, CFS_SUB, CFS_ADD, CFS_INCDEC, CFS_COUNT };

/* CF from a record of the kind src (not CFS_ANY). */
FAST_INLINE int fast_cf_of(const struct lazy_flags *lf, enum fast_cfsrc src)
{
	unsigned sh = 64 - 8 * lf->size;
	switch (src) {
	case CFS_SUB:
		return (lf->dst << sh) < (lf->src << sh);
	case CFS_ADD:
		return (lf->res << sh) < (lf->dst << sh);
	case CFS_INCDEC:
		return lf->cf;
	default:
		return 0; /* CFS_LOGIC */
	}
}

/* CF from the lazy record for the common producers (emu_cf()), or -1. */
static inline int fast_cf(const struct emu_cpu *c)
{
	const struct lazy_flags *lf = &c->lf;
	switch (lf->op) {
	case LF_NONE:
		return (c->s->rflags & RFLAGS_CF) != 0;
	case LF_LOGIC:
		return fast_cf_of(lf, CFS_LOGIC);
	case LF_SUB:
		return fast_cf_of(lf, CFS_SUB);
	case LF_ADD:
		return fast_cf_of(lf, CFS_ADD);
	case LF_INC:
	case LF_DEC:
		return fast_cf_of(lf, CFS_INCDEC);
	default:
		return -1;
	}
}

FAST_INLINE int fast_cf_src(const struct emu_cpu *c, enum fast_cfsrc src)
{
	return src == CFS_ANY ? fast_cf(c) : fast_cf_of(&c->lf, src);
}

/* Replace all six arithmetic flags with `arith` (instructions that compute
 * them eagerly). */
static inline void fast_set_arith(struct emu_cpu *c, uint64_t arith)
{
	c->lf.op = LF_NONE;
	c->s->rflags = (c->s->rflags & ~RFLAGS_ARITH) | arith;
}

/* ---- handler tables (fast_alu.c, fast_mem.c, fast_ctrl.c) ---- */

/* [op][size][0]: records the flags; [1]: does not (flags dead). */
extern const emu_fn fast_alu_rr[FA_COUNT][FS_COUNT][2];
extern const emu_fn fast_alu_ri[FA_COUNT][FS_COUNT][2];
extern const emu_fn fast_inc_r[FS_COUNT][2];
extern const emu_fn fast_dec_r[FS_COUNT][2];
/* INC/DEC r recording flags with a known CF source: [0: INC, 1: DEC][size][src] */
extern const emu_fn fast_incdec_cf[2][FS_COUNT][CFS_COUNT];
extern const emu_fn fast_neg_r[FS_COUNT][2];
extern const emu_fn fast_not_r[FS_COUNT][2]; /* NOT sets no flags: both the same */
extern const emu_fn fast_mov_rr[FS_COUNT];
extern const emu_fn fast_mov_ri[FS_COUNT];
/* Shifts by a nonzero immediate below the operand width, IMUL r, r(, imm):
 * [0] computes the flags eagerly, [1] not at all. */
extern const emu_fn fast_shift_ri[FSH_COUNT][FS_COUNT][2];
extern const emu_fn fast_imul_rr[FS_COUNT][2];
extern const emu_fn fast_imul_rri[FS_COUNT][2];
extern const emu_fn fast_lea[FS_COUNT][EA_COUNT];
void fast_movzx_rr(struct emu_cpu *c, const struct emu_insn *i);
void fast_movsx_rr(struct emu_cpu *c, const struct emu_insn *i);
void fast_nop(struct emu_cpu *c, const struct emu_insn *i);
extern const emu_fn fast_cmov_rr[16];
extern const emu_fn fast_setcc_r[16];

/* Memory forms (64-bit mode, 64-bit addresses), by enum fast_ea. */
extern const emu_fn fast_alu_rm[FA_COUNT][FS_COUNT][EA_COUNT];
extern const emu_fn fast_alu_mr[FA_COUNT][FS_COUNT][EA_COUNT];
extern const emu_fn fast_alu_mi[FA_COUNT][FS_COUNT][EA_COUNT];
extern const emu_fn fast_mov_rm[FS_COUNT][EA_COUNT];
extern const emu_fn fast_mov_mr[FS_COUNT][EA_COUNT];
extern const emu_fn fast_mov_mi[FS_COUNT][EA_COUNT];
/* MOVZX/MOVSX/MOVSXD r, [mem]: [sign][source 1, 2, 4 bytes][FS_8 or FS_4 destination] */
extern const emu_fn fast_extend_rm[2][3][2][EA_COUNT];

/*
 * An ALU instruction on registers (or INC/DEC) and the Jcc after it, as one
 * handler, when fast_cc() answers the condition from the operation's record
 * (spec.c, fast_fusable): [op][0: reg, 1: imm][FS_8 or FS_4][cc], and
 * [0: INC, 1: DEC][FS_8 or FS_4][enum fast_cfsrc][cc].
 */
extern const emu_fn fast_alu_jcc[FA_COUNT][2][2][16];
extern const emu_fn fast_incdec_jcc[2][2][CFS_COUNT][16];
bool fast_fusable(enum lf_op op, unsigned cc);

/* Control transfers and the stack (64-bit mode). */
extern const emu_fn fast_jcc[16];
void fast_jmp_rel(struct emu_cpu *c, const struct emu_insn *i);
void fast_call_rel(struct emu_cpu *c, const struct emu_insn *i);
void fast_ret(struct emu_cpu *c, const struct emu_insn *i);
void fast_push_r(struct emu_cpu *c, const struct emu_insn *i);
void fast_pop_r(struct emu_cpu *c, const struct emu_insn *i);

#endif
