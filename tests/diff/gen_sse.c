/*
 * Operand values for the x87/MMX/SSE forms (forms_sse.c): floating-point
 * values that reach every case of the SDM's rules (SDM Vol. 1 4.8 and 11.5:
 * signed zeros, infinities, quiet and signalling NaNs with payloads,
 * denormals, the largest and smallest normals, results that overflow or
 * underflow, integers and halves for the conversions and rounding, the
 * int32/int64 conversion limits), integer lanes at the saturation limits,
 * MXCSR with every rounding mode, DAZ, FTZ and random exception masks (so
 * that #XM happens), x87 states with TOP, tags and pending exceptions for
 * the MMX and x87 control forms, and FXSAVE/XSAVE images for the restores.
 */
#include <string.h>

#include "core/fpu.h"
#include "gen.h"

/* ---- floating-point values ---- */

static uint32_t f32_value(struct rng *r)
{
	static const uint32_t limits[] = {
		0x4effffff, 0x4f000000, 0x4f000001, 0xceffffff, 0xcf000000, 0xcf000001, /* 2^31 */
		0x5effffff, 0x5f000000, 0xdeffffff, 0xdf000000, 0xdf000001, /* 2^63 */
		0x3f000000, 0x3fc00000, 0x40200000, 0xbf000000, 0xbfc00000, /* halves */
	};
	uint32_t sign = (uint32_t)(rng_next(r) & 1) << 31;
	uint32_t mant = (uint32_t)rng_next(r) & 0x7fffff;
	switch (rng_below(r, 24)) {
	case 0: return sign; /* +-0 */
	case 1: return sign | 0x3f800000; /* +-1 */
	case 2: return sign | 0x7f800000; /* +-infinity */
	case 3: return sign | 0x7fc00000; /* QNaN floating-point indefinite (negative) */
	case 4: return sign | 0x7fc00000 | mant; /* QNaN with a payload */
	case 5: return sign | 0x7f800000 | ((mant & 0x3fffff) ? (mant & 0x3fffff) : 1); /* SNaN */
	case 6: return sign | (mant ? mant : 1); /* denormal */
	case 7: return sign | (rng_below(r, 2) ? 1 : 0x7fffff); /* smallest, largest denormal */
	case 8: return sign | 0x00800000 | (rng_below(r, 2) ? 0 : mant); /* smallest normals */
	case 9: return sign | 0x7f7fffff; /* largest normal */
	case 10: return sign | ((uint32_t)(250 + rng_below(r, 5)) << 23) | mant; /* sums overflow */
	case 11: return sign | ((uint32_t)(1 + rng_below(r, 30)) << 23) | mant; /* differences underflow */
	case 12:
	case 13: return sign | ((uint32_t)(40 + rng_below(r, 40)) << 23) | mant; /* products underflow */
	case 14: return sign | ((uint32_t)(180 + rng_below(r, 40)) << 23) | mant; /* products overflow */
	case 15: {
		float x = (float)(int32_t)gen_value(r, 4); /* an integer */
		uint32_t b;
		memcpy(&b, &x, 4);
		return b;
	}
	case 16: return limits[rng_below(r, sizeof(limits) / sizeof(limits[0]))];
	case 17: return sign | ((uint32_t)(127 + rng_below(r, 24)) << 23) | (mant & ~0xfffu); /* few fraction bits */
	default: return sign | ((uint32_t)(110 + rng_below(r, 35)) << 23) | mant; /* ordinary */
	}
}

