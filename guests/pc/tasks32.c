/*
 * tasks32: hardware task switching with 32-bit TSSes (SDM Vol. 3A chapter 8
 * "Task Management"): far JMP and CALL to a TSS and through a task gate,
 * INT n and exceptions through IDT task gates (with the error code on the
 * new task's stack), IRET back along the link with NT, the busy bits, the
 * state saved in and loaded from the TSSes, CR0.TS, and the faults of a
 * busy or malformed TSS (Table 8-1). On VT-x each switch is a VM exit that
 * L0 emulates; the host side checks those exits.
 */
#include <pc/desc.h>
#include <pc/trap.h>

enum {
	SEL_CODE = 0x08,
	SEL_DATA = 0x10,
	SEL_TSS_MAIN = 0x18,
	SEL_TSS_A = 0x20,
	SEL_TSS_DF = 0x28,
	SEL_TSS_GP = 0x30,
	SEL_GATE_A = 0x38, /* task gate -> TSS A */
	SEL_TSS_SHORT = 0x40, /* limit 0x40: too small */
	GDT_ENTRIES = 9,
};

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
struct tss32 tss_main __attribute__((aligned(128)));
static struct tss32 tss_a __attribute__((aligned(128)));
static struct tss32 tss_df __attribute__((aligned(128)));
static struct tss32 tss_gp __attribute__((aligned(128)));
static uint8_t stack_a[4096] __attribute__((aligned(16)));
static uint8_t stack_df[4096] __attribute__((aligned(16)));
static uint8_t stack_gp[4096] __attribute__((aligned(16)));

void task_a_body(void);
void df_task_body(void);
void gp_task_body(void);
void df_resume(void);
void gp_resume(void);
extern volatile uint32_t task_a_runs, task_a_flags, task_a_tr, df_error, df_runs, df_esp, gp_error, gp_runs;

static void init_task(struct tss32 *t, void (*body)(void), uint8_t *stack, size_t size)
{
	memset(t, 0, sizeof(*t));
	t->eip = (uint32_t)(uintptr_t)body;
	t->eflags = 0x2;
	t->esp = (uint32_t)(uintptr_t)(stack + size);
	t->cs = SEL_CODE;
	t->ss = t->ds = t->es = t->fs = t->gs = SEL_DATA;
	t->iomap = sizeof(*t);
}

static unsigned desc_type(uint16_t sel)
{
	return (unsigned)(gdt[sel >> 3] >> 40) & 0xf;
}

static void task_gate(uint64_t *slot, uint16_t tss, unsigned dpl)
{
	*slot = ((uint64_t)tss << 16) | (0x5ull << 40) | ((uint64_t)dpl << 45) | (1ull << 47);
}

static void setup(void)
{
	gdt[SEL_CODE >> 3] = CODE32(0);
	gdt[SEL_DATA >> 3] = DATA32(0);
	gdt[SEL_TSS_MAIN >> 3] = sys_desc((uint32_t)(uintptr_t)&tss_main, sizeof(tss_main) - 1, SYS_TSS_AVAIL, 0);
	gdt[SEL_TSS_A >> 3] = sys_desc((uint32_t)(uintptr_t)&tss_a, sizeof(tss_a) - 1, SYS_TSS_AVAIL, 0);
	gdt[SEL_TSS_DF >> 3] = sys_desc((uint32_t)(uintptr_t)&tss_df, sizeof(tss_df) - 1, SYS_TSS_AVAIL, 0);
	gdt[SEL_TSS_GP >> 3] = sys_desc((uint32_t)(uintptr_t)&tss_gp, sizeof(tss_gp) - 1, SYS_TSS_AVAIL, 0);
	task_gate(&gdt[SEL_GATE_A >> 3], SEL_TSS_A, 0);
	gdt[SEL_TSS_SHORT >> 3] = sys_desc((uint32_t)(uintptr_t)&tss_gp, 0x40, SYS_TSS_AVAIL, 0);
	pc_lgdt(gdt, sizeof(gdt) - 1);
	__asm__ volatile("ljmp %0, $1f\n1:" : : "i"(SEL_CODE));
	set_ds_es(SEL_DATA);
	set_ss(SEL_DATA);
	__asm__ volatile("mov %0, %%fs; mov %0, %%gs" : : "r"((uint16_t)SEL_DATA));
	memset(&tss_main, 0, sizeof(tss_main));
	tss_main.iomap = sizeof(tss_main);
	pc_ltr(SEL_TSS_MAIN);
	init_task(&tss_a, task_a_body, stack_a, sizeof(stack_a));
	init_task(&tss_df, df_task_body, stack_df, sizeof(stack_df));
	init_task(&tss_gp, gp_task_body, stack_gp, sizeof(stack_gp));
	trap_init(SEL_CODE);
}

