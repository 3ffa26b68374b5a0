/*
 * rings32: privilege levels 0 and 3 in 32-bit protected mode (SDM Vol. 3A
 * chapter 5 "Protection"; 6.12.1 "Exception- or Interrupt-Handler
 * Procedures"; 8.2.1 the TSS): IRET to CPL 3, interrupts and exceptions
 * from CPL 3 with the TSS stack switch and the SS:ESP in the frame, INT n
 * gate DPL checks, call gates with parameters and RET n to the outer level,
 * SYSENTER/SYSEXIT, the I/O permission bitmap and IOPL, privileged
 * instructions at CPL 3, #TS for a bad TSS stack, UMIP, and paging with
 * U/S, SMEP and SMAP.
 */
#include <pc/desc.h>
#include <pc/trap.h>

enum {
	SEL_CODE0 = 0x08,
	SEL_DATA0 = 0x10,
	SEL_CODE3 = 0x18,
	SEL_DATA3 = 0x20,
	SEL_TSS = 0x28,
	SEL_GATE3 = 0x30, /* call gate, DPL 3 -> gate_entry, 2 parameters */
	SEL_GATE0 = 0x38, /* call gate, DPL 0 */
	SEL_CONFORMING = 0x40, /* conforming code, DPL 0 */
	SEL_GATE_NP = 0x48, /* call gate, not present */
	SEL_SYSENTER = 0x50, /* SYSENTER_CS: code0, data0, code3, data3 follow */
	GDT_ENTRIES = 14,
};

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));

/* The TSS with an I/O permission bitmap for ports 0-0x3ff and the
 * terminating 0xff byte (SDM Vol. 1 19.5.2). */
static struct {
	struct tss32 t;
	uint8_t iomap[0x400 / 8 + 1];
} __attribute__((packed, aligned(16))) tss;

static uint8_t kstack[8192] __attribute__((aligned(16)));
static uint8_t ustack[8192] __attribute__((aligned(16)));

void pc_run_user(void (*fn)(void), uint32_t esp, uint32_t eflags);
__attribute__((noreturn)) void pc_resume_kernel(void);
void gate_entry(void);
void sysenter_entry(void);
void user_exit_stub(void);
extern uint32_t user_fs, gate_esp, gate_ss, gate_cs, gate_param[2], gate_caller_esp, gate_caller_ss;
extern uint32_t sysenter_esp_seen, sysenter_cs_seen, sysenter_ss_seen, sysenter_flags_seen;
extern uint32_t sysenter_ret_eip, sysenter_ret_esp;

__asm__(".text\nuser_exit_stub:\n\txor %eax, %eax\n\tint $0x80\n1:\tjmp 1b\n");

#define KSTACK_TOP ((uint32_t)(uintptr_t)(kstack + sizeof(kstack)))

static uint32_t user_esp(void)
{
	uint32_t *top = (uint32_t *)(ustack + sizeof(ustack));
	top[-1] = (uint32_t)(uintptr_t)user_exit_stub;
	return (uint32_t)(uintptr_t)&top[-1];
}

static void run_user(void (*fn)(void), uint32_t eflags)
{
	pc_run_user(fn, user_esp(), eflags);
}

/* INT 0x80: EAX = 0 returns to the kernel; otherwise records the frame. */
static volatile uint32_t int80_frame_top, int80_eax, int80_sp, int80_ss;

static void int80(struct trap_frame *f)
{
	if (f->ax == 0)
		pc_resume_kernel();
	int80_eax = f->ax;
	int80_frame_top = (uint32_t)(uintptr_t)(f + 1);
	int80_sp = f->sp;
	int80_ss = f->ss;
	f->ax = f->ax * 2;
}

/* Every run_user() ends with one INT 0x80 (the exit), which is counted. */
#define EXIT_TRAPS 1

