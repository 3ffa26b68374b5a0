/*
 * rings64: privilege levels in IA-32e mode (SDM Vol. 3A 5.8.3.1, 6.14):
 * IRETQ to CPL 3 (64-bit and compatibility mode), interrupts from CPL 3
 * with RSP0 and a NULL SS (6.14.4), the interrupt stack table (6.14.5),
 * SYSCALL/SYSRET (5.8.8), 64-bit call gates, CR4/EFER/CR0 checks and
 * canonical-address checks on MSRs and branch targets, PCID (4.10.1),
 * NX, SMEP and SMAP under 4-level paging.
 */
#include <pc/desc.h>
#include <pc/trap.h>

enum {
	SEL_KCODE = 0x08,
	SEL_KDATA = 0x10,
	SEL_UCODE32 = 0x18,
	SEL_UDATA = 0x20,
	SEL_UCODE64 = 0x28,
	SEL_TSS = 0x30, /* 16 bytes */
	SEL_GATE = 0x40, /* 64-bit call gate, DPL 3, 16 bytes */
	SEL_GATE_BAD = 0x50, /* upper half type != 0 */
	GDT_ENTRIES = 12,
};

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static uint8_t kstack[8192] __attribute__((aligned(16)));
static uint8_t iststack[4096] __attribute__((aligned(16)));
static uint8_t ustack[8192] __attribute__((aligned(16)));

void pc_run_user64(void (*fn)(void), uint64_t rsp, uint64_t rflags, uint64_t cs);
__attribute__((noreturn)) void pc_resume_kernel64(void);
void syscall_entry(void);
void gate64_entry(void);
void user32_syscall(void);
void user32_report(void);
extern uint64_t sc_rcx, sc_r11, sc_rsp, sc_cs, sc_ss, sc_flags, sc_ret32;
extern uint8_t syscall_to32;
extern uint64_t g64_rsp, g64_ss, g64_cs, g64_frame[4], u32_cs;
extern const ulong user32_syscall_insn[];

#define KSTACK_TOP ((uint64_t)(uintptr_t)(kstack + sizeof(kstack)))
#define IST_TOP ((uint64_t)(uintptr_t)(iststack + sizeof(iststack)))
#define USTACK_TOP ((uint64_t)(uintptr_t)(ustack + sizeof(ustack)))

/* ---- paging: identity 4 GiB in 2-MiB pages, user or supervisor ---- */
static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pds[4][512] __attribute__((aligned(4096)));
static uint64_t pt[512] __attribute__((aligned(4096)));
static uint8_t pages[4][4096] __attribute__((aligned(4096)));
#define TVA 0x40000000ull /* pt maps TVA .. TVA + 2 MiB */

static void build_paging(int user)
{
	uint64_t u = user ? 4 : 0;
	pml4[0] = (uintptr_t)pdpt | 7;
	for (int g = 0; g < 4; g++) {
		pdpt[g] = (uintptr_t)pds[g] | 7;
		for (int i = 0; i < 512; i++)
			pds[g][i] = ((uint64_t)g << 30) | ((uint64_t)i << 21) | 0x83 | u;
	}
	pds[1][0] = (uintptr_t)pt | 7;
	pt[0] = (uintptr_t)pages[0] | 3 | (user ? 0 : 4); /* the other kind */
	pt[1] = (uintptr_t)pages[1] | 3 | 4 | (1ull << 63); /* user, NX */
	pt[2] = (uintptr_t)pages[2] | 7; /* user */
	pt[3] = (uintptr_t)pages[3] | 3 | (1ull << 45); /* reserved bit 45 (MAXPHYADDR 40) */
	set_cr3((uintptr_t)pml4);
}

