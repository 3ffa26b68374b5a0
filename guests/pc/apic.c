/*
 * apic: the interrupt controllers and timers of the PC platform, from
 * inside the guest (64-bit mode):
 *  - local APIC in xAPIC mode: version, self IPIs, priorities (TPR, PPR,
 *    nesting by ISR), EOI, NMI by IPI (SDM Vol. 3A 11.5-11.8);
 *  - the APIC timer in one-shot, periodic and TSC-deadline mode (11.5.4);
 *  - x2APIC mode: the MSRs and their #GP rules (11.12.1), IA32_APIC_BASE
 *    transitions, disable and re-enable (11.4.3, 11.12.5);
 *  - the 8254 PIT (counters, read-back, OUT2 on port 0x61) and IRQ 0 through
 *    the I/O APIC and through the 8259 (ExtINT on LINT0).
 */
#include <pc/apic.h>
#include <pc/trap.h>

static volatile unsigned hits[256];
static volatile uint64_t hit_tsc[256];
static volatile unsigned order[16], norder;
static volatile int use_x2apic;

static void eoi(void)
{
	if (use_x2apic)
		pc_wrmsr(MSR_X2APIC(APIC_EOI), 0);
	else
		apic_eoi();
}

static void on_irq(struct trap_frame *f)
{
	unsigned v = (unsigned)f->vector;
	hits[v]++;
	hit_tsc[v] = pc_rdtsc();
	if (norder < 16)
		order[norder++] = v;
	eoi();
}

/* Vector 0x50's handler sends itself 0x60 (a higher class: it nests) and
 * 0x30 (a lower class: it waits for this handler's EOI). */
static void on_nest_noeoi(struct trap_frame *f)
{
	unsigned v = (unsigned)f->vector;
	hits[v]++;
	if (norder < 16)
		order[norder++] = v;
	apic_ipi(0, ICR_SELF | 0x60);
	apic_ipi(0, ICR_SELF | 0x30);
	__asm__ volatile("sti; nop; nop; cli");
	eoi();
}

static void on_nmi(struct trap_frame *f)
{
	(void)f;
	hits[2]++;
}

/* An NMI handler that sends itself another NMI: it is held until IRET
 * ends NMI blocking (SDM Vol. 3A 6.7.1). */
static volatile unsigned nmi_seen_inside;

static void on_nmi_twice(struct trap_frame *f)
{
	(void)f;
	if (hits[2]++ == 0) {
		apic_ipi(0, ICR_SELF | ICR_NMI);
		for (int k = 0; k < 100; k++)
			__asm__ volatile("nop");
		nmi_seen_inside = hits[2];
	}
}

static void wait_for(unsigned vec, unsigned n)
{
	for (unsigned spin = 0; hits[vec] < n && spin < 1000000; spin++)
		__asm__ volatile("sti; hlt; cli");
}

