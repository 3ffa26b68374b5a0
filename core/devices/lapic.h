/*
 * The local APIC of a vCPU (Intel SDM Vol. 3A chapter 11): xAPIC (MMIO at
 * IA32_APIC_BASE) and x2APIC (MSRs 0x800-0x8ff) modes, the timer (one-shot,
 * periodic, TSC-deadline), interrupt acceptance and priorities, IPIs.
 * Registers: lapic_regs.def.
 */
#ifndef CORE_DEVICES_LAPIC_H
#define CORE_DEVICES_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct lapic;

#define LAPIC_DEFAULT_BASE 0xfee00000ull
#define MSR_X2APIC_FIRST 0x800u
#define MSR_X2APIC_LAST 0x8ffu
#define MSR_TSC_DEADLINE 0x6e0u

/* IA32_APIC_BASE (SDM 11.4.4 Figure 11-5, 11.12.1 Table 11-5). */
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10)
#define APIC_BASE_EN (1ull << 11)

/* Delivery modes (11.6.1 Figure 11-12; IOAPIC redirection entries use
 * the same values). */
enum apic_dm {
	APIC_DM_FIXED = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI = 2,
	APIC_DM_NMI = 4,
	APIC_DM_INIT = 5,
	APIC_DM_SIPI = 6,
	APIC_DM_EXTINT = 7,
};

/* An interrupt message: an IPI (ICR), an IOAPIC redirection, an MSI. */
struct apic_msg {
	uint32_t dest; /* 8 bits in xAPIC format, 32 in x2APIC */
	uint8_t vector;
	uint8_t mode; /* enum apic_dm */
	uint8_t shorthand; /* 0 none, 1 self, 2 all, 3 all but self (ICR 19:18) */
	bool logical;
	bool level; /* the level bit (INIT de-assert has it clear) */
	bool trigger_level; /* level-triggered */
	bool x2apic; /* dest is an x2APIC destination */
};

int lapic_create(struct vcpu *v);
void lapic_destroy(struct vcpu *v);
/* Power-up / RESET state (11.4.7.1), including IA32_APIC_BASE. */
void lapic_reset(struct lapic *l);
/* INIT (11.4.7.3): like RESET but the APIC ID and IA32_APIC_BASE stay. */
void lapic_init_signal(struct lapic *l);

uint64_t lapic_get_base(const struct lapic *l);
/* WRMSR IA32_APIC_BASE with the mode-transition rules (11.12.5). Returns
 * ARCH_OK or ARCH_FAULT(X86_GP). */
int lapic_set_base(struct lapic *l, uint64_t val);
bool lapic_hw_enabled(const struct lapic *l);

/* xAPIC MMIO: does this vCPU's APIC page contain gpa? */
bool lapic_mmio_claims(const struct lapic *l, uint64_t gpa);
uint64_t lapic_mmio_read(struct lapic *l, uint64_t gpa, unsigned size);
void lapic_mmio_write(struct lapic *l, uint64_t gpa, unsigned size, uint64_t val);

/* x2APIC MSRs and IA32_TSC_DEADLINE: ARCH_OK or ARCH_FAULT(X86_GP). */
bool lapic_msr_owned(uint32_t msr);
int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val);
int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val);

/* CR8 is TPR[7:4] (SDM 10.8.6.1). */
uint64_t lapic_get_cr8(const struct lapic *l);
void lapic_set_cr8(struct lapic *l, uint64_t cr8);

/* Accept an interrupt (fixed/lowest-priority delivery) into the IRR. */
void lapic_accept_fixed(struct lapic *l, unsigned vector, bool level_triggered);
/* The highest-priority interrupt the processor would take now (IRR above
 * PPR), or -1. */
int lapic_pending(const struct lapic *l);
/* INTA: move it from the IRR to the ISR; returns the vector. */
int lapic_ack(struct lapic *l);
/* The priority class (bits 7:4) of the highest IRR entry that TPR masks,
 * or 0: what KVM programs as the VMCS TPR threshold. */
unsigned lapic_masked_irr_class(const struct lapic *l);
/* Does LINT0 take the 8259's INTR (ExtINT, unmasked; or APIC disabled in
 * IA32_APIC_BASE, 11.4.3)? */
bool lapic_accepts_extint(const struct lapic *l);

/* Send an interrupt message from src (NULL: from the IOAPIC or an MSI). */
void apic_deliver(struct vm *vm, struct lapic *src, const struct apic_msg *m);

#endif