static void setup(void)
{
	gdt[SEL_KCODE >> 3] = CODE64(0);
	gdt[SEL_KDATA >> 3] = DATA32(0);
	gdt[SEL_UCODE32 >> 3] = CODE32(3);
	gdt[SEL_UDATA >> 3] = DATA32(3);
	gdt[SEL_UCODE64 >> 3] = CODE64(3);
	uint64_t tb = (uintptr_t)&tss;
	gdt[SEL_TSS >> 3] = sys_desc((uint32_t)tb, sizeof(tss) - 1, SYS_TSS_AVAIL, 0);
	gdt[(SEL_TSS >> 3) + 1] = tb >> 32;
	uint64_t ga = (uintptr_t)gate64_entry;
	gdt[SEL_GATE >> 3] = call_gate(SEL_KCODE, (uint32_t)ga, 3, 0);
	gdt[(SEL_GATE >> 3) + 1] = ga >> 32;
	gdt[SEL_GATE_BAD >> 3] = call_gate(SEL_KCODE, (uint32_t)ga, 3, 0);
	gdt[(SEL_GATE_BAD >> 3) + 1] = (ga >> 32) | (0xcull << 40);
	pc_lgdt(gdt, sizeof(gdt) - 1);
	__asm__ volatile("pushq %0; lea 1f(%%rip), %%rax; push %%rax; lretq; 1:" : : "i"(SEL_KCODE) : "rax", "memory");
	set_ds_es(SEL_KDATA);
	set_ss(SEL_KDATA);
	tss.rsp[0] = KSTACK_TOP;
	tss.ist[0] = IST_TOP;
	tss.iomap = sizeof(tss);
	pc_ltr(SEL_TSS);
	trap_init(SEL_KCODE);
	build_paging(1);
}

/* INT 0x80: RAX = 0 returns to the kernel; otherwise records. */
static volatile uint64_t int_frame_top, int_ss_in_handler, int_sp, int_ss, int_cs;

static void int80(struct trap_frame *f)
{
	if (f->ax == 0)
		pc_resume_kernel64();
	int_frame_top = (uintptr_t)(f + 1);
	int_ss_in_handler = get_ss();
	int_sp = f->sp;
	int_ss = f->ss;
	int_cs = f->cs;
	f->ax *= 2;
}

static void run_user(void (*fn)(void))
{
	uint64_t *top = (uint64_t *)(uintptr_t)USTACK_TOP;
	static const uint8_t exit_stub[] = { 0x31, 0xc0, 0xcd, 0x80 }; /* xor eax,eax; int 0x80 */
	top[-2] = (uintptr_t)exit_stub;
	pc_run_user64(fn, (uintptr_t)&top[-2], 0x2, SEL_UCODE64 | 3);
}

static volatile uint64_t u_rax, u_rsp, u_rsp2;
static struct trap_record snaps[4];
static volatile ulong fault_ip[4];

static void user_int(void)
{
	uint64_t rax = 21, rsp;
	__asm__ volatile("mov %%rsp, %1; int $0x80" : "+a"(rax), "=&r"(rsp) : : "memory");
	u_rax = rax;
	u_rsp = rsp;
}

static void user_int81(void)
{
	uint64_t rax = 1, rsp;
	__asm__ volatile("mov %%rsp, %1; int $0x81" : "+a"(rax), "=&r"(rsp) : : "memory");
	u_rsp2 = rsp;
}

static void test_interrupts(void)
{
	trap_set_gate(0x80, GATE_INT, 3, 0);
	trap_set_handler(0x80, int80);
	run_user(user_int);
	pc_check_eq(u_rax, 42, "INT 0x80 from CPL 3 in 64-bit mode");
	pc_check_eq(int_frame_top, KSTACK_TOP, "  the handler's stack is TSS.RSP0");
	pc_check_eq(int_ss_in_handler, 0, "  SS is NULL (RPL 0) after the privilege change");
	pc_check_eq(int_sp, u_rsp, "  the frame holds the CPL-3 RSP");
	pc_check_eq(int_ss, SEL_UDATA | 3, "  and SS");

	/* IST: vector 0x81 (DPL 3) uses IST1, from CPL 3 and from CPL 0. */
	trap_set_gate(0x81, GATE_INT, 3, 1);
	trap_set_handler(0x81, int80);
	run_user(user_int81);
	pc_check_eq(int_frame_top, IST_TOP, "IST1: the handler runs on the IST stack (from CPL 3)");
	pc_check_eq(int_sp, u_rsp2, "  the frame holds the CPL-3 RSP");
	uint64_t rax = 5;
	__asm__ volatile("int $0x81" : "+a"(rax) : : "memory");
	pc_check_eq(int_frame_top, IST_TOP, "IST1 also without a privilege change");
	pc_check_eq(int_ss, SEL_KDATA, "  the frame holds the CPL-0 SS");
}

/* ---- SYSCALL / SYSRET ---- */

