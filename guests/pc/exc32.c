/*
 * exc32: exceptions in 32-bit protected mode at CPL 0 (SDM Vol. 3A chapter
 * 6, "Interrupt and Exception Handling", and 6.15 "Exception and Interrupt
 * Reference"): vector, error code, the faulting EIP (faults) or the next one
 * (traps), RF in the pushed EFLAGS (17.3.1.1: 1 for faults), CR2 for page
 * faults under 32-bit and PAE paging (4.7), segment limit and type checks
 * (5.3, 5.4), double faults (6.15 Table 6-5) and gate types (6.12.1.2).
 */
#include <pc/desc.h>
#include <pc/trap.h>

enum {
	SEL_CODE = 0x08,
	SEL_DATA = 0x10,
	SEL_NP = 0x18, /* data, not present */
	SEL_SMALL = 0x20, /* data, limit 0xfff */
	SEL_RO = 0x28, /* data, read-only */
	SEL_XO = 0x30, /* code, execute-only */
	SEL_EXPDOWN = 0x38, /* data, expand-down, limit 0xfff, B = 1 */
	SEL_STACK2M = 0x40, /* data, limit 2 MiB - 1 (G = 1) */
	SEL_CODE_NP = 0x48, /* code, not present */
	GDT_ENTRIES = 10,
};

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));

static void setup_gdt(void)
{
	gdt[SEL_CODE >> 3] = CODE32(0);
	gdt[SEL_DATA >> 3] = DATA32(0);
	gdt[SEL_NP >> 3] = seg_desc(0, 0xfffff, D_W, 0, 0, SEGF_DB | SEGF_G);
	gdt[SEL_SMALL >> 3] = seg_desc(0, 0xfff, D_W, 0, 1, SEGF_DB);
	gdt[SEL_RO >> 3] = seg_desc(0, 0xfffff, 0, 0, 1, SEGF_DB | SEGF_G);
	gdt[SEL_XO >> 3] = seg_desc(0, 0xfffff, D_CODE, 0, 1, SEGF_DB | SEGF_G);
	gdt[SEL_EXPDOWN >> 3] = seg_desc(0, 0xfff, D_W | D_E, 0, 1, SEGF_DB);
	gdt[SEL_STACK2M >> 3] = seg_desc(0, 0x1ff, D_W, 0, 1, SEGF_DB | SEGF_G);
	gdt[SEL_CODE_NP >> 3] = seg_desc(0, 0xfffff, D_CODE | D_R, 0, 0, SEGF_DB | SEGF_G);
	pc_lgdt(gdt, sizeof(gdt) - 1);
	__asm__ volatile("ljmp %0, $1f\n1:" : : "i"(SEL_CODE));
	set_ds_es(SEL_DATA);
	set_ss(SEL_DATA);
	__asm__ volatile("mov %0, %%fs; mov %0, %%gs" : : "r"((uint16_t)SEL_DATA));
}

/* ---- faults and traps without error codes ---- */

static void test_de(void)
{
	unsigned n = trap_count();
	ulong ip;
	uint32_t a = 7, d = 0, z = 0;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: divl %3\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip), "+a"(a), "+d"(d)
			 : "r"(z));
	expect_trap("#DE: DIV by zero faults at the DIV, no error code, RF=1", n, 0, 0, ip, 1);
	pc_check_eq(a, 7, "#DE: EAX unchanged");
}

/* Traps need no fix-up: they resume after the instruction. */
static void ignore_trap(struct trap_frame *f)
{
	(void)f;
}

