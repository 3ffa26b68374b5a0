/*
 * x87 and SSE state management: the x87 control instructions (FNINIT,
 * FLDCW, FNSTCW, FNSTSW, FNCLEX, WAIT), MXCSR (LDMXCSR, STMXCSR), EMMS,
 * FXSAVE/FXRSTOR and the XSAVE feature set for the x87 and SSE components
 * (XSAVE, XSAVEOPT, XRSTOR; XSETBV and XGETBV are in ops_sys.c).
 *
 * The state lives in struct x86_state.fxsave in the FXSAVE64 layout
 * (hw/fxsave.def). FPU CS and FPU DS are deprecated (CPUID.07H:EBX[13],
 * SDM Vol. 1 8.1.8): saved as 0, ignored when loaded.
 */
#include "ops.h"
#include "sse.h"

/* ---- x87 control ---- */

static uint32_t fsw_get(const struct emu_cpu *c)
{
	return fx_get(c->s->fxsave, FX_FSW, 2);
}

static void fsw_put(struct emu_cpu *c, uint32_t v)
{
	fx_put(c->s->fxsave, FX_FSW, 2, v);
}

/* FINIT/FNINIT (Vol. 2A): FCW 037FH, FSW 0, all tags empty, pointers and
 * opcode 0. FINIT is FWAIT; FNINIT, which Zydis decodes on its own. */
void op_fninit(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	x87_enter(c, X87_NOWAIT);
	fpu_x87_init(c->s->fxsave);
}

/* WAIT/FWAIT (Vol. 2B): #NM when CR0.MP and CR0.TS are both set, then a
 * pending unmasked x87 exception. */
void op_fwait(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	x87_enter(c, X87_FWAIT);
}

void op_fnstcw(struct emu_cpu *c, const struct emu_insn *i)
{
	x87_enter(c, X87_NOWAIT);
	emu_op_write(c, i, 0, fx_get(c->s->fxsave, FX_FCW, 2));
}

/*
 * FLDCW (Vol. 2A): the reserved bits of the control word read as 1 (bit 6)
 * or 0 (bits 7, 15:13; Vol. 1 8.1.5, Figure 8-6). A flag set in FSW whose
 * exception the new control word unmasks becomes pending, to be raised by the next waiting instruction
 * (Vol. 1 8.1.3: ES is set while any unmasked flag is; B mirrors ES).
 */
void op_fldcw(struct emu_cpu *c, const struct emu_insn *i)
{
	x87_enter(c, X87_WAITING);
	uint32_t fcw = ((uint32_t)emu_op_read(c, i, 0) & FCW_WRITABLE) | FCW_ONE;
	fx_put(c->s->fxsave, FX_FCW, 2, fcw);
	fpu_fsw_summary(c->s->fxsave);
}

/* FNSTSW m16 / FNSTSW AX. */
void op_fnstsw(struct emu_cpu *c, const struct emu_insn *i)
{
	x87_enter(c, X87_NOWAIT);
	emu_op_write(c, i, 0, fsw_get(c));
}

/* FCLEX/FNCLEX (Vol. 2A): clears PE UE OE ZE DE IE, SF, ES and B. */
void op_fnclex(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	x87_enter(c, X87_NOWAIT);
	fsw_put(c, fsw_get(c) & ~(FSW_EXC | FSW_SF | FSW_ES | FSW_B));
}

/* EMMS (Vol. 2A, Vol. 1 9.5.1): every x87 tag empty, and TOP 0 as after
 * any MMX instruction; the MMX checks apply. */
void op_emms(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	mmx_enter(c, CPUF_MMX);
	fpu_x87_set_top(c->s->fxsave, 0);
	fx_put(c->s->fxsave, FX_FTW, 1, 0);
}

/* ---- MXCSR ---- */

/* LDMXCSR (Vol. 2A): #GP(0) for a set reserved bit (above MXCSR_MASK). */
void op_ldmxcsr(struct emu_cpu *c, const struct emu_insn *i)
{
	sse_enter(c, CPUF_SSE);
	uint32_t v = (uint32_t)emu_op_read(c, i, 0);
	if (v & ~MXCSR_SUPPORTED)
		emu_raise(c, X86_GP, 0);
	mxcsr_put(c, v);
}

