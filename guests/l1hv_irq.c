/*
 * l1hv's interrupt payloads (see guests/l1hv.h). L1 owns the vCPU's local
 * APIC (x2APIC mode) and asks for its interrupts as VM exits while L2 runs
 * ("external-interrupt exiting", SDM Vol. 3C 25.6.1), with or without
 * "acknowledge interrupt on exit" (28.2.2). L2 has an IDT of its own, and
 * L1 injects virtual interrupts and NMIs into it the way KVM does: at VM
 * entry when L2 can take them, else asking for an interrupt-window or
 * NMI-window exit (26.2), and re-injecting an event whose delivery an exit
 * interrupted (IDT-vectoring information, 28.2.4).
 *
 *   l2=timer   L1 programs its APIC timer (periodic, vector 40H) and L2
 *              spins without exits: each tick is an EXTERNAL_INTERRUPT exit.
 *              After n ticks L1 checks L2's progress and the spacing of the
 *              exits, and stops. ack=0|1 (default 1): "acknowledge interrupt
 *              on exit"; without it the interrupt stays pending and L1 takes
 *              it through its own IDT (STI). period=P: APIC timer count
 *              (divide by 1: P TSC cycles; default 100000).
 *   l2=ipi     L2 sends n IPIs to its own vCPU through the x2APIC ICR, which
 *              L1 lets it write: fixed vector 41H, an EXTERNAL_INTERRUPT exit
 *              right after the WRMSR (ack=0|1 as above); nmi=1: NMIs, an
 *              EXCEPTION_NMI exit each (after the first, L1 sends itself
 *              an NMI, which must wait for its IRET: 28.1), or, with
 *              nmi_exit=0, NMIs delivered through L2's IDT. init=1: INITs,
 *              an INIT_SIGNAL exit each (26.2); after the first, L1 sends
 *              itself an INIT, held in VMX root operation (24.8) until the
 *              next VM entry, where it exits before L2's first instruction.
 *   l2=inject  each tick of L1's timer becomes a virtual interrupt (vector
 *              30H) L1 injects into L2. L2 spends half of each period with
 *              IF = 0: the interrupt-window exit must come exactly where it
 *              sets IF (after STI's shadow). n: interrupts L2 must receive.
 *              hlt=1: L2 waits for each one in HLT without HLT exiting (L0
 *              holds it; the tick exits with activity state HLT and the
 *              injected interrupt wakes it). stihlt=1: L2 halts with STI;
 *              HLT, whose shadow covers the HLT: the interrupt-window exit
 *              comes in the HLT state and wakes it (26.2). pf=1: L2's IDT is not mapped at
 *              first: the first delivery faults, L1 intercepts the #PF,
 *              maps the page and re-injects the interrupted event. nmi=1:
 *              every fourth tick also queues two virtual NMIs ("virtual
 *              NMIs"): the second waits for an NMI-window exit.
 *              busy=C: L1 spends C TSC cycles on every fourth timer exit:
 *              with C above the period its next tick is pending when it
 *              resumes L2 with an injected event, which L0 delivers before
 *              it leaves L2 at once (a kick) to give L1 its interrupt.
 *   l2=tpr     "use TPR shadow" (30.1): L2's MOV to CR8 writes VTPR in L1's
 *              virtual-APIC page; L1 arms the TPR threshold as for a masked
 *              virtual interrupt, and L2's writes below it exit (TPR below
 *              threshold, trap-like).
 *   l2=mtf     the monitor trap flag (26.5.2): an MTF exit after each
 *              instruction of a known sequence (one that L0 emulates
 *              included), after the delivery of an injected event and of a
 *              software interrupt, and for a pending MTF exit L1 injects.
 */
#include <guest/desc.h>
#include <guest/exc.h>
#include <guest/guest.h>
#include <guest/io.h>
#include <guest/paging.h>
#include <guest/vmx.h>

#include "l1hv.h"

/* x2APIC MSRs: 800H + (xAPIC register offset >> 4) (SDM Vol. 3A 11.12.1.2,
 * Table 11-6); IA32_APIC_BASE (11.4.4). */
#define X2APIC(off) (0x800u + ((off) >> 4))
#define APIC_ID X2APIC(0x20)
#define APIC_EOI X2APIC(0xb0)
#define APIC_SVR X2APIC(0xf0)
#define APIC_ICR X2APIC(0x300)
#define APIC_LVT_TIMER X2APIC(0x320)
#define APIC_TIMER_INIT X2APIC(0x380)
#define APIC_TIMER_DIV X2APIC(0x3e0)
#define MSR_APIC_BASE 0x1b
#define APIC_BASE_EXTD (1ull << 10)
#define APIC_BASE_EN (1ull << 11)
#define LVT_PERIODIC (1u << 17)
#define ICR_NMI (4u << 8)
#define ICR_INIT (5u << 8 | 1u << 14) /* INIT, level assert (Vol. 3A 11.6.1) */
#define ICR_SELF (1u << 18)

#define TIMER_VEC 0x40 /* L1's APIC timer */
#define IPI_VEC 0x41 /* l2=ipi: L2's fixed IPIs to its vCPU (L1's interrupts) */
#define L2_VEC 0x30 /* L1's virtual interrupt for L2 */
#define L2_SOFT_VEC 0x31 /* l2=mtf: INT n in L2 */

