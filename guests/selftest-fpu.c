/*
 * selftest-fpu: the rules of the x87, MMX and SSE state, checked against the
 * Intel SDM (each result names its section): what CPUID enumerates (leaf 1,
 * leaf 0DH), the state after the direct boot, MXCSR and its reserved bits,
 * FXSAVE/FXRSTOR and the XSAVE feature set (XSETBV/XGETBV, XSAVE, XSAVEOPT,
 * XRSTOR with its header checks), CR0.TS, CR0.EM, CR0.MP, CR4.OSFXSR and
 * CR4.OSXMMEXCPT (#NM, #UD, #XM), pending x87 exceptions (#MF) and the MMX
 * transitions of the x87 tag word.
 *
 * The guest is built with -mgeneral-regs-only: the compiler never touches
 * the x87/SSE state, so only the inline assembly here does, and CR0.TS or
 * CR0.EM set for a test cannot trip the guest's own code.
 */
#include <guest/exc.h>
#include <guest/guest.h>
#include <guest/io.h>
#include <guest/tap.h>

#include "core/fpu.h"

/* ---- helpers ---- */

static uint8_t area[4096] __attribute__((aligned(64)));
static uint8_t area2[4096] __attribute__((aligned(64)));
static const uint8_t pattern[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
				     0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10 };

static void set_cr0(uint64_t set, uint64_t clear)
{
	write_cr0((read_cr0() | set) & ~clear);
}

static void set_cr4(uint64_t set, uint64_t clear)
{
	write_cr4((read_cr4() | set) & ~clear);
}

/* Run an instruction that may fault (the inputs after the template);
 * the vector, or -1. */
#define TRY(insn, ...)                                                             \
	({                                                                         \
		exc_reset();                                                       \
		__asm__ volatile(EXC_SAFE(insn) : : __VA_ARGS__ : "memory");       \
		exc_last.vector;                                                   \
	})

static void xmm0_load(const void *p)
{
	__asm__ volatile("movdqu (%0), %%xmm0" : : "r"(p) : "memory");
}

/* XMM0 and XMM1 from memory (the operands of the tests' instructions). */
static void load2(const void *a, const void *b)
{
	__asm__ volatile("movdqu (%0), %%xmm0; movdqu (%1), %%xmm1" : : "r"(a), "r"(b) : "memory");
}

static void xmm0_store(void *p)
{
	__asm__ volatile("movdqu %%xmm0, (%0)" : : "r"(p) : "memory");
}

