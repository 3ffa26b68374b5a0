/*
 * Segment descriptors for PC guests (SDM Vol. 3A 3.4.5 "Segment
 * Descriptors", Figure 3-8; system types 3.5 Table 3-2; call gates 5.8.3
 * Figure 5-8, 5.8.3.1 for IA-32e mode; TSS 8.2.1 / 8.7).
 */
#ifndef PC_DESC_H
#define PC_DESC_H

#include <stdint.h>

#define D_A 0x1u /* accessed */
#define D_W 0x2u /* data: writable */
#define D_R 0x2u /* code: readable */
#define D_E 0x4u /* data: expand-down */
#define D_C 0x4u /* code: conforming */
#define D_CODE 0x8u

/* A code or data segment descriptor. flags: bit 0 AVL, 1 L, 2 D/B, 3 G. */
static inline uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned type, unsigned dpl, unsigned present,
				unsigned flags)
{
	return (limit & 0xffffull) | ((uint64_t)(base & 0xffffff) << 16) | ((uint64_t)(type & 0xf) << 40) |
	       (1ull << 44) | ((uint64_t)(dpl & 3) << 45) | ((uint64_t)(present & 1) << 47) |
	       ((uint64_t)((limit >> 16) & 0xf) << 48) | ((uint64_t)(flags & 0xf) << 52) |
	       ((uint64_t)(base >> 24) << 56);
}

#define SEGF_L 0x2u
#define SEGF_DB 0x4u
#define SEGF_G 0x8u

/* Flat 4-GiB segments. */
#define CODE32(dpl) seg_desc(0, 0xfffff, D_CODE | D_R | D_A, dpl, 1, SEGF_DB | SEGF_G)
#define CODE64(dpl) seg_desc(0, 0xfffff, D_CODE | D_R | D_A, dpl, 1, SEGF_L | SEGF_G)
#define DATA32(dpl) seg_desc(0, 0xfffff, D_W | D_A, dpl, 1, SEGF_DB | SEGF_G)
#define CODE16(base) seg_desc(base, 0xffff, D_CODE | D_R | D_A, 0, 1, 0)
#define DATA16(base) seg_desc(base, 0xffff, D_W | D_A, 0, 1, 0)

/* A system descriptor (TSS, LDT): the low 8 bytes; IA-32e mode adds
 * base 63:32 in the next 8. */
static inline uint64_t sys_desc(uint32_t base, uint32_t limit, unsigned type, unsigned dpl)
{
	uint64_t d = seg_desc(base, limit, type, dpl, 1, 0);
	return d & ~(1ull << 44); /* S = 0 */
}

#define SYS_TSS16 0x1u
#define SYS_LDT 0x2u
#define SYS_TSS_AVAIL 0x9u
#define SYS_TSS_BUSY 0xbu
#define SYS_CALL_GATE 0xcu
#define SYS_TASK_GATE 0x5u

/* A call gate: target sel:offset, parameter count (32-bit gates only). */
static inline uint64_t call_gate(uint16_t sel, uint32_t offset, unsigned dpl, unsigned params)
{
	return (offset & 0xffff) | ((uint64_t)sel << 16) | ((uint64_t)(params & 0x1f) << 32) |
	       ((uint64_t)SYS_CALL_GATE << 40) | ((uint64_t)(dpl & 3) << 45) | (1ull << 47) |
	       ((uint64_t)(offset >> 16) << 48);
}

/* The 32-bit TSS (SDM Vol. 3A 8.2.1, Figure 8-2). */
struct tss32 {
	uint16_t link, r0;
	uint32_t esp0;
	uint16_t ss0, r1;
	uint32_t esp1;
	uint16_t ss1, r2;
	uint32_t esp2;
	uint16_t ss2, r3;
	uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint16_t es, r4, cs, r5, ss, r6, ds, r7, fs, r8, gs, r9, ldt, r10;
	uint16_t trap, iomap;
} __attribute__((packed));
_Static_assert(sizeof(struct tss32) == 104, "SDM Figure 8-2");

/* The 64-bit TSS (SDM Vol. 3A 8.7, Figure 8-11). */
struct tss64 {
	uint32_t r0;
	uint64_t rsp[3];
	uint64_t r1;
	uint64_t ist[7]; /* IST1..IST7 */
	uint64_t r2;
	uint16_t r3, iomap;
} __attribute__((packed));
_Static_assert(sizeof(struct tss64) == 104, "SDM Figure 8-11");

#endif