static void test_bp_of(void)
{
	trap_set_handler(3, ignore_trap);
	trap_set_handler(4, ignore_trap);
	unsigned n = trap_count();
	ulong ip;
	__asm__ volatile("int3\n1:\n" ASM_LABEL_ADDR("1b", "%0") : "=r"(ip));
	expect_trap("#BP: INT3 is a trap: EIP after it, RF=0", n, 3, 0, ip, 0);

	n = trap_count();
	__asm__ volatile("mov $0x7fffffff, %%eax; add $1, %%eax; into\n1:\n" ASM_LABEL_ADDR("1b", "%0")
			 : "=r"(ip)
			 :
			 : "eax", "cc");
	expect_trap("#OF: INTO with OF=1 is a trap after INTO", n, 4, 0, ip, 0);

	n = trap_count();
	__asm__ volatile("xor %%eax, %%eax; into" : : : "eax", "cc");
	expect_no_trap("INTO with OF=0 does nothing", n);
}

static void test_br_ud(void)
{
	static int32_t bounds[2] = { 10, 20 };
	unsigned n = trap_count();
	ulong ip;
	int32_t idx = 15;
	__asm__ volatile("bound %0, %1" : : "r"(idx), "m"(bounds));
	expect_no_trap("BOUND inside the bounds", n);
	idx = 21;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: bound %1, %2\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"(idx), "m"(bounds));
	expect_trap("#BR: BOUND above the upper bound faults", n, 5, 0, ip, 1);

	n = trap_count();
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: ud2\n2:\n" EX_TRY("1b", "2b") : "=&r"(ip));
	expect_trap("#UD: UD2", n, 6, 0, ip, 1);

	n = trap_count();
	/* LOCK on a register destination (SDM Vol. 2A 2.1.1: #UD). */
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: .byte 0xf0, 0x01, 0xc0\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 :
			 : "eax", "cc");
	expect_trap("#UD: LOCK ADD with a register destination", n, 6, 0, ip, 1);
}

static void test_db_single_step(void)
{
	trap_set_handler(1, ignore_trap);
	unsigned n = trap_count();
	ulong ip;
	/* POPF sets TF; the trap comes after the instruction that follows
	 * (SDM 17.3.1.4: single-step after each instruction with TF = 1 at its
	 * start). */
	__asm__ volatile("pushf\n\t"
			 "orl $0x100, (%%esp)\n\t"
			 "popf\n\t"
			 "nop\n"
			 "1: pushf\n\t"
			 "andl $~0x100, (%%esp)\n\t"
			 "popf\n\t" ASM_LABEL_ADDR("1b", "%0")
			 : "=r"(ip)
			 :
			 : "cc", "memory");
	pc_check(trap_count() - n >= 1 && trap_last.vector == 1, "#DB: single-step trap with TF");
	ulong dr6;
	__asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
	pc_check(dr6 & (1ul << 14), "#DB: DR6.BS set (0x%lx)", dr6);
}

/* ---- segment faults (SDM 5.3, 5.4 and the MOV Sreg pseudocode) ---- */

static void load_ds_expect(uint16_t sel, unsigned vec, long err, const char *what)
{
	unsigned n = trap_count();
	ulong ip;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: mov %1, %%ds\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"(sel)
			 : "memory");
	set_ds_es(SEL_DATA);
	expect_trap(what, n, vec, err, ip, 1);
}