static volatile uint64_t u_next;

static void user_syscall(void)
{
	uint64_t rsp, next;
	/* The kernel side (syscall_entry) uses RAX. */
	__asm__ volatile("mov %%rsp, %0; lea 1f(%%rip), %1; syscall; 1:"
			 : "=&r"(rsp), "=&r"(next)
			 :
			 : "rax", "rcx", "r11", "memory");
	u_rsp = rsp;
	u_next = next;
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	u_rax = cs;
}

#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_FMASK 0xc0000084u

/* The fix-up label of the SYSRETQ test, and the way back to it from a #GP
 * at CPL 3 (AMD's SYSRET): CPL 0, the stack SYSRET left alone. */
ulong sysret_resume;

static void sysret_gp_at_cpl3(struct trap_frame *f)
{
	f->ip = sysret_resume;
	f->cs = SEL_KCODE;
	f->ss = SEL_KDATA;
	f->flags = 0x2;
}

static void test_syscall(void)
{
	pc_wrmsr(MSR_EFER, pc_rdmsr(MSR_EFER) | EFER_SCE);
	pc_wrmsr(MSR_STAR, ((uint64_t)SEL_UCODE32 << 48) | ((uint64_t)SEL_KCODE << 32));
	pc_wrmsr(MSR_LSTAR, (uintptr_t)syscall_entry);
	pc_wrmsr(MSR_FMASK, X86_FL_IF | (1u << 10) /* DF */);
	syscall_to32 = 0;
	pc_run_user64(user_syscall, USTACK_TOP - 16, 0x202, SEL_UCODE64 | 3);
	pc_check_eq(sc_cs, SEL_KCODE, "SYSCALL: CS = STAR[47:32]");
	pc_check_eq(sc_ss, SEL_KCODE + 8, "SYSCALL: SS = STAR[47:32] + 8");
	pc_check((sc_r11 & X86_FL_IF) && !(sc_flags & X86_FL_IF), "SYSCALL: R11 = RFLAGS, FMASK clears IF");
	pc_check_eq(sc_rsp, u_rsp, "SYSCALL leaves RSP alone");
	pc_check_eq(u_rax, SEL_UCODE64 | 3, "SYSRETQ: CS = STAR[63:48] + 16, RPL 3");
	pc_check_eq(sc_rcx, u_next, "SYSCALL: RCX = the next RIP");

	/* SYSRET without REX.W returns to compatibility mode. */
	syscall_to32 = 1;
	sc_ret32 = (uintptr_t)user32_report;
	pc_run_user64(user_syscall, USTACK_TOP - 16, 0x202, SEL_UCODE64 | 3);
	pc_check_eq(u32_cs, SEL_UCODE32 | 3, "SYSRETL: CS = STAR[63:48], compatibility mode");

	/* SYSCALL in compatibility mode is #UD on Intel processors (SDM 2B
	 * SYSCALL: "IF (CS.L != 1) ... THEN #UD"). An AMD processor enters
	 * the kernel at IA32_CSTAR instead (AMD64 APM Vol. 3 SYSCALL): that
	 * target goes back to the kernel without a trap, so that a guest run
	 * on AMD hardware reports the difference instead of running wild. */
	pc_wrmsr(MSR_CSTAR, (uintptr_t)pc_resume_kernel64);
	unsigned n = trap_count();
	pc_run_user64(user32_syscall, USTACK_TOP - 16, 0x2, SEL_UCODE32 | 3);
	pc_check_eq(trap_count() - n, 2, "one fault and the exit INT");
	(void)user32_syscall_insn;

	/* SYSRET with a non-canonical RCX: #GP(0) at CPL 0 (Intel, SDM 2B
	 * SYSRET). An AMD processor returns to CPL 3 first and faults there
	 * at the non-canonical RIP (AMD64 APM Vol. 3 SYSRET): its handler
	 * returns to the fix-up label at CPL 0, so that the check reports it. */
	trap_set_handler(13, sysret_gp_at_cpl3);
	n = trap_count();
	ulong ip;
	__asm__ volatile("lea 1f(%%rip), %0\n"
			 "lea 2f(%%rip), %%rax\n"
			 "mov %%rax, sysret_resume(%%rip)\n"
			 "mov $0x8000000000001000, %%rcx\n"
			 "mov $0x2, %%r11\n"
			 "1: sysretq\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 :
			 : "rax", "rcx", "r11", "memory");
	trap_set_handler(13, NULL);
	expect_trap("#GP(0): SYSRETQ to a non-canonical RCX", n, 13, 0, ip, 1);
	pc_check_eq(get_cs(), SEL_KCODE, "  still at CPL 0");

	pc_wrmsr(MSR_EFER, pc_rdmsr(MSR_EFER) & ~(uint64_t)EFER_SCE);
	n = trap_count();
	__asm__ volatile("lea 1f(%%rip), %0\n1: syscall\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 :
			 : "rcx", "r11", "memory");
	expect_trap("#UD: SYSCALL with IA32_EFER.SCE = 0", n, 6, 0, ip, 1);
}

