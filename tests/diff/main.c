/*
 * tortuga's differential instruction suite, in the style of dav1d's
 * checkasm: every form (gen.c) runs a number of random and edge-case inputs
 * on the host CPU and on the emu CPU, and every result register, the memory
 * window, RIP, the fault (if any) and every SDM-defined flag must agree.
 *
 *   diff [--cases N] [--seed S] [--filter TEXT] [--list] [--max-fail N]
 *
 * --cases (or TORTUGA_DIFF_CASES) is the number of cases per form; the seed
 * (TORTUGA_DIFF_SEED) is random unless given and is printed, so any failure
 * reproduces with --seed S --filter FORM.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cpuid.h>

#include <Zydis/Zydis.h>

#include "core/fpu.h"
#include "diff.h"

#define DEFAULT_CASES 1000

static const char *const reg_names[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					   "r8",  "r9",	 "r10", "r11", "r12", "r13", "r14", "r15" };

static const char *flag_text(uint64_t f, char *buf)
{
	static const struct {
		uint64_t bit;
		char c;
	} names[] = { { 0x800, 'O' }, { 0x400, 'D' }, { 0x80, 'S' }, { 0x40, 'Z' },
		      { 0x10, 'A' },  { 0x4, 'P' },   { 0x1, 'C' } };
	for (unsigned k = 0; k < 7; k++)
		buf[k] = (f & names[k].bit) ? names[k].c : '-';
	buf[7] = 0;
	return buf;
}

static void disasm(const struct diff_case *c, char *buf, size_t len)
{
	ZydisDisassembledInstruction d;
	ZydisMachineMode mm = c->code16	  ? ZYDIS_MACHINE_MODE_LONG_COMPAT_16 :
			      c->compat ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 :
					  ZYDIS_MACHINE_MODE_LONG_64;
	if (ZYAN_SUCCESS(ZydisDisassembleIntel(mm, DIFF_CODE_VA, c->code, c->len, &d)))
		snprintf(buf, len, "%s", d.text);
	else
		snprintf(buf, len, "(invalid)");
}

static const char *fault_text(int v, char *buf)
{
	if (v == DIFF_NO_FAULT)
		return "none";
	if (v >= 100)
		snprintf(buf, 32, "VM stop reason %d", v - 100);
	else
		snprintf(buf, 32, "vector %d", v);
	return buf;
}

/*
 * The parts of the FXSAVE image both sides define: FCW, FSW, the abridged
 * FTW (bytes 5:0), MXCSR, the x87/MMX registers and the XMM registers. FOP,
 * FIP and FDP are left out (AMD processors save them only while an x87
 * exception is pending: x87_pointers_equal()), as are MXCSR_MASK (the
 * processor's own) and bytes 511:416 (not state).
 */
static const struct {
	uint16_t off, len;
	const char *name;
} fx_parts[] = {
	{ 0, 6, "fcw/fsw/ftw" },
	{ FX_MXCSR, 4, "mxcsr" },
	{ FX_ST0, 128, "st/mm" },
	{ FX_XMM0, 256, "xmm" },
};

/*
 * The last x87 instruction's opcode, instruction pointer and operand pointer
 * (SDM Vol. 1 8.1.8, 8.1.9), which a non-control x87 instruction records.
 * Compared where both vendors store them: when the case leaves an unmasked
 * exception pending that was not pending before (AMD processors save them
 * only then; Intel's FOP too, 8.1.9.1). FDP only for instructions with a
 * memory operand: "if the last non-control instruction ... did not have a
 * memory operand, the value in the data pointer register is undefined".
 */
static bool x87_pointers_equal(const struct diff_case *c, const struct diff_out *h, const struct diff_out *e)
{
	if (!c->x87_pointers || h->fault != DIFF_NO_FAULT || (fx_get(c->in.fx, FX_FSW, 2) & FSW_ES) ||
	    !(fx_get(h->r.fx, FX_FSW, 2) & FSW_ES))
		return true;
	if (fx_get(h->r.fx, FX_FOP, 2) != fx_get(e->r.fx, FX_FOP, 2) || memcmp(h->r.fx + FX_FIP, e->r.fx + FX_FIP, 8))
		return false;
	return !(c->x87_pointers & DIFF_X87_FDP) || !memcmp(h->r.fx + FX_FDP, e->r.fx + FX_FDP, 8);
}

static bool fx_equal(const uint8_t *a, const uint8_t *b)
{
	for (unsigned k = 0; k < sizeof(fx_parts) / sizeof(fx_parts[0]); k++)
		if (memcmp(a + fx_parts[k].off, b + fx_parts[k].off, fx_parts[k].len))
			return false;
	return true;
}

