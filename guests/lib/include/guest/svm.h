/*
 * AMD SVM for guest hypervisors (freestanding): the VMCB layout, intercept
 * bits and MSRs that an L1 hypervisor needs. Exit codes come from
 * tortuga/svm_exit_codes.def (APM Vol. 2 Appendix C), the table tortuga's
 * trace names use, so nothing is restated.
 *
 * The VMCB (AMD64 Architecture Programmer's Manual Vol. 2, Appendix B
 * "Layout of VMCB"): a 4-KiB, 4-KiB-aligned page; the control area (Table
 * B-1) at 000h, the state save area (Table B-2) at 400h. Only the fields a
 * simple hypervisor touches are named; every named offset is asserted below.
 */
#ifndef GUEST_SVM_H
#define GUEST_SVM_H

#include <stddef.h>
#include <stdint.h>

enum {
#define X(name, num, str) SVM_EXIT_##name = num,
#define R(name, first, last, str) SVM_EXIT_##name = first, SVM_EXIT_##name##_LAST = last,
#include <tortuga/svm_exit_codes.def>
#undef R
#undef X
};

/* MSRs (APM Vol. 2 15.30): EFER.SVME (15.4), VM_HSAVE_PA (15.30.4), VM_CR
 * (15.30.1: SVMDIS, bit 4, makes setting EFER.SVME #GP). */
#define MSR_EFER 0xc0000080u
#define EFER_SVME (1ull << 12)
#define MSR_VM_CR 0xc0010114u
#define VM_CR_SVMDIS (1ull << 4)
#define MSR_VM_HSAVE_PA 0xc0010117u

/* CPUID Fn8000_0001_ECX[2] SVM; Fn8000_000A: EAX[7:0] revision, EBX
 * number of ASIDs, EDX[0] NP, EDX[3] NRIPS (APM Vol. 3 E.4.2, E.4.9). */
#define CPUID_80000001_ECX_SVM (1u << 2)
#define CPUID_SVM_LEAF 0x8000000au
#define CPUID_SVM_EDX_NRIPS (1u << 3)

/* A segment in the state save area (APM Vol. 2 15.5.1 and Table B-2):
 * attrib packs descriptor bits 47:40 (type, S, DPL, P) into 7:0 and bits
 * 55:52 (AVL, L, D/B, G) into 11:8. */
struct vmcb_seg {
	uint16_t sel;
	uint16_t attrib;
	uint32_t limit;
	uint64_t base;
};

struct vmcb {
	/* Control area, Table B-1. */
	uint32_t intercept_cr; /* 000h: 15:0 CR reads, 31:16 CR writes */
	uint32_t intercept_dr; /* 004h */
	uint32_t intercept_exc; /* 008h: bit n, exception vector n */
	uint32_t intercept_misc1; /* 00Ch: SVM_INTERCEPT1_* */
	uint32_t intercept_misc2; /* 010h: SVM_INTERCEPT2_* */
	uint8_t reserved_014[0x040 - 0x014];
	uint64_t iopm_base_pa; /* 040h */
	uint64_t msrpm_base_pa; /* 048h */
	uint64_t tsc_offset; /* 050h */
	uint32_t guest_asid; /* 058h */
	uint8_t tlb_control; /* 05Ch */
	uint8_t reserved_05d[3];
	uint64_t vintr; /* 060h: V_TPR, V_IRQ, ..., V_INTR_MASKING (bit 24) */
	uint64_t interrupt_shadow; /* 068h */
	uint64_t exitcode; /* 070h */
	uint64_t exitinfo1; /* 078h */
	uint64_t exitinfo2; /* 080h */
	uint64_t exitintinfo; /* 088h */
	uint64_t np_enable; /* 090h: bit 0 nested paging */
	uint8_t reserved_098[0x0a8 - 0x098];
	uint64_t eventinj; /* 0A8h */
	uint64_t n_cr3; /* 0B0h */
	uint64_t lbr_virt; /* 0B8h */
	uint32_t vmcb_clean; /* 0C0h */
	uint32_t reserved_0c4;
	uint64_t next_rip; /* 0C8h: with NRIPS, the RIP after the intercepted instruction */
	uint8_t reserved_0d0[0x400 - 0x0d0];
	/* State save area, Table B-2 (offsets from the VMCB's start). */
	struct vmcb_seg es, cs, ss, ds, fs, gs; /* 400h .. 450h */
	struct vmcb_seg gdtr, ldtr, idtr, tr; /* 460h .. 490h */
	uint8_t reserved_4a0[0x4cb - 0x4a0];
	uint8_t cpl; /* 4CBh */
	uint32_t reserved_4cc;
	uint64_t efer; /* 4D0h */
	uint8_t reserved_4d8[0x548 - 0x4d8];
	uint64_t cr4; /* 548h */
	uint64_t cr3; /* 550h */
	uint64_t cr0; /* 558h */
	uint64_t dr7; /* 560h */
	uint64_t dr6; /* 568h */
	uint64_t rflags; /* 570h */
	uint64_t rip; /* 578h */
	uint8_t reserved_580[0x5d8 - 0x580];
	uint64_t rsp; /* 5D8h */
	uint8_t reserved_5e0[0x5f8 - 0x5e0];
	uint64_t rax; /* 5F8h */
	uint8_t reserved_600[0x668 - 0x600];
	uint64_t g_pat; /* 668h */
	uint8_t reserved_670[0x1000 - 0x670];
} __attribute__((packed, aligned(4096)));