/* ---- 64-bit call gates ---- */

static void user_gate(void)
{
	uint64_t rsp;
	struct {
		uint64_t off;
		uint16_t sel;
	} __attribute__((packed)) far = { 0, SEL_GATE | 3 };
	__asm__ volatile("mov %%rsp, %0; rex.w lcall *%1" : "=&r"(rsp) : "m"(far) : "rax", "memory");
	u_rsp = rsp;
	far.sel = SEL_GATE_BAD | 3;
	ulong ip;
	__asm__ volatile("lea 1f(%%rip), %0\n1: rex.w lcall *%1\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "m"(far)
			 : "memory");
	fault_ip[0] = ip;
	trap_snapshot(&snaps[0]);
}

static void test_call_gate(void)
{
	run_user(user_gate);
	pc_check_eq(g64_cs, SEL_KCODE, "64-bit call gate from CPL 3: the target runs at CPL 0");
	pc_check_eq(g64_ss, 0, "  with a NULL SS");
	pc_check_eq(g64_rsp, KSTACK_TOP - 32, "  on TSS.RSP0 with SS, RSP, CS, RIP pushed (8 bytes each)");
	pc_check_eq(g64_frame[1], SEL_UCODE64 | 3, "  pushed CS");
	pc_check_eq(g64_frame[2], u_rsp, "  pushed RSP");
	pc_check_eq(g64_frame[3], SEL_UDATA | 3, "  pushed SS");
	expect_rec("#GP(gate): the upper half of a 64-bit call gate has a non-zero type", &snaps[0], 13, SEL_GATE_BAD,
		   fault_ip[0], -1);
}

/* ---- control registers, MSRs, canonical addresses ---- */

static void expect_gp(const char *what, void (*fn)(void))
{
	unsigned n = trap_count();
	fn();
	pc_check(trap_count() - n == 1 && trap_last.vector == 13 && trap_last.error == 0, "%s", what);
}

#define GP_TEST(name, insns, ...)                                                                  \
	static void name(void)                                                                     \
	{                                                                                          \
		__asm__ volatile("1: " insns "\n2:\n" EX_TRY("1b", "2b")::__VA_ARGS__ : "memory"); \
	}

GP_TEST(cr4_reserved, "mov %0, %%cr4", "r"(get_cr4() | (1ul << 31)))
GP_TEST(cr4_pae_off, "mov %0, %%cr4", "r"(get_cr4() & ~X86_CR4_PAE))
GP_TEST(cr0_pg_off, "mov %0, %%cr0", "r"(get_cr0() & ~X86_CR0_PG))
GP_TEST(cr3_reserved, "mov %0, %%cr3", "r"(get_cr3() | (1ul << 52)))
GP_TEST(efer_lme_off, "wrmsr", "c"(MSR_EFER), "a"((uint32_t)pc_rdmsr(MSR_EFER) & ~EFER_LME), "d"(0))
GP_TEST(fsbase_noncanon, "wrmsr", "c"(0xc0000100u), "a"(0), "d"(0x8000u))
GP_TEST(gsbase_noncanon, "wrmsr", "c"(0xc0000101u), "a"(0), "d"(0x8000u))
GP_TEST(kgsbase_noncanon, "wrmsr", "c"(0xc0000102u), "a"(0), "d"(0x8000u))
GP_TEST(lstar_noncanon, "wrmsr", "c"(MSR_LSTAR), "a"(0), "d"(0x0000f000u))
GP_TEST(sysenter_eip_noncanon, "wrmsr", "c"(0x176u), "a"(0), "d"(0x8000u))
/* A CPU that takes the jump and faults on the fetch at the target (QEMU 7.2
 * TCG, tests/kvm/divergences.txt) resumes at 2 as well, so that the checks
 * below report it instead of the guest bailing out. */
