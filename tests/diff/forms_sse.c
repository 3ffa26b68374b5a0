/*
 * The x87/MMX/SSE forms of the differential suite: the SSE and SSE2
 * instructions tortuga implements with each operand shape (register or
 * memory source, MMX forms), the x87/SSE state instructions, then the same
 * in 32-bit compatibility mode (XMM0-XMM7). Operand sizes follow each
 * instruction's opcode table in the SDM (Vol. 2): m128 sources of packed
 * instructions must be 16-byte aligned, scalar and 64-bit ones need not be.
 */
#include <stdio.h>
#include <string.h>

#include "gen.h"

#define OPS_(kind, size) ((struct opspec){ (kind), (size) })
#define NONE OPS_(K_NONE, 0)
#define X OPS_(K_X, 16)
#define XM(n) OPS_(K_XM, n)
#define MM OPS_(K_MM, 8)
#define MMM(n) OPS_(K_MMM, n)
#define M(n) OPS_(K_M, n)
#define R(n) OPS_(K_R, n)
#define RM(n) OPS_(K_RM, n)
#define I8 OPS_(K_I8U, 1)

static struct form *vf(ZydisMnemonic m, enum group g, enum vtype vt, unsigned align, unsigned nops, struct opspec a,
		       struct opspec b, struct opspec c)
{
	struct form *f = add_form(m, g, a.sz ? a.sz : 16, nops, a, b, c);
	if (f) {
		f->vt = (uint8_t)vt;
		f->align = (uint8_t)align;
	}
	return f;
}

/* An instruction whose memory operand is m128: aligned unless told. */
static unsigned align_of(struct opspec o, bool unaligned)
{
	return o.sz == 16 && !unaligned ? 16 : 0;
}

/* DEST xmm, SRC xmm/m<n>: and the memory-destination store form if any. */
static void vx2(ZydisMnemonic m, enum vtype vt, unsigned n)
{
	vf(m, G_SSE, vt, align_of(XM(n), false), 2, X, XM(n), NONE);
}

/* The packed integer instructions: XMM and MMX forms. */
static void vint(ZydisMnemonic m, enum vtype vt, bool mmx)
{
	vx2(m, vt, 16);
	if (mmx)
		vf(m, G_SSE, vt, 0, 2, MM, MMM(8), NONE);
}

static const struct {
	ZydisMnemonic m;
	uint8_t vt;
} int_ops[] = {
	{ ZYDIS_MNEMONIC_PADDB, VT_I8 },    { ZYDIS_MNEMONIC_PADDW, VT_I16 },   { ZYDIS_MNEMONIC_PADDD, VT_I32 },
	{ ZYDIS_MNEMONIC_PADDQ, VT_I64 },   { ZYDIS_MNEMONIC_PSUBB, VT_I8 },    { ZYDIS_MNEMONIC_PSUBW, VT_I16 },
	{ ZYDIS_MNEMONIC_PSUBD, VT_I32 },   { ZYDIS_MNEMONIC_PSUBQ, VT_I64 },   { ZYDIS_MNEMONIC_PADDSB, VT_I8 },
	{ ZYDIS_MNEMONIC_PADDSW, VT_I16 },  { ZYDIS_MNEMONIC_PSUBSB, VT_I8 },   { ZYDIS_MNEMONIC_PSUBSW, VT_I16 },
	{ ZYDIS_MNEMONIC_PADDUSB, VT_I8 },  { ZYDIS_MNEMONIC_PADDUSW, VT_I16 }, { ZYDIS_MNEMONIC_PSUBUSB, VT_I8 },
	{ ZYDIS_MNEMONIC_PSUBUSW, VT_I16 }, { ZYDIS_MNEMONIC_PMULLW, VT_I16 },  { ZYDIS_MNEMONIC_PMULHW, VT_I16 },
	{ ZYDIS_MNEMONIC_PMULHUW, VT_I16 }, { ZYDIS_MNEMONIC_PMULUDQ, VT_I32 }, { ZYDIS_MNEMONIC_PMADDWD, VT_I16 },
	{ ZYDIS_MNEMONIC_PCMPEQB, VT_I8 },  { ZYDIS_MNEMONIC_PCMPEQW, VT_I16 }, { ZYDIS_MNEMONIC_PCMPEQD, VT_I32 },
	{ ZYDIS_MNEMONIC_PCMPGTB, VT_I8 },  { ZYDIS_MNEMONIC_PCMPGTW, VT_I16 }, { ZYDIS_MNEMONIC_PCMPGTD, VT_I32 },
	{ ZYDIS_MNEMONIC_PMINUB, VT_I8 },   { ZYDIS_MNEMONIC_PMAXUB, VT_I8 },   { ZYDIS_MNEMONIC_PMINSW, VT_I16 },
	{ ZYDIS_MNEMONIC_PMAXSW, VT_I16 },  { ZYDIS_MNEMONIC_PAVGB, VT_I8 },    { ZYDIS_MNEMONIC_PAVGW, VT_I16 },
	{ ZYDIS_MNEMONIC_PSADBW, VT_I8 },   { ZYDIS_MNEMONIC_PAND, VT_I64 },    { ZYDIS_MNEMONIC_PANDN, VT_I64 },
	{ ZYDIS_MNEMONIC_POR, VT_I64 },     { ZYDIS_MNEMONIC_PXOR, VT_I64 },    { ZYDIS_MNEMONIC_PACKSSWB, VT_I16 },
	{ ZYDIS_MNEMONIC_PACKSSDW, VT_I32 }, { ZYDIS_MNEMONIC_PACKUSWB, VT_I16 },
	{ ZYDIS_MNEMONIC_PUNPCKHBW, VT_I8 }, { ZYDIS_MNEMONIC_PUNPCKHWD, VT_I16 }, { ZYDIS_MNEMONIC_PUNPCKHDQ, VT_I32 },
};

