/*
 * SSE/SSE2 floating-point instructions: arithmetic, square root, min/max,
 * reciprocal estimates, compares, COMISS/UCOMISS and the conversions.
 *
 * Results are bit-exact by construction: each handler executes the very
 * same instruction on the host CPU, with the guest's rounding control, DAZ
 * and FTZ loaded into the host's MXCSR and every exception masked, and
 * reads back the exception flags it raised. What the host cannot do for
 * the guest is fault, so the guest's exception masks are applied afterwards
 * (sse_fp_flags(), SDM Vol. 1 11.5): pre-computation exceptions before
 * post-computation ones, nothing written on an unmasked exception.
 *
 * Two cases need more than the masked flags (fp_exec2()):
 *  - with underflow unmasked (UM = 0), underflow is signalled for a tiny
 *    result even when it is exact, and FTZ does not apply (Vol. 1 4.9.1.5,
 *    11.5.2.5); masked, UE is set only for tiny and inexact results. So
 *    with UM = 0 the host runs without FTZ and an exact tiny result -- a
 *    denormal in the destination -- signals UE too;
 *  - an unmasked overflow or underflow delivers no result, and PE then
 *    says whether the result rounded with an unbounded exponent is inexact,
 *    where the masked response (infinity, the largest normal, a denormal)
 *    would always set it.
 *
 * RCPPS/RCPSS/RSQRTPS/RSQRTSS are approximations whose exact bits the SDM
 * leaves to the implementation: the guest gets the host CPU's.
 *
 * The x86-64 host always has SSE2, and DAZ (MXCSR_MASK bit 6) on every
 * x86-64 processor, so the guest's MXCSR (bits 15:0) loads on the host.
 */
#include "ops.h"
#include "sse.h"

/* The host MXCSR for an operation under the guest's MXCSR mx. */
static inline uint32_t host_mxcsr(uint32_t mx)
{
	uint32_t h = (mx & ~MXCSR_FLAGS & MXCSR_SUPPORTED) | MXCSR_MASKS;
	if (!(mx & (MXCSR_UE << MXCSR_MASK_SHIFT)))
		h &= ~MXCSR_FTZ;
	return h;
}

static inline bool um_clear(uint32_t mx)
{
	return !(mx & (MXCSR_UE << MXCSR_MASK_SHIFT));
}

/* A non-zero denormal among elements [k, k + n) of size esz. */
static bool denormal_result(const vec128 *v, unsigned esz, unsigned k, unsigned n)
{
	for (; n--; k++) {
		if (esz == 4) {
			uint32_t x = v->d[k];
			if (!(x & 0x7f800000u) && (x & 0x007fffffu))
				return true;
		} else {
			uint64_t x = v->q[k];
			if (!(x & 0x7ff0000000000000ull) && (x & 0x000fffffffffffffull))
				return true;
		}
	}
	return false;
}

/* Element k of a vector set to 1.0, an operand with which every operation
 * here is exact. */
static void set_one(vec128 *v, unsigned esz, unsigned k)
{
	if (esz == 4)
		v->d[k] = 0x3f800000u;
	else
		v->q[k] = 0x3ff0000000000000ull;
}

/*
 * Host execution. Each asm statement saves the host MXCSR, loads the
 * operation's, runs the instruction, stores the resulting MXCSR and
 * restores the host's: the compiler cannot move floating-point code of its
 * own in between.
 */
#define HOST_PRE "stmxcsr %[h]\n\tldmxcsr %[m]\n\t"
#define HOST_POST "\n\tstmxcsr %[m]\n\tldmxcsr %[h]"

typedef uint32_t (*host_fp2)(v2di *d, v2di s, uint32_t mx);

/* insn src, dst: DEST <- op(DEST, SRC), or op(SRC) with DEST's other
 * elements kept (scalar forms, SQRTSS...). */
#define HOST2(name, insn)                                                                   \
	static uint32_t name(v2di *d, v2di s, uint32_t mx)                                  \
	{                                                                                   \
		uint32_t h;                                                                 \
		__asm__ volatile(HOST_PRE insn " %[s], %[d]" HOST_POST                      \
				 : [d] "+x"(*d), [m] "+m"(mx), [h] "=m"(h)                  \
				 : [s] "x"(s));                                             \
		return mx;                                                                  \
	}

/* How an operation's elements combine their operands, for the scaling
 * below: both by one factor (add, subtract), each on its own (multiply,
 * divide), or the source alone (the narrowing conversions). */
