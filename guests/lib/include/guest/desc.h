/*
 * Descriptor tables for self-test guests: a GDT with kernel and user
 * segments and a 64-bit TSS (SDM Vol. 3A 3.4.5, 8.7), and excursions to
 * CPL 3.
 *
 * Selectors keep the direct boot protocol's first three (include/tortuga/
 * bootinfo.h) so that the guest's CS and SS stay valid across desc_init().
 */
#ifndef GUEST_DESC_H
#define GUEST_DESC_H

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_KCODE32 0x18
#define SEL_UDATA (0x20 | 3)
#define SEL_UCODE (0x28 | 3)
#define SEL_TSS 0x30
/* Descriptors for tests of segment loads: not present, a system descriptor
 * (type 0), a data segment with the accessed bit clear, and the first
 * selector beyond the GDT limit. */
#define SEL_TEST_NP 0x40
#define SEL_TEST_SYS 0x48
#define SEL_TEST_UNACCESSED 0x50
#define SEL_BEYOND_GDT 0x58

/* The vector whose gate (DPL 3) takes a CPL-3 excursion back to CPL 0. */
#define USER_RETURN_VECTOR 0x81

#ifndef __ASSEMBLER__
#include <stdint.h>

/* The 64-bit TSS (SDM 3A 8.7, Figure 8-11). */
struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t ist[8]; /* ist[1..7] at 0x24; ist[0] is the reserved slot at 0x1c */
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes (SDM 3A Figure 8-11)");
_Static_assert(__builtin_offsetof(struct tss64, ist[1]) == 0x24, "IST1 at 0x24");

extern struct tss64 guest_tss;
extern uint64_t guest_gdt[];

/* IST stacks the library sets up; each is 16-byte aligned at the top. */
#define GUEST_IST_DF 1 /* double fault */
#define GUEST_IST_TEST 2 /* free for tests */
#define GUEST_IST_STACK_SIZE 8192
uint64_t desc_ist_top(unsigned ist);

/* Load the GDT, reload the segment registers and load TR. */
void desc_init(void);

/*
 * Run fn(arg) at CPL 3 (through IRETQ, SDM 3A 6.14.3) on a user stack and
 * return its result once it returns (through INT USER_RETURN_VECTOR). The
 * guest image and the user stack are made user-accessible on first use.
 * Exceptions at CPL 3 go through the IDT like any other (the CPU switches to
 * the TSS's RSP0), so EXC_SAFE() works in user code too.
 */
uint64_t user_call(uint64_t (*fn)(uint64_t), uint64_t arg);

#endif /* __ASSEMBLER__ */
#endif
