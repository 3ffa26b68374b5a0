/*
 * GDT, TSS and CPL-3 excursions (include/guest/desc.h).
 */
#include <stdbool.h>

#include <guest/desc.h>
#include <guest/guest.h>
#include <guest/io.h>
#include <guest/paging.h>

/* Segment descriptors (SDM 3A 3.4.5, Figure 3-8): flat, 4 GiB limit. */
#define DESC_KCODE64 0x00af9b000000ffffull /* P, DPL 0, code exec/read, L */
#define DESC_KDATA 0x00cf93000000ffffull /* P, DPL 0, data read/write, D/B, G */
#define DESC_KCODE32 0x00cf9b000000ffffull /* P, DPL 0, code exec/read, D */
#define DESC_UDATA 0x00cff3000000ffffull /* P, DPL 3, data read/write */
#define DESC_UCODE64 0x00affb000000ffffull /* P, DPL 3, code exec/read, L */
#define DESC_NP_DATA 0x00cf13000000ffffull /* not present, DPL 0, data read/write */
#define DESC_DATA_NA 0x00cf92000000ffffull /* P, DPL 0, data read/write, not accessed */

uint64_t guest_gdt[SEL_BEYOND_GDT / 8] __attribute__((aligned(16))) = {
	0, DESC_KCODE64, DESC_KDATA, DESC_KCODE32, DESC_UDATA, DESC_UCODE64,
	/* [6], [7]: the 16-byte TSS descriptor, filled by desc_init() */
	[SEL_TEST_NP / 8] = DESC_NP_DATA,
	[SEL_TEST_SYS / 8] = 0,
	[SEL_TEST_UNACCESSED / 8] = DESC_DATA_NA,
};

struct tss64 guest_tss __attribute__((aligned(16)));

static uint8_t ist_stacks[2][GUEST_IST_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t user_stack[16384] __attribute__((aligned(16)));
uint64_t user_kernel_rsp;

uint64_t desc_ist_top(unsigned ist)
{
	return (uint64_t)(uintptr_t)ist_stacks[ist - 1] + GUEST_IST_STACK_SIZE;
}

struct dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

void desc_init(void)
{
	/* 64-bit TSS descriptor (SDM 3A 8.2.3, Figure 8-4): type 9, present. */
	uint64_t base = (uint64_t)(uintptr_t)&guest_tss, limit = sizeof(guest_tss) - 1;
	guest_gdt[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		       ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
	guest_gdt[7] = base >> 32;
	guest_tss.ist[GUEST_IST_DF] = desc_ist_top(GUEST_IST_DF);
	guest_tss.ist[GUEST_IST_TEST] = desc_ist_top(GUEST_IST_TEST);
	/* No I/O permission bitmap: the base is beyond the limit (SDM Vol. 1 19.5.2). */
	guest_tss.iomap_base = sizeof(guest_tss);

	struct dtr gdtr = { SEL_BEYOND_GDT - 1, (uint64_t)(uintptr_t)guest_gdt };
	__asm__ volatile("lgdt %0" : : "m"(gdtr));
	/* Reload CS with a far return, then the data segments. */
	__asm__ volatile("pushq %0\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movl %1, %%eax\n\t"
			 "movl %%eax, %%ds\n\t"
			 "movl %%eax, %%es\n\t"
			 "movl %%eax, %%ss\n\t"
			 "movl %%eax, %%fs\n\t"
			 "movl %%eax, %%gs\n\t"
			 :
			 : "i"(SEL_KCODE), "i"(SEL_KDATA)
			 : "rax", "memory");
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}

uint64_t user_enter(uint64_t (*fn)(uint64_t), uint64_t arg, uint64_t user_rsp);

uint64_t user_call(uint64_t (*fn)(uint64_t), uint64_t arg)
{
	static bool mapped;
	extern char __image_start[], __image_end[];
	if (!mapped) {
		/* User code and data need U=1 at every level (SDM 3A 4.6). */
		pt_update_range((uint64_t)(uintptr_t)__image_start, (uint64_t)(uintptr_t)__image_end,
				PTE_U, 0);
		mapped = true;
	}
	return user_enter(fn, arg, (uint64_t)(uintptr_t)user_stack + sizeof(user_stack));
}