static void test_xapic_basics(void)
{
	uint32_t r[4];
	pc_cpuid(1, 0, r);
	pc_check(r[3] & (1u << 9), "CPUID.1:EDX.APIC");
	pc_check_eq(pc_rdmsr(MSR_APIC_BASE) & 0xfffff900ull, APIC_BASE | 0x900, "IA32_APIC_BASE: 0xfee00000, EN, BSP");
	pc_check_eq(apic_read(APIC_VERSION), 0x00050014, "version 0x14, 6 LVT entries");
	pc_check_eq(apic_read(APIC_ID) >> 24, 0, "the BSP's APIC ID is 0");
	pc_check_eq(apic_read(APIC_SVR) & 0x1ff, 0x1ff, "firmware left the APIC software-enabled");
	pc_check_eq(apic_read(APIC_LVT_LINT0) & 0x10700, 0x700, "LINT0 in ExtINT mode (virtual wire)");

	/* A self IPI (fixed). */
	trap_set_handler(0x41, on_irq);
	apic_ipi(0, ICR_SELF | 0x41);
	pc_check_eq(apic_read(APIC_IRR + 0x20) & 2, 2, "self IPI: pending in IRR while IF = 0");
	__asm__ volatile("sti; nop; cli");
	pc_check_eq(hits[0x41], 1, "self IPI delivered after STI");
	pc_check_eq(apic_read(APIC_ISR + 0x20) & 2, 0, "EOI cleared the ISR bit");

	/* TPR masks classes at or below it. */
	trap_set_handler(0x45, on_irq);
	apic_write(APIC_TPR, 0x50);
	apic_ipi(0, ICR_SELF | 0x45);
	__asm__ volatile("sti; nop; nop; cli");
	pc_check_eq(hits[0x45], 0, "TPR 0x50 holds vector 0x45");
	pc_check_eq(apic_read(APIC_PPR), 0x50, "PPR = TPR");
	/* Lowering CR8 (TPR[7:4]) lets it through (a TPR-below-threshold exit
	 * on VT-x). */
	__asm__ volatile("mov %0, %%cr8; sti; nop; cli" : : "r"(3ul));
	pc_check_eq(hits[0x45], 1, "CR8 = 3 unmasks it");
	pc_check_eq(apic_read(APIC_TPR), 0x30, "CR8 is TPR[7:4]");
	__asm__ volatile("mov %0, %%cr8" : : "r"(0ul));

	/* Nesting: 0x60 preempts the 0x50 handler, 0x30 waits for its EOI. */
	norder = 0;
	trap_set_handler(0x50, on_nest_noeoi);
	trap_set_handler(0x60, on_irq);
	trap_set_handler(0x30, on_irq);
	apic_ipi(0, ICR_SELF | 0x50);
	__asm__ volatile("sti; nop; nop; nop; cli");
	pc_check(norder == 3 && order[0] == 0x50 && order[1] == 0x60 && order[2] == 0x30,
		 "priority: 0x60 nests in the 0x50 handler, 0x30 after its EOI (%u: %x %x %x)", norder, order[0],
		 order[1], order[2]);

	/* An illegal vector (< 16) is not sent; ESR records it. */
	apic_write(APIC_ESR, 0);
	apic_ipi(0, ICR_SELF | 0x05);
	apic_write(APIC_ESR, 0);
	pc_check(apic_read(APIC_ESR) & (1u << 5), "ESR: send illegal vector (0x%x)", apic_read(APIC_ESR));

	/* NMI by IPI: vector 2 whatever IF is. */
	trap_set_handler(2, on_nmi);
	apic_ipi(0, ICR_SELF | ICR_NMI);
	__asm__ volatile("nop");
	pc_check_eq(hits[2], 1, "NMI IPI delivered with IF = 0");
	hits[2] = 0;
	trap_set_handler(2, on_nmi_twice);
	apic_ipi(0, ICR_SELF | ICR_NMI);
	__asm__ volatile("nop; nop");
	pc_check(nmi_seen_inside == 1 && hits[2] == 2, "an NMI during the NMI handler waits for its IRET (%u, %u)",
		 nmi_seen_inside, hits[2]);
}

/* TSC ticks in `ms` milliseconds, at the rate CPUID 15H reports (1 GHz if
 * it reports none). */
static uint64_t tsc_ms(unsigned ms)
{
	uint64_t hz = pc_tsc_hz() ? pc_tsc_hz() : 1000000000ull;
	return hz / 1000 * ms;
}