static uint64_t f64_value(struct rng *r)
{
	static const uint64_t limits[] = {
		0x41dfffffffc00000ull, 0x41e0000000000000ull, 0xc1e0000000000000ull, 0xc1e0000000200000ull, /* 2^31 */
		0x41dfffffffe00000ull, 0xc1dfffffffe00000ull, 0x43dfffffffffffffull, 0x43e0000000000000ull,
		0xc3e0000000000000ull, 0xc3e0000000000001ull, /* 2^63 */
		0x47efffffe0000000ull, 0x47efffffe8000000ull, 0x47f0000000000000ull, /* FLT_MAX and beyond */
		0x3810000000000000ull, 0x380fffffffffffffull, 0x36a0000000000000ull, 0x3690000000000000ull, /* float limits */
	};
	uint64_t sign = (rng_next(r) & 1) << 63;
	uint64_t mant = rng_next(r) & 0xfffffffffffffull;
	switch (rng_below(r, 24)) {
	case 0: return sign;
	case 1: return sign | 0x3ff0000000000000ull;
	case 2: return sign | 0x7ff0000000000000ull;
	case 3: return sign | 0x7ff8000000000000ull;
	case 4: return sign | 0x7ff8000000000000ull | mant;
	case 5: return sign | 0x7ff0000000000000ull | ((mant & 0x7ffffffffffffull) ? (mant & 0x7ffffffffffffull) : 1);
	case 6: return sign | (mant ? mant : 1);
	case 7: return sign | (rng_below(r, 2) ? 1 : 0xfffffffffffffull);
	case 8: return sign | 0x0010000000000000ull | (rng_below(r, 2) ? 0 : mant);
	case 9: return sign | 0x7fefffffffffffffull;
	case 10: return sign | ((2040 + rng_below(r, 7)) << 52) | mant;
	case 11: return sign | ((1 + rng_below(r, 60)) << 52) | mant;
	case 12: return sign | ((300 + rng_below(r, 300)) << 52) | mant;
	case 13: return sign | ((1023 - 152 + rng_below(r, 34)) << 52) | mant; /* float denormals, underflow */
	case 14: return sign | ((1023 + 120 + rng_below(r, 12)) << 52) | mant; /* float overflow */
	case 15: {
		double x = (double)(int64_t)gen_value(r, 8);
		uint64_t b;
		memcpy(&b, &x, 8);
		return b;
	}
	case 16: {
		double x = (double)(int32_t)gen_value(r, 4) + (rng_below(r, 2) ? 0.5 : 0);
		uint64_t b;
		memcpy(&b, &x, 8);
		return b;
	}
	case 17: return limits[rng_below(r, sizeof(limits) / sizeof(limits[0]))];
	default: return sign | ((1000 + rng_below(r, 50)) << 52) | mant;
	}
}

/* An x87 double extended value (SDM Vol. 1 4.2.2, Table 4-3, and 8.2.2
 * for the encodings the x87 FPU does not support): zeros, normals,
 * infinities, QNaNs and SNaNs, denormals and pseudo-denormals (exponent 0),
 * unnormals and pseudo-infinities (J bit clear). */
static void f80_value(struct rng *r, uint8_t *out)
{
	uint64_t m = rng_next(r), j = 1ull << 63;
	uint16_t sign = (uint16_t)((rng_next(r) & 1) << 15), e;
	switch (rng_below(r, 16)) {
	case 0: m = 0; e = 0; break;
	case 1: m = j; e = 0x3fff; break;
	case 2: m = j; e = 0x7fff; break;
	case 3: m |= j | (1ull << 62); e = 0x7fff; break; /* QNaN */
	case 4: m = (m & ~(3ull << 62)) | j | 1; e = 0x7fff; break; /* SNaN */
	case 5: m &= ~j; e = 0; break; /* denormal */
	case 6: m |= j; e = 0; break; /* pseudo-denormal */
	case 7: m &= ~j; e = (uint16_t)(1 + rng_below(r, 0x7ffe)); break; /* unnormal, pseudo-infinity */
	case 8: m |= j; e = (uint16_t)(rng_below(r, 2) ? 1 + rng_below(r, 64) : 0x7ffe - rng_below(r, 64)); break;
	default: m |= j; e = (uint16_t)(0x3ff0 + rng_below(r, 0x20)); break;
	}
	e |= sign;
	memcpy(out, &m, 8);
	memcpy(out + 8, &e, 2);
}

