/*
 * l1hv's parts: guests/l1hv.c (VMX set-up, the VMCS, exit dispatch and the
 * payloads without interrupts) and guests/l1hv_irq.c (the interrupt
 * payloads: L1's local APIC, L2's IDT, event injection).
 */
#ifndef GUESTS_L1HV_H
#define GUESTS_L1HV_H

#include <stdbool.h>
#include <stdint.h>

/* L2's general registers, as l1_vmexit_entry saves them. */
struct regs {
	uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15;
};

/* Report a failure and exit with status 2. */
__attribute__((noreturn)) void fail(const char *what, uint64_t val);
/* VMWRITE that must succeed. */
void write_field(uint64_t field, uint64_t val);
/* Advance L2's RIP past the instruction that exited. */
void skip_instruction(void);
/* Print the exits L1 handled, by reason. */
void report(void);

/* ---- guests/l1hv_irq.c: the interrupt payloads ---- */
struct tortuga_bootinfo;
/* If name is one of them (timer, ipi, inject, tpr, mtf): parse its options
 * and return the name (a static string), with L2's entry point in *payload. */
const char *irq_select(const char *name, const struct tortuga_bootinfo *bi, void (**payload)(void));
bool irq_active(void);
/* After l1hv.c set up the VMCS: the payload's controls and fields, L1's
 * local APIC and L2's IDT. */
void irq_setup_vmcs(void);
/* baseline=1: L1 itself takes n ticks of its APIC timer, without VMX (the
 * single-level peer of l2=timer); exits. */
__attribute__((noreturn)) void irq_baseline(void);
/* Handle an exit of the payload; returning resumes L2 (VMRESUME). */
void irq_handle_exit(uint32_t reason, struct regs *r);

#endif