static void setup(void)
{
	gdt[SEL_CODE0 >> 3] = CODE32(0);
	gdt[SEL_DATA0 >> 3] = DATA32(0);
	gdt[SEL_CODE3 >> 3] = CODE32(3);
	gdt[SEL_DATA3 >> 3] = DATA32(3);
	gdt[SEL_TSS >> 3] = sys_desc((uint32_t)(uintptr_t)&tss, sizeof(tss) - 1, SYS_TSS_AVAIL, 0);
	gdt[SEL_GATE3 >> 3] = call_gate(SEL_CODE0, (uint32_t)(uintptr_t)gate_entry, 3, 2);
	gdt[SEL_GATE0 >> 3] = call_gate(SEL_CODE0, (uint32_t)(uintptr_t)gate_entry, 0, 2);
	gdt[SEL_CONFORMING >> 3] = seg_desc(0, 0xfffff, D_CODE | D_R | D_C, 0, 1, SEGF_DB | SEGF_G);
	gdt[SEL_GATE_NP >> 3] = call_gate(SEL_CODE0, (uint32_t)(uintptr_t)gate_entry, 3, 2) & ~(1ull << 47);
	gdt[(SEL_SYSENTER >> 3) + 0] = CODE32(0);
	gdt[(SEL_SYSENTER >> 3) + 1] = DATA32(0);
	gdt[(SEL_SYSENTER >> 3) + 2] = CODE32(3);
	gdt[(SEL_SYSENTER >> 3) + 3] = DATA32(3);
	pc_lgdt(gdt, sizeof(gdt) - 1);
	__asm__ volatile("ljmp %0, $1f\n1:" : : "i"(SEL_CODE0));
	set_ds_es(SEL_DATA0);
	set_ss(SEL_DATA0);

	tss.t.ss0 = SEL_DATA0;
	tss.t.esp0 = KSTACK_TOP;
	tss.t.iomap = (uint16_t)__builtin_offsetof(__typeof__(tss), iomap);
	for (unsigned k = 0; k < sizeof(tss.iomap); k++)
		tss.iomap[k] = 0xff;
	/* Allow COM1 (0x3f8-0x3ff) and port 0x80; deny everything else. */
	tss.iomap[0x3f8 / 8] = 0x00;
	tss.iomap[0x80 / 8] &= (uint8_t)~1u;
	pc_ltr(SEL_TSS);

	trap_init(SEL_CODE0);
	trap_set_gate(0x80, GATE_INT, 3, 0);
	trap_set_handler(0x80, int80);
	/* #TS is delivered through a conforming code segment so that it does
	 * not need the (deliberately broken) TSS stack: it runs at the CPL of
	 * the interrupted code (SDM 6.12.1.1). */
	trap_set_gate_target(10, SEL_CONFORMING, trap_stub(10));
}

/* ---- user-mode tests: results go to globals, checks run at CPL 0 ---- */

static volatile uint32_t u_cs, u_ss, u_fs, u_eax, u_esp_before, u_esp_after;
static volatile unsigned u_count;

static void user_basic(void)
{
	uint16_t v;
	__asm__ volatile("mov %%cs, %0" : "=r"(v));
	u_cs = v;
	__asm__ volatile("mov %%ss, %0" : "=r"(v));
	u_ss = v;
	__asm__ volatile("mov %%fs, %0" : "=r"(v));
	u_fs = v;
	printf("# hello from CPL 3 (COM1 is allowed by the I/O bitmap)\n");
}

static volatile uint32_t fault_ip[8];
static struct trap_record snaps[8];

static void user_privileged(void)
{
	ulong ip;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: cli\n2:\n" EX_TRY("1b", "2b") : "=&r"(ip) : : "memory");
	fault_ip[0] = ip;
	trap_snapshot(&snaps[0]);
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: hlt\n2:\n" EX_TRY("1b", "2b") : "=&r"(ip) : : "memory");
	fault_ip[1] = ip;
	trap_snapshot(&snaps[1]);
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: mov %%cr0, %%eax\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 :
			 : "eax", "memory");
	fault_ip[2] = ip;
	trap_snapshot(&snaps[2]);
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: outb %%al, $0x81\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 :
			 : "memory");
	fault_ip[3] = ip;
	trap_snapshot(&snaps[3]);
	/* A word at 0x7f..0x80: 0x7f is denied. */
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: outw %%ax, $0x7f\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 :
			 : "memory");
	fault_ip[4] = ip;
	trap_snapshot(&snaps[4]);
	u_count = trap_count();
	__asm__ volatile("outb %%al, $0x80" : : "a"(0));
	u_count = trap_count() - u_count;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: int $0x81\n2:\n" EX_TRY("1b", "2b") : "=&r"(ip) : : "memory");
	fault_ip[5] = ip;
	trap_snapshot(&snaps[5]);
}

static void user_int80(void)
{
	uint32_t eax = 21;
	uint32_t esp;
	__asm__ volatile("mov %%esp, %1; int $0x80" : "+a"(eax), "=&r"(esp) : : "memory");
	u_eax = eax;
	u_esp_before = esp;
}

