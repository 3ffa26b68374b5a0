/*
 * selftest-exceptions: exception delivery in 64-bit mode, checked against the
 * Intel SDM Vol. 3A chapter 6 (each result names its section).
 *
 * For every exception: the vector, the error code (or that none was pushed:
 * the frame's CS/SS/RSP slots only line up if the CPU pushed exactly what
 * SDM Table 6-1 says), the saved RIP (faults: the faulting instruction; traps:
 * the next one), the saved RSP, CS and SS, and what the CPU does to RFLAGS.
 * Then IST stacks, stack switches from CPL 3, error codes that name IDT and
 * GDT entries, and the double-fault rules of Table 6-5.
 *
 * Command line: "triple" makes the guest triple-fault on purpose instead
 * (the VM must stop with status 4 and a state dump; tests/py checks that).
 */
#include <guest/desc.h>
#include <guest/exc.h>
#include <guest/guest.h>
#include <guest/io.h>
#include <guest/paging.h>
#include <guest/tap.h>

/* A linear address that nothing maps: PML4 entry 1 is empty after boot. */
#define UNMAPPED_VA 0x0000008000000000ull
#define NONCANONICAL 0x8000000000000000ull

/* Where an EXC_SAFE instruction was, and RSP just before it. */
struct site {
	uint64_t rip, rsp;
};

/* Check the record of an exception: vector, error code, saved RIP, and the
 * rest of the frame for a same-privilege delivery (SDM 3A 6.14.2: SS, RSP,
 * RFLAGS, CS, RIP, error code; SS keeps its selector at CPL 0). */
static void expect(const char *what, const char *sdm, int vector, uint64_t error, uint64_t rip,
		   const struct site *at)
{
	tap_eq((uint64_t)exc_last.vector, (uint64_t)vector, "%s: vector %d (SDM %s)", what, vector, sdm);
	tap_eq(exc_last.error, error, "%s: error code (SDM %s, 6.13)", what, sdm);
	tap_eq(exc_last.rip, rip, "%s: saved RIP (SDM %s)", what, sdm);
	if (at) {
		tap_eq(exc_last.rsp, at->rsp, "%s: saved RSP is RSP before the exception (SDM 3A 6.14.2)",
		       what);
		tap_ok(exc_last.cs == SEL_KCODE && exc_last.ss == SEL_KDATA,
		       "%s: saved CS 0x%lx, SS 0x%lx are the interrupted ones (SDM 3A 6.14.2)", what,
		       exc_last.cs, exc_last.ss);
	}
}

/* ---- faults and traps at CPL 0 ---- */

static void test_de(void)
{
	struct site at;
	uint64_t rax = 1234, rdx = 0;
	exc_reset();
	__asm__ volatile("lea 6661f(%%rip), %%r8; mov %%r8, %2; mov %%rsp, %3\n\t" EXC_SAFE("divq %4")
			 : "+a"(rax), "+d"(rdx), "=m"(at.rip), "=m"(at.rsp)
			 : "r"(0ull)
			 : "r8", "memory");
	/* SDM 3A 6.15 "Interrupt 0": a fault, no error code; 6.5: a fault
	 * leaves the state of before the instruction (RAX unchanged). */
	expect("#DE divide by zero", "3A 6.15 Interrupt 0", X86_DE, 0, at.rip, &at);
	tap_eq(rax, 1234, "#DE: RAX unchanged by the faulting DIV (SDM 3A 6.5)");

	/* IDIV of INT64_MIN by -1: the quotient does not fit (SDM 2A IDIV). */
	rax = 0x8000000000000000ull;
	rdx = ~0ull;
	exc_reset();
	__asm__ volatile("lea 6661f(%%rip), %%r8; mov %%r8, %2\n\t" EXC_SAFE("idivq %3")
			 : "+a"(rax), "+d"(rdx), "=m"(at.rip)
			 : "r"(~0ull)
			 : "r8", "memory");
	expect("#DE IDIV overflow", "2A IDIV", X86_DE, 0, at.rip, NULL);

	/* 8-bit DIV: AX 0x1000 / 2 = 0x800 does not fit in AL (SDM 2A DIV). */
	rax = 0x1000;
	exc_reset();
	__asm__ volatile("lea 6661f(%%rip), %%r8; mov %%r8, %1\n\t" EXC_SAFE("divb %2")
			 : "+a"(rax), "=m"(at.rip)
			 : "q"((uint8_t)2)
			 : "r8", "rdx", "memory");
	expect("#DE 8-bit DIV overflow", "2A DIV", X86_DE, 0, at.rip, NULL);
}

static uint64_t step_rip[8];
static unsigned step_n;
uint64_t step_stop;
static uint64_t step_dr6, step_flags_in_handler;

static bool on_single_step(struct exc_frame *f)
{
	uint64_t dr6;
	__asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
	step_dr6 = dr6;
	step_flags_in_handler = read_rflags();
	if (step_n < 8)
		step_rip[step_n] = f->rip;
	step_n++;
	if (f->rip == step_stop)
		f->rflags &= ~RFLAGS_TF;
	return true;
}

