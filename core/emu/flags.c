/*
 * Lazy arithmetic flags. Flag-setting instructions record their operands and
 * result (lf_set); CF, PF, AF, ZF, SF and OF are computed only when something
 * reads them. Definitions: Intel SDM Vol. 1 3.4.3.1 and Appendix A, and each
 * instruction's "Flags Affected".
 */
#include "emu.h"

/* PF: set when the low byte of the result has an even number of 1 bits. */
static inline bool parity_even(uint64_t r)
{
	return !__builtin_parity((unsigned)(r & 0xff));
}

static uint64_t compute(const struct lazy_flags *lf)
{
	unsigned sz = lf->size;
	uint64_t m = size_mask(sz);
	uint64_t sb = 1ull << (8 * sz - 1);
	uint64_t d = lf->dst & m, s = lf->src & m, r = lf->res & m;
	uint64_t f = 0;
	bool cf = false, of = false;

	switch (lf->op) {
	case LF_ADD:
		cf = r < d;
		of = ((d ^ r) & (s ^ r) & sb) != 0;
		break;
	case LF_ADC:
		cf = lf->cf ? r <= d : r < d;
		of = ((d ^ r) & (s ^ r) & sb) != 0;
		break;
	case LF_SUB:
		cf = d < s;
		of = ((d ^ s) & (d ^ r) & sb) != 0;
		break;
	case LF_SBB:
		cf = lf->cf ? d <= s : d < s;
		of = ((d ^ s) & (d ^ r) & sb) != 0;
		break;
	case LF_LOGIC:
		break;
	case LF_INC:
		cf = lf->cf;
		of = r == sb;
		break;
	case LF_DEC:
		cf = lf->cf;
		of = r == sb - 1;
		break;
	default:
		return 0;
	}
	if (cf)
		f |= RFLAGS_CF;
	if (of)
		f |= RFLAGS_OF;
	if (parity_even(r))
		f |= RFLAGS_PF;
	if (lf->op != LF_LOGIC && ((d ^ s ^ r) & 0x10))
		f |= RFLAGS_AF;
	if (r == 0)
		f |= RFLAGS_ZF;
	if (r & sb)
		f |= RFLAGS_SF;
	return f;
}

uint64_t emu_flags(struct emu_cpu *c)
{
	if (c->lf.op != LF_NONE) {
		c->s->rflags = (c->s->rflags & ~RFLAGS_ARITH) | compute(&c->lf);
		c->lf.op = LF_NONE;
	}
	return c->s->rflags;
}

void emu_set_flags(struct emu_cpu *c, uint64_t rflags)
{
	c->lf.op = LF_NONE;
	c->s->rflags = rflags | RFLAGS_FIXED1;
}

bool emu_cf(struct emu_cpu *c)
{
	const struct lazy_flags *lf = &c->lf;
	uint64_t m = size_mask(lf->size);
	switch (lf->op) {
	case LF_NONE:
		return (c->s->rflags & RFLAGS_CF) != 0;
	case LF_ADD:
		return (lf->res & m) < (lf->dst & m);
	case LF_SUB:
		return (lf->dst & m) < (lf->src & m);
	case LF_LOGIC:
		return false;
	case LF_INC:
	case LF_DEC:
		return lf->cf;
	default:
		return (emu_flags(c) & RFLAGS_CF) != 0;
	}
}

/*
 * Condition codes (SDM Vol. 1 Appendix B, Table B-1), numbered as the low
 * nibble of the Jcc opcode. SUB/CMP and logic results are answered without
 * materialising the flags.
 */
bool emu_cc(struct emu_cpu *c, unsigned cc)
{
	const struct lazy_flags *lf = &c->lf;
	bool r;
	if (likely(lf->op == LF_SUB) && cc != 0 && cc != 1 && cc != 10 && cc != 11) {
		unsigned sz = lf->size;
		uint64_t m = size_mask(sz);
		uint64_t d = lf->dst & m, s = lf->src & m, res = lf->res & m;
		int64_t sd = (int64_t)sign_extend(d, sz), ss = (int64_t)sign_extend(s, sz);
		switch (cc >> 1) {
		case 1: r = d < s; break; /* B */
		case 2: r = res == 0; break; /* E */
		case 3: r = d <= s; break; /* BE */
		case 4: r = (res >> (8 * sz - 1)) & 1; break; /* S */
		case 6: r = sd < ss; break; /* L */
		default: r = sd <= ss; break; /* LE */
		}
		return r ^ (cc & 1);
	}
	if (lf->op == LF_LOGIC) {
		unsigned sz = lf->size;
		uint64_t res = lf->res & size_mask(sz);
		bool sf = (res >> (8 * sz - 1)) & 1, zf = res == 0;
		switch (cc >> 1) {
		case 0: r = false; break; /* O */
		case 1: r = false; break; /* B */
		case 2: r = zf; break;
		case 3: r = zf; break; /* BE: CF|ZF */
		case 4: r = sf; break;
		case 5: r = parity_even(res); break;
		case 6: r = sf; break; /* L: SF != OF */
		default: r = zf || sf; break; /* LE */
		}
		return r ^ (cc & 1);
	}
	uint64_t f = emu_flags(c);
	bool cf = f & RFLAGS_CF, zf = f & RFLAGS_ZF, sf = f & RFLAGS_SF, of = f & RFLAGS_OF,
	     pf = f & RFLAGS_PF;
	switch (cc >> 1) {
	case 0: r = of; break;
	case 1: r = cf; break;
	case 2: r = zf; break;
	case 3: r = cf || zf; break;
	case 4: r = sf; break;
	case 5: r = pf; break;
	case 6: r = sf != of; break;
	default: r = zf || (sf != of); break;
	}
	return r ^ (cc & 1);
}