#define VMCB_AT(field, off) _Static_assert(offsetof(struct vmcb, field) == (off), #field " at " #off " (APM Vol. 2 Appendix B)")
VMCB_AT(intercept_misc1, 0x00c);
VMCB_AT(intercept_misc2, 0x010);
VMCB_AT(iopm_base_pa, 0x040);
VMCB_AT(guest_asid, 0x058);
VMCB_AT(tlb_control, 0x05c);
VMCB_AT(vintr, 0x060);
VMCB_AT(exitcode, 0x070);
VMCB_AT(exitinfo1, 0x078);
VMCB_AT(exitinfo2, 0x080);
VMCB_AT(np_enable, 0x090);
VMCB_AT(eventinj, 0x0a8);
VMCB_AT(next_rip, 0x0c8);
VMCB_AT(es, 0x400);
VMCB_AT(cs, 0x410);
VMCB_AT(ss, 0x420);
VMCB_AT(ds, 0x430);
VMCB_AT(gdtr, 0x460);
VMCB_AT(idtr, 0x480);
VMCB_AT(tr, 0x490);
VMCB_AT(cpl, 0x4cb);
VMCB_AT(efer, 0x4d0);
VMCB_AT(cr4, 0x548);
VMCB_AT(cr3, 0x550);
VMCB_AT(cr0, 0x558);
VMCB_AT(dr7, 0x560);
VMCB_AT(dr6, 0x568);
VMCB_AT(rflags, 0x570);
VMCB_AT(rip, 0x578);
VMCB_AT(rsp, 0x5d8);
VMCB_AT(rax, 0x5f8);
VMCB_AT(g_pat, 0x668);
#undef VMCB_AT
_Static_assert(sizeof(struct vmcb) == 4096, "the VMCB is one 4-KiB page (APM Vol. 2 15.5.1)");

/* Intercept vector 3 at 00Ch and vector 4 at 010h (Table B-1). */
#define SVM_INTERCEPT1_CPUID (1u << 18)
#define SVM_INTERCEPT1_HLT (1u << 24)
#define SVM_INTERCEPT1_SHUTDOWN (1u << 31)
#define SVM_INTERCEPT2_VMRUN (1u << 0) /* must be set: VMRUN checks it (15.5.1) */
#define SVM_INTERCEPT2_VMMCALL (1u << 1)

/* V_INTR_MASKING (060h bit 24, APM Vol. 2 15.21.1). */
#define SVM_VINTR_MASKING (1ull << 24)

#endif