static void user_call_gate(void)
{
	uint32_t eax, esp0, esp1;
	__asm__ volatile("mov %%esp, %1\n\t"
			 "push $5\n\t"
			 "push $7\n\t"
			 "lcall %3, $0\n\t"
			 "mov %%esp, %2"
			 : "=a"(eax), "=&r"(esp0), "=&r"(esp1)
			 : "i"(SEL_GATE3 | 3)
			 : "memory");
	u_eax = eax;
	u_esp_before = esp0;
	u_esp_after = esp1;
	ulong ip;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: lcall %1, $0\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "i"(SEL_GATE0 | 3)
			 : "memory");
	fault_ip[0] = ip;
	trap_snapshot(&snaps[0]);
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: lcall %1, $0\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "i"(SEL_GATE_NP | 3)
			 : "memory");
	fault_ip[1] = ip;
	trap_snapshot(&snaps[1]);
}

static void user_sysenter(void)
{
	uint32_t esp;
	__asm__ volatile("mov %%esp, %0\n\t"
			 "mov %%esp, sysenter_ret_esp\n\t"
			 "movl $1f, sysenter_ret_eip\n\t"
			 "sysenter\n"
			 "1:"
			 : "=&r"(esp)
			 :
			 : "ecx", "edx", "memory");
	u_esp_before = esp;
	uint16_t v;
	__asm__ volatile("mov %%cs, %0" : "=r"(v));
	u_cs = v;
	__asm__ volatile("mov %%ss, %0" : "=r"(v));
	u_ss = v;
}

static void user_int80_bad_tss(void)
{
	ulong ip;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: int $0x80\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "a"(1)
			 : "memory");
	fault_ip[0] = ip;
	trap_snapshot(&snaps[0]);
	tss.t.ss0 = SEL_DATA0; /* the exit INT needs a good stack again */
}

static void user_umip(void)
{
	ulong ip;
	uint8_t buf[8];
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: sgdt %1\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip), "=m"(buf)
			 :
			 : "memory");
	fault_ip[0] = ip;
	trap_snapshot(&snaps[0]);
	uint16_t msw;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: smsw %1\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip), "=r"(msw)
			 :
			 : "memory");
	fault_ip[1] = ip;
	trap_snapshot(&snaps[1]);
}

static volatile uint8_t ac_buf[16] __attribute__((aligned(16)));

static void user_misaligned(void)
{
	ulong ip;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: movl (%1), %%eax\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"(ac_buf + 1)
			 : "eax", "memory");
	fault_ip[0] = ip;
	trap_snapshot(&snaps[0]);
	/* Byte accesses and aligned ones never fault. */
	u_count = trap_count();
	__asm__ volatile("movb (%0), %%al; movl (%1), %%eax" : : "r"(ac_buf + 1), "r"(ac_buf + 4) : "eax", "memory");
	u_count = trap_count() - u_count;
}

static void test_alignment_check(void)
{
	set_cr0(get_cr0() | X86_CR0_AM);
	unsigned n = trap_count();
	run_user(user_misaligned, 0x2 | X86_FL_AC);
	pc_check_eq(trap_count() - n, 1 + EXIT_TRAPS, "one #AC at CPL 3");
	expect_rec("#AC(0): misaligned dword at CPL 3 with CR0.AM and EFLAGS.AC", &snaps[0], 17, 0, fault_ip[0], -1);
	pc_check_eq(u_count, 0, "  byte and aligned accesses do not fault");
	n = trap_count();
	run_user(user_misaligned, 0x2); /* AC = 0 */
	pc_check_eq(trap_count() - n, EXIT_TRAPS, "no #AC with EFLAGS.AC = 0");
	__asm__ volatile("pushf; orl $0x40000, (%%esp); popf; movl (%0), %%eax; pushf; andl $~0x40000, (%%esp); popf"
			 :
			 : "r"(ac_buf + 1)
			 : "eax", "memory", "cc");
	pc_check_eq(trap_count() - n, EXIT_TRAPS, "no #AC at CPL 0");
	set_cr0(get_cr0() & ~X86_CR0_AM);
}

static void user_iopl3(void)
{
	ulong f0, f1;
	__asm__ volatile("cli; sti\n\t"
			 "pushf; pop %0\n\t"
			 "push %0; andl $~0x3000, (%%esp); popf\n\t"
			 "pushf; pop %1\n\t"
			 : "=&r"(f0), "=&r"(f1)
			 :
			 : "memory", "cc");
	u_eax = (uint32_t)f0;
	u_esp_after = (uint32_t)f1;
}