static void jmp_noncanon(void)
{
	__asm__ volatile("1: jmp *%0\n2:\n" EX_TRY("1b", "2b") EX_TRY("0x0000800000000000", "2b")::"r"(
				 0x0000800000000000ull)
			 : "memory");
}
GP_TEST(unknown_msr, "rdmsr", "c"(0x12345678u))

static void test_checks(void)
{
	expect_gp("#GP(0): reserved CR4 bit 31", cr4_reserved);
	expect_gp("#GP(0): clearing CR4.PAE in IA-32e mode", cr4_pae_off);
	expect_gp("#GP(0): clearing CR0.PG in 64-bit mode", cr0_pg_off);
	expect_gp("#GP(0): clearing IA32_EFER.LME with paging on", efer_lme_off);
	expect_gp("#GP(0): non-canonical IA32_FS_BASE", fsbase_noncanon);
	expect_gp("#GP(0): non-canonical IA32_GS_BASE", gsbase_noncanon);
	expect_gp("#GP(0): non-canonical IA32_KERNEL_GS_BASE", kgsbase_noncanon);
	expect_gp("#GP(0): non-canonical IA32_LSTAR", lstar_noncanon);
	expect_gp("#GP(0): non-canonical IA32_SYSENTER_EIP", sysenter_eip_noncanon);
	expect_gp("#GP(0): RDMSR of an unimplemented MSR", unknown_msr);
	unsigned n = trap_count();
	jmp_noncanon();
	pc_check(trap_count() - n == 1 && trap_last.vector == 13, "#GP(0): JMP to a non-canonical address");
	pc_check(trap_last.ip != 0x0000800000000000ull, "  RIP is the JMP, not the target (0x%lx)",
		 (unsigned long)trap_last.ip);

	/* FS/GS base through the MSRs and SWAPGS. */
	pc_wrmsr(0xc0000100u, 0x1000);
	pc_wrmsr(0xc0000102u, 0x2000);
	pc_wrmsr(0xc0000101u, 0x3000);
	__asm__ volatile("swapgs");
	pc_check(pc_rdmsr(0xc0000101u) == 0x2000 && pc_rdmsr(0xc0000102u) == 0x3000, "SWAPGS exchanges the GS bases");
	__asm__ volatile("swapgs");
	uint64_t v;
	__asm__ volatile("mov %%fs:8, %0" : "=r"(v));
	pc_check_eq(v, *(volatile uint64_t *)0x1008, "FS-relative access uses IA32_FS_BASE");
	pc_wrmsr(0xc0000100u, 0);
	pc_wrmsr(0xc0000101u, 0);
}

static void test_pcid(void)
{
	uint32_t r[4];
	pc_cpuid(1, 0, r);
	if (!(r[2] & (1u << 17))) {
		pc_skip(7, "PCID not in CPUID"); /* the results below */
		return;
	}
	unsigned n = trap_count();
	ulong cr3 = get_cr3();
	set_cr3(cr3 | 5);
	ulong ip;
	__asm__ volatile("lea 1f(%%rip), %0\n1: mov %1, %%cr4\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"(get_cr4() | X86_CR4_PCIDE)
			 : "memory");
	expect_trap("#GP(0): setting CR4.PCIDE with CR3[11:0] != 0", n, 13, 0, ip, 1);
	set_cr3(cr3);
	set_cr4(get_cr4() | X86_CR4_PCIDE);
	pc_check(get_cr4() & X86_CR4_PCIDE, "CR4.PCIDE set with PCID 0");
	set_cr3(cr3 | 7);
	pc_check_eq(get_cr3() & 0xfff, 7, "CR3[11:0] is the PCID");
	set_cr3(cr3 | (1ul << 63) | 3);
	pc_check_eq(get_cr3(), cr3 | 3, "CR3 bit 63 (no invalidation) is not stored");
	((volatile uint8_t *)pages[2])[0] = 0x11;
	pc_check_eq(*(volatile uint8_t *)(uintptr_t)(TVA + 0x2000), 0x11, "translations work under PCID 3");
	set_cr3(cr3);
	n = trap_count();
	__asm__ volatile("lea 1f(%%rip), %0\n1: mov %1, %%cr4\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"(get_cr4() & ~X86_CR4_PCIDE)
			 : "memory");
	expect_no_trap("clearing CR4.PCIDE", n);
}