/* Unpacks of the low halves: the MMX forms read m32. */
static const struct {
	ZydisMnemonic m;
	uint8_t vt;
} unpack_lo[] = {
	{ ZYDIS_MNEMONIC_PUNPCKLBW, VT_I8 },
	{ ZYDIS_MNEMONIC_PUNPCKLWD, VT_I16 },
	{ ZYDIS_MNEMONIC_PUNPCKLDQ, VT_I32 },
};

static const struct {
	ZydisMnemonic m;
	uint8_t vt;
} shifts[] = {
	{ ZYDIS_MNEMONIC_PSLLW, VT_I16 }, { ZYDIS_MNEMONIC_PSLLD, VT_I32 }, { ZYDIS_MNEMONIC_PSLLQ, VT_I64 },
	{ ZYDIS_MNEMONIC_PSRLW, VT_I16 }, { ZYDIS_MNEMONIC_PSRLD, VT_I32 }, { ZYDIS_MNEMONIC_PSRLQ, VT_I64 },
	{ ZYDIS_MNEMONIC_PSRAW, VT_I16 }, { ZYDIS_MNEMONIC_PSRAD, VT_I32 },
};

/* Floating-point instructions with packed, single and double forms. */
static const ZydisMnemonic fp_ops[][4] = {
	{ ZYDIS_MNEMONIC_ADDPS, ZYDIS_MNEMONIC_ADDSS, ZYDIS_MNEMONIC_ADDPD, ZYDIS_MNEMONIC_ADDSD },
	{ ZYDIS_MNEMONIC_SUBPS, ZYDIS_MNEMONIC_SUBSS, ZYDIS_MNEMONIC_SUBPD, ZYDIS_MNEMONIC_SUBSD },
	{ ZYDIS_MNEMONIC_MULPS, ZYDIS_MNEMONIC_MULSS, ZYDIS_MNEMONIC_MULPD, ZYDIS_MNEMONIC_MULSD },
	{ ZYDIS_MNEMONIC_DIVPS, ZYDIS_MNEMONIC_DIVSS, ZYDIS_MNEMONIC_DIVPD, ZYDIS_MNEMONIC_DIVSD },
	{ ZYDIS_MNEMONIC_MINPS, ZYDIS_MNEMONIC_MINSS, ZYDIS_MNEMONIC_MINPD, ZYDIS_MNEMONIC_MINSD },
	{ ZYDIS_MNEMONIC_MAXPS, ZYDIS_MNEMONIC_MAXSS, ZYDIS_MNEMONIC_MAXPD, ZYDIS_MNEMONIC_MAXSD },
	{ ZYDIS_MNEMONIC_SQRTPS, ZYDIS_MNEMONIC_SQRTSS, ZYDIS_MNEMONIC_SQRTPD, ZYDIS_MNEMONIC_SQRTSD },
	{ ZYDIS_MNEMONIC_CMPPS, ZYDIS_MNEMONIC_CMPSS, ZYDIS_MNEMONIC_CMPPD, ZYDIS_MNEMONIC_CMPSD },
	{ ZYDIS_MNEMONIC_RCPPS, ZYDIS_MNEMONIC_RCPSS, ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_INVALID },
	{ ZYDIS_MNEMONIC_RSQRTPS, ZYDIS_MNEMONIC_RSQRTSS, ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_INVALID },
	{ ZYDIS_MNEMONIC_ANDPS, ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_ANDPD, ZYDIS_MNEMONIC_INVALID },
	{ ZYDIS_MNEMONIC_ANDNPS, ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_ANDNPD, ZYDIS_MNEMONIC_INVALID },
	{ ZYDIS_MNEMONIC_ORPS, ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_ORPD, ZYDIS_MNEMONIC_INVALID },
	{ ZYDIS_MNEMONIC_XORPS, ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_XORPD, ZYDIS_MNEMONIC_INVALID },
	{ ZYDIS_MNEMONIC_UNPCKLPS, ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_UNPCKLPD, ZYDIS_MNEMONIC_INVALID },
	{ ZYDIS_MNEMONIC_UNPCKHPS, ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_UNPCKHPD, ZYDIS_MNEMONIC_INVALID },
	{ ZYDIS_MNEMONIC_SHUFPS, ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_SHUFPD, ZYDIS_MNEMONIC_INVALID },
};

