/*
 * Building blocks of the specialised handlers (fast_*.c) and the handler
 * tables spec.c chooses from (private to core/emu/). See exec.h for the
 * contract: a specialised handler never faults; what its fast path does not
 * cover goes to emu_exec_generic().
 */
#ifndef CORE_EMU_FAST_H
#define CORE_EMU_FAST_H

#include "exec.h"

/* Operand sizes a handler is specialised for: 8 and 4 bytes at compile
 * time, 1 and 2 bytes (not AH..BH) read from the operand. */
enum fast_sz { FS_8, FS_4, FS_N, FS_COUNT };

/* Two-operand ALU operations with a specialised form. */
enum fast_alu { FA_ADD, FA_OR, FA_AND, FA_SUB, FA_XOR, FA_CMP, FA_TEST, FA_COUNT };

enum fast_shift { FSH_SHL, FSH_SHR, FSH_SAR, FSH_COUNT };

/* ---- shared by the handler files ---- */

#define FAST_INLINE static inline __attribute__((always_inline))

/* The operand size of a size class. */
#define FAST_SZ(szk, o) ((szk) == FS_8 ? 8u : (szk) == FS_4 ? 4u : (unsigned)(o)->size)

/* Instantiation helpers: M(a, size class), M(ALU op), M(condition code). */
#define FAST_FOR_SIZES(M, a) M(a, FS_8) M(a, FS_4) M(a, FS_N)
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
 * Effective address of a memory operand with a 64-bit address size (spec.c
 * picks memory forms only then). RIP-relative operands count from the end of
 * the instruction (SDM Vol. 2A 2.2.1.6).
 */
static inline uint64_t fast_ea(const struct emu_cpu *c, const uint64_t *gpr, const struct emu_insn *i,
			       const struct emu_operand *o)
{
	uint64_t ea = (uint64_t)o->disp;
	if (o->base < 16)
		ea += gpr[o->base];
	else if (o->base == EMU_REG_RIP)
		ea += c->block_rip + i->off + i->len;
	if (o->index < 16)
		ea += gpr[o->index] << __builtin_ctz(o->scale);
	return ea;
}

/*
 * The host address of a data access of `size` bytes at la through one of the
 * current TLB's arrays, or NULL. The tag compared is that of the access's
 * last byte: an access that crosses into the next page, and a non-canonical
 * address (never cached), miss. Alignment checking (CR0.AM, CPL 3 and
 * RFLAGS.AC, SDM 3A 6.15 "Interrupt 17") needs the slow path too.
 */
static inline void *fast_host(const struct emu_cpu *c, const struct tlb_entry *arr, uint64_t la,
			      unsigned size)
{
	const struct tlb_entry *e = &arr[(la >> 12) & (TLB_SIZE - 1)];
	if (likely(e->tag == (((la + size - 1) & ~0xfffull) | c->tlb->gen) && !(c->s->rflags & c->ac_mask)))
		return (void *)(uintptr_t)(la + e->addend);
	return NULL;
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
 * recorded result, every condition after SUB/CMP (compared with the operands
 * shifted to the top of 64 bits, so that the unsigned and signed compares
 * of the operation's size are plain 64-bit ones) and after logic
 * instructions (CF = OF = 0). Everything else asks emu_cc().
 */
static inline bool fast_cc(struct emu_cpu *c, unsigned cc)
{
	const struct lazy_flags *lf = &c->lf;
	unsigned op = lf->op;
	if (likely(op != LF_NONE)) {
		unsigned sh = 64 - 8 * lf->size;
		uint64_t r = lf->res << sh;
		bool v;
		switch (cc >> 1) {
		case 2:
			return (r == 0) ^ (cc & 1); /* E */
		case 4:
			return ((int64_t)r < 0) ^ (cc & 1); /* S */
		default:
			break;
		}
		if (op == LF_SUB) {
			uint64_t d = lf->dst << sh, s = lf->src << sh;
			switch (cc >> 1) {
			case 1:
				v = d < s; /* B */
				break;
			case 3:
				v = d <= s; /* BE */
				break;
			case 6:
				v = (int64_t)d < (int64_t)s; /* L */
				break;
			case 7:
				v = (int64_t)d <= (int64_t)s; /* LE */
				break;
			default:
				return emu_cc(c, cc);
			}
			return v ^ (cc & 1);
		}
		if (op == LF_LOGIC) {
			switch (cc >> 1) {
			case 0:
			case 1:
				v = false; /* O, B */
				break;
			case 3:
				v = r == 0; /* BE */
				break;
			case 6:
				v = (int64_t)r < 0; /* L: SF != OF */
				break;
			case 7:
				v = r == 0 || (int64_t)r < 0; /* LE */
				break;
			default:
				return emu_cc(c, cc);
			}
			return v ^ (cc & 1);
		}
	}
	return emu_cc(c, cc);
}

/* ---- handler tables (fast_alu.c, fast_mem.c, fast_ctrl.c) ---- */

/* [op][size][0]: records the flags; [1]: does not (flags dead). */
extern const emu_fn fast_alu_rr[FA_COUNT][FS_COUNT][2];
extern const emu_fn fast_alu_ri[FA_COUNT][FS_COUNT][2];
extern const emu_fn fast_inc_r[FS_COUNT][2];
extern const emu_fn fast_dec_r[FS_COUNT][2];
extern const emu_fn fast_neg_r[FS_COUNT][2];
extern const emu_fn fast_not_r[FS_COUNT][2]; /* NOT sets no flags: both the same */
extern const emu_fn fast_mov_rr[FS_COUNT];
extern const emu_fn fast_mov_ri[FS_COUNT];
extern const emu_fn fast_shift_ri_nf[FSH_COUNT][FS_COUNT];
extern const emu_fn fast_imul_rr_nf[FS_COUNT];
extern const emu_fn fast_imul_rri_nf[FS_COUNT];
extern const emu_fn fast_lea[FS_COUNT];
void fast_movzx_rr(struct emu_cpu *c, const struct emu_insn *i);
void fast_movsx_rr(struct emu_cpu *c, const struct emu_insn *i);
void fast_nop(struct emu_cpu *c, const struct emu_insn *i);
extern const emu_fn fast_cmov_rr[16];
extern const emu_fn fast_setcc_r[16];

/* Memory forms (64-bit mode, 64-bit addresses). */
extern const emu_fn fast_alu_rm[FA_COUNT][FS_COUNT];
extern const emu_fn fast_alu_mr[FA_COUNT][FS_COUNT];
extern const emu_fn fast_alu_mi[FA_COUNT][FS_COUNT];
extern const emu_fn fast_mov_rm[FS_COUNT];
extern const emu_fn fast_mov_mr[FS_COUNT];
extern const emu_fn fast_mov_mi[FS_COUNT];
void fast_movzx_rm(struct emu_cpu *c, const struct emu_insn *i);
void fast_movsx_rm(struct emu_cpu *c, const struct emu_insn *i);

/* Control transfers and the stack (64-bit mode). */
extern const emu_fn fast_jcc[16];
void fast_jmp_rel(struct emu_cpu *c, const struct emu_insn *i);
void fast_call_rel(struct emu_cpu *c, const struct emu_insn *i);
void fast_ret(struct emu_cpu *c, const struct emu_insn *i);
void fast_push_r(struct emu_cpu *c, const struct emu_insn *i);
void fast_pop_r(struct emu_cpu *c, const struct emu_insn *i);

#endif
