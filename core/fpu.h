/*
 * x87 and SSE state: the FXSAVE image that struct x86_state.fxsave holds
 * (hw/fxsave.def), MXCSR and the x87 control and status words, and the
 * XSAVE area of the components tortuga implements (x87 and SSE).
 */
#ifndef CORE_FPU_H
#define CORE_FPU_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Offsets in the FXSAVE image (hw/fxsave.def). */
enum fx_offset {
#define X(name, off, size, desc) FX_##name = off,
#include "hw/fxsave.def"
#undef X
};
/* ... and their sizes in bytes. */
enum fx_len {
#define X(name, off, size, desc) FX_LEN_##name = size,
#include "hw/fxsave.def"
#undef X
};
#define FX_SIZE 512u

/* MXCSR (SDM Vol. 1 10.2.3, Figure 10-3): flags 5:0, DAZ, masks 12:7,
 * rounding control 14:13, flush to zero. */
#define MXCSR_IE (1u << 0)
#define MXCSR_DE (1u << 1)
#define MXCSR_ZE (1u << 2)
#define MXCSR_OE (1u << 3)
#define MXCSR_UE (1u << 4)
#define MXCSR_PE (1u << 5)
#define MXCSR_FLAGS 0x3fu
#define MXCSR_DAZ (1u << 6)
#define MXCSR_MASK_SHIFT 7
#define MXCSR_MASKS (0x3fu << MXCSR_MASK_SHIFT)
#define MXCSR_RC_SHIFT 13
#define MXCSR_RC (3u << MXCSR_RC_SHIFT)
#define MXCSR_FTZ (1u << 15)
#define MXCSR_DEFAULT 0x1f80u /* all masked, round to nearest (10.2.3) */
/* The bits MXCSR can hold (MXCSR_MASK, 11.6.6): everything up to FTZ,
 * DAZ included; bits 31:16 are reserved (#GP when set). */
#define MXCSR_SUPPORTED 0xffffu
/* The pre-computation exceptions (11.5.1); OE, UE and PE come after. */
#define MXCSR_PRE (MXCSR_IE | MXCSR_DE | MXCSR_ZE)

/* x87 status word (8.1.3, Figure 8-4) and control word (8.1.5, Figure 8-6). */
#define FSW_IE (1u << 0)
#define FSW_DE (1u << 1)
#define FSW_ZE (1u << 2)
#define FSW_OE (1u << 3)
#define FSW_UE (1u << 4)
#define FSW_SF (1u << 6)
#define FSW_ES (1u << 7)
#define FSW_C0 (1u << 8)
#define FSW_C1 (1u << 9)
#define FSW_C2 (1u << 10)
#define FSW_TOP_SHIFT 11
#define FSW_TOP (7u << FSW_TOP_SHIFT)
#define FSW_C3 (1u << 14)
#define FSW_B (1u << 15)
#define FSW_EXC 0x3fu /* IE DE ZE OE UE PE, masked by FCW[5:0] */
#define FCW_EXC 0x3fu
#define FCW_WRITABLE 0x1f3fu /* masks, PC, RC, X; bits 6, 7, 15:13 reserved */
#define FCW_ONE 0x0040u /* reserved bit 6 reads as 1 */
#define FCW_INIT 0x037fu /* FNINIT (Vol. 2A FINIT/FNINIT) */
#define FCW_RESET 0x0040u /* power-up and RESET (Vol. 3A 9.1.1, Table 9-1) */

/* XSAVE (Vol. 1 chapter 13): state components 0 (x87) and 1 (SSE), both in
 * the 512-byte legacy region, then the 64-byte XSAVE header (13.4.2). */
#define XFEATURE_X87 (1ull << 0)
#define XFEATURE_SSE (1ull << 1)
#define XFEATURE_SUPPORTED (XFEATURE_X87 | XFEATURE_SSE)
#define XSAVE_HEADER 512u /* XSTATE_BV at +0, XCOMP_BV at +8 */
#define XSAVE_SIZE 576u /* legacy region + header: no extended components */
#define XSAVE_ALIGN 64u