static void fp_forms(void)
{
	static const uint8_t vt[4] = { VT_F32, VT_F32, VT_F64, VT_F64 };
	static const uint8_t size[4] = { 16, 4, 16, 8 };
	for (unsigned k = 0; k < sizeof(fp_ops) / sizeof(fp_ops[0]); k++) {
		for (unsigned j = 0; j < 4; j++) {
			ZydisMnemonic m = fp_ops[k][j];
			if (m == ZYDIS_MNEMONIC_INVALID)
				continue;
			bool imm = fp_ops[k][0] == ZYDIS_MNEMONIC_CMPPS || fp_ops[k][0] == ZYDIS_MNEMONIC_SHUFPS;
			vf(m, imm && fp_ops[k][0] == ZYDIS_MNEMONIC_CMPPS ? G_SSE_CMP : G_SSE, (enum vtype)vt[j],
			   align_of(XM(size[j]), false), imm ? 3 : 2, X, XM(size[j]), imm ? I8 : NONE);
		}
	}
	/* COMISS/UCOMISS/COMISD/UCOMISD: RFLAGS. */
	vx2(ZYDIS_MNEMONIC_COMISS, VT_F32, 4);
	vx2(ZYDIS_MNEMONIC_UCOMISS, VT_F32, 4);
	vx2(ZYDIS_MNEMONIC_COMISD, VT_F64, 8);
	vx2(ZYDIS_MNEMONIC_UCOMISD, VT_F64, 8);
	/* Conversions between formats. */
	vx2(ZYDIS_MNEMONIC_CVTPS2PD, VT_F32, 8);
	vx2(ZYDIS_MNEMONIC_CVTPD2PS, VT_F64, 16);
	vx2(ZYDIS_MNEMONIC_CVTSS2SD, VT_F32, 4);
	vx2(ZYDIS_MNEMONIC_CVTSD2SS, VT_F64, 8);
	vx2(ZYDIS_MNEMONIC_CVTDQ2PS, VT_I32, 16);
	vx2(ZYDIS_MNEMONIC_CVTPS2DQ, VT_F32, 16);
	vx2(ZYDIS_MNEMONIC_CVTTPS2DQ, VT_F32, 16);
	vx2(ZYDIS_MNEMONIC_CVTDQ2PD, VT_I32, 8);
	vx2(ZYDIS_MNEMONIC_CVTPD2DQ, VT_F64, 16);
	vx2(ZYDIS_MNEMONIC_CVTTPD2DQ, VT_F64, 16);
	/* Scalar <-> general-purpose integer. */
	for (unsigned n = 4; n <= 8; n += 4) {
		vf(ZYDIS_MNEMONIC_CVTSI2SS, G_SSE, n == 4 ? VT_I32 : VT_I64, 0, 2, X, RM(n), NONE);
		vf(ZYDIS_MNEMONIC_CVTSI2SD, G_SSE, n == 4 ? VT_I32 : VT_I64, 0, 2, X, RM(n), NONE);
		vf(ZYDIS_MNEMONIC_CVTSS2SI, G_SSE, VT_F32, 0, 2, R(n), XM(4), NONE);
		vf(ZYDIS_MNEMONIC_CVTTSS2SI, G_SSE, VT_F32, 0, 2, R(n), XM(4), NONE);
		vf(ZYDIS_MNEMONIC_CVTSD2SI, G_SSE, VT_F64, 0, 2, R(n), XM(8), NONE);
		vf(ZYDIS_MNEMONIC_CVTTSD2SI, G_SSE, VT_F64, 0, 2, R(n), XM(8), NONE);
	}
	/* With an MMX operand. */
	vf(ZYDIS_MNEMONIC_CVTPI2PS, G_SSE, VT_I32, 0, 2, X, MMM(8), NONE);
	vf(ZYDIS_MNEMONIC_CVTPI2PD, G_SSE, VT_I32, 0, 2, X, MMM(8), NONE);
	vf(ZYDIS_MNEMONIC_CVTPS2PI, G_SSE, VT_F32, 0, 2, MM, XM(8), NONE);
	vf(ZYDIS_MNEMONIC_CVTTPS2PI, G_SSE, VT_F32, 0, 2, MM, XM(8), NONE);
	vf(ZYDIS_MNEMONIC_CVTPD2PI, G_SSE, VT_F64, 16, 2, MM, XM(16), NONE);
	vf(ZYDIS_MNEMONIC_CVTTPD2PI, G_SSE, VT_F64, 16, 2, MM, XM(16), NONE);
}

