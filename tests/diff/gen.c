/*
 * Random cases of the differential suite's instruction forms (forms.c).
 *
 * A case picks registers and a memory addressing form, encodes the
 * instruction with the Zydis encoder (or takes hand-written bytes for forms
 * the encoder does not produce), then fills the operands with random and
 * edge-case values (0, 1, -1, sign boundaries, shift counts around the
 * operand size, carry in set and clear, equal operands for CMPXCHG...).
 *
 * Each group states which results the Intel SDM (Vol. 2, the instruction's
 * "Flags Affected" and "Operation") defines; only those are compared, since
 * the reference CPU (an AMD host) fills undefined flags its own way.
 */
#include <stdio.h>
#include <string.h>

#include "gen.h"

unsigned gen_bugs;

/* ---- random numbers: xoshiro256** ---- */

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void rng_seed(struct rng *r, uint64_t seed)
{
	/* splitmix64 expands the seed */
	for (int i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		r->s[i] = z ^ (z >> 31);
	}
}

uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static uint64_t mask_of(unsigned sz)
{
	return sz >= 8 ? ~0ull : (1ull << (8 * sz)) - 1;
}

/* Edge cases half of the time, uniform random bits otherwise. */
static uint64_t value(struct rng *r, unsigned sz)
{
	uint64_t m = mask_of(sz), sb = 1ull << (8 * sz - 1);
	unsigned bits = 8 * sz;
	switch (rng_below(r, 24)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return m; /* -1 */
	case 3: return sb; /* most negative */
	case 4: return sb - 1; /* most positive */
	case 5: return sb + 1;
	case 6: return m - 1; /* -2 */
	case 7: return 2;
	case 8: return 1ull << rng_below(r, bits);
	case 9: return ~(1ull << rng_below(r, bits)) & m;
	case 10: return rng_below(r, bits + 2);
	case 11: return (0 - rng_below(r, bits + 2)) & m;
	default: return rng_next(r) & m;
	}
}

uint64_t gen_value(struct rng *r, unsigned sz)
{
	return value(r, sz);
}

/* Shift and rotate counts around the interesting boundaries. */
static uint8_t count_value(struct rng *r, unsigned sz)
{
	static const uint8_t fixed[] = { 0, 1, 2, 31, 32, 33, 63, 64, 65, 255 };
	unsigned bits = 8 * sz;
	switch (rng_below(r, 8)) {
	case 0: return fixed[rng_below(r, sizeof(fixed))];
	case 1: return (uint8_t)(bits - 1);
	case 2: return (uint8_t)bits;
	case 3: return (uint8_t)(bits + 1);
	case 4: return (uint8_t)rng_below(r, 4);
	case 5: return (uint8_t)rng_next(r);
	default: return (uint8_t)rng_below(r, 2 * bits);
	}
}

/* ---- registers ---- */

static ZydisRegister gpr_reg(unsigned id, unsigned sz, bool hi8)
{
	switch (sz) {
	case 1:
		if (hi8)
			return (ZydisRegister)(ZYDIS_REGISTER_AH + id);
		if (id < 4)
			return (ZydisRegister)(ZYDIS_REGISTER_AL + id);
		if (id < 8)
			return (ZydisRegister)(ZYDIS_REGISTER_SPL + (id - 4));
		return (ZydisRegister)(ZYDIS_REGISTER_R8B + (id - 8));
	case 2:
		return (ZydisRegister)(ZYDIS_REGISTER_AX + id);
	case 4:
		return (ZydisRegister)(ZYDIS_REGISTER_EAX + id);
	default:
		return (ZydisRegister)(ZYDIS_REGISTER_RAX + id);
	}
}

/* A decoded register as (GPR number, high-byte flag); false for non-GPRs. */
static bool gpr_id(ZydisRegister r, unsigned *id, bool *hi8)
{
	*hi8 = false;
	if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
		*id = (unsigned)(r - ZYDIS_REGISTER_AH);
		*hi8 = true;
		return true;
	}
	ZydisRegisterClass cl = ZydisRegisterGetClass(r);
	if (cl != ZYDIS_REGCLASS_GPR8 && cl != ZYDIS_REGCLASS_GPR16 && cl != ZYDIS_REGCLASS_GPR32 &&
	    cl != ZYDIS_REGCLASS_GPR64)
		return false;
	*id = (unsigned)(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r) - ZYDIS_REGISTER_RAX);
	return true;
}

static void reg_set(struct diff_case *c, unsigned id, bool hi8, unsigned sz, uint64_t v)
{
	uint64_t *g = &c->in.gpr[id];
	if (hi8)
		*g = (*g & ~0xff00ull) | ((v & 0xff) << 8);
	else
		*g = (*g & ~mask_of(sz)) | (v & mask_of(sz));
}

static uint64_t reg_get(const struct diff_case *c, unsigned id, bool hi8, unsigned sz)
{
	uint64_t g = c->in.gpr[id];
	return hi8 ? (g >> 8) & 0xff : g & mask_of(sz);
}

/* ---- memory ---- */

/* Index of a byte in diff_case.mem, or -1 (beyond the tail: unmapped). */
int gen_mem_index(uint64_t a)
{
	if (a >= DIFF_WIN_VA && a < DIFF_WIN_VA + DIFF_WIN_SIZE)
		return (int)(a - DIFF_WIN_VA);
	if (a >= DIFF_TAIL_VA && a < DIFF_TAIL_VA + DIFF_TAIL_SIZE)
		return (int)(DIFF_WIN_SIZE + (a - DIFF_TAIL_VA));
	return -1;
}

static void mem_set(struct diff_case *c, uint64_t addr, unsigned sz, uint64_t v)
{
	for (unsigned k = 0; k < sz && k < 8; k++) {
		int i = gen_mem_index(addr + k);
		if (i >= 0)
			c->mem[i] = (uint8_t)(v >> (8 * k));
	}
}

void gen_mem_put(struct diff_case *c, uint64_t addr, const void *buf, unsigned len)
{
	const uint8_t *p = buf;
	for (unsigned k = 0; k < len; k++) {
		int i = gen_mem_index(addr + k);
		if (i >= 0)
			c->mem[i] = p[k];
	}
}

void gen_mem_get(const struct diff_case *c, uint64_t addr, void *buf, unsigned len)
{
	uint8_t *p = buf;
	for (unsigned k = 0; k < len; k++) {
		int i = gen_mem_index(addr + k);
		p[k] = i >= 0 ? c->mem[i] : 0;
	}
}

static uint64_t mem_get(const struct diff_case *c, uint64_t addr, unsigned sz)
{
	uint64_t v = 0;
	for (unsigned k = 0; k < sz && k < 8; k++) {
		int i = gen_mem_index(addr + k);
		if (i >= 0)
			v |= (uint64_t)c->mem[i] << (8 * k);
	}
	return v;
}

