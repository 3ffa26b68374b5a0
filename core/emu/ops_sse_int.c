/*
 * Packed integer instructions of MMX, SSE and SSE2 (SDM Vol. 1 9.4, 10.4.4,
 * 11.4.3; each instruction's Operation in Vol. 2): arithmetic with
 * wraparound and saturation, multiplies, compares, shifts, averages,
 * min/max, sums of absolute differences, and the bitwise logic instructions
 * (including ANDPS and friends, which are bitwise too). Each handler works
 * on 16 bytes (XMM) or 8 (MMX), as its operands say.
 */
#include "ops.h"
#include "sse.h"

typedef void (*vec_op2)(vec128 *d, const vec128 *s, unsigned w);

/* DEST <- op(DEST, SRC): the source (register or memory) is read before
 * anything is written. */
static inline void int_binop(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, vec_op2 fn)
{
	vec_enter(c, i, f);
	vec128 d, s;
	unsigned w = op_is_mmx(i, 0) ? 8 : 16;
	vec_read2(c, i, &d, &s);
	fn(&d, &s, w);
	vec_write(c, i, 0, &d, 0);
}

#define OP2(name, feat) SSE_HANDLER(name, int_binop, feat, name##_fn)

/* Element loops: T the element type, w the operand width in bytes. */
#define EACH(T, field, expr)                                      \
	for (unsigned k = 0; k < w / sizeof(T); k++) {            \
		T a = d->field[k], b = s->field[k];               \
		(void)a;                                          \
		(void)b;                                          \
		d->field[k] = (T)(expr);                          \
	}

static inline int sat_s(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* ---- add / subtract (Vol. 2B PADDx, PSUBx, PADDSx, PADDUSx...) ---- */

static void paddb_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint8_t, b, a + b) }
static void paddw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint16_t, w, a + b) }
static void paddd_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint32_t, d, a + b) }
static void paddq_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint64_t, q, a + b) }
static void psubb_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint8_t, b, a - b) }
static void psubw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint16_t, w, a - b) }
static void psubd_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint32_t, d, a - b) }
static void psubq_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint64_t, q, a - b) }
static void paddsb_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(int8_t, sb, sat_s(a + b, -128, 127)) }
static void paddsw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(int16_t, sw, sat_s(a + b, -32768, 32767)) }
static void psubsb_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(int8_t, sb, sat_s(a - b, -128, 127)) }
static void psubsw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(int16_t, sw, sat_s(a - b, -32768, 32767)) }
static void paddusb_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint8_t, b, sat_s(a + b, 0, 255)) }
static void paddusw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint16_t, w, sat_s(a + b, 0, 65535)) }
static void psubusb_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint8_t, b, sat_s(a - b, 0, 255)) }
static void psubusw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint16_t, w, sat_s(a - b, 0, 65535)) }

OP2(paddb, CPUF_SSE2)
OP2(paddw, CPUF_SSE2)
OP2(paddd, CPUF_SSE2)
OP2(paddq, CPUF_SSE2)
OP2(psubb, CPUF_SSE2)
OP2(psubw, CPUF_SSE2)
OP2(psubd, CPUF_SSE2)
OP2(psubq, CPUF_SSE2)
OP2(paddsb, CPUF_SSE2)
OP2(paddsw, CPUF_SSE2)
OP2(psubsb, CPUF_SSE2)
OP2(psubsw, CPUF_SSE2)
OP2(paddusb, CPUF_SSE2)
OP2(paddusw, CPUF_SSE2)
OP2(psubusb, CPUF_SSE2)
OP2(psubusw, CPUF_SSE2)

/* ---- multiply (PMULLW, PMULHW, PMULHUW, PMULUDQ, PMADDWD) ---- */

static void pmullw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(int16_t, sw, (int32_t)a * b) }
static void pmulhw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(int16_t, sw, ((int32_t)a * b) >> 16) }
static void pmulhuw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint16_t, w, ((uint32_t)a * b) >> 16) }

/* PMULUDQ: the low doublewords of each quadword, unsigned, 64-bit products. */
static void pmuludq_fn(vec128 *d, const vec128 *s, unsigned w)
{
	EACH(uint64_t, q, (uint64_t)(uint32_t)a * (uint32_t)b)
}

/* PMADDWD: pairs of signed word products added into doublewords; the sum of
 * two 8000H x 8000H products wraps to 80000000H. */
static void pmaddwd_fn(vec128 *d, const vec128 *s, unsigned w)
{
	vec128 r;
	for (unsigned k = 0; k < w / 4; k++)
		r.d[k] = (uint32_t)((int32_t)d->sw[2 * k] * s->sw[2 * k]) +
			 (uint32_t)((int32_t)d->sw[2 * k + 1] * s->sw[2 * k + 1]);
	memcpy(d, &r, w);
}

OP2(pmullw, CPUF_SSE2)
OP2(pmulhw, CPUF_SSE2)
OP2(pmulhuw, CPUF_SSE2)
OP2(pmuludq, CPUF_SSE2)
OP2(pmaddwd, CPUF_SSE2)

/* ---- compare, min/max, average, sum of absolute differences ---- */

static void pcmpeqb_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint8_t, b, a == b ? 0xff : 0) }
static void pcmpeqw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint16_t, w, a == b ? 0xffff : 0) }
static void pcmpeqd_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint32_t, d, a == b ? 0xffffffffu : 0) }
static void pcmpgtb_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(int8_t, sb, a > b ? -1 : 0) }
static void pcmpgtw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(int16_t, sw, a > b ? -1 : 0) }
static void pcmpgtd_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(int32_t, sd, a > b ? -1 : 0) }
static void pminub_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint8_t, b, a < b ? a : b) }
static void pmaxub_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint8_t, b, a > b ? a : b) }
static void pminsw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(int16_t, sw, a < b ? a : b) }
static void pmaxsw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(int16_t, sw, a > b ? a : b) }
static void pavgb_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint8_t, b, ((unsigned)a + b + 1) >> 1) }
static void pavgw_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint16_t, w, ((unsigned)a + b + 1) >> 1) }