enum fp_kind { FPK_ADD, FPK_MUL, FPK_CVT };

/* The elements of an operation that can overflow or underflow: their kind,
 * input and result sizes and their number. */
struct fp_lanes {
	uint8_t kind, in_esz, out_esz, n;
};
#define LANES(name, kind, in, out, n) static const struct fp_lanes name = { kind, in, out, n };
LANES(add_ps, FPK_ADD, 4, 4, 4)
LANES(add_ss, FPK_ADD, 4, 4, 1)
LANES(add_pd, FPK_ADD, 8, 8, 2)
LANES(add_sd, FPK_ADD, 8, 8, 1)
LANES(mul_ps, FPK_MUL, 4, 4, 4)
LANES(mul_ss, FPK_MUL, 4, 4, 1)
LANES(mul_pd, FPK_MUL, 8, 8, 2)
LANES(mul_sd, FPK_MUL, 8, 8, 1)
LANES(cvt_pd2ps, FPK_CVT, 8, 4, 2)
LANES(cvt_sd2ss, FPK_CVT, 8, 4, 1)

/* IEEE binary32/binary64 fields of element k (SDM Vol. 1 4.2.2). */
struct fpfmt {
	unsigned mbits, ebits;
};

static struct fpfmt fmt_of(unsigned esz)
{
	return esz == 4 ? (struct fpfmt){ 23, 8 } : (struct fpfmt){ 52, 11 };
}

static uint64_t lane_get(const vec128 *v, unsigned esz, unsigned k)
{
	return esz == 4 ? v->d[k] : v->q[k];
}

static void lane_put(vec128 *v, unsigned esz, unsigned k, uint64_t x)
{
	if (esz == 4)
		v->d[k] = (uint32_t)x;
	else
		v->q[k] = x;
}

/* The unbiased exponent of a finite non-zero value (denormals as if
 * normalized). */
static int lane_exp(uint64_t x, struct fpfmt f)
{
	int bias = (1 << (f.ebits - 1)) - 1;
	uint64_t e = (x >> f.mbits) & ((1ull << f.ebits) - 1), m = x & ((1ull << f.mbits) - 1);
	if (e)
		return (int)e - bias;
	return 1 - bias - (int)(f.mbits - (63 - (unsigned)__builtin_clzll(m)));
}

/* x with the same sign and significand and the unbiased exponent exp
 * (within the normal range): an exact scaling by a power of two. */
static uint64_t lane_scale(uint64_t x, struct fpfmt f, int exp)
{
	int bias = (1 << (f.ebits - 1)) - 1;
	uint64_t sign = x & (1ull << (f.mbits + f.ebits)), e = (x >> f.mbits) & ((1ull << f.ebits) - 1);
	uint64_t m = x & ((1ull << f.mbits) - 1);
	if (!e) { /* normalize: the leading 1 becomes implicit */
		unsigned shift = f.mbits - (63 - (unsigned)__builtin_clzll(m));
		m = (m << shift) & ((1ull << f.mbits) - 1);
	}
	return sign | ((uint64_t)(exp + bias) << f.mbits) | m;
}

static bool lane_denormal(uint64_t x, struct fpfmt f)
{
	return !((x >> f.mbits) & ((1ull << f.ebits) - 1)) && (x & ((1ull << f.mbits) - 1));
}

/*
 * Whether element k of op(d, s) is inexact when rounded with an unbounded
 * exponent (Vol. 1 4.8.4, 4.9.1.4/4.9.1.5): for an element whose overflow
 * or underflow is unmasked, which delivers no result, the precision flag
 * reports exactly that. The operation is rerun with its operands scaled by
 * powers of two -- exactly -- into a range where it neither overflows nor
 * underflows: each to exponent 0 for a multiply or divide or a conversion;
 * both by the factor that brings the larger to exponent 0 for an add or
 * subtract, a smaller one that would leave the normal range then standing
 * for a non-zero value far below the rounding position.
 */
