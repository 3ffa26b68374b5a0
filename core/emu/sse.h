/*
 * The emu CPU's x87/MMX/SSE helpers (private to core/emu/): register access
 * in the FXSAVE image of struct x86_state, the availability checks that
 * CR0/CR4 and CPUID impose on these instructions, vector memory operands,
 * and the MXCSR rules for SIMD floating-point exceptions.
 */
#ifndef CORE_EMU_SSE_H
#define CORE_EMU_SSE_H

#include "core/cpuid.h"
#include "core/fpu.h"
#include "emu.h"

/* One XMM (or, in its low half, MMX) value. */
typedef long long v2di __attribute__((vector_size(16)));
typedef union {
	uint8_t b[16];
	int8_t sb[16];
	uint16_t w[8];
	int16_t sw[8];
	uint32_t d[4];
	int32_t sd[4];
	uint64_t q[2];
	int64_t sq[2];
	v2di v;
} vec128;

/* A handler that calls a shared implementation with fixed arguments. */
#define SSE_HANDLER(name, fn, ...)                                     \
	void op_##name(struct emu_cpu *c, const struct emu_insn *i) \
	{                                                              \
		fn(c, i, __VA_ARGS__);                                 \
	}

/* ---- registers ---- */

static inline void xmm_get(const struct emu_cpu *c, unsigned n, vec128 *v)
{
	memcpy(v, c->s->fxsave + FX_XMM0 + 16 * n, 16);
}

static inline void xmm_put(struct emu_cpu *c, unsigned n, const vec128 *v)
{
	memcpy(c->s->fxsave + FX_XMM0 + 16 * n, v, 16);
}

static inline uint32_t mxcsr_get(const struct emu_cpu *c)
{
	return fx_mxcsr(c->s->fxsave);
}

static inline void mxcsr_put(struct emu_cpu *c, uint32_t v)
{
	fx_put(c->s->fxsave, FX_MXCSR, 4, v);
}

/*
 * MMX register n is physical x87 register Rn (SDM Vol. 1 9.2): its 64 bits
 * are the significand of Rn, which the FXSAVE image keeps in stack order,
 * at slot (n - TOP) mod 8. An MMX instruction sets TOP to 0 when it
 * completes (mmx_commit).
 */
static inline uint8_t *mmx_slot(const struct emu_cpu *c, unsigned n)
{
	unsigned top = (fx_get(c->s->fxsave, FX_FSW, 2) & FSW_TOP) >> FSW_TOP_SHIFT;
	return c->s->fxsave + FX_ST0 + 16 * ((n - top) & 7);
}

static inline uint64_t mmx_get(const struct emu_cpu *c, unsigned n)
{
	uint64_t v;
	memcpy(&v, mmx_slot(c, n), 8);
	return v;
}

/* A write to an MMX register also sets bits 79:64 of Rn, the exponent and
 * sign, to all 1s (Vol. 1 9.5.1). */
static inline void mmx_put(struct emu_cpu *c, unsigned n, uint64_t v)
{
	uint8_t *p = mmx_slot(c, n);
	memcpy(p, &v, 8);
	p[8] = p[9] = 0xff;
}

/* ---- availability (sse.c) ---- */

/*
 * An SSE/SSE2 instruction may run (SDM Vol. 3A 13.1, Table 13-1): #UD with
 * CR0.EM = 1, CR4.OSFXSR = 0 or the feature absent from the CPU model,
 * then #NM with CR0.TS = 1.
 */
static inline void sse_enter(struct emu_cpu *c, enum cpu_feature f)
{
	const struct x86_state *s = c->s;
	if (unlikely((s->cr0 & CR0_EM) || !(s->cr4 & CR4_OSFXSR) || !cpu_has(&c->vm->model, f)))
		emu_raise_noerr(c, X86_UD);
	if (unlikely(s->cr0 & CR0_TS))
		emu_raise_noerr(c, X86_NM);
}

/* An MMX instruction (or an SSE one with an MMX operand) may run: the x87
 * checks (sse.c). */
void mmx_enter(struct emu_cpu *c, enum cpu_feature f);
/* It completes: the x87 state switches to MMX use (Vol. 1 9.5.1): TOP = 0,
 * every register tagged valid. A fault before this leaves it unchanged. */
void mmx_commit(struct emu_cpu *c);

/* x87 instructions (Vol. 3A 2.5, CR0.EM/MP/TS): #NM with CR0.EM or CR0.TS
 * (WAIT/FWAIT: with CR0.MP and CR0.TS); the waiting ones then take a pending
 * unmasked x87 exception (#MF, Vol. 1 8.6). */