void op_stmxcsr(struct emu_cpu *c, const struct emu_insn *i)
{
	sse_enter(c, CPUF_SSE);
	emu_op_write(c, i, 0, mxcsr_get(c));
}

/* ---- the legacy region: FXSAVE and the x87/SSE components of XSAVE ---- */

/* How much of the legacy region an instruction uses: XMM8-XMM15 only in
 * 64-bit mode (FXSAVE Tables 3-53, 3-57; Vol. 1 13.5.2), the 64-bit FIP and
 * FDP only with REX.W (FXSAVE64, XSAVE64...; 13.5.1). */
struct legacy_fmt {
	unsigned nxmm;
	bool ptr64;
};

static struct legacy_fmt legacy_fmt(const struct emu_cpu *c, const struct emu_insn *i)
{
	bool m64 = c->mode == MODE_LONG64;
	bool w = false;
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_FXSAVE64:
	case ZYDIS_MNEMONIC_FXRSTOR64:
	case ZYDIS_MNEMONIC_XSAVE64:
	case ZYDIS_MNEMONIC_XSAVEOPT64:
	case ZYDIS_MNEMONIC_XRSTOR64:
		w = true;
		break;
	default:
		break;
	}
	return (struct legacy_fmt){ .nxmm = m64 ? 16 : 8, .ptr64 = w };
}

/* x87 state: bytes 23:0 and 159:32 (13.5.1). With 32-bit pointers, bytes
 * 13:12 and 21:20 are FCS and FDS, saved as 0. */
static void x87_save(const struct emu_cpu *c, uint8_t *img, struct legacy_fmt f)
{
	const uint8_t *fx = c->s->fxsave;
	memcpy(img, fx, 8);
	img[5] = 0;
	if (f.ptr64) {
		memcpy(img + FX_FIP, fx + FX_FIP, 16);
	} else {
		memset(img + FX_FIP, 0, 16);
		memcpy(img + FX_FIP, fx + FX_FIP, 4);
		memcpy(img + FX_FDP, fx + FX_FDP, 4);
	}
	for (unsigned k = 0; k < 8; k++) {
		memcpy(img + FX_ST0 + 16 * k, fx + FX_ST0 + 16 * k, 10);
		memset(img + FX_ST0 + 16 * k + 10, 0, 6);
	}
}

static void x87_load(struct emu_cpu *c, const uint8_t *img, struct legacy_fmt f)
{
	uint8_t *fx = c->s->fxsave;
	memcpy(fx, img, 8);
	fx[5] = 0;
	fpu_fsw_summary(fx);
	memset(fx + FX_FIP, 0, 16);
	if (f.ptr64) {
		memcpy(fx + FX_FIP, img + FX_FIP, 16);
	} else {
		memcpy(fx + FX_FIP, img + FX_FIP, 4);
		memcpy(fx + FX_FDP, img + FX_FDP, 4);
	}
	for (unsigned k = 0; k < 8; k++) {
		memcpy(fx + FX_ST0 + 16 * k, img + FX_ST0 + 16 * k, 10);
		memset(fx + FX_ST0 + 16 * k + 10, 0, 6);
	}
}

static uint32_t img_mxcsr(const uint8_t *img)
{
	return fx_get(img, FX_MXCSR, 4);
}

/* MXCSR and MXCSR_MASK: bytes 31:24. */
static void mxcsr_save(const struct emu_cpu *c, uint8_t *img)
{
	fx_put(img, FX_MXCSR, 4, mxcsr_get(c));
	fx_put(img, FX_MXCSR_MASK, 4, MXCSR_SUPPORTED);
}

static void xmm_save(const struct emu_cpu *c, uint8_t *img, struct legacy_fmt f)
{
	memcpy(img + FX_XMM0, c->s->fxsave + FX_XMM0, 16 * f.nxmm);
}

static void xmm_load(struct emu_cpu *c, const uint8_t *img, struct legacy_fmt f)
{
	memcpy(c->s->fxsave + FX_XMM0, img + FX_XMM0, 16 * f.nxmm);
}

/* The bytes of the legacy region an instruction may touch. */
static unsigned legacy_end(struct legacy_fmt f)
{
	return FX_XMM0 + 16 * f.nxmm;
}

