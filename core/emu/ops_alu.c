/*
 * Integer arithmetic and logic (Intel SDM Vol. 2, each instruction's
 * "Operation" and "Flags Affected"): ADD..CMP, TEST, INC/DEC/NEG/NOT,
 * MUL/IMUL/DIV/IDIV, shifts and rotates, SHLD/SHRD.
 */
#include "emu.h"
#include "ops.h"

/* The arithmetic flags computed eagerly (for instructions whose flags the
 * lazy scheme does not describe). */
static void set_arith(struct emu_cpu *c, uint64_t arith)
{
	uint64_t f = emu_flags(c);
	c->s->rflags = (f & ~RFLAGS_ARITH) | (arith & RFLAGS_ARITH);
}


/*
 * Two-operand ALU instructions: dst op= src, with the lazy-flags record of
 * the operation. `wb` is 0 for CMP and TEST, which only set flags.
 */
#define ALU2(name, LF, expr, wb, carry)                                                        \
	void op_##name(struct emu_cpu *c, const struct emu_insn *i)                            \
	{                                                                                      \
		const struct emu_operand *d = &i->op[0];                                       \
		unsigned sz = d->size;                                                         \
		uint64_t m = size_mask(sz);                                                    \
		uint64_t src = emu_op_read(c, i, 1) & m;                                       \
		uint64_t cin = carry ? emu_cf(c) : 0;                                          \
		(void)cin;                                                                     \
		uint64_t dst, res;                                                             \
		if (d->kind == OPK_REG) {                                                      \
			dst = gpr_read(c, d->reg, d->hi8, sz);                                 \
			res = (expr) & m;                                                      \
			if (wb)                                                                \
				gpr_write(c, d->reg, d->hi8, sz, res);                         \
		} else {                                                                       \
			uint64_t la = emu_op_la(c, i, 0, wb ? ACC_WRITE : ACC_READ);           \
			dst = emu_read_la(c, la, sz);                                          \
			res = (expr) & m;                                                      \
			if (wb)                                                                \
				emu_write_la(c, la, sz, res);                                  \
		}                                                                              \
		lf_set(c, LF, sz, dst, src, res);                                              \
		c->lf.cf = (uint8_t)cin;                                                       \
	}

ALU2(add, LF_ADD, dst + src, 1, 0)
ALU2(or, LF_LOGIC, dst | src, 1, 0)
ALU2(adc, LF_ADC, dst + src + cin, 1, 1)
ALU2(sbb, LF_SBB, dst - src - cin, 1, 1)
ALU2(and, LF_LOGIC, dst &src, 1, 0)
ALU2(sub, LF_SUB, dst - src, 1, 0)
ALU2(xor, LF_LOGIC, dst ^ src, 1, 0)
ALU2(cmp, LF_SUB, dst - src, 0, 0)
ALU2(test, LF_LOGIC, dst &src, 0, 0)

/* One-operand read-modify-write. */
#define ALU1(name, expr, flags_stmt)                                                           \
	void op_##name(struct emu_cpu *c, const struct emu_insn *i)                            \
	{                                                                                      \
		const struct emu_operand *d = &i->op[0];                                       \
		unsigned sz = d->size;                                                         \
		uint64_t m = size_mask(sz);                                                    \
		uint64_t dst, res, la = 0;                                                     \
		if (d->kind == OPK_REG) {                                                      \
			dst = gpr_read(c, d->reg, d->hi8, sz);                                 \
		} else {                                                                       \
			la = emu_op_la(c, i, 0, ACC_WRITE);                                    \
			dst = emu_read_la(c, la, sz);                                          \
		}                                                                              \
		res = (expr) & m;                                                              \
		flags_stmt;                                                                    \
		if (d->kind == OPK_REG)                                                        \
			gpr_write(c, d->reg, d->hi8, sz, res);                                 \
		else                                                                           \
			emu_write_la(c, la, sz, res);                                          \
	}

/* INC/DEC leave CF alone (SDM: "The CF flag is not affected"). */
ALU1(inc, dst + 1, { uint8_t cf = emu_cf(c); lf_set(c, LF_INC, sz, dst, 1, res); c->lf.cf = cf; })
ALU1(dec, dst - 1, { uint8_t cf = emu_cf(c); lf_set(c, LF_DEC, sz, dst, 1, res); c->lf.cf = cf; })
/* NEG: flags of 0 - dst (CF = dst != 0). */
ALU1(neg, 0 - dst, lf_set(c, LF_SUB, sz, 0, dst, res))
ALU1(not, ~dst, (void)0)

/* ---- multiply and divide ---- */

static uint64_t acc_read(struct emu_cpu *c, unsigned sz)
{
	return c->s->gpr[GPR_RAX] & size_mask(sz);
}