static void test_timer(void)
{
	trap_set_handler(0x40, on_irq);
	apic_write(APIC_TDCR, 0xb); /* divide by 1 */
	/* One-shot, 10 ms at the TSC rate (the APIC timer counts at the core
	 * crystal clock, which CPUID 15H reports at the TSC's rate): long
	 * enough to read the count back where exits are slow (KVM inside
	 * QEMU TCG: up to milliseconds). */
	uint32_t count = (uint32_t)tsc_ms(10);
	apic_write(APIC_LVT_TIMER, 0x40);
	uint64_t t0 = pc_rdtsc();
	apic_write(APIC_TMICT, count);
	uint32_t c1 = apic_read(APIC_TMCCT);
	uint64_t dt = pc_rdtsc() - t0;
	/* The count reaches 0 only once `count` ticks have passed (SDM 3A
	 * 11.5.4): where the read itself took that long (a host that
	 * preempted the vCPU), 0 is the right answer. */
	pc_check((c1 > 0 && c1 <= count) || (c1 == 0 && dt >= count), "current count counts down (%u of %u)", c1,
		 count);
	wait_for(0x40, 1);
	pc_check_eq(hits[0x40], 1, "one-shot timer interrupt");
	pc_check(hit_tsc[0x40] - t0 >= count, "  not before %u ticks (%llu)", count,
		 (unsigned long long)(hit_tsc[0x40] - t0));
	pc_check_eq(apic_read(APIC_TMCCT), 0, "  current count stays 0");

	/* Divide by 16: a count of 10000 is 160000 TSC ticks. */
	apic_write(APIC_TDCR, 0x3);
	t0 = pc_rdtsc();
	apic_write(APIC_TMICT, 10000);
	wait_for(0x40, 2);
	pc_check(hit_tsc[0x40] - t0 >= 160000, "divide by 16 (%llu)", (unsigned long long)(hit_tsc[0x40] - t0));

	/* Periodic, every 2 ms: longer than an interrupt's round trip through
	 * the handler and its EOI, even where exits are slow (else the next
	 * interrupt would always be pending when the handler returns). */
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVT_TIMER, 0x40 | (1u << 17));
	uint32_t period = (uint32_t)tsc_ms(2);
	t0 = pc_rdtsc();
	apic_write(APIC_TMICT, period);
	wait_for(0x40, 7);
	uint64_t t1 = pc_rdtsc();
	apic_write(APIC_TMICT, 0);
	pc_check(hits[0x40] >= 7, "periodic timer: 5 more interrupts");
	pc_check(t1 - t0 >= 5ull * period, "  spaced by the period (%llu)", (unsigned long long)(t1 - t0));

	/* Masked: the count runs, no interrupt. */
	unsigned before = hits[0x40];
	apic_write(APIC_LVT_TIMER, 0x40 | (1u << 16));
	apic_write(APIC_TMICT, 1000);
	for (int k = 0; k < 3000; k++)
		__asm__ volatile("nop");
	__asm__ volatile("sti; nop; cli");
	pc_check_eq(hits[0x40], before, "masked LVT timer: no interrupt");

	/* TSC-deadline mode. */
	uint32_t r[4];
	pc_cpuid(1, 0, r);
	if (r[2] & (1u << 24)) {
		apic_write(APIC_LVT_TIMER, 0x40 | (2u << 17));
		uint64_t dl = pc_rdtsc() + tsc_ms(10);
		pc_wrmsr(MSR_TSC_DEADLINE, dl);
		/* It reads back until the deadline passes, then 0 (SDM 3A
		 * 11.5.4.1): accept 0 where the read came that late. */
		uint64_t rd = pc_rdmsr(MSR_TSC_DEADLINE);
		pc_check(rd == dl || (rd == 0 && pc_rdtsc() >= dl), "IA32_TSC_DEADLINE reads back while armed (0x%llx)",
			 (unsigned long long)rd);
		before = hits[0x40];
		wait_for(0x40, before + 1);
		pc_check_eq(hits[0x40], before + 1, "TSC-deadline interrupt");
		pc_check(hit_tsc[0x40] >= dl, "  at or after the deadline");
		pc_check_eq(pc_rdmsr(MSR_TSC_DEADLINE), 0, "  the MSR reads 0 after it fired");
		apic_write(APIC_TMICT, 12345);
		pc_check_eq(apic_read(APIC_TMICT), 0, "TMICT writes are ignored in TSC-deadline mode");
		/* Back to one-shot: the deadline MSR reads 0. */
		apic_write(APIC_LVT_TIMER, 0x40);
		pc_check_eq(pc_rdmsr(MSR_TSC_DEADLINE), 0, "IA32_TSC_DEADLINE reads 0 outside its mode");
	} else {
		pc_skip(6, "no TSC-deadline mode in CPUID"); /* the results above */
	}
	apic_write(APIC_LVT_TIMER, 0x10040);
}