/* Fill len bytes with lanes of type vt. */
static void fill(struct rng *r, uint8_t *p, unsigned len, enum vtype vt)
{
	for (unsigned k = 0; k < len;) {
		uint64_t v;
		unsigned n;
		switch (vt) {
		case VT_F32: v = f32_value(r); n = 4; break;
		case VT_F64: v = f64_value(r); n = 8; break;
		case VT_I8: v = gen_value(r, 1); n = 1; break;
		case VT_I16: v = gen_value(r, 2); n = 2; break;
		case VT_I32: v = gen_value(r, 4); n = 4; break;
		case VT_I64: v = gen_value(r, 8); n = 8; break;
		case VT_F80:
			if (len - k >= 10) {
				f80_value(r, p + k);
				k += 10;
				continue;
			}
			/* fall through */
		default: v = rng_next(r); n = 8; break;
		}
		if (n > len - k)
			n = len - k;
		memcpy(p + k, &v, n);
		k += n;
	}
}

/* ---- control and status ---- */

/* MXCSR: any rounding mode, DAZ and FTZ now and then, all exceptions
 * masked half of the time (else each unmasked with probability 2/3), and
 * sticky flags already set now and then. Never a reserved bit. */
static uint32_t mxcsr_value(struct rng *r)
{
	uint32_t m = (uint32_t)rng_below(r, 4) << MXCSR_RC_SHIFT;
	if (rng_below(r, 4) == 0)
		m |= MXCSR_DAZ;
	if (rng_below(r, 4) == 0)
		m |= MXCSR_FTZ;
	if (rng_below(r, 2))
		m |= MXCSR_MASKS;
	else
		for (unsigned k = 0; k < 6; k++)
			if (rng_below(r, 3) == 0)
				m |= 1u << (MXCSR_MASK_SHIFT + k);
	if (rng_below(r, 2))
		m |= (uint32_t)rng_next(r) & MXCSR_FLAGS;
	return m;
}

/* A reserved MXCSR bit for the #GP cases: 31:16 except bit 17, which AMD
 * processors define (MisAlignSse's MM). */
static uint32_t mxcsr_reserved_bit(struct rng *r)
{
	unsigned b = 16 + (unsigned)rng_below(r, 16);
	return 1u << (b == 17 ? 18 : b);
}

/*
 * A random x87 state: control word with any precision, rounding and
 * masks; status word with flags, condition codes and TOP, and ES/B set
 * exactly when an unmasked flag is (a pending exception) -- which most
 * cases avoid, else every waiting instruction faults; any tags; 80-bit
 * register contents (the 6 bytes above them in each slot are 0, as FXSAVE
 * stores them).
 */
static void x87_random(struct rng *r, uint8_t *fx)
{
	uint32_t fcw = 0x40 | ((uint32_t)rng_next(r) & 0x1f3f);
	uint32_t fsw = (uint32_t)rng_next(r) & (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3 | FSW_TOP);
	uint32_t flags = (uint32_t)rng_next(r) & FSW_EXC;
	if (rng_below(r, 4))
		flags &= fcw; /* masked ones only: nothing pending */
	fsw |= flags;
	if (flags & ~fcw & FSW_EXC)
		fsw |= FSW_ES | FSW_B;
	fx_put(fx, FX_FCW, 2, fcw);
	fx_put(fx, FX_FSW, 2, fsw);
	fx[FX_FTW] = (uint8_t)rng_next(r);
	fx[FX_FTW + 1] = 0;
	fx_put(fx, FX_FOP, 2, (uint32_t)rng_next(r) & 0x7ff);
	uint64_t ptr[2] = { rng_next(r), rng_next(r) };
	memcpy(fx + FX_FIP, ptr, 16);
	for (unsigned k = 0; k < 8; k++) {
		uint8_t *st = fx + FX_ST0 + 16 * k;
		uint64_t m = rng_next(r);
		uint16_t e = (uint16_t)rng_next(r);
		memcpy(st, &m, 8);
		memcpy(st + 8, &e, 2);
		memset(st + 10, 0, 6);
	}
}

