/*
 * fpkernels (kernels.h): plain C floating-point and vectorizable integer
 * code as gcc -O2 compiles it for x86-64 with SSE2 -- scalar and packed
 * single and double precision arithmetic, square roots, compares,
 * conversions in every direction, the rounding modes and FTZ/DAZ of MXCSR,
 * special values, integer loops the vectorizer turns into SSE2 integer
 * instructions, long double arithmetic on the x87 FPU, and legacy x87
 * code. The results are emitted as bits: the guest and the native build
 * must print the same ones.
 */
#include "kernels.h"

static fpk_emit out;
static unsigned failed;

static void emit_d(const char *name, double x)
{
	uint64_t b;
	__builtin_memcpy(&b, &x, 8);
	out(name, b);
}

static void emit_f(const char *name, float x)
{
	uint32_t b;
	__builtin_memcpy(&b, &x, 4);
	out(name, b);
}

static void check(int ok)
{
	if (!ok)
		failed++;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* A double in [lo, hi). */
static double uniform(double lo, double hi)
{
	return lo + (hi - lo) * (double)(rng() >> 11) * 0x1.0p-53;
}

/* ---- MXCSR ---- */

static uint32_t mxcsr_get(void)
{
	uint32_t v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static void mxcsr_set(uint32_t v)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(v) : "memory");
}

/* ---- kernels ---- */

/* The Mandelbrot set on a 64 x 48 grid, up to 256 iterations. */
static void mandelbrot(void)
{
	uint64_t total = 0;
	double last = 0;
	for (int py = 0; py < 48; py++) {
		for (int px = 0; px < 64; px++) {
			double cr = -2.2 + px * (3.2 / 64), ci = -1.2 + py * (2.4 / 48);
			double zr = 0, zi = 0;
			int n = 0;
			while (n < 256 && zr * zr + zi * zi <= 4.0) {
				double t = zr * zr - zi * zi + cr;
				zi = 2 * zr * zi + ci;
				zr = t;
				n++;
			}
			total += (uint64_t)n;
			last += zr * zr + zi * zi;
		}
	}
	out("mandelbrot.iterations", total);
	emit_d("mandelbrot.sum", last);
}

/* Five bodies under gravity (the outer planets and the Sun), leapfrog steps:
 * square roots, divisions, long dependency chains. */
struct body {
	double x[3], v[3], m;
};

static double energy(const struct body *b, int n)
{
	double e = 0;
	for (int i = 0; i < n; i++) {
		e += 0.5 * b[i].m * (b[i].v[0] * b[i].v[0] + b[i].v[1] * b[i].v[1] + b[i].v[2] * b[i].v[2]);
		for (int j = i + 1; j < n; j++) {
			double d[3] = { b[i].x[0] - b[j].x[0], b[i].x[1] - b[j].x[1], b[i].x[2] - b[j].x[2] };
			e -= b[i].m * b[j].m / __builtin_sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
		}
	}
	return e;
}

static void nbody(void)
{
	const double pi = 3.141592653589793, days = 365.24, sm = 4 * pi * pi;
	struct body b[5] = {
		{ { 0, 0, 0 }, { 0, 0, 0 }, sm },
		{ { 4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01 },
		  { 1.66007664274403694e-03 * days, 7.69901118419740425e-03 * days, -6.90460016972063023e-05 * days },
		  9.54791938424326609e-04 * sm },
		{ { 8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01 },
		  { -2.76742510726862411e-03 * days, 4.99852801234917238e-03 * days, 2.30417297573763929e-05 * days },
		  2.85885980666130812e-04 * sm },
		{ { 1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01 },
		  { 2.96460137564761618e-03 * days, 2.37847173959480950e-03 * days, -2.96589568540237556e-05 * days },
		  4.36624404335156298e-05 * sm },
		{ { 1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01 },
		  { 2.68067772490389322e-03 * days, 1.62824170038242295e-03 * days, -9.51592254519715870e-05 * days },
		  5.15138902046611451e-05 * sm },
	};
	double e0 = energy(b, 5), dt = 0.01;
	for (int step = 0; step < 2000; step++) {
		for (int i = 0; i < 5; i++) {
			for (int j = i + 1; j < 5; j++) {
				double d[3], d2 = 0;
				for (int k = 0; k < 3; k++) {
					d[k] = b[i].x[k] - b[j].x[k];
					d2 += d[k] * d[k];
				}
				double mag = dt / (d2 * __builtin_sqrt(d2));
				for (int k = 0; k < 3; k++) {
					b[i].v[k] -= d[k] * b[j].m * mag;
					b[j].v[k] += d[k] * b[i].m * mag;
				}
			}
		}
		for (int i = 0; i < 5; i++)
			for (int k = 0; k < 3; k++)
				b[i].x[k] += dt * b[i].v[k];
	}
	double e1 = energy(b, 5);
	emit_d("nbody.e0", e0);
	emit_d("nbody.e1", e1);
	check(__builtin_fabs((e1 - e0) / e0) < 1e-3);
}