static bool mem_equal(const struct diff_case *c, const uint8_t *a, const uint8_t *b)
{
	if (!c->nskip)
		return !memcmp(a, b, DIFF_MEM_SIZE);
	for (unsigned k = 0; k < DIFF_MEM_SIZE; k++) {
		bool skip = false;
		for (unsigned j = 0; j < c->nskip; j++)
			skip |= k >= c->mem_skip[j].off && k < c->mem_skip[j].off + c->mem_skip[j].len;
		if (!skip && a[k] != b[k])
			return false;
	}
	return true;
}

/* Where the two sides disagree, as a bit set: 1 fault, 2 RIP, 4 GPRs,
 * 8 flags, 16 memory, 32 x87/SSE state, 64 x87 pointers. */
static unsigned compare(const struct diff_case *c, const struct diff_out *h, const struct diff_out *e)
{
	unsigned bad = 0;
	if (h->fault != e->fault || h->error != e->error || h->cr2 != e->cr2)
		return 1;
	if (h->rip != e->rip)
		bad |= 2;
	for (int k = 0; k < 16; k++) {
		bool undefined = h->fault == DIFF_NO_FAULT && (c->regs_undefined & (1u << k));
		/* Compatibility mode: R8-R15 and the upper halves are not
		 * accessible and undefined after it (SDM Vol. 1 3.4.1.1). */
		uint64_t m = c->compat ? (k < 8 ? 0xffffffffull : 0) : ~0ull;
		/* A 16-bit stack uses SP only; Linux's espfix may change the
		 * rest of ESP on the host. */
		if (c->code16 && k == DIFF_RSP)
			m = 0xffff;
		if (!undefined && ((h->r.gpr[k] ^ e->r.gpr[k]) & m))
			bad |= 4;
	}
	/* At a fault nothing may have changed: every compared flag counts. */
	uint64_t fm = h->fault == DIFF_NO_FAULT ? c->flags_defined : DIFF_FLAGS;
	if ((h->r.rflags ^ e->r.rflags) & fm)
		bad |= 8;
	if ((h->fault != DIFF_NO_FAULT || !c->mem_undefined) && !mem_equal(c, h->mem, e->mem))
		bad |= 16;
	if (!fx_equal(h->r.fx, e->r.fx))
		bad |= 32;
	if (!x87_pointers_equal(c, h, e))
		bad |= 64;
	return bad;
}