enum x87_kind {
	X87_NOWAIT, /* FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE, FXSAVE, FXRSTOR */
	X87_WAITING, /* every other x87 instruction */
	X87_FWAIT, /* WAIT/FWAIT */
};
void x87_enter(struct emu_cpu *c, enum x87_kind k);

/* ---- SIMD floating-point exceptions ---- */

/*
 * An unmasked SIMD floating-point exception: #XM with CR4.OSXMMEXCPT, else
 * #UD (Vol. 3A Table 13-1, Vol. 1 11.5.4). The MXCSR flags are already set.
 */
__attribute__((noreturn)) void sse_raise_xm(struct emu_cpu *c);

/*
 * Merge the exception flags an operation raised (computed with every
 * exception masked) into MXCSR, following Vol. 1 11.5.1-11.5.3: if an
 * unmasked pre-computation exception (invalid, denormal, divide-by-zero)
 * occurred in any element, only the pre-computation flags of all elements
 * are set and the instruction faults before computing; else, if an unmasked
 * post-computation exception occurred, every flag is set and it faults
 * without writing its destination; else the flags are set and the caller
 * writes the result.
 */
static inline void sse_fp_flags(struct emu_cpu *c, uint32_t raised)
{
	uint32_t mx = mxcsr_get(c);
	uint32_t unmasked = ~(mx >> MXCSR_MASK_SHIFT) & MXCSR_FLAGS;
	raised &= MXCSR_FLAGS;
	if (unlikely(raised & unmasked)) {
		if (raised & unmasked & MXCSR_PRE)
			raised &= MXCSR_PRE;
		mxcsr_put(c, mx | raised);
		sse_raise_xm(c);
	}
	if (raised)
		mxcsr_put(c, mx | raised);
}

/* ---- operands ---- */

/*
 * Memory operands: (when align > 1) alignment, then segment and canonical
 * checks; #GP(0) for a misaligned operand (Vol. 3A 6.15; each instruction's
 * "#GP(0) If a memory operand is not aligned on a 16-byte boundary"). The
 * SDM does not order the two checks: a misaligned stack operand with a
 * non-canonical address is #GP(0), not #SS(0), for the SSE instructions
 * and XSAVE/XRSTOR on the AMD EPYC hosts the differential suite runs on
 * (FXSAVE/FXRSTOR check the segment first: ops_fpstate.c).
 */
uint64_t vec_mem_la(struct emu_cpu *c, const struct emu_insn *i, const struct emu_operand *o, unsigned size,
		    unsigned align, unsigned acc);
void vec_read_la(struct emu_cpu *c, uint64_t la, void *buf, unsigned size);
/* All pages are checked for writing before the first byte is written. */
void vec_write_la(struct emu_cpu *c, uint64_t la, const void *buf, unsigned size);

/* VF_*: operand access options. */
#define VF_UNALIGNED 0x1 /* 16-byte memory operands need not be aligned (MOVUPS...) */

/*
 * Operand n of a vector instruction: an XMM or MMX register, or memory of
 * the operand's size (16-byte operands aligned unless VF_UNALIGNED). The
 * value is zero above the operand's size.
 */
void vec_read(struct emu_cpu *c, const struct emu_insn *i, unsigned n, vec128 *v, unsigned vf);
/* Write operand n: a whole XMM/MMX register, or o->size bytes of memory. */
void vec_write(struct emu_cpu *c, const struct emu_insn *i, unsigned n, const vec128 *v, unsigned vf);

/* DEST and SRC of a two-operand instruction: the source (register or
 * memory) is read first, so a fault leaves nothing changed. */
static inline void vec_read2(struct emu_cpu *c, const struct emu_insn *i, vec128 *d, vec128 *s)
{
	vec_read(c, i, 1, s, 0);
	vec_read(c, i, 0, d, 0);
}

static inline bool op_is_mmx(const struct emu_insn *i, unsigned n)
{
	return i->op[n].kind == OPK_MMX;
}

/* The instruction completes: the MMX transition if it uses MMX registers.
 * vec_write() does this before it writes. */
static inline void vec_done(struct emu_cpu *c, const struct emu_insn *i)
{
	if (op_is_mmx(i, 0) || (i->nops > 1 && op_is_mmx(i, 1)))
		mmx_commit(c);
}

/* Check that an instruction may run: the MMX rules if any operand is an
 * MMX register, else the SSE rules with feature f. */
static inline void vec_enter(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f)
{
	if (op_is_mmx(i, 0) || (i->nops > 1 && op_is_mmx(i, 1)))
		mmx_enter(c, f == CPUF_SSE2 || f == CPUF_SSE ? CPUF_MMX : f);
	else
		sse_enter(c, f);
}

#endif