static bool inexact_unbounded(host_fp2 fn, const vec128 *d, const vec128 *s, uint32_t mx,
			      const struct fp_lanes *l, unsigned k)
{
	struct fpfmt f = fmt_of(l->in_esz);
	int emin = 2 - (1 << (f.ebits - 1));
	vec128 d1 = *d, s1 = *s;
	for (unsigned j = 0; j < l->n; j++) {
		if (j != k) {
			set_one(&d1, l->in_esz, j);
			set_one(&s1, l->in_esz, j);
		}
	}
	uint64_t a = lane_get(d, l->in_esz, k), b = lane_get(s, l->in_esz, k);
	uint64_t zero_a = a & (1ull << (f.mbits + f.ebits)), zero_b = b & (1ull << (f.mbits + f.ebits));
	if (mx & MXCSR_DAZ) { /* denormal operands are zeros */
		a = lane_denormal(a, f) ? zero_a : a;
		b = lane_denormal(b, f) ? zero_b : b;
	}
	bool za = a == zero_a, zb = b == zero_b;
	switch (l->kind) {
	case FPK_MUL:
		a = za ? a : lane_scale(a, f, 0);
		b = zb ? b : lane_scale(b, f, 0);
		break;
	case FPK_CVT:
		b = zb ? b : lane_scale(b, f, 0);
		break;
	default: {
		int ea = za ? emin : lane_exp(a, f), eb = zb ? emin : lane_exp(b, f);
		int top = ea > eb ? ea : eb;
		a = za ? a : lane_scale(a, f, ea - top < emin ? emin : ea - top);
		b = zb ? b : lane_scale(b, f, eb - top < emin ? emin : eb - top);
		break;
	}
	}
	lane_put(&d1, l->in_esz, k, a);
	lane_put(&s1, l->in_esz, k, b);
	uint32_t h = (mx & MXCSR_RC) | MXCSR_MASKS;
	return (fn(&d1.v, s1.v, h) & MXCSR_PE) != 0;
}

/*
 * The result of DEST <- op(DEST, SRC) in *res, and the exception flags
 * the guest's MXCSR mx makes it raise (before masking):
 *  - with UM = 0, an exact tiny result signals UE too (see the top);
 *  - an element whose overflow or underflow is unmasked reports PE only if
 *    its result is inexact with an unbounded exponent (a masked response
 *    would always be inexact: infinity or the largest normal, or a
 *    denormalized result). Then the elements are run one by one (the
 *    others set to 1.0, which raises nothing) for their flags.
 */
static uint32_t fp_exec2(host_fp2 fn, const vec128 *d, const vec128 *s, vec128 *res, uint32_t mx,
			 const struct fp_lanes *l)
{
	*res = *d;
	uint32_t raised = fn(&res->v, s->v, host_mxcsr(mx)) & MXCSR_FLAGS;
	if (!l)
		return raised;
	uint32_t unmasked = ~(mx >> MXCSR_MASK_SHIFT) & MXCSR_FLAGS;
	if (um_clear(mx) && denormal_result(res, l->out_esz, 0, l->n))
		raised |= MXCSR_UE;
	if ((raised & unmasked & MXCSR_PRE) || !(raised & unmasked & (MXCSR_OE | MXCSR_UE)))
		return raised;
	uint32_t all = 0;
	for (unsigned k = 0; k < l->n; k++) {
		vec128 d1 = *d, s1 = *s;
		for (unsigned j = 0; j < l->n; j++) {
			if (j != k) {
				set_one(&d1, l->in_esz, j);
				set_one(&s1, l->in_esz, j);
			}
		}
		uint32_t f = fn(&d1.v, s1.v, host_mxcsr(mx)) & MXCSR_FLAGS;
		if (um_clear(mx) && denormal_result(&d1, l->out_esz, k, 1))
			f |= MXCSR_UE;
		if (f & unmasked & (MXCSR_OE | MXCSR_UE))
			f = (f & ~MXCSR_PE) | (inexact_unbounded(fn, d, s, mx, l, k) ? MXCSR_PE : 0);
		all |= f;
	}
	return all;
}

/*
 * Run a two-operand instruction: SRC is operand 1 (XMM or memory of the
 * operand's size, 16-byte memory operands aligned), DEST the XMM register
 * in operand 0; l: the elements that can overflow or underflow (NULL: none).
 */
static inline void fp_run2(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, host_fp2 fn,
			   const struct fp_lanes *l)
{
	sse_enter(c, f);
	vec128 s, d, r;
	vec_read(c, i, 1, &s, 0);
	xmm_get(c, i->op[0].reg, &d);
	sse_fp_flags(c, fp_exec2(fn, &d, &s, &r, mxcsr_get(c), l));
	xmm_put(c, i->op[0].reg, &r);
}