static void move_forms(void)
{
	static const struct {
		ZydisMnemonic m;
		uint8_t vt;
		bool unaligned;
	} moves[] = {
		{ ZYDIS_MNEMONIC_MOVAPS, VT_F32, false }, { ZYDIS_MNEMONIC_MOVAPD, VT_F64, false },
		{ ZYDIS_MNEMONIC_MOVDQA, VT_I32, false }, { ZYDIS_MNEMONIC_MOVUPS, VT_F32, true },
		{ ZYDIS_MNEMONIC_MOVUPD, VT_F64, true },  { ZYDIS_MNEMONIC_MOVDQU, VT_I32, true },
	};
	for (unsigned k = 0; k < sizeof(moves) / sizeof(moves[0]); k++) {
		unsigned a = moves[k].unaligned ? 0 : 16;
		vf(moves[k].m, G_SSE, (enum vtype)moves[k].vt, a, 2, X, XM(16), NONE);
		vf(moves[k].m, G_SSE, (enum vtype)moves[k].vt, a, 2, M(16), X, NONE);
	}
	vf(ZYDIS_MNEMONIC_MOVNTPS, G_SSE, VT_F32, 16, 2, M(16), X, NONE);
	vf(ZYDIS_MNEMONIC_MOVNTPD, G_SSE, VT_F64, 16, 2, M(16), X, NONE);
	vf(ZYDIS_MNEMONIC_MOVNTDQ, G_SSE, VT_I32, 16, 2, M(16), X, NONE);
	vf(ZYDIS_MNEMONIC_MOVNTI, G_SSE, VT_I32, 0, 2, M(4), R(4), NONE);
	vf(ZYDIS_MNEMONIC_MOVNTI, G_SSE, VT_I64, 0, 2, M(8), R(8), NONE);
	/* MOVD/MOVQ with general-purpose registers, MOVQ between XMM. */
	vf(ZYDIS_MNEMONIC_MOVD, G_SSE, VT_I32, 0, 2, X, RM(4), NONE);
	vf(ZYDIS_MNEMONIC_MOVD, G_SSE, VT_I32, 0, 2, RM(4), X, NONE);
	vf(ZYDIS_MNEMONIC_MOVQ, G_SSE, VT_I64, 0, 2, X, RM(8), NONE);
	vf(ZYDIS_MNEMONIC_MOVQ, G_SSE, VT_I64, 0, 2, RM(8), X, NONE);
	vf(ZYDIS_MNEMONIC_MOVQ, G_SSE, VT_I64, 0, 2, X, XM(8), NONE);
	vf(ZYDIS_MNEMONIC_MOVQ, G_SSE, VT_I64, 0, 2, M(8), X, NONE);
	/* Scalar and half-register moves. */
	vf(ZYDIS_MNEMONIC_MOVSS, G_SSE, VT_F32, 0, 2, X, XM(4), NONE);
	vf(ZYDIS_MNEMONIC_MOVSS, G_SSE, VT_F32, 0, 2, M(4), X, NONE);
	vf(ZYDIS_MNEMONIC_MOVSD, G_SSE, VT_F64, 0, 2, X, XM(8), NONE);
	vf(ZYDIS_MNEMONIC_MOVSD, G_SSE, VT_F64, 0, 2, M(8), X, NONE);
	static const ZydisMnemonic halves[] = { ZYDIS_MNEMONIC_MOVLPS, ZYDIS_MNEMONIC_MOVHPS, ZYDIS_MNEMONIC_MOVLPD,
						ZYDIS_MNEMONIC_MOVHPD };
	for (unsigned k = 0; k < 4; k++) {
		vf(halves[k], G_SSE, k < 2 ? VT_F32 : VT_F64, 0, 2, X, M(8), NONE);
		vf(halves[k], G_SSE, k < 2 ? VT_F32 : VT_F64, 0, 2, M(8), X, NONE);
	}
	vf(ZYDIS_MNEMONIC_MOVHLPS, G_SSE, VT_F32, 0, 2, X, X, NONE);
	vf(ZYDIS_MNEMONIC_MOVLHPS, G_SSE, VT_F32, 0, 2, X, X, NONE);
	vf(ZYDIS_MNEMONIC_MOVMSKPS, G_SSE, VT_F32, 0, 2, R(4), X, NONE);
	vf(ZYDIS_MNEMONIC_MOVMSKPD, G_SSE, VT_F64, 0, 2, R(4), X, NONE);
	vf(ZYDIS_MNEMONIC_PMOVMSKB, G_SSE, VT_I8, 0, 2, R(4), X, NONE);
	/* Shuffles and word insert/extract. */
	vf(ZYDIS_MNEMONIC_PSHUFD, G_SSE, VT_I32, 16, 3, X, XM(16), I8);
	vf(ZYDIS_MNEMONIC_PSHUFLW, G_SSE, VT_I16, 16, 3, X, XM(16), I8);
	vf(ZYDIS_MNEMONIC_PSHUFHW, G_SSE, VT_I16, 16, 3, X, XM(16), I8);
	vf(ZYDIS_MNEMONIC_PINSRW, G_SSE, VT_I16, 0, 3, X, R(4), I8);
	vf(ZYDIS_MNEMONIC_PINSRW, G_SSE, VT_I16, 0, 3, X, M(2), I8);
	vf(ZYDIS_MNEMONIC_PEXTRW, G_SSE, VT_I16, 0, 3, R(4), X, I8);
	vf(ZYDIS_MNEMONIC_PUNPCKLQDQ, G_SSE, VT_I64, 16, 2, X, XM(16), NONE);
	vf(ZYDIS_MNEMONIC_PUNPCKHQDQ, G_SSE, VT_I64, 16, 2, X, XM(16), NONE);
}

