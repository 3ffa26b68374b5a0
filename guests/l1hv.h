/*
 * l1hv's parts: guests/l1hv.c (VMX set-up, the VMCS, exit dispatch and the
 * payloads without interrupts) and guests/l1hv_irq.c (the interrupt
 * payloads: L1's local APIC, L2's IDT, event injection).
 */
#ifndef GUESTS_L1HV_H
#define GUESTS_L1HV_H

#include <stdint.h>

/* L2's general registers, as l1_vmexit_entry saves them. */
struct regs {
	uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15;
};

/* Report a failure and exit with status 2. */
__attribute__((noreturn)) void fail(const char *what, uint64_t val);
/* VMWRITE that must succeed. */
void write_field(uint64_t field, uint64_t val);

#endif