/* ---- x2APIC ---- */

static void expect_gp(const char *what, unsigned n0)
{
	pc_check(trap_count() - n0 == 1 && trap_last.vector == 13 && trap_last.error == 0, "%s", what);
}

#define TRY_RDMSR(msr)                                                                            \
	do {                                                                                      \
		uint32_t lo_, hi_;                                                                \
		__asm__ volatile("1: rdmsr\n2:\n" EX_TRY("1b", "2b")                              \
				 : "=a"(lo_), "=d"(hi_)                                           \
				 : "c"(msr)                                                       \
				 : "memory");                                                     \
	} while (0)
#define TRY_WRMSR(msr, v)                                                                         \
	__asm__ volatile("1: wrmsr\n2:\n" EX_TRY("1b", "2b")                                      \
			 :                                                                        \
			 : "c"(msr), "a"((uint32_t)(v)), "d"((uint32_t)((uint64_t)(v) >> 32))     \
			 : "memory")

static void test_x2apic(void)
{
	uint32_t r[4];
	pc_cpuid(1, 0, r);
	if (!(r[2] & (1u << 21))) {
		pc_skip(35, "no x2APIC in CPUID"); /* the results below */
		return;
	}
	unsigned n0 = trap_count();
	TRY_RDMSR(MSR_X2APIC(APIC_ID));
	expect_gp("#GP: x2APIC MSR read in xAPIC mode", n0);

	uint64_t base = pc_rdmsr(MSR_APIC_BASE);
	pc_wrmsr(MSR_APIC_BASE, base | (1u << 10));
	use_x2apic = 1;
	pc_check_eq(pc_rdmsr(MSR_X2APIC(APIC_ID)), 0, "x2APIC ID (MSR 0x802)");
	pc_check_eq(pc_rdmsr(MSR_X2APIC(APIC_VERSION)), 0x00050014, "version (MSR 0x803)");
	pc_check_eq(pc_rdmsr(MSR_X2APIC(APIC_LDR)), 1, "LDR = cluster 0, bit 0 (MSR 0x80d)");

	static const struct {
		uint32_t msr;
		int write;
		uint64_t val;
		const char *what;
	} gp[] = {
		{ 0x80b, 0, 0, "#GP: read of the write-only EOI register" },
		{ 0x83f, 0, 0, "#GP: read of the write-only SELF IPI register" },
		{ 0x80b, 1, 1, "#GP: non-zero write to EOI" },
		{ 0x828, 1, 1, "#GP: non-zero write to ESR" },
		{ 0x802, 1, 5, "#GP: write to the read-only ID" },
		{ 0x80d, 1, 1, "#GP: write to the read-only LDR" },
		{ 0x80a, 1, 0, "#GP: write to the read-only PPR" },
		{ 0x839, 1, 0, "#GP: write to the read-only current count" },
		{ 0x80e, 0, 0, "#GP: DFR does not exist in x2APIC mode (0x80e)" },
		{ 0x831, 0, 0, "#GP: there is no ICR high (0x831)" },
		{ 0x809, 0, 0, "#GP: no APR in x2APIC mode (0x809)" },
		{ 0x804, 0, 0, "#GP: reserved MSR 0x804" },
		{ 0x840, 0, 0, "#GP: reserved MSR 0x840" },
		{ 0x808, 1, 0x100, "#GP: TPR bit 8 is reserved" },
		{ 0x808, 1, 1ull << 32, "#GP: bits 63:32 of TPR are reserved" },
		{ 0x83f, 1, 0x141, "#GP: SELF IPI bits 31:8 are reserved" },
		{ 0x830, 1, (1ull << 13) | 0x41, "#GP: ICR bit 13 is reserved" },
		{ 0x832, 1, 0x40 | (1ull << 20), "#GP: LVT timer bit 20 is reserved" },
		{ 0x83e, 1, 4, "#GP: divide configuration bit 2 is reserved" },
	};
	for (unsigned k = 0; k < sizeof(gp) / sizeof(gp[0]); k++) {
		unsigned n = trap_count();
		if (gp[k].write)
			TRY_WRMSR(gp[k].msr, gp[k].val);
		else
			TRY_RDMSR(gp[k].msr);
		expect_gp(gp[k].what, n);
	}

	/* x2APIC IPIs: SELF IPI MSR and ICR. */
	trap_set_handler(0x42, on_irq);
	pc_wrmsr(0x83f, 0x42);
	__asm__ volatile("sti; nop; cli");
	pc_check_eq(hits[0x42], 1, "SELF IPI register (0x83f)");
	pc_wrmsr(0x830, ICR_SELF | 0x42);
	__asm__ volatile("sti; nop; cli");
	pc_check_eq(hits[0x42], 2, "ICR (0x830) self IPI");
	pc_wrmsr(0x830, (0ull << 32) | 0x42);
	__asm__ volatile("sti; nop; cli");
	pc_check_eq(hits[0x42], 3, "ICR physical destination 0 (32-bit destination field)");
	pc_wrmsr(0x830, (1ull << 32) | ICR_LOGICAL | 0x42);
	__asm__ volatile("sti; nop; cli");
	pc_check_eq(hits[0x42], 4, "ICR logical destination cluster 0 bit 0");

	/* Transitions (11.12.5): x2APIC -> xAPIC and EN=0 with EXTD=1 are
	 * invalid; x2APIC -> disabled -> xAPIC is the way back. */
	unsigned n = trap_count();
	TRY_WRMSR(MSR_APIC_BASE, (base & ~(1ull << 10)) | (1u << 11));
	expect_gp("#GP: x2APIC -> xAPIC directly", n);
	n = trap_count();
	TRY_WRMSR(MSR_APIC_BASE, (base & ~(1ull << 11)) | (1u << 10));
	expect_gp("#GP: EN = 0 with EXTD = 1", n);
	pc_wrmsr(MSR_APIC_BASE, base & ~((1ull << 11) | (1ull << 10)));
	use_x2apic = 0;
	pc_cpuid(1, 0, r);
	pc_check(!(r[3] & (1u << 9)), "disabled: CPUID.1:EDX.APIC reads 0");
	n = trap_count();
	TRY_WRMSR(MSR_APIC_BASE, base | (1u << 10));
	expect_gp("#GP: disabled -> x2APIC directly", n);
	pc_wrmsr(MSR_APIC_BASE, base);
	pc_cpuid(1, 0, r);
	pc_check(r[3] & (1u << 9), "re-enabled in xAPIC mode: CPUID.1:EDX.APIC");
	pc_check_eq(apic_read(APIC_SVR) & 0x1ff, 0xff, "  the APIC came back in its reset state (SVR 0xff)");
	pc_check_eq(apic_read(APIC_LVT_TIMER), 0x10000, "  LVT entries masked");
	apic_write(APIC_SVR, 0x1ff);
	n = trap_count();
	TRY_WRMSR(MSR_APIC_BASE, base | 0x80);
	expect_gp("#GP: reserved IA32_APIC_BASE bit 7", n);
}