static void mmx_forms(void)
{
	vf(ZYDIS_MNEMONIC_MOVD, G_SSE, VT_I32, 0, 2, MM, RM(4), NONE);
	vf(ZYDIS_MNEMONIC_MOVD, G_SSE, VT_I32, 0, 2, RM(4), MM, NONE);
	vf(ZYDIS_MNEMONIC_MOVQ, G_SSE, VT_I64, 0, 2, MM, RM(8), NONE);
	vf(ZYDIS_MNEMONIC_MOVQ, G_SSE, VT_I64, 0, 2, RM(8), MM, NONE);
	vf(ZYDIS_MNEMONIC_MOVQ, G_SSE, VT_I64, 0, 2, MM, MMM(8), NONE);
	vf(ZYDIS_MNEMONIC_MOVQ, G_SSE, VT_I64, 0, 2, M(8), MM, NONE);
	vf(ZYDIS_MNEMONIC_MOVNTQ, G_SSE, VT_I64, 0, 2, M(8), MM, NONE);
	vf(ZYDIS_MNEMONIC_MOVQ2DQ, G_SSE, VT_I64, 0, 2, X, MM, NONE);
	vf(ZYDIS_MNEMONIC_MOVDQ2Q, G_SSE, VT_I64, 0, 2, MM, X, NONE);
	vf(ZYDIS_MNEMONIC_PSHUFW, G_SSE, VT_I16, 0, 3, MM, MMM(8), I8);
	vf(ZYDIS_MNEMONIC_PINSRW, G_SSE, VT_I16, 0, 3, MM, R(4), I8);
	vf(ZYDIS_MNEMONIC_PEXTRW, G_SSE, VT_I16, 0, 3, R(4), MM, I8);
	vf(ZYDIS_MNEMONIC_PMOVMSKB, G_SSE, VT_I8, 0, 2, R(4), MM, NONE);
	for (unsigned k = 0; k < sizeof(unpack_lo) / sizeof(unpack_lo[0]); k++)
		vf(unpack_lo[k].m, G_SSE, (enum vtype)unpack_lo[k].vt, 0, 2, MM, MMM(4), NONE);
	vf(ZYDIS_MNEMONIC_EMMS, G_X87CTL, VT_BYTES, 0, 0, NONE, NONE, NONE);
}

