/*
 * The reference side of the differential suite: the host CPU runs the
 * instruction from an executable page at DIFF_CODE_VA. Faults arrive as
 * signals; the handler copies the register state at the fault from the
 * signal context and unwinds with siglongjmp.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "diff.h"

void diff_native_call(struct diff_regs *r, const void *code);

static sigjmp_buf fault_jb;
static volatile sig_atomic_t fault_vector;
static struct diff_regs fault_regs;
static uint64_t fault_rip;

/* ucontext general registers in the encoding order of struct diff_regs. */
static const int greg_of[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8,	 REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

/*
 * Linux turns exceptions in user mode into signals (arch/x86/kernel/traps.c):
 * #DE -> SIGFPE, #UD -> SIGILL, #GP -> SIGSEGV with si_code SI_KERNEL,
 * #PF -> SIGSEGV with SEGV_MAPERR/SEGV_ACCERR, #SS and #AC -> SIGBUS.
 */
static int vector_of(int sig, const siginfo_t *si)
{
	switch (sig) {
	case SIGFPE:
		return 0;
	case SIGILL:
		return 6;
	case SIGSEGV:
		return si->si_code == SI_KERNEL ? 13 : 14;
	case SIGBUS:
		return si->si_code == BUS_ADRALN ? 17 : 12;
	default:
		return 1;
	}
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	const ucontext_t *uc = ctx;
	for (int k = 0; k < 16; k++)
		fault_regs.gpr[k] = (uint64_t)uc->uc_mcontext.gregs[greg_of[k]];
	fault_regs.rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
	fault_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	fault_vector = vector_of(sig, si);
	siglongjmp(fault_jb, 1);
}

int native_init(void)
{
	void *code = mmap((void *)DIFF_CODE_VA, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	void *data = mmap((void *)DIFF_DATA_VA, DIFF_DATA_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (code != (void *)DIFF_CODE_VA || data != (void *)DIFF_DATA_VA) {
		fprintf(stderr, "diff: cannot map the host pages at 0x%llx/0x%llx: %s\n",
			DIFF_CODE_VA, DIFF_DATA_VA, strerror(errno));
		return -1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	int sigs[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP };
	for (unsigned k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
		if (sigaction(sigs[k], &sa, NULL))
			return -1;
	return 0;
}

void native_run(const struct diff_case *c, struct diff_out *o)
{
	uint8_t *code = (uint8_t *)DIFF_CODE_VA;
	uint8_t *win = (uint8_t *)DIFF_WIN_VA;
	memcpy(code, c->code, c->len);
	code[c->len] = 0xc3; /* RET */
	memcpy(win, c->mem, DIFF_WIN_SIZE);
	o->r = c->in;
	o->fault = DIFF_NO_FAULT;
	o->rip = DIFF_CODE_VA + c->len;
	if (sigsetjmp(fault_jb, 1) == 0) {
		diff_native_call(&o->r, code);
	} else {
		o->r = fault_regs;
		o->fault = fault_vector;
		o->rip = fault_rip; /* DIFF_CODE_VA unless the suite itself faulted */
	}
	memcpy(o->mem, win, DIFF_WIN_SIZE);
}