/* The FXSAVE area: segment and canonical checks, then the 16-byte
 * alignment (see vec_mem_la()). */
static uint64_t fx_area_la(struct emu_cpu *c, const struct emu_insn *i, unsigned acc)
{
	uint64_t la = vec_mem_la(c, i, &i->op[0], FX_SIZE, 1, acc);
	if (la & 15)
		emu_raise(c, X86_GP, 0);
	return la;
}

static void fxsr_enter(struct emu_cpu *c)
{
	/* FXSAVE/FXRSTOR (Vol. 2A): #UD without FXSR, #NM with CR0.TS or
	 * CR0.EM; no pending-exception check. */
	if (!cpu_has(&c->vm->model, CPUF_FXSR))
		emu_raise_noerr(c, X86_UD);
	x87_enter(c, X87_NOWAIT);
}

/*
 * FXSAVE (Vol. 2A): the 512-byte image at a 16-byte aligned address; bytes
 * 463:416 (reserved) and 511:464 (available to software) are not written,
 * nor are the XMM8-XMM15 slots outside 64-bit mode.
 */
void op_fxsave(struct emu_cpu *c, const struct emu_insn *i)
{
	fxsr_enter(c);
	struct legacy_fmt f = legacy_fmt(c, i);
	uint64_t la = fx_area_la(c, i, ACC_WRITE);
	uint8_t img[FX_SIZE];
	x87_save(c, img, f);
	mxcsr_save(c, img);
	xmm_save(c, img, f);
	vec_write_la(c, la, img, legacy_end(f));
}

/* FXRSTOR (Vol. 2A): #GP(0) if the image sets a reserved MXCSR bit; the
 * MXCSR_MASK field is ignored. */
void op_fxrstor(struct emu_cpu *c, const struct emu_insn *i)
{
	fxsr_enter(c);
	struct legacy_fmt f = legacy_fmt(c, i);
	uint64_t la = fx_area_la(c, i, ACC_READ);
	uint8_t img[FX_SIZE];
	vec_read_la(c, la, img, legacy_end(f));
	if (img_mxcsr(img) & ~MXCSR_SUPPORTED)
		emu_raise(c, X86_GP, 0);
	x87_load(c, img, f);
	mxcsr_put(c, img_mxcsr(img));
	xmm_load(c, img, f);
}

/* ---- XSAVE ---- */

/*
 * XINUSE (Vol. 1 13.6): a component may be reported in use at any time; it
 * is reported not in use only in its initial configuration -- x87: as
 * fpu_x87_init_config() leaves it; SSE: every XMM register 0 (MXCSR at
 * 1F80H too, the stricter reading).
 */
static uint64_t xinuse(const struct emu_cpu *c)
{
	static const uint8_t zero[256];
	uint8_t init[FX_SIZE] = { 0 };
	const uint8_t *fx = c->s->fxsave;
	uint64_t in_use = 0;
	fpu_x87_init_config(init);
	if (memcmp(fx, init, 24) || memcmp(fx + FX_ST0, init + FX_ST0, 128))
		in_use |= XFEATURE_X87;
	if (memcmp(fx + FX_XMM0, zero, 256) || mxcsr_get(c) != MXCSR_DEFAULT)
		in_use |= XFEATURE_SSE;
	return in_use;
}

static void xsave_enter(struct emu_cpu *c, enum cpu_feature f)
{
	/* XSAVE/XRSTOR/XSAVEOPT (Vol. 2C): #UD without the feature or with
	 * CR4.OSXSAVE = 0, #NM with CR0.TS. */
	if (!cpu_has(&c->vm->model, CPUF_XSAVE) || !cpu_has(&c->vm->model, f) ||
	    !(c->s->cr4 & CR4_OSXSAVE))
		emu_raise_noerr(c, X86_UD);
	if (c->s->cr0 & CR0_TS)
		emu_raise_noerr(c, X86_NM);
}

static uint64_t rfbm(const struct emu_cpu *c)
{
	const uint64_t *g = c->s->gpr;
	return c->s->xcr0 & (((g[GPR_RDX] & 0xffffffffull) << 32) | (g[GPR_RAX] & 0xffffffffull));
}