static void state_forms(void)
{
	static const ZydisMnemonic fx[] = { ZYDIS_MNEMONIC_FXSAVE, ZYDIS_MNEMONIC_FXSAVE64, ZYDIS_MNEMONIC_FXRSTOR,
					    ZYDIS_MNEMONIC_FXRSTOR64 };
	for (unsigned k = 0; k < 4; k++)
		vf(fx[k], G_FXSAVE, VT_F64, 16, 1, M(512), NONE, NONE);
	static const ZydisMnemonic xs[] = { ZYDIS_MNEMONIC_XSAVE, ZYDIS_MNEMONIC_XSAVE64, ZYDIS_MNEMONIC_XSAVEOPT,
					    ZYDIS_MNEMONIC_XSAVEOPT64, ZYDIS_MNEMONIC_XRSTOR, ZYDIS_MNEMONIC_XRSTOR64 };
	for (unsigned k = 0; k < 6; k++)
		vf(xs[k], G_XSAVE, VT_F64, 64, 1, M(576), NONE, NONE);
	vf(ZYDIS_MNEMONIC_LDMXCSR, G_MXCSR, VT_BYTES, 0, 1, M(4), NONE, NONE);
	vf(ZYDIS_MNEMONIC_STMXCSR, G_MXCSR, VT_BYTES, 0, 1, M(4), NONE, NONE);
	vf(ZYDIS_MNEMONIC_FNINIT, G_X87CTL, VT_BYTES, 0, 0, NONE, NONE, NONE);
	vf(ZYDIS_MNEMONIC_FNCLEX, G_X87CTL, VT_BYTES, 0, 0, NONE, NONE, NONE);
	vf(ZYDIS_MNEMONIC_FWAIT, G_X87CTL, VT_BYTES, 0, 0, NONE, NONE, NONE);
	vf(ZYDIS_MNEMONIC_FNSTCW, G_X87CTL, VT_BYTES, 0, 1, M(2), NONE, NONE);
	vf(ZYDIS_MNEMONIC_FLDCW, G_X87CTL, VT_BYTES, 0, 1, M(2), NONE, NONE);
	vf(ZYDIS_MNEMONIC_FNSTSW, G_X87CTL, VT_BYTES, 0, 1, M(2), NONE, NONE);
	vf(ZYDIS_MNEMONIC_FNSTSW, G_X87CTL, VT_BYTES, 0, 1, OPS_(K_ACC, 2), NONE, NONE);
}

#define ST0 OPS_(K_ST0, 10)
#define STI OPS_(K_STI, 10)

/* x87 forms (SDM Vol. 2 opcode tables ): memory operands of each
 * type, register forms with ST(i), and the operand-less instructions. */