/* PSADBW: per quadword, the sum of the 8 absolute byte differences in the
 * low word; the rest of the quadword is 0. */
static void psadbw_fn(vec128 *d, const vec128 *s, unsigned w)
{
	for (unsigned q = 0; q < w / 8; q++) {
		unsigned sum = 0;
		for (unsigned k = 8 * q; k < 8 * q + 8; k++)
			sum += d->b[k] > s->b[k] ? d->b[k] - s->b[k] : s->b[k] - d->b[k];
		d->q[q] = sum;
	}
}

OP2(pcmpeqb, CPUF_SSE2)
OP2(pcmpeqw, CPUF_SSE2)
OP2(pcmpeqd, CPUF_SSE2)
OP2(pcmpgtb, CPUF_SSE2)
OP2(pcmpgtw, CPUF_SSE2)
OP2(pcmpgtd, CPUF_SSE2)
OP2(pminub, CPUF_SSE2)
OP2(pmaxub, CPUF_SSE2)
OP2(pminsw, CPUF_SSE2)
OP2(pmaxsw, CPUF_SSE2)
OP2(pavgb, CPUF_SSE2)
OP2(pavgw, CPUF_SSE2)
OP2(psadbw, CPUF_SSE2)

/* ---- bitwise logic ---- */

static void pand_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint64_t, q, a & b) }
static void pandn_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint64_t, q, ~a & b) }
static void por_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint64_t, q, a | b) }
static void pxor_fn(vec128 *d, const vec128 *s, unsigned w) { EACH(uint64_t, q, a ^ b) }

OP2(pand, CPUF_SSE2)
OP2(pandn, CPUF_SSE2)
OP2(por, CPUF_SSE2)
OP2(pxor, CPUF_SSE2)

/* ANDPS/ANDNPS/ORPS/XORPS (SSE) and the PD forms (SSE2): bitwise, no
 * floating-point exceptions. */
SSE_HANDLER(andps, int_binop, CPUF_SSE, pand_fn)
SSE_HANDLER(andnps, int_binop, CPUF_SSE, pandn_fn)
SSE_HANDLER(orps, int_binop, CPUF_SSE, por_fn)
SSE_HANDLER(xorps, int_binop, CPUF_SSE, pxor_fn)
SSE_HANDLER(andpd, int_binop, CPUF_SSE2, pand_fn)
SSE_HANDLER(andnpd, int_binop, CPUF_SSE2, pandn_fn)
SSE_HANDLER(orpd, int_binop, CPUF_SSE2, por_fn)
SSE_HANDLER(xorpd, int_binop, CPUF_SSE2, pxor_fn)

/* ---- shifts (PSLLx, PSRLx, PSRAx) ---- */

/*
 * The count is an imm8 or the low 64 bits of the source operand; counts
 * beyond the element width clear the element (logical) or fill it with its
 * sign (arithmetic).
 */
static uint64_t shift_count(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->op[1].kind == OPK_IMM)
		return (uint8_t)i->op[1].disp;
	vec128 s;
	vec_read(c, i, 1, &s, 0);
	return s.q[0];
}

#define SHIFT_OP(name, T, field, expr)                                               \
	void op_##name(struct emu_cpu *c, const struct emu_insn *i)                \
	{                                                                            \
		vec_enter(c, i, CPUF_SSE2);                                          \
		unsigned w = op_is_mmx(i, 0) ? 8 : 16;                               \
		uint64_t n = shift_count(c, i);                                      \
		vec128 v;                                                            \
		vec_read(c, i, 0, &v, 0);                                            \
		const unsigned bits = 8 * sizeof(T);                                 \
		for (unsigned k = 0; k < w / sizeof(T); k++) {                       \
			T a = v.field[k];                                            \
			v.field[k] = (T)(expr);                                      \
		}                                                                    \
		vec_write(c, i, 0, &v, 0);                                           \
	}

SHIFT_OP(psllw, uint16_t, w, n >= bits ? 0 : a << n)
SHIFT_OP(pslld, uint32_t, d, n >= bits ? 0 : a << n)
SHIFT_OP(psllq, uint64_t, q, n >= bits ? 0 : a << n)
SHIFT_OP(psrlw, uint16_t, w, n >= bits ? 0 : a >> n)
SHIFT_OP(psrld, uint32_t, d, n >= bits ? 0 : a >> n)
SHIFT_OP(psrlq, uint64_t, q, n >= bits ? 0 : a >> n)
SHIFT_OP(psraw, int16_t, sw, a >> (n >= bits ? bits - 1 : n))
SHIFT_OP(psrad, int32_t, sd, a >> (n >= bits ? bits - 1 : n))

/* PSLLDQ/PSRLDQ xmm, imm8: whole-register byte shifts; counts above 15
 * clear the register. */
static void byte_shift(struct emu_cpu *c, const struct emu_insn *i, bool left)
{
	sse_enter(c, CPUF_SSE2);
	unsigned n = (uint8_t)i->op[1].disp;
	vec128 v, r;
	vec_read(c, i, 0, &v, 0);
	memset(&r, 0, sizeof(r));
	if (n < 16) {
		if (left)
			memcpy(r.b + n, v.b, 16 - n);
		else
			memcpy(r.b, v.b + n, 16 - n);
	}
	vec_write(c, i, 0, &r, 0);
}

SSE_HANDLER(pslldq, byte_shift, true)
SSE_HANDLER(psrldq, byte_shift, false)