static volatile uint32_t *user_target;

static void user_touch(void)
{
	ulong ip;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: movl (%1), %%eax\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"(user_target)
			 : "eax", "memory");
	fault_ip[0] = ip;
	trap_snapshot(&snaps[0]);
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: movl $1, 0x1000(%1)\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"(user_target)
			 : "memory");
	fault_ip[1] = ip;
	trap_snapshot(&snaps[1]);
}

/* ---- checks at CPL 0 ---- */

static void test_iret_to_user(void)
{
	user_fs = SEL_DATA0; /* DPL 0: IRET to CPL 3 must make FS NULL */
	run_user(user_basic, 0x2);
	user_fs = SEL_DATA3 | 3;
	pc_check_eq(u_cs, SEL_CODE3 | 3, "IRET to CPL 3: CS is the user code selector");
	pc_check_eq(u_ss, SEL_DATA3 | 3, "IRET to CPL 3: SS:ESP from the frame");
	pc_check_eq(u_fs, 0, "IRET to CPL 3 nulls FS holding a DPL-0 data segment");
}

static void test_user_faults(void)
{
	static const char *const what[] = {
		"#GP(0): CLI at CPL 3 with IOPL 0",
		"#GP(0): HLT at CPL 3",
		"#GP(0): MOV from CR0 at CPL 3",
		"#GP(0): OUT to port 0x81, denied by the I/O bitmap",
		"#GP(0): OUT word to 0x7f-0x80 (0x7f denied)",
		"#GP(0x40a): INT 0x81 through a DPL-0 gate from CPL 3",
	};
	unsigned n = trap_count();
	run_user(user_privileged, 0x2);
	pc_check_eq(trap_count() - n, 6 + EXIT_TRAPS, "six faults at CPL 3, none for the allowed port 0x80");
	pc_check_eq(u_count, 0, "OUT to port 0x80 (bitmap bit clear) does not fault");
	for (int k = 0; k < 6; k++) {
		expect_rec(what[k], &snaps[k], 13, k == 5 ? 0x81 * 8 + 2 : 0, fault_ip[k], -1);
		pc_check((snaps[k].cs & 3) == 3 && snaps[k].ss == (SEL_DATA3 | 3) && snaps[k].sp,
			 "  the frame holds the CPL-3 CS, SS and ESP");
	}

	n = trap_count();
	run_user(user_int80, 0x2);
	pc_check_eq(u_eax, 42, "INT 0x80 (DPL-3 gate) from CPL 3 reaches the handler and returns");
	pc_check_eq(int80_frame_top, KSTACK_TOP, "the handler ran on TSS.SS0:ESP0 (frame top = ESP0)");
	pc_check_eq(int80_sp, u_esp_before, "the frame's ESP is the CPL-3 ESP");
	pc_check_eq(int80_ss, SEL_DATA3 | 3, "the frame's SS is the CPL-3 SS");
}

static void test_call_gates(void)
{
	unsigned n = trap_count();
	run_user(user_call_gate, 0x2);
	pc_check_eq(u_eax, 12, "CALL through a call gate copies 2 parameters (5 + 7)");
	pc_check_eq(gate_cs & 3, 0, "the gate's target runs at CPL 0");
	pc_check_eq(gate_ss, SEL_DATA0, "on the TSS SS0 stack");
	pc_check_eq(gate_esp, KSTACK_TOP - 6 * 4, "with SS, ESP, 2 parameters, CS, EIP pushed");
	pc_check_eq(gate_caller_ss, SEL_DATA3 | 3, "the caller's SS is saved");
	pc_check_eq(gate_caller_esp, u_esp_before - 8, "the caller's ESP (after the pushes) is saved");
	pc_check_eq(u_esp_after, u_esp_before, "RET 8 to CPL 3 releases the parameters on the caller's stack");
	pc_check_eq(trap_count() - n, 2 + EXIT_TRAPS, "two faulting gate calls");
	expect_rec("#GP(gate): CALL through a DPL-0 call gate from CPL 3", &snaps[0], 13, SEL_GATE0, fault_ip[0], -1);
	expect_rec("#NP(gate): CALL through a not-present gate", &snaps[1], 11, SEL_GATE_NP, fault_ip[1], -1);
}

