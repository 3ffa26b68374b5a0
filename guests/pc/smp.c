/*
 * smp: bring up the application processors the way an OS does (SDM Vol. 3A
 * 9.4 "Multiple-Processor (MP) Initialization": INIT, then two SIPIs) and
 * exercise inter-processor interrupts (11.6): fixed IPIs to physical and
 * logical destinations (flat and x2APIC cluster), the all / all-but-self
 * shorthands, NMI, lowest priority, an AP interrupting the BSP, and INIT
 * plus SIPI to restart one AP. The number of CPUs comes from fw_cfg.
 */
#include <pc/apic.h>
#include <pc/fwcfg.h>
#include <pc/trap.h>

#define AP_TRAMPOLINE 0x8000
#define MAXCPU 64

extern const uint8_t ap_tramp_start[], ap_tramp_end[];
extern uint8_t ap_gdt_ptr[];
extern volatile uint32_t ap_started;
extern const uint64_t pc_gdt64[];

static unsigned ncpus;
static volatile unsigned checked_in[MAXCPU];
static volatile unsigned hits[MAXCPU][256];
static volatile int x2[MAXCPU];
static volatile uint8_t ap_tpr[MAXCPU];

static inline int x2apic_on(void)
{
	return (pc_rdmsr(MSR_APIC_BASE) >> 10) & 1;
}

static unsigned my_id(void)
{
	if (x2apic_on())
		return (unsigned)pc_rdmsr(MSR_X2APIC(APIC_ID));
	return apic_read(APIC_ID) >> 24;
}

static void eoi(void)
{
	if (x2apic_on())
		pc_wrmsr(MSR_X2APIC(APIC_EOI), 0);
	else
		apic_eoi();
}

/* Send an IPI from this CPU: xAPIC (8-bit destination) or x2APIC (32-bit). */
static void ipi(uint32_t dest, uint32_t lo)
{
	if (x2apic_on())
		pc_wrmsr(MSR_X2APIC(APIC_ICR_LO), ((uint64_t)dest << 32) | lo);
	else
		apic_ipi((uint8_t)dest, lo);
}

static void count(struct trap_frame *f)
{
	hits[my_id()][f->vector & 0xff]++;
	eoi();
}

static void on_nmi(struct trap_frame *f)
{
	(void)f;
	hits[my_id()][2]++;
}

/* 0x55 on an AP: interrupt the BSP with 0x54. */
static void poke_bsp(struct trap_frame *f)
{
	count(f);
	ipi(0, ICR_FIXED | 0x54);
}

/* 0x56 on an AP: set its TPR from ap_tpr[]. The BSP waits for the count,
 * so the count comes last (the CPUs run concurrently on KVM). */
static void set_tpr(struct trap_frame *f)
{
	unsigned id = my_id();
	if (x2apic_on())
		pc_wrmsr(MSR_X2APIC(APIC_TPR), ap_tpr[id]);
	else
		apic_write(APIC_TPR, ap_tpr[id]);
	count(f);
}

/* 0x58 on an AP: switch to x2APIC mode (then count, as above; EOI goes
 * through the x2APIC MSR). */
static void go_x2apic(struct trap_frame *f)
{
	pc_wrmsr(MSR_APIC_BASE, pc_rdmsr(MSR_APIC_BASE) | (1u << 10));
	x2[my_id()] = 1;
	count(f);
}