#define FP2(mnem, feat, lanes) \
	HOST2(host_##mnem, #mnem)  \
	SSE_HANDLER(mnem, fp_run2, feat, host_##mnem, lanes)

/* Arithmetic (Vol. 2 ADDPS...DIVSD): results can underflow. */
FP2(addps, CPUF_SSE, &add_ps)
FP2(addss, CPUF_SSE, &add_ss)
FP2(addpd, CPUF_SSE2, &add_pd)
FP2(addsd, CPUF_SSE2, &add_sd)
FP2(subps, CPUF_SSE, &add_ps)
FP2(subss, CPUF_SSE, &add_ss)
FP2(subpd, CPUF_SSE2, &add_pd)
FP2(subsd, CPUF_SSE2, &add_sd)
FP2(mulps, CPUF_SSE, &mul_ps)
FP2(mulss, CPUF_SSE, &mul_ss)
FP2(mulpd, CPUF_SSE2, &mul_pd)
FP2(mulsd, CPUF_SSE2, &mul_sd)
FP2(divps, CPUF_SSE, &mul_ps)
FP2(divss, CPUF_SSE, &mul_ss)
FP2(divpd, CPUF_SSE2, &mul_pd)
FP2(divsd, CPUF_SSE2, &mul_sd)
/* MIN/MAX, SQRT: no underflow. */
FP2(minps, CPUF_SSE, NULL)
FP2(minss, CPUF_SSE, NULL)
FP2(minpd, CPUF_SSE2, NULL)
FP2(minsd, CPUF_SSE2, NULL)
FP2(maxps, CPUF_SSE, NULL)
FP2(maxss, CPUF_SSE, NULL)
FP2(maxpd, CPUF_SSE2, NULL)
FP2(maxsd, CPUF_SSE2, NULL)
FP2(sqrtps, CPUF_SSE, NULL)
FP2(sqrtss, CPUF_SSE, NULL)
FP2(sqrtpd, CPUF_SSE2, NULL)
FP2(sqrtsd, CPUF_SSE2, NULL)
/* Estimates: no exceptions at all. */
FP2(rcpps, CPUF_SSE, NULL)
FP2(rcpss, CPUF_SSE, NULL)
FP2(rsqrtps, CPUF_SSE, NULL)
FP2(rsqrtss, CPUF_SSE, NULL)
/* Conversions between floating-point formats and to/from packed int32;
 * only the narrowing ones can underflow. */
FP2(cvtps2pd, CPUF_SSE2, NULL)
FP2(cvtpd2ps, CPUF_SSE2, &cvt_pd2ps)
FP2(cvtss2sd, CPUF_SSE2, NULL)
FP2(cvtsd2ss, CPUF_SSE2, &cvt_sd2ss)
FP2(cvtdq2ps, CPUF_SSE2, NULL)
FP2(cvtps2dq, CPUF_SSE2, NULL)
FP2(cvttps2dq, CPUF_SSE2, NULL)
FP2(cvtdq2pd, CPUF_SSE2, NULL)
FP2(cvtpd2dq, CPUF_SSE2, NULL)
FP2(cvttpd2dq, CPUF_SSE2, NULL)

/* ---- CMPPS/CMPPD/CMPSS/CMPSD: the predicate is imm8[2:0] (Vol. 2A) ---- */

#define HOST_CMP(op, p) HOST2(host_##op##_##p, #op " $" #p ",")
#define HOST_CMP_ALL(op)                                                                        \
	HOST_CMP(op, 0) HOST_CMP(op, 1) HOST_CMP(op, 2) HOST_CMP(op, 3) HOST_CMP(op, 4)         \
		HOST_CMP(op, 5) HOST_CMP(op, 6) HOST_CMP(op, 7) static const host_fp2 host_##op[8] = { \
			host_##op##_0, host_##op##_1, host_##op##_2, host_##op##_3,                     \
			host_##op##_4, host_##op##_5, host_##op##_6, host_##op##_7,                     \
		};
HOST_CMP_ALL(cmpps)
HOST_CMP_ALL(cmppd)
HOST_CMP_ALL(cmpss)
HOST_CMP_ALL(cmpsd)

SSE_HANDLER(cmpps, fp_run2, CPUF_SSE, host_cmpps[i->op[2].disp & 7], NULL)
SSE_HANDLER(cmppd, fp_run2, CPUF_SSE2, host_cmppd[i->op[2].disp & 7], NULL)
SSE_HANDLER(cmpss, fp_run2, CPUF_SSE, host_cmpss[i->op[2].disp & 7], NULL)
SSE_HANDLER(cmpsd_sse, fp_run2, CPUF_SSE2, host_cmpsd[i->op[2].disp & 7], NULL)

/* ---- COMISS/COMISD/UCOMISS/UCOMISD: ZF, PF, CF; OF, AF, SF cleared ---- */

typedef uint32_t (*host_comi)(v2di a, v2di b, uint32_t mx, uint64_t *flags);

#define HOST_COMI(name)                                                                          \
	static uint32_t host_##name(v2di a, v2di b, uint32_t mx, uint64_t *flags)                \
	{                                                                                        \
		uint32_t h;                                                                      \
		bool zf, pf, cf;                                                                 \
		__asm__ volatile(HOST_PRE #name " %[b], %[a]" HOST_POST                          \
				 : "=@ccz"(zf), "=@ccp"(pf), "=@ccc"(cf), [m] "+m"(mx), [h] "=m"(h) \
				 : [a] "x"(a), [b] "x"(b));                                      \
		*flags = (zf ? RFLAGS_ZF : 0) | (pf ? RFLAGS_PF : 0) | (cf ? RFLAGS_CF : 0);     \
		return mx;                                                                       \
	}
HOST_COMI(comiss)
HOST_COMI(comisd)
HOST_COMI(ucomiss)
HOST_COMI(ucomisd)

static void comi(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, host_comi fn)
{
	sse_enter(c, f);
	vec128 a, b;
	vec_read(c, i, 1, &b, 0);
	xmm_get(c, i->op[0].reg, &a);
	uint64_t fl;
	sse_fp_flags(c, fn(a.v, b.v, host_mxcsr(mxcsr_get(c)), &fl) & MXCSR_FLAGS);
	emu_set_flags(c, (emu_flags(c) & ~RFLAGS_ARITH) | fl);
}

SSE_HANDLER(comiss, comi, CPUF_SSE, host_comiss)
SSE_HANDLER(comisd, comi, CPUF_SSE2, host_comisd)
SSE_HANDLER(ucomiss, comi, CPUF_SSE, host_ucomiss)
SSE_HANDLER(ucomisd, comi, CPUF_SSE2, host_ucomisd)

/* ---- integer <-> scalar floating point ---- */

/* CVTSI2SS/CVTSI2SD xmm, r/m32 or r/m64: the low element from a signed
 * integer (inexact for large values), the rest of DEST kept. */
#define HOST_FROM_INT(name, insn, mod)                                               \
	static uint32_t name(v2di *d, uint64_t s, uint32_t mx)                       \
	{                                                                            \
		uint32_t h;                                                          \
		__asm__ volatile(HOST_PRE insn " %" mod "[s], %[d]" HOST_POST        \
				 : [d] "+x"(*d), [m] "+m"(mx), [h] "=m"(h)           \
				 : [s] "r"(s));                                      \
		return mx;                                                           \
	}
HOST_FROM_INT(host_cvtsi2ss32, "cvtsi2ssl", "k")
HOST_FROM_INT(host_cvtsi2ss64, "cvtsi2ssq", "q")
HOST_FROM_INT(host_cvtsi2sd32, "cvtsi2sdl", "k")
HOST_FROM_INT(host_cvtsi2sd64, "cvtsi2sdq", "q")

typedef uint32_t (*host_from_int)(v2di *d, uint64_t s, uint32_t mx);

static void cvt_from_int(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, host_from_int f32,
			 host_from_int f64)
{
	sse_enter(c, f);
	vec128 s, d;
	vec_read(c, i, 1, &s, 0);
	xmm_get(c, i->op[0].reg, &d);
	host_from_int fn = i->op[1].size == 8 ? f64 : f32;
	sse_fp_flags(c, fn(&d.v, s.q[0], host_mxcsr(mxcsr_get(c))) & MXCSR_FLAGS);
	xmm_put(c, i->op[0].reg, &d);
}

SSE_HANDLER(cvtsi2ss, cvt_from_int, CPUF_SSE, host_cvtsi2ss32, host_cvtsi2ss64)
SSE_HANDLER(cvtsi2sd, cvt_from_int, CPUF_SSE2, host_cvtsi2sd32, host_cvtsi2sd64)

/* CVTSS2SI/CVTTSS2SI/CVTSD2SI/CVTTSD2SI r32/r64, xmm/m32/m64: rounded by
 * MXCSR.RC or truncated; NaN and out-of-range give the integer indefinite
 * (IE). */
#define HOST_TO_INT(name, insn, mod)                                                  \
	static uint32_t name(v2di s, uint64_t *out, uint32_t mx)                      \
	{                                                                             \
		uint32_t h;                                                           \
		uint64_t r = 0;                                                       \
		__asm__ volatile(HOST_PRE insn " %[s], %" mod "[r]" HOST_POST         \
				 : [r] "+r"(r), [m] "+m"(mx), [h] "=m"(h)             \
				 : [s] "x"(s));                                       \
		*out = r;                                                             \
		return mx;                                                            \
	}
HOST_TO_INT(host_cvtss2si32, "cvtss2si", "k")
HOST_TO_INT(host_cvtss2si64, "cvtss2si", "q")
HOST_TO_INT(host_cvttss2si32, "cvttss2si", "k")
HOST_TO_INT(host_cvttss2si64, "cvttss2si", "q")
HOST_TO_INT(host_cvtsd2si32, "cvtsd2si", "k")
HOST_TO_INT(host_cvtsd2si64, "cvtsd2si", "q")
HOST_TO_INT(host_cvttsd2si32, "cvttsd2si", "k")
HOST_TO_INT(host_cvttsd2si64, "cvttsd2si", "q")

typedef uint32_t (*host_to_int)(v2di s, uint64_t *out, uint32_t mx);

static void cvt_to_int(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, host_to_int f32,
		       host_to_int f64)
{
	sse_enter(c, f);
	vec128 s;
	vec_read(c, i, 1, &s, 0);
	uint64_t r;
	bool q = i->op[0].size == 8;
	sse_fp_flags(c, (q ? f64 : f32)(s.v, &r, host_mxcsr(mxcsr_get(c))) & MXCSR_FLAGS);
	gpr_write(c, i->op[0].reg, false, q ? 8 : 4, r);
}

SSE_HANDLER(cvtss2si, cvt_to_int, CPUF_SSE, host_cvtss2si32, host_cvtss2si64)
SSE_HANDLER(cvttss2si, cvt_to_int, CPUF_SSE, host_cvttss2si32, host_cvttss2si64)
SSE_HANDLER(cvtsd2si, cvt_to_int, CPUF_SSE2, host_cvtsd2si32, host_cvtsd2si64)
SSE_HANDLER(cvttsd2si, cvt_to_int, CPUF_SSE2, host_cvttsd2si32, host_cvttsd2si64)

/* ---- conversions with an MMX operand (CVTPI2PS...CVTTPD2PI) ---- */

/*
 * These are the packed-int32 conversions on two elements: the host runs
 * the XMM form on a copy whose other elements are 0 (which convert exactly
 * and raise nothing). An MMX register operand switches the x87 state to
 * MMX use (Vol. 2A CVTPI2PS: "if the source is an MMX register").
 */
static void cvt_mmx(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, host_fp2 fn,
		    unsigned src_quads, bool keep_high)
{
	sse_enter(c, f);
	if (op_is_mmx(i, 0) || op_is_mmx(i, 1))
		mmx_enter(c, CPUF_MMX);
	vec128 s, t, d;
	vec_read(c, i, 1, &s, 0);
	if (src_quads == 1)
		s.q[1] = 0;
	memset(&t, 0, sizeof(t));
	/* The transition precedes the SIMD floating-point exception check
	 * (as an AMD EPYC host does it; the SDM does not order them). */
	vec_done(c, i);
	sse_fp_flags(c, fn(&t.v, s.v, host_mxcsr(mxcsr_get(c))) & MXCSR_FLAGS);
	if (op_is_mmx(i, 0)) {
		mmx_put(c, i->op[0].reg, t.q[0]);
		return;
	}
	xmm_get(c, i->op[0].reg, &d);
	d.q[0] = t.q[0];
	if (!keep_high)
		d.q[1] = t.q[1];
	xmm_put(c, i->op[0].reg, &d);
}

SSE_HANDLER(cvtpi2ps, cvt_mmx, CPUF_SSE, host_cvtdq2ps, 1, true)
SSE_HANDLER(cvtps2pi, cvt_mmx, CPUF_SSE, host_cvtps2dq, 1, false)
SSE_HANDLER(cvttps2pi, cvt_mmx, CPUF_SSE, host_cvttps2dq, 1, false)
SSE_HANDLER(cvtpi2pd, cvt_mmx, CPUF_SSE2, host_cvtdq2pd, 1, false)
SSE_HANDLER(cvtpd2pi, cvt_mmx, CPUF_SSE2, host_cvtpd2dq, 2, false)
SSE_HANDLER(cvttpd2pi, cvt_mmx, CPUF_SSE2, host_cvttpd2dq, 2, false)