/*
 * Operands the processor accesses in pieces: the x87 environment and state
 * images (FLDENV, FNSTENV, FRSTOR, FNSAVE, FXSAVE...), field by field, and
 * 80-bit x87 operands, as 8 + 2 bytes on some processors. Which piece comes
 * first -- and so CR2 when one runs into an unmapped page, or whether a
 * limit violation or a page fault of an earlier piece wins -- is the
 * processor's own business.
 */
static bool in_pieces(const struct form *f, unsigned sz)
{
	return sz > 16 || (f->group == G_X87 && sz > 8);
}

/* An address for an sz-byte operand well inside the window; a third of them
 * straddle the page boundary in its middle. `slack` keeps room for BT bit
 * offsets that address beyond the operand. Operands accessed in pieces
 * (but 80-bit ones) stay off the unmapped tail. */
static uint64_t mem_addr(struct rng *r, const struct form *f, unsigned sz, unsigned slack)
{
	uint64_t mid = DIFF_WIN_VA + DIFF_WIN_SIZE / 2; /* the page boundary */
	uint64_t end = DIFF_TAIL_VA + DIFF_TAIL_SIZE; /* unmapped from here */
	if (!slack && (!in_pieces(f, sz) || sz == 10) && rng_below(r, 32) == 0) {
		/* At the end of the data pages: inside, running off it (#PF on
		 * the next page, nothing written), or wholly beyond it. */
		switch (rng_below(r, 3)) {
		case 0:
			return DIFF_TAIL_VA + rng_below(r, DIFF_TAIL_SIZE - sz + 1);
		case 1:
			if (sz > 1)
				return end - 1 - rng_below(r, sz - 1);
			/* fall through */
		default:
			return end + rng_below(r, 8);
		}
	}
	if (rng_below(r, 3) == 0 && sz > 1 && sz <= DIFF_WIN_SIZE / 2)
		return mid - 1 - rng_below(r, sz - 1);
	uint64_t lo = DIFF_WIN_VA + slack, hi = DIFF_WIN_VA + DIFF_WIN_SIZE - slack - sz;
	return lo + rng_below(r, hi - lo + 1);
}

/* The memory operand of a case: its shape as encoded, and what makes the
 * effective address come out at `addr`. */
struct memop {
	int base, index; /* GPR numbers, -1 none */
	bool rip;
	unsigned scale;
	int64_t disp;
	unsigned asz; /* address size, 4 or 8 */
	uint64_t addr; /* linear address */
	uint64_t off; /* effective address: addr minus the segment base */
	uint64_t ival; /* index value of the index-only form */
	unsigned sz;
};

static int pick_free(struct rng *r, uint32_t *used)
{
	int cand[16], n = 0;
	for (int k = 0; k < 16; k++)
		if (!(*used & (1u << k)))
			cand[n++] = k;
	if (!n)
		return -1;
	int id = cand[rng_below(r, (uint64_t)n)];
	*used |= 1u << id;
	return id;
}

/* RSP can be a base but never an index (SDM Vol. 2A 2.1.5, Table 2-3). */
static int pick_index(struct rng *r, uint32_t *used)
{
	uint32_t u = *used | (1u << DIFF_RSP);
	int id = pick_free(r, &u);
	if (id >= 0)
		*used |= 1u << id;
	return id;
}

/*
 * 16-bit addressing (SDM Vol. 2A 2.1.5, Table 2-1): [BX|BP] + [SI|DI] +
 * disp8/disp16, any one of the four alone (BP with a displacement), or
 * [disp16].
 */
static void mem_shape16(struct rng *r, struct memop *m, uint32_t *used)
{
	static const int8_t forms16[][2] = { { 3, 6 }, { 3, 7 }, { 5, 6 }, { 5, 7 }, { -1, 6 },
					     { -1, 7 }, { 3, -1 }, { 5, -1 }, { -1, -1 } };
	unsigned k = (unsigned)rng_below(r, sizeof(forms16) / sizeof(forms16[0]));
	int b = forms16[k][0], x = forms16[k][1];
	if ((b >= 0 && (*used & (1u << b))) || (x >= 0 && (*used & (1u << x))))
		b = x = -1; /* taken by an operand: absolute */
	m->base = b;
	m->index = x;
	if (b >= 0)
		*used |= 1u << b;
	if (x >= 0)
		*used |= 1u << x;
	m->scale = 1;
	m->ival = rng_next(r);
	switch (rng_below(r, 3)) {
	case 0: m->disp = 0; break;
	case 1: m->disp = (int8_t)rng_next(r); break;
	default: m->disp = (int16_t)rng_next(r); break;
	}
	if (b < 0 && x < 0)
		m->disp = (int64_t)m->off; /* [disp16] */
}

static void mem_shape(struct rng *r, struct memop *m, uint32_t *used, bool compat, bool code16)
{
	m->base = m->index = -1;
	m->rip = false;
	m->scale = 1;
	m->disp = 0;
	if (code16 && rng_below(r, 4)) {
		m->asz = 2;
		mem_shape16(r, m, used);
		return;
	}
	m->asz = compat || rng_below(r, 8) == 0 ? 4 : 8;
	switch (rng_below(r, 8)) {
	case 0:
		m->base = pick_free(r, used);
		break;
	case 1:
		m->base = pick_free(r, used);
		m->disp = (int8_t)rng_next(r);
		break;
	case 2:
		m->base = pick_free(r, used);
		m->disp = (int32_t)rng_next(r);
		break;
	case 3:
	case 4:
		m->base = pick_free(r, used);
		m->index = pick_index(r, used);
		m->scale = 1u << rng_below(r, 4);
		m->disp = rng_below(r, 2) ? (int8_t)rng_next(r) : (int32_t)rng_next(r);
		break;
	case 5:
		/* [index*scale + disp32]: always a disp32, so its value does
		 * not change the encoding. */
		m->index = pick_index(r, used);
		m->scale = 1u << rng_below(r, 4);
		m->ival = rng_below(r, m->off / m->scale + 1);
		m->disp = (int64_t)(m->off - m->ival * m->scale);
		break;
	case 6:
		if (m->asz == 8) {
			m->rip = true;
			break;
		}
		/* fall through */
	default:
		m->disp = 0; /* absolute [disp32]: set from the address later */
		break;
	}
}

static void mem_encode(const struct memop *m, ZydisEncoderOperand *eo, unsigned sz)
{
	eo->type = ZYDIS_OPERAND_TYPE_MEMORY;
	unsigned rsz = m->asz;
	eo->mem.base = m->rip ? ZYDIS_REGISTER_RIP : m->base >= 0 ? gpr_reg((unsigned)m->base, rsz, false) :
								   ZYDIS_REGISTER_NONE;
	eo->mem.index = m->index >= 0 ? gpr_reg((unsigned)m->index, rsz, false) : ZYDIS_REGISTER_NONE;
	eo->mem.scale = m->index >= 0 ? (uint8_t)m->scale : 0;
	eo->mem.displacement = m->disp;
	eo->mem.size = (uint16_t)sz;
}