/* 0x5a on an AP: stop taking interrupts for good. */
static void park(struct trap_frame *f)
{
	count(f);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void ap_main(unsigned ordinal);

void ap_main(unsigned ordinal)
{
	(void)ordinal;
	pc_lidt(trap_idt(), 256 * 16 - 1);
	apic_write(APIC_SVR, 0x1ff);
	unsigned id = apic_read(APIC_ID) >> 24;
	apic_write(APIC_DFR, 0xffffffffu);
	apic_write(APIC_LDR, (1u << id) << 24);
	apic_write(APIC_TPR, 0);
	x2[id] = 0;
	checked_in[id]++;
	for (;;)
		__asm__ volatile("sti; hlt; cli");
}

/* Wait (bounded) until *p >= want. */
static int wait_ge(volatile unsigned *p, unsigned want)
{
	for (unsigned spin = 0; spin < 2000000; spin++) {
		if (*p >= want)
			return 1;
		__asm__ volatile("sti; pause; cli");
	}
	return *p >= want;
}

/* Let `ticks` TSC ticks pass (the APIC timer and HLT, so idle time is
 * cheap to model). */
static void delay(uint64_t ticks)
{
	uint64_t end = pc_rdtsc() + ticks;
	while (pc_rdtsc() < end) {
		apic_write(APIC_LVT_TIMER, 0x4f);
		apic_write(APIC_TMICT, (uint32_t)(end - pc_rdtsc() > 0xffffffffu ? 0xffffffffu : end - pc_rdtsc()));
		__asm__ volatile("sti; hlt; cli");
	}
	apic_write(APIC_LVT_TIMER, 0x1004f);
}

static void bring_up(void)
{
	memcpy((void *)AP_TRAMPOLINE, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
	uint8_t *ptr = (uint8_t *)AP_TRAMPOLINE + (ap_gdt_ptr - ap_tramp_start);
	*(uint16_t *)ptr = 4 * 8 - 1;
	*(uint32_t *)(ptr + 2) = (uint32_t)(uintptr_t)pc_gdt64;
	/* INIT, 10 ms, SIPI, 200 us, SIPI (9.4.4.1). */
	apic_ipi(0, ICR_OTHERS | ICR_INIT | ICR_LEVEL_ASSERT);
	delay(10000000);
	apic_ipi(0, ICR_OTHERS | ICR_SIPI | (AP_TRAMPOLINE >> 12));
	delay(200000);
	apic_ipi(0, ICR_OTHERS | ICR_SIPI | (AP_TRAMPOLINE >> 12));
	wait_ge(&ap_started, ncpus - 1);
	pc_check_eq(ap_started, ncpus - 1, "every AP ran the trampoline once (two SIPIs, one start)");
	/* An AP counts itself in ap_started before ap_main() checks in: on
	 * KVM the APs run concurrently with the BSP, so wait for each. */
	unsigned in = 0;
	for (unsigned i = 1; i < ncpus; i++) {
		wait_ge(&checked_in[i], 1);
		in += checked_in[i] == 1;
	}
	pc_check_eq(in, ncpus - 1, "APIC IDs 1..N-1 checked in from 64-bit mode");
}

static unsigned sum(unsigned vec, unsigned from)
{
	unsigned n = 0;
	for (unsigned i = from; i < ncpus; i++)
		n += hits[i][vec];
	return n;
}

static void test_ipis(void)
{
	for (unsigned v = 0x50; v <= 0x5a; v++)
		trap_set_handler(v, count);
	trap_set_handler(0x55, poke_bsp);
	trap_set_handler(0x56, set_tpr);
	trap_set_handler(0x58, go_x2apic);
	trap_set_handler(0x5a, park);
	trap_set_handler(2, on_nmi);

	/* Fixed IPI to each AP by physical APIC ID. */
	for (unsigned i = 1; i < ncpus; i++) {
		apic_ipi((uint8_t)i, ICR_FIXED | 0x50);
		wait_ge(&hits[i][0x50], 1);
	}
	pc_check_eq(sum(0x50, 1), ncpus - 1, "physical destination: each AP got its IPI");
	pc_check_eq(hits[0][0x50], 0, "  and the BSP none");

	/* Logical, flat model: APs 1 and 2 (LDR bits 1 and 2). */
	if (ncpus >= 3) {
		apic_ipi(0x06, ICR_FIXED | ICR_LOGICAL | 0x51);
		wait_ge(&hits[1][0x51], 1);
		wait_ge(&hits[2][0x51], 1);
		pc_check(hits[1][0x51] == 1 && hits[2][0x51] == 1 && sum(0x51, 3) == 0,
			 "logical destination 0x06 (flat): APs 1 and 2 only");
	}

	/* Shorthands. */
	apic_ipi(0, ICR_OTHERS | 0x52);
	for (unsigned i = 1; i < ncpus; i++)
		wait_ge(&hits[i][0x52], 1);
	pc_check(sum(0x52, 1) == ncpus - 1 && hits[0][0x52] == 0, "all-but-self: every AP, not the BSP");
	apic_ipi(0, ICR_ALL | 0x53);
	__asm__ volatile("sti; nop; cli");
	for (unsigned i = 1; i < ncpus; i++)
		wait_ge(&hits[i][0x53], 1);
	pc_check(sum(0x53, 0) == ncpus, "all-including-self: every CPU");

	/* NMI to AP 1. */
	apic_ipi(1, ICR_NMI);
	wait_ge(&hits[1][2], 1);
	pc_check_eq(hits[1][2], 1, "NMI IPI to AP 1");

	/* An AP interrupts the BSP. */
	apic_ipi(1, ICR_FIXED | 0x55);
	wait_ge(&hits[0][0x54], 1);
	pc_check_eq(hits[0][0x54], 1, "AP 1 sends an IPI to the BSP");

	/* Lowest priority among APs 1-3: the one with the lowest TPR. */
	if (ncpus >= 4) {
		ap_tpr[1] = 0x20;
		ap_tpr[2] = 0x10;
		ap_tpr[3] = 0x30;
		for (unsigned i = 1; i <= 3; i++) {
			apic_ipi((uint8_t)i, ICR_FIXED | 0x56);
			wait_ge(&hits[i][0x56], 1);
		}
		apic_ipi(0x0e, ICR_LOWEST | ICR_LOGICAL | 0x57);
		wait_ge(&hits[2][0x57], 1);
		pc_check(hits[2][0x57] == 1 && hits[1][0x57] == 0 && hits[3][0x57] == 0,
			 "lowest priority: AP 2 (lowest TPR) takes it");
		for (unsigned i = 1; i <= 3; i++)
			ap_tpr[i] = 0;
		for (unsigned i = 1; i <= 3; i++)
			apic_ipi((uint8_t)i, ICR_FIXED | 0x56);
	}
}

static void test_restart(void)
{
	/* INIT and SIPI to AP 1 alone: it runs the trampoline again. */
	unsigned started = ap_started, before = checked_in[1];
	apic_ipi(1, ICR_INIT | ICR_LEVEL_ASSERT);
	delay(10000000);
	apic_ipi(1, ICR_SIPI | (AP_TRAMPOLINE >> 12));
	wait_ge(&ap_started, started + 1);
	wait_ge(&checked_in[1], before + 1);
	pc_check(ap_started == started + 1 && checked_in[1] == before + 1, "INIT + SIPI restarts AP 1");
	/* An INIT level de-assert (level 0, level-triggered) does nothing. */
	unsigned ap = ncpus - 1;
	apic_ipi((uint8_t)ap, ICR_INIT | ICR_LEVEL_TRIG);
	delay(1000000);
	apic_ipi((uint8_t)ap, ICR_FIXED | 0x50);
	wait_ge(&hits[ap][0x50], 2);
	pc_check_eq(hits[ap][0x50], 2, "INIT level de-assert leaves the last AP running");
}

static void test_x2apic(void)
{
	uint32_t r[4];
	pc_cpuid(1, 0, r);
	if (!(r[2] & (1u << 21))) {
		pc_skip(3, "no x2APIC in CPUID"); /* the results below */
		return;
	}
	for (unsigned i = 1; i < ncpus; i++) {
		apic_ipi((uint8_t)i, ICR_FIXED | 0x58);
		wait_ge(&hits[i][0x58], 1);
	}
	pc_wrmsr(MSR_APIC_BASE, pc_rdmsr(MSR_APIC_BASE) | (1u << 10));
	unsigned on = 0;
	for (unsigned i = 1; i < ncpus; i++)
		on += x2[i];
	pc_check_eq(on, ncpus - 1, "every AP switched to x2APIC mode");
	/* Physical 32-bit destinations. */
	for (unsigned i = 1; i < ncpus; i++) {
		ipi(i, ICR_FIXED | 0x59);
		wait_ge(&hits[i][0x59], 1);
	}
	pc_check_eq(sum(0x59, 1), ncpus - 1, "x2APIC physical destinations");
	/* Logical, cluster 0: LDR bit = ID (IDs below 16). */
	uint32_t mask = 0;
	for (unsigned i = 1; i < ncpus && i < 16; i++)
		mask |= 1u << i;
	ipi(mask, ICR_FIXED | ICR_LOGICAL | 0x59);
	for (unsigned i = 1; i < ncpus && i < 16; i++)
		wait_ge(&hits[i][0x59], 2);
	pc_check_eq(sum(0x59, 1), 2 * (ncpus - 1), "x2APIC logical (cluster 0) destination");
	/* Park the APs. */
	ipi(0, ICR_OTHERS | 0x5a);
	for (unsigned i = 1; i < ncpus; i++)
		wait_ge(&hits[i][0x5a], 1);
}

int pc_main(const struct mb_info *mbi)
{
	(void)mbi;
	trap_init(0x08);
	/* Mask the 8259s: a BIOS may have left the PIT running on IRQ 0. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	fw_select(FW_CFG_NB_CPUS);
	ncpus = (unsigned)fw_le(2);
	printf("# %u CPUs\n", ncpus);
	pc_check(ncpus >= 2 && ncpus <= MAXCPU, "fw_cfg: %u CPUs", ncpus);
	if (ncpus < 2)
		return pc_done();
	trap_set_handler(0x4f, count); /* delay()'s timer */
	apic_write(APIC_DFR, 0xffffffffu);
	apic_write(APIC_LDR, 1u << 24);
	bring_up();
	test_ipis();
	test_restart();
	test_x2apic();
	return pc_done();
}