static void test_segments(void)
{
	load_ds_expect(SEL_NP, 11, SEL_NP, "#NP(sel): MOV DS, not-present segment");
	load_ds_expect(SEL_XO, 13, SEL_XO, "#GP(sel): MOV DS, execute-only code segment");
	load_ds_expect(GDT_ENTRIES * 8 + 8, 13, GDT_ENTRIES * 8 + 8, "#GP(sel): selector beyond the GDT limit");
	/* After LLDT with a NULL selector every LDT reference is #GP (SDM
	 * Vol. 2A LLDT); before it, LDTR holds whatever the loader left. */
	__asm__ volatile("lldt %0" : : "r"((uint16_t)0));
	load_ds_expect(SEL_CODE | 4, 13, SEL_CODE | 4, "#GP(sel): LDT selector after LLDT NULL");

	unsigned n;
	ulong ip;
	/* Write through a read-only data segment: #GP(0). */
	n = trap_count();
	__asm__ volatile("mov %1, %%fs\n\t" ASM_LABEL_ADDR("1f", "%0") "1: movl $1, %%fs:0x200000\n2:\n" EX_TRY(
				 "1b", "2b") "mov %2, %%fs"
			 : "=&r"(ip)
			 : "r"((uint16_t)SEL_RO), "r"((uint16_t)SEL_DATA)
			 : "memory");
	expect_trap("#GP(0): write through a read-only data segment", n, 13, 0, ip, 1);

	/* Offset beyond the limit: #GP(0) (5.3). */
	n = trap_count();
	__asm__ volatile("mov %1, %%fs\n\t" ASM_LABEL_ADDR("1f", "%0") "1: movl %%fs:0xffe, %%eax\n2:\n" EX_TRY(
				 "1b", "2b") "mov %2, %%fs"
			 : "=&r"(ip)
			 : "r"((uint16_t)SEL_SMALL), "r"((uint16_t)SEL_DATA)
			 : "eax", "memory");
	expect_trap("#GP(0): dword at 0xffe crosses a 0xfff limit", n, 13, 0, ip, 1);
	n = trap_count();
	uint32_t v;
	__asm__ volatile("mov %1, %%fs; movl %%fs:0xffc, %0; mov %2, %%fs"
			 : "=r"(v)
			 : "r"((uint16_t)SEL_SMALL), "r"((uint16_t)SEL_DATA));
	expect_no_trap("dword at 0xffc fits a 0xfff limit", n);

	/* Expand-down (B = 1): offsets limit+1 .. 0xffffffff are valid. */
	n = trap_count();
	__asm__ volatile("mov %1, %%fs\n\t" ASM_LABEL_ADDR("1f", "%0") "1: movl %%fs:0x800, %%eax\n2:\n" EX_TRY(
				 "1b", "2b") "mov %2, %%fs"
			 : "=&r"(ip)
			 : "r"((uint16_t)SEL_EXPDOWN), "r"((uint16_t)SEL_DATA)
			 : "eax", "memory");
	expect_trap("#GP(0): expand-down segment below its limit", n, 13, 0, ip, 1);
	n = trap_count();
	__asm__ volatile("mov %1, %%fs; movl %%fs:0x100000, %0; mov %2, %%fs"
			 : "=r"(v)
			 : "r"((uint16_t)SEL_EXPDOWN), "r"((uint16_t)SEL_DATA));
	expect_no_trap("expand-down segment above its limit", n);

	/* A NULL data segment may be loaded but not used: #GP(0). */
	n = trap_count();
	__asm__ volatile("mov %1, %%fs\n\t" ASM_LABEL_ADDR("1f", "%0") "1: movl %%fs:0x1000, %%eax\n2:\n" EX_TRY(
				 "1b", "2b") "mov %2, %%fs"
			 : "=&r"(ip)
			 : "r"((uint16_t)0), "r"((uint16_t)SEL_DATA)
			 : "eax", "memory");
	expect_trap("#GP(0): access through a NULL FS", n, 13, 0, ip, 1);

	/* SS: NULL is #GP(0); not present is #SS(sel); beyond the limit #SS(0). */
	n = trap_count();
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: mov %1, %%ss\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"((uint16_t)0));
	expect_trap("#GP(0): MOV SS, NULL", n, 13, 0, ip, 1);
	n = trap_count();
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: mov %1, %%ss\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"((uint16_t)SEL_NP));
	expect_trap("#SS(sel): MOV SS, not-present segment", n, 12, SEL_NP, ip, 1);
	n = trap_count();
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: mov %1, %%ss\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"((uint16_t)SEL_RO));
	expect_trap("#GP(sel): MOV SS, read-only segment", n, 13, SEL_RO, ip, 1);
	/* The stack (about 1 MiB) fits in SEL_STACK2M, so the fault's frame can
	 * be pushed; the SS-relative access at 3 MiB cannot. */
	n = trap_count();
	__asm__ volatile("mov %1, %%ss\n\t" ASM_LABEL_ADDR("1f", "%0") "1: movl %%ss:0x300000, %%eax\n2:\n" EX_TRY(
				 "1b", "2b") "mov %2, %%ss"
			 : "=&r"(ip)
			 : "r"((uint16_t)SEL_STACK2M), "r"((uint16_t)SEL_DATA)
			 : "eax", "memory");
	expect_trap("#SS(0): SS-relative access beyond the SS limit", n, 12, 0, ip, 1);

	/* Far jump to a not-present code segment: #NP(sel). */
	n = trap_count();
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: ljmp %1, $0\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "i"(SEL_CODE_NP));
	expect_trap("#NP(sel): far JMP to a not-present code segment", n, 11, SEL_CODE_NP, ip, 1);
	/* Far jump to a data segment: #GP(sel). */
	n = trap_count();
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: ljmp %1, $0\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "i"(SEL_DATA));
	expect_trap("#GP(sel): far JMP to a data segment", n, 13, SEL_DATA, ip, 1);
	/* Near jump beyond the CS limit: use a code segment limited to the
	 * image, so the target is beyond it. */
}