static void test_db(void)
{
	uint64_t l[4];
	exc_set_handler(X86_DB, on_single_step);
	step_n = 0;
	__asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, %0\n\t"
			 "lea 2f(%%rip), %%rax; mov %%rax, %1\n\t"
			 "lea 3f(%%rip), %%rax; mov %%rax, %2\n\t"
			 "lea 4f(%%rip), %%rax; mov %%rax, %3\n\t"
			 "mov %%rax, step_stop(%%rip)\n\t"
			 "pushfq; orq $0x100, (%%rsp); popfq\n"
			 "1: nop\n"
			 "2: xchg %%rcx, %%rcx\n"
			 "3: nop\n"
			 "4:\n"
			 : "=m"(l[0]), "=m"(l[1]), "=m"(l[2]), "=m"(l[3])
			 :
			 : "rax", "memory");
	/* SDM 3A 18.3.1.4: no trap after the POPF that sets TF; then one trap
	 * after each instruction, with RIP at the next one. */
	tap_eq(step_n, 3, "#DB single-step: one trap per instruction after the one setting TF (SDM 3A 18.3.1.4)");
	tap_ok(step_rip[0] == l[1] && step_rip[1] == l[2] && step_rip[2] == l[3],
	       "#DB single-step: saved RIP is the next instruction (trap, SDM 3A 6.15 Interrupt 1)");
	tap_ok(step_dr6 & (1ull << 14), "#DB single-step: DR6.BS set (SDM 3A 18.2.3)");
	tap_ok(exc_last.rflags & RFLAGS_TF, "#DB: saved RFLAGS has TF (SDM 3A 6.12.1.3)");
	tap_ok(!(step_flags_in_handler & RFLAGS_TF), "#DB: TF clear in the handler (SDM 3A 6.12.1.3)");
	tap_ok(!(read_rflags() & RFLAGS_TF), "#DB: TF stays clear once the handler cleared it");

	/* MOV SS inhibits the single-step trap up to the boundary after the
	 * next instruction (SDM 3A 6.8.3). */
	step_n = 0;
	__asm__ volatile("lea 2f(%%rip), %%rax; mov %%rax, %0\n\t"
			 "lea 3f(%%rip), %%rax; mov %%rax, %1\n\t"
			 "mov %%rax, step_stop(%%rip)\n\t"
			 "mov %%ss, %%ecx\n\t"
			 "pushfq; orq $0x100, (%%rsp); popfq\n"
			 "1: mov %%ecx, %%ss\n"
			 "   nop\n"
			 "2: nop\n"
			 "3:\n"
			 : "=m"(l[0]), "=m"(l[1])
			 :
			 : "rax", "rcx", "memory");
	exc_set_handler(X86_DB, NULL);
	tap_ok(step_n == 2 && step_rip[0] == l[0] && step_rip[1] == l[1],
	       "#DB single-step: no trap right after MOV SS (SDM 3A 6.8.3) [%u traps]", step_n);

	/* INT1 (F1): a #DB trap (SDM 2A "INT n/INTO/INT3/INT1"). EXC_SAFE:
	 * a CPU that faults on F1 instead is reported, not fatal. */
	uint64_t next;
	exc_set_handler(X86_DB, exc_resume);
	exc_reset();
	__asm__ volatile(EXC_SAFE(".byte 0xf1") "\n\tlea 6662b(%%rip), %0" : "=r"(next) : : "memory");
	exc_set_handler(X86_DB, NULL);
	expect("INT1", "2A INT1", X86_DB, 0, next, NULL);
}

static void test_bp_int(void)
{
	struct site at;
	uint64_t next;
	exc_set_handler(X86_BP, exc_resume);
	exc_set_handler(0x40, exc_resume);
	exc_reset();
	__asm__ volatile("mov %%rsp, %1\n\tint3\n1: lea 1b(%%rip), %0" : "=r"(next), "=m"(at.rsp) : : "memory");
	/* SDM 3A 6.15 "Interrupt 3": a trap; RIP after the INT3. */
	expect("#BP INT3", "3A 6.15 Interrupt 3", X86_BP, 0, next, &at);

	exc_reset();
	__asm__ volatile("int $0x40\n1: lea 1b(%%rip), %0" : "=r"(next) : : "memory");
	expect("INT 0x40", "2A INT n", 0x40, 0, next, NULL);
	exc_set_handler(0x40, NULL);
}

/* Handlers that read RFLAGS as the handler sees it. */
static uint64_t flags_in_handler;
static bool read_flags_handler(struct exc_frame *f)
{
	(void)f;
	flags_in_handler = read_rflags();
	return true;
}

static void test_gate_types(void)
{
	exc_set_handler(0x40, read_flags_handler);
	exc_set_handler(0x41, read_flags_handler);
	exc_set_gate(0x41, 0, true, 0);
	sti();
	__asm__ volatile("int $0x40" ::: "memory");
	uint64_t intr = flags_in_handler;
	__asm__ volatile("int $0x41" ::: "memory");
	uint64_t trap = flags_in_handler;
	cli();
	tap_ok(!(intr & RFLAGS_IF), "interrupt gate clears IF in the handler (SDM 3A 6.12.1.3)");
	tap_ok(trap & RFLAGS_IF, "trap gate leaves IF set in the handler (SDM 3A 6.12.1.3)");
	tap_ok(exc_last.rflags & RFLAGS_IF, "saved RFLAGS has the interrupted IF (SDM 3A 6.14.2)");
	exc_set_gate(0x41, 0, false, 0);
	exc_set_handler(0x40, NULL);
	exc_set_handler(0x41, NULL);
}

static void test_ud(void)
{
	struct site at;
	exc_reset();
	__asm__ volatile("lea 6661f(%%rip), %%rax; mov %%rax, %0; mov %%rsp, %1\n\t" EXC_SAFE("ud2")
			 : "=m"(at.rip), "=m"(at.rsp)
			 :
			 : "rax", "memory");
	expect("#UD UD2", "3A 6.15 Interrupt 6", X86_UD, 0, at.rip, &at);

	/* An SSE3 instruction: tortuga's CPU does not implement SSE3 (CPUID
	 * says so), and reports it as #UD with a trace event naming the
	 * mnemonic. */
	exc_reset();
	__asm__ volatile("lea 6661f(%%rip), %%rax; mov %%rax, %0\n\t" EXC_SAFE(".byte 0xf2, 0x0f, 0x7c, 0xc1")
			 : "=m"(at.rip)
			 :
			 : "rax", "memory");
	expect("#UD unimplemented instruction (HADDPS)", "3A 6.15 Interrupt 6", X86_UD, 0, at.rip, NULL);

	/* INTO is invalid in 64-bit mode (SDM 2A INTO: "#UD If in 64-bit mode"). */
	exc_reset();
	__asm__ volatile("lea 6661f(%%rip), %%rax; mov %%rax, %0\n\t" EXC_SAFE(".byte 0xce")
			 : "=m"(at.rip)
			 :
			 : "rax", "memory");
	expect("#UD INTO in 64-bit mode", "2A INTO", X86_UD, 0, at.rip, NULL);

	/* LOCK on an instruction that cannot be locked (SDM 2A LOCK). */
	exc_reset();
	__asm__ volatile("lea 6661f(%%rip), %%rax; mov %%rax, %0\n\t" EXC_SAFE(".byte 0xf0, 0x48, 0x01, 0xc3")
			 : "=m"(at.rip)
			 :
			 : "rax", "rbx", "memory");
	expect("#UD LOCK ADD with a register destination", "2A LOCK", X86_UD, 0, at.rip, NULL);
}