/* Register values that make the encoded effective address equal m->off
 * (SDM Vol. 1 3.7.5: base + index * scale + disp, truncated to the address
 * size). */
static void mem_bind(struct rng *r, struct diff_case *c, struct memop *m)
{
	uint64_t amask = m->asz == 2 ? 0xffffull : m->asz == 4 ? 0xffffffffull : ~0ull;
	if (m->asz == 2) {
		/* 16-bit: the sum wraps at 64 KiB; the upper bits are ignored */
		uint64_t rest = (uint64_t)m->disp;
		if (m->index >= 0) {
			c->in.gpr[m->index] = m->ival;
			rest += m->ival;
		}
		if (m->base >= 0)
			c->in.gpr[m->base] = ((m->off - rest) & amask) | (rng_next(r) & ~amask);
		return;
	}
	if (m->rip || (m->base < 0 && m->index < 0))
		return; /* displacement computed at encode time */
	uint64_t rest = (uint64_t)m->disp;
	if (m->index >= 0) {
		uint64_t iv;
		if (m->base >= 0)
			iv = rng_below(r, 4) ? rng_next(r) : rng_below(r, 64);
		else
			iv = m->ival;
		c->in.gpr[m->index] = iv;
		rest += iv * m->scale;
	}
	if (m->base >= 0) {
		uint64_t bv = (m->off - rest) & amask;
		if (m->asz == 4)
			bv |= rng_next(r) & ~0xffffffffull; /* ignored upper half */
		c->in.gpr[m->base] = bv;
	}
}

/* ---- encoding ---- */

/*
 * Encode, then decode again and check the memory operand: Zydis 4.0's
 * encoder sometimes shortens a disp32 of 32-bit addressing in 16-bit code
 * to a disp8; such encodings are thrown away (the caller draws again).
 */
static bool encode(ZydisEncoderRequest *req, struct diff_case *c)
{
	ZyanUSize len = sizeof(c->code);
	if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(req, c->code, &len)))
		return false;
	c->len = (uint8_t)len;
	ZydisDecoder dec;
	ZydisDecoderInit(&dec, req->machine_mode,
			 req->machine_mode == ZYDIS_MACHINE_MODE_LONG_64 ? ZYDIS_STACK_WIDTH_64 :
			 req->machine_mode == ZYDIS_MACHINE_MODE_LONG_COMPAT_32 ? ZYDIS_STACK_WIDTH_32 :
										  ZYDIS_STACK_WIDTH_16);
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, c->code, len, &zi, zo)))
		return false;
	for (unsigned k = 0; k < req->operand_count && k < zi.operand_count_visible; k++) {
		const ZydisEncoderOperand *eo = &req->operands[k];
		if (eo->type != ZYDIS_OPERAND_TYPE_MEMORY || zo[k].type != ZYDIS_OPERAND_TYPE_MEMORY)
			continue;
		int64_t disp = zo[k].mem.disp.has_displacement ? zo[k].mem.disp.value : 0;
		if (eo->mem.base != ZYDIS_REGISTER_RIP && (zo[k].mem.base != eo->mem.base || disp != eo->mem.displacement))
			return false;
	}
	return true;
}

/* Lockable forms with a memory destination (SDM Vol. 2A LOCK). */
static bool lockable(ZydisMnemonic m)
{
	switch (m) {
	case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_AND:
	case ZYDIS_MNEMONIC_BTC: case ZYDIS_MNEMONIC_BTR: case ZYDIS_MNEMONIC_BTS:
	case ZYDIS_MNEMONIC_CMPXCHG: case ZYDIS_MNEMONIC_CMPXCHG8B: case ZYDIS_MNEMONIC_CMPXCHG16B:
	case ZYDIS_MNEMONIC_DEC: case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_NEG:
	case ZYDIS_MNEMONIC_NOT: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_SBB:
	case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_XADD:
	case ZYDIS_MNEMONIC_XCHG:
		return true;
	default:
		return false;
	}
}

/* Registers an instruction reads or writes implicitly (kept out of
 * addressing so that they can hold random operand values). */
static uint32_t implicit_regs(const struct form *f)
{
	for (unsigned k = 0; k < f->nops; k++)
		if (f->op[k].k == K_CL)
			return 0x2; /* the count in CL */
	switch (f->group) {
	case G_MUL:
		return f->nops == 1 ? 0x5 : 0; /* RAX, RDX */
	case G_DIV:
		return 0x5;
	case G_CMPXCHG:
		return 0x1;
	case G_CX8:
		return 0xf; /* RAX RCX RDX RBX */
	case G_SAHF:
	case G_MOVE:
		return 0x5;
	case G_STR:
	case G_STRCMP:
		return 0xc3; /* RAX RCX RSI RDI */
	case G_STACK:
		return 0x30; /* RSP RBP */
	case G_XSAVE:
		return 0x5; /* EDX:EAX, the requested components */
	case G_XLAT:
		return 0x9; /* RAX RBX */
	case G_BRANCH:
		return 0x12; /* RCX (LOOP, JrCXZ), RSP (CALL, RET) */
	default:
		return 0;
	}
}

/* ---- case generation ---- */

struct dec {
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
	bool ok;
};

static void decode(const struct diff_case *c, struct dec *d)
{
	ZydisDecoder dec;
	if (c->code16)
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_COMPAT_16, ZYDIS_STACK_WIDTH_16);
	else if (c->compat)
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_COMPAT_32, ZYDIS_STACK_WIDTH_32);
	else
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	d->ok = ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, c->code, c->len, &d->zi, d->zo));
}

