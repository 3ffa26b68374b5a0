/*
 * SSE/SSE2 (and MMX) data movement: register and memory moves, the
 * partial-register moves, sign-mask extraction, shuffles, unpacks, packs
 * with saturation, word insert/extract (SDM Vol. 2, each instruction's
 * Operation; Vol. 1 10.4.1, 11.4.1, 11.4.4).
 */
#include "ops.h"
#include "sse.h"

/* ---- whole-operand moves ---- */

static inline void vmove(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, unsigned vf)
{
	vec_enter(c, i, f);
	vec128 v;
	vec_read(c, i, 1, &v, vf);
	vec_write(c, i, 0, &v, vf);
}

/* MOVAPS/MOVAPD/MOVDQA and the non-temporal stores: 16-byte aligned memory
 * operands (#GP(0) otherwise). */
SSE_HANDLER(movaps, vmove, CPUF_SSE, 0)
SSE_HANDLER(movapd, vmove, CPUF_SSE2, 0)

/* MOVUPS/MOVUPD/MOVDQU: any alignment. */
SSE_HANDLER(movups, vmove, CPUF_SSE, VF_UNALIGNED)
SSE_HANDLER(movupd, vmove, CPUF_SSE2, VF_UNALIGNED)

/*
 * MOVD/MOVQ (Vol. 2B): between XMM/MMX registers, general-purpose registers
 * and memory; a 32- or 64-bit value written to an XMM register clears the
 * rest of it, and MOVQ xmm, xmm copies only the low quadword.
 */
void op_movq(struct emu_cpu *c, const struct emu_insn *i)
{
	vec_enter(c, i, CPUF_SSE2);
	vec128 v;
	vec_read(c, i, 1, &v, 0);
	if (i->op[1].kind == OPK_XMM && i->op[0].kind != OPK_MEM)
		v.q[1] = 0;
	vec_write(c, i, 0, &v, 0);
}

/* MOVNTI (Vol. 2B): a non-temporal store of a general-purpose register; not
 * subject to the SSE checks of Vol. 3A Table 13-1, only to CPUID.SSE2. */
void op_movnti(struct emu_cpu *c, const struct emu_insn *i)
{
	if (!cpu_has(&c->vm->model, CPUF_SSE2))
		emu_raise_noerr(c, X86_UD);
	emu_op_write(c, i, 0, emu_op_read(c, i, 1));
}

/* ---- scalar and half moves ---- */

/*
 * MOVSS/MOVSD (Vol. 2B): register to register replaces the low element and
 * keeps the rest; a load clears the rest; a store writes the element.
 */
static void move_scalar(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, unsigned size)
{
	sse_enter(c, f);
	vec128 s, d;
	vec_read(c, i, 1, &s, 0);
	if (i->op[0].kind == OPK_XMM && i->op[1].kind == OPK_XMM) {
		xmm_get(c, i->op[0].reg, &d);
		memcpy(&d, &s, size);
		xmm_put(c, i->op[0].reg, &d);
		return;
	}
	vec_write(c, i, 0, &s, 0);
}

SSE_HANDLER(movss, move_scalar, CPUF_SSE, 4)
SSE_HANDLER(movsd_sse, move_scalar, CPUF_SSE2, 8)

/* MOVLPS/MOVLPD and MOVHPS/MOVHPD (Vol. 2B): a quadword between memory and
 * the low or high half of an XMM register; the other half is kept. */
static void move_half(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, unsigned half)
{
	sse_enter(c, f);
	vec128 v;
	if (i->op[0].kind == OPK_MEM) {
		xmm_get(c, i->op[1].reg, &v);
		v.q[0] = v.q[half];
		vec_write(c, i, 0, &v, 0);
		return;
	}
	vec128 m;
	vec_read(c, i, 1, &m, 0);
	xmm_get(c, i->op[0].reg, &v);
	v.q[half] = m.q[0];
	xmm_put(c, i->op[0].reg, &v);
}

SSE_HANDLER(movlps, move_half, CPUF_SSE, 0)
SSE_HANDLER(movlpd, move_half, CPUF_SSE2, 0)
SSE_HANDLER(movhps, move_half, CPUF_SSE, 1)
SSE_HANDLER(movhpd, move_half, CPUF_SSE2, 1)

/* MOVHLPS: DEST[63:0] <- SRC[127:64]; MOVLHPS: DEST[127:64] <- SRC[63:0]. */
static void move_quad(struct emu_cpu *c, const struct emu_insn *i, unsigned to, unsigned from)
{
	sse_enter(c, CPUF_SSE);
	vec128 d, s;
	xmm_get(c, i->op[1].reg, &s);
	xmm_get(c, i->op[0].reg, &d);
	d.q[to] = s.q[from];
	xmm_put(c, i->op[0].reg, &d);
}