#define INFO_VALID (1u << 31)
#define INFO_TYPE(i) (((i) >> 8) & 7u)
#define TYPE_EXT 0u
#define TYPE_NMI 2u
#define TYPE_HW 3u
#define TYPE_OTHER 7u
#define INTERRUPTIBILITY_STI_MOVSS 3u
#define INTERRUPTIBILITY_NMI 8u
#define ACTIVITY_HLT 1u

/* VMCALLs of these payloads (l1hv.c's are 1 and 2). */
enum { HC_DONE = 1, HC_FAIL = 2, HC_MTF_ON = 3, HC_MTF_PENDING = 4, HC_TPR_ARM = 5 };

enum irq_payload { IRQ_NONE, IRQ_TIMER, IRQ_IPI, IRQ_INJECT, IRQ_TPR, IRQ_MTF };

static const char *const names[] = { [IRQ_TIMER] = "timer", [IRQ_IPI] = "ipi", [IRQ_INJECT] = "inject",
				     [IRQ_TPR] = "tpr", [IRQ_MTF] = "mtf" };

static struct {
	enum irq_payload p;
	uint64_t n, period, busy;
	int ack, nmi, nmi_exit, init, hlt, stihlt, pf;
	uint32_t proc; /* vmcs12's primary controls, as L1 last wrote them */
	uint32_t apic_id;

	/* L1's counts. */
	uint64_t ticks; /* APIC timer interrupts L1 handled */
	uint64_t ipis, nmi_exits, init_exits;
	uint64_t last_tick_tsc, min_gap, max_gap;
	uint64_t l2_progress; /* l2=timer: L2's counter at the last tick */
	uint64_t virq_pending, vnmi_pending; /* l2=inject: queued for L2 */
	uint64_t virq_injected, vnmi_injected, reinjected;
	uint64_t window_exits, windows_in_hlt, nmi_window_exits, hlt_wakes, pf_in_delivery;
	bool window_for_if; /* the interrupt window L1 waits for is L2's IF = 0 */
	uint64_t tpr_exits;
	uint64_t preempt_exits, preempt_in_hlt; /* timer=: VMX-preemption timer exits */
	uint64_t mtf_rips[16];
	unsigned mtf_count;
} irq;

/* Shared with L2 (same memory: L2 runs on L1's page tables). */
static volatile uint64_t l2_counter; /* l2=timer: L2's work */
static volatile uint64_t l2_irqs, l2_nmis; /* delivered through L2's IDT */
static volatile uint64_t l2_window_at; /* l2=inject: where L2 sets IF */
static volatile uint64_t l2_in_cli; /* ... and whether it runs with IF = 0 before that */
static volatile uint64_t l2_ipi_at; /* l2=ipi: the instruction after the WRMSR */
static volatile uint64_t l2_nmi_rip; /* RIP the last NMI in L2 interrupted */
static uint64_t l2_idt[256][2] __attribute__((aligned(4096)));
static uint8_t vapic_page[4096] __attribute__((aligned(4096)));

#define TPR_THRESHOLD 5

/* ---- L1's local APIC ---- */

static void eoi(void)
{
	wrmsr(APIC_EOI, 0);
}

static void l1_timer_tick(void)
{
	uint64_t now = rdtsc();
	if (irq.ticks) {
		uint64_t gap = now - irq.last_tick_tsc;
		if (!irq.min_gap || gap < irq.min_gap)
			irq.min_gap = gap;
		if (gap > irq.max_gap)
			irq.max_gap = gap;
	}
	irq.last_tick_tsc = now;
	irq.ticks++;
	if (irq.p == IRQ_INJECT) {
		irq.virq_pending++;
		if (irq.nmi && irq.ticks % 4 == 0)
			irq.vnmi_pending += 2;
	}
	eoi();
}

/* L1's handlers, through its IDT (ack=0) or called by the exit handler
 * with the vector the exit reported (ack=1, as KVM's
 * handle_external_interrupt_irqoff() calls the IDT's handler). */
static bool l1_isr(struct exc_frame *f)
{
	if (f->vector == TIMER_VEC) {
		l1_timer_tick();
	} else {
		irq.ipis++;
		eoi();
	}
	return true;
}

static void apic_init(void)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 21)))
		fail("no x2APIC (CPUID.1:ECX[21])", r[2]);
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN | APIC_BASE_EXTD);
	wrmsr(APIC_SVR, 0x1ff); /* APIC software enable, spurious vector FFH */
	irq.apic_id = (uint32_t)rdmsr(APIC_ID);
	exc_set_handler(TIMER_VEC, l1_isr);
	exc_set_handler(IPI_VEC, l1_isr);
}

/* Mask the timer (LVT bit 16) before the final report: no more ticks. */
static void apic_timer_stop(void)
{
	wrmsr(APIC_LVT_TIMER, (1u << 16) | TIMER_VEC);
	wrmsr(APIC_TIMER_INIT, 0);
}

static void apic_timer_start(void)
{
	wrmsr(APIC_TIMER_DIV, 0xb); /* divide by 1 (SDM 3A 11.5.4, Figure 11-10) */
	wrmsr(APIC_LVT_TIMER, LVT_PERIODIC | TIMER_VEC);
	wrmsr(APIC_TIMER_INIT, irq.period);
}