/* A 32 x 32 single-precision matrix product (the vectorizer's loop). */
static float ma[32][32], mb[32][32], mc[32][32];

static void matmul(void)
{
	for (int i = 0; i < 32; i++)
		for (int j = 0; j < 32; j++) {
			ma[i][j] = (float)uniform(-1, 1);
			mb[i][j] = (float)uniform(-1, 1);
			mc[i][j] = 0;
		}
	for (int i = 0; i < 32; i++)
		for (int k = 0; k < 32; k++) {
			float a = ma[i][k];
			for (int j = 0; j < 32; j++)
				mc[i][j] += a * mb[k][j];
		}
	float trace = 0, sum = 0;
	for (int i = 0; i < 32; i++) {
		trace += mc[i][i];
		for (int j = 0; j < 32; j++)
			sum += mc[i][j];
	}
	emit_f("matmul.trace", trace);
	emit_f("matmul.sum", sum);
}

/* Conversions: integers to floating point and back (truncating and
 * rounding), between the two formats, and the unsigned 64-bit cases gcc
 * open-codes. */
static void conversions(void)
{
	uint64_t h = 0;
	double dsum = 0;
	float fsum = 0;
	for (int k = 0; k < 500; k++) {
		int64_t i64 = (int64_t)rng() >> (rng() & 63);
		int32_t i32 = (int32_t)rng() >> (rng() & 31);
		uint64_t u64 = rng() >> (rng() & 63);
		double d = uniform(-1e6, 1e6);
		float f = (float)d;
		dsum += (double)i64 + (double)u64 + (double)i32;
		fsum += (float)i32 + (float)u64;
		h = h * 31 + (uint64_t)(int64_t)d;
		h = h * 31 + (uint64_t)(int32_t)f;
		h = h * 31 + (uint64_t)(d >= 0 ? (uint64_t)d : 0);
		h = h * 31 + (uint64_t)__builtin_lrint(d);
		h = h * 31 + (uint64_t)__builtin_lrintf(f);
		h = h * 31 + (uint64_t)(int64_t)(d * 0.5 + 0.5);
		double back = (double)f;
		float narrowed = (float)(d * 1.0000001);
		uint64_t bb;
		__builtin_memcpy(&bb, &back, 8);
		h = h * 31 + bb;
		uint32_t nb;
		__builtin_memcpy(&nb, &narrowed, 4);
		h = h * 31 + nb;
	}
	out("convert.hash", h);
	emit_d("convert.dsum", dsum);
	emit_f("convert.fsum", fsum);
}

/* Statistics over single-precision data with NaNs in it: compares against
 * NaN, min/max, absolute values, a square root. */
static float data[1000];

static void statistics(void)
{
	for (int k = 0; k < 1000; k++)
		data[k] = (float)uniform(-100, 100);
	for (int k = 0; k < 1000; k += 97)
		data[k] = __builtin_nanf("");
	float lo = __builtin_inff(), hi = -__builtin_inff(), mean = 0, absmax = 0;
	int n = 0, nans = 0;
	for (int k = 0; k < 1000; k++) {
		float x = data[k];
		if (x != x) {
			nans++;
			continue;
		}
		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
		absmax = __builtin_fabsf(x) > absmax ? __builtin_fabsf(x) : absmax;
		mean += x;
		n++;
	}
	mean /= (float)n;
	float var = 0;
	for (int k = 0; k < 1000; k++)
		if (data[k] == data[k])
			var += (data[k] - mean) * (data[k] - mean);
	float sd = __builtin_sqrtf(var / (float)(n - 1));
	out("stats.nans", (uint64_t)nans);
	emit_f("stats.min", lo);
	emit_f("stats.max", hi);
	emit_f("stats.absmax", absmax);
	emit_f("stats.mean", mean);
	emit_f("stats.sd", sd);
	check(nans == 11 && lo >= -100 && hi < 100 && sd > 50 && sd < 65);
}