/* ---- 8254, I/O APIC, 8259 ---- */

static uint16_t pit_read_count(unsigned ch)
{
	outb(0x43, (uint8_t)(ch << 6)); /* counter latch */
	uint8_t lo = inb((uint16_t)(0x40 + ch));
	uint8_t hi = inb((uint16_t)(0x40 + ch));
	return (uint16_t)(lo | (hi << 8));
}

/* 23864 clocks of 1.193182 MHz are 20 ms. */
#define PIT_COUNT 23864
#define PIT_MS 20

static void test_pit(void)
{
	/* Counter 2, mode 0, gated by port 0x61 bit 0: OUT2 (bit 5) rises
	 * after PIT_COUNT clocks. Nothing is printed until OUT2 rose, so that
	 * slow exits (KVM inside QEMU TCG) do not stretch the time measured. */
	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
	outb(0x43, 0xb0); /* counter 2, LSB then MSB, mode 0, binary */
	outb(0x42, PIT_COUNT & 0xff);
	outb(0x42, PIT_COUNT >> 8);
	uint64_t t0 = pc_rdtsc();
	int low = !(inb(0x61) & 0x20);
	uint16_t c1 = pit_read_count(2), c2 = pit_read_count(2);
	outb(0x43, 0xe8); /* read-back: status of counter 2 */
	uint8_t st = inb(0x42);
	unsigned spins = 0;
	while (!(inb(0x61) & 0x20) && spins < 100000000)
		spins++;
	uint64_t dt = pc_rdtsc() - t0;
	pc_check(low, "mode 0: OUT2 low while counting");
	pc_check(c1 <= PIT_COUNT && c2 <= c1, "counter latch: the count decreases (%u, %u)", c1, c2);
	pc_check_eq(st & 0x3f, 0x30, "read-back status: LSB/MSB, mode 0, binary");
	/* PIT_MS in TSC ticks at the rate CPUID 15H reports (1 GHz if it
	 * reports none); at most twice that. */
	uint64_t want = tsc_ms(PIT_MS);
	pc_check(dt >= want - want / 100 && dt < 2 * want,
		 "OUT2 rises after %u ms of TSC time (%llu ticks, %llu expected)", PIT_MS, (unsigned long long)dt,
		 (unsigned long long)want);
	pc_check(inb(0x61) & 0x20, "  and stays high");
	outb(0x61, inb(0x61) & ~0x01);
}