/*
 * MUL: AX = AL * src, DX:AX = AX * src, ... CF = OF = (high half != 0);
 * SF, ZF, AF, PF undefined (tortuga sets them from the low half).
 */
void op_mul(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sz = i->op[0].size;
	uint64_t src = emu_op_read(c, i, 0) & size_mask(sz);
	uint64_t a = acc_read(c, sz);
	unsigned __int128 p = (unsigned __int128)a * src;
	uint64_t lo, hi;
	if (sz == 8) {
		lo = (uint64_t)p;
		hi = (uint64_t)(p >> 64);
	} else {
		lo = (uint64_t)p & size_mask(sz);
		hi = (uint64_t)(p >> (8 * sz)) & size_mask(sz);
	}
	if (sz == 1) {
		gpr_write(c, GPR_RAX, false, 2, (hi << 8) | lo);
	} else {
		gpr_write(c, GPR_RAX, false, sz, lo);
		gpr_write(c, GPR_RDX, false, sz, hi);
	}
	set_arith(c, emu_szp(lo, sz) | (hi ? RFLAGS_CF | RFLAGS_OF : 0));
}

/* IMUL, all three forms. CF = OF = the signed result did not fit. */
void op_imul(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->nops == 1) {
		unsigned sz = i->op[0].size;
		int64_t src = (int64_t)sign_extend(emu_op_read(c, i, 0), sz);
		int64_t a = (int64_t)sign_extend(acc_read(c, sz), sz);
		__int128 p = (__int128)a * src;
		uint64_t lo, hi;
		bool fits;
		if (sz == 8) {
			lo = (uint64_t)p;
			hi = (uint64_t)((unsigned __int128)p >> 64);
			fits = p == (__int128)(int64_t)lo;
		} else {
			lo = (uint64_t)p & size_mask(sz);
			hi = (uint64_t)(p >> (8 * sz)) & size_mask(sz);
			fits = (int64_t)p == (int64_t)sign_extend(lo, sz);
		}
		if (sz == 1) {
			gpr_write(c, GPR_RAX, false, 2, (hi << 8) | lo);
		} else {
			gpr_write(c, GPR_RAX, false, sz, lo);
			gpr_write(c, GPR_RDX, false, sz, hi);
		}
		set_arith(c, emu_szp(lo, sz) | (fits ? 0 : RFLAGS_CF | RFLAGS_OF));
		return;
	}
	unsigned sz = i->op[0].size;
	int64_t a, b;
	if (i->nops == 2) {
		a = (int64_t)sign_extend(emu_op_read(c, i, 0), sz);
		b = (int64_t)sign_extend(emu_op_read(c, i, 1), sz);
	} else {
		a = (int64_t)sign_extend(emu_op_read(c, i, 1), sz);
		b = (int64_t)sign_extend(emu_op_read(c, i, 2), sz);
	}
	__int128 p = (__int128)a * b;
	uint64_t lo = (uint64_t)p & size_mask(sz);
	bool fits = p == (__int128)(int64_t)sign_extend(lo, sz);
	gpr_write(c, i->op[0].reg, false, sz, lo);
	set_arith(c, emu_szp(lo, sz) | (fits ? 0 : RFLAGS_CF | RFLAGS_OF));
}

/* DIV: #DE on a zero divisor or a quotient that does not fit. Flags undefined
 * (left unchanged). */
void op_div(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sz = i->op[0].size;
	uint64_t d = emu_op_read(c, i, 0) & size_mask(sz);
	if (!d)
		emu_raise_noerr(c, X86_DE);
	unsigned __int128 n;
	if (sz == 1)
		n = c->s->gpr[GPR_RAX] & 0xffff;
	else
		n = ((unsigned __int128)acc_read(c, sz) |
		     ((unsigned __int128)(c->s->gpr[GPR_RDX] & size_mask(sz)) << (8 * sz)));
	unsigned __int128 q = n / d, r = n % d;
	if (q > size_mask(sz))
		emu_raise_noerr(c, X86_DE);
	if (sz == 1) {
		gpr_write(c, GPR_RAX, false, 2, ((uint64_t)r << 8) | (uint64_t)q);
	} else {
		gpr_write(c, GPR_RAX, false, sz, (uint64_t)q);
		gpr_write(c, GPR_RDX, false, sz, (uint64_t)r);
	}
}