static void x87_forms(void)
{
	static const ZydisMnemonic arith[] = { ZYDIS_MNEMONIC_FADD, ZYDIS_MNEMONIC_FSUB, ZYDIS_MNEMONIC_FSUBR,
					       ZYDIS_MNEMONIC_FMUL, ZYDIS_MNEMONIC_FDIV, ZYDIS_MNEMONIC_FDIVR };
	static const ZydisMnemonic arith_p[] = { ZYDIS_MNEMONIC_FADDP, ZYDIS_MNEMONIC_FSUBP, ZYDIS_MNEMONIC_FSUBRP,
						 ZYDIS_MNEMONIC_FMULP, ZYDIS_MNEMONIC_FDIVP, ZYDIS_MNEMONIC_FDIVRP };
	static const ZydisMnemonic arith_i[] = { ZYDIS_MNEMONIC_FIADD, ZYDIS_MNEMONIC_FISUB, ZYDIS_MNEMONIC_FISUBR,
						 ZYDIS_MNEMONIC_FIMUL, ZYDIS_MNEMONIC_FIDIV, ZYDIS_MNEMONIC_FIDIVR };
	for (unsigned k = 0; k < 6; k++) {
		vf(arith[k], G_X87, VT_F32, 0, 1, M(4), NONE, NONE);
		vf(arith[k], G_X87, VT_F64, 0, 1, M(8), NONE, NONE);
		vf(arith[k], G_X87, VT_F80, 0, 2, ST0, STI, NONE);
		vf(arith[k], G_X87, VT_F80, 0, 2, STI, ST0, NONE);
		vf(arith_p[k], G_X87, VT_F80, 0, 2, STI, ST0, NONE);
		vf(arith_i[k], G_X87, VT_I16, 0, 1, M(2), NONE, NONE);
		vf(arith_i[k], G_X87, VT_I32, 0, 1, M(4), NONE, NONE);
	}
	/* One operand: memory of the size given, or ST(i) (size 0). */
	static const struct {
		ZydisMnemonic m;
		uint8_t vt, size;
	} one[] = {
		{ ZYDIS_MNEMONIC_FLD, VT_F32, 4 },    { ZYDIS_MNEMONIC_FLD, VT_F64, 8 },
		{ ZYDIS_MNEMONIC_FLD, VT_F80, 10 },   { ZYDIS_MNEMONIC_FLD, VT_F80, 0 },
		{ ZYDIS_MNEMONIC_FILD, VT_I16, 2 },   { ZYDIS_MNEMONIC_FILD, VT_I32, 4 },
		{ ZYDIS_MNEMONIC_FILD, VT_I64, 8 },   { ZYDIS_MNEMONIC_FBLD, VT_BYTES, 10 },
		{ ZYDIS_MNEMONIC_FST, VT_F32, 4 },    { ZYDIS_MNEMONIC_FST, VT_F64, 8 },
		{ ZYDIS_MNEMONIC_FST, VT_F80, 0 },    { ZYDIS_MNEMONIC_FSTP, VT_F32, 4 },
		{ ZYDIS_MNEMONIC_FSTP, VT_F64, 8 },   { ZYDIS_MNEMONIC_FSTP, VT_F80, 10 },
		{ ZYDIS_MNEMONIC_FSTP, VT_F80, 0 },   { ZYDIS_MNEMONIC_FIST, VT_I16, 2 },
		{ ZYDIS_MNEMONIC_FIST, VT_I32, 4 },   { ZYDIS_MNEMONIC_FISTP, VT_I16, 2 },
		{ ZYDIS_MNEMONIC_FISTP, VT_I32, 4 },  { ZYDIS_MNEMONIC_FISTP, VT_I64, 8 },
		{ ZYDIS_MNEMONIC_FBSTP, VT_BYTES, 10 }, { ZYDIS_MNEMONIC_FXCH, VT_F80, 0 },
		{ ZYDIS_MNEMONIC_FFREE, VT_F80, 0 },  { ZYDIS_MNEMONIC_FCOM, VT_F32, 4 },
		{ ZYDIS_MNEMONIC_FCOM, VT_F64, 8 },   { ZYDIS_MNEMONIC_FCOM, VT_F80, 0 },
		{ ZYDIS_MNEMONIC_FCOMP, VT_F32, 4 },  { ZYDIS_MNEMONIC_FCOMP, VT_F64, 8 },
		{ ZYDIS_MNEMONIC_FCOMP, VT_F80, 0 },  { ZYDIS_MNEMONIC_FICOM, VT_I16, 2 },
		{ ZYDIS_MNEMONIC_FICOM, VT_I32, 4 },  { ZYDIS_MNEMONIC_FICOMP, VT_I16, 2 },
		{ ZYDIS_MNEMONIC_FICOMP, VT_I32, 4 }, { ZYDIS_MNEMONIC_FUCOM, VT_F80, 0 },
		{ ZYDIS_MNEMONIC_FFREEP, VT_F80, 0 },
		{ ZYDIS_MNEMONIC_FNSTENV, VT_BYTES, 28 }, { ZYDIS_MNEMONIC_FLDENV, VT_BYTES, 28 },
		{ ZYDIS_MNEMONIC_FNSAVE, VT_BYTES, 108 }, { ZYDIS_MNEMONIC_FRSTOR, VT_BYTES, 108 },
	};
	for (unsigned k = 0; k < sizeof(one) / sizeof(one[0]); k++)
		vf(one[k].m, G_X87, (enum vtype)one[k].vt, 0, 1, one[k].size ? M(one[k].size) : STI, NONE, NONE);
	vf(ZYDIS_MNEMONIC_FUCOMP, G_X87, VT_F80, 0, 2, ST0, STI, NONE);
	static const ZydisMnemonic comi[] = { ZYDIS_MNEMONIC_FCOMI, ZYDIS_MNEMONIC_FCOMIP, ZYDIS_MNEMONIC_FUCOMI,
					      ZYDIS_MNEMONIC_FUCOMIP, ZYDIS_MNEMONIC_FCMOVB, ZYDIS_MNEMONIC_FCMOVE,
					      ZYDIS_MNEMONIC_FCMOVBE, ZYDIS_MNEMONIC_FCMOVU, ZYDIS_MNEMONIC_FCMOVNB,
					      ZYDIS_MNEMONIC_FCMOVNE, ZYDIS_MNEMONIC_FCMOVNBE, ZYDIS_MNEMONIC_FCMOVNU };
	for (unsigned k = 0; k < sizeof(comi) / sizeof(comi[0]); k++)
		vf(comi[k], G_X87, VT_F80, 0, 2, ST0, STI, NONE);
	static const ZydisMnemonic none[] = {
		ZYDIS_MNEMONIC_FCOMPP, ZYDIS_MNEMONIC_FUCOMPP, ZYDIS_MNEMONIC_FTST,    ZYDIS_MNEMONIC_FXAM,
		ZYDIS_MNEMONIC_FLD1,   ZYDIS_MNEMONIC_FLDL2T,  ZYDIS_MNEMONIC_FLDL2E,  ZYDIS_MNEMONIC_FLDPI,
		ZYDIS_MNEMONIC_FLDLG2, ZYDIS_MNEMONIC_FLDLN2,  ZYDIS_MNEMONIC_FLDZ,    ZYDIS_MNEMONIC_FCHS,
		ZYDIS_MNEMONIC_FABS,   ZYDIS_MNEMONIC_FSQRT,   ZYDIS_MNEMONIC_FSCALE,  ZYDIS_MNEMONIC_FPREM,
		ZYDIS_MNEMONIC_FPREM1, ZYDIS_MNEMONIC_FRNDINT, ZYDIS_MNEMONIC_FXTRACT, ZYDIS_MNEMONIC_F2XM1,
		ZYDIS_MNEMONIC_FYL2X,  ZYDIS_MNEMONIC_FYL2XP1, ZYDIS_MNEMONIC_FPTAN,   ZYDIS_MNEMONIC_FPATAN,
		ZYDIS_MNEMONIC_FSIN,   ZYDIS_MNEMONIC_FCOS,    ZYDIS_MNEMONIC_FSINCOS, ZYDIS_MNEMONIC_FINCSTP,
		ZYDIS_MNEMONIC_FDECSTP, ZYDIS_MNEMONIC_FNOP,
	};
	for (unsigned k = 0; k < sizeof(none) / sizeof(none[0]); k++)
		vf(none[k], G_X87, VT_F80, 0, 0, NONE, NONE, NONE);
}