/* Infinities, NaNs and denormals flowing through ordinary code. */
static volatile double vd[4] = { 1e308, 1e-310, 0.0, -2.5 };
static volatile float vf[4] = { 3e38f, 1e-40f, 0.0f, -2.5f };

static void special(void)
{
	double big = vd[0], tiny = vd[1], zero = vd[2], neg = vd[3];
	emit_d("special.overflow", big * 10);
	emit_d("special.underflow", tiny * 1e-10);
	emit_d("special.denormal", tiny * 3);
	emit_d("special.div0", neg / zero);
	emit_d("special.nan", zero / zero);
	emit_d("special.nan_plus", (zero / zero) + 1.0);
	emit_d("special.sqrt_neg", __builtin_sqrt(neg));
	emit_d("special.inf_minus_inf", (big * 10) - (big * 10));
	float fbig = vf[0], ftiny = vf[1], fzero = vf[2];
	emit_f("special.f_overflow", fbig * 2);
	emit_f("special.f_denormal", ftiny * 0.5f);
	emit_f("special.f_narrow", (float)big);
	emit_f("special.f_narrow_tiny", (float)tiny);
	emit_d("special.widen", (double)ftiny);
	emit_f("special.f_signed_zero", -fzero);
	out("special.int_from_nan", (uint64_t)(int64_t)(zero / zero));
	out("special.int_from_big", (uint64_t)(int32_t)(float)big);
}

/* The computations run under a changed MXCSR are calls, which the
 * compiler cannot move across the LDMXCSRs around them (noipa: nor
 * treat as pure and merge). */
static __attribute__((noipa)) float harmonic(int n)
{
	float s = 0;
	for (int k = 1; k <= n; k++)
		s += 1.0f / (float)k;
	return s;
}

static volatile float tiny_a = 1e-20f, tiny_b = 1e-25f, tiny_dn = 1e-40f;

static __attribute__((noipa)) float tiny_product(void)
{
	return tiny_a * tiny_b;
}

static __attribute__((noipa)) float tiny_sum(void)
{
	return tiny_dn + 0.0f;
}

/* The harmonic series in each rounding mode, and tiny products with FTZ
 * and DAZ (MXCSR, SDM Vol. 1 10.2.3). */
static void rounding(void)
{
	static const char *const names[4] = { "round.nearest", "round.down", "round.up", "round.zero" };
	uint32_t saved = mxcsr_get();
	float sums[4];
	for (unsigned rc = 0; rc < 4; rc++) {
		mxcsr_set((saved & ~0x6000u) | (rc << 13));
		sums[rc] = harmonic(2000);
		mxcsr_set(saved);
		emit_f(names[rc], sums[rc]);
	}
	check(sums[1] <= sums[0] && sums[0] <= sums[2] && sums[3] <= sums[2] && sums[1] < sums[2]);
	mxcsr_set(saved | 0x8040); /* FTZ and DAZ */
	float ftz = tiny_product(), daz = tiny_sum();
	mxcsr_set(saved);
	float no_ftz = tiny_product();
	check(ftz == 0 && daz == 0 && no_ftz != 0);
	emit_f("round.ftz", ftz);
	emit_f("round.daz", daz);
	emit_f("round.no_ftz", no_ftz);
	out("round.mxcsr_flags", mxcsr_get() & 0x3f);
}

/* Integer loops the vectorizer turns into SSE2: saturating byte adds,
 * word maxima, doubleword arithmetic and shifts, byte compares. */
static uint8_t ba[1024], bb[1024], bc[1024];
static int16_t wa[1024];
static int32_t da[1024], db[1024];