void op_idiv(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sz = i->op[0].size;
	int64_t d = (int64_t)sign_extend(emu_op_read(c, i, 0), sz);
	if (!d)
		emu_raise_noerr(c, X86_DE);
	__int128 n;
	if (sz == 1) {
		n = (int16_t)(c->s->gpr[GPR_RAX] & 0xffff);
	} else {
		unsigned __int128 u = (unsigned __int128)acc_read(c, sz) |
				      ((unsigned __int128)(c->s->gpr[GPR_RDX] & size_mask(sz)) << (8 * sz));
		unsigned sh = 128 - 16 * sz;
		n = (__int128)(u << sh) >> sh;
	}
	/* -2^127 / -1 overflows even __int128: its quotient does not fit anyway. */
	if (d == -1 && (unsigned __int128)n == (unsigned __int128)1 << 127)
		emu_raise_noerr(c, X86_DE);
	__int128 q = n / d, r = n % d;
	int64_t lo = -(int64_t)(size_mask(sz) >> 1) - 1, hi = (int64_t)(size_mask(sz) >> 1);
	if (q < lo || q > hi)
		emu_raise_noerr(c, X86_DE);
	if (sz == 1) {
		gpr_write(c, GPR_RAX, false, 2, (((uint64_t)r & 0xff) << 8) | ((uint64_t)q & 0xff));
	} else {
		gpr_write(c, GPR_RAX, false, sz, (uint64_t)q);
		gpr_write(c, GPR_RDX, false, sz, (uint64_t)r);
	}
}

/* ---- shifts and rotates (SDM Vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR) ---- */

struct rmw {
	uint64_t la;
	bool mem;
};

static uint64_t rmw_read(struct emu_cpu *c, const struct emu_insn *i, struct rmw *r)
{
	const struct emu_operand *d = &i->op[0];
	if (d->kind == OPK_REG) {
		r->mem = false;
		return gpr_read(c, d->reg, d->hi8, d->size);
	}
	r->mem = true;
	r->la = emu_op_la(c, i, 0, ACC_WRITE);
	return emu_read_la(c, r->la, d->size);
}

static void rmw_write(struct emu_cpu *c, const struct emu_insn *i, const struct rmw *r, uint64_t v)
{
	const struct emu_operand *d = &i->op[0];
	if (r->mem)
		emu_write_la(c, r->la, d->size, v);
	else
		gpr_write(c, d->reg, d->hi8, d->size, v);
}

/*
 * A masked count of 0 leaves the flags and the value alone ("If the count is
 * 0, the flags are not affected"), but a 32-bit register destination is
 * still written, so its upper half is cleared (SDM Vol. 1 3.4.1.1: 32-bit
 * operands give a 32-bit result zero-extended into the 64-bit register). The
 * memory operand was checked for writability all the same.
 */
static void zero_count(struct emu_cpu *c, const struct emu_insn *i, const struct rmw *r, uint64_t d)
{
	if (!r->mem)
		rmw_write(c, i, r, d);
}

/* The count operand: CL or an immediate (1 for the D0/D1 forms, which Zydis
 * reports as an immediate operand too). */
static unsigned shift_count(struct emu_cpu *c, const struct emu_insn *i, unsigned sz)
{
	uint64_t n = i->nops > 1 ? emu_op_read(c, i, 1) : 1;
	return (unsigned)(n & (sz == 8 ? 0x3f : 0x1f));
}

void op_shift(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sz = i->op[0].size, bits = 8 * sz;
	uint64_t m = size_mask(sz), sb = 1ull << (bits - 1);
	unsigned n = shift_count(c, i, sz);
	struct rmw r;
	uint64_t d = rmw_read(c, i, &r) & m;
	if (!n) {
		zero_count(c, i, &r, d);
		return;
	}
	uint64_t res, f = emu_flags(c) & ~RFLAGS_ARITH;
	bool cf;
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_SHL:
		res = n >= bits ? 0 : (d << n) & m;
		cf = n <= bits ? (d >> (bits - n)) & 1 : 0;
		if (cf ^ ((res & sb) != 0))
			f |= RFLAGS_OF;
		break;
	case ZYDIS_MNEMONIC_SHR:
		res = n >= bits ? 0 : d >> n;
		cf = n <= bits ? (d >> (n - 1)) & 1 : 0;
		if (d & sb)
			f |= RFLAGS_OF;
		break;
	default: { /* SAR */
		int64_t sd = (int64_t)sign_extend(d, sz);
		res = (uint64_t)(sd >> (n >= bits ? bits - 1 : n)) & m;
		cf = ((uint64_t)(sd >> (n - 1 >= bits ? bits - 1 : n - 1))) & 1;
		break;
	}
	}
	if (cf)
		f |= RFLAGS_CF;
	f |= emu_szp(res, sz);
	rmw_write(c, i, &r, res);
	emu_set_flags(c, f);
}

