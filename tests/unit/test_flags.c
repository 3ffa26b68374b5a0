/*
 * Lazy arithmetic flags (core/emu/flags.c) against an eager reference
 * written from the definitions (Intel SDM Vol. 1 3.4.3.1 and Appendix A):
 * CF is the unsigned carry or borrow out of the operand, OF the signed
 * overflow, AF the carry or borrow out of bit 3, PF the even parity of the
 * low byte, ZF and SF from the result; INC/DEC keep CF. The reference works
 * on exact integers (__int128), not on the result's bits as flags.c does.
 * Also checks emu_cc() (Appendix B, Table B-1, its fast paths included) and
 * emu_cf() against the materialised flags.
 *
 * 8-bit operands are checked exhaustively, wider ones on edge cases and
 * random values.
 */
#include "core/emu/emu.h"

#include "check.h"

#define CF RFLAGS_CF
#define PF RFLAGS_PF
#define AF RFLAGS_AF
#define ZF RFLAGS_ZF
#define SF RFLAGS_SF
#define OF RFLAGS_OF

static const enum lf_op ops[] = { LF_ADD, LF_ADC, LF_SUB, LF_SBB, LF_LOGIC, LF_INC, LF_DEC };

struct ref {
	uint64_t res;
	uint64_t flags;
};

static __int128 sx(uint64_t v, unsigned sz)
{
	unsigned sh = 64 - 8 * sz;
	return (__int128)((int64_t)(v << sh) >> sh);
}

/* The result and flags of op on (d, s) with carry-in cin (ADC/SBB) or the
 * CF to keep (INC/DEC); for LF_LOGIC, d & s stands for any logic result
 * (AF is undefined for logic instructions and not compared). */
static struct ref eager(enum lf_op op, unsigned sz, uint64_t d, uint64_t s, unsigned cin)
{
	uint64_t m = sz == 8 ? ~0ull : (1ull << (8 * sz)) - 1;
	unsigned __int128 ud = d & m, us = s & m, ur;
	__int128 sd = sx(d & m, sz), ss = sx(s & m, sz), sr;
	__int128 smin = -((__int128)1 << (8 * sz - 1)), smax = ((__int128)1 << (8 * sz - 1)) - 1;
	uint64_t f = 0;
	unsigned al = 0; /* low-nibble arithmetic for AF */
	switch (op) {
	case LF_ADD:
	case LF_ADC: {
		unsigned c = op == LF_ADC ? cin : 0;
		ur = ud + us + c;
		sr = sd + ss + c;
		if (ur > m)
			f |= CF;
		al = (unsigned)(ud & 0xf) + (unsigned)(us & 0xf) + c;
		if (al > 0xf)
			f |= AF;
		break;
	}
	case LF_SUB:
	case LF_SBB: {
		unsigned c = op == LF_SBB ? cin : 0;
		ur = ud - us - c;
		sr = sd - ss - c;
		if (ud < us + c)
			f |= CF;
		if ((ud & 0xf) < (us & 0xf) + c)
			f |= AF;
		break;
	}
	case LF_INC:
		ur = ud + 1;
		sr = sd + 1;
		if ((ud & 0xf) == 0xf)
			f |= AF;
		if (cin)
			f |= CF;
		break;
	case LF_DEC:
		ur = ud - 1;
		sr = sd - 1;
		if ((ud & 0xf) == 0)
			f |= AF;
		if (cin)
			f |= CF;
		break;
	default: /* logic: OF = CF = 0 */
		ur = ud & us;
		sr = 0;
		break;
	}
	uint64_t res = (uint64_t)ur & m;
	if (op != LF_LOGIC && (sr < smin || sr > smax))
		f |= OF;
	if (!res)
		f |= ZF;
	if (res >> (8 * sz - 1))
		f |= SF;
	if (!__builtin_parity((unsigned)(res & 0xff)))
		f |= PF;
	return (struct ref){ res, f };
}

/* Condition codes from the flags (SDM Vol. 1 Appendix B, Table B-1). */
static bool cc_ref(uint64_t f, unsigned cc)
{
	bool cf = f & CF, zf = f & ZF, sf = f & SF, of = f & OF, pf = f & PF, r;
	switch (cc >> 1) {
	case 0: r = of; break;
	case 1: r = cf; break;
	case 2: r = zf; break;
	case 3: r = cf || zf; break;
	case 4: r = sf; break;
	case 5: r = pf; break;
	case 6: r = sf != of; break;
	default: r = zf || sf != of; break;
	}
	return r ^ (cc & 1);
}

static struct x86_state st;
static struct emu_cpu cpu;
static unsigned failures_shown;

