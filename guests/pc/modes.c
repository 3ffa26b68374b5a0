/*
 * modes: walk through the x86 operating modes and the transitions between
 * them that a boot uses (SDM Vol. 3A 2.2 Figure 2-3 "Transitions Among the
 * Processor's Operating Modes"; 10.9 "Mode Switching"), taking an interrupt
 * and exceptions in each: 32-bit protected mode (the Multiboot entry),
 * 16-bit protected mode with a 16-bit IDT, real mode with the IVT (20.1.4),
 * back to protected mode, IA-32e compatibility mode, 64-bit mode, and back
 * to legacy protected mode. The transitions themselves are in modes_asm.S.
 */
#include <pc/desc.h>
#include <pc/trap.h>

#include "modes.h"

extern const uint8_t rm_start[], rm_end[];
extern const uint8_t rm_int16_off[], rm_intrm_off[], rm_fault_off[], rm_pm16_int_next[], rm_rm_int_next[];
extern uint64_t lm_res[LM_RES_COUNT];
extern uint32_t lm_cr3;
extern struct {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed)) lm_idt_ptr;
void pc_real_roundtrip(void);
void pc_long_roundtrip(void);
void lm_int_handler(void);
void lm_fault_handler(void);
void lm_fault_err_handler(void);

/* Physical address 0 (the IVT), hidden from the compiler's null-pointer
 * reasoning. */
static uintptr_t pc_zero_page(void)
{
	uintptr_t z;
	__asm__("xor %0, %0" : "=r"(z));
	return z;
}

#define OFF(sym) ((uint16_t)(uintptr_t)(sym))
#define W(addr) (*(volatile uint16_t *)(uintptr_t)(addr))

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));

static void setup_gdt(void)
{
	gdt[SEL_CODE32 >> 3] = CODE32(0);
	gdt[SEL_DATA32 >> 3] = DATA32(0);
	gdt[SEL_CODE16 >> 3] = CODE16(RM_BASE);
	gdt[SEL_DATA16 >> 3] = DATA16(0);
	gdt[SEL_CODE64 >> 3] = CODE64(0);
	pc_lgdt(gdt, sizeof(gdt) - 1);
	__asm__ volatile("ljmp %0, $1f\n1:" : : "i"(SEL_CODE32));
	set_ds_es(SEL_DATA32);
	set_ss(SEL_DATA32);
}

/* A 16-bit interrupt gate (type 6) at idt[v] (SDM 6.11 Figure 6-2). */
static void gate16(uint64_t *idt, unsigned v, uint16_t off)
{
	idt[v] = off | ((uint64_t)SEL_CODE16 << 16) | (0x6ull << 40) | (1ull << 47);
}

static void test_real_and_pm16(void)
{
	memset((void *)RM_RES, 0, RM_RES_SIZE);
	memcpy((void *)RM_BASE, rm_start, (size_t)(rm_end - rm_start));
	uint64_t *idt16 = (uint64_t *)RM_IDT16;
	memset(idt16, 0, 0x32 * 8);
	gate16(idt16, 6, OFF(rm_fault_off));
	gate16(idt16, 0x31, OFF(rm_int16_off));
	W(RM_IDT16_PTR) = 0x32 * 8 - 1;
	*(volatile uint32_t *)(RM_IDT16_PTR + 2) = RM_IDT16;
	/* The real-mode IVT at 0: 4-byte offset:segment entries (20.1.4). */
	volatile uint16_t *ivt = (volatile uint16_t *)(uintptr_t)pc_zero_page();
	ivt[0 * 2] = OFF(rm_fault_off);
	ivt[0 * 2 + 1] = RM_BASE >> 4;
	ivt[6 * 2] = OFF(rm_fault_off);
	ivt[6 * 2 + 1] = RM_BASE >> 4;
	ivt[0x30 * 2] = OFF(rm_intrm_off);
	ivt[0x30 * 2 + 1] = RM_BASE >> 4;
	W(RM_IVT_PTR) = 0x3ff;
	*(volatile uint32_t *)(RM_IVT_PTR + 2) = 0;

	pc_real_roundtrip();
	pc_check_eq(get_cs(), SEL_CODE32, "back in 32-bit protected mode");

	pc_check_eq(W(R_PM16_PUSH), 2, "16-bit protected mode: PUSH moves SP by 2");
	pc_check_eq(W(R_INT16 + RI_COUNT), 1, "16-bit PM: INT 0x31 through a 16-bit interrupt gate");
	pc_check_eq(W(R_INT16 + RI_IP), OFF(rm_pm16_int_next), "  frame IP is after the INT");
	pc_check_eq(W(R_INT16 + RI_CS), SEL_CODE16, "  frame CS is the 16-bit code selector");
	pc_check_eq(W(R_INT16 + RI_SP), RM_STACK - 6, "  a 16-bit gate pushes 3 words");
	pc_check((W(R_INT16 + RI_FL) & X86_FL_IF) && !(W(R_INT16 + RI_FL_IN) & X86_FL_IF),
		 "  IF pushed as 1, cleared in the handler");
	pc_check_eq(W(R_PM16_UD_GOT), W(R_PM16_UD_WANT), "16-bit PM: #UD frame IP is the UD2");

	pc_check_eq(W(R_RM_CS), RM_BASE >> 4, "real mode: CS = 0x800 after the far jump");
	pc_check_eq(W(R_INTRM + RI_COUNT), 1, "real mode: INT 0x30 through the IVT");
	pc_check_eq(W(R_INTRM + RI_IP), OFF(rm_rm_int_next), "  frame IP is after the INT");
	pc_check_eq(W(R_INTRM + RI_CS), RM_BASE >> 4, "  frame CS is the real-mode CS");
	pc_check_eq(W(R_INTRM + RI_SP), RM_STACK - 6, "  FLAGS, CS, IP pushed (3 words)");
	pc_check((W(R_INTRM + RI_FL) & X86_FL_IF) && !(W(R_INTRM + RI_FL_IN) & X86_FL_IF),
		 "  IF pushed as 1, cleared in the handler");
	pc_check_eq(W(R_RM_DE_GOT), W(R_RM_DE_WANT), "real mode: #DE through IVT vector 0, IP at the DIV");
	pc_check_eq(W(R_RM_UD_GOT), W(R_RM_UD_WANT), "real mode: #UD through IVT vector 6, IP at the UD2");
	pc_check_eq(W(R_FAULT_COUNT), 3, "three faults in the 16-bit modes");
	pc_check_eq(W(0x12350), 0xbeef, "real mode: 0x1234:0x10 is linear 0x12350");
}

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pds[4][512] __attribute__((aligned(4096)));
static uint64_t idt64[256 * 2] __attribute__((aligned(16)));