static uint32_t stmxcsr(void)
{
	uint32_t v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static int ldmxcsr(uint32_t v)
{
	return TRY("ldmxcsr %0", "m"(v));
}

static uint16_t fnstsw(void)
{
	uint16_t v;
	__asm__ volatile("fnstsw %0" : "=m"(v));
	return v;
}

static uint16_t fnstcw(void)
{
	uint16_t v;
	__asm__ volatile("fnstcw %0" : "=m"(v));
	return v;
}

static int fxsave(void *p)
{
	return TRY("fxsave64 (%0)", "r"(p));
}

static int fxrstor(const void *p)
{
	return TRY("fxrstor64 (%0)", "r"(p));
}

static int xsetbv(uint32_t xcr, uint64_t v)
{
	return TRY("xsetbv", "c"(xcr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static int xgetbv(uint32_t xcr, uint64_t *v)
{
	uint32_t lo = 0, hi = 0;
	exc_reset();
	__asm__ volatile(EXC_SAFE("xgetbv") : "+a"(lo), "+d"(hi) : "c"(xcr) : "memory");
	*v = ((uint64_t)hi << 32) | lo;
	return exc_last.vector;
}

static int xsave(void *p, uint64_t rfbm)
{
	return TRY("xsave64 (%0)", "r"(p), "a"((uint32_t)rfbm), "d"((uint32_t)(rfbm >> 32)));
}

static int xsaveopt(void *p, uint64_t rfbm)
{
	return TRY("xsaveopt64 (%0)", "r"(p), "a"((uint32_t)rfbm), "d"((uint32_t)(rfbm >> 32)));
}

static int xrstor(const void *p, uint64_t rfbm)
{
	return TRY("xrstor64 (%0)", "r"(p), "a"((uint32_t)rfbm), "d"((uint32_t)(rfbm >> 32)));
}

static uint64_t u64_at(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* ---- CPUID ---- */

static void test_cpuid(void)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	/* SDM 2A CPUID, Table 3-11 (EDX) and 3-10 (ECX). */
	tap_ok(r[3] & (1u << 0), "CPUID.1:EDX.FPU[0] = 1 (SDM 2A CPUID Table 3-11)");
	tap_ok(r[3] & (1u << 23), "CPUID.1:EDX.MMX[23] = 1");
	tap_ok(r[3] & (1u << 24), "CPUID.1:EDX.FXSR[24] = 1");
	tap_ok(r[3] & (1u << 25), "CPUID.1:EDX.SSE[25] = 1");
	tap_ok(r[3] & (1u << 26), "CPUID.1:EDX.SSE2[26] = 1");
	tap_ok(!(r[2] & (1u << 0)), "CPUID.1:ECX.SSE3[0] = 0: not implemented, not advertised");
	tap_ok(r[2] & (1u << 26), "CPUID.1:ECX.XSAVE[26] = 1");
	tap_ok(!(r[2] & (1u << 27)), "CPUID.1:ECX.OSXSAVE[27] = CR4.OSXSAVE = 0 after boot");
	tap_ok(!(r[2] & (1u << 28)), "CPUID.1:ECX.AVX[28] = 0");
	cpuid(0, 0, r);
	tap_ok(r[0] >= 0xd, "CPUID.0:EAX, the largest basic leaf, includes 0DH (SDM 2A CPUID)");
	cpuid(0xd, 0, r);
	/* SDM Vol. 1 13.2: XCR0 bits supported; sizes of the legacy region
	 * (512 bytes) plus the XSAVE header (64 bytes) with no extended
	 * components. */
	tap_eq(r[0], 3, "CPUID.(0DH,0):EAX = XCR0 bits supported: x87 and SSE (SDM 1 13.2)");
	tap_eq(r[3], 0, "CPUID.(0DH,0):EDX = XCR0 bits 63:32 supported: none");
	tap_eq(r[1], 512 + 64, "CPUID.(0DH,0):EBX = XSAVE area size for XCR0: 576 (SDM 1 13.2, 13.4)");
	tap_eq(r[2], 512 + 64, "CPUID.(0DH,0):ECX = XSAVE area size for all components: 576");
	cpuid(0xd, 1, r);
	tap_eq(r[0] & 0xf, 1, "CPUID.(0DH,1):EAX: XSAVEOPT only (no XSAVEC, XGETBV ECX=1, XSAVES)");
	cpuid(0xd, 2, r);
	tap_ok(!r[0] && !r[1], "CPUID.(0DH,2): AVX state not supported: size and offset 0");
}

/* ---- state after boot, MXCSR ---- */

static void test_boot_state(void)
{
	/* include/tortuga/bootinfo.h: CR0.MP|NE, CR4.OSFXSR|OSXMMEXCPT, the
	 * x87 as FNINIT leaves it (SDM 2A FINIT), MXCSR 1F80H (SDM 1 10.2.3.1). */
	tap_ok((read_cr0() & (CR0_EM | CR0_TS | CR0_MP)) == CR0_MP, "boot: CR0.MP = 1, CR0.EM = CR0.TS = 0");
	tap_ok((read_cr4() & (CR4_OSFXSR | CR4_OSXMMEXCPT)) == (CR4_OSFXSR | CR4_OSXMMEXCPT),
	       "boot: CR4.OSFXSR = CR4.OSXMMEXCPT = 1");
	tap_eq(fnstcw(), FCW_INIT, "boot: FCW = 037FH (SDM 2A FINIT/FNINIT)");
	tap_eq(fnstsw(), 0, "boot: FSW = 0");
	tap_eq(stmxcsr(), MXCSR_DEFAULT, "boot: MXCSR = 1F80H (SDM 1 10.2.3.1)");
}

static void test_mxcsr(void)
{
	tap_eq(ldmxcsr(0x7f80 | MXCSR_DAZ | MXCSR_FTZ), -1, "LDMXCSR: RC, DAZ, FTZ, masks load");
	tap_eq(stmxcsr(), 0x7f80 | MXCSR_DAZ | MXCSR_FTZ, "STMXCSR reads back what LDMXCSR loaded");
	/* SDM 2A LDMXCSR: #GP(0) for a reserved bit (MXCSR_MASK, 11.6.6). */
	tap_eq(ldmxcsr(MXCSR_DEFAULT | (1u << 16)), X86_GP, "LDMXCSR: reserved bit 16 -> #GP(0) (SDM 2A LDMXCSR)");
	tap_eq(ldmxcsr(MXCSR_DEFAULT | (1u << 31)), X86_GP, "LDMXCSR: reserved bit 31 -> #GP(0)");
	tap_eq(stmxcsr(), 0x7f80 | MXCSR_DAZ | MXCSR_FTZ, "LDMXCSR that faulted left MXCSR unchanged");
	ldmxcsr(MXCSR_DEFAULT);
	/* A masked divide-by-zero sets ZE and returns infinity (SDM 1 11.5.2.3). */
	static const uint32_t one[4] = { 0x3f800000 }, zero[4] = { 0 };
	uint32_t res[4];
	__asm__ volatile("movdqu (%0), %%xmm0; movdqu (%1), %%xmm1; divss %%xmm1, %%xmm0; movdqu %%xmm0, (%2)"
			 : : "r"(one), "r"(zero), "r"(res) : "memory");
	tap_eq(res[0], 0x7f800000, "DIVSS 1/0 masked: +infinity (SDM 1 11.5.2.3)");
	tap_eq(stmxcsr() & MXCSR_FLAGS, MXCSR_ZE, "DIVSS 1/0 masked: MXCSR.ZE set, nothing else");
	ldmxcsr(MXCSR_DEFAULT);
}

/* ---- FXSAVE/FXRSTOR ---- */

static void test_fxsave(void)
{
	memset(area, 0xa5, sizeof(area));
	xmm0_load(pattern);
	tap_eq(fxsave(area), -1, "FXSAVE64 to a 16-byte aligned area");
	tap_eq(fx_get(area, FX_FCW, 2), FCW_INIT, "FXSAVE: FCW at byte 0 (SDM 2A FXSAVE Table 3-56)");
	tap_eq(fx_get(area, FX_MXCSR, 4), MXCSR_DEFAULT, "FXSAVE: MXCSR at byte 24");
	tap_eq(fx_get(area, FX_MXCSR_MASK, 4), 0xffff,
	       "FXSAVE: MXCSR_MASK = FFFFH: bits 15:0 writable, DAZ included (SDM 1 11.6.6)");
	tap_ok(!memcmp(area + FX_XMM0, pattern, 16), "FXSAVE: XMM0 at byte 160");
	tap_eq(area[500], 0xa5, "FXSAVE: bytes 511:464 (available to software) not written");
	/* FXRSTOR brings XMM0 back. */
	static const uint8_t zero16[16];
	xmm0_load(zero16);
	tap_eq(fxrstor(area), -1, "FXRSTOR64 from the image");
	uint8_t back[16];
	xmm0_store(back);
	tap_ok(!memcmp(back, pattern, 16), "FXRSTOR: XMM0 restored");
	/* SDM 2A FXSAVE/FXRSTOR: #GP(0) for a misaligned area. */
	tap_eq(fxsave(area + 8), X86_GP, "FXSAVE: area not 16-byte aligned -> #GP(0) (SDM 2A FXSAVE)");
	tap_eq(fxrstor(area + 8), X86_GP, "FXRSTOR: area not 16-byte aligned -> #GP(0)");
	/* SDM 2A FXRSTOR: #GP(0) for reserved MXCSR bits in the image. */
	fx_put(area, FX_MXCSR, 4, MXCSR_DEFAULT | (1u << 20));
	tap_eq(fxrstor(area), X86_GP, "FXRSTOR: reserved MXCSR bit in the image -> #GP(0) (SDM 2A FXRSTOR)");
	tap_eq(stmxcsr(), MXCSR_DEFAULT, "FXRSTOR that faulted left MXCSR unchanged");
}

/* ---- CR0.TS, CR0.EM, CR0.MP, CR4.OSFXSR, CR4.OSXMMEXCPT ---- */

static void test_control_bits(void)
{
	/* SDM 3A 13.1 Table 13-1 (SSE), 2.5 and 9.2.1 (x87), 12.1 (MMX). */
	set_cr0(CR0_TS, 0);
	tap_eq(TRY("addps %%xmm1, %%xmm0", ), X86_NM, "CR0.TS = 1: ADDPS -> #NM (SDM 3A Table 13-1)");
	tap_eq(TRY("paddb %%mm1, %%mm0", ), X86_NM, "CR0.TS = 1: PADDB mm -> #NM (SDM 3A 12.1)");
	tap_eq(TRY("fninit", ), X86_NM, "CR0.TS = 1: FNINIT -> #NM (SDM 3A 2.5, CR0.TS)");
	tap_eq(fxsave(area), X86_NM, "CR0.TS = 1: FXSAVE -> #NM (SDM 2A FXSAVE)");
	tap_eq(TRY("stmxcsr %0", "m"(area[0])), X86_NM, "CR0.TS = 1: STMXCSR -> #NM");
	tap_eq(TRY("fwait", ), X86_NM, "CR0.TS = 1, CR0.MP = 1: WAIT -> #NM (SDM 3A 2.5, CR0.MP)");
	set_cr0(0, CR0_MP);
	tap_eq(TRY("fwait", ), -1, "CR0.TS = 1, CR0.MP = 0: WAIT runs (SDM 3A 2.5, CR0.MP)");
	set_cr0(CR0_MP, 0);
	__asm__ volatile("clts");
	tap_ok(!(read_cr0() & CR0_TS), "CLTS clears CR0.TS (SDM 2A CLTS)");
	tap_eq(TRY("addps %%xmm1, %%xmm0", ), -1, "CR0.TS = 0: ADDPS runs");

	set_cr0(CR0_EM, 0);
	tap_eq(TRY("addps %%xmm1, %%xmm0", ), X86_UD, "CR0.EM = 1: ADDPS -> #UD (SDM 3A Table 13-1)");
	tap_eq(TRY("ldmxcsr %0", "m"(area[0])), X86_UD, "CR0.EM = 1: LDMXCSR -> #UD");
	tap_eq(TRY("paddb %%mm1, %%mm0", ), X86_UD, "CR0.EM = 1: PADDB mm -> #UD (SDM 3A 12.1)");
	tap_eq(TRY("fninit", ), X86_NM, "CR0.EM = 1: FNINIT -> #NM (SDM 3A 2.5, CR0.EM)");
	tap_eq(fxsave(area), X86_NM, "CR0.EM = 1: FXSAVE -> #NM (SDM 2A FXSAVE)");
	tap_eq(TRY("fwait", ), -1, "CR0.EM = 1: WAIT runs (only MP and TS matter to it)");
	set_cr0(0, CR0_EM);

	set_cr4(0, CR4_OSFXSR);
	tap_eq(TRY("addps %%xmm1, %%xmm0", ), X86_UD, "CR4.OSFXSR = 0: ADDPS -> #UD (SDM 3A Table 13-1)");
	tap_eq(TRY("movdqa %%xmm1, %%xmm0", ), X86_UD, "CR4.OSFXSR = 0: MOVDQA -> #UD");
	tap_eq(TRY("paddb %%mm1, %%mm0", ), -1, "CR4.OSFXSR = 0: PADDB mm (MMX) runs");
	tap_eq(fxsave(area), -1, "CR4.OSFXSR = 0: FXSAVE runs");
	set_cr4(CR4_OSFXSR, 0);
	__asm__ volatile("emms");

	/* An unmasked SIMD floating-point exception: #XM with OSXMMEXCPT,
	 * #UD without (SDM 3A Table 13-1, SDM 1 11.5.4); the destination
	 * keeps its value, the flag is set (SDM 1 11.5.1). */
	static const uint32_t one[4] = { 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000 }, zero[4] = { 0 };
	uint32_t res[4];
	ldmxcsr(MXCSR_DEFAULT & ~(MXCSR_ZE << MXCSR_MASK_SHIFT));
	load2(one, zero);
	int v = TRY("divss %%xmm1, %%xmm0", );
	xmm0_store(res);
	tap_eq(v, X86_XM, "unmasked divide-by-zero, CR4.OSXMMEXCPT = 1: #XM (SDM 3A Table 13-1)");
	tap_eq(res[0], 0x3f800000, "#XM: the destination is not written (SDM 1 11.5.1)");
	tap_ok(stmxcsr() & MXCSR_ZE, "#XM: MXCSR.ZE set (SDM 1 11.5.1)");
	ldmxcsr(MXCSR_DEFAULT & ~(MXCSR_ZE << MXCSR_MASK_SHIFT));
	set_cr4(0, CR4_OSXMMEXCPT);
	load2(one, zero);
	v = TRY("divss %%xmm1, %%xmm0", );
	tap_eq(v, X86_UD, "unmasked divide-by-zero, CR4.OSXMMEXCPT = 0: #UD (SDM 3A Table 13-1)");
	set_cr4(CR4_OSXMMEXCPT, 0);
	/* Unmasked pre-computation (invalid) and post-computation (inexact)
	 * exceptions in one packed instruction: only the pre-computation flags
	 * are set (SDM 1 11.5.1, 11.5.3). 0/0 is invalid, 1/3 inexact. */
	static const uint32_t num[4] = { 0, 0x3f800000 }, den[4] = { 0, 0x40400000, 0x3f800000, 0x3f800000 };
	ldmxcsr(MXCSR_DEFAULT & ~((MXCSR_IE | MXCSR_PE) << MXCSR_MASK_SHIFT));
	load2(num, den);
	v = TRY("divps %%xmm1, %%xmm0", );
	tap_eq(v, X86_XM, "DIVPS with 0/0 and 1/3, IE and PE unmasked: #XM");
	tap_eq(stmxcsr() & MXCSR_FLAGS, MXCSR_IE, "DIVPS: only IE set, not PE (SDM 1 11.5.1)");
	ldmxcsr(MXCSR_DEFAULT);
}

/* ---- XSETBV, XGETBV, XSAVE, XSAVEOPT, XRSTOR ---- */

static void test_xsave(void)
{
	uint64_t x;
	/* SDM 2C XGETBV/XSETBV: #UD with CR4.OSXSAVE = 0. */
	tap_eq(xgetbv(0, &x), X86_UD, "XGETBV with CR4.OSXSAVE = 0 -> #UD (SDM 2C XGETBV)");
	tap_eq(xsetbv(0, 3), X86_UD, "XSETBV with CR4.OSXSAVE = 0 -> #UD (SDM 2C XSETBV)");
	tap_eq(xsave(area, 3), X86_UD, "XSAVE with CR4.OSXSAVE = 0 -> #UD (SDM 2C XSAVE)");
	set_cr4(CR4_OSXSAVE, 0);
	uint32_t r[4];
	cpuid(1, 0, r);
	tap_ok(r[2] & (1u << 27), "CPUID.1:ECX.OSXSAVE follows CR4.OSXSAVE = 1 (SDM 2A CPUID)");
	tap_eq(xgetbv(0, &x), -1, "XGETBV ECX = 0");
	tap_eq(x, 1, "XCR0 = 1 (x87 only) after reset (SDM 1 13.3)");
	tap_eq(xgetbv(1, &x), X86_GP, "XGETBV ECX = 1 without CPUID.(0DH,1):EAX[2] -> #GP(0) (SDM 2C XGETBV)");
	tap_eq(xsetbv(0, 2), X86_GP, "XSETBV: XCR0[0] (x87) = 0 -> #GP(0) (SDM 2C XSETBV)");
	tap_eq(xsetbv(0, 7), X86_GP, "XSETBV: XCR0[2] (AVX) not supported -> #GP(0)");
	tap_eq(xsetbv(1, 3), X86_GP, "XSETBV: ECX = 1 -> #GP(0)");
	tap_eq(xsetbv(0, 3), -1, "XSETBV XCR0 = x87 | SSE");
	xgetbv(0, &x);
	tap_eq(x, 3, "XGETBV reads XCR0 = 3");

	/* XSAVE (SDM 1 13.7): legacy region and XSTATE_BV; the other header
	 * bytes untouched. */
	memset(area, 0xa5, sizeof(area));
	memset(area + XSAVE_HEADER, 0, 64);
	memset(area + XSAVE_HEADER + 8, 0x5a, 8); /* XCOMP_BV: not written by XSAVE */
	xmm0_load(pattern);
	tap_eq(xsave(area, 3), -1, "XSAVE64 x87 | SSE to a 64-byte aligned area");
	tap_ok(!memcmp(area + FX_XMM0, pattern, 16), "XSAVE: XMM0 at byte 160 (SDM 1 13.4.1)");
	tap_eq(fx_get(area, FX_MXCSR, 4), MXCSR_DEFAULT, "XSAVE: MXCSR at byte 24");
	tap_eq(u64_at(area + XSAVE_HEADER) & 2, 2, "XSAVE: XSTATE_BV[1] = 1: SSE state in use (SDM 1 13.6)");
	tap_eq(u64_at(area + XSAVE_HEADER + 8), 0x5a5a5a5a5a5a5a5aull,
	       "XSAVE: writes nothing of the header but XSTATE_BV (SDM 1 13.7)");
	tap_eq(area[500], 0xa5, "XSAVE: bytes 511:464 not written");
	tap_eq(xsave(area + 16, 3), X86_GP, "XSAVE: area not 64-byte aligned -> #GP(0) (SDM 2C XSAVE)");
	memset(area + XSAVE_HEADER + 8, 0, 8);

	/* XRSTOR (SDM 1 13.8.1): load, or initialize with XSTATE_BV[i] = 0. */
	static const uint8_t zero16[16];
	xmm0_load(zero16);
	tap_eq(xrstor(area, 3), -1, "XRSTOR64 of what XSAVE stored");
	uint8_t back[16];
	xmm0_store(back);
	tap_ok(!memcmp(back, pattern, 16), "XRSTOR: XMM0 restored");
	memcpy(area2, area, 1024);
	area2[XSAVE_HEADER] &= (uint8_t)~2;
	fx_put(area2, FX_MXCSR, 4, MXCSR_DEFAULT | MXCSR_FTZ);
	tap_eq(xrstor(area2, 3), -1, "XRSTOR with XSTATE_BV[1] = 0");
	xmm0_store(back);
	tap_ok(!memcmp(back, zero16, 16), "XRSTOR, XSTATE_BV[1] = 0: XMM registers initialized to 0 (SDM 1 13.8.1)");
	tap_eq(stmxcsr(), MXCSR_DEFAULT | MXCSR_FTZ,
	       "XRSTOR, XSTATE_BV[1] = 0: MXCSR still loaded from memory (standard form, SDM 1 13.8.1)");
	ldmxcsr(MXCSR_DEFAULT);
	/* Header checks (SDM 2C XRSTOR, #GP(0)). */
	memcpy(area2, area, 1024);
	area2[XSAVE_HEADER] |= 4;
	tap_eq(xrstor(area2, 3), X86_GP, "XRSTOR: XSTATE_BV bit outside XCR0 -> #GP(0) (SDM 2C XRSTOR)");
	memcpy(area2, area, 1024);
	area2[XSAVE_HEADER + 16] = 1;
	tap_eq(xrstor(area2, 3), X86_GP, "XRSTOR: header bytes 23:16 not 0 -> #GP(0)");
	memcpy(area2, area, 1024);
	area2[XSAVE_HEADER + 15] = 0x80;
	tap_eq(xrstor(area2, 3), X86_GP, "XRSTOR: XCOMP_BV[63] = 1 (compacted form) without XSAVEC -> #GP(0)");
	memcpy(area2, area, 1024);
	fx_put(area2, FX_MXCSR, 4, 1u << 16);
	tap_eq(xrstor(area2, 3), X86_GP, "XRSTOR: reserved MXCSR bit -> #GP(0)");
	tap_eq(xrstor(area2, 1), -1, "XRSTOR of x87 only (RFBM = 1) ignores MXCSR");
	tap_eq(xrstor(area + 64, 3), X86_GP, "XRSTOR: area not 64-byte aligned -> #GP(0)");

	/* XSAVEOPT's init optimization (SDM 1 13.9): with the SSE component in
	 * its initial configuration, XSTATE_BV[1] = 0 and the XMM slots are not
	 * written. */
	memcpy(area2, area, 1024);
	area2[XSAVE_HEADER] = 0;
	fx_put(area2, FX_MXCSR, 4, MXCSR_DEFAULT);
	xrstor(area2, 3); /* both components initialized */
	memset(area2, 0xa5, 512);
	area2[XSAVE_HEADER] = 3;
	tap_eq(xsaveopt(area2, 3), -1, "XSAVEOPT64 x87 | SSE");
	tap_eq(area2[XSAVE_HEADER] & 3, 0, "XSAVEOPT: XSTATE_BV = XINUSE = 0 for components in their init state");
	tap_eq(area2[FX_XMM0], 0xa5, "XSAVEOPT: components not in use are not written (SDM 2C XSAVEOPT)");
	tap_eq(fx_get(area2, FX_MXCSR, 4), MXCSR_DEFAULT, "XSAVEOPT: MXCSR written whenever SSE is requested");
	xsetbv(0, 1);
	set_cr4(0, CR4_OSXSAVE);
}

/* ---- x87 exceptions and MMX ---- */

static void test_x87(void)
{
	/* A pending exception (SDM 1 8.6, 8.7): a flag set while masked
	 * becomes pending when FLDCW unmasks it, and the next waiting
	 * instruction raises #MF with CR0.NE = 1; non-waiting ones do not. */
	memset(area, 0, 512);
	__asm__ volatile("fninit");
	fxsave(area);
	fx_put(area, FX_FSW, 2, 0x0004); /* ZE */
	fxrstor(area);
	tap_eq(fnstsw(), 0x0004, "FXRSTOR loads FSW: ZE set, masked");
	uint16_t cw = FCW_INIT & ~0x4;
	tap_eq(TRY("fldcw %0", "m"(cw)), -1, "FLDCW unmasking ZM");
	tap_eq(fnstsw(), 0x8084, "FLDCW: the unmasked flag makes ES and B set (SDM 1 8.1.3)");
	tap_eq(TRY("fnstcw %0", "m"(area[600])), -1, "FNSTCW (non-waiting) runs with an exception pending");
	tap_eq(TRY("fwait", ), X86_MF, "WAIT with a pending exception -> #MF (SDM 1 8.6, 3A 6.15 Interrupt 16)");
	tap_eq(TRY("paddb %%mm1, %%mm0", ), X86_MF, "MMX instruction with a pending exception -> #MF (SDM 3A 12.1)");
	tap_eq(TRY("fnclex", ), -1, "FNCLEX (non-waiting)");
	tap_eq(fnstsw(), 0, "FNCLEX clears the flags, ES and B (SDM 2A FCLEX)");
	tap_eq(TRY("fwait", ), -1, "WAIT with nothing pending runs");

	/* MMX and the tag word (SDM 1 9.5.1): an MMX instruction tags every
	 * register valid and sets TOP to 0; EMMS tags them all empty. */
	__asm__ volatile("fninit");
	__asm__ volatile("pxor %%mm3, %%mm3" ::: "memory");
	fxsave(area);
	tap_eq(area[FX_FTW], 0xff, "after an MMX instruction every tag is valid (SDM 1 9.5.1)");
	tap_eq((fx_get(area, FX_FSW, 2) >> 11) & 7, 0, "after an MMX instruction TOP = 0");
	tap_eq(fx_get(area, FX_ST0 + 3 * 16 + 8, 2), 0xffff, "writing MM3 sets bits 79:64 of R3 to 1s");
	__asm__ volatile("emms");
	fxsave(area);
	tap_eq(area[FX_FTW], 0, "EMMS: every tag empty (SDM 2A EMMS)");
	__asm__ volatile("fninit");
}

/* x87 arithmetic (SDM Vol. 1 chapter 8, Vol. 2 per instruction). */
static void test_x87_arith(void)
{
	uint64_t d = 0;
	uint16_t sw;
	__asm__ volatile("fninit; fldpi; fstpl %0" : "=m"(d));
	tap_eq(d, 0x400921fb54442d18ull, "FLDPI, FSTP m64: pi rounded to double (SDM 2A FLDPI, 1 8.3.8)");
	uint64_t fl;
	__asm__ volatile("fninit; fld1; fldz; fcomip %%st(1), %%st; pushfq; pop %0; fstp %%st(0)" : "=r"(fl) : : "cc");
	tap_eq(fl & (RFLAGS_ZF | RFLAGS_PF | RFLAGS_CF), RFLAGS_CF,
	       "FCOMIP 0.0 with 1.0: less than, CF = 1, ZF = PF = 0 (SDM 2A FCOMI Table 3-31)");
	__asm__ volatile("fninit; fxam; fnstsw %0" : "=m"(sw));
	tap_eq(sw & (FSW_C3 | FSW_C2 | FSW_C0), FSW_C3 | FSW_C0, "FXAM of an empty ST(0): C3 = C0 = 1 (SDM 2A FXAM)");
	__asm__ volatile("fninit; faddp; fnstsw %0; fninit" : "=m"(sw));
	tap_eq(sw & (FSW_IE | FSW_SF | FSW_C1), FSW_IE | FSW_SF,
	       "FADDP on an empty stack: stack underflow, IE and SF set, C1 = 0 (SDM 1 8.5.1.1)");
	int32_t big = 100000;
	int16_t small = 0;
	__asm__ volatile("fninit; fildl %1; fistps %0" : "=m"(small) : "m"(big));
	tap_eq((uint16_t)small, 0x8000, "FISTP m16 of 100000: integer indefinite, IE masked (SDM 2A FIST)");
	/* An unmasked divide-by-zero is pending, not raised, until the next
	 * waiting instruction (SDM 1 8.6). */
	uint16_t cw_zm = FCW_INIT & ~FSW_ZE;
	__asm__ volatile("fninit; fldcw %0; fld1; fldz; fdivrp" : : "m"(cw_zm) : "memory");
	sw = fnstsw();
	tap_ok((sw & (FSW_ZE | FSW_ES)) == (FSW_ZE | FSW_ES), "1/0 with ZM = 0: ZE set and pending (ES), no fault yet");
	tap_eq(TRY("fwait", ), X86_MF, "the next WAIT raises #MF (SDM 3A 6.15 Interrupt 16)");
	__asm__ volatile("fninit");

	/* The environment an exception handler finds (SDM 1 8.1.8-8.1.10,
	 * Figure 8-9): the offset of the faulting instruction, its opcode's
	 * low 11 bits (bits 2:0 of the first byte, then the ModRM byte) and the
	 * offset of its memory operand. Both vendors store them while the
	 * exception is pending. */
	static const double zero = 0.0;
	uint32_t env[7];
	const uint8_t *at;
	__asm__ volatile("fninit; fldcw %2; fld1; lea 1f(%%rip), %0; 1: fdivl %3; fnstenv %1; fninit"
			 : "=&r"(at), "=m"(env)
			 : "m"(cw_zm), "m"(zero)
			 : "memory");
	tap_eq(env[1] & (FSW_ZE | FSW_ES), FSW_ZE | FSW_ES, "FDIV m64 by 0 with ZM = 0: ZE pending in FNSTENV's FSW");
	tap_eq(env[3], (uint32_t)(uintptr_t)at, "FNSTENV: FIP is the offset of the FDIV (SDM 1 8.1.8)");
	tap_eq((env[4] >> 16) & 0x7ff, (uint32_t)((at[0] & 7) << 8 | at[1]),
	       "FNSTENV: FOP holds the FDIV's opcode bits 10:0 (SDM 1 8.1.9, Figure 8-8)");
	tap_eq(env[5], (uint32_t)(uintptr_t)&zero, "FNSTENV: FDP is the offset of the FDIV's operand (SDM 1 8.1.8)");
}

int main(const struct tortuga_bootinfo *bi)
{
	(void)bi;
	exc_init();
	test_cpuid();
	test_boot_state();
	test_mxcsr();
	test_fxsave();
	test_control_bits();
	test_xsave();
	test_x87();
	test_x87_arith();
	return tap_done();
}