/* LAR/LSL/VERR/VERW report through ZF and never fault (SDM Vol. 2A/2B). */
static void test_lar_lsl(void)
{
	uint32_t ar = 0, lim = 0;
	uint8_t zf;
	__asm__ volatile("lar %2, %0; setz %1" : "=r"(ar), "=q"(zf) : "r"((uint32_t)SEL_EXPDOWN) : "cc");
	pc_check(zf && ar == 0x00409700, "LAR of an expand-down data segment: 0x%x", ar);
	__asm__ volatile("lsl %2, %0; setz %1" : "=r"(lim), "=q"(zf) : "r"((uint32_t)SEL_STACK2M) : "cc");
	pc_check(zf && lim == 0x1fffff, "LSL scales a page-granular limit: 0x%x", lim);
	__asm__ volatile("lsl %2, %0; setz %1" : "=r"(lim), "=q"(zf) : "r"((uint32_t)0) : "cc");
	pc_check(!zf, "LSL of NULL clears ZF");
	__asm__ volatile("verw %1; setz %0" : "=q"(zf) : "r"((uint16_t)SEL_RO) : "cc");
	pc_check(!zf, "VERW of a read-only segment clears ZF");
	__asm__ volatile("verr %1; setz %0" : "=q"(zf) : "r"((uint16_t)SEL_XO) : "cc");
	pc_check(!zf, "VERR of an execute-only segment clears ZF");
	__asm__ volatile("verr %1; setz %0" : "=q"(zf) : "r"((uint16_t)SEL_CODE) : "cc");
	pc_check(zf, "VERR of a readable code segment sets ZF");
	uint16_t sel = 0x10;
	__asm__ volatile("arpl %2, %0; setz %1" : "+r"(sel), "=q"(zf) : "r"((uint16_t)0x3) : "cc");
	pc_check(zf && sel == 0x13, "ARPL raises the RPL");
}

/* ---- gates and the IDT (6.10-6.12) ---- */

static ulong handler_flags;

static void record_flags(struct trap_frame *f)
{
	(void)f;
	handler_flags = get_flags();
}