SSE_HANDLER(movhlps, move_quad, 0, 1)
SSE_HANDLER(movlhps, move_quad, 1, 0)

/* MOVQ2DQ xmm, mm (zero-extended) and MOVDQ2Q mm, xmm (low quadword). */
void op_movq2dq(struct emu_cpu *c, const struct emu_insn *i)
{
	sse_enter(c, CPUF_SSE2);
	mmx_enter(c, CPUF_MMX);
	vec128 v;
	vec_read(c, i, 1, &v, 0);
	vec_write(c, i, 0, &v, 0);
}

/* ---- sign masks ---- */

/* MOVMSKPS/MOVMSKPD/PMOVMSKB (Vol. 2B): the sign bit of each element into
 * the low bits of a general-purpose register, the rest cleared. */
static void move_mask(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, unsigned esize)
{
	vec_enter(c, i, f);
	vec128 v;
	vec_read(c, i, 1, &v, 0);
	unsigned w = op_is_mmx(i, 1) ? 8 : 16;
	uint64_t m = 0;
	for (unsigned k = 0; k < w / esize; k++)
		m |= (uint64_t)(v.b[k * esize + esize - 1] >> 7) << k;
	vec_done(c, i);
	gpr_write(c, i->op[0].reg, false, i->op[0].size < 4 ? 4 : i->op[0].size, m);
}

SSE_HANDLER(movmskps, move_mask, CPUF_SSE, 4)
SSE_HANDLER(movmskpd, move_mask, CPUF_SSE2, 8)
SSE_HANDLER(pmovmskb, move_mask, CPUF_SSE2, 1)

/* ---- shuffles ---- */

/* PSHUFD (SSE2), PSHUFW (MMX form of SSE): DEST[k] <- SRC[imm8 bits 2k+1:2k]. */
void op_pshufd(struct emu_cpu *c, const struct emu_insn *i)
{
	sse_enter(c, CPUF_SSE2);
	vec128 s, d;
	vec_read(c, i, 1, &s, 0);
	unsigned imm = (uint8_t)i->op[2].disp;
	for (unsigned k = 0; k < 4; k++)
		d.d[k] = s.d[(imm >> (2 * k)) & 3];
	vec_write(c, i, 0, &d, 0);
}

void op_pshufw(struct emu_cpu *c, const struct emu_insn *i)
{
	mmx_enter(c, CPUF_SSE);
	vec128 s, d;
	vec_read(c, i, 1, &s, 0);
	unsigned imm = (uint8_t)i->op[2].disp;
	memset(&d, 0, sizeof(d));
	for (unsigned k = 0; k < 4; k++)
		d.w[k] = s.w[(imm >> (2 * k)) & 3];
	vec_write(c, i, 0, &d, 0);
}

/* PSHUFLW/PSHUFHW: the same on the words of the low or high quadword; the
 * other quadword is copied. */
static void pshuf_half(struct emu_cpu *c, const struct emu_insn *i, unsigned half)
{
	sse_enter(c, CPUF_SSE2);
	vec128 s, d;
	vec_read(c, i, 1, &s, 0);
	unsigned imm = (uint8_t)i->op[2].disp;
	d = s;
	for (unsigned k = 0; k < 4; k++)
		d.w[4 * half + k] = s.w[4 * half + ((imm >> (2 * k)) & 3)];
	vec_write(c, i, 0, &d, 0);
}

SSE_HANDLER(pshuflw, pshuf_half, 0)
SSE_HANDLER(pshufhw, pshuf_half, 1)

/* SHUFPS: two elements of DEST, then two of SRC, chosen by imm8. */
void op_shufps(struct emu_cpu *c, const struct emu_insn *i)
{
	sse_enter(c, CPUF_SSE);
	vec128 s, d, r;
	vec_read2(c, i, &d, &s);
	unsigned imm = (uint8_t)i->op[2].disp;
	r.d[0] = d.d[imm & 3];
	r.d[1] = d.d[(imm >> 2) & 3];
	r.d[2] = s.d[(imm >> 4) & 3];
	r.d[3] = s.d[(imm >> 6) & 3];
	vec_write(c, i, 0, &r, 0);
}

/* SHUFPD: DEST[0] <- DEST[imm8 bit 0], DEST[1] <- SRC[imm8 bit 1]. */
void op_shufpd(struct emu_cpu *c, const struct emu_insn *i)
{
	sse_enter(c, CPUF_SSE2);
	vec128 s, d, r;
	vec_read2(c, i, &d, &s);
	unsigned imm = (uint8_t)i->op[2].disp;
	r.q[0] = d.q[imm & 1];
	r.q[1] = s.q[(imm >> 1) & 1];
	vec_write(c, i, 0, &r, 0);
}

/* ---- unpacks: interleave the low (or high) halves of DEST and SRC ---- */