/* Load DS (or SS) with sel and expect vector with the selector as the error
 * code (SDM 2B MOV; 3A 6.13). */
static void seg_load(uint16_t sel, bool ss, int vector, const char *what)
{
	exc_reset();
	if (ss)
		__asm__ volatile("push %%rax; mov %0, %%eax\n\t" EXC_SAFE("mov %%eax, %%ss") "pop %%rax"
				 : : "r"((uint32_t)sel) : "memory");
	else
		__asm__ volatile("push %%rax; mov %0, %%eax\n\t" EXC_SAFE("mov %%eax, %%ds") "pop %%rax"
				 : : "r"((uint32_t)sel) : "memory");
	tap_eq((uint64_t)exc_last.vector, (uint64_t)vector, "%s: vector %d (SDM 2B MOV)", what, vector);
	tap_eq(exc_last.error, sel, "%s: error code is the selector (SDM 3A 6.13)", what);
}

static void test_gp_ss(void)
{
	struct site at;
	uint64_t v;
	/* Non-canonical data address (SDM 3A 6.15 Interrupt 13, 3.3.7.1). */
	exc_reset();
	__asm__ volatile("lea 6661f(%%rip), %%rax; mov %%rax, %0; mov %%rsp, %1\n\t" EXC_SAFE("movq (%3), %2")
			 : "=m"(at.rip), "=m"(at.rsp), "=r"(v)
			 : "r"(NONCANONICAL)
			 : "rax", "memory");
	expect("#GP non-canonical address", "3A 6.15 Interrupt 13", X86_GP, 0, at.rip, &at);

	/* The same through RBP: a stack reference, #SS(0) (3A 6.15 Interrupt 12). */
	exc_reset();
	__asm__ volatile("lea 6661f(%%rip), %%rax; mov %%rax, %0\n\t"
			 "push %%rbp; mov %2, %%rbp\n\t" EXC_SAFE("movq 8(%%rbp), %1") "pop %%rbp"
			 : "=m"(at.rip), "=r"(v)
			 : "r"(NONCANONICAL)
			 : "rax", "memory");
	expect("#SS non-canonical stack reference", "3A 6.15 Interrupt 12", X86_SS, 0, at.rip, NULL);

	/* MSRs (SDM 2B RDMSR/WRMSR: #GP(0) for unimplemented MSRs). */
	tap_eq((uint64_t)exc_rdmsr_safe(0x12345678, &v), X86_GP, "RDMSR of an unimplemented MSR: #GP (SDM 2B RDMSR)");
	tap_eq(exc_last.error, 0, "RDMSR #GP error code 0 (SDM 2B RDMSR)");
	tap_eq((uint64_t)exc_wrmsr_safe(0x12345678, 1), X86_GP, "WRMSR of an unimplemented MSR: #GP (SDM 2B WRMSR)");
	uint64_t efer = rdmsr(MSR_IA32_EFER);
	tap_eq((uint64_t)exc_wrmsr_safe(MSR_IA32_EFER, efer | (1ull << 20)), X86_GP,
	       "WRMSR EFER with a reserved bit: #GP (SDM 2B WRMSR, 3A 2.2.1)");
	tap_eq(rdmsr(MSR_IA32_EFER), efer, "EFER unchanged by the faulting WRMSR");

	/* Control registers (SDM 2B MOV CR). */
	uint64_t cr4 = read_cr4();
	exc_reset();
	__asm__ volatile(EXC_SAFE("mov %0, %%cr4") : : "r"(cr4 | (1ull << 31)) : "memory");
	tap_eq((uint64_t)exc_last.vector, X86_GP, "MOV CR4 with a reserved bit: #GP(0) (SDM 2B MOV CR)");
	tap_eq(read_cr4(), cr4, "CR4 unchanged by the faulting MOV");
	exc_reset();
	__asm__ volatile(EXC_SAFE("mov %0, %%cr0") : : "r"(read_cr0() & ~CR0_PE) : "memory");
	tap_eq((uint64_t)exc_last.vector, X86_GP, "MOV CR0 with PG=1, PE=0: #GP(0) (SDM 2B MOV CR)");

	/* Segment loads: error codes name the selector (SDM 3A 6.13, 2B MOV). */
	seg_load(SEL_BEYOND_GDT, false, X86_GP, "MOV DS, selector beyond the GDT limit");
	seg_load(SEL_TEST_SYS, false, X86_GP, "MOV DS, system descriptor");
	seg_load(SEL_TEST_NP, false, X86_NP, "MOV DS, not-present segment");
	seg_load(SEL_KCODE, true, X86_GP, "MOV SS, code segment");
	uint16_t ds;
	__asm__ volatile("mov %%ds, %0" : "=r"(ds));
	tap_eq(ds, SEL_KDATA, "DS unchanged by the faulting loads");

	/* INT n beyond the IDT limit: #GP(vector * 8 + 2), IDT bit set, EXT
	 * clear for a software interrupt (SDM 3A 6.13, 6.10). */
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr, small;
	__asm__ volatile("sidt %0" : "=m"(idtr));
	small = idtr;
	small.limit = 0x80 * 16 - 1;
	__asm__ volatile("lidt %0" : : "m"(small));
	exc_reset();
	__asm__ volatile(EXC_SAFE("int $0x90") ::: "memory");
	__asm__ volatile("lidt %0" : : "m"(idtr));
	tap_eq((uint64_t)exc_last.vector, X86_GP, "INT 0x90 beyond the IDT limit: #GP (SDM 2A INT n)");
	tap_eq(exc_last.error, 0x90 * 8 + 2, "... error code: vector, IDT=1, EXT=0 (SDM 3A 6.13)");
}

/* Branches to a non-canonical address fault on the branch, which has not
 * changed anything yet (SDM 2A JMP, CALL; 2B RET: #GP(0)). A CPU that
 * branches and faults at the target instead is reported, not fatal: the #GP
 * at the non-canonical RIP escapes back (noncanonical_escape). */
static bool noncanonical_escape(struct exc_frame *f)
{
	return f->rip == NONCANONICAL && exc_escape(f);
}