static inline uint32_t fx_get(const uint8_t *fx, unsigned off, unsigned size)
{
	uint32_t v = 0;
	memcpy(&v, fx + off, size);
	return v;
}

static inline void fx_put(uint8_t *fx, unsigned off, unsigned size, uint32_t v)
{
	memcpy(fx + off, &v, size);
}

static inline uint32_t fx_mxcsr(const uint8_t *fx)
{
	return fx_get(fx, FX_MXCSR, 4);
}

/*
 * Recompute the exception summary ES (and B, which mirrors it) of the x87
 * status word from the exception flags and masks: ES "is set when any of
 * the unmasked exception flags are set" (Vol. 1 8.1.3.1), and cleared
 * otherwise. Processors do so whenever FCW or FSW is loaded (FLDCW, FLDENV,
 * FRSTOR, FXRSTOR, XRSTOR), so an image's ES bit itself is ignored.
 */
static inline void fpu_fsw_summary(uint8_t *fx)
{
	uint32_t fcw = fx_get(fx, FX_FCW, 2), fsw = fx_get(fx, FX_FSW, 2) & ~(FSW_ES | FSW_B);
	if (fsw & ~fcw & FSW_EXC)
		fsw |= FSW_ES | FSW_B;
	fx_put(fx, FX_FSW, 2, fsw);
}

/*
 * Set the x87 top-of-stack pointer (FSW.TOP, Vol. 1 8.1.2). The image holds
 * the registers in stack order -- slot i is ST(i), physical register
 * (TOP + i) mod 8 -- so a new TOP moves physical register Rk from slot
 * (k - old TOP) mod 8 to slot (k - new TOP) mod 8.
 */
static inline void fpu_x87_set_top(uint8_t *fx, unsigned top)
{
	uint32_t fsw = fx_get(fx, FX_FSW, 2);
	unsigned old = (fsw >> 11) & 7;
	if (old == top)
		return;
	uint8_t st[128];
	memcpy(st, fx + FX_ST0, sizeof(st));
	for (unsigned k = 0; k < 8; k++)
		memcpy(fx + FX_ST0 + 16 * ((k - top) & 7), st + 16 * ((k - old) & 7), 16);
	fx_put(fx, FX_FSW, 2, (fsw & ~(7u << 11)) | (top << 11));
}

/* The x87 state FNINIT leaves (Vol. 2A FINIT/FNINIT): the data registers
 * keep their contents (TOP becomes 0). */
static inline void fpu_x87_init(uint8_t *fx)
{
	fpu_x87_set_top(fx, 0);
	fx_put(fx, FX_FCW, 2, FCW_INIT);
	fx_put(fx, FX_FSW, 2, 0);
	fx_put(fx, FX_FTW, 1, 0); /* all empty */
	fx_put(fx, FX_FOP, 2, 0);
	memset(fx + FX_FIP, 0, 16); /* FIP and FDP */
}

/* The initial configuration of the x87 state component (Vol. 1 13.6), what
 * XRSTOR loads for it when XSTATE_BV[0] = 0: FNINIT's, and zero registers. */
static inline void fpu_x87_init_config(uint8_t *fx)
{
	fpu_x87_init(fx);
	memset(fx + FX_ST0, 0, 128);
}

/* Power-up and RESET (Vol. 3A Table 9-1): FCW 0040H, FSW 0, FTW 5555H (every
 * register valid, holding +0.0), MXCSR 1F80H, XMM registers 0. */
static inline void fpu_reset(uint8_t *fx)
{
	memset(fx, 0, FX_SIZE);
	fx_put(fx, FX_FCW, 2, FCW_RESET);
	fx_put(fx, FX_FTW, 1, 0xff);
	fx_put(fx, FX_MXCSR, 4, MXCSR_DEFAULT);
	fx_put(fx, FX_MXCSR_MASK, 4, MXCSR_SUPPORTED);
}

#endif
