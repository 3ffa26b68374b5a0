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
 * One case needs more than the masked flags: with underflow unmasked (UM =
 * 0), underflow is signalled for a tiny result even when it is exact, and
 * FTZ does not apply (Vol. 1 4.9.1.5, 11.5.2.5); masked, UE is set only for
 * tiny and inexact results. So with UM = 0 the host runs without FTZ and an
 * exact tiny result -- a denormal in the destination -- signals UE too.
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

/* A non-zero denormal among the n computed elements of size esz. */
static bool denormal_result(const vec128 *v, unsigned esz, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
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

/*
 * Run a two-operand instruction: SRC is operand 1 (XMM or memory of the
 * operand's size, 16-byte memory operands aligned), DEST the XMM register
 * in operand 0. esz/n: size and number of the floating-point results that
 * can underflow (esz 0: none can).
 */
static inline void fp_run2(struct emu_cpu *c, const struct emu_insn *i, enum cpu_feature f, host_fp2 fn,
			   unsigned esz, unsigned n)
{
	sse_enter(c, f);
	vec128 s, d;
	vec_read(c, i, 1, &s, 0);
	xmm_get(c, i->op[0].reg, &d);
	uint32_t mx = mxcsr_get(c);
	uint32_t raised = fn(&d.v, s.v, host_mxcsr(mx)) & MXCSR_FLAGS;
	if (esz && um_clear(mx) && denormal_result(&d, esz, n))
		raised |= MXCSR_UE;
	sse_fp_flags(c, raised);
	xmm_put(c, i->op[0].reg, &d);
}

#define FP2(mnem, feat, esz, n) \
	HOST2(host_##mnem, #mnem)  \
	SSE_HANDLER(mnem, fp_run2, feat, host_##mnem, esz, n)

/* Arithmetic (Vol. 2 ADDPS...DIVSD): results can underflow. */
FP2(addps, CPUF_SSE, 4, 4)
FP2(addss, CPUF_SSE, 4, 1)
FP2(addpd, CPUF_SSE2, 8, 2)
FP2(addsd, CPUF_SSE2, 8, 1)
FP2(subps, CPUF_SSE, 4, 4)
FP2(subss, CPUF_SSE, 4, 1)
FP2(subpd, CPUF_SSE2, 8, 2)
FP2(subsd, CPUF_SSE2, 8, 1)
FP2(mulps, CPUF_SSE, 4, 4)
FP2(mulss, CPUF_SSE, 4, 1)
FP2(mulpd, CPUF_SSE2, 8, 2)
FP2(mulsd, CPUF_SSE2, 8, 1)
FP2(divps, CPUF_SSE, 4, 4)
FP2(divss, CPUF_SSE, 4, 1)
FP2(divpd, CPUF_SSE2, 8, 2)
FP2(divsd, CPUF_SSE2, 8, 1)
/* MIN/MAX, SQRT: no underflow. */
FP2(minps, CPUF_SSE, 0, 0)
FP2(minss, CPUF_SSE, 0, 0)
FP2(minpd, CPUF_SSE2, 0, 0)
FP2(minsd, CPUF_SSE2, 0, 0)
FP2(maxps, CPUF_SSE, 0, 0)
FP2(maxss, CPUF_SSE, 0, 0)
FP2(maxpd, CPUF_SSE2, 0, 0)
FP2(maxsd, CPUF_SSE2, 0, 0)
FP2(sqrtps, CPUF_SSE, 0, 0)
FP2(sqrtss, CPUF_SSE, 0, 0)
FP2(sqrtpd, CPUF_SSE2, 0, 0)
FP2(sqrtsd, CPUF_SSE2, 0, 0)
/* Estimates: no exceptions at all. */
FP2(rcpps, CPUF_SSE, 0, 0)
FP2(rcpss, CPUF_SSE, 0, 0)
FP2(rsqrtps, CPUF_SSE, 0, 0)
FP2(rsqrtss, CPUF_SSE, 0, 0)
/* Conversions between floating-point formats and to/from packed int32;
 * only the narrowing ones can underflow. */
FP2(cvtps2pd, CPUF_SSE2, 0, 0)
FP2(cvtpd2ps, CPUF_SSE2, 4, 2)
FP2(cvtss2sd, CPUF_SSE2, 0, 0)
FP2(cvtsd2ss, CPUF_SSE2, 4, 1)
FP2(cvtdq2ps, CPUF_SSE2, 0, 0)
FP2(cvtps2dq, CPUF_SSE2, 0, 0)
FP2(cvttps2dq, CPUF_SSE2, 0, 0)
FP2(cvtdq2pd, CPUF_SSE2, 0, 0)
FP2(cvtpd2dq, CPUF_SSE2, 0, 0)
FP2(cvttpd2dq, CPUF_SSE2, 0, 0)

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

SSE_HANDLER(cmpps, fp_run2, CPUF_SSE, host_cmpps[i->op[2].disp & 7], 0, 0)
SSE_HANDLER(cmppd, fp_run2, CPUF_SSE2, host_cmppd[i->op[2].disp & 7], 0, 0)
SSE_HANDLER(cmpss, fp_run2, CPUF_SSE, host_cmpss[i->op[2].disp & 7], 0, 0)
SSE_HANDLER(cmpsd_sse, fp_run2, CPUF_SSE2, host_cmpsd[i->op[2].disp & 7], 0, 0)

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