void op_rotate(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sz = i->op[0].size, bits = 8 * sz;
	uint64_t m = size_mask(sz), sb = 1ull << (bits - 1);
	unsigned n = shift_count(c, i, sz);
	struct rmw r;
	uint64_t d = rmw_read(c, i, &r) & m;
	if (!n) {
		zero_count(c, i, &r, d);
		return;
	}
	uint64_t f = emu_flags(c);
	bool cf = f & RFLAGS_CF;
	uint64_t res = d;
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_ROL: {
		unsigned k = n % bits;
		res = k ? ((d << k) | (d >> (bits - k))) & m : d;
		cf = res & 1;
		bool of = ((res & sb) != 0) ^ cf;
		f = (f & ~(RFLAGS_CF | RFLAGS_OF)) | (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0);
		break;
	}
	case ZYDIS_MNEMONIC_ROR: {
		unsigned k = n % bits;
		res = k ? ((d >> k) | (d << (bits - k))) & m : d;
		cf = (res & sb) != 0;
		bool of = ((res >> (bits - 1)) ^ (res >> (bits - 2))) & 1;
		f = (f & ~(RFLAGS_CF | RFLAGS_OF)) | (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0);
		break;
	}
	case ZYDIS_MNEMONIC_RCL: {
		unsigned k = sz == 1 ? n % 9 : sz == 2 ? n % 17 : n;
		for (unsigned t = 0; t < k; t++) {
			bool out = (res & sb) != 0;
			res = ((res << 1) | cf) & m;
			cf = out;
		}
		bool of = ((res & sb) != 0) ^ cf;
		f = (f & ~(RFLAGS_CF | RFLAGS_OF)) | (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0);
		break;
	}
	default: { /* RCR */
		unsigned k = sz == 1 ? n % 9 : sz == 2 ? n % 17 : n;
		bool of = ((res & sb) != 0) ^ cf; /* OF for count 1: MSB(dest) XOR CF, before */
		for (unsigned t = 0; t < k; t++) {
			bool out = res & 1;
			res = (res >> 1) | (cf ? sb : 0);
			cf = out;
		}
		f = (f & ~(RFLAGS_CF | RFLAGS_OF)) | (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0);
		break;
	}
	}
	rmw_write(c, i, &r, res);
	emu_set_flags(c, f);
}

/*
 * SHLD/SHRD (SDM Vol. 2B): the count is masked to 5 bits (6 with REX.W); 0
 * changes nothing. For COUNT <= SIZE, SHLD computes DEST << COUNT filled from
 * the top of SRC, with CF = BIT[DEST, SIZE - COUNT]; SHRD computes
 * DEST >> COUNT filled from the bottom of SRC, with CF = BIT[DEST, COUNT - 1].
 * SF, ZF and PF follow the result; OF (defined for COUNT = 1) is set on a
 * sign change; AF is undefined (cleared here).
 *
 * COUNT > SIZE is possible only with 16-bit operands and gives an undefined
 * result and flags. tortuga then does what P6-family processors do (and
 * Bochs models): shift through the 48-bit value DEST:SRC:DEST.
 */
void op_shxd(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sz = i->op[0].size, bits = 8 * sz;
	uint64_t m = size_mask(sz), sb = 1ull << (bits - 1);
	uint64_t src = emu_op_read(c, i, 1) & m;
	unsigned n = (unsigned)(emu_op_read(c, i, 2) & (sz == 8 ? 0x3f : 0x1f));
	struct rmw r;
	uint64_t d = rmw_read(c, i, &r) & m;
	if (!n) {
		zero_count(c, i, &r, d);
		return;
	}
	uint64_t res;
	bool cf;
	if (sz == 2) {
		if (i->mnem == ZYDIS_MNEMONIC_SHLD) {
			uint64_t v = (d << 32) | (src << 16) | d;
			res = (v << n) >> 32 & m;
			cf = (v >> (48 - n)) & 1;
		} else {
			uint64_t v = (d << 32) | (src << 16) | d;
			res = (v >> n) & m;
			cf = (v >> (n - 1)) & 1;
		}
	} else if (i->mnem == ZYDIS_MNEMONIC_SHLD) {
		res = n == bits ? src : ((d << n) | (src >> (bits - n))) & m;
		cf = (d >> (bits - n)) & 1;
	} else {
		res = n == bits ? src : ((d >> n) | (src << (bits - n))) & m;
		cf = (d >> (n - 1)) & 1;
	}
	uint64_t f = emu_flags(c) & ~RFLAGS_ARITH;
	if (cf)
		f |= RFLAGS_CF;
	if ((res ^ d) & sb)
		f |= RFLAGS_OF;
	f |= emu_szp(res, sz);
	rmw_write(c, i, &r, res);
	emu_set_flags(c, f);
}