/* Record op as a flag-setting instruction would, then read everything back. */
static void check_one(enum lf_op op, unsigned sz, uint64_t d, uint64_t s, unsigned cin, uint64_t before)
{
	struct ref r = eager(op, sz, d, s, cin);
	uint64_t mask = ~0ull;
	if (op == LF_LOGIC)
		mask &= ~AF; /* undefined */
	for (unsigned cc = 0; cc < 16; cc++) {
		/* emu_cc first, on the lazy record (its fast paths) */
		st.rflags = before;
		lf_set(&cpu, op, sz, d, s, r.res);
		cpu.lf.cf = (uint8_t)cin;
		bool got = emu_cc(&cpu, cc);
		if (got != cc_ref(r.flags, cc) && failures_shown++ < 20)
			fprintf(stderr, "op %d size %u d %#llx s %#llx cin %u: cc %u is %d\n", op, sz,
				(unsigned long long)d, (unsigned long long)s, cin, cc, got);
		CHECK_EQ(got, cc_ref(r.flags, cc));
	}
	st.rflags = before;
	lf_set(&cpu, op, sz, d, s, r.res);
	cpu.lf.cf = (uint8_t)cin;
	CHECK_EQ(emu_cf(&cpu), (r.flags & CF) != 0);
	uint64_t f = emu_flags(&cpu);
	if (((f ^ r.flags) & RFLAGS_ARITH & mask) && failures_shown++ < 20)
		fprintf(stderr, "op %d size %u d %#llx s %#llx cin %u: flags %#llx, reference %#llx\n", op, sz,
			(unsigned long long)d, (unsigned long long)s, cin, (unsigned long long)f,
			(unsigned long long)r.flags);
	CHECK_EQ(f & RFLAGS_ARITH & mask, r.flags & mask);
	/* Non-arithmetic flags pass through. */
	CHECK_EQ(f & ~RFLAGS_ARITH, before & ~RFLAGS_ARITH);
}

static void setup(void)
{
	memset(&st, 0, sizeof(st));
	memset(&cpu, 0, sizeof(cpu));
	cpu.s = &st;
}

static void exhaustive_8bit(void)
{
	setup();
	for (unsigned k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		for (unsigned d = 0; d < 256; d++)
			for (unsigned s = 0; s < 256; s++)
				for (unsigned cin = 0; cin < 2; cin++) {
					if (cin && ops[k] != LF_ADC && ops[k] != LF_SBB && ops[k] != LF_INC &&
					    ops[k] != LF_DEC)
						continue;
					if ((ops[k] == LF_INC || ops[k] == LF_DEC) && s != 1)
						continue;
					check_one(ops[k], 1, d, s, cin, 0x602 | (d & 1 ? RFLAGS_ARITH : 0));
				}
}

static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void wide_operands(void)
{
	setup();
	static const unsigned sizes[] = { 2, 4, 8 };
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (unsigned z = 0; z < 3; z++) {
		unsigned sz = sizes[z];
		uint64_t sb = 1ull << (8 * sz - 1), m = sz == 8 ? ~0ull : (sb << 1) - 1;
		const uint64_t edge[] = { 0, 1, 2, 0xf, 0x10, sb - 1, sb, sb + 1, m - 1, m };
		for (unsigned k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
			for (unsigned a = 0; a < 10; a++)
				for (unsigned b = 0; b < 10; b++)
					for (unsigned cin = 0; cin < 2; cin++)
						check_one(ops[k], sz, edge[a], ops[k] >= LF_INC ? 1 : edge[b], cin,
							  0x2);
			for (unsigned n = 0; n < 20000; n++) {
				uint64_t d = next(&x), s = next(&x);
				if (n & 1)
					s = d + (next(&x) & 3) - 1; /* near-equal operands */
				if (ops[k] >= LF_INC)
					s = 1; /* INC/DEC record a source of 1 */
				check_one(ops[k], sz, d, s, (unsigned)(n >> 1) & 1, 0x2 | (next(&x) & 0xcd5));
			}
		}
	}
}

/* LF_NONE: the flags in RFLAGS are the flags. */
static void materialised(void)
{
	setup();
	for (uint64_t f = 0; f < 0x1000; f++) {
		uint64_t img = (f & 0xcd5) | 0x2;
		emu_set_flags(&cpu, img);
		CHECK_EQ(emu_flags(&cpu), img);
		CHECK_EQ(emu_cf(&cpu), (img & CF) != 0);
		for (unsigned cc = 0; cc < 16; cc++)
			CHECK_EQ(emu_cc(&cpu, cc), cc_ref(img, cc));
	}
}

TEST_MAIN(exhaustive_8bit, wide_operands, materialised)