static void unpack(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, unsigned esize,
		   bool high)
{
	vec_enter(c, i, f);
	unsigned w = op_is_mmx(i, 0) ? 8 : 16;
	vec128 s, d, r;
	vec_read2(c, i, &d, &s);
	memset(&r, 0, sizeof(r));
	unsigned n = w / esize / 2, base = high ? w / 2 : 0;
	for (unsigned k = 0; k < n; k++) {
		memcpy(r.b + 2 * k * esize, d.b + base + k * esize, esize);
		memcpy(r.b + (2 * k + 1) * esize, s.b + base + k * esize, esize);
	}
	vec_write(c, i, 0, &r, 0);
}

SSE_HANDLER(punpcklbw, unpack, CPUF_SSE2, 1, false)
SSE_HANDLER(punpcklwd, unpack, CPUF_SSE2, 2, false)
SSE_HANDLER(punpckldq, unpack, CPUF_SSE2, 4, false)
SSE_HANDLER(punpcklqdq, unpack, CPUF_SSE2, 8, false)
SSE_HANDLER(punpckhbw, unpack, CPUF_SSE2, 1, true)
SSE_HANDLER(punpckhwd, unpack, CPUF_SSE2, 2, true)
SSE_HANDLER(punpckhdq, unpack, CPUF_SSE2, 4, true)
SSE_HANDLER(punpckhqdq, unpack, CPUF_SSE2, 8, true)
SSE_HANDLER(unpcklps, unpack, CPUF_SSE, 4, false)
SSE_HANDLER(unpckhps, unpack, CPUF_SSE, 4, true)
SSE_HANDLER(unpcklpd, unpack, CPUF_SSE2, 8, false)
SSE_HANDLER(unpckhpd, unpack, CPUF_SSE2, 8, true)

/* ---- packs with saturation: DEST's elements narrowed, then SRC's ---- */

static int32_t clamp(int32_t v, int32_t lo, int32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* PACKSSWB (words to signed bytes), PACKUSWB (to unsigned bytes). */
static void pack_wb(struct emu_cpu *c, const struct emu_insn *i, int32_t lo, int32_t hi)
{
	vec_enter(c, i, CPUF_SSE2);
	unsigned w = op_is_mmx(i, 0) ? 8 : 16;
	vec128 s, d, r;
	vec_read2(c, i, &d, &s);
	memset(&r, 0, sizeof(r));
	unsigned n = w / 2;
	for (unsigned k = 0; k < n; k++) {
		r.b[k] = (uint8_t)clamp(d.sw[k], lo, hi);
		r.b[n + k] = (uint8_t)clamp(s.sw[k], lo, hi);
	}
	vec_write(c, i, 0, &r, 0);
}

SSE_HANDLER(packsswb, pack_wb, -128, 127)
SSE_HANDLER(packuswb, pack_wb, 0, 255)

/* PACKSSDW: doublewords to signed words. */
void op_packssdw(struct emu_cpu *c, const struct emu_insn *i)
{
	vec_enter(c, i, CPUF_SSE2);
	unsigned w = op_is_mmx(i, 0) ? 8 : 16;
	vec128 s, d, r;
	vec_read2(c, i, &d, &s);
	memset(&r, 0, sizeof(r));
	unsigned n = w / 4;
	for (unsigned k = 0; k < n; k++) {
		r.sw[k] = (int16_t)clamp(d.sd[k], -32768, 32767);
		r.sw[n + k] = (int16_t)clamp(s.sd[k], -32768, 32767);
	}
	vec_write(c, i, 0, &r, 0);
}

/* ---- word insert/extract ---- */

/* PINSRW (Vol. 2B): the low word of r32/m16 into word imm8 (mod 8, or mod 4
 * for MMX). */
void op_pinsrw(struct emu_cpu *c, const struct emu_insn *i)
{
	vec_enter(c, i, CPUF_SSE2);
	unsigned words = op_is_mmx(i, 0) ? 4 : 8;
	vec128 d, s;
	vec_read2(c, i, &d, &s);
	d.w[(uint8_t)i->op[2].disp % words] = s.w[0];
	vec_write(c, i, 0, &d, 0);
}

/* PEXTRW r32, xmm/mm, imm8 (0F C5): the word, zero-extended. The SSE4.1
 * form with a memory destination (66 0F 3A 15) is not implemented. */
void op_pextrw(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->map != ZYDIS_OPCODE_MAP_0F)
		emu_unimplemented(c, i);
	vec_enter(c, i, CPUF_SSE2);
	unsigned words = op_is_mmx(i, 1) ? 4 : 8;
	vec128 s;
	vec_read(c, i, 1, &s, 0);
	vec_done(c, i);
	gpr_write(c, i->op[0].reg, false, i->op[0].size < 4 ? 4 : i->op[0].size,
		  s.w[(uint8_t)i->op[2].disp % words]);
}