static void test_noncanonical_branches(void)
{
	struct site at;
	exc_set_handler(X86_GP, noncanonical_escape);
	exc_reset();
	__asm__ volatile(EXC_ESCAPE_ARM "lea 6661f(%%rip), %%rdx; mov %%rdx, %0\n\t" EXC_SAFE("jmp *%1")
			 EXC_ESCAPE_LABEL
			 : "=m"(at.rip)
			 : "r"(NONCANONICAL)
			 : "rax", "rdx", "memory");
	expect("JMP to a non-canonical address", "2A JMP", X86_GP, 0, at.rip, NULL);
	exc_reset();
	__asm__ volatile(EXC_ESCAPE_ARM "mov %%rsp, %1\n\tlea 6661f(%%rip), %%rdx; mov %%rdx, %0\n\t"
			 EXC_SAFE("call *%2") EXC_ESCAPE_LABEL
			 : "=m"(at.rip), "=&r"(at.rsp)
			 : "r"(NONCANONICAL)
			 : "rax", "rdx", "memory");
	expect("CALL to a non-canonical address", "2A CALL", X86_GP, 0, at.rip, NULL);
	tap_eq(exc_last.rsp, at.rsp, "CALL to a non-canonical address pushed nothing: saved RSP unchanged (SDM 2A CALL)");
	exc_reset();
	__asm__ volatile(EXC_ESCAPE_ARM "lea 6661f(%%rip), %%rdx; mov %%rdx, %0\n\t"
			 "push %1\n\t" EXC_SAFE("ret") "add $8, %%rsp\n" EXC_ESCAPE_LABEL
			 : "=m"(at.rip)
			 : "r"(NONCANONICAL)
			 : "rax", "rdx", "memory");
	exc_set_handler(X86_GP, NULL);
	expect("RET to a non-canonical address", "2B RET", X86_GP, 0, at.rip, NULL);
}

/* A push with a non-canonical RSP: #SS(0) (SDM 3A 6.15 Interrupt 12). The
 * #SS gate gets an IST stack, as delivery cannot use the broken RSP. */
static __attribute__((noinline)) void push_noncanonical(void)
{
	__asm__ volatile(EXC_ESCAPE_ARM "mov %0, %%rsp\n\tpush %%rax\n\tud2\n" EXC_ESCAPE_LABEL
			 :
			 : "r"(NONCANONICAL + 0x100)
			 : "rax", "memory");
}

static void test_stack_fault(void)
{
	/* #GP too: a CPU that raises #GP here is reported, not fatal. */
	exc_set_ist(X86_SS, GUEST_IST_TEST);
	exc_set_ist(X86_GP, GUEST_IST_TEST);
	exc_set_handler(X86_SS, exc_escape);
	exc_set_handler(X86_GP, exc_escape);
	exc_reset();
	push_noncanonical();
	exc_set_handler(X86_SS, NULL);
	exc_set_handler(X86_GP, NULL);
	exc_set_ist(X86_SS, 0);
	exc_set_ist(X86_GP, 0);
	tap_ok(exc_last.vector == X86_SS && exc_last.error == 0,
	       "PUSH with a non-canonical RSP: #SS(0) (SDM 3A 6.15 Interrupt 12) [vector %d error 0x%lx]",
	       exc_last.vector, exc_last.error);
	tap_eq(exc_last.rsp, NONCANONICAL + 0x100, "... the saved RSP is the faulting one, unchanged (SDM 3A 6.5)");
}

static void test_more_gp(void)
{
	/* A TI=1 selector while LDTR is NULL: #GP(selector) (SDM 2B MOV). */
	seg_load(0x0c, false, X86_GP, "MOV DS, LDT selector with no LDT");
}

/* CR3 bits above MAXPHYADDR are reserved (SDM 2B MOV CR, 3A 4.5). It runs
 * last: a CPU that takes the value anyway walks its page tables at an
 * address with no memory and cannot go on. */
static void test_cr3_reserved(void)
{
	uint32_t r[4];
	cpuid(0x80000008, 0, r);
	exc_reset();
	__asm__ volatile(EXC_SAFE("mov %0, %%cr3") : : "r"(read_cr3() | (1ull << (r[0] & 0xff))) : "memory");
	tap_eq((uint64_t)exc_last.vector, X86_GP, "MOV to CR3 with a bit above MAXPHYADDR: #GP(0) (SDM 2B MOV CR)");
}

/* ---- error codes from gate problems, and Table 6-5 ---- */

static void test_gate_errors(void)
{
	/* Not-present gates: #NP with the gate in the error code; EXT = 1 for a
	 * hardware exception and INT1, 0 for INT n/INT3 (SDM 3A 6.13). A benign
	 * first event and a contributory second are handled serially (Table 6-5). */
	exc_set_present(0x42, false);
	exc_reset();
	__asm__ volatile(EXC_SAFE("int $0x42") ::: "memory");
	tap_eq((uint64_t)exc_last.vector, X86_NP, "INT 0x42 through a not-present gate: #NP (SDM 2A INT n)");
	tap_eq(exc_last.error, 0x42 * 8 + 2, "... error code: vector, IDT=1, EXT=0 (SDM 3A 6.13)");
	exc_set_present(0x42, true);

	exc_set_present(X86_BP, false);
	exc_reset();
	__asm__ volatile(EXC_SAFE("int3") ::: "memory");
	tap_eq((uint64_t)exc_last.vector, X86_NP, "INT3 through a not-present gate: #NP (SDM 3A Table 6-5: benign, then contributory)");
	tap_eq(exc_last.error, X86_BP * 8 + 2, "... error code: vector 3, IDT=1, EXT=0 (SDM 3A 6.13)");
	exc_set_present(X86_BP, true);

	exc_set_present(X86_UD, false);
	exc_reset();
	__asm__ volatile(EXC_SAFE("ud2") ::: "memory");
	tap_eq((uint64_t)exc_last.vector, X86_NP, "#UD through a not-present gate: #NP (SDM 3A Table 6-5)");
	tap_eq(exc_last.error, X86_UD * 8 + 2 + 1, "... error code: vector 6, IDT=1, EXT=1 (SDM 3A 6.13)");
	exc_set_present(X86_UD, true);

	exc_set_present(X86_DB, false);
	exc_reset();
	__asm__ volatile(EXC_SAFE(".byte 0xf1") ::: "memory");
	tap_eq((uint64_t)exc_last.vector, X86_NP, "INT1 through a not-present gate: #NP (SDM 3A Table 6-5)");
	tap_eq(exc_last.error, X86_DB * 8 + 2 + 1, "... error code: vector 1, IDT=1, EXT=1 (SDM 3A 6.13)");
	exc_set_present(X86_DB, true);
}

