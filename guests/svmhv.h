/*
 * svmhv's interface between C and assembly (svmhv.c, svmhv_asm.S): where
 * svm_run() keeps L2's general-purpose registers, which VMRUN and #VMEXIT do
 * not switch (AMD APM Vol. 2 15.5.1: only RAX, RSP and RIP come from the
 * VMCB), and the CPUID leaf L2 asks L1 about.
 */
#ifndef GUESTS_SVMHV_H
#define GUESTS_SVMHV_H

/* Offsets in struct svm_gprs. */
#define GPR_RBX 0x00
#define GPR_RCX 0x08
#define GPR_RDX 0x10
#define GPR_RSI 0x18
#define GPR_RDI 0x20
#define GPR_RBP 0x28
#define GPR_R8 0x30
#define GPR_R9 0x38
#define GPR_R10 0x40
#define GPR_R11 0x48
#define GPR_R12 0x50
#define GPR_R13 0x58
#define GPR_R14 0x60
#define GPR_R15 0x68

/* A leaf in no vendor's range that L1 answers itself: EAX = how many CPUIDs
 * of L2 it has intercepted so far, including this one. */
#define SVMHV_LEAF 0x5376ff01

#ifndef __ASSEMBLER__
#include <stdint.h>

struct svm_gprs {
	uint64_t rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
};
_Static_assert(__builtin_offsetof(struct svm_gprs, rsi) == GPR_RSI, "svm_gprs layout");
_Static_assert(__builtin_offsetof(struct svm_gprs, r15) == GPR_R15, "svm_gprs layout");

/* CLGI, load L2's registers from g, VMRUN the VMCB at vmcb_pa, save L2's
 * registers to g after the #VMEXIT, STGI. */
void svm_run(uint64_t vmcb_pa, struct svm_gprs *g);

/* L2's code (64-bit, CPL 0, L1's page tables): RDI CPUIDs of SVMHV_LEAF
 * adding up their EAX, VMMCALL with RAX = the sum, then HLT. */
extern char svmhv_l2[];
#endif

#endif
