/*
 * Interrupt acceptance at VM entry, as L0 does it on VT-x (KVM's
 * inject_pending_event()): the local APIC, the 8259 behind LINT0, NMI,
 * INIT and SIPI. An event is injected through vcpu->inject only when the
 * guest can take it (RFLAGS.IF, STI/MOV-SS blocking, NMI blocking; SDM
 * Vol. 3A 6.8.1, 6.7.1; Vol. 3C 27.6 for event injection); otherwise
 * interrupt-window or NMI-window exiting is requested (SDM Vol. 3C
 * 25.6.2, 26.2) so that the guest exits as soon as it can.
 */
#ifndef CORE_INTR_H
#define CORE_INTR_H

#include <stdbool.h>

struct vcpu;

/* Called after every exit and before a vCPU runs. */
void vcpu_inject_pending(struct vcpu *v);
/* Leave the HLT or wait-for-SIPI activity state if an event allows it
 * (SDM Vol. 3A 10.4, HLT; Vol. 3C 25.4.2); handles INIT and SIPI.
 * Returns true if the vCPU can run. */
bool vcpu_wake(struct vcpu *v);
/* Is a maskable interrupt pending above the local APIC's priority (or
 * from the 8259 through LINT0)? */
bool vcpu_interrupt_pending(const struct vcpu *v);
/* Acknowledge the highest-priority pending interrupt (INTA: IRR -> ISR, or
 * the 8259's); returns its vector, or -1 if none is pending. */
int vcpu_ack_interrupt(struct vcpu *v);

#endif
