/*
 * cpu_probe: what the CPU under this user-space process does for the few
 * instructions where the kvm-qemu environment diverges from the SDM
 * (tests/kvm/divergences.txt). Each probe runs one instruction in user space
 * and reports the signal, the trap number, RIP, the change of RSP and
 * RFLAGS.RF the kernel saw in the exception frame (struct ucontext), then
 * resumes after the probe.
 *
 * kvm_tests.sh prints the output as TAP comments: run on the host it shows
 * the hardware's behaviour, run inside kvm_qemu.sh's guest it shows QEMU
 * TCG's, with no KVM involved. It asserts nothing: the self-test comparison
 * does; this is the evidence behind the table's entries, measured each run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

#define RFLAGS_RF (1ul << 16)
#define RFLAGS_AC (1ul << 18)

/* Read and written by the probes' inline assembly. */
unsigned long probe_resume_rip, probe_resume_rsp, probe_saved_rbp, probe_int3_rip;

static volatile int got_sig, go_to_int3;
static volatile unsigned long got_rip, got_rsp, got_trap, got_rflags;

static void on_signal(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	(void)si;
	got_sig = sig;
	got_rip = (unsigned long)g[REG_RIP];
	got_rsp = (unsigned long)g[REG_RSP];
	got_trap = (unsigned long)g[REG_TRAPNO];
	got_rflags = (unsigned long)g[REG_EFL];
	g[REG_EFL] &= ~(greg_t)RFLAGS_AC;
	if (go_to_int3) {
		/* Return (IRET) to an INT3 with RF = 1 in RFLAGS. */
		go_to_int3 = 0;
		g[REG_RIP] = (greg_t)probe_int3_rip;
		g[REG_EFL] |= (greg_t)RFLAGS_RF;
		return;
	}
	g[REG_RIP] = (greg_t)probe_resume_rip;
	g[REG_RSP] = (greg_t)probe_resume_rsp;
}

/* Run `body`; a signal resumes at label 9 with the RSP of the start. */
#define PROBE(what, body, ...)                                                                     \
	do {                                                                                       \
		got_sig = 0;                                                                       \
		__asm__ volatile("lea 9f(%%rip), %%rax\n\tmov %%rax, probe_resume_rip(%%rip)\n\t"   \
				 "mov %%rsp, probe_resume_rsp(%%rip)\n\t"                           \
				 "mov %%rbp, probe_saved_rbp(%%rip)\n\t" body "\n"                  \
				 "9: mov probe_saved_rbp(%%rip), %%rbp" ::__VA_ARGS__               \
				 : "rax", "rcx", "memory", "cc");                                   \
		report(what);                                                                      \
	} while (0)

static void report(const char *what)
{
	if (!got_sig) {
		printf("%-34s no exception\n", what);
		return;
	}
	printf("%-34s signal %2d, trap %2lu, RIP %#lx, RSP %+ld, RF %lu\n", what, got_sig, got_trap, got_rip,
	       (long)(got_rsp - probe_resume_rsp), (got_rflags & RFLAGS_RF) ? 1ul : 0ul);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	unsigned long nc = 0x8000000000000000ul; /* non-canonical */
	static char buf[16] __attribute__((aligned(16)));

	/* SDM 2A INT1: a trap-like #DB (trap 1, RIP after the F1). */
	PROBE("INT1 (F1)", ".byte 0xf1");
	/* SDM 3A 6.15 Interrupt 12: #SS (trap 12) for a stack reference. */
	PROBE("MOV 8(%RBP), RBP non-canonical", "mov %0, %%rbp\n\tmov 8(%%rbp), %%rcx", "r"(nc));
	/* SDM 3A 6.15 Interrupt 13 and 18.3.1.1: #GP, a fault: RF = 1 pushed. */
	PROBE("MOV (%RCX), RCX non-canonical", "mov %0, %%rcx\n\tmov (%%rcx), %%rcx", "r"(nc));
	/* SDM 2A JMP, CALL: #GP on the branch, RIP at it, nothing pushed. */
	PROBE("JMP to a non-canonical address", "jmp *%0", "r"(nc));
	PROBE("CALL to a non-canonical address", "call *%0", "r"(nc));
	/* SDM 3A 6.15 Interrupt 17: #AC (trap 17); Linux sets CR0.AM. */
	PROBE("misaligned load with RFLAGS.AC = 1",
	      "pushf\n\torq $0x40000, (%%rsp)\n\tpopf\n\tmov 1(%0), %%ecx\n\t"
	      "pushf\n\tandq $~0x40000, (%%rsp)\n\tpopf",
	      "r"(buf));
	/* SDM 3A 18.3.1.1: RF is cleared as the next instruction completes; an
	 * INT3 right after an IRET that loaded RF = 1 pushes RF = 0. */
	go_to_int3 = 1;
	PROBE("INT3 right after IRET with RF = 1",
	      "lea 8f(%%rip), %%rcx\n\tmov %%rcx, probe_int3_rip(%%rip)\n\t"
	      "mov %0, %%rcx\n\tmov (%%rcx), %%rcx\n8: int3",
	      "r"(nc));
	/* SDM 2A LDMXCSR: #GP(0) (trap 13) for a reserved MXCSR bit. */
	static unsigned int mxcsr_bad = 0x11f80, mxcsr_zm = 0x1d80, mxcsr_default = 0x1f80;
	PROBE("LDMXCSR with reserved bit 16", "ldmxcsr %0", "m"(mxcsr_bad));
	/* SDM 1 11.5.4, 3A Table 13-1: an unmasked divide-by-zero raises #XM
	 * (trap 19, SIGFPE) with CR4.OSXMMEXCPT = 1, as Linux runs. */
	static const float one = 1.0f, zero = 0.0f;
	PROBE("DIVSS 1/0 with ZM = 0", "ldmxcsr %0\n\tmovss %1, %%xmm0\n\tdivss %2, %%xmm0", "m"(mxcsr_zm),
	      "m"(one), "m"(zero));
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr_default));
	/* SDM 2A FLDCW, 1 8.6: a set flag that FLDCW unmasks is raised (#MF,
	 * trap 16, SIGFPE) by the next waiting instruction. */
	static unsigned short fcw_zm = 0x037b;
	PROBE("FLDCW unmasking a set ZE, then WAIT", "fninit\n\tfld1\n\tfldz\n\tfdivrp\n\tfldcw %0\n\tfwait",
	      "m"(fcw_zm));
	__asm__ volatile("fninit");
	return 0;
}
