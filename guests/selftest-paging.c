/*
 * selftest-paging: 4-level paging as the Intel SDM Vol. 3A chapter 4
 * specifies it, checked from inside a guest (each result names its section).
 *
 * Test pages live in a region no one else maps (PML4 entry 1, linear
 * 0x80_0000_0000 and up) and point at scratch frames from the guest library's
 * page pool, which are also reachable through the boot identity map; so every
 * check can compare what a test mapping shows with what the frame holds.
 *
 * Covered: 4 KiB, 2 MiB and 1 GiB pages; accessed and dirty flags; not-present
 * faults; R/W with CR0.WP on and off; NX (and bit 63 reserved without
 * EFER.NXE); U/S from CPL 0 (with SMEP/SMAP) and CPL 3; reserved-bit faults;
 * page-fault error codes and CR2 for each; the TLB (stale translations until
 * INVLPG, MOV to CR3 or MOV to CR4; INVLPG and page faults invalidating).
 */
#include <guest/desc.h>
#include <guest/exc.h>
#include <guest/guest.h>
#include <guest/io.h>
#include <guest/paging.h>
#include <guest/tap.h>

#define TV 0x0000008000000000ull /* 4 KiB test pages: TV + n * 4 KiB */
#define TV_2M (TV + (1ull << 30)) /* 2 MiB test pages */
#define TV_1G (TV + (2ull << 30)) /* a 1 GiB test page */
#define TV_NONE (TV + (3ull << 30)) /* never mapped */

#define PATTERN_A 0xa5a5a5a5a5a5a5a5ull
#define PATTERN_B 0x5b5b5b5b5b5b5b5bull
#define RET_OFF 0x800 /* a RET instruction in each scratch frame */

static uint64_t *frame_a, *frame_b; /* identity-mapped scratch frames */
static uint64_t maxphyaddr;