/* 32-bit compatibility-mode clones: no REX, so no 64-bit general-purpose
 * operands, no XMM8-XMM15 and no *64 state forms. The x87 forms also get
 * 16-bit clones: 16-bit addressing, and the 16-bit formats of the x87
 * environment (SDM Vol. 1 8.1.10, Figures 8-10 and 8-11). */
static void add_compat(unsigned first)
{
	unsigned n = nforms;
	for (unsigned k = first; k < n && nforms < MAX_FORMS; k++) {
		const struct form *f = &forms[k];
		if (f->group == G_X87) {
			unsigned sz = f->sz;
			if (f->mnem == ZYDIS_MNEMONIC_FNSTENV || f->mnem == ZYDIS_MNEMONIC_FLDENV)
				sz = 14;
			else if (f->mnem == ZYDIS_MNEMONIC_FNSAVE || f->mnem == ZYDIS_MNEMONIC_FRSTOR)
				sz = 94;
			struct opspec a = f->op[0];
			if (a.k == K_M)
				a.sz = (uint16_t)sz;
			struct form *h = add_form(f->mnem, G_X87, sz, f->nops, a, f->op[1], f->op[2]);
			if (!h)
				return;
			h->vt = f->vt;
			h->compat = h->code16 = true;
			size_t len = strlen(h->name);
			snprintf(h->name + len, sizeof(h->name) - len, " [c16]");
		}
		bool gpr64 = false;
		for (unsigned j = 0; j < f->nops; j++)
			gpr64 |= (f->op[j].k == K_R || f->op[j].k == K_RM) && f->op[j].sz == 8;
		ZydisMnemonic m = f->mnem;
		if (gpr64 || m == ZYDIS_MNEMONIC_FXSAVE64 || m == ZYDIS_MNEMONIC_FXRSTOR64 ||
		    m == ZYDIS_MNEMONIC_XSAVE64 || m == ZYDIS_MNEMONIC_XSAVEOPT64 || m == ZYDIS_MNEMONIC_XRSTOR64)
			continue;
		struct form *g = add_form(m, (enum group)f->group, f->sz, f->nops, f->op[0], f->op[1], f->op[2]);
		if (!g)
			return;
		g->vt = f->vt;
		g->align = f->align;
		g->compat = true;
		size_t len = strlen(g->name);
		snprintf(g->name + len, sizeof(g->name) - len, " [c32]");
	}
}

void forms_sse_build(void)
{
	unsigned first = nforms;
	for (unsigned k = 0; k < sizeof(int_ops) / sizeof(int_ops[0]); k++)
		vint(int_ops[k].m, (enum vtype)int_ops[k].vt, true);
	for (unsigned k = 0; k < sizeof(unpack_lo) / sizeof(unpack_lo[0]); k++)
		vx2(unpack_lo[k].m, (enum vtype)unpack_lo[k].vt, 16);
	for (unsigned k = 0; k < sizeof(shifts) / sizeof(shifts[0]); k++) {
		vint(shifts[k].m, (enum vtype)shifts[k].vt, true);
		vf(shifts[k].m, G_SSE_SHIFT, (enum vtype)shifts[k].vt, 0, 2, X, I8, NONE);
		vf(shifts[k].m, G_SSE_SHIFT, (enum vtype)shifts[k].vt, 0, 2, MM, I8, NONE);
	}
	vf(ZYDIS_MNEMONIC_PSLLDQ, G_SSE_SHIFT, VT_I8, 0, 2, X, I8, NONE);
	vf(ZYDIS_MNEMONIC_PSRLDQ, G_SSE_SHIFT, VT_I8, 0, 2, X, I8, NONE);
	fp_forms();
	move_forms();
	mmx_forms();
	state_forms();
	x87_forms();
	add_compat(first);
}