static void report(const struct diff_case *c, const struct diff_out *h, const struct diff_out *e, unsigned bad,
		   uint64_t seed, unsigned idx)
{
	char dis[96], f1[8], f2[8], f3[8], fb1[32], fb2[32];
	disasm(c, dis, sizeof(dis));
	fprintf(stderr, "FAIL %s: case %u (seed %" PRIu64 ")\n  %s    ;", c->form, idx, seed, dis);
	for (unsigned k = 0; k < c->len; k++)
		fprintf(stderr, " %02x", c->code[k]);
	fprintf(stderr, "\n  fault: host %s, tortuga %s\n", fault_text(h->fault, fb1), fault_text(e->fault, fb2));
	if (h->fault >= 0 || e->fault >= 0)
		fprintf(stderr, "  error code: host %#x, tortuga %#x; cr2: host %#llx, tortuga %#llx; rip: host %#llx, tortuga %#llx\n",
			h->error, e->error, (unsigned long long)h->cr2, (unsigned long long)e->cr2,
			(unsigned long long)h->rip, (unsigned long long)e->rip);
	fprintf(stderr, "  %-4s %-18s %-18s %-18s\n", "", "input", "host", "tortuga");
	for (int k = 0; k < 16; k++) {
		bool differs = h->r.gpr[k] != e->r.gpr[k];
		fprintf(stderr, "  %-4s %016" PRIx64 "   %016" PRIx64 "   %016" PRIx64 "%s\n", reg_names[k],
			c->in.gpr[k], h->r.gpr[k], e->r.gpr[k],
			differs ? ((c->regs_undefined >> k) & 1 ? "  (undefined)" : "  <--") : "");
	}
	fprintf(stderr, "  flgs %-18s %-18s %-18s compared %s%s\n", flag_text(c->in.rflags, f1),
		flag_text(h->r.rflags, f2), flag_text(e->r.rflags, f3), flag_text(c->flags_defined, fb1),
		(bad & 8) ? "  <--" : "");
	if (bad & 2)
		fprintf(stderr, "  rip  host %" PRIx64 " tortuga %" PRIx64 "\n", h->rip, e->rip);
	if (bad & 32) {
		for (unsigned p = 0; p < sizeof(fx_parts) / sizeof(fx_parts[0]); p++) {
			for (unsigned o = fx_parts[p].off; o < fx_parts[p].off + fx_parts[p].len; o += 16) {
				unsigned n = fx_parts[p].len < 16 ? fx_parts[p].len : 16;
				if (!memcmp(h->r.fx + o, e->r.fx + o, n) && !memcmp(c->in.fx + o, h->r.fx + o, n))
					continue;
				fprintf(stderr, "  %-6s+%-3u in ", fx_parts[p].name, o - fx_parts[p].off);
				for (unsigned k = n; k-- > 0;)
					fprintf(stderr, "%02x", c->in.fx[o + k]);
				fprintf(stderr, " host ");
				for (unsigned k = n; k-- > 0;)
					fprintf(stderr, "%02x", h->r.fx[o + k]);
				fprintf(stderr, " tortuga ");
				for (unsigned k = n; k-- > 0;)
					fprintf(stderr, "%02x", e->r.fx[o + k]);
				fprintf(stderr, "%s\n", memcmp(h->r.fx + o, e->r.fx + o, n) ? "  <--" : "");
			}
		}
	}
	if (bad & 64) {
		const struct diff_out *o[2] = { h, e };
		for (unsigned k = 0; k < 2; k++) {
			uint64_t fip, fdp;
			memcpy(&fip, o[k]->r.fx + FX_FIP, 8);
			memcpy(&fdp, o[k]->r.fx + FX_FDP, 8);
			fprintf(stderr, "  x87 pointers %-7s fop %03x fip %016" PRIx64 " fdp %016" PRIx64 "  <--\n",
				k ? "tortuga" : "host", fx_get(o[k]->r.fx, FX_FOP, 2), fip, fdp);
		}
	}
	if (bad & 16) {
		for (unsigned k = 0; k < DIFF_MEM_SIZE; k++)
			if (h->mem[k] != e->mem[k])
				fprintf(stderr, "  mem  0x%llx: input %02x host %02x tortuga %02x\n",
					(unsigned long long)diff_mem_va(k), c->mem[k], h->mem[k], e->mem[k]);
	}
}

/*
 * Forms whose instruction the host CPU may lack (CPUID, SDM Vol. 2A): the
 * reference cannot run them, so they are skipped (tortuga implements them
 * all). TZCNT and LZCNT would even run, as BSF and BSR. SSE, SSE2 and
 * FXSAVE are part of x86-64.
 */