void gen_fx_default(uint8_t *fx)
{
	memset(fx, 0, FX_SIZE);
	fpu_x87_init(fx);
	fx_put(fx, FX_MXCSR, 4, MXCSR_DEFAULT);
}

/* ---- the case ---- */

struct vops {
	int xmm[2], mmx[2]; /* register numbers of operands 0 and 1, or -1 */
	ZydisMnemonic mnem;
};

static void decode_ops(const struct diff_case *c, struct vops *v)
{
	ZydisDecoder dec;
	ZydisDecoderInit(&dec, c->compat ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 : ZYDIS_MACHINE_MODE_LONG_64,
			 c->compat ? ZYDIS_STACK_WIDTH_32 : ZYDIS_STACK_WIDTH_64);
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
	v->xmm[0] = v->xmm[1] = v->mmx[0] = v->mmx[1] = -1;
	v->mnem = ZYDIS_MNEMONIC_INVALID;
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, c->code, c->len, &zi, zo)))
		return;
	v->mnem = zi.mnemonic;
	for (unsigned k = 0; k < 2 && k < zi.operand_count_visible; k++) {
		if (zo[k].type != ZYDIS_OPERAND_TYPE_REGISTER)
			continue;
		ZydisRegister reg = zo[k].reg.value;
		if (reg >= ZYDIS_REGISTER_XMM0 && reg <= ZYDIS_REGISTER_XMM15)
			v->xmm[k] = (int)(reg - ZYDIS_REGISTER_XMM0);
		else if (reg >= ZYDIS_REGISTER_MM0 && reg <= ZYDIS_REGISTER_MM7)
			v->mmx[k] = (int)(reg - ZYDIS_REGISTER_MM0);
	}
}

static bool is_shift(ZydisMnemonic m)
{
	switch (m) {
	case ZYDIS_MNEMONIC_PSLLW: case ZYDIS_MNEMONIC_PSLLD: case ZYDIS_MNEMONIC_PSLLQ:
	case ZYDIS_MNEMONIC_PSRLW: case ZYDIS_MNEMONIC_PSRLD: case ZYDIS_MNEMONIC_PSRLQ:
	case ZYDIS_MNEMONIC_PSRAW: case ZYDIS_MNEMONIC_PSRAD:
		return true;
	default:
		return false;
	}
}

/* Where operand k's value lives in the case: an XMM or MMX slot of the
 * state image, the memory operand, or nowhere (NULL). */
static uint8_t *operand_bytes(struct diff_case *c, const struct vops *v, unsigned k, uint8_t *membuf,
			      unsigned mem_size, bool *is_mem)
{
	*is_mem = false;
	if (v->xmm[k] >= 0)
		return c->in.fx + FX_XMM0 + 16 * v->xmm[k];
	if (v->mmx[k] >= 0) {
		unsigned top = (fx_get(c->in.fx, FX_FSW, 2) & FSW_TOP) >> FSW_TOP_SHIFT;
		return c->in.fx + FX_ST0 + 16 * ((v->mmx[k] - top) & 7);
	}
	if (mem_size) {
		*is_mem = true;
		return membuf;
	}
	return NULL;
}

/* An FXSAVE image for FXRSTOR/XRSTOR: a random x87 state, a valid MXCSR
 * (a reserved bit one time in 16: #GP), typed XMM registers. One time in
 * 8 its FSW.ES and B contradict the flags and masks: the processor
 * recomputes them (SDM Vol. 1 8.1.3). */
static void image(struct rng *r, uint8_t *img, enum vtype vt)
{
	fill(r, img, FX_SIZE, VT_BYTES);
	x87_random(r, img);
	if (rng_below(r, 8) == 0)
		fx_put(img, FX_FSW, 2, fx_get(img, FX_FSW, 2) ^ (FSW_ES | (rng_below(r, 2) ? FSW_B : 0)));
	uint32_t mx = mxcsr_value(r);
	if (rng_below(r, 16) == 0)
		mx |= mxcsr_reserved_bit(r);
	fx_put(img, FX_MXCSR, 4, mx);
	fill(r, img + FX_XMM0, 256, vt);
}

