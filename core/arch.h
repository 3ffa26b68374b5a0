/*
 * Architectural operations on a vCPU's state shared by the emu CPU (when the
 * policy lets an instruction run without exiting) and the L0 exit handlers
 * (when it exits): control registers, MSRs, CPUID. Each returns 0 on success
 * or the exception vector to raise (X86_GP ...) as a positive number, so the
 * caller decides how to deliver it.
 */
#ifndef CORE_ARCH_H
#define CORE_ARCH_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

#define ARCH_OK 0
/* A positive return is (vector + 1) so that #DE (vector 0) is distinguishable. */
#define ARCH_FAULT(vec) ((vec) + 1)
#define ARCH_VECTOR(ret) ((ret) - 1)

int arch_write_cr0(struct vcpu *v, uint64_t val);
int arch_write_cr3(struct vcpu *v, uint64_t val);
int arch_write_cr4(struct vcpu *v, uint64_t val);
int arch_write_cr8(struct vcpu *v, uint64_t val);
uint64_t arch_read_cr8(struct vcpu *v);
/* The CR4 bits the CPU model supports (others #GP when set). */
uint64_t arch_cr4_supported(const struct vcpu *v);
/* Guest-visible value of CR0/CR4 (read shadows of the running level's VMCS). */
uint64_t arch_read_cr0(const struct vcpu *v);
uint64_t arch_read_cr4(const struct vcpu *v);

/* MOV to/from DR0-DR7 once the CPL, CR4.DE and DR7.GD checks passed
 * (DR4/DR5 alias DR6/DR7). Writes with bits 63:32 set in DR6/DR7 #GP. */
int arch_write_dr(struct vcpu *v, unsigned dr, uint64_t val);
uint64_t arch_read_dr(const struct vcpu *v, unsigned dr);

int arch_read_msr(struct vcpu *v, uint32_t msr, uint64_t *val);
int arch_write_msr(struct vcpu *v, uint32_t msr, uint64_t val);

void arch_cpuid(struct vcpu *v, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/* XSETBV (SDM Vol. 2B): #GP on invalid XCR0 values. */
int arch_xsetbv(struct vcpu *v, uint32_t xcr, uint64_t val);

/* Is the address canonical for the model's linear-address width? */
bool arch_canonical(const struct vcpu *v, uint64_t la);
/* Bits of a physical address above MAXPHYADDR. */
uint64_t arch_phys_reserved(const struct vcpu *v);

#endif