static void test_ioapic_pit(void)
{
	pc_check_eq(ioapic_read(1), 0x00170011, "I/O APIC version 0x11, 24 entries");
	pc_check_eq(ioapic_read(0x10 + 2 * 2) & (1u << 16), 1u << 16, "redirection entries start masked");
	trap_set_handler(0x48, on_irq);
	/* IRQ 0 is wired to pin 2; edge, active high, fixed, to APIC ID 0. */
	ioapic_route(2, 0x48);
	pc_check_eq(ioapic_read(0x10 + 2 * 2), 0x48, "redirection entry reads back");
	/* Counter 0, mode 2: 2386 clocks = 2 ms periods (longer than an
	 * interrupt's round trip where exits are slow). */
	outb(0x43, 0x34);
	outb(0x40, 2386 & 0xff);
	outb(0x40, 2386 >> 8);
	wait_for(0x48, 5);
	pc_check(hits[0x48] >= 5, "PIT mode 2 through the I/O APIC: %u interrupts", hits[0x48]);
	ioapic_route(2, 0x48 | (1ull << 16));

	/* The same through the 8259 (LINT0 ExtINT): remap to 0x20, unmask IRQ 0.
	 * (The x2APIC test reset the local APIC: program LINT0 again.) */
	apic_write(APIC_LVT_LINT0, 0x700);
	trap_set_handler(0x20, on_irq);
	pic_remap(0x20, 0xfe, 0xff);
	unsigned spins = 0;
	while (hits[0x20] < 3 && spins++ < 1000000) {
		__asm__ volatile("sti; hlt; cli");
		if (hits[0x20])
			outb(0x20, 0x20); /* non-specific EOI */
	}
	pc_check(hits[0x20] >= 3, "PIT through the 8259 and LINT0: %u interrupts", hits[0x20]);
	outb(0x21, 0xff);
	outb(0x43, 0x30); /* counter 0 to mode 0, stop reloading */
	outb(0x40, 0);
	outb(0x40, 0);
	/* The 8259's IRR/ISR through OCW3. */
	outb(0x20, 0x0b);
	pc_check_eq(inb(0x20), 0, "8259 ISR empty after the EOIs");
}

int pc_main(const struct mb_info *mbi)
{
	(void)mbi;
	trap_init(0x08);
	test_xapic_basics();
	test_timer();
	test_x2apic();
	test_pit();
	test_ioapic_pit();
	return pc_done();
}