/* IRET to the next instruction, at CPL 0: ends blocking by NMI (SDM 3A
 * 6.7.1), as the IRET of KVM's NMI handler does after an NMI exit. */
static void iret_to_self(void)
{
	__asm__ volatile("mov %%ss, %%rax\n\t"
			 "push %%rax\n\t"
			 "lea 8(%%rsp), %%rax\n\t"
			 "push %%rax\n\t"
			 "pushfq\n\t"
			 "mov %%cs, %%rax\n\t"
			 "push %%rax\n\t"
			 "lea 1f(%%rip), %%rax\n\t"
			 "push %%rax\n\t"
			 "iretq\n"
			 "1:"
			 :
			 :
			 : "rax", "memory");
}

static volatile uint64_t l1_nmis; /* NMIs delivered through L1's IDT */
static bool l2_isr(struct exc_frame *f);

static bool l1_nmi_isr(struct exc_frame *f)
{
	(void)f;
	l1_nmis++;
	return true;
}

/* After the first NMI exit: "An NMI causes subsequent NMIs to be blocked,
 * but only after the VM exit completes" (SDM 3C 28.1). An NMI L1 sends
 * itself now stays pending until L1's next IRET, then is delivered. */
static void l1_nmi_blocking_check(void)
{
	exc_set_handler(X86_NMI, l1_nmi_isr);
	wrmsr(APIC_ICR, (uint64_t)irq.apic_id << 32 | ICR_NMI);
	for (volatile int k = 0; k < 10; k++)
		;
	if (l1_nmis)
		fail("NMI delivered to L1 while blocked after an NMI exit", l1_nmis);
	iret_to_self();
	if (l1_nmis != 1)
		fail("L1's pending NMI not delivered after its IRET", l1_nmis);
	exc_set_handler(X86_NMI, l2_isr);
}

/* ---- L2's side ---- */

static bool l2_isr(struct exc_frame *f)
{
	if (f->vector == X86_NMI) {
		l2_nmis++;
		l2_nmi_rip = f->rip;
	} else {
		l2_irqs++;
	}
	return true;
}

/* L2's IDT: the guest library's stubs, which lead to the same dispatcher
 * (64-bit interrupt gates, SDM 3A 6.14.1). */
static void l2_idt_init(void)
{
	for (unsigned v = 0; v < 256; v++) {
		uint64_t off = exc_stub(v);
		l2_idt[v][0] = (off & 0xffff) | ((uint64_t)SEL_KCODE << 16) | (0xeull << 40) | (1ull << 47) |
			       ((off >> 16 & 0xffff) << 48);
		l2_idt[v][1] = off >> 32;
	}
	exc_set_handler(L2_VEC, l2_isr);
	exc_set_handler(X86_NMI, l2_isr);
	exc_set_handler(L2_SOFT_VEC, exc_resume);
}

static void spin_until(uint64_t tsc)
{
	while (rdtsc() < tsc)
		;
}

static void l2_timer(void)
{
	for (;;)
		l2_counter++;
}

static void l2_ipi(void)
{
	uint32_t lo = irq.init ? ICR_INIT : irq.nmi ? ICR_NMI : (ICR_SELF | IPI_VEC);
	uint32_t hi = irq.init || irq.nmi ? irq.apic_id : 0;
	for (uint64_t i = 0; i < irq.n; i++) {
		/* The exit (or the NMI's delivery) must come right after the
		 * WRMSR: its address goes to memory before. */
		__asm__ volatile("lea 1f(%%rip), %%rbx\n\t"
				 "mov %%rbx, %0\n\t"
				 "wrmsr\n"
				 "1:"
				 : "=m"(l2_ipi_at)
				 : "c"(APIC_ICR), "a"(lo), "d"(hi)
				 : "rbx", "memory");
		if (irq.nmi && !irq.nmi_exit && (l2_nmis != i + 1 || l2_nmi_rip != l2_ipi_at))
			vmcall(HC_FAIL, i);
	}
	vmcall(HC_DONE, l2_nmis);
}

static void l2_inject(void)
{
	for (uint64_t i = 0; l2_irqs < irq.n; i++) {
		/* IF = 0 for a quarter of a tick period or one and a half:
		 * ticks come in both halves, and in every second IF = 0 one. */
		uint64_t t = rdtsc();
		cli();
		l2_in_cli = 1;
		spin_until(t + (i % 2 ? irq.period * 3 / 2 : irq.period / 4));
		if (irq.stihlt) {
			/* STI's shadow covers the HLT: the interrupt window opens
			 * only in the HLT state, where the interrupt-window exit
			 * wakes L2 (SDM 3C 26.2), with RIP after the HLT. */
			__asm__ volatile("lea 1f(%%rip), %%rax\n\t"
					 "mov %%rax, %0\n\t"
					 "movq $0, %1\n\t"
					 "sti\n\t"
					 "hlt\n"
					 "1:"
					 : "=m"(l2_window_at), "=m"(l2_in_cli)
					 :
					 : "rax", "memory");
			continue;
		}
		/* IF = 1 after STI's shadow (SDM 3A 6.8.3): an interrupt window
		 * L1 waits for opens at the label. */
		__asm__ volatile("lea 1f(%%rip), %%rax\n\t"
				 "mov %%rax, %0\n\t"
				 "sti\n\t"
				 "nop\n"
				 "1:\n\t"
				 "movq $0, %1"
				 : "=m"(l2_window_at), "=m"(l2_in_cli)
				 :
				 : "rax", "memory");
		if (irq.hlt)
			__asm__ volatile("hlt" : : : "memory");
		else
			spin_until(rdtsc() + irq.period / 4);
	}
	vmcall(HC_DONE, l2_irqs);
}