static void test_sysenter(void)
{
	pc_wrmsr(0x174, SEL_SYSENTER);
	pc_wrmsr(0x175, KSTACK_TOP - 64);
	pc_wrmsr(0x176, (uint32_t)(uintptr_t)sysenter_entry);
	run_user(user_sysenter, 0x202);
	pc_check_eq(sysenter_cs_seen, SEL_SYSENTER, "SYSENTER: CS = IA32_SYSENTER_CS");
	pc_check_eq(sysenter_ss_seen, SEL_SYSENTER + 8, "SYSENTER: SS = IA32_SYSENTER_CS + 8");
	pc_check_eq(sysenter_esp_seen, KSTACK_TOP - 64, "SYSENTER: ESP = IA32_SYSENTER_ESP");
	pc_check(!(sysenter_flags_seen & X86_FL_IF), "SYSENTER clears IF");
	pc_check_eq(u_cs, (SEL_SYSENTER + 16) | 3, "SYSEXIT: CS = IA32_SYSENTER_CS + 16, RPL 3");
	pc_check_eq(u_ss, (SEL_SYSENTER + 24) | 3, "SYSEXIT: SS = IA32_SYSENTER_CS + 24, RPL 3");
	pc_check_eq(u_esp_before, sysenter_ret_esp, "SYSEXIT: ESP = ECX");
	unsigned n = trap_count();
	ulong ip;
	pc_wrmsr(0x174, 0);
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: sysenter\n2:\n" EX_TRY("1b", "2b") : "=&r"(ip) : : "memory");
	expect_trap("#GP(0): SYSENTER with IA32_SYSENTER_CS = 0", n, 13, 0, ip, 1);
}

static void test_bad_tss(void)
{
	static const struct {
		uint16_t ss0;
		long err;
		const char *what;
	} cases[] = {
		{ 0, 0, "#TS(0): INT from CPL 3 with a NULL SS0 in the TSS" },
		{ SEL_CODE0, SEL_CODE0, "#TS(SS0): SS0 is a code segment" },
		{ SEL_DATA3, SEL_DATA3, "#TS(SS0): SS0 has DPL 3" },
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		tss.t.ss0 = cases[k].ss0;
		unsigned n = trap_count();
		run_user(user_int80_bad_tss, 0x2);
		pc_check_eq(trap_count() - n, 1 + EXIT_TRAPS, "one #TS");
		expect_rec(cases[k].what, &snaps[0], 10, cases[k].err, fault_ip[0], -1);
	}
}

static void test_umip(void)
{
	uint32_t r[4];
	pc_cpuid(7, 0, r);
	if (!(r[2] & (1u << 2))) {
		pc_skip(4, "UMIP not in CPUID"); /* the results below */
		return;
	}
	set_cr4(get_cr4() | X86_CR4_UMIP);
	unsigned n = trap_count();
	run_user(user_umip, 0x2);
	set_cr4(get_cr4() & ~X86_CR4_UMIP);
	pc_check_eq(trap_count() - n, 2 + EXIT_TRAPS, "UMIP: SGDT and SMSW at CPL 3 fault");
	expect_rec("UMIP: #GP(0) for SGDT at CPL 3", &snaps[0], 13, 0, fault_ip[0], -1);
	expect_rec("UMIP: #GP(0) for SMSW at CPL 3", &snaps[1], 13, 0, fault_ip[1], -1);
	uint8_t buf[8];
	n = trap_count();
	set_cr4(get_cr4() | X86_CR4_UMIP);
	__asm__ volatile("sgdt %0" : "=m"(buf));
	set_cr4(get_cr4() & ~X86_CR4_UMIP);
	expect_no_trap("UMIP: SGDT at CPL 0 is allowed", n);
}

static void test_iopl(void)
{
	unsigned n = trap_count();
	run_user(user_iopl3, 0x3002);
	pc_check_eq(trap_count() - n, EXIT_TRAPS, "IOPL 3: CLI/STI at CPL 3 do not fault");
	pc_check((u_eax & 0x3000) == 0x3000 && (u_esp_after & 0x3000) == 0x3000,
		 "POPF at CPL 3 cannot change IOPL");
}

/* ---- paging: U/S, SMEP, SMAP (SDM 4.6) ---- */

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[1024] __attribute__((aligned(4096)));
static uint8_t pages[3][4096] __attribute__((aligned(4096)));
#define TVA 0x40000000u