/* ---- hardware breakpoints (SDM 3A 18.2, 18.3.1) ---- */

static volatile unsigned bp_n;
static volatile uint64_t bp_rip, bp_dr6, bp_rflags;

static bool on_breakpoint(struct exc_frame *f)
{
	uint64_t dr6;
	__asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
	bp_n++;
	bp_rip = f->rip;
	bp_dr6 = dr6;
	bp_rflags = f->rflags;
	/* Resume an instruction breakpoint with RF so it does not fire again
	 * (SDM 3A 18.3.1.1); data breakpoints are traps and need nothing. */
	if (dr6 & 0xf & ~0x2ull)
		f->rflags |= RFLAGS_RF;
	return true;
}

static void set_dr(unsigned n, uint64_t v)
{
	switch (n) {
	case 0:
		__asm__ volatile("mov %0, %%dr0" : : "r"(v));
		break;
	case 1:
		__asm__ volatile("mov %0, %%dr1" : : "r"(v));
		break;
	case 6:
		__asm__ volatile("mov %0, %%dr6" : : "r"(v));
		break;
	case 7:
		__asm__ volatile("mov %0, %%dr7" : : "r"(v));
		break;
	}
}

static volatile uint32_t watched[4] __attribute__((aligned(16)));

/* Access watched[] as told by how: 0 read [1], 1 write [1], 2 write [2],
 * 3 8-byte write at [0] (overlaps [1]); returns the RIP after the access. */
static __attribute__((noinline)) uint64_t touch_watched(unsigned how)
{
	uint64_t next;
	switch (how) {
	case 0:
		__asm__ volatile("movl (%1), %%eax\n1: lea 1b(%%rip), %0" : "=r"(next) : "r"(&watched[1]) : "rax", "memory");
		break;
	case 1:
		__asm__ volatile("movl $5, (%1)\n1: lea 1b(%%rip), %0" : "=r"(next) : "r"(&watched[1]) : "memory");
		break;
	case 2:
		__asm__ volatile("movl $6, (%1)\n1: lea 1b(%%rip), %0" : "=r"(next) : "r"(&watched[2]) : "memory");
		break;
	default:
		__asm__ volatile("movq $0, (%1)\n1: lea 1b(%%rip), %0" : "=r"(next) : "r"(&watched[0]) : "memory");
	}
	return next;
}

static void test_breakpoints(void)
{
	exc_set_handler(X86_DB, on_breakpoint);
	/* Instruction breakpoint in DR0: L0, R/W0 = 00, LEN0 = 00 (SDM 18.2.4). */
	uint64_t at, runs = 0;
	bp_n = 0;
	set_dr(6, 0);
	__asm__ volatile("lea 1f(%%rip), %0\n\t"
			 "mov %0, %%dr0\n\t"
			 "mov $1, %%eax\n\t"
			 "mov %%rax, %%dr7\n\t"
			 "nop\n"
			 "1: incq %1\n\t"
			 "xor %%eax, %%eax\n\t"
			 "mov %%rax, %%dr7"
			 : "=&r"(at), "+r"(runs)
			 :
			 : "rax", "memory");
	tap_eq(bp_n, 1, "instruction breakpoint: one #DB (SDM 3A 18.3.1.1)");
	tap_eq(bp_rip, at, "instruction breakpoint: a fault, saved RIP is the instruction (SDM 3A 18.3.1.1)");
	tap_ok(bp_dr6 & 1, "instruction breakpoint: DR6.B0 set (SDM 3A 18.2.3)");
	tap_ok(!(bp_rflags & RFLAGS_RF), "instruction breakpoint: pushed RF = 0 (SDM 3A 18.3.1.1)");
	tap_eq(runs, 1, "resumed with RF = 1: the instruction runs once, no second #DB (SDM 3A 18.3.1.1)");

	/* Data breakpoint in DR1 on watched[1]: L1, LEN1 = 11 (4 bytes),
	 * R/W1 = 01 (writes) then 11 (reads and writes) (SDM 18.2.4, 18.2.5). */
	set_dr(1, (uint64_t)(uintptr_t)&watched[1]);
	uint64_t dr7_w = (1ull << 2) | (1ull << 20) | (3ull << 22);
	uint64_t dr7_rw = (1ull << 2) | (3ull << 20) | (3ull << 22);
	set_dr(7, dr7_w);
	set_dr(6, 0);
	bp_n = 0;
	touch_watched(0);
	tap_eq(bp_n, 0, "write breakpoint: a read does not trigger it (SDM 3A 18.2.4)");
	uint64_t next = touch_watched(1);
	tap_eq(bp_n, 1, "write breakpoint: a write to the watched dword traps (SDM 3A 18.3.1.2)");
	tap_eq(bp_rip, next, "data breakpoint: a trap, saved RIP is the next instruction (SDM 3A 18.3.1.2)");
	tap_ok((bp_dr6 & 0xf) == 2, "data breakpoint: DR6.B1 set (SDM 3A 18.2.3) [DR6 0x%lx]", bp_dr6);
	tap_eq(watched[1], 5, "data breakpoint: the write happened (SDM 3A 18.3.1.2)");
	touch_watched(2);
	tap_eq(bp_n, 1, "write breakpoint: the next dword does not trigger it (SDM 3A 18.2.5)");
	touch_watched(3);
	tap_eq(bp_n, 2, "write breakpoint: an 8-byte write overlapping the dword traps (SDM 3A 18.2.5)");
	set_dr(7, dr7_rw);
	touch_watched(0);
	tap_eq(bp_n, 3, "read/write breakpoint: a read traps (SDM 3A 18.2.4)");
	set_dr(7, 0);
	touch_watched(1);
	tap_eq(bp_n, 3, "breakpoints disabled in DR7: no trap (SDM 3A 18.2.4)");
	exc_set_handler(X86_DB, NULL);
}

/* ---- RF in the pushed RFLAGS (SDM 3A 18.3.1.1) ---- */