static bool host_has(unsigned m)
{
	unsigned a, b, c, c1 = 0, d, b7 = 0, c81 = 0;
	if (__get_cpuid(1, &a, &b, &c1, &d) == 0)
		c1 = 0;
	if (__get_cpuid_count(7, 0, &a, &b7, &c, &d) == 0)
		b7 = 0;
	if (__get_cpuid(0x80000001, &a, &b, &c81, &d) == 0)
		c81 = 0;
	switch (m) {
	case ZYDIS_MNEMONIC_ANDN:
	case ZYDIS_MNEMONIC_BEXTR:
	case ZYDIS_MNEMONIC_BLSI:
	case ZYDIS_MNEMONIC_BLSMSK:
	case ZYDIS_MNEMONIC_BLSR:
	case ZYDIS_MNEMONIC_TZCNT:
		return b7 & (1u << 3); /* BMI1 */
	case ZYDIS_MNEMONIC_LZCNT:
		return c81 & (1u << 5); /* ABM */
	case ZYDIS_MNEMONIC_MOVBE:
		return c1 & (1u << 22);
	case ZYDIS_MNEMONIC_POPCNT:
		return c1 & (1u << 23);
	case ZYDIS_MNEMONIC_CMPXCHG16B:
		return c1 & (1u << 13);
	case ZYDIS_MNEMONIC_LAHF:
	case ZYDIS_MNEMONIC_SAHF:
		return c81 & 1u; /* in 64-bit mode */
	case ZYDIS_MNEMONIC_XSAVE:
	case ZYDIS_MNEMONIC_XSAVE64:
	case ZYDIS_MNEMONIC_XRSTOR:
	case ZYDIS_MNEMONIC_XRSTOR64:
		return c1 & (1u << 27); /* OSXSAVE: the kernel enabled XSAVE */
	case ZYDIS_MNEMONIC_XSAVEOPT:
	case ZYDIS_MNEMONIC_XSAVEOPT64: {
		unsigned a0 = 0, b0, c0, d0;
		if (!__get_cpuid_count(0xd, 1, &a0, &b0, &c0, &d0))
			a0 = 0;
		return (c1 & (1u << 27)) && (a0 & 1u);
	}
	default:
		return true;
	}
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 0) : def;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	uint64_t cases = env_u64("TORTUGA_DIFF_CASES", DEFAULT_CASES);
	uint64_t seed = env_u64("TORTUGA_DIFF_SEED", 0);
	bool seed_given = getenv("TORTUGA_DIFF_SEED") != NULL;
	const char *filter = NULL;
	unsigned max_fail = 10;
	bool list = false;
	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--cases") && a + 1 < argc) {
			cases = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--seed") && a + 1 < argc) {
			seed = strtoull(argv[++a], NULL, 0);
			seed_given = true;
		} else if (!strcmp(argv[a], "--filter") && a + 1 < argc) {
			filter = argv[++a];
		} else if (!strcmp(argv[a], "--max-fail") && a + 1 < argc) {
			max_fail = (unsigned)strtoul(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--list")) {
			list = true;
		} else {
			fprintf(stderr, "usage: %s [--cases N] [--seed S] [--filter TEXT] [--list] [--max-fail N]\n",
				argv[0]);
			return 2;
		}
	}
	if (!seed_given) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
	}
	unsigned nforms = gen_form_count();
	if (list) {
		for (unsigned f = 0; f < nforms; f++)
			printf("%s\n", gen_form_name(f));
		return 0;
	}
	if (native_init() || guest_init())
		return 1;

	double t0 = now_s();
	uint64_t total = 0, failed = 0, forms_run = 0, bad_forms = 0;
	uint64_t faults[32] = { 0 }, mem_changed = 0, compat_skipped = 0, cpu_skipped = 0;
	if (!filter && guest_check_unimplemented())
		failed++;
	static struct diff_case c;
	static struct diff_out h, e;
	for (unsigned f = 0; f < nforms; f++) {
		if (filter && !strstr(gen_form_name(f), filter))
			continue;
		if ((gen_form_compat(f) && !native_compat_ok) || (gen_form_code16(f) && !native_code16_ok)) {
			compat_skipped++;
			continue;
		}
		if (!host_has(gen_form_mnemonic(f))) {
			if (cpu_skipped++ == 0)
				printf("diff: SKIPPED forms the host CPU lacks, such as %s\n", gen_form_name(f));
			continue;
		}
		forms_run++;
		struct rng r;
		rng_seed(&r, seed ^ (0x9e3779b97f4a7c15ull * (f + 1)));
		uint64_t form_fail = 0;
		for (unsigned i = 0; i < cases; i++) {
			int tries = 0;
			while (!gen_case(f, &r, &c)) {
				if (++tries == 1000) {
					fprintf(stderr, "FAIL %s: no encodable case\n", gen_form_name(f));
					return 1;
				}
			}
			native_run(&c, &h);
			guest_run(&c, &e);
			total++;
			if (h.fault >= 0 && h.fault < 32)
				faults[h.fault]++;
			if (memcmp(h.mem, c.mem, DIFF_MEM_SIZE))
				mem_changed++;
			unsigned bad = compare(&c, &h, &e);
			if (bad) {
				if (failed < max_fail)
					report(&c, &h, &e, bad, seed, i);
				failed++;
				form_fail++;
			}
		}
		if (form_fail)
			bad_forms++;
	}
	double dt = now_s() - t0;
	if (compat_skipped)
		printf("diff: SKIPPED %" PRIu64 " compatibility-mode forms: this kernel does not run 32-bit or 16-bit"
		       " user code\n",
		       compat_skipped);
	printf("diff: %" PRIu64 " cases in %" PRIu64 " forms, %.1f s, seed %" PRIu64 ": ", total, forms_run,
	       dt, seed);
	printf("(faults: #DE %" PRIu64 " #UD %" PRIu64 " #NM %" PRIu64 " #SS %" PRIu64 " #GP %" PRIu64
	       " #PF %" PRIu64 " #MF %" PRIu64 " #XM %" PRIu64 "; memory written %" PRIu64 ") ",
	       faults[0], faults[6], faults[7], faults[12], faults[13], faults[14], faults[16], faults[19],
	       mem_changed);
	if (failed) {
		printf("%" PRIu64 " FAILED in %" PRIu64 " forms\n", failed, bad_forms);
		printf("reproduce: %s --seed %" PRIu64 " --filter '<form>'\n", argv[0], seed);
	} else {
		printf("all agree\n");
	}
	guest_fini();
	if (gen_bugs)
		printf("diff: %u generator bugs (see above)\n", gen_bugs);
	return failed || gen_bugs ? 1 : 0;
}