/* L2 raises its TPR, lets L1 arm the threshold (as L1 would for a virtual
 * interrupt of priority class TPR_THRESHOLD that the TPR masks), then sets
 * the TPR to i % 16: the writes below the threshold exit. */
static void l2_tpr(void)
{
	for (uint64_t i = 0; i < irq.n; i++) {
		uint64_t v = i % 16;
		write_cr8(15);
		vmcall(HC_TPR_ARM, 0);
		write_cr8(v);
		if (read_cr8() != v)
			vmcall(HC_FAIL, i);
	}
	vmcall(HC_DONE, 0);
}

/* l2=mtf: a sequence whose instruction boundaries L1 knows. */
extern const char l2_mtf_seq[], l2_mtf_s1[], l2_mtf_s2[], l2_mtf_s3[], l2_mtf_s4[], l2_mtf_s6[];
__asm__(".text\n"
	".globl l2_mtf_seq, l2_mtf_s1, l2_mtf_s2, l2_mtf_s3, l2_mtf_s4, l2_mtf_s6\n"
	"l2_mtf_seq:\n"
	"  mov $3, %eax\n" /* HC_MTF_ON: L1 sets the monitor trap flag */
	"  vmcall\n"
	"  nop\n"
	"l2_mtf_s1:\n"
	"  mov $3, %ecx\n"
	"l2_mtf_s2:\n"
	"  add %ecx, %ecx\n"
	"l2_mtf_s3:\n"
	"  outb %al, $0x80\n" /* L1 lets it through: L0 performs it */
	"l2_mtf_s4:\n"
	"  int $0x31\n"
	"  mov $4, %eax\n" /* HC_MTF_PENDING */
	"  vmcall\n"
	"l2_mtf_s6:\n"
	"  mov $1, %eax\n" /* HC_DONE */
	"  xor %ebx, %ebx\n"
	"  vmcall\n"
	"  ud2\n");

/* ---- set-up ---- */

const char *irq_select(const char *name, const struct tortuga_bootinfo *bi, void (**payload)(void))
{
	static void (*const fns[])(void) = { [IRQ_TIMER] = l2_timer, [IRQ_IPI] = l2_ipi, [IRQ_INJECT] = l2_inject,
					     [IRQ_TPR] = l2_tpr, [IRQ_MTF] = (void (*)(void))l2_mtf_seq };
	for (unsigned p = IRQ_TIMER; p <= IRQ_MTF; p++) {
		if (strcmp(name, names[p]))
			continue;
		irq.p = (enum irq_payload)p;
		*payload = fns[p];
		irq.n = parse_u64(cmdline_get(bi, "n"), 100);
		irq.period = parse_u64(cmdline_get(bi, "period"), 100000);
		irq.ack = parse_u64(cmdline_get(bi, "ack"), 1) != 0;
		irq.nmi = parse_u64(cmdline_get(bi, "nmi"), 0) != 0;
		irq.nmi_exit = parse_u64(cmdline_get(bi, "nmi_exit"), 1) != 0;
		irq.init = parse_u64(cmdline_get(bi, "init"), 0) != 0;
		irq.stihlt = parse_u64(cmdline_get(bi, "stihlt"), 0) != 0;
		irq.hlt = irq.stihlt || parse_u64(cmdline_get(bi, "hlt"), 0) != 0;
		irq.pf = parse_u64(cmdline_get(bi, "pf"), 0) != 0;
		irq.busy = parse_u64(cmdline_get(bi, "busy"), 0);
		if (irq.period < 1000)
			fail("period must be at least 1000", irq.period);
		return names[p];
	}
	return NULL;
}

bool irq_active(void)
{
	return irq.p != IRQ_NONE;
}

/* A control L1 needs: allowed by the capability MSR (SDM A.3), or fail. */
static uint32_t need_ctl(uint32_t val, uint32_t bits, uint32_t cap_msr)
{
	uint64_t cap = rdmsr(cap_msr);
	if (bits & ~(uint32_t)(cap >> 32))
		fail("control not offered by the capability MSR", bits & ~(uint32_t)(cap >> 32));
	return val | bits;
}