static void test_resume_flag(void)
{
	/* Fault-class exceptions push RF = 1; traps and software interrupts
	 * push the current RF, which is 0 once an instruction has started. */
	exc_reset();
	__asm__ volatile(EXC_SAFE("ud2") ::: "memory");
	tap_ok(exc_last.rflags & RFLAGS_RF, "#UD (fault): pushed RFLAGS has RF = 1 (SDM 3A 18.3.1.1)");
	uint64_t v;
	exc_read64_safe((void *)(uintptr_t)UNMAPPED_VA, &v);
	tap_ok(exc_last.rflags & RFLAGS_RF, "#PF (fault): pushed RFLAGS has RF = 1 (SDM 3A 18.3.1.1)");
	exc_read64_safe((void *)(uintptr_t)NONCANONICAL, &v);
	tap_ok(exc_last.rflags & RFLAGS_RF, "#GP (fault): pushed RFLAGS has RF = 1 (SDM 3A 18.3.1.1)");
	/* The handler returned with RF = 1 (IRETQ loads it); the processor
	 * clears RF as the next instruction starts, so an INT3 right after
	 * the resumed UD2 pushes RF = 0. */
	exc_set_handler(X86_BP, exc_resume);
	exc_reset();
	__asm__ volatile(EXC_SAFE("ud2") "int3" ::: "memory");
	tap_eq((uint64_t)exc_last.vector, X86_BP, "INT3 right after a resumed fault is delivered");
	tap_ok(!(exc_last.rflags & RFLAGS_RF), "INT3 (trap) pushes RF = 0, cleared at the start of the instruction (SDM 3A 18.3.1.1)");
	exc_set_handler(0x40, exc_resume);
	__asm__ volatile("int $0x40" ::: "memory");
	exc_set_handler(0x40, NULL);
	tap_ok(!(exc_last.rflags & RFLAGS_RF), "INT n pushes RF = 0 (SDM 3A 18.3.1.1)");
}

/* ---- IST and stack alignment ---- */

static void test_stacks(void)
{
	/* 64-bit mode aligns RSP to 16 bytes before pushing the frame
	 * (SDM 3A 6.14.2); the frame's RIP slot is 5 quadwords below. */
	struct site at;
	exc_reset();
	__asm__ volatile("sub $8, %%rsp\n\tlea 6661f(%%rip), %0; mov %%rsp, %1\n\t" EXC_SAFE("ud2") "add $8, %%rsp"
			 : "=&r"(at.rip), "=&r"(at.rsp)
			 :
			 : "memory");
	tap_eq(exc_last.rsp, at.rsp, "misaligned RSP: saved RSP is the unaligned value (SDM 3A 6.14.2)");
	tap_eq(exc_last.frame, (at.rsp & ~15ull) - 40,
	       "misaligned RSP: frame pushed below RSP aligned down to 16 (SDM 3A 6.14.2)");

	/* IST (SDM 3A 6.14.5): the gate's IST index selects a TSS stack, even
	 * without a privilege change. */
	exc_set_ist(X86_BP, GUEST_IST_TEST);
	exc_reset();
	__asm__ volatile("mov %%rsp, %0\n\tint3" : "=m"(at.rsp) : : "memory");
	exc_set_ist(X86_BP, 0);
	tap_eq(exc_last.frame, desc_ist_top(GUEST_IST_TEST) - 40,
	       "#BP with IST 2: frame at the top of the IST2 stack (SDM 3A 6.14.5)");
	tap_eq(exc_last.rsp, at.rsp, "#BP with IST 2: saved RSP is the interrupted stack (SDM 3A 6.14.5)");
	tap_eq(exc_last.ss, SEL_KDATA, "#BP with IST 2: saved SS (SDM 3A 6.14.2)");
}

/* ---- compatibility mode (SDM 3A 5.2.1 IA-32e sub-modes) ---- */

/* Far return to the 32-bit code segment, run 32-bit code there (where 0x40
 * is INC EAX, not a REX prefix) including a UD2, and far-jump back. */
static __attribute__((noinline)) uint64_t compat_excursion(void)
{
	uint64_t eax;
	__asm__ volatile("pushq %[cs32]\n\t"
			 "lea 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 ".code32\n"
			 "1: mov $0x7ffffffe, %%eax\n\t"
			 ".byte 0x40\n\t" EXC_SAFE("ud2") "ljmp %[cs64], $2f\n"
			 ".code64\n"
			 "2:"
			 : "=a"(eax)
			 : [cs32] "i"(SEL_KCODE32), [cs64] "i"(SEL_KCODE)
			 : "memory");
	return eax;
}

static void test_compat_mode(void)
{
	exc_reset();
	uint64_t eax = compat_excursion();
	tap_eq(eax, 0x7fffffff, "compatibility mode: 0x40 is INC EAX, not REX (SDM 2A 2.2.1, INC)");
	tap_eq((uint64_t)exc_last.vector, X86_UD, "#UD in compatibility mode goes through the 64-bit IDT (SDM 3A 6.14)");
	tap_eq(exc_last.cs, SEL_KCODE32, "... saved CS is the 32-bit code segment, IRETQ returns there (SDM 3A 6.14.2)");
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	tap_eq(cs, SEL_KCODE, "far JMP back to the 64-bit code segment (SDM 2A JMP)");
}

/* ---- CPL 3 ---- */

static uint64_t u_ud2(uint64_t arg)
{
	(void)arg;
	exc_reset();
	__asm__ volatile(EXC_SAFE("ud2") ::: "memory");
	return (uint64_t)exc_last.vector;
}

static uint64_t u_rsp(uint64_t arg)
{
	uint64_t rsp;
	(void)arg;
	__asm__ volatile("mov %%rsp, %0\n\t" EXC_SAFE("ud2") : "=r"(rsp) : : "memory");
	return rsp;
}

/* Each privileged instruction in turn (arg selects it); returns the vector
 * and error code the CPL-3 attempt raised. */