static void test_gates(void)
{
	trap_set_handler(0x41, record_flags);
	trap_set_handler(0x42, record_flags);
	trap_set_gate(0x42, GATE_TRAP, 0, 0);
	unsigned n = trap_count();
	ulong ip;
	__asm__ volatile("sti; int $0x41\n1:\n" ASM_LABEL_ADDR("1b", "%0") "cli" : "=r"(ip));
	expect_trap("INT 0x41: EIP after INT, RF=0", n, 0x41, 0, ip, 0);
	pc_check(!(handler_flags & X86_FL_IF) && (trap_last.flags & X86_FL_IF),
		 "interrupt gate clears IF (pushed IF=1)");
	__asm__ volatile("sti; int $0x42; cli");
	pc_check(handler_flags & X86_FL_IF, "trap gate leaves IF set");

	/* A vector beyond the IDT limit: #GP(vector * 8 + 2), IDT bit set. */
	n = trap_count();
	pc_lidt(trap_idt(), 0x50 * 8 - 1);
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: int $0x60\n2:\n" EX_TRY("1b", "2b") : "=&r"(ip) : : "memory");
	pc_lidt(trap_idt(), 256 * 8 - 1);
	expect_trap("#GP(0x302): INT 0x60 beyond the IDT limit", n, 13, 0x60 * 8 + 2, ip, -1);

	/* A not-present gate: #NP(vector * 8 + 2). */
	uint64_t *idt = trap_idt();
	uint64_t save = idt[0x43];
	idt[0x43] &= ~(1ull << 47);
	n = trap_count();
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: int $0x43\n2:\n" EX_TRY("1b", "2b") : "=&r"(ip) : : "memory");
	idt[0x43] = save;
	expect_trap("#NP(0x21a): INT through a not-present gate", n, 11, 0x43 * 8 + 2, ip, -1);

	/* #DF: #NP while delivering #GP (both contributory, Table 6-5). The
	 * #DF frame's EIP is the instruction that faulted first. */
	save = idt[13];
	idt[13] &= ~(1ull << 47);
	n = trap_count();
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: mov %1, %%ds\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"((uint16_t)SEL_XO)
			 : "memory");
	idt[13] = save;
	set_ds_es(SEL_DATA);
	expect_trap("#DF(0): #NP (gate not present) while delivering #GP", n, 8, 0, ip, -1);

	/* #PF then #DE during delivery: benign after page fault, no #DF; a
	 * second #GP after #DE is a #DF. Here: #DE delivery through a gate whose
	 * CS is a data segment gives #GP(sel) which double-faults. */
	save = idt[0];
	idt[0] = (idt[0] & ~0xffff0000ull) | ((uint64_t)SEL_DATA << 16);
	n = trap_count();
	uint32_t a = 1, d = 0, z = 0;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: divl %3\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip), "+a"(a), "+d"(d)
			 : "r"(z)
			 : "memory");
	idt[0] = save;
	expect_trap("#DF(0): #GP (gate CS is data) while delivering #DE", n, 8, 0, ip, -1);
}

/* ---- paging: 32-bit (4.3) and PAE (4.4) ---- */

#define PG_P 0x1u
#define PG_W 0x2u
#define PG_U 0x4u
#define PG_PS 0x80u

static uint32_t pd32[1024] __attribute__((aligned(4096)));
static uint32_t pt32[1024] __attribute__((aligned(4096)));
static uint8_t test_pages[4][4096] __attribute__((aligned(4096)));

static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t pae_pd[4][512] __attribute__((aligned(4096)));
static uint64_t pae_pt[512] __attribute__((aligned(4096)));

/* 4 KiB test pages at virtual 0x40000000 + k * 4 KiB map test_pages[k]. */
#define TEST_VA 0x40000000u

static void fault_access(const char *what, uint32_t va, int write, uint32_t pfec)
{
	unsigned n = trap_count();
	ulong ip;
	if (write)
		__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: movl $5, (%1)\n2:\n" EX_TRY("1b", "2b")
				 : "=&r"(ip)
				 : "r"(va)
				 : "memory");
	else
		__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: movl (%1), %%eax\n2:\n" EX_TRY("1b", "2b")
				 : "=&r"(ip)
				 : "r"(va)
				 : "eax", "memory");
	expect_trap(what, n, 14, pfec, ip, 1);
	pc_check_eq(trap_last.cr2, va, "  CR2 holds the faulting linear address");
}