void irq_setup_vmcs(void)
{
	uint32_t pin = (uint32_t)vmread(VMCS_PIN_BASED_VM_EXEC_CONTROL);
	uint32_t proc = (uint32_t)vmread(VMCS_CPU_BASED_VM_EXEC_CONTROL);
	uint32_t exit = (uint32_t)vmread(VMCS_VM_EXIT_CONTROLS);
	bool wants_nmi = irq.p == IRQ_IPI && irq.nmi;

	/* L2 runs on L1's GDT with an IDT of its own. */
	l2_idt_init();
	write_field(VMCS_GUEST_IDTR_BASE, (uint64_t)(uintptr_t)l2_idt);
	write_field(VMCS_GUEST_IDTR_LIMIT, sizeof(l2_idt) - 1);

	if (irq.p == IRQ_TIMER || irq.p == IRQ_IPI || irq.p == IRQ_INJECT) {
		apic_init();
		pin = need_ctl(pin, VMX_PIN_EXT_INTR_EXITING, MSR_IA32_VMX_TRUE_PINBASED_CTLS);
		if (irq.ack || irq.p == IRQ_INJECT)
			exit = need_ctl(exit, VMX_EXIT_ACK_INTR_ON_EXIT, MSR_IA32_VMX_TRUE_EXIT_CTLS);
		else
			exit &= ~VMX_EXIT_ACK_INTR_ON_EXIT;
	}
	if ((wants_nmi && irq.nmi_exit) || (irq.p == IRQ_INJECT && irq.nmi))
		pin = need_ctl(pin, VMX_PIN_NMI_EXITING | VMX_PIN_VIRTUAL_NMIS, MSR_IA32_VMX_TRUE_PINBASED_CTLS);
	if (irq.p == IRQ_INJECT) {
		/* Interrupt and NMI windows come and go; HLT stays in L2 with
		 * hlt=1 (no HLT exiting). */
		need_ctl(0, VMX_PROC_INTR_WINDOW_EXITING | (irq.nmi ? VMX_PROC_NMI_WINDOW_EXITING : 0),
			 MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
		if (irq.hlt)
			proc &= ~VMX_PROC_HLT_EXITING;
		if (irq.pf) {
			/* Intercept #PF; L2's IDT page starts not present
			 * (SDM 3A 4.5: P = 0). */
			write_field(VMCS_EXCEPTION_BITMAP, 1u << X86_PF);
			pt_map((uint64_t)(uintptr_t)l2_idt, (uint64_t)(uintptr_t)l2_idt, PT_4K, 0);
		}
	}
	if (irq.p == IRQ_TPR) {
		proc = need_ctl(proc, VMX_PROC_USE_TPR_SHADOW, MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
		proc &= ~(VMX_PROC_CR8_LOAD_EXITING | VMX_PROC_CR8_STORE_EXITING);
		vapic_page[0x80] = TPR_THRESHOLD << 4; /* threshold <= VTPR[7:4] (27.2.1.1) */
		write_field(VMCS_VIRTUAL_APIC_PAGE_ADDR, (uint64_t)(uintptr_t)vapic_page);
		write_field(VMCS_TPR_THRESHOLD, TPR_THRESHOLD);
	}
	if (irq.p == IRQ_MTF) {
		need_ctl(0, VMX_PROC_MONITOR_TRAP_FLAG, MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
		proc |= VMX_PROC_MONITOR_TRAP_FLAG;
		/* VMLAUNCH injects vector 30H: an MTF exit follows its delivery. */
		write_field(VMCS_VM_ENTRY_INTR_INFO_FIELD, INFO_VALID | (TYPE_EXT << 8) | L2_VEC);
		write_field(VMCS_GUEST_RFLAGS, 0x202); /* IF = 1: required to inject an interrupt (27.3.1.4) */
	}
	write_field(VMCS_PIN_BASED_VM_EXEC_CONTROL, pin);
	write_field(VMCS_CPU_BASED_VM_EXEC_CONTROL, proc);
	write_field(VMCS_VM_EXIT_CONTROLS, exit);
	irq.proc = proc;
	if (irq.p == IRQ_TIMER || irq.p == IRQ_INJECT)
		apic_timer_start();
}

void irq_baseline(void)
{
	if (irq.p != IRQ_TIMER)
		fail("baseline=1 goes with l2=cpuid or l2=timer", irq.p);
	exc_init();
	apic_init();
	apic_timer_start();
	/* L1 spins as L2 would, and takes its ticks through its IDT. */
	sti();
	while (*(volatile uint64_t *)&irq.ticks < irq.n)
		l2_counter++;
	cli();
	apic_timer_stop();
	printf("l1hv: baseline: %lu timer interrupts in L1, tick spacing %lu..%lu TSC cycles (period %lu)\n",
	       irq.ticks, irq.min_gap, irq.max_gap, irq.period);
	guest_exit(0);
}

/* ---- exits ---- */

static void set_proc(uint32_t proc)
{
	if (proc != irq.proc)
		write_field(VMCS_CPU_BASED_VM_EXEC_CONTROL, proc);
	irq.proc = proc;
}

/* Before VMRESUME: what KVM's inject_pending_event() does for its guest.
 * An event whose delivery the exit interrupted goes first (28.2.4: the
 * IDT-vectoring information; KVM's vmx_complete_interrupts()); then an NMI,
 * then an interrupt, each if L2 can take it now, else its window exit. */
static void inject_pending(void)
{
	uint32_t idt = (uint32_t)vmread(VMCS_IDT_VECTORING_INFO_FIELD);
	uint32_t proc = irq.proc & ~(VMX_PROC_INTR_WINDOW_EXITING | VMX_PROC_NMI_WINDOW_EXITING);
	bool injected = false;
	if (idt & INFO_VALID) {
		/* Bit 12 is undefined here; the entry field wants it 0. */
		write_field(VMCS_VM_ENTRY_INTR_INFO_FIELD, idt & ~(1u << 12));
		if (idt & (1u << 11))
			write_field(VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, vmread(VMCS_IDT_VECTORING_ERROR_CODE));
		irq.reinjected++;
		injected = true;
	}
	uint64_t ib = vmread(VMCS_GUEST_INTERRUPTIBILITY_INFO);
	uint64_t rflags = vmread(VMCS_GUEST_RFLAGS);
	if (irq.vnmi_pending && !injected && !(ib & (INTERRUPTIBILITY_NMI | 2))) {
		write_field(VMCS_VM_ENTRY_INTR_INFO_FIELD, INFO_VALID | (TYPE_NMI << 8) | X86_NMI);
		irq.vnmi_pending--;
		irq.vnmi_injected++;
		injected = true;
	}
	if (irq.virq_pending && !injected && (rflags & RFLAGS_IF) && !(ib & INTERRUPTIBILITY_STI_MOVSS)) {
		write_field(VMCS_VM_ENTRY_INTR_INFO_FIELD, INFO_VALID | (TYPE_EXT << 8) | L2_VEC);
		irq.virq_pending--;
		irq.virq_injected++;
		injected = true;
	}
	/* What is left waits for its window; an NMI injected now blocks the
	 * next (virtual-NMI blocking, 27.6.1.2). */
	if (irq.vnmi_pending)
		proc |= VMX_PROC_NMI_WINDOW_EXITING;
	if (irq.virq_pending)
		proc |= VMX_PROC_INTR_WINDOW_EXITING;
	irq.window_for_if = irq.virq_pending && !injected && !(rflags & RFLAGS_IF) && l2_in_cli;
	set_proc(proc);
}

static void finish(uint64_t l2_value)
{
	if (irq.p == IRQ_TIMER || irq.p == IRQ_INJECT)
		apic_timer_stop();
	switch (irq.p) {
	case IRQ_IPI:
		if (irq.init) {
			if (irq.init_exits != irq.n + 1)
				fail("INIT exits", irq.init_exits);
			printf("l1hv: %lu INIT exits right after L2's WRMSR, and one at VM entry for the INIT L1 sent "
			       "itself in VMX root operation\n",
			       irq.n);
		} else if (irq.nmi && !irq.nmi_exit) {
			if (l2_value != irq.n)
				fail("NMIs delivered to L2", l2_value);
			printf("l1hv: %lu NMIs delivered through L2's IDT\n", l2_value);
		} else if (irq.nmi) {
			if (irq.nmi_exits != irq.n)
				fail("NMI exits", irq.nmi_exits);
			printf("l1hv: %lu NMI exits; after the first, L1's own NMI waited for its IRET\n",
			       irq.nmi_exits);
		} else {
			if (irq.ipis != irq.n)
				fail("IPI exits", irq.ipis);
			printf("l1hv: %lu interrupt exits right after L2's WRMSR (ack=%d)\n", irq.ipis, irq.ack);
		}
		break;
	case IRQ_INJECT:
		/* L2's own counts (its VMCALL argument may predate an interrupt
		 * delivered right before the VMCALL). */
		l2_value = l2_irqs;
		if (l2_value != irq.virq_injected || irq.virq_injected < irq.n)
			fail("interrupts L2 received vs injected", l2_value);
		if (irq.nmi && (l2_nmis != irq.vnmi_injected || !irq.nmi_window_exits)) {
			printf("l1hv: NMIs: L2 received %lu, L1 injected %lu, %lu NMI-window exits\n", l2_nmis,
			       irq.vnmi_injected, irq.nmi_window_exits);
			fail("NMIs L2 received vs injected", l2_nmis);
		}
		if (irq.pf && irq.pf_in_delivery != 1)
			fail("#PF during delivery", irq.pf_in_delivery);
		printf("l1hv: injected %lu interrupts and %lu NMIs, L2 received %lu and %lu; %lu interrupt-window exits "
		       "at L2's STI (%lu in HLT), %lu NMI-window exits, %lu HLT wake-ups, %lu re-injected\n",
		       irq.virq_injected, irq.vnmi_injected, l2_value, l2_nmis, irq.window_exits, irq.windows_in_hlt,
		       irq.nmi_window_exits, irq.hlt_wakes, irq.reinjected);
		if (irq.preempt_exits)
			printf("l1hv: %lu VMX-preemption timer exits, %lu of them in HLT\n", irq.preempt_exits,
			       irq.preempt_in_hlt);
		break;
	case IRQ_TPR: {
		uint64_t want = 0;
		for (uint64_t i = 0; i < irq.n; i++)
			want += i % 16 < TPR_THRESHOLD;
		if (irq.tpr_exits != want)
			fail("TPR-below-threshold exits", irq.tpr_exits);
		printf("l1hv: %lu TPR-below-threshold exits, VTPR 0x%x, L1's TPR %lu\n", irq.tpr_exits,
		       (unsigned)vapic_page[0x80], read_cr8());
		break;
	}
	case IRQ_MTF: {
		const uint64_t want[] = { exc_stub(L2_VEC),
					  (uint64_t)(uintptr_t)l2_mtf_s1,
					  (uint64_t)(uintptr_t)l2_mtf_s2,
					  (uint64_t)(uintptr_t)l2_mtf_s3,
					  (uint64_t)(uintptr_t)l2_mtf_s4,
					  exc_stub(L2_SOFT_VEC),
					  (uint64_t)(uintptr_t)l2_mtf_s6 };
		unsigned nw = sizeof(want) / sizeof(want[0]);
		if (irq.mtf_count != nw)
			fail("MTF exits", irq.mtf_count);
		for (unsigned k = 0; k < nw; k++)
			if (irq.mtf_rips[k] != want[k])
				fail("MTF exit RIP", k);
		printf("l1hv: %u MTF exits at the expected instruction boundaries\n", irq.mtf_count);
		break;
	}
	default:
		break;
	}
}

/* l2=mtf: the MTF exit k (RIP recorded) and what L1 does next. */
static void mtf_exit(uint64_t rip)
{
	if (irq.mtf_count < 16)
		irq.mtf_rips[irq.mtf_count] = rip;
	irq.mtf_count++;
	/* After the delivery of the injected event and of INT 31H the
	 * handlers run without MTF; pending MTF exits are one-shot. */
	if (rip == exc_stub(L2_VEC) || rip == exc_stub(L2_SOFT_VEC))
		set_proc(irq.proc & ~VMX_PROC_MONITOR_TRAP_FLAG);
}

static void vmcall_exit(struct regs *r)
{
	switch (r->rax) {
	case HC_MTF_ON:
		set_proc(irq.proc | VMX_PROC_MONITOR_TRAP_FLAG);
		skip_instruction();
		return;
	case HC_TPR_ARM:
		/* VTPR masks the (pretended) pending virtual interrupt: exit when
		 * L2 lowers it below its class. VM entry requires the threshold
		 * not above VTPR[7:4] (27.2.1.1). */
		if (vapic_page[0x80] != 0xf0)
			fail("VTPR after L2's MOV to CR8", vapic_page[0x80]);
		write_field(VMCS_TPR_THRESHOLD, TPR_THRESHOLD);
		skip_instruction();
		return;
	case HC_MTF_PENDING:
		/* 27.6.2: inject a pending MTF VM exit: it comes before the next
		 * instruction, with the control off. */
		skip_instruction();
		write_field(VMCS_VM_ENTRY_INTR_INFO_FIELD, INFO_VALID | (TYPE_OTHER << 8));
		return;
	case HC_DONE:
		finish(r->rbx);
		report();
		guest_exit(0);
	default:
		fail("L2 payload failed", r->rbx);
	}
}

static void external_interrupt_exit(void)
{
	uint32_t info = (uint32_t)vmread(VMCS_VM_EXIT_INTR_INFO);
	/* The activity state is not a shadowed field: read only where L2 halts. */
	if (irq.p == IRQ_INJECT && irq.hlt && vmread(VMCS_GUEST_ACTIVITY_STATE) == ACTIVITY_HLT)
		irq.hlt_wakes++;
	if (irq.p == IRQ_IPI && vmread(VMCS_GUEST_RIP) != l2_ipi_at)
		fail("interrupt exit not right after L2's WRMSR", vmread(VMCS_GUEST_RIP));
	if (irq.ack || irq.p == IRQ_INJECT) {
		/* 28.2.2: valid, type external interrupt, the vector; the
		 * interrupt is acknowledged: dispatch it as the IDT would. */
		if ((info & (INFO_VALID | 0x700u)) != INFO_VALID)
			fail("interruption information with acknowledge interrupt on exit", info);
		struct exc_frame f = { .vector = info & 0xff };
		l1_isr(&f);
		return;
	}
	/* Without acknowledgement the information is invalid and the
	 * interrupt still pending: open L1's interrupt window (STI's shadow
	 * covers the NOP) and take it through L1's IDT. */
	if (info & INFO_VALID)
		fail("interruption information without acknowledge interrupt on exit", info);
	uint64_t before = irq.ticks + irq.ipis;
	__asm__ volatile("sti\n\tnop\n\tcli" : : : "memory");
	if (irq.ticks + irq.ipis != before + 1)
		fail("the pending interrupt was not delivered to L1", before);
}

static void timer_tick_checks(void)
{
	if (irq.p != IRQ_TIMER)
		return;
	if (l2_counter <= irq.l2_progress)
		fail("L2 made no progress between two ticks", l2_counter);
	irq.l2_progress = l2_counter;
	if (irq.ticks < irq.n)
		return;
	apic_timer_stop();
	printf("l1hv: %lu timer interrupts as exits (ack=%d), L2 counted to %lu; tick spacing %lu..%lu TSC cycles "
	       "(period %lu)\n",
	       irq.ticks, irq.ack, l2_counter, irq.min_gap, irq.max_gap, irq.period);
	report();
	guest_exit(0);
}

void irq_handle_exit(uint32_t reason, struct regs *r)
{
	switch (reason) {
	case EXIT_EXTERNAL_INTERRUPT:
		external_interrupt_exit();
		timer_tick_checks();
		if (irq.busy && irq.ticks % 4 == 0)
			spin_until(rdtsc() + irq.busy);
		break;
	case EXIT_EXCEPTION_NMI: {
		uint32_t info = (uint32_t)vmread(VMCS_VM_EXIT_INTR_INFO);
		if (INFO_TYPE(info) == TYPE_NMI) {
			/* 28.2.2: vector 2, type NMI; right after the WRMSR. */
			if ((info & (INFO_VALID | 0x7ffu)) != (INFO_VALID | (TYPE_NMI << 8) | X86_NMI) ||
			    vmread(VMCS_GUEST_RIP) != l2_ipi_at)
				fail("NMI exit information", info);
			irq.nmi_exits++;
			if (irq.nmi_exits == 1)
				l1_nmi_blocking_check();
			break;
		}
		/* l2=inject pf=1: #PF while delivering through L2's IDT. */
		uint32_t idt = (uint32_t)vmread(VMCS_IDT_VECTORING_INFO_FIELD);
		uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
		uint64_t base = (uint64_t)(uintptr_t)l2_idt;
		if (!irq.pf || (info & 0xff) != X86_PF || !(idt & INFO_VALID) || q < base || q >= base + sizeof(l2_idt))
			fail("unexpected exception exit", info);
		if (!((INFO_TYPE(idt) == TYPE_EXT && (idt & 0xff) == L2_VEC) ||
		      (INFO_TYPE(idt) == TYPE_NMI && (idt & 0xff) == X86_NMI)))
			fail("IDT-vectoring information", idt);
		pt_map(base, base, PT_4K, PTE_P | PTE_W);
		irq.pf_in_delivery++;
		break; /* inject_pending() re-injects the event */
	}
	case EXIT_INTERRUPT_WINDOW:
		/* 26.2: at the first boundary with IF = 1 and no STI/MOV SS
		 * blocking. When L2 ran with IF = 0 in its loop, that is where
		 * its STI's shadow ends (else, after IRET from a handler). */
		if (irq.window_for_if) {
			bool in_hlt = irq.hlt && vmread(VMCS_GUEST_ACTIVITY_STATE) == ACTIVITY_HLT;
			if (vmread(VMCS_GUEST_RIP) != l2_window_at)
				fail("interrupt-window exit not where L2 set IF", vmread(VMCS_GUEST_RIP));
			/* stihlt=1: only in HLT (the exit saves the activity
			 * state, 28.3.4); else never. */
			if (in_hlt != (irq.stihlt != 0))
				fail("interrupt-window exit's activity state", in_hlt);
			irq.window_exits++;
			irq.windows_in_hlt += in_hlt;
		}
		break;
	case EXIT_INIT_SIGNAL:
		/* 26.2: INIT is a VM exit in VMX non-root operation, right after
		 * L2's WRMSR that sent it. After the first, L1 sends itself an
		 * INIT: blocked in VMX root operation (24.8), it stays pending
		 * and exits at the next VM entry, before L2's first instruction:
		 * the same RIP. Neither resets anything. */
		if (vmread(VMCS_GUEST_RIP) != l2_ipi_at)
			fail("INIT exit not right after L2's WRMSR", vmread(VMCS_GUEST_RIP));
		if (++irq.init_exits == 1) {
			wrmsr(APIC_ICR, (uint64_t)irq.apic_id << 32 | ICR_INIT);
			/* Stay in root operation a while (with several vCPUs,
			 * longer than tortuga's time slice: L0 sees the INIT
			 * pending while L1 runs). */
			spin_until(rdtsc() + irq.period);
		}
		break;
	case EXIT_NMI_WINDOW:
		if (vmread(VMCS_GUEST_INTERRUPTIBILITY_INFO) & INTERRUPTIBILITY_NMI)
			fail("NMI-window exit with virtual-NMI blocking", 0);
		irq.nmi_window_exits++;
		break;
	case EXIT_TPR_BELOW_THRESHOLD:
		/* 30.1.2: trap-like, after the MOV to CR8; VTPR holds the value. */
		if ((vapic_page[0x80] >> 4) >= TPR_THRESHOLD || (vapic_page[0x80] & 0xf) || read_cr8() != 0)
			fail("VTPR at a TPR-below-threshold exit", vapic_page[0x80]);
		/* The interrupt would now be delivered: no threshold until L2
		 * masks it again. */
		write_field(VMCS_TPR_THRESHOLD, 0);
		irq.tpr_exits++;
		break;
	case EXIT_PREEMPTION_TIMER:
		/* 26.5.1: trap-like; it counts in HLT too (the exit saves
		 * activity state HLT, 28.3.4, and L1 resumes L2 halted). The
		 * field keeps its value (no "save VMX-preemption timer value"):
		 * each VM entry starts the timer again from it. */
		irq.preempt_exits++;
		irq.preempt_in_hlt += vmread(VMCS_GUEST_ACTIVITY_STATE) == ACTIVITY_HLT;
		break;
	case EXIT_MONITOR_TRAP_FLAG:
		mtf_exit(vmread(VMCS_GUEST_RIP));
		break;
	case EXIT_VMCALL:
		vmcall_exit(r);
		break;
	default:
		printf("l1hv: exit qualification 0x%lx at L2 rip 0x%lx\n", vmread(VMCS_EXIT_QUALIFICATION),
		       vmread(VMCS_GUEST_RIP));
		fail("unexpected exit reason", reason);
	}
	if (irq.p == IRQ_INJECT)
		inject_pending();
}