static uint64_t u_priv(uint64_t which)
{
	uint64_t scratch = 0;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) dtr = { 0, 0 };
	exc_reset();
	switch (which) {
	case 0:
		__asm__ volatile(EXC_SAFE("hlt") ::: "memory");
		break;
	case 1:
		__asm__ volatile(EXC_SAFE("cli") ::: "memory");
		break;
	case 2:
		__asm__ volatile(EXC_SAFE("mov %%cr0, %0") : "+r"(scratch) : : "memory");
		break;
	case 3:
		__asm__ volatile(EXC_SAFE("mov %0, %%cr3") : : "r"(scratch) : "memory");
		break;
	case 4:
		__asm__ volatile(EXC_SAFE("rdmsr") : : "c"(MSR_IA32_EFER) : "rax", "rdx", "memory");
		break;
	case 5:
		__asm__ volatile(EXC_SAFE("lgdt %0") : : "m"(dtr) : "memory");
		break;
	case 6:
		__asm__ volatile(EXC_SAFE("invlpg (%0)") : : "r"(&scratch) : "memory");
		break;
	case 7:
		__asm__ volatile(EXC_SAFE("outb %%al, $0x80") : : "a"(0) : "memory");
		break;
	case 8:
		__asm__ volatile(EXC_SAFE("int $0x40") ::: "memory");
		break;
	case 9:
		__asm__ volatile(EXC_SAFE("mov %0, %%ds") : : "r"((uint64_t)SEL_KDATA) : "memory");
		break;
	case 10:
		__asm__ volatile(EXC_SAFE("smsw %0") : "=r"(scratch) : : "memory");
		break;
	case 11:
		__asm__ volatile(EXC_SAFE("int3") ::: "memory");
		break;
	case 12:
		__asm__ volatile(EXC_SAFE(".byte 0xf1") ::: "memory");
		break;
	case 13:
		__asm__ volatile(EXC_SAFE("rdtsc") : : : "rax", "rdx", "memory");
		break;
	}
	return (uint64_t)(uint32_t)exc_last.vector | (exc_last.error << 32);
}

static const struct {
	const char *insn, *sdm;
	int vector;
	uint32_t error;
} priv_cases[] = {
	{ "HLT", "2A HLT", X86_GP, 0 },
	{ "CLI (IOPL 0)", "2A CLI", X86_GP, 0 },
	{ "MOV from CR0", "2B MOV CR", X86_GP, 0 },
	{ "MOV to CR3", "2B MOV CR", X86_GP, 0 },
	{ "RDMSR", "2B RDMSR", X86_GP, 0 },
	{ "LGDT", "2A LGDT", X86_GP, 0 },
	{ "INVLPG", "2A INVLPG", X86_GP, 0 },
	{ "OUT (IOPL 0, no I/O bitmap)", "Vol. 1 19.5", X86_GP, 0 },
	{ "INT 0x40 (gate DPL 0)", "2A INT n", X86_GP, 0x40 * 8 + 2 },
	{ "MOV DS, DPL-0 data", "2B MOV", X86_GP, SEL_KDATA },
	{ "SMSW (not privileged without UMIP)", "2B SMSW", -1, 0 },
	/* INT3 checks the gate's DPL, INT1 does not (SDM 2A INT n/INTO/INT3/INT1). */
	{ "INT3 (gate DPL 0)", "2A INT3", X86_GP, X86_BP * 8 + 2 },
	{ "INT1 (gate DPL 0: no DPL check)", "2A INT1", X86_DB, 0 },
	{ "RDTSC (CR4.TSD = 0)", "2B RDTSC", -1, 0 },
};

static uint16_t ss_in_handler;
static bool read_ss_handler(struct exc_frame *f)
{
	uint16_t ss;
	__asm__ volatile("mov %%ss, %0" : "=r"(ss));
	ss_in_handler = ss;
	/* Skip the UD2. */
	f->rip += 2;
	return true;
}

static void test_user(void)
{
	uint64_t r = user_call(u_ud2, 0);
	tap_eq(r, X86_UD, "CPL 3: UD2 raises #UD (SDM 3A 6.15 Interrupt 6)");
	tap_eq(exc_last.cs, SEL_UCODE, "CPL 3: saved CS is the user code selector (SDM 3A 6.14.2)");
	tap_eq(exc_last.ss, SEL_UDATA, "CPL 3: saved SS is the user stack selector (SDM 3A 6.14.2)");
	/* The handler ran on the TSS's RSP0 stack (SDM 3A 6.14.4, 8.7). */
	tap_eq(exc_last.frame, (guest_tss.rsp[0] & ~15ull) - 40,
	       "CPL 3 -> 0: frame on the RSP0 stack from the TSS (SDM 3A 6.14.4)");
	uint64_t rsp = user_call(u_rsp, 0);
	tap_eq(exc_last.rsp, rsp, "CPL 3: saved RSP is the user RSP (SDM 3A 6.14.2)");

	/* On a change of CPL, 64-bit delivery loads SS with NULL (SDM 3A 6.14.4). */
	exc_set_handler(X86_UD, read_ss_handler);
	ss_in_handler = 0xffff;
	user_call(u_rsp, 0);
	exc_set_handler(X86_UD, NULL);
	tap_eq(ss_in_handler, 0, "CPL 3 -> 0: SS is NULL in the handler (SDM 3A 6.14.4)");

	for (unsigned k = 0; k < sizeof(priv_cases) / sizeof(priv_cases[0]); k++) {
		uint64_t res = user_call(u_priv, k);
		int vec = (int)(uint32_t)res;
		uint32_t err = (uint32_t)(res >> 32);
		if (priv_cases[k].vector < 0)
			tap_eq((uint32_t)vec, (uint32_t)-1, "CPL 3: %s runs (SDM %s)", priv_cases[k].insn,
			       priv_cases[k].sdm);
		else
			tap_ok(vec == priv_cases[k].vector && err == priv_cases[k].error,
			       "CPL 3: %s raises vector %d error 0x%x (SDM %s) [got %d 0x%x]",
			       priv_cases[k].insn, priv_cases[k].vector, priv_cases[k].error,
			       priv_cases[k].sdm, vec, err);
	}
}

/* #AC: CPL 3, CR0.AM and RFLAGS.AC, a misaligned access (SDM 3A 6.15
 * Interrupt 17). */
static uint64_t u_misaligned(uint64_t addr)
{
	uint64_t v = 0;
	exc_reset();
	__asm__ volatile("pushfq; orq $0x40000, (%%rsp); popfq\n\t" EXC_SAFE("movl (%1), %k0")
			 "pushfq; andq $~0x40000, (%%rsp); popfq"
			 : "+r"(v)
			 : "r"(addr)
			 : "memory", "cc");
	return (uint64_t)(uint32_t)exc_last.vector | (exc_last.error << 32);
}