static void test_paging32(void)
{
	/* Identity-map 0-1 GiB with 4-MiB pages; PDE 0x100 (1 GiB) -> pt32. */
	for (uint32_t i = 0; i < 256; i++)
		pd32[i] = (i << 22) | PG_P | PG_W | PG_PS;
	pd32[TEST_VA >> 22] = (uint32_t)(uintptr_t)pt32 | PG_P | PG_W | PG_U;
	pt32[0] = (uint32_t)(uintptr_t)test_pages[0] | PG_P | PG_W; /* RW supervisor */
	pt32[1] = 0; /* not present */
	pt32[2] = (uint32_t)(uintptr_t)test_pages[2] | PG_P; /* read-only */
	pt32[3] = (uint32_t)(uintptr_t)test_pages[3] | PG_P | PG_W | PG_U;
	set_cr4(get_cr4() | X86_CR4_PSE);
	set_cr3((ulong)pd32);
	set_cr0(get_cr0() | X86_CR0_PG | X86_CR0_WP);
	pc_check(get_cr0() & X86_CR0_PG, "32-bit paging on (PSE 4-MiB pages)");

	((volatile uint8_t *)test_pages[0])[0] = 0x5a;
	pc_check_eq(*(volatile uint8_t *)(uintptr_t)TEST_VA, 0x5a, "4-KiB page maps its frame");
	fault_access("#PF: read of a not-present page, error 0", TEST_VA + 0x1000, 0, 0);
	fault_access("#PF: write to a not-present page, error W", TEST_VA + 0x1008, 1, 2);
	fault_access("#PF: write to a read-only page with CR0.WP, error P|W", TEST_VA + 0x2010, 1, 3);
	unsigned n = trap_count();
	set_cr0(get_cr0() & ~X86_CR0_WP);
	*(volatile uint32_t *)(uintptr_t)(TEST_VA + 0x2010) = 9;
	set_cr0(get_cr0() | X86_CR0_WP);
	expect_no_trap("CR0.WP=0: supervisor writes to read-only pages", n);
	pc_check_eq(*(volatile uint32_t *)(uintptr_t)(TEST_VA + 0x2010), 9, "  and the write landed");

	/* Accessed and dirty flags (4.8). */
	pt32[3] &= ~0x60u;
	pc_invlpg((void *)(uintptr_t)(TEST_VA + 0x3000));
	(void)*(volatile uint32_t *)(uintptr_t)(TEST_VA + 0x3000);
	pc_check((pt32[3] & 0x60) == 0x20, "a read sets A, not D (PTE 0x%x)", pt32[3]);
	*(volatile uint32_t *)(uintptr_t)(TEST_VA + 0x3000) = 1;
	pc_check((pt32[3] & 0x60) == 0x60, "a write sets D (PTE 0x%x)", pt32[3]);

	/* A 4-MiB PDE with reserved bit 21 set (PSE-36 bits above MAXPHYADDR
	 * are reserved too): error P|RSVD. */
	pd32[(TEST_VA >> 22) + 1] = (TEST_VA + 0x400000) | PG_P | PG_W | PG_PS | (1u << 21);
	fault_access("#PF: reserved bit in a 4-MiB PDE, error P|RSVD", TEST_VA + 0x400000, 0, 9);

	/* INVLPG: a changed PTE is seen after INVLPG. */
	pt32[1] = (uint32_t)(uintptr_t)test_pages[1] | PG_P | PG_W;
	pc_invlpg((void *)(uintptr_t)(TEST_VA + 0x1000));
	((volatile uint8_t *)test_pages[1])[4] = 0x77;
	pc_check_eq(*(volatile uint8_t *)(uintptr_t)(TEST_VA + 0x1004), 0x77, "INVLPG makes a new PTE visible");

	set_cr0(get_cr0() & ~X86_CR0_PG);
}