static uint64_t pa(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void *va(uint64_t v)
{
	return (void *)(uintptr_t)v;
}

/* One result for an access that should page-fault with error code err and
 * CR2 = addr (SDM 3A 4.7). */
static void expect_pf(int vec, uint64_t addr, uint32_t err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void expect_pf(int vec, uint64_t addr, uint32_t err, const char *fmt, ...)
{
	char name[160], detail[96];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	bool ok = vec == X86_PF && exc_last.error == err && exc_last.cr2 == addr;
	snprintf(detail, sizeof(detail), "got vector %d error 0x%lx CR2 0x%lx; want 14, 0x%x, 0x%lx", vec,
		 vec >= 0 ? exc_last.error : 0, vec >= 0 ? exc_last.cr2 : 0, err, addr);
	tap_ok_detail(ok, detail, "%s", name);
}

/* One result for an access that should not fault. */
static void expect_no_fault(int vec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void expect_no_fault(int vec, const char *fmt, ...)
{
	char name[160], detail[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	snprintf(detail, sizeof(detail), "vector %d, error 0x%lx, CR2 0x%lx", vec, exc_last.error,
		 exc_last.cr2);
	tap_ok_detail(vec < 0, detail, "%s", name);
}

static int rd(uint64_t addr, uint64_t *v)
{
	return exc_read64_safe(va(addr), v);
}

static int wr(uint64_t addr, uint64_t v)
{
	return exc_write64_safe(va(addr), v);
}

/* ---- page sizes ---- */

static bool has_1g_pages(void)
{
	uint32_t r[4];
	cpuid(0x80000001, 0, r);
	return (r[3] >> 26) & 1; /* CPUID.80000001H:EDX.Page1GB (SDM 2A CPUID) */
}

static void test_sizes(void)
{
	uint64_t v = 0;
	*frame_a = PATTERN_A;
	pt_map(TV, pa(frame_a), PT_4K, PTE_P | PTE_W);
	int e = rd(TV, &v);
	tap_ok(e < 0 && v == PATTERN_A, "4 KiB page: reads its frame (SDM 3A 4.5, Table 4-20)");
	e = wr(TV + 8, PATTERN_B);
	tap_ok(e < 0 && frame_a[1] == PATTERN_B, "4 KiB page: writes reach its frame (SDM 3A 4.5)");

	uint64_t off2m = pa(frame_a) & ((1ull << 21) - 1);
	pt_map(TV_2M, pa(frame_a), PT_2M, PTE_P | PTE_W);
	e = rd(TV_2M + off2m, &v);
	tap_ok(e < 0 && v == PATTERN_A, "2 MiB page: bits 20:0 of the address are the offset (SDM 3A 4.5, Table 4-18)");

	if (has_1g_pages()) {
		pt_map(TV_1G, 0, PT_1G, PTE_P | PTE_W);
		e = rd(TV_1G + pa(frame_a), &v);
		tap_ok(e < 0 && v == PATTERN_A,
		       "1 GiB page: bits 29:0 of the address are the offset (SDM 3A 4.5, Table 4-16)");
	} else {
		tap_skip("CPUID reports no 1-GByte pages", "1 GiB page (SDM 3A 4.5)");
	}
}

/* ---- accessed and dirty flags (SDM 3A 4.8) ---- */

static void test_accessed_dirty(void)
{
	uint64_t v, a = TV + 0x1000;
	pt_map(a, pa(frame_a), PT_4K, PTE_P | PTE_W);
	uint64_t *pte = pt_entry(a, 1, false), *pde = pt_entry(a, 2, false);
	uint64_t *pdpte = pt_entry(a, 3, false), *pml4e = pt_entry(a, 4, false);
	*pde &= ~PTE_A;
	*pdpte &= ~PTE_A;
	*pml4e &= ~PTE_A;
	pt_flush_all();
	tap_ok(!(*pte & (PTE_A | PTE_D)), "fresh PTE has A = D = 0");
	rd(a, &v);
	tap_ok(*pte & PTE_A, "read sets A in the PTE (SDM 3A 4.8)");
	tap_ok(!(*pte & PTE_D), "read leaves D clear (SDM 3A 4.8)");
	tap_ok((*pde & PTE_A) && (*pdpte & PTE_A) && (*pml4e & PTE_A),
	       "read sets A in the PDE, PDPTE and PML4E it used (SDM 3A 4.8)");
	wr(a, 1);
	tap_ok(*pte & PTE_D, "write sets D in the PTE (SDM 3A 4.8)");

	/* D is set on the first write even after a read cached the page. */
	uint64_t b = TV + 0x2000;
	pt_map(b, pa(frame_b), PT_4K, PTE_P | PTE_W);
	pte = pt_entry(b, 1, false);
	rd(b, &v);
	rd(b, &v);
	wr(b, 2);
	tap_ok((*pte & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "write after reads sets D (SDM 3A 4.8)");

	uint64_t off2m = pa(frame_a) & ((1ull << 21) - 1);
	pt_map(TV_2M, pa(frame_a), PT_2M, PTE_P | PTE_W);
	pde = pt_entry(TV_2M, 2, false);
	rd(TV_2M + off2m, &v);
	tap_ok((*pde & (PTE_A | PTE_D)) == PTE_A, "2 MiB page: read sets A only (SDM 3A 4.8)");
	wr(TV_2M + off2m + 16, 3);
	tap_ok(*pde & PTE_D, "2 MiB page: write sets D in the PDE (SDM 3A 4.8)");

	if (has_1g_pages()) {
		pt_map(TV_1G, 0, PT_1G, PTE_P | PTE_W);
		pdpte = pt_entry(TV_1G, 3, false);
		wr(TV_1G + pa(frame_b) + 24, 4);
		tap_ok((*pdpte & (PTE_A | PTE_D)) == (PTE_A | PTE_D),
		       "1 GiB page: write sets A and D in the PDPTE (SDM 3A 4.8)");
	} else {
		tap_skip("CPUID reports no 1-GByte pages", "1 GiB page A/D (SDM 3A 4.8)");
	}
}

/* ---- not present (SDM 3A 4.7) ---- */

static void test_not_present(void)
{
	uint64_t v, a = TV + 0x3000;
	pt_map(a, pa(frame_a), PT_4K, 0);
	expect_pf(rd(a + 0x10, &v), a + 0x10, 0, "not-present PTE, read: error 0 (SDM 3A 4.7)");
	expect_pf(wr(a + 0x18, 0), a + 0x18, PFEC_W, "not-present PTE, write: error W (SDM 3A 4.7)");
	expect_pf(exc_call_safe(a + RET_OFF), a + RET_OFF, PFEC_I,
		  "not-present PTE, fetch: error I/D (EFER.NXE = 1) (SDM 3A 4.7)");
	expect_pf(rd(TV_NONE + 0x123, &v), TV_NONE + 0x123, 0,
		  "not-present PDPTE, read: error 0, CR2 exact (SDM 3A 4.7)");
	/* Reserved bits are not checked in an entry whose P is 0 (SDM 3A 4.7). */
	*pt_entry(a, 1, false) = pa(frame_a) | (1ull << maxphyaddr) | PTE_W;
	invlpg(va(a));
	expect_pf(rd(a, &v), a, 0, "not-present PTE with a reserved bit set: no RSVD (SDM 3A 4.7)");
}

/* ---- R/W and CR0.WP (SDM 3A 4.6) ---- */

static void test_rw(void)
{
	uint64_t v, a = TV + 0x4000;
	frame_a[0] = PATTERN_A;
	pt_map(a, pa(frame_a), PT_4K, PTE_P);
	expect_no_fault(rd(a, &v), "read-only page: supervisor read (SDM 3A 4.6.1)");
	expect_pf(wr(a, 1), a, PFEC_P | PFEC_W, "read-only page, CR0.WP = 1: supervisor write faults P|W (SDM 3A 4.6.1)");
	tap_eq(frame_a[0], PATTERN_A, "... and writes nothing");
	/* No write happened, so no dirty flag (SDM 3A 4.8: D is set "whenever
	 * there is a write to a linear address"). */
	tap_ok(!(*pt_entry(a, 1, false) & PTE_D), "... and leaves D clear in the PTE (SDM 3A 4.8)");
	write_cr0(read_cr0() & ~CR0_WP);
	expect_no_fault(wr(a, PATTERN_B), "read-only page, CR0.WP = 0: supervisor write allowed (SDM 3A 4.6.1)");
	tap_eq(frame_a[0], PATTERN_B, "... and reaches the frame");
	tap_ok(*pt_entry(a, 1, false) & PTE_D, "... and sets D (SDM 3A 4.8)");
	write_cr0(read_cr0() | CR0_WP);
	expect_pf(wr(a, 1), a, PFEC_P | PFEC_W, "CR0.WP set again: the write faults again (SDM 3A 4.6.1, 4.10.4.1)");

	/* R/W is the AND over all levels (SDM 3A 4.6): W = 0 in the PDE. */
	uint64_t b = TV_2M + (64ull << 21); /* its own page directory entry */
	pt_map(b, pa(frame_b), PT_4K, PTE_P | PTE_W);
	uint64_t *pde = pt_entry(b, 2, false);
	*pde &= ~PTE_W;
	invlpg(va(b));
	expect_pf(wr(b, 1), b, PFEC_P | PFEC_W, "W = 0 in the PDE only: supervisor write faults (SDM 3A 4.6)");
	*pde |= PTE_W;
	invlpg(va(b));
	expect_no_fault(wr(b, 1), "W = 1 again in the PDE: write allowed");
}

/* ---- NX (SDM 3A 4.6, 4.1.1) ---- */

static void put_ret(uint64_t *frame)
{
	((uint8_t *)frame)[RET_OFF] = 0xc3;
}

static void test_nx(void)
{
	uint64_t v, a = TV + 0x5000;
	put_ret(frame_a);
	pt_map(a, pa(frame_a), PT_4K, PTE_P | PTE_W);
	expect_no_fault(exc_call_safe(a + RET_OFF), "NX = 0: instruction fetch allowed (SDM 3A 4.6)");
	pt_map(a, pa(frame_a), PT_4K, PTE_P | PTE_W | PTE_NX);
	expect_no_fault(rd(a, &v), "NX = 1: data read allowed (SDM 3A 4.6)");
	expect_pf(exc_call_safe(a + RET_OFF), a + RET_OFF, PFEC_P | PFEC_I,
		  "NX = 1: fetch faults P|I/D (SDM 3A 4.6, 4.7)");

	uint64_t b = TV_2M + (65ull << 21);
	put_ret(frame_b);
	pt_map(b, pa(frame_b), PT_4K, PTE_P | PTE_W);
	uint64_t *pde = pt_entry(b, 2, false);
	*pde |= PTE_NX;
	invlpg(va(b));
	expect_pf(exc_call_safe(b + RET_OFF), b + RET_OFF, PFEC_P | PFEC_I,
		  "NX = 1 in the PDE only: fetch faults (SDM 3A 4.6)");
	*pde &= ~PTE_NX;
	invlpg(va(b));

	/* Without EFER.NXE, bit 63 is reserved (SDM 3A 4.5, Table 4-20; 4.7). */
	uint64_t efer = rdmsr(MSR_IA32_EFER);
	wrmsr(MSR_IA32_EFER, efer & ~EFER_NXE);
	expect_pf(rd(a, &v), a, PFEC_P | PFEC_RSVD, "EFER.NXE = 0: bit 63 is reserved, read faults P|RSVD (SDM 3A 4.7)");
	/* I/D is set only with SMEP or with PAE and NXE (SDM 3A 4.7). */
	expect_pf(exc_call_safe(a + RET_OFF), a + RET_OFF, PFEC_P | PFEC_RSVD,
		  "EFER.NXE = 0: fetch faults P|RSVD, without I/D (SDM 3A 4.7)");
	wrmsr(MSR_IA32_EFER, efer);
}

/* ---- U/S from CPL 0 (SDM 3A 4.6.1) ---- */

static bool cpuid7_ebx(unsigned bit)
{
	uint32_t r[4];
	cpuid(7, 0, r);
	return (r[1] >> bit) & 1;
}

static void test_supervisor_user_pages(void)
{
	uint64_t v, a = TV + 0x6000;
	put_ret(frame_a);
	pt_map(a, pa(frame_a), PT_4K, PTE_P | PTE_W | PTE_U);
	expect_no_fault(rd(a, &v), "user page: supervisor read, SMAP off (SDM 3A 4.6.1)");
	expect_no_fault(wr(a, 5), "user page: supervisor write, SMAP off (SDM 3A 4.6.1)");
	expect_no_fault(exc_call_safe(a + RET_OFF), "user page: supervisor fetch, SMEP off (SDM 3A 4.6.1)");

	if (cpuid7_ebx(7)) {
		write_cr4(read_cr4() | CR4_SMEP);
		expect_pf(exc_call_safe(a + RET_OFF), a + RET_OFF, PFEC_P | PFEC_I,
			  "CR4.SMEP = 1: supervisor fetch from a user page faults P|I/D (SDM 3A 4.6.1)");
		write_cr4(read_cr4() & ~CR4_SMEP);
	} else {
		tap_skip("CPUID reports no SMEP", "CR4.SMEP (SDM 3A 4.6.1)");
	}
	if (cpuid7_ebx(20)) {
		write_cr4(read_cr4() | CR4_SMAP);
		expect_pf(rd(a, &v), a, PFEC_P, "CR4.SMAP = 1, RFLAGS.AC = 0: supervisor read of a user page faults P (SDM 3A 4.6.1)");
		__asm__ volatile("pushfq; orq $0x40000, (%%rsp); popfq" ::: "memory", "cc");
		int e = rd(a, &v);
		__asm__ volatile("pushfq; andq $~0x40000, (%%rsp); popfq" ::: "memory", "cc");
		expect_no_fault(e, "CR4.SMAP = 1, RFLAGS.AC = 1: supervisor read allowed (SDM 3A 4.6.1)");
		write_cr4(read_cr4() & ~CR4_SMAP);
	} else {
		tap_skip("CPUID reports no SMAP", "CR4.SMAP (SDM 3A 4.6.1)");
	}
}

/* ---- U/S, R/W, NX from CPL 3 (SDM 3A 4.6.1) ---- */

static uint64_t u_read(uint64_t addr)
{
	uint64_t v;
	return (uint64_t)(int64_t)rd(addr, &v);
}

static uint64_t u_write(uint64_t addr)
{
	return (uint64_t)(int64_t)wr(addr, 7);
}

static uint64_t u_exec(uint64_t addr)
{
	return (uint64_t)(int64_t)exc_call_safe(addr);
}

static int user(uint64_t (*fn)(uint64_t), uint64_t addr)
{
	return (int)(int64_t)user_call(fn, addr);
}

static void test_user_mode(void)
{
	uint64_t a = TV + 0x7000, s = TV + 0x8000, r = TV + 0x9000, n = TV + 0xa000, x = TV + 0xb000;
	put_ret(frame_a);
	pt_map(a, pa(frame_a), PT_4K, PTE_P | PTE_W | PTE_U);
	pt_map(s, pa(frame_a), PT_4K, PTE_P | PTE_W);
	pt_map(r, pa(frame_a), PT_4K, PTE_P | PTE_U);
	pt_map(n, pa(frame_a), PT_4K, PTE_U);
	pt_map(x, pa(frame_a), PT_4K, PTE_P | PTE_W | PTE_U | PTE_NX);
	expect_no_fault(user(u_read, a), "CPL 3: read of a user page (SDM 3A 4.6.1)");
	expect_no_fault(user(u_write, a), "CPL 3: write to a writable user page (SDM 3A 4.6.1)");
	expect_no_fault(user(u_exec, a + RET_OFF), "CPL 3: fetch from a user page (SDM 3A 4.6.1)");
	expect_pf(user(u_read, s), s, PFEC_P | PFEC_U, "CPL 3: read of a supervisor page faults P|U (SDM 3A 4.6.1, 4.7)");
	expect_pf(user(u_exec, s + RET_OFF), s + RET_OFF, PFEC_P | PFEC_U | PFEC_I,
		  "CPL 3: fetch from a supervisor page faults P|U|I (SDM 3A 4.6.1, 4.7)");
	expect_pf(user(u_write, r), r, PFEC_P | PFEC_W | PFEC_U,
		  "CPL 3: write to a read-only user page faults P|W|U (SDM 3A 4.6.1)");
	tap_ok(!(*pt_entry(r, 1, false) & PTE_D), "CPL 3: ... and leaves D clear (SDM 3A 4.8)");
	write_cr0(read_cr0() & ~CR0_WP);
	expect_pf(user(u_write, r), r, PFEC_P | PFEC_W | PFEC_U,
		  "CPL 3: ... also with CR0.WP = 0 (SDM 3A 4.6.1)");
	write_cr0(read_cr0() | CR0_WP);
	expect_pf(user(u_read, n), n, PFEC_U, "CPL 3: read of a not-present page faults U (SDM 3A 4.7)");
	expect_pf(user(u_exec, x + RET_OFF), x + RET_OFF, PFEC_P | PFEC_U | PFEC_I,
		  "CPL 3: fetch from an NX user page faults P|U|I (SDM 3A 4.6.1, 4.7)");

	/* U/S is the AND over all levels (SDM 3A 4.6): U = 0 in the PDE. */
	uint64_t b = TV_2M + (66ull << 21);
	pt_map(b, pa(frame_b), PT_4K, PTE_P | PTE_W | PTE_U);
	expect_no_fault(user(u_read, b), "CPL 3: user page under a user PDE");
	*pt_entry(b, 2, false) &= ~PTE_U;
	invlpg(va(b));
	expect_pf(user(u_read, b), b, PFEC_P | PFEC_U, "CPL 3: U = 0 in the PDE only: read faults P|U (SDM 3A 4.6)");
}

/* ---- reserved bits (SDM 3A 4.5 Tables 4-14 to 4-20, 4.7) ---- */

static void test_reserved(void)
{
	uint64_t v, a = TV + 0xc000;
	uint64_t rsvd = 1ull << maxphyaddr; /* above MAXPHYADDR (SDM 3A 4.1.4) */
	put_ret(frame_a);
	pt_map(a, pa(frame_a) | rsvd, PT_4K, PTE_P | PTE_W);
	*pt_entry(a, 1, false) |= rsvd;
	invlpg(va(a));
	expect_pf(rd(a, &v), a, PFEC_P | PFEC_RSVD, "PTE address bit above MAXPHYADDR: read faults P|RSVD (SDM 3A 4.7)");
	expect_pf(wr(a, 1), a, PFEC_P | PFEC_W | PFEC_RSVD, "... write faults P|W|RSVD (SDM 3A 4.7)");
	expect_pf(exc_call_safe(a + RET_OFF), a + RET_OFF, PFEC_P | PFEC_RSVD | PFEC_I,
		  "... fetch faults P|RSVD|I/D (SDM 3A 4.7)");

	uint64_t b = TV_2M + (67ull << 21);
	pt_map(b, pa(frame_b), PT_4K, PTE_P | PTE_W);
	uint64_t *pde = pt_entry(b, 2, false);
	*pde |= rsvd;
	invlpg(va(b));
	expect_pf(rd(b, &v), b, PFEC_P | PFEC_RSVD, "PDE (table) address bit above MAXPHYADDR: P|RSVD (SDM 3A 4.7)");
	*pde &= ~rsvd;

	uint64_t c = TV_2M + (68ull << 21);
	pt_map(c, pa(frame_a), PT_2M, PTE_P | PTE_W);
	pde = pt_entry(c, 2, false);
	*pde |= 1ull << 13;
	invlpg(va(c));
	expect_pf(rd(c, &v), c, PFEC_P | PFEC_RSVD, "2 MiB PDE with bit 13 set: P|RSVD (SDM 3A 4.5, Table 4-18)");

	if (has_1g_pages()) {
		pt_map(TV_1G, 0, PT_1G, PTE_P | PTE_W);
		*pt_entry(TV_1G, 3, false) |= 1ull << 13;
		invlpg(va(TV_1G));
		expect_pf(rd(TV_1G + 0x40, &v), TV_1G + 0x40, PFEC_P | PFEC_RSVD,
			  "1 GiB PDPTE with bit 13 set: P|RSVD (SDM 3A 4.5, Table 4-16)");
		pt_map(TV_1G, 0, PT_1G, PTE_P | PTE_W);
	} else {
		tap_skip("CPUID reports no 1-GByte pages", "1 GiB PDPTE reserved bits (SDM 3A 4.5)");
	}

	uint64_t *pml4e = pt_entry(TV, 4, false);
	*pml4e |= PTE_PS;
	pt_flush_all();
	expect_pf(rd(TV, &v), TV, PFEC_P | PFEC_RSVD, "PS = 1 in a PML4E is reserved: P|RSVD (SDM 3A 4.5, Table 4-15)");
	*pml4e &= ~PTE_PS;
	pt_flush_all();
}

/* ---- accesses that cross a page boundary ---- */

static void test_page_crossing(void)
{
	uint64_t v, a = TV + 0x10000, b = a + 0x1000;
	/* An instruction whose last bytes are on a not-present page: the fetch
	 * faults with CR2 in the second page and RIP at the instruction
	 * (SDM 3A 4.7; 6.15 Interrupt 14, "Saved Instruction Pointer"). */
	uint8_t *fa = (uint8_t *)frame_a;
	fa[4094] = 0xb8; /* mov $imm32, %eax: 5 bytes from 4094 */
	fa[4095] = 0x01;
	pt_map(a, pa(frame_a), PT_4K, PTE_P | PTE_W);
	pt_map(b, pa(frame_b), PT_4K, 0);
	int e = exc_call_safe(a + 4094);
	expect_pf(e, b, PFEC_I, "instruction fetch crossing into a not-present page: CR2 = next page (SDM 3A 4.7)");
	tap_eq(exc_last.rip, a + 4094, "... saved RIP is the instruction's first byte (SDM 3A 6.15 Interrupt 14)");

	/* A write crossing into a read-only page writes neither page. */
	frame_a[511] = PATTERN_A;
	frame_b[0] = PATTERN_B;
	pt_map(b, pa(frame_b), PT_4K, PTE_P);
	e = wr(a + 4092, 0x1111111111111111ull);
	expect_pf(e, b, PFEC_P | PFEC_W, "8-byte write crossing into a read-only page: #PF, CR2 = next page (SDM 3A 4.7)");
	tap_ok(frame_a[511] == PATTERN_A && frame_b[0] == PATTERN_B,
	       "... and neither page was written (SDM 3A 6.5: faults leave state unchanged)");
	/* A read crossing into a present page works. */
	e = rd(a + 4092, &v);
	tap_ok(e < 0 && v == ((PATTERN_A >> 32) | (PATTERN_B << 32)), "8-byte read crossing two pages (SDM 3A 4.5)");
}

/* ---- TLB (SDM 3A 4.10) ---- */

static void test_tlb(void)
{
	/* A processor may keep using a cached translation after the paging
	 * entry changed, until it is invalidated (SDM 3A 4.10.4), and it is
	 * also free to drop any cached entry at any time (4.10.4.1). The
	 * "still used" results check tortuga's TLB, which keeps entries until
	 * an invalidation; each reads right after the change and reports
	 * afterwards, so that no exit of its own (serial output) comes in
	 * between. A CPU without a TLB, or a hypervisor that flushes it at
	 * every exit, passes the SDM but not these results. */
	uint64_t v = 0, fresh = 0, a = TV + 0xd000;
	frame_a[0] = PATTERN_A;
	frame_b[0] = PATTERN_B;
	pt_map(a, pa(frame_a), PT_4K, PTE_P | PTE_W);
	rd(a, &v);
	uint64_t *pte = pt_entry(a, 1, false);
	*pte = (*pte & ~PT_ADDR_MASK) | pa(frame_b);
	rd(a, &v);
	tap_eq(v, PATTERN_A, "PTE changed without invalidation: the cached translation is used (tortuga's TLB; SDM 3A 4.10.4)");
	invlpg(va(a));
	rd(a, &fresh);
	*pte = (*pte & ~PT_ADDR_MASK) | pa(frame_a);
	rd(a, &v);
	tap_eq(fresh, PATTERN_B, "INVLPG: the new translation is used (SDM 3A 4.10.4.1)");
	tap_eq(v, PATTERN_B, "PTE changed back: the cached translation is used (tortuga's TLB; SDM 3A 4.10.4)");
	write_cr3(read_cr3());
	rd(a, &fresh);
	*pte &= ~PTE_P;
	int e = rd(a, &v);
	tap_eq(fresh, PATTERN_A, "MOV to CR3: the new translation is used (SDM 3A 4.10.4.1)");
	expect_no_fault(e, "PTE made not present without invalidation: the cached translation is used (tortuga's TLB; SDM 3A 4.10.4)");
	invlpg(va(a));
	expect_pf(rd(a, &v), a, 0, "INVLPG: then the access faults (SDM 3A 4.10.4.1)");

	/* A page fault invalidates the TLB entries for its page number
	 * (SDM 3A 4.10.4.1): a read cached the page, the write walks and
	 * faults, then the read must fault too. */
	uint64_t b = TV + 0xe000;
	pt_map(b, pa(frame_b), PT_4K, PTE_P | PTE_W);
	rd(b, &v);
	pte = pt_entry(b, 1, false);
	*pte &= ~PTE_P;
	expect_pf(wr(b, 1), b, PFEC_W, "write to a page made not present after a read cached it: faults (SDM 3A 4.10.4.1)");
	expect_pf(rd(b, &v), b, 0, "the page fault invalidated the cached translation: the read faults (SDM 3A 4.10.4.1)");

	/* INVLPG of any address in a 2 MiB page invalidates all TLB entries for
	 * that page, also if the TLB holds it as 4 KiB pieces (SDM 3A 4.10.2.3). */
	uint64_t c = TV_2M + (69ull << 21);
	uint64_t base_a = pa(frame_a) & ~((1ull << 21) - 1), off = pa(frame_a) - base_a;
	uint64_t base_b = base_a ? 0 : (2ull << 20); /* another 2 MiB of RAM */
	pt_map(c, base_a, PT_2M, PTE_P | PTE_W);
	uint64_t first;
	rd(c + 0x1000, &first);
	rd(c + off, &v);
	uint64_t *pde = pt_entry(c, 2, false);
	*pde = (*pde & ~PT_ADDR_MASK) | base_b;
	invlpg(va(c + 0x1000));
	rd(c + off, &v);
	tap_eq(v, *(uint64_t *)va(base_b + off),
	       "INVLPG of one 4 KiB part of a 2 MiB page invalidates the whole page (SDM 3A 4.10.2.3, 4.10.4.1)");

	/* MOV to CR4 that changes PGE invalidates all TLB entries, global ones
	 * included (SDM 3A 4.10.4.1). */
	uint64_t d = TV + 0xf000;
	uint64_t cr4 = read_cr4();
	write_cr4(cr4 | CR4_PGE);
	pt_map(d, pa(frame_a), PT_4K, PTE_P | PTE_W | PTE_G);
	rd(d, &v);
	pte = pt_entry(d, 1, false);
	*pte = (*pte & ~PT_ADDR_MASK) | pa(frame_b);
	write_cr4(cr4 & ~CR4_PGE);
	rd(d, &v);
	tap_eq(v, PATTERN_B, "MOV to CR4 clearing PGE: global translations are invalidated (SDM 3A 4.10.4.1)");
	write_cr4(cr4);
}

int main(const struct tortuga_bootinfo *bi)
{
	(void)bi;
	exc_init();
	uint32_t r[4];
	cpuid(0x80000008, 0, r);
	maxphyaddr = r[0] & 0xff; /* CPUID.80000008H:EAX[7:0] (SDM 3A 4.1.4) */
	frame_a = pt_alloc_page();
	frame_b = pt_alloc_page();
	tap_ok(maxphyaddr >= 36 && maxphyaddr < 52, "MAXPHYADDR %lu is in 36..51 (SDM 3A 4.1.4)", maxphyaddr);
	test_sizes();
	test_accessed_dirty();
	test_not_present();
	test_rw();
	test_nx();
	test_supervisor_user_pages();
	test_user_mode();
	test_reserved();
	test_page_crossing();
	test_tlb();
	return tap_done();
}