static void test_jmp(void)
{
	uint32_t ebx = 0x12345678, esi = 0x9abcdef0, out_b, out_s;
	__asm__ volatile("ljmp %2, $0" : "=b"(out_b), "=S"(out_s) : "i"(SEL_TSS_A), "0"(ebx), "1"(esi) : "memory");
	pc_check_eq(task_a_runs, 1, "JMP to a TSS runs the task");
	pc_check_eq(task_a_tr, SEL_TSS_A, "  TR is the new task's");
	pc_check(!(task_a_flags & X86_FL_NT), "  JMP does not nest (NT = 0)");
	pc_check(out_b == ebx && out_s == esi, "  the registers come back from the TSS when the task resumes");
	pc_check_eq(tss_main.ebx, ebx, "  the outgoing task's EBX was saved in its TSS");
	pc_check(get_cr0() & X86_CR0_TS, "  a task switch sets CR0.TS");
	__asm__ volatile("clts");
	pc_check(desc_type(SEL_TSS_MAIN) == 0xb && desc_type(SEL_TSS_A) == 0x9,
		 "  busy bits: the running task busy, the one left by JMP available");
}

static void test_call_gate_and_iret(void)
{
	__asm__ volatile("lcall %0, $0" : : "i"(SEL_GATE_A) : "memory");
	pc_check_eq(task_a_runs, 2, "CALL through a task gate runs the task");
	pc_check(task_a_flags & X86_FL_NT, "  CALL nests: NT = 1 in the new task");
	pc_check_eq(tss_a.link, SEL_TSS_MAIN, "  the back link is the caller's TSS");
	pc_check_eq(desc_type(SEL_TSS_A), 0x9, "  IRET back along the link frees the nested task");
	pc_check_eq(desc_type(SEL_TSS_MAIN), 0xb, "  the caller stays busy");
	pc_check(!(get_flags() & X86_FL_NT), "  the caller's NT is as it was");
	__asm__ volatile("clts");

	/* INT n through an IDT task gate. */
	task_gate(&((uint64_t *)trap_idt())[0x44], SEL_TSS_A, 0);
	__asm__ volatile("int $0x44" ::: "memory");
	pc_check_eq(task_a_runs, 3, "INT 0x44 through an IDT task gate runs the task, IRET returns");
	__asm__ volatile("clts");
}

static void test_faults(void)
{
	unsigned n = trap_count();
	ulong ip;
	/* CALL to a busy TSS (the running one): #GP(selector). */
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: lcall %1, $0\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "i"(SEL_TSS_MAIN)
			 : "memory");
	expect_trap("#GP(sel): CALL to a busy TSS", n, 13, SEL_TSS_MAIN, ip, 1);
	/* A TSS whose limit is below 0x67: #TS(selector). */
	n = trap_count();
	__asm__ volatile(ASM_LABEL_ADDR("1f", "%0") "1: ljmp %1, $0\n2:\n" EX_TRY("1b", "2b")
			 : "=&r"(ip)
			 : "i"(SEL_TSS_SHORT)
			 : "memory");
	expect_trap("#TS(sel): a TSS limit below 0x67", n, 10, SEL_TSS_SHORT, ip, 1);
}

/* Load DS with a selector past the GDT limit, #GP(selector) (SDM 6.15
 * "Interrupt 13"), and restore DS at the exported label `resume`, where the
 * exception task's handler sends execution back. */
#define LOAD_DS_PAST_GDT(resume)                                                    \
	__asm__ volatile("mov %0, %%ds\n"                                                 \
			 ".globl " #resume "\n" #resume ":\n"                             \
			 "mov %1, %%ds"                                                  \
			 :                                                               \
			 : "r"((uint16_t)(GDT_ENTRIES * 8 + 8)), "r"((uint16_t)SEL_DATA) \
			 : "memory")

static void test_exception_tasks(void)
{
	uint64_t *idt = trap_idt();
	uint64_t save13 = idt[13], save11 = idt[11];
	/* #GP through a task gate: the error code lands on the task's stack. */
	task_gate(&idt[13], SEL_TSS_GP, 0);
	LOAD_DS_PAST_GDT(gp_resume);
	idt[13] = save13;
	pc_check_eq(gp_runs, 1, "#GP through a task gate runs the #GP task");
	pc_check_eq(gp_error, GDT_ENTRIES * 8 + 8, "  its error code is on the new task's stack");
	__asm__ volatile("clts");

	/* #DF as a task, the classic use: #NP while delivering #GP doubles
	 * faults, and the #DF task gets a good stack of its own. */
	task_gate(&idt[8], SEL_TSS_DF, 0);
	idt[13] &= ~(1ull << 47);
	LOAD_DS_PAST_GDT(df_resume);
	idt[13] = save13;
	idt[11] = save11;
	pc_check_eq(df_runs, 1, "#DF through a task gate runs the #DF task");
	pc_check_eq(df_error, 0, "  with error code 0 on its own stack");
	pc_check_eq(df_esp, (uint32_t)(uintptr_t)(stack_df + sizeof(stack_df)), "  its stack from its TSS");
	pc_check_eq(tss_df.link, SEL_TSS_MAIN, "  linked back to the faulting task");
	__asm__ volatile("clts");
}

int pc_main(const struct mb_info *mbi)
{
	(void)mbi;
	setup();
	test_jmp();
	test_call_gate_and_iret();
	test_faults();
	test_exception_tasks();
	return pc_done();
}
