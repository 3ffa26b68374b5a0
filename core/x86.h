/*
 * x86-64 architectural constants (Intel SDM Vol. 3A). Bit names follow the
 * SDM; each group cites its section.
 */
#ifndef CORE_X86_H
#define CORE_X86_H

#include <stdint.h>

/* 2.5 Control Registers */
#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)

#define CR4_VME (1ull << 0)
#define CR4_PVI (1ull << 1)
#define CR4_TSD (1ull << 2)
#define CR4_DE (1ull << 3)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_MCE (1ull << 6)
#define CR4_PGE (1ull << 7)
#define CR4_PCE (1ull << 8)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP (1ull << 11)
#define CR4_LA57 (1ull << 12)
#define CR4_VMXE (1ull << 13)
#define CR4_SMXE (1ull << 14)
#define CR4_FSGSBASE (1ull << 16)
#define CR4_PCIDE (1ull << 17)
#define CR4_OSXSAVE (1ull << 18)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define CR4_PKE (1ull << 22)

/* 2.2.1 Extended Feature Enable Register */
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* 2.3 System Flags and Fields in the EFLAGS Register; Vol. 1 3.4.3 */
#define RFLAGS_CF (1ull << 0)
#define RFLAGS_FIXED1 (1ull << 1)
#define RFLAGS_PF (1ull << 2)
#define RFLAGS_AF (1ull << 4)
#define RFLAGS_ZF (1ull << 6)
#define RFLAGS_SF (1ull << 7)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_DF (1ull << 10)
#define RFLAGS_OF (1ull << 11)
#define RFLAGS_IOPL (3ull << 12)
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_RF (1ull << 16)
#define RFLAGS_VM (1ull << 17)
#define RFLAGS_AC (1ull << 18)
#define RFLAGS_VIF (1ull << 19)
#define RFLAGS_VIP (1ull << 20)
#define RFLAGS_ID (1ull << 21)
#define RFLAGS_ARITH (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

/* 6.3.1 Exception vectors */
enum x86_vector {
	X86_DE = 0,
	X86_DB = 1,
	X86_NMI = 2,
	X86_BP = 3,
	X86_OF = 4,
	X86_BR = 5,
	X86_UD = 6,
	X86_NM = 7,
	X86_DF = 8,
	X86_TS = 10,
	X86_NP = 11,
	X86_SS = 12,
	X86_GP = 13,
	X86_PF = 14,
	X86_MF = 16,
	X86_AC = 17,
	X86_MC = 18,
	X86_XM = 19,
	X86_VE = 20,
	X86_CP = 21,
};

/* 4.7 Page-fault error code */
#define PFEC_P (1u << 0)
#define PFEC_W (1u << 1)
#define PFEC_U (1u << 2)
#define PFEC_RSVD (1u << 3)
#define PFEC_I (1u << 4)
#define PFEC_PK (1u << 5)

/* 4.5 Paging-structure entries (4-level paging) */
#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_NX (1ull << 63)

/*
 * Segment access rights in the VMX format (SDM Vol. 3C 24.4.1, Table 24-2),
 * which is the descriptor's type/S/DPL/P/AVL/L/D/G bits shifted down, plus
 * "unusable". tortuga keeps hidden segment state in this format so that VMCS
 * guest-state fields and the CPU share it.
 */
#define SEG_AR_TYPE_MASK 0xfu
#define SEG_AR_TYPE_ACCESSED 0x1u
#define SEG_AR_TYPE_RW 0x2u /* writable (data) / readable (code) */
#define SEG_AR_TYPE_DC 0x4u /* expand-down (data) / conforming (code) */
#define SEG_AR_TYPE_CODE 0x8u
#define SEG_AR_S (1u << 4)
#define SEG_AR_DPL_SHIFT 5
#define SEG_AR_DPL_MASK (3u << 5)
#define SEG_AR_P (1u << 7)
#define SEG_AR_AVL (1u << 12)
#define SEG_AR_L (1u << 13)
#define SEG_AR_DB (1u << 14)
#define SEG_AR_G (1u << 15)
#define SEG_AR_UNUSABLE (1u << 16)

/* System-segment and gate types (3.5, Table 3-2), 64-bit meanings. */
#define SYS_TYPE_LDT 0x2u
#define SYS_TYPE_TSS_AVAIL 0x9u
#define SYS_TYPE_TSS_BUSY 0xbu
#define SYS_TYPE_CALL_GATE 0xcu
#define SYS_TYPE_INT_GATE 0xeu
#define SYS_TYPE_TRAP_GATE 0xfu

/* Segment register numbering: the SDM's encoding order (Vol. 2A, 3.1.1.3). */
enum x86_seg {
	SEG_ES = 0,
	SEG_CS = 1,
	SEG_SS = 2,
	SEG_DS = 3,
	SEG_FS = 4,
	SEG_GS = 5,
	SEG_COUNT = 6,
};

/* GPR numbering: the encoding order (Vol. 2A, Table 2-2). */
enum x86_gpr {
	GPR_RAX,
	GPR_RCX,
	GPR_RDX,
	GPR_RBX,
	GPR_RSP,
	GPR_RBP,
	GPR_RSI,
	GPR_RDI,
	GPR_R8,
	GPR_R9,
	GPR_R10,
	GPR_R11,
	GPR_R12,
	GPR_R13,
	GPR_R14,
	GPR_R15,
	GPR_COUNT,
};

/* 17.2 Debug registers: DR6/DR7 fixed bits */
#define DR6_FIXED1 0xffff0ff0ull
#define DR7_FIXED1 0x400ull

/* MSR indexes from the table in hw/msr.def. */
enum x86_msr {
#define X(name, idx, pass, desc) MSR_##name = idx,
#include "hw/msr.def"
#undef X
};

#endif