static void test_pae(void)
{
	uint32_t r[4];
	pc_cpuid(0x80000001, 0, r);
	int nx = (r[3] >> 20) & 1;
	for (int g = 0; g < 4; g++) {
		pdpt[g] = (uint32_t)(uintptr_t)pae_pd[g] | PG_P;
		for (int i = 0; i < 512; i++)
			pae_pd[g][i] = ((uint64_t)g << 30) | ((uint64_t)i << 21) | PG_P | PG_W | PG_PS;
	}
	pae_pd[1][0] = (uint32_t)(uintptr_t)pae_pt | PG_P | PG_W;
	pae_pt[0] = (uint32_t)(uintptr_t)test_pages[0] | PG_P | PG_W;
	pae_pt[1] = 0;
	pae_pt[2] = (uint32_t)(uintptr_t)test_pages[2] | PG_P | PG_W | (nx ? 1ull << 63 : 0);
	((volatile uint8_t *)test_pages[2])[0] = 0xc3; /* RET */
	if (nx)
		pc_wrmsr(MSR_EFER, pc_rdmsr(MSR_EFER) | EFER_NXE);
	set_cr4(get_cr4() | X86_CR4_PAE);
	set_cr3((ulong)pdpt);
	set_cr0(get_cr0() | X86_CR0_PG);
	pc_check(get_cr0() & X86_CR0_PG, "PAE paging on");
	pc_check_eq(*(volatile uint8_t *)(uintptr_t)TEST_VA, 0x5a, "PAE: 4-KiB page maps its frame");
	fault_access("#PF under PAE: read of a not-present page", TEST_VA + 0x1000, 0, 0);
	if (nx) {
		/* Instruction fetch from an XD page: error P|I (4.7). */
		unsigned n = trap_count();
		__asm__ volatile("call *%0\n"
				 ".pushsection ex_table, \"a\"\n\t.long %c1, 2f\n\t.popsection\n"
				 "2:"
				 :
				 : "r"(TEST_VA + 0x2000), "i"(TEST_VA + 0x2000)
				 : "memory");
		/* The CALL pushed a return address; the fix-up resumed after it. */
		__asm__ volatile("add $4, %%esp" ::: "memory");
		expect_trap("#PF under PAE: fetch from an execute-disable page, error P|I", n, 14, 0x11,
			    TEST_VA + 0x2000, 1);
	}
	/* PDPTEs are loaded by MOV to CR3 (4.4.1): a reserved bit is #GP(0). */
	unsigned n = trap_count();
	pdpt[3] |= 1ull << 5;
	ulong ip;
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: mov %1, %%cr3\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"((ulong)pdpt)
			 : "memory");
	pdpt[3] &= ~(1ull << 5);
	expect_trap("#GP(0): MOV CR3 with a reserved bit in a PDPTE", n, 13, 0, ip, 1);
	set_cr0(get_cr0() & ~X86_CR0_PG);
	set_cr4(get_cr4() & ~X86_CR4_PAE);
}

static void test_cr_checks(void)
{
	unsigned n = trap_count();
	ulong ip;
	/* CR0: PG without PE, NW without CD, bits 63:32 n/a in 32-bit. */
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: mov %1, %%cr0\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"((get_cr0() | (1ul << 29)) & ~(1ul << 30))
			 : "memory");
	expect_trap("#GP(0): CR0.NW=1 with CD=0", n, 13, 0, ip, 1);
	n = trap_count();
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: mov %1, %%cr4\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"(get_cr4() | (1ul << 31))
			 : "memory");
	expect_trap("#GP(0): reserved CR4 bit 31", n, 13, 0, ip, 1);
	n = trap_count();
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: mov %1, %%cr4\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "r"(get_cr4() | X86_CR4_PCIDE)
			 : "memory");
	expect_trap("#GP(0): CR4.PCIDE outside IA-32e mode", n, 13, 0, ip, 1);
}

int pc_main(const struct mb_info *mbi)
{
	(void)mbi;
	setup_gdt();
	trap_init(SEL_CODE);
	test_de();
	test_bp_of();
	test_br_ud();
	test_db_single_step();
	test_segments();
	test_lar_lsl();
	test_gates();
	test_paging32();
	test_pae();
	test_cr_checks();
	return pc_done();
}