static void vector_int(void)
{
	for (int k = 0; k < 1024; k++) {
		uint64_t r = rng();
		ba[k] = (uint8_t)r;
		bb[k] = (uint8_t)(r >> 8);
		wa[k] = (int16_t)(r >> 16);
		da[k] = (int32_t)(r >> 32);
	}
	for (int k = 0; k < 1024; k++) {
		unsigned s = (unsigned)ba[k] + bb[k];
		bc[k] = (uint8_t)(s > 255 ? 255 : s);
	}
	for (int k = 0; k < 1024; k++)
		db[k] = (da[k] >> 3) + (da[k] << 2) - (int32_t)bc[k];
	int16_t wmax = -32768;
	for (int k = 0; k < 1024; k++)
		wmax = wa[k] > wmax ? wa[k] : wmax;
	uint32_t bytesum = 0, equal = 0;
	for (int k = 0; k < 1024; k++) {
		bytesum += bc[k];
		equal += ba[k] == bb[k];
	}
	uint64_t dsum = 0;
	for (int k = 0; k < 1024; k++)
		dsum += (uint32_t)db[k];
	out("vint.bytesum", bytesum);
	out("vint.equal", equal);
	out("vint.wmax", (uint16_t)wmax);
	out("vint.dsum", dsum);
}

/* Insertion sort of doubles, and a dot product in both precisions. */
static double sortbuf[300];

static void sorting(void)
{
	for (int k = 0; k < 300; k++)
		sortbuf[k] = uniform(-1e3, 1e3);
	for (int i = 1; i < 300; i++) {
		double x = sortbuf[i];
		int j = i - 1;
		while (j >= 0 && sortbuf[j] > x) {
			sortbuf[j + 1] = sortbuf[j];
			j--;
		}
		sortbuf[j + 1] = x;
	}
	int sorted = 1;
	double dot = 0;
	float fdot = 0;
	for (int k = 0; k < 300; k++) {
		if (k && sortbuf[k - 1] > sortbuf[k])
			sorted = 0;
		dot += sortbuf[k] * sortbuf[299 - k];
		fdot += (float)sortbuf[k] * (float)sortbuf[(k * 7) % 300];
	}
	emit_d("sort.median", sortbuf[150]);
	emit_d("sort.dot", dot);
	emit_f("sort.fdot", fdot);
	check(sorted);
}

/* Double extended precision: long double is the x87's 80-bit format in
 * the x86-64 ABI, so gcc compiles this to x87 code -- FLD/FSTP of 80-bit
 * values, FADD/FMUL/FDIV, FSQRT, FCOMI, and the FNSTCW/FLDCW dance around
 * FISTP that truncating conversions need. */
static void extended(void)
{
	long double sum = 0, prod = 1;
	for (int k = 1; k <= 500; k++) {
		sum += 1.0L / (long double)k;
		prod *= 1.0L + 1.0L / ((long double)k * k);
	}
	long double root = __builtin_sqrtl(sum * prod);
	long long trunc = (long long)(root * 1e15L);
	int cmp = sum > prod;
	uint64_t m;
	uint16_t e;
	__builtin_memcpy(&m, &root, 8);
	__builtin_memcpy(&e, (const char *)&root + 8, 2);
	out("extended.root.mantissa", m);
	out("extended.root.exponent", e);
	out("extended.trunc", (uint64_t)trunc);
	out("extended.cmp", (uint64_t)cmp);
	emit_d("extended.as_double", (double)sum);
	check(sum > 6.79L && sum < 6.80L && prod > 3.6L && prod < 3.7L);
}

/*
 * Legacy x87 code, as 32-bit compilers and hand-written math libraries emit
 * it (SDM Vol. 1 chapter 8, Vol. 2 per instruction): 2^x with FRNDINT,
 * F2XM1 and FSCALE; log2 with FYL2X; FSINCOS, FPATAN; fmod with an FPREM
 * loop on FNSTSW AX / SAHF / JP; FUCOMPP compares read through SAHF; a BCD
 * round trip through FBSTP/FBLD; FXTRACT; arithmetic at single precision
 * (FCW.PC). Each result and the status word after it are emitted: the
 * transcendental results are the processor's own, and the native run is on
 * the same processor.
 */
