/*
 * Architectural state of one x86-64 vCPU, shared by both backends: the emu
 * CPU executes on it directly; the kvm backend copies it in and out of KVM.
 */
#ifndef CORE_STATE_H
#define CORE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "x86.h"

/* A segment register with its hidden part (SDM Vol. 3A 3.4.3). */
struct x86_segment {
	uint16_t sel;
	uint32_t limit; /* byte-granular (already scaled by G) */
	uint32_t ar; /* VMX access-rights format (x86.h SEG_AR_*) */
	uint64_t base;
};

struct x86_dtable {
	uint64_t base;
	uint16_t limit;
};

/* Activity states (SDM Vol. 3C 24.4.2). */
enum x86_activity {
	ACT_ACTIVE = 0,
	ACT_HLT = 1,
	ACT_SHUTDOWN = 2,
	ACT_WAIT_SIPI = 3,
};

/* Interruptibility (SDM Vol. 3C 24.4.2, Table 24-3). */
#define INTR_BLOCK_STI (1u << 0)
#define INTR_BLOCK_MOV_SS (1u << 1)
#define INTR_BLOCK_SMI (1u << 2)
#define INTR_BLOCK_NMI (1u << 3)

struct x86_state {
	uint64_t gpr[GPR_COUNT];
	uint64_t rip;
	uint64_t rflags; /* the emu keeps arithmetic flags lazily; see emu_flags() */

	struct x86_segment seg[SEG_COUNT];
	struct x86_segment ldtr, tr;
	struct x86_dtable gdtr, idtr;

	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	/* PAE paging: the PDPTE registers, loaded from memory by MOV to CR0,
	 * CR3 and CR4 (SDM Vol. 3A 4.4.1), not re-read by the page walk. */
	uint64_t pdpte[4];
	uint64_t xcr0;
	uint64_t dr[4];
	uint64_t dr6, dr7;

	/* MSRs (the rest of hw/msr.def is computed or constant). */
	uint64_t star, lstar, cstar, fmask;
	uint64_t kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat;
	uint64_t tsc_aux;
	uint64_t tsc_offset; /* guest TSC = modelled cycles + tsc_offset */
	uint64_t apic_base;
	uint64_t misc_enable;
	uint64_t feature_control;
	uint64_t spec_ctrl;
	uint64_t mtrr_def_type;

	uint32_t activity; /* enum x86_activity */
	uint32_t interruptibility; /* INTR_BLOCK_* */

	/* x87/SSE state in the FXSAVE layout (SDM Vol. 1 10.5.1), 16-byte aligned. */
	uint8_t fxsave[512] __attribute__((aligned(16)));
};

static inline unsigned x86_cpl(const struct x86_state *s)
{
	return s->seg[SEG_CS].sel & 3;
}

static inline bool x86_long_mode(const struct x86_state *s)
{
	return (s->efer & EFER_LMA) != 0;
}

/* 64-bit mode: IA-32e mode and CS.L (SDM Vol. 3A 5.2.1). */
static inline bool x86_64bit_mode(const struct x86_state *s)
{
	return x86_long_mode(s) && (s->seg[SEG_CS].ar & SEG_AR_L);
}

#endif
