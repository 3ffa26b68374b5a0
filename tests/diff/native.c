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
#include <asm/ldt.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "diff.h"

void diff_native_call(struct diff_regs *r, const void *code);
void diff_native_return(void);
void diff_native_return_taken(void);
extern volatile uint8_t diff_native_taken;

/* Linux's user segments (arch/x86/include/asm/segment.h): __USER32_CS,
 * __USER_DS, __USER_CS. */
#define USER32_CS 0x23
#define USER_DS 0x2b
#define USER_CS 0x33
/* The suite's own LDT entries (modify_ldt): 16-bit code based at the code
 * page, 16-bit data based at the data pages; TI = 1, RPL 3. */
#define LDT_CS16 0x07
#define LDT_DS16 0x0f

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
	if ((uc->uc_mcontext.gregs[REG_CSGSFS] & 0xffff) == LDT_CS16)
		rip += DIFF_CODE_VA; /* an offset in the 16-bit code segment */
	/* A fault on the instruction, or on fetching a branch target on the
	 * page before the code page. */
	if (rip < DIFF_CODE_VA - 4096 || rip >= DIFF_CODE_VA + 4096) {
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
	/* The x87/SSE state at the fault: the signal frame's FXSAVE image
	 * (with the MXCSR flags a #XM set). */
	if (uc->uc_mcontext.fpregs)
		memcpy(fault_regs.fx, uc->uc_mcontext.fpregs, sizeof(fault_regs.fx));
	fault_rip = rip;
	fault_vector = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	fault_error = (uint32_t)uc->uc_mcontext.gregs[REG_ERR];
	fault_addr = (uint64_t)(uintptr_t)si->si_addr;
	siglongjmp(fault_jb, 1);
}


bool native_compat_ok, native_code16_ok;

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* jmp [rip+0] followed by the 64-bit target (FF /4, RIP-relative). */
static void put_jmp64(uint8_t *p, void (*target)(void))
{
	uint64_t t = (uint64_t)(uintptr_t)target;
	p[0] = 0xff;
	p[1] = 0x25;
	put32(p + 2, 0);
	memcpy(p + 6, &t, 8);
}

/* An m16:32 far pointer. */
static void put_farptr(uint8_t *p, uint64_t off, uint16_t sel)
{
	put32(p, (uint32_t)off);
	memcpy(p + 4, &sel, 2);
}

void diff_code_bytes(const struct diff_case *c, uint8_t *code)
{
	memcpy(code, c->code, c->len);
	uint8_t *p = code + c->len;
	if (c->code16) {
		/* jmp far cs:[PTR64 - CS base] (2E 66 FF /5, disp16): m16:32 */
		static const uint8_t jmp16[6] = { 0x2e, 0x66, 0xff, 0x2e };
		memcpy(p, jmp16, 4);
		uint16_t off = (uint16_t)(DIFF_CODE_PTR64 - DIFF_CODE_VA);
		memcpy(p + 4, &off, 2);
	} else if (c->compat) {
		/* jmp far [DIFF_CODE_PTR64] (FF /5, disp32) back to 64-bit code */
		p[0] = 0xff;
		p[1] = 0x2d;
		put32(p + 2, (uint32_t)DIFF_CODE_PTR64);
	} else {
		put_jmp64(p, diff_native_return);
	}
}

#define AT(va) (t + ((va) - DIFF_CODE_VA - DIFF_CODE_FIXED))