/*
 * XSAVE and XSAVEOPT (Vol. 1 13.7, 13.9): for each requested component
 * (RFBM = XCR0 & EDX:EAX) its part of the legacy region -- XSAVEOPT only
 * if the component is in use (the init optimization; tortuga does not use
 * the modified optimization) -- MXCSR whenever SSE is requested, and
 * XSTATE_BV[i] = XINUSE[i] for the requested i, the other bits of the
 * header untouched.
 */
static void xsave_common(struct emu_cpu *c, const struct emu_insn *i, bool opt)
{
	struct legacy_fmt f = legacy_fmt(c, i);
	uint64_t la = vec_mem_la(c, i, &i->op[0], XSAVE_SIZE, XSAVE_ALIGN, ACC_WRITE);
	uint64_t req = rfbm(c), inuse = xinuse(c);
	uint64_t save = opt ? req & inuse : req;
	uint64_t bv;
	emu_probe_write(c, la, XSAVE_SIZE);
	vec_read_la(c, la + XSAVE_HEADER, &bv, 8);
	uint8_t img[FX_SIZE];
	if (save & XFEATURE_X87) {
		x87_save(c, img, f);
		vec_write_la(c, la, img, 24);
		vec_write_la(c, la + FX_ST0, img + FX_ST0, 128);
	}
	if (req & XFEATURE_SSE) {
		mxcsr_save(c, img);
		vec_write_la(c, la + FX_MXCSR, img + FX_MXCSR, 8);
	}
	if (save & XFEATURE_SSE) {
		xmm_save(c, img, f);
		vec_write_la(c, la + FX_XMM0, img + FX_XMM0, 16 * f.nxmm);
	}
	bv = (bv & ~req) | (inuse & req);
	vec_write_la(c, la + XSAVE_HEADER, &bv, 8);
}

void op_xsave(struct emu_cpu *c, const struct emu_insn *i)
{
	xsave_enter(c, CPUF_XSAVE);
	xsave_common(c, i, false);
}

void op_xsaveopt(struct emu_cpu *c, const struct emu_insn *i)
{
	xsave_enter(c, CPUF_XSAVEOPT);
	xsave_common(c, i, true);
}

/*
 * XRSTOR, standard form (Vol. 2C XRSTOR, Vol. 1 13.8.1). #GP(0) for the
 * compacted form (XCOMP_BV[63]: no XSAVEC), for XSTATE_BV bits outside
 * XCR0, for non-zero header bytes 23:8, and for reserved MXCSR bits; all
 * checked before any state changes. Then each requested component is loaded
 * (XSTATE_BV[i] = 1) or put in its initial configuration; MXCSR is loaded
 * whenever SSE is requested.
 */
void op_xrstor(struct emu_cpu *c, const struct emu_insn *i)
{
	xsave_enter(c, CPUF_XSAVE);
	struct legacy_fmt f = legacy_fmt(c, i);
	uint64_t la = vec_mem_la(c, i, &i->op[0], XSAVE_SIZE, XSAVE_ALIGN, ACC_READ);
	uint64_t hdr[3];
	vec_read_la(c, la + XSAVE_HEADER, hdr, sizeof(hdr));
	uint64_t bv = hdr[0], req = rfbm(c);
	if ((hdr[1] >> 63) || (bv & ~c->s->xcr0) || hdr[1] || hdr[2])
		emu_raise(c, X86_GP, 0);
	uint8_t img[FX_SIZE];
	if (req)
		vec_read_la(c, la, img, legacy_end(f));
	if ((req & XFEATURE_SSE) && (img_mxcsr(img) & ~MXCSR_SUPPORTED))
		emu_raise(c, X86_GP, 0);
	if (req & XFEATURE_X87) {
		if (bv & XFEATURE_X87)
			x87_load(c, img, f);
		else
			fpu_x87_init_config(c->s->fxsave);
	}
	if (req & XFEATURE_SSE) {
		if (bv & XFEATURE_SSE)
			xmm_load(c, img, f);
		else
			memset(c->s->fxsave + FX_XMM0, 0, 16 * f.nxmm);
		mxcsr_put(c, img_mxcsr(img));
	}
}