/* ---- paging: NX, reserved bits, SMEP, SMAP ---- */

static void user_touch(void)
{
	ulong ip;
	__asm__ volatile("lea 1f(%%rip), %0\n1: movl (%1), %%eax\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"(TVA)
			 : "eax", "memory");
	fault_ip[0] = ip;
	trap_snapshot(&snaps[0]);
}

static void test_paging(void)
{
	/* CPL 3 reading a supervisor page: #PF(U|P). */
	run_user(user_touch);
	expect_rec("#PF(U|P): CPL-3 read of a supervisor page", &snaps[0], 14, 5, fault_ip[0], -1);
	pc_check_eq(snaps[0].cr2, TVA, "  CR2");

	unsigned n = trap_count();
	ulong ip;
	__asm__ volatile("lea 1f(%%rip), %0\n1: movl (%1), %%eax\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"(TVA + 0x3000)
			 : "eax", "memory");
	expect_trap("#PF(P|RSVD): PTE bit 45 above MAXPHYADDR", n, 14, 9, ip, 1);

	((volatile uint8_t *)pages[1])[0] = 0xc3;
	n = trap_count();
	__asm__ volatile("call *%0\n"
			 ".pushsection ex_table, \"a\"\n\t.quad %c1, 2f\n\t.popsection\n"
			 "2: add $8, %%rsp"
			 :
			 : "r"(TVA + 0x1000), "i"(TVA + 0x1000)
			 : "memory");
	expect_trap("#PF(I|P): fetch from an XD page (NXE = 1)", n, 14, 0x11, TVA + 0x1000, 1);

	uint32_t r[4];
	pc_cpuid(7, 0, r);
	build_paging(0);
	((volatile uint8_t *)pages[2])[0] = 0xc3;
	if (r[1] & (1u << 7)) {
		set_cr4(get_cr4() | X86_CR4_SMEP);
		n = trap_count();
		__asm__ volatile("call *%0\n"
				 ".pushsection ex_table, \"a\"\n\t.quad %c1, 2f\n\t.popsection\n"
				 "2: add $8, %%rsp"
				 :
				 : "r"(TVA + 0x2000), "i"(TVA + 0x2000)
				 : "memory");
		set_cr4(get_cr4() & ~X86_CR4_SMEP);
		expect_trap("SMEP: #PF(I|P) fetching a user page at CPL 0", n, 14, 0x11, TVA + 0x2000, 1);
	} else {
		pc_skip(2, "SMEP not in CPUID");
	}
	if (r[1] & (1u << 20)) {
		set_cr4(get_cr4() | X86_CR4_SMAP);
		n = trap_count();
		__asm__ volatile("lea 1f(%%rip), %0\n1: movl (%1), %%eax\n2:\n" EX_TRY("1b", "2b")
				 : "=&r"(ip)
				 : "r"(TVA + 0x2000)
				 : "eax", "memory");
		expect_trap("SMAP: #PF(P) reading a user page at CPL 0", n, 14, 1, ip, 1);
		n = trap_count();
		__asm__ volatile("stac; movl (%0), %%eax; clac" : : "r"(TVA + 0x2000) : "eax", "memory");
		expect_no_trap("SMAP: allowed with EFLAGS.AC = 1", n);
		set_cr4(get_cr4() & ~X86_CR4_SMAP);
	} else {
		pc_skip(3, "SMAP not in CPUID");
	}
	build_paging(1);
}

int pc_main(const struct mb_info *mbi)
{
	(void)mbi;
	setup();
	test_interrupts();
	test_syscall();
	test_call_gate();
	test_checks();
	test_pcid();
	test_paging();
	/* Last: QEMU 7.2 TCG's SVM ends the guest (#VMEXIT(VMEXIT_INVALID))
	 * instead of raising #GP (tests/kvm/divergences.txt). */
	expect_gp("#GP(0): CR3 bit 52 (above MAXPHYADDR)", cr3_reserved);
	return pc_done();
}