void diff_code_fixed(uint8_t *t)
{
	memset(t, 0xcc, 4096 - DIFF_CODE_FIXED);
	/* The sled: NOPs, then jmp far [abs32] (FF /5 with a SIB "no base,
	 * no index" disp32: the same absolute operand in 64-bit and 32-bit
	 * code) through PTR_TAKEN. */
	memset(AT(DIFF_SLED_LO), 0x90, DIFF_SLED_HI - DIFF_SLED_LO);
	uint8_t *j = AT(DIFF_SLED_HI);
	j[0] = 0xff;
	j[1] = 0x2c;
	j[2] = 0x25;
	put32(j + 3, (uint32_t)DIFF_CODE_PTR_TAKEN);
	put_farptr(AT(DIFF_CODE_PTR_TAKEN), DIFF_CODE_EXIT_TAKEN, USER_CS);
	put_jmp64(AT(DIFF_CODE_EXIT_TAKEN), diff_native_return_taken);
	/* ENTRY32 (64-bit code): jmp far [rip + to PTR32] */
	uint8_t *e = AT(DIFF_CODE_ENTRY32);
	e[0] = 0xff;
	e[1] = 0x2d;
	put32(e + 2, (uint32_t)(DIFF_CODE_PTR32 - (DIFF_CODE_ENTRY32 + 6)));
	put_farptr(AT(DIFF_CODE_PTR32), DIFF_CODE_VA, USER32_CS);
	put_farptr(AT(DIFF_CODE_PTR64), DIFF_CODE_EXIT64, USER_CS);
	/* ENTRY16 (64-bit code): mov ds/es/ss, [rip + to SEL16] (8E /r), then
	 * jmp far [rip + to PTR16]: no register or flag changes. */
	uint8_t *e16 = AT(DIFF_CODE_ENTRY16);
	static const uint8_t sregs[3] = { 0x1d, 0x05, 0x15 }; /* ModRM: ds, es, ss with [rip+disp32] */
	for (unsigned k = 0; k < 3; k++) {
		e16[6 * k] = 0x8e;
		e16[6 * k + 1] = sregs[k];
		put32(e16 + 6 * k + 2, (uint32_t)(DIFF_CODE_SEL16 - (DIFF_CODE_ENTRY16 + 6 * k + 6)));
	}
	e16[18] = 0xff;
	e16[19] = 0x2d;
	put32(e16 + 20, (uint32_t)(DIFF_CODE_PTR16 - (DIFF_CODE_ENTRY16 + 24)));
	uint16_t sel = LDT_DS16;
	memcpy(AT(DIFF_CODE_SEL16), &sel, 2);
	put_farptr(AT(DIFF_CODE_PTR16), 0, LDT_CS16);
	put_jmp64(AT(DIFF_CODE_EXIT64), diff_native_return);
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
	diff_code_fixed((uint8_t *)DIFF_CODE_VA + DIFF_CODE_FIXED);

	/* Does this kernel run 32-bit user code (CONFIG_IA32_EMULATION, not
	 * disabled with ia32_emulation=0)? Try a NOP in compatibility mode. */
	static struct diff_case probe;
	static struct diff_out out;
	memset(&probe, 0, sizeof(probe));
	probe.code[0] = 0x90;
	probe.len = 1;
	probe.compat = true;
	probe.in.gpr[DIFF_RSP] = DIFF_WIN_VA + DIFF_WIN_SIZE / 2;
	probe.in.rflags = 0x202;
	native_compat_ok = true;
	native_code16_ok = true;
	native_run(&probe, &out);
	native_compat_ok = out.fault == DIFF_NO_FAULT;

	/* 16-bit segments in our LDT (modify_ldt(2)); then the same probe. */
	struct user_desc cs16 = {
		.entry_number = LDT_CS16 >> 3, .base_addr = DIFF_CODE_VA, .limit = 0xffff,
		.contents = MODIFY_LDT_CONTENTS_CODE, .useable = 1,
	};
	struct user_desc ds16 = {
		.entry_number = LDT_DS16 >> 3, .base_addr = DIFF_DATA_VA, .limit = 0xffff,
		.contents = MODIFY_LDT_CONTENTS_DATA, .useable = 1,
	};
	native_code16_ok = !syscall(SYS_modify_ldt, 1, &cs16, sizeof(cs16)) &&
			   !syscall(SYS_modify_ldt, 1, &ds16, sizeof(ds16));
	if (native_code16_ok) {
		probe.compat = true;
		probe.code16 = true;
		probe.in.gpr[DIFF_RSP] = 0x1000;
		native_run(&probe, &out);
		native_code16_ok = out.fault == DIFF_NO_FAULT;
	}
	return 0;
}

void native_run(const struct diff_case *c, struct diff_out *o)
{
	uint8_t *code = (uint8_t *)DIFF_CODE_VA;
	uint8_t *win = (uint8_t *)DIFF_WIN_VA, *tail = (uint8_t *)DIFF_TAIL_VA;
	diff_code_bytes(c, code);
	if (c->compat) {
		/* A 64-bit process runs with null DS/ES, which 32-bit code
		 * cannot use. */
		uint16_t ds = USER_DS;
		__asm__ volatile("mov %0, %%ds\n\tmov %0, %%es" : : "r"(ds));
	}
	memcpy(win, c->mem, DIFF_WIN_SIZE);
	memcpy(tail, c->mem + DIFF_WIN_SIZE, DIFF_TAIL_SIZE);
	o->r = c->in;
	o->fault = DIFF_NO_FAULT;
	o->error = 0;
	o->cr2 = 0;
	o->rip = DIFF_CODE_VA + c->len;
	diff_native_taken = 0;
	if (sigsetjmp(fault_jb, 1) == 0) {
		diff_native_call(&o->r, c->code16   ? (uint8_t *)DIFF_CODE_ENTRY16 :
					c->compat ? (uint8_t *)DIFF_CODE_ENTRY32 :
						    code);
		/* The sled tells that a branch was taken; where it went is the
		 * target the case was made with (checked exactly on the emu). */
		if (diff_native_taken)
			o->rip = c->target;
	} else {
		o->r = fault_regs;
		o->fault = fault_vector;
		if (c->target && fault_rip == c->target && fault_vector == 14) {
			/* The branch completed; fetching at its target faulted,
			 * which is the next instruction's business. */
			o->fault = DIFF_NO_FAULT;
			o->rip = c->target;
			memcpy(o->mem, win, DIFF_WIN_SIZE);
			memcpy(o->mem + DIFF_WIN_SIZE, tail, DIFF_TAIL_SIZE);
			return;
		}
		o->rip = fault_rip; /* DIFF_CODE_VA unless the suite itself faulted */
		if (o->fault == 14) {
			o->cr2 = fault_addr;
			o->error = fault_error & 3; /* P, W: user mode sets U/S */
		} else {
			o->error = fault_error;
		}
	}
	if (c->code16) {
		/* Back to Linux's flat selectors (ENTRY16 loaded ours). */
		uint16_t ds = USER_DS;
		__asm__ volatile("mov %0, %%ds\n\tmov %0, %%es\n\tmov %0, %%ss" : : "r"(ds));
	}
	memcpy(o->mem, win, DIFF_WIN_SIZE);
	memcpy(o->mem + DIFF_WIN_SIZE, tail, DIFF_TAIL_SIZE);
}