/* A 64-bit interrupt gate (SDM 6.14.1 Figure 6-8). */
static void gate64(unsigned v, void (*fn)(void))
{
	uint32_t off = (uint32_t)(uintptr_t)fn;
	idt64[2 * v] = (off & 0xffff) | ((uint64_t)SEL_CODE64 << 16) | (0xeull << 40) | (1ull << 47) |
		       ((uint64_t)(off >> 16) << 48);
	idt64[2 * v + 1] = 0;
}

static void test_long_mode(void)
{
	pml4[0] = (uint32_t)(uintptr_t)pdpt | 3;
	for (int g = 0; g < 4; g++) {
		pdpt[g] = (uint32_t)(uintptr_t)pds[g] | 3;
		for (int i = 0; i < 512; i++)
			pds[g][i] = ((uint64_t)g << 30) | ((uint64_t)i << 21) | 0x83;
	}
	gate64(6, lm_fault_handler);
	gate64(12, lm_fault_err_handler);
	gate64(13, lm_fault_err_handler);
	gate64(0x32, lm_int_handler);
	lm_idt_ptr.limit = sizeof(idt64) - 1;
	lm_idt_ptr.base = (uint32_t)(uintptr_t)idt64;
	lm_cr3 = (uint32_t)(uintptr_t)pml4;

	pc_long_roundtrip();
	pc_check_eq(get_cs(), SEL_CODE32, "back in legacy 32-bit protected mode");
	pc_check(!(get_cr0() & X86_CR0_PG) && !(pc_rdmsr(MSR_EFER) & (EFER_LMA | EFER_LME)),
		 "paging off, IA32_EFER.LME and LMA clear");

	pc_check(lm_res[LM_EFER_COMPAT] & EFER_LMA, "CR0.PG with EFER.LME: IA-32e mode (LMA = 1) in a 32-bit segment");
	pc_check_eq(lm_res[LM_INT_CS_COMPAT], SEL_CODE32, "compatibility mode: INT through the 64-bit IDT, CS pushed");
	pc_check_eq(lm_res[LM_INT_RSP_COMPAT], (uint32_t)lm_res[LM_RSP_BEFORE_INT],
		    "  the 64-bit frame holds the interrupted RSP");
	pc_check_eq(lm_res[LM_INT_FRAME_COMPAT] & 0xf, 8, "  RSP was aligned to 16 before the 5 pushes");
	pc_check_eq(lm_res[LM_COMPAT_UD_GOT], lm_res[LM_COMPAT_UD_WANT], "compatibility mode: #UD at the UD2");
	pc_check_eq(lm_res[LM_CS64], SEL_CODE64, "far JMP to an L = 1 segment enters 64-bit mode");
	pc_check_eq(lm_res[LM_GP_GOT], lm_res[LM_GP_WANT], "64-bit mode: #GP at a non-canonical load");
	pc_check_eq(lm_res[LM_GP_ERR], 0, "  error code 0");
	pc_check_eq(lm_res[LM_SS_GOT], lm_res[LM_SS_WANT], "64-bit mode: #SS for a non-canonical RBP-based load");
	pc_check_eq(lm_res[LM_SS_ERR], 0, "  error code 0");
	pc_check(lm_res[LM_FAULT_FLAGS] & X86_FL_RF, "  RF = 1 in the pushed RFLAGS");
	pc_check_eq(lm_res[LM_INT_CS], SEL_CODE64, "64-bit mode: INT frame CS is the 64-bit selector");
	pc_check_eq(lm_res[LM_INT_COUNT], 2, "two INTs in IA-32e mode");
	pc_check_eq(lm_res[LM_FAULT_COUNT], 3, "three faults in IA-32e mode");
	pc_check_eq(lm_res[LM_CS_BACK], SEL_CODE32, "far RET to a 32-bit segment: compatibility mode");
	pc_check(!(lm_res[LM_EFER_AFTER] & EFER_LMA) && (lm_res[LM_EFER_AFTER] & EFER_LME),
		 "clearing CR0.PG clears LMA (LME stays until cleared)");
}

int pc_main(const struct mb_info *mbi)
{
	(void)mbi;
	setup_gdt();
	trap_init(SEL_CODE32);
	test_real_and_pm16();
	test_long_mode();
	/* And once more: the transitions are repeatable. */
	test_real_and_pm16();
	return pc_done();
}