static void test_ac(void)
{
	static uint8_t buf[16] __attribute__((aligned(16)));
	write_cr0(read_cr0() | CR0_AM);
	uint64_t r = user_call(u_misaligned, (uint64_t)(uintptr_t)(buf + 1));
	uint64_t ok = user_call(u_misaligned, (uint64_t)(uintptr_t)(buf + 4));
	write_cr0(read_cr0() & ~CR0_AM);
	uint64_t off = user_call(u_misaligned, (uint64_t)(uintptr_t)(buf + 1));
	tap_eq((uint32_t)r, X86_AC, "#AC: misaligned 4-byte read at CPL 3 with CR0.AM and AC (SDM 3A 6.15 Interrupt 17)");
	tap_eq(r >> 32, 0, "#AC: error code 0 (SDM 3A 6.15 Interrupt 17)");
	tap_eq((uint32_t)ok, (uint32_t)-1, "#AC: aligned 4-byte read does not fault (SDM 3A 6.15 Interrupt 17)");
	tap_eq((uint32_t)off, (uint32_t)-1, "#AC: no check with CR0.AM clear (SDM 3A 6.15 Interrupt 17)");
}

/* ---- page faults ---- */

static void test_pf(void)
{
	struct site at;
	uint64_t v;
	exc_reset();
	__asm__ volatile("lea 6661f(%%rip), %%rax; mov %%rax, %0; mov %%rsp, %1\n\t" EXC_SAFE("movq (%3), %2")
			 : "=m"(at.rip), "=m"(at.rsp), "=r"(v)
			 : "r"(UNMAPPED_VA + 0x123)
			 : "rax", "memory");
	expect("#PF read of an unmapped page", "3A 6.15 Interrupt 14", X86_PF, 0, at.rip, &at);
	tap_eq(exc_last.cr2, UNMAPPED_VA + 0x123, "#PF: CR2 is the faulting linear address (SDM 3A 4.7)");
	exc_reset();
	__asm__ volatile("lea 6661f(%%rip), %%rax; mov %%rax, %0\n\t" EXC_SAFE("movq %2, (%1)")
			 : "=m"(at.rip)
			 : "r"(UNMAPPED_VA + 0x2008), "r"(0ull)
			 : "rax", "memory");
	expect("#PF write to an unmapped page", "3A 4.7", X86_PF, PFEC_W, at.rip, NULL);
	tap_eq(exc_last.cr2, UNMAPPED_VA + 0x2008, "#PF write: CR2 (SDM 3A 4.7)");
}

/* ---- double fault ---- */

static volatile int df_vector;
static volatile uint64_t df_error, df_frame;

static bool on_double_fault(struct exc_frame *f)
{
	df_vector = exc_last.vector;
	df_error = exc_last.error;
	df_frame = exc_last.frame;
	/* SDM 3A 6.15 Interrupt 8: the saved CS:RIP is undefined and the
	 * program cannot be restarted; resume at a point the test chose. */
	return exc_escape(f);
}

/* A #PF whose delivery faults again because RSP points at unmapped memory. */
static __attribute__((noinline)) void df_pf_on_pf(void)
{
	__asm__ volatile(EXC_ESCAPE_ARM "mov %0, %%rsp\n\tmovq (%1), %%rax\n\tud2\n" EXC_ESCAPE_LABEL
			 :
			 : "r"(UNMAPPED_VA + 0x10000), "r"(UNMAPPED_VA)
			 : "rax", "memory");
}

/* A read of addr that faults (#GP or #PF), resumed through the #DF handler:
 * used with the fault's gate not present, so that its delivery raises #NP. */
static __attribute__((noinline)) void df_read_fault(uint64_t addr)
{
	__asm__ volatile(EXC_ESCAPE_ARM "movq (%0), %%rax\n\tud2\n" EXC_ESCAPE_LABEL
			 :
			 : "r"(addr)
			 : "rax", "memory");
}

static void test_double_fault(void)
{
	exc_set_handler(X86_DF, on_double_fault);
	uint64_t pf_before = exc_count[X86_PF];
	df_vector = -1;
	df_pf_on_pf();
	tap_eq((uint64_t)df_vector, X86_DF, "#PF while delivering #PF: double fault (SDM 3A 6.15 Table 6-5)");
	tap_eq(df_error, 0, "#DF error code is 0 (SDM 3A 6.15 Interrupt 8)");
	tap_eq(df_frame, desc_ist_top(GUEST_IST_DF) - 40, "#DF ran on its IST stack (SDM 3A 6.14.5)");
	tap_eq(exc_count[X86_PF], pf_before, "no #PF handler ran (SDM 3A 6.15 Table 6-5)");

	exc_set_present(X86_GP, false);
	df_vector = -1;
	df_read_fault(NONCANONICAL);
	exc_set_present(X86_GP, true);
	tap_eq((uint64_t)df_vector, X86_DF,
	       "#NP while delivering #GP (contributory, contributory): double fault (SDM 3A Table 6-5)");
	tap_eq(df_error, 0, "#DF error code is 0 (SDM 3A 6.15 Interrupt 8)");

	/* #PF first, then a contributory #NP (its gate is not present). */
	exc_set_present(X86_PF, false);
	df_vector = -1;
	df_read_fault(UNMAPPED_VA);
	exc_set_present(X86_PF, true);
	tap_eq((uint64_t)df_vector, X86_DF, "#NP while delivering #PF (page fault, contributory): double fault (SDM 3A Table 6-5)");
	exc_set_handler(X86_DF, NULL);
	exc_set_handler(X86_BP, NULL);
}

/* IDT limit 0: #UD cannot be delivered (#GP), nor can that #GP (double
 * fault), nor the #DF: shutdown (SDM 3A 6.15 Interrupt 8, "triple fault"). */
static void triple_fault(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { 0, 0 };
	printf("# selftest-exceptions: triple fault on purpose\n");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(idtr) : "memory");
	tap_bail("still running after a triple fault");
}

int main(const struct tortuga_bootinfo *bi)
{
	exc_init();
	if (bi->cmdline_len && strstr((const char *)(uintptr_t)bi->cmdline, "triple"))
		triple_fault();
	test_de();
	test_db();
	test_bp_int();
	test_gate_types();
	test_ud();
	test_gp_ss();
	test_noncanonical_branches();
	test_stack_fault();
	test_more_gp();
	test_gate_errors();
	test_resume_flag();
	test_breakpoints();
	test_stacks();
	test_compat_mode();
	test_user();
	test_ac();
	test_pf();
	test_double_fault();
	test_cr3_reserved();
	return tap_done();
}
