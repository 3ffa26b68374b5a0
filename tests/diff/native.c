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
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "diff.h"

void diff_native_call(struct diff_regs *r, const void *code);
void diff_native_return(void);

static sigjmp_buf fault_jb;
static volatile sig_atomic_t fault_vector;
static struct diff_regs fault_regs;

/* ucontext general registers in the encoding order of struct diff_regs. */
static const int greg_of[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8,	 REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static uint64_t fault_rip, fault_addr;
static uint32_t fault_error;

/*
 * Linux reports the vector and error code of the exception behind a signal
 * in the signal frame (struct sigcontext trapno and err, arch/x86 traps.c),
 * and the faulting address of a #PF in si_addr.
 */
static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	const ucontext_t *uc = ctx;
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	if (rip < DIFF_CODE_VA || rip >= DIFF_CODE_VA + 4096) {
		/* Not the instruction under test: the suite itself crashed. */
		static const char msg[] = "diff: fatal signal outside the code page\n";
		if (write(2, msg, sizeof(msg) - 1) < 0)
			_exit(3);
		signal(sig, SIG_DFL);
		return; /* re-executes and dies with the default action */
	}
	for (int k = 0; k < 16; k++)
		fault_regs.gpr[k] = (uint64_t)uc->uc_mcontext.gregs[greg_of[k]];
	fault_regs.rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
	fault_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	fault_vector = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	fault_error = (uint32_t)uc->uc_mcontext.gregs[REG_ERR];
	fault_addr = (uint64_t)(uintptr_t)si->si_addr;
	siglongjmp(fault_jb, 1);
}

void diff_code_bytes(const struct diff_case *c, uint8_t *code)
{
	/* The instruction, then jmp [rip+0] to diff_native_return. */
	static const uint8_t jmp_rip0[6] = { 0xff, 0x25, 0, 0, 0, 0 };
	uint64_t back = (uint64_t)(uintptr_t)diff_native_return;
	memcpy(code, c->code, c->len);
	memcpy(code + c->len, jmp_rip0, sizeof(jmp_rip0));
	memcpy(code + c->len + sizeof(jmp_rip0), &back, sizeof(back));
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
	/* glibc keeps TLS in FS; GS is free for gs-prefixed cases. */
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, DIFF_GS_BASE)) {
		fprintf(stderr, "diff: cannot set the GS base: %s\n", strerror(errno));
		return -1;
	}
	/* RSP belongs to the case while it runs: signals use their own stack. */
	static uint8_t altstack[64 * 1024] __attribute__((aligned(16)));
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	if (sigaltstack(&ss, NULL))
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
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
	diff_code_bytes(c, code);
	memcpy(win, c->mem, DIFF_WIN_SIZE);
	o->r = c->in;
	o->fault = DIFF_NO_FAULT;
	o->error = 0;
	o->cr2 = 0;
	o->rip = DIFF_CODE_VA + c->len;
	if (sigsetjmp(fault_jb, 1) == 0) {
		diff_native_call(&o->r, code);
	} else {
		o->r = fault_regs;
		o->fault = fault_vector;
		o->rip = fault_rip; /* DIFF_CODE_VA unless the suite itself faulted */
		if (o->fault == 14) {
			o->cr2 = fault_addr;
			o->error = fault_error & 3; /* P, W: user mode sets U/S */
		} else {
			o->error = fault_error;
		}
	}
	memcpy(o->mem, win, DIFF_WIN_SIZE);
}