static void x87_op(const char *name, double r, uint16_t sw)
{
	emit_d(name, r);
	out("x87.fsw", sw & ~0x3800u); /* without TOP: it is 0 after each */
}

static void legacy_x87(void)
{
	double worst = 0;
	for (int k = 0; k < 24; k++) {
		double x = uniform(-6, 6), y = uniform(0.25, 3), r;
		uint16_t sw;
		__asm__ volatile("fninit; fldl %2; fld %%st(0); frndint; fsubr %%st, %%st(1); fxch; f2xm1; fld1;"
				 "faddp; fscale; fstp %%st(1); fstpl %0; fnstsw %1"
				 : "=m"(r), "=m"(sw) : "m"(x) : "st", "st(1)", "st(2)");
		x87_op("x87.exp2", r, sw);
		check(r > 0);
		__asm__ volatile("fninit; fld1; fldl %2; fyl2x; fstpl %0; fnstsw %1" : "=m"(r), "=m"(sw) : "m"(y) : "st", "st(1)");
		x87_op("x87.log2", r, sw);
		double c;
		__asm__ volatile("fninit; fldl %3; fsincos; fstpl %1; fstpl %0; fnstsw %2"
				 : "=m"(r), "=m"(c), "=m"(sw) : "m"(x) : "st", "st(1)");
		x87_op("x87.sin", r, sw);
		emit_d("x87.cos", c);
		double one = r * r + c * c - 1;
		worst = one < 0 ? (-one > worst ? -one : worst) : (one > worst ? one : worst);
		__asm__ volatile("fninit; fldl %2; fldl %3; fpatan; fstpl %0; fnstsw %1"
				 : "=m"(r), "=m"(sw) : "m"(x), "m"(y) : "st", "st(1)");
		x87_op("x87.atan2", r, sw);
		double big = x * 1e6;
		__asm__ volatile("fninit; fldl %3; fldl %2; 1: fprem; fnstsw %%ax; sahf; jp 1b; fstp %%st(1); fstpl %0;"
				 "fnstsw %1"
				 : "=m"(r), "=m"(sw) : "m"(big), "m"(y) : "rax", "cc", "st", "st(1)");
		x87_op("x87.fmod", r, sw);
		check(r > -y && r < y);
		uint8_t flags;
		__asm__ volatile("fninit; fldl %2; fldl %1; fucompp; fnstsw %%ax; sahf; setb %0"
				 : "=r"(flags) : "m"(x), "m"(y) : "rax", "cc", "st", "st(1)");
		out("x87.x_lt_y", flags);
		check(flags == (x < y));
		uint8_t bcd[10];
		double scaled = x * 1e12;
		__asm__ volatile("fninit; fldl %2; fbstp %0; fbld %0; fstpl %1" : "=m"(bcd), "=m"(r) : "m"(scaled) : "st");
		uint64_t lo;
		__builtin_memcpy(&lo, bcd, 8);
		out("x87.bcd", lo);
		emit_d("x87.bcd_back", r);
		check(r == __builtin_rint(scaled));
		double m;
		__asm__ volatile("fninit; fldl %2; fxtract; fstpl %0; fstpl %1" : "=m"(m), "=m"(r) : "m"(big) : "st", "st(1)");
		emit_d("x87.mantissa", m);
		emit_d("x87.exponent", r);
		uint16_t pc_single = 0x07f;
		__asm__ volatile("fninit; fldcw %3; fldl %2; fldl %4; fdivrp; fstpl %0; fnstsw %1; fninit"
				 : "=m"(r), "=m"(sw) : "m"(x), "m"(pc_single), "m"(y) : "st", "st(1)");
		x87_op("x87.div_single", r, sw);
		check((double)(float)r == r);
	}
	check(worst < 1e-15);
}

unsigned fpk_run(fpk_emit emit)
{
	out = emit;
	failed = 0;
	mandelbrot();
	nbody();
	matmul();
	conversions();
	statistics();
	special();
	rounding();
	vector_int();
	sorting();
	extended();
	legacy_x87();
	return failed;
}