static void map(int user_default)
{
	unsigned u = user_default ? 4 : 0;
	for (uint32_t i = 0; i < 256; i++)
		pd[i] = (i << 22) | 0x83 | u;
	pd[TVA >> 22] = (uint32_t)(uintptr_t)pt | 7;
	pt[0] = (uint32_t)(uintptr_t)pages[0] | 3 | (user_default ? 0 : 4); /* the other kind */
	pt[1] = (uint32_t)(uintptr_t)pages[1] | 5; /* user, read-only */
	pt[2] = (uint32_t)(uintptr_t)pages[2] | 7; /* user, writable */
	set_cr3((ulong)pd);
}

static void test_paging(void)
{
	set_cr4(get_cr4() | X86_CR4_PSE);
	map(1);
	set_cr0(get_cr0() | X86_CR0_PG | X86_CR0_WP);
	/* CPL 3: a supervisor page, then a write to a read-only user page. */
	user_target = (volatile uint32_t *)(uintptr_t)TVA;
	unsigned n = trap_count();
	run_user(user_touch, 0x2);
	pc_check_eq(trap_count() - n, 2 + EXIT_TRAPS, "two page faults at CPL 3");
	expect_rec("#PF(U|P): CPL-3 read of a supervisor page", &snaps[0], 14, 5, fault_ip[0], -1);
	pc_check_eq(snaps[0].cr2, TVA, "  CR2");
	expect_rec("#PF(U|W|P): CPL-3 write to a read-only user page", &snaps[1], 14, 7, fault_ip[1], -1);
	pc_check_eq(snaps[1].cr2, TVA + 0x1000, "  CR2");
	set_cr0(get_cr0() & ~X86_CR0_PG);

	uint32_t r[4];
	pc_cpuid(7, 0, r);
	int smep = (r[1] >> 7) & 1, smap = (r[1] >> 20) & 1;
	map(0);
	((volatile uint8_t *)pages[2])[0] = 0xc3; /* RET */
	set_cr0(get_cr0() | X86_CR0_PG);
	if (smep) {
		set_cr4(get_cr4() | X86_CR4_SMEP);
		n = trap_count();
		__asm__ volatile("call *%0\n"
				 ".pushsection ex_table, \"a\"\n\t.long %c1, 2f\n\t.popsection\n"
				 "2: add $4, %%esp"
				 :
				 : "r"(TVA + 0x2000), "i"(TVA + 0x2000)
				 : "memory");
		set_cr4(get_cr4() & ~X86_CR4_SMEP);
		expect_trap("SMEP: #PF(I|P) fetching a user page at CPL 0", n, 14, 0x11, TVA + 0x2000, 1);
		n = trap_count();
		__asm__ volatile("call *%0" : : "r"(TVA + 0x2000) : "memory");
		expect_no_trap("without SMEP the same fetch works", n);
	} else {
		pc_skip(3, "SMEP not in CPUID");
	}
	if (smap) {
		set_cr4(get_cr4() | X86_CR4_SMAP);
		n = trap_count();
		ulong ip;
		__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: movl (%1), %%eax\n2:\n" EX_TRY("1b", "2b")
				 : "=&r"(ip)
				 : "r"(TVA + 0x2000)
				 : "eax", "memory");
		expect_trap("SMAP: #PF(P) reading a user page at CPL 0 with AC = 0", n, 14, 1, ip, 1);
		n = trap_count();
		__asm__ volatile("stac; movl (%0), %%eax; clac" : : "r"(TVA + 0x2000) : "eax", "memory");
		expect_no_trap("SMAP: STAC allows the read", n);
		n = trap_count();
		__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: movl $1, (%1)\n2:\n" EX_TRY("1b", "2b")
				 : "=&r"(ip)
				 : "r"(TVA + 0x2000)
				 : "memory");
		expect_trap("SMAP: after CLAC a write faults again, #PF(W|P)", n, 14, 3, ip, 1);
		set_cr4(get_cr4() & ~X86_CR4_SMAP);
	} else {
		pc_skip(5, "SMAP not in CPUID");
	}
	set_cr0(get_cr0() & ~X86_CR0_PG);
}

int pc_main(const struct mb_info *mbi)
{
	(void)mbi;
	setup();
	test_iret_to_user();
	test_user_faults();
	test_call_gates();
	test_sysenter();
	test_bad_tss();
	test_umip();
	test_iopl();
	test_alignment_check();
	test_paging();
	return pc_done();
}