/* Stores of the state: the x87 pointers and opcode and MXCSR_MASK of the
 * image are the processor's business (see main.c fx_parts). */
static void skip_fx_pointers(struct diff_case *c, uint64_t addr)
{
	int a = gen_mem_index(addr + FX_FOP), b = gen_mem_index(addr + FX_MXCSR_MASK);
	c->nskip = 0;
	if (a >= 0 && gen_mem_index(addr + FX_MXCSR - 1) == a + FX_MXCSR - 1 - FX_FOP) {
		c->mem_skip[c->nskip].off = (uint16_t)a;
		c->mem_skip[c->nskip++].len = FX_MXCSR - FX_FOP;
	}
	if (b >= 0 && gen_mem_index(addr + FX_MXCSR_MASK + 3) == b + 3) {
		c->mem_skip[c->nskip].off = (uint16_t)b;
		c->mem_skip[c->nskip++].len = 4;
	}
}

void gen_sse_values(struct rng *r, struct diff_case *c, const struct form *f, uint64_t mem_addr,
		    unsigned mem_size)
{
	enum vtype vt = (enum vtype)f->vt;
	struct vops v;
	decode_ops(c, &v);
	fill(r, c->in.fx + FX_XMM0, 256, vt);
	fx_put(c->in.fx, FX_MXCSR, 4, mxcsr_value(r));
	bool mmx = v.mmx[0] >= 0 || v.mmx[1] >= 0 || v.mnem == ZYDIS_MNEMONIC_EMMS;
	if (mmx || f->group == G_X87CTL || f->group == G_FXSAVE || f->group == G_XSAVE || f->group == G_X87)
		x87_random(r, c->in.fx);
	if (f->group == G_X87) {
		/* Values an x87 program holds, and mostly valid tags. */
		for (unsigned k = 0; k < 8; k++)
			f80_value(r, c->in.fx + FX_ST0 + 16 * k);
		c->in.fx[FX_FTW] = (uint8_t)(rng_next(r) | rng_next(r));
		/* Canonical pointers (bits 63:47 equal): some processors
		 * keep only 48 bits of FIP and FDP (see main.c fx_pointers). */
		for (unsigned k = 0; k < 2; k++) {
			uint64_t p = (uint64_t)((int64_t)(rng_next(r) << 16) >> 16);
			memcpy(c->in.fx + (k ? FX_FDP : FX_FIP), &p, 8);
		}
	}

	uint8_t mem[FX_SIZE + 64];
	if (mem_size > sizeof(mem))
		mem_size = sizeof(mem);
	gen_mem_get(c, mem_addr, mem, mem_size);
	switch (f->group) {
	case G_MXCSR:
		if (v.mnem == ZYDIS_MNEMONIC_LDMXCSR) {
			uint32_t mx = mxcsr_value(r);
			if (rng_below(r, 16) == 0)
				mx |= mxcsr_reserved_bit(r);
			memcpy(mem, &mx, 4);
		}
		break;
	case G_X87CTL:
		if (v.mnem == ZYDIS_MNEMONIC_FLDCW && mem_size) {
			uint16_t cw = (uint16_t)(rng_below(r, 4) ? 0x40 | (rng_next(r) & 0x1f3f) : rng_next(r));
			memcpy(mem, &cw, 2);
		}
		break;
	case G_FXSAVE:
		if (v.mnem == ZYDIS_MNEMONIC_FXRSTOR || v.mnem == ZYDIS_MNEMONIC_FXRSTOR64)
			image(r, mem, vt);
		else
			skip_fx_pointers(c, mem_addr);
		break;
	case G_XSAVE: {
		/* Request x87 and SSE only (the host's XCR0 has more); the
		 * upper halves of RAX and RDX are ignored. */
		c->in.gpr[0] = (rng_next(r) & ~0xffffffffull) | rng_below(r, 4);
		c->in.gpr[2] = rng_next(r) & ~0xffffffffull;
		if (rng_below(r, 8) == 0) {
			/* Both components in their initial configuration
			 * (XINUSE 0, Vol. 1 13.6). */
			memset(c->in.fx, 0, FX_SIZE);
			fpu_x87_init_config(c->in.fx);
			fx_put(c->in.fx, FX_MXCSR, 4, MXCSR_DEFAULT);
		}
		if (v.mnem == ZYDIS_MNEMONIC_XRSTOR || v.mnem == ZYDIS_MNEMONIC_XRSTOR64) {
			image(r, mem, vt);
			uint64_t hdr[3] = { rng_below(r, 4), 0, 0 };
			switch (rng_below(r, 24)) {
			case 0: hdr[0] |= 1ull << 63; break; /* a component outside XCR0: #GP */
			case 1: hdr[1] = 1; break; /* XCOMP_BV: #GP */
			case 2: hdr[2] = rng_next(r) | 1; break; /* header bytes 23:16: #GP */
			default: break;
			}
			memcpy(mem + XSAVE_HEADER, hdr, sizeof(hdr));
		} else {
			skip_fx_pointers(c, mem_addr);
		}
		break;
	}
	case G_X87:
		fill(r, mem, mem_size, vt);
		/* Not the control instructions: they keep the pointers. */
		if (v.mnem != ZYDIS_MNEMONIC_FNSTENV && v.mnem != ZYDIS_MNEMONIC_FNSAVE &&
		    v.mnem != ZYDIS_MNEMONIC_FLDENV && v.mnem != ZYDIS_MNEMONIC_FRSTOR)
			c->x87_pointers = DIFF_X87_FIP | (f->op[0].k == K_M ? DIFF_X87_FDP : 0);
		/* The stored environment's pointers, opcode and selectors are the
		 * processor's (see main.c fx_parts). */
		if (v.mnem == ZYDIS_MNEMONIC_FNSTENV || v.mnem == ZYDIS_MNEMONIC_FNSAVE) {
			/* 32-bit format: bytes 27:12; 16-bit format (14-byte
			 * environment): bytes 13:6 (SDM Vol. 1 8.1.10). */
			unsigned from = f->code16 ? 6 : 12, len = f->code16 ? 8 : 16;
			int a = gen_mem_index(mem_addr + from);
			c->nskip = 0;
			if (a >= 0 && gen_mem_index(mem_addr + from + len - 1) == a + (int)len - 1) {
				c->mem_skip[0].off = (uint16_t)a;
				c->mem_skip[0].len = (uint16_t)len;
				c->nskip = 1;
			}
		}
		break;
	default:
		fill(r, mem, mem_size, vt);
		break;
	}

	/* Shift counts from a register or memory: around the element size. */
	if (f->group == G_SSE && is_shift(v.mnem)) {
		bool is_mem;
		uint8_t *p = operand_bytes(c, &v, 1, mem, mem_size, &is_mem);
		if (p) {
			unsigned bits = 8u << (f->vt - VT_I8);
			uint64_t n = rng_below(r, 8) ? rng_below(r, 2 * bits + 2) : rng_next(r);
			memcpy(p, &n, 8);
		}
	}
	/* Equal operands (compares, subtractions, min/max) one time in 8. */
	if (f->group != G_SSE_SHIFT && rng_below(r, 8) == 0) {
		bool m0, m1;
		uint8_t *d = operand_bytes(c, &v, 0, mem, 0, &m0);
		uint8_t *s = operand_bytes(c, &v, 1, mem, mem_size, &m1);
		if (d && s && d != s && !m0)
			memcpy(s, d, m1 ? (mem_size < 16 ? mem_size : 16) : (v.mmx[1] >= 0 ? 8 : 16));
	}
	if (mem_size)
		gen_mem_put(c, mem_addr, mem, mem_size);
}