/* Value of the shift/rotate count operand (the last visible one). */
static unsigned shift_count(const struct diff_case *c, const struct dec *d)
{
	unsigned n = d->zi.operand_count_visible;
	if (n < 2)
		return 1;
	const ZydisDecodedOperand *o = &d->zo[n - 1];
	if (o->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return (unsigned)(o->imm.value.u & 0xff);
	return (unsigned)(c->in.gpr[1] & 0xff); /* CL */
}

/*
 * The flags and results the SDM defines for this case. `count` is the
 * shift/rotate count before masking.
 */
static void defined_results(const struct form *f, struct diff_case *c, const struct dec *d, unsigned sz)
{
	unsigned bits = 8 * sz;
	unsigned cmask = sz == 8 ? 0x3f : 0x1f;
	unsigned n = shift_count(c, d) & cmask; /* for the shifts and rotates */
	uint64_t undef = 0;
	switch (f->group) {
	case G_LOGIC:
		/* AND/OR/XOR/TEST: "The OF and CF flags are cleared; the SF, ZF,
		 * and PF flags are set according to the result. The state of the
		 * AF flag is undefined." */
		undef = AF;
		break;
	case G_MUL:
		/* MUL/IMUL: "The SF, ZF, AF, and PF flags are undefined." */
		undef = SF | ZF | AF | PF;
		break;
	case G_DIV:
		/* DIV/IDIV: "The CF, OF, SF, ZF, AF, and PF flags are undefined." */
		undef = ARITH;
		break;
	case G_SHIFT:
	case G_SHXD:
		/* SAL/SAR/SHL/SHR: count masked to 5 (6 with REX.W) bits; 0
		 * leaves the flags alone. OF only for 1-bit shifts; AF undefined
		 * for a non-zero count; CF undefined for SHL/SHR when the count
		 * is >= the operand size.
		 * SHLD/SHRD: the same for OF and AF, and "If the count is greater
		 * than the operand size, the result is undefined" together with
		 * all the flags. */
		if (!n)
			break;
		undef = AF;
		if (n != 1)
			undef |= OF;
		if (f->group == G_SHIFT && n >= bits && d->zi.mnemonic != ZYDIS_MNEMONIC_SAR)
			undef |= CF;
		if (f->group == G_SHXD && n > bits) {
			undef = ARITH;
			unsigned id;
			bool hi8;
			if (d->zo[0].type == ZYDIS_OPERAND_TYPE_MEMORY)
				c->mem_undefined = true;
			else if (gpr_id(d->zo[0].reg.value, &id, &hi8))
				c->regs_undefined |= (uint16_t)(1u << id);
		}
		break;
	case G_ROT:
	case G_RCX:
		/* RCL/RCR/ROL/ROR: "If the masked count is 0, the flags are not
		 * affected. If the masked count is 1, then the OF flag is
		 * affected, otherwise (masked count is greater than 1) the OF
		 * flag is undefined. [...] The SF, ZF, AF, and PF flags are
		 * always unaffected." */
		if (n > 1)
			undef = OF;
		break;
	case G_BT:
		/* BT/BTS/BTR/BTC: "The ZF flag is unaffected. The OF, SF, AF,
		 * and PF flags are undefined." */
		undef = OF | SF | AF | PF;
		break;
	case G_BSF:
		/* BSF/BSR: "The CF, OF, SF, AF, and PF flags are undefined";
		 * with a zero source the destination is undefined (gen_case). */
		undef = CF | OF | SF | AF | PF;
		break;
	case G_CNT:
		/* TZCNT/LZCNT: "The OF, SF, PF and AF flags are undefined." */
		undef = OF | SF | PF | AF;
		break;
	case G_ANDN:
		/* ANDN: "SF and ZF are updated based on result. OF and CF flags
		 * are cleared. AF and PF flags are undefined." */
		undef = AF | PF;
		break;
	case G_BEXTR:
		/* BEXTR: "ZF is updated based on the result. AF, SF, and PF are
		 * undefined. All other flags are cleared." */
		undef = AF | SF | PF;
		break;
	case G_BLS:
		/* BLSI/BLSMSK/BLSR: "AF and PF are undefined." */
		undef = AF | PF;
		break;
	default:
		/* ADD..CMP, NEG, INC/DEC (CF unaffected), POPCNT, CMPXCHG*,
		 * XADD, SAHF, strings, and the instructions that affect no
		 * flags: every flag is defined. */
		break;
	}
	c->flags_defined = COMPARED & ~undef;
}

/* Value hooks: give each group's operands the values that matter to it. */
struct opvals {
	int reg_id[3];
	bool hi8[3];
	unsigned osz[3];
	bool is_mem[3];
	struct memop mem;
	bool has_mem;
};

static uint64_t op_get(const struct diff_case *c, const struct opvals *v, unsigned k)
{
	if (v->is_mem[k])
		return mem_get(c, v->mem.addr, v->osz[k]);
	if (v->reg_id[k] >= 0)
		return reg_get(c, (unsigned)v->reg_id[k], v->hi8[k], v->osz[k]);
	return 0;
}

static void op_set(struct diff_case *c, const struct opvals *v, unsigned k, uint64_t val)
{
	if (v->is_mem[k])
		mem_set(c, v->mem.addr, v->osz[k], val);
	else if (v->reg_id[k] >= 0)
		reg_set(c, (unsigned)v->reg_id[k], v->hi8[k], v->osz[k], val);
}

static void values_div(struct rng *r, struct diff_case *c, const struct form *f, const struct opvals *v)
{
	unsigned sz = f->sz;
	uint64_t m = mask_of(sz);
	uint64_t d = op_get(c, v, 0);
	bool sgn = f->mnem == ZYDIS_MNEMONIC_IDIV;
	uint64_t lo = value(r, sz), hi;
	switch (rng_below(r, 4)) {
	case 0:
	case 1: /* fits: high half is the sign (or zero) extension of the low */
		hi = sgn && (lo >> (8 * sz - 1)) ? m : 0;
		break;
	case 2: /* fits for DIV when below the divisor */
		hi = d ? rng_below(r, d) & m : 0;
		break;
	default:
		hi = value(r, sz);
	}
	if (sz == 1) {
		reg_set(c, 0, false, 2, (hi << 8) | lo);
	} else {
		reg_set(c, 0, false, sz, lo);
		reg_set(c, 2, false, sz, hi);
	}
}

/* String instructions: RSI/RDI into the window with room for RCX elements in
 * the DF direction; CMPS/SCAS get data that matches for a while. */
static void values_string(struct rng *r, struct diff_case *c, const struct form *f, uint64_t src_base)
{
	unsigned esz = f->sz;
	bool rep = f->prefixes != 0;
	uint64_t n = rep ? rng_below(r, 13) : 1;
	bool down = rng_below(r, 2);
	c->in.rflags = (c->in.rflags & ~(uint64_t)DF) | (down ? DF : 0);
	uint64_t span = (n ? n : 1) * esz;
	/* Source in the lower half, destination in the upper, or overlapping. */
	uint64_t lo_room = DIFF_WIN_SIZE / 2 - span;
	uint64_t s_start = DIFF_WIN_VA + rng_below(r, lo_room + 1);
	uint64_t d_start;
	bool movs = f->mnem == ZYDIS_MNEMONIC_MOVSB || f->mnem == ZYDIS_MNEMONIC_MOVSW ||
		    f->mnem == ZYDIS_MNEMONIC_MOVSD || f->mnem == ZYDIS_MNEMONIC_MOVSQ;
	if (movs && rng_below(r, 4) == 0) {
		/* overlapping moves: element-by-element semantics */
		int64_t delta = (int64_t)rng_below(r, 2 * esz + 1) - (int64_t)esz;
		d_start = s_start + (uint64_t)delta;
		if (d_start < DIFF_WIN_VA + 8)
			d_start = s_start;
	} else {
		d_start = DIFF_WIN_VA + DIFF_WIN_SIZE / 2 - esz * rng_below(r, 3) +
			  rng_below(r, DIFF_WIN_SIZE / 2 - span - 8);
	}
	uint64_t rsi = down ? s_start + span - esz : s_start;
	uint64_t rdi = down ? d_start + span - esz : d_start;
	/* 16-bit code: offsets from the data segments' base, 16-bit counts. */
	uint64_t amask = f->asz == 2 ? 0xffffull : f->asz == 4 ? 0xffffffffull : ~0ull;
	uint64_t dseg = f->code16 ? DIFF_DATA_VA : 0;
	uint64_t hi = rng_next(r) & ~amask; /* ignored above the address size */
	c->in.gpr[6] = ((rsi - src_base - dseg) & amask) | hi;
	c->in.gpr[7] = ((rdi - dseg) & amask) | (rng_below(r, 2) ? hi : 0);
	c->in.gpr[1] = rep ? (n | (rng_next(r) & ~amask)) : rng_next(r);
	if (f->group == G_STRCMP) {
		/* Equal runs so that REPE/REPNE stop at varying points. */
		uint64_t pat = value(r, esz);
		for (uint64_t k = 0; k < n + 1; k++) {
			uint64_t vs = rng_below(r, 4) ? pat : value(r, esz);
			uint64_t vd = rng_below(r, 4) ? vs : value(r, esz);
			uint64_t as = s_start + k * esz, ad = d_start + k * esz;
			if (as + esz <= DIFF_WIN_VA + DIFF_WIN_SIZE)
				mem_set(c, as, esz, vs);
			if (ad + esz <= DIFF_WIN_VA + DIFF_WIN_SIZE)
				mem_set(c, ad, esz, vd);
		}
		if (rng_below(r, 2))
			reg_set(c, 0, false, esz, pat);
	}
}

/*
 * The generator's own check: every explicit memory operand, as decoded with
 * the final register values, lies inside the compared window or at the tail
 * of the data pages (else the two sides would read memory outside them,
 * where their contents differ).
 */
static bool ea_in_window(const struct diff_case *c, const struct dec *d)
{
	for (unsigned k = 0; k < d->zi.operand_count_visible; k++) {
		const ZydisDecodedOperand *o = &d->zo[k];
		if (o->type != ZYDIS_OPERAND_TYPE_MEMORY || o->mem.type != ZYDIS_MEMOP_TYPE_MEM ||
		    d->zi.mnemonic == ZYDIS_MNEMONIC_NOP)
			continue;
		uint64_t ea = (uint64_t)(o->mem.disp.has_displacement ? o->mem.disp.value : 0);
		unsigned id;
		bool hi8;
		if (o->mem.base == ZYDIS_REGISTER_RIP)
			ea += DIFF_CODE_VA + d->zi.length;
		else if (gpr_id(o->mem.base, &id, &hi8))
			ea += c->in.gpr[id];
		if (gpr_id(o->mem.index, &id, &hi8))
			ea += c->in.gpr[id] * o->mem.scale;
		if (d->zi.address_width == 32)
			ea &= 0xffffffffull;
		else if (d->zi.address_width == 16)
			ea &= 0xffffull;
		if (o->mem.segment == ZYDIS_REGISTER_GS)
			ea += DIFF_GS_BASE;
		if (c->code16)
			ea += DIFF_DATA_VA;
		bool in_win = ea >= DIFF_WIN_VA && ea + o->size / 8 <= DIFF_WIN_VA + DIFF_WIN_SIZE;
		bool at_tail = ea >= DIFF_TAIL_VA && ea < DIFF_TAIL_VA + DIFF_TAIL_SIZE + 8;
		bool at_limit = c->code16 && ea >= DIFF_DATA_VA + 0x10000 - 16 && ea < DIFF_DATA_VA + 0x10000;
		if (!in_win && !at_tail && !at_limit) {
			fprintf(stderr, "diff: generator bug: %s: operand %u at 0x%llx is outside the window\n",
				c->form, k, (unsigned long long)ea);
			gen_bugs++;
			return false;
		}
	}
	return true;
}

/*
 * Stack instructions: RSP (and RBP for ENTER/LEAVE) inside the window with
 * room for what they push, pop and (ENTER) copy from the old frame; POPF
 * pops an image that keeps IF set and TF, AC, IOPL and NT clear, which user
 * mode on the host could not change or survive.
 *
 * ENTER's old frame (the NestingLevel - 1 slots below rBP it copies) lies
 * above everything it pushes, as a caller's frame does: where the two
 * overlap, implementations copy in different orders (AMD processors do not
 * follow the SDM's sequential pseudocode there).
 */
static void values_stack(struct rng *r, struct diff_case *c, const struct form *f, const struct opvals *v,
			 const struct dec *d)
{
	uint64_t mid = DIFF_WIN_VA + DIFF_WIN_SIZE / 2, end = DIFF_WIN_VA + DIFF_WIN_SIZE;
	uint64_t dseg = f->code16 ? DIFF_DATA_VA : 0; /* SS base of 16-bit code */
	bool enter = d->zi.mnemonic == ZYDIS_MNEMONIC_ENTER;
	unsigned level = enter ? (unsigned)(d->zo[1].imm.value.u & 31) : 0;
	if (enter && level > 1) {
		/* pushes: [RSP - 8 (level + 1), RSP); reads: [RBP - 8 (level - 1), RBP) */
		uint64_t rsp = DIFF_WIN_VA + 8 * (level + 1) + rng_below(r, 16);
		uint64_t rbp_lo = rsp + 8 * (level - 1);
		uint64_t rbp = rbp_lo + rng_below(r, end - rbp_lo + 1);
		c->in.gpr[DIFF_RSP] = rsp - dseg;
		c->in.gpr[5] = rbp - dseg;
	} else {
		if (!(v->has_mem && v->mem.base == DIFF_RSP)) {
			uint64_t lo = DIFF_WIN_VA + 8 * (level + 2);
			if (lo < mid)
				lo = mid;
			c->in.gpr[DIFF_RSP] = lo + rng_below(r, end - 40 - lo) - dseg; /* room for POPA */
		}
		if (enter)
			c->in.gpr[5] = rng_next(r); /* not dereferenced: see what is written */
		else if (d->zi.mnemonic == ZYDIS_MNEMONIC_LEAVE)
			c->in.gpr[5] = DIFF_WIN_VA + 8 + rng_below(r, DIFF_WIN_SIZE - 24) - dseg;
	}
	if (d->zi.mnemonic == ZYDIS_MNEMONIC_POPF || d->zi.mnemonic == ZYDIS_MNEMONIC_POPFD ||
	    d->zi.mnemonic == ZYDIS_MNEMONIC_POPFQ) {
		uint64_t img = (rng_next(r) & (ARITH | DF | ID)) | DIFF_IF | 0x2;
		mem_set(c, c->in.gpr[DIFF_RSP] + dseg, f->sz, img);
	}
}

/*
 * Branches: indirect targets and return addresses point into the sled (or,
 * now and then, are not canonical: #GP); CALL and RET get a stack in the
 * window; LOOP/JrCXZ counts around 0 and 1, with junk above the address
 * size.
 */
static void values_branch(struct rng *r, struct diff_case *c, const struct form *f, const struct opvals *v,
			  const struct dec *d, uint64_t target)
{
	ZydisMnemonic m = d->zi.mnemonic;
	unsigned osz = f->sz;
	if (!f->compat && rng_below(r, 32) == 0 && (m == ZYDIS_MNEMONIC_JMP || m == ZYDIS_MNEMONIC_CALL ||
						      m == ZYDIS_MNEMONIC_RET) && d->zo[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
		target ^= 1ull << 60; /* not canonical */
	c->target = target;
	if (m == ZYDIS_MNEMONIC_CALL || m == ZYDIS_MNEMONIC_RET) {
		uint64_t mid = DIFF_WIN_VA + DIFF_WIN_SIZE / 2;
		c->in.gpr[DIFF_RSP] = mid + rng_below(r, DIFF_WIN_SIZE / 2 - 16);
		if (f->compat)
			c->in.gpr[DIFF_RSP] |= rng_next(r) & ~0xffffffffull;
	}
	if (m == ZYDIS_MNEMONIC_RET)
		mem_set(c, c->in.gpr[DIFF_RSP] & 0xffffffffull, osz, target);
	if (v->reg_id[0] >= 0)
		reg_set(c, (unsigned)v->reg_id[0], false, osz, target);
	else if (v->is_mem[0])
		mem_set(c, v->mem.addr, osz, target);
	if (m == ZYDIS_MNEMONIC_LOOP || m == ZYDIS_MNEMONIC_LOOPE || m == ZYDIS_MNEMONIC_LOOPNE ||
	    m == ZYDIS_MNEMONIC_JRCXZ || m == ZYDIS_MNEMONIC_JECXZ || m == ZYDIS_MNEMONIC_JCXZ) {
		uint64_t n = rng_below(r, 4) ? rng_below(r, 3) : rng_next(r);
		if (d->zi.address_width < 64)
			n = (n & 0xffffffffull) | (rng_next(r) & ~0xffffffffull);
		c->in.gpr[1] = n;
	}
}

bool gen_case(unsigned fi, struct rng *r, struct diff_case *c)
{
	const struct form *f = &forms[fi];
	memset(c, 0, sizeof(*c));
	c->form = f->name;
	c->compat = f->compat;
	c->code16 = f->code16;
	for (int k = 0; k < 16; k++)
		c->in.gpr[k] = rng_below(r, 4) ? rng_next(r) : value(r, 8);
	c->in.rflags = 0x2 | (rng_next(r) & ARITH) | (rng_below(r, 8) == 0 ? DF : 0) |
		       (rng_below(r, 2) ? ID : 0);
	for (unsigned k = 0; k < DIFF_WIN_SIZE; k += 8) {
		uint64_t x = rng_next(r);
		memcpy(c->mem + k, &x, 8);
	}
	gen_fx_default(c->in.fx);
	bool vec = f->group >= G_SSE;

	struct opvals v;
	memset(&v, 0, sizeof(v));
	for (int k = 0; k < 3; k++)
		v.reg_id[k] = -1;
	uint32_t used = implicit_regs(f) | (f->compat ? 0xff00 : 0);
	int rel_op = -1;
	uint64_t target = 0;
	unsigned nregs = f->compat ? 8 : 16;
	ZydisEncoderRequest req;
	memset(&req, 0, sizeof(req));
	req.machine_mode = f->code16 ? ZYDIS_MACHINE_MODE_LONG_COMPAT_16 :
			   f->compat ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 :
				       ZYDIS_MACHINE_MODE_LONG_64;
	req.mnemonic = f->mnem;
	req.prefixes = f->prefixes;
	if (f->asz == 2)
		req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_16;
	else if (f->asz == 4)
		req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
	else if (f->asz == 8)
		req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_64;
	if (f->group == G_STACK)
		req.operand_size_hint = f->sz == 2 ? ZYDIS_OPERAND_SIZE_HINT_16 :
				       f->sz == 4 ? ZYDIS_OPERAND_SIZE_HINT_32 :
						    ZYDIS_OPERAND_SIZE_HINT_64;
	req.operand_count = f->nops;

	unsigned slack = f->group == G_BT || f->group == G_STACK ? 40 : 0;
	for (unsigned k = 0; k < f->nops; k++) {
		const struct opspec *o = &f->op[k];
		unsigned sz = o->sz ? o->sz : f->sz;
		ZydisEncoderOperand *eo = &req.operands[k];
		unsigned kind = o->k;
		v.osz[k] = sz;
		if (kind == K_RM)
			kind = rng_below(r, 2) ? K_R : K_M;
		else if (kind == K_XM)
			kind = rng_below(r, 2) ? K_X : K_M;
		else if (kind == K_MMM)
			kind = rng_below(r, 2) ? K_MM : K_M;
		switch (kind) {
		case K_X:
			eo->type = ZYDIS_OPERAND_TYPE_REGISTER;
			eo->reg.value = (ZydisRegister)(ZYDIS_REGISTER_XMM0 + rng_below(r, nregs));
			break;
		case K_MM:
			eo->type = ZYDIS_OPERAND_TYPE_REGISTER;
			eo->reg.value = (ZydisRegister)(ZYDIS_REGISTER_MM0 + rng_below(r, 8));
			break;
		case K_ST0:
		case K_STI:
			eo->type = ZYDIS_OPERAND_TYPE_REGISTER;
			eo->reg.value = (ZydisRegister)(ZYDIS_REGISTER_ST0 + (kind == K_STI ? rng_below(r, 8) : 0));
			break;
		case K_R: {
			unsigned id;
			bool hi8 = sz == 1 && rng_below(r, 5) == 0;
			bool stack_user = f->group == G_STACK || f->group == G_BRANCH;
			if (rng_below(r, 8) == 0) {
				/* sometimes a register twice (never RSP where it
				 * addresses the stack) */
				do
					id = (unsigned)rng_below(r, nregs);
				while (stack_user && id == DIFF_RSP);
			} else {
				int p = pick_free(r, &used);
				if (p < 0)
					return false;
				id = (unsigned)p;
			}
			if (hi8 && id >= 4)
				hi8 = false;
			used |= 1u << id;
			v.reg_id[k] = (int)id;
			v.hi8[k] = hi8;
			eo->type = ZYDIS_OPERAND_TYPE_REGISTER;
			eo->reg.value = gpr_reg(id, sz, hi8);
			break;
		}
		case K_ACC:
			v.reg_id[k] = 0;
			eo->type = ZYDIS_OPERAND_TYPE_REGISTER;
			eo->reg.value = gpr_reg(0, sz, false);
			break;
		case K_CL:
			v.reg_id[k] = 1;
			eo->type = ZYDIS_OPERAND_TYPE_REGISTER;
			eo->reg.value = ZYDIS_REGISTER_CL;
			break;
		case K_M:
			v.is_mem[k] = true;
			v.has_mem = true;
			v.mem.sz = sz;
			break;
		case K_ONE:
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.u = 1;
			break;
		case K_I8S:
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.s = (int8_t)value(r, 1);
			break;
		case K_IZ: {
			unsigned isz = sz > 4 ? 4 : sz;
			uint64_t iv = value(r, isz);
			/* Keep it out of the imm8 range now and then so the
			 * full-width encodings are used. */
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.s = (int64_t)(isz == 4 ? (int64_t)(int32_t)iv :
					      isz == 2 ? (int64_t)(int16_t)iv :
							 (int64_t)(int8_t)iv);
			break;
		}
		case K_I8U:
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			if (f->group == G_SSE_SHIFT)
				eo->imm.u = count_value(r, 1u << (f->vt - VT_I8)); /* element size */
			else if (f->group == G_SSE_CMP)
				eo->imm.u = rng_below(r, 4) ? rng_below(r, 8) : (uint8_t)rng_next(r);
			else
				eo->imm.u = f->group == G_SHIFT || f->group == G_ROT || f->group == G_RCX ||
							    f->group == G_SHXD ?
						    count_value(r, sz) :
						    (uint8_t)value(r, 1);
			break;
		case K_I16:
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.u = value(r, 2);
			break;
		case K_IMM:
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.u = value(r, sz);
			break;
		case K_REL8:
		case K_REL32:
			/* the displacement is set once the length is known */
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.s = 0;
			req.branch_type = kind == K_REL8 ? ZYDIS_BRANCH_TYPE_SHORT : ZYDIS_BRANCH_TYPE_NEAR;
			req.branch_width = kind == K_REL8 ? ZYDIS_BRANCH_WIDTH_8 : ZYDIS_BRANCH_WIDTH_32;
			rel_op = (int)k;
			break;
		default:
			break;
		}
	}
	if (v.has_mem) {
		/* The memory operand registers come after the explicit ones. */
		unsigned k;
		for (k = 0; k < f->nops && !v.is_mem[k]; k++)
			;
		unsigned msz = v.osz[k];
		if (f->mnem == ZYDIS_MNEMONIC_CMPXCHG16B) {
			v.mem.addr = (mem_addr(r, f, 16, 16) & ~15ull) + (rng_below(r, 5) == 0 ? 8 * rng_below(r, 2) + rng_below(r, 8) : 0);
		} else if (f->mnem == ZYDIS_MNEMONIC_CMPXCHG8B) {
			v.mem.addr = mem_addr(r, f, 8, 8);
		} else {
			v.mem.addr = mem_addr(r, f, msz, slack);
		}
		/* Instructions that need an aligned operand mostly get one
		 * (a misaligned one faults: #GP(0)). */
		if (f->align > 1 && rng_below(r, 8)) {
			v.mem.addr &= ~(uint64_t)(f->align - 1);
			if (v.mem.addr < DIFF_WIN_VA)
				v.mem.addr += f->align;
		}
		/* 16-bit code: now and then an operand at the 64-KByte segment
		 * limit, straddling it (#GP(0), #SS(0) for BP-based) or just
		 * inside (#PF: nothing is mapped there). */
		if (f->code16 && !slack && !in_pieces(f, msz) && rng_below(r, 32) == 0)
			v.mem.addr = DIFF_DATA_VA + 0x10000 - 1 - rng_below(r, msz);
		/* Now and then a segment prefix: GS adds its base (the same
		 * on both sides), the others are ignored in 64-bit mode. 16-bit
		 * code has DS, ES and SS based at DIFF_DATA_VA. */
		uint64_t segbase = f->code16 ? DIFF_DATA_VA : 0;
		switch (f->compat ? 15 : rng_below(r, 16)) {
		case 0:
		case 1:
			req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_GS;
			segbase = DIFF_GS_BASE;
			break;
		case 2:
			req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_ES;
			break;
		case 3:
			req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_SS;
			break;
		default:
			break;
		}
		v.mem.off = v.mem.addr - segbase;
		mem_shape(r, &v.mem, &used, f->compat, f->code16);
		mem_encode(&v.mem, &req.operands[k], msz);
		if (lockable(f->mnem) && k == 0 && rng_below(r, 4) == 0)
			req.prefixes |= ZYDIS_ATTRIB_HAS_LOCK;
		if (v.mem.rip || (v.mem.base < 0 && v.mem.index < 0)) {
			/* RIP-relative: disp from the end of the instruction; the
			 * length does not depend on a disp32's value. */
			req.operands[k].mem.displacement = v.mem.rip ? 0x10000 : (int64_t)v.mem.off;
			if (!encode(&req, c))
				return false;
			if (v.mem.rip)
				req.operands[k].mem.displacement =
					(int64_t)(v.mem.off - (DIFF_CODE_VA + c->len));
		}
	}

	/* A GS override for the source of MOVS/LODS/CMPS (the destination,
	 * ES:rDI, cannot be overridden: SDM Vol. 2B MOVS). */
	if ((f->group == G_STR || f->group == G_STRCMP) && !f->compat && rng_below(r, 8) == 0 &&
	    f->mnem != ZYDIS_MNEMONIC_STOSB && f->mnem != ZYDIS_MNEMONIC_STOSW && f->mnem != ZYDIS_MNEMONIC_STOSD &&
	    f->mnem != ZYDIS_MNEMONIC_STOSQ && f->mnem != ZYDIS_MNEMONIC_SCASB && f->mnem != ZYDIS_MNEMONIC_SCASW &&
	    f->mnem != ZYDIS_MNEMONIC_SCASD && f->mnem != ZYDIS_MNEMONIC_SCASQ)
		req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_GS;

	if (f->group == G_BRANCH) {
		/* The target: in the sled, now and then on the page before the
		 * code page (a #PF on the fetch). */
		target = DIFF_SLED_LO + rng_below(r, DIFF_SLED_HI - DIFF_SLED_LO);
		if (rng_below(r, 32) == 0)
			target = DIFF_CODE_VA - 1 - rng_below(r, 64);
		if (rel_op >= 0) {
			if (!encode(&req, c))
				return false;
			uint64_t next = DIFF_CODE_VA + c->len;
			int64_t rel = (int64_t)(target - next);
			if (f->op[rel_op].k == K_REL8 && (rel < -128 || rel > 127)) {
				/* forward into the sled, or (rarely) back onto the
				 * previous page */
				if (rng_below(r, 16))
					rel = (int64_t)(DIFF_SLED_LO - next) +
					      (int64_t)rng_below(r, 128 - (DIFF_SLED_LO - next));
				else
					rel = -128 + (int64_t)rng_below(r, 64);
				target = next + (uint64_t)rel;
			}
			req.operands[rel_op].imm.s = rel;
		}
		if (f->compat)
			target &= 0xffffffffull;
	}

	if (f->raw) {
		memcpy(c->code, f->raw, f->rawlen);
		c->len = f->rawlen;
	} else if (f->mnem == ZYDIS_MNEMONIC_LEA) {
		/* Zydis sizes LEA's address operand by the address, not by the
		 * destination. */
		bool ok = false;
		for (unsigned msz = 8; msz >= 2 && !ok; msz /= 2) {
			req.operands[1].mem.size = (uint16_t)msz;
			ok = encode(&req, c);
		}
		if (!ok)
			return false;
	} else if (!encode(&req, c)) {
		return false;
	}
	/* Now and then a LOCK prefix where it may not be legal (#UD). */
	if (!f->raw && !(req.prefixes & ZYDIS_ATTRIB_HAS_LOCK) && !v.mem.rip && c->len < 15 &&
	    rng_below(r, 32) == 0) {
		memmove(c->code + 1, c->code, c->len);
		c->code[0] = 0xf0;
		c->len++;
	}

	struct dec d;
	decode(c, &d);
	if (d.ok && f->raw) {
		/* Hand-written forms: operands as decoded. */
		for (unsigned k = 0; k < d.zi.operand_count_visible && k < 3; k++) {
			const ZydisDecodedOperand *o = &d.zo[k];
			v.osz[k] = o->size / 8;
			unsigned id;
			bool hi8;
			if (o->type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_id(o->reg.value, &id, &hi8)) {
				v.reg_id[k] = (int)id;
				v.hi8[k] = hi8;
			} else if (o->type == ZYDIS_OPERAND_TYPE_MEMORY && d.zi.mnemonic != ZYDIS_MNEMONIC_NOP &&
				   gpr_id(o->mem.base, &id, &hi8)) {
				v.is_mem[k] = true;
				v.has_mem = true;
				v.mem.base = (int)id;
				v.mem.index = -1;
				v.mem.asz = 8;
				v.mem.addr = mem_addr(r, f, v.osz[k], slack);
				v.mem.off = v.mem.addr;
			}
		}
	}

	/* Operand values. */
	if (v.has_mem)
		if (f->mnem != ZYDIS_MNEMONIC_LEA) /* LEA: any registers, no access */
			mem_bind(r, c, &v.mem);
	/* Now and then a non-canonical address (SDM Vol. 1 3.3.7.1): #GP(0),
	 * or #SS(0) for RSP/RBP-based (stack segment) references. */
	bool noncanonical = false;
	if (v.has_mem && !f->compat && v.mem.asz == 8 && v.mem.base >= 0 && f->mnem != ZYDIS_MNEMONIC_LEA &&
	    f->group != G_STACK && f->group != G_BRANCH && rng_below(r, 64) == 0) {
		c->in.gpr[v.mem.base] ^= 1ull << 62;
		noncanonical = true;
	}
	for (unsigned k = 0; k < 3; k++) {
		if (v.is_mem[k] || v.reg_id[k] >= 0) {
			bool addr_reg = !v.is_mem[k] && v.has_mem &&
					(v.reg_id[k] == v.mem.base || v.reg_id[k] == v.mem.index);
			if (!addr_reg)
				op_set(c, &v, k, value(r, v.osz[k]));
		}
	}
	/* Equal operands make CMP/SUB/SBB/CMPXCHG interesting. */
	if (f->nops >= 2 && rng_below(r, 8) == 0 && !v.is_mem[1] && v.reg_id[1] >= 0 &&
	    !(v.has_mem && (v.reg_id[1] == v.mem.base || v.reg_id[1] == v.mem.index)))
		op_set(c, &v, 1, op_get(c, &v, 0));

	unsigned sz = f->sz;
	switch (f->group) {
	case G_DIV:
		values_div(r, c, f, &v);
		break;
	case G_MUL:
		if (f->nops == 1)
			reg_set(c, 0, false, sz, value(r, sz));
		break;
	case G_SHIFT:
	case G_ROT:
	case G_RCX:
	case G_SHXD:
		if (f->nops && f->op[f->nops - 1].k == K_CL)
			reg_set(c, 1, false, 1, count_value(r, sz));
		break;
	case G_BT:
		if (v.is_mem[0] && v.reg_id[1] >= 0) {
			/* Register bit offsets address memory beyond the
			 * operand (signed): keep them inside the window. */
			int64_t off = (int64_t)rng_below(r, 8 * 64) - 8 * 32;
			reg_set(c, (unsigned)v.reg_id[1], false, v.osz[1], (uint64_t)off);
		}
		break;
	case G_CMPXCHG:
		reg_set(c, 0, false, sz, value(r, sz));
		if (rng_below(r, 5) < 2)
			reg_set(c, 0, false, sz, op_get(c, &v, 0));
		break;
	case G_CX8: {
		unsigned half = sz / 2;
		if (rng_below(r, 2)) {
			c->in.gpr[0] = mem_get(c, v.mem.addr, half) | (c->in.gpr[0] & ~mask_of(half));
			c->in.gpr[2] = mem_get(c, v.mem.addr + half, half) | (c->in.gpr[2] & ~mask_of(half));
		}
		break;
	}
	case G_BEXTR: {
		static const uint8_t edge[] = { 0, 1, 7, 8, 31, 32, 33, 63, 64, 65, 255 };
		uint64_t start = rng_below(r, 2) ? edge[rng_below(r, sizeof(edge))] : rng_below(r, 256);
		uint64_t len = rng_below(r, 2) ? edge[rng_below(r, sizeof(edge))] : rng_below(r, 256);
		reg_set(c, (unsigned)v.reg_id[2], false, sz, (rng_next(r) & ~0xffffull) | (len << 8) | start);
		break;
	}
	case G_STR:
	case G_STRCMP:
		values_string(r, c, f, (req.prefixes & ZYDIS_ATTRIB_HAS_SEGMENT_GS) ? DIFF_GS_BASE : 0);
		break;
	case G_STACK:
		if (d.ok)
			values_stack(r, c, f, &v, &d);
		break;
	case G_BRANCH:
		values_branch(r, c, f, &v, &d, target);
		break;
	case G_XLAT:
		/* XLAT: AL = [RBX + AL] (zero-extended AL, address-size sum). */
		c->in.gpr[3] = (DIFF_WIN_VA + rng_below(r, DIFF_WIN_SIZE - 256) - (f->code16 ? DIFF_DATA_VA : 0)) |
			       (f->asz == 4 ? rng_next(r) & ~0xffffffffull : 0);
		break;
	default:
		break;
	}

	if (vec)
		gen_sse_values(r, c, f, v.has_mem ? v.mem.addr : 0, v.has_mem ? v.mem.sz : 0);
	if (d.ok && !noncanonical && !ea_in_window(c, &d))
		return false;
	if (!d.ok) {
		c->flags_defined = COMPARED;
		return true; /* an invalid encoding: both sides must raise #UD */
	}
	defined_results(f, c, &d, sz);
	if (f->group == G_BSF && op_get(c, &v, 1) == 0 && v.reg_id[0] >= 0)
		c->regs_undefined |= (uint16_t)(1u << v.reg_id[0]);
	c->regs_undefined |= f->undef_regs;
	return true;
}
