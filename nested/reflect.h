/*
 * Who handles an exit of L2: two side-effect-free decisions, as KVM's
 * nested_vmx_l0_wants_exit() and nested_vmx_l1_wants_exit(). L0 first takes
 * the exits that are its own whatever L1 asked for; of the rest, L1 gets
 * those its vmcs12 controls make exits (Intel SDM Vol. 3C 26.1, 26.2); L0
 * handles what neither claims, on L2's behalf.
 */
#ifndef NESTED_REFLECT_H
#define NESTED_REFLECT_H

#include <stdbool.h>

#include "core/exit.h"
#include "core/exit_policy.h"

bool nested_l0_wants_exit(const struct vm_exit *e);
/* c12: vmcs12's controls with its bitmaps mapped. */
bool nested_l1_wants_exit(const struct vmx_exec_controls *c12, const struct vm_exit *e);

/*
 * Events for the vCPU while L2 runs (KVM's vmx_check_nested_events(), as a
 * pure function): what L1's controls make of the INIT, NMI and interrupts
 * L0 holds for the vCPU, given L2's blocking state.
 */
struct l2_event_state {
	uint32_t pin, proc; /* vmcs12's pin-based and primary controls */
	uint64_t rflags; /* L2's */
	uint32_t interruptibility; /* L2's, INTR_BLOCK_* */
	bool halted; /* L2 is in the HLT activity state */
	bool inject_pending; /* an event waits for delivery into L2 */
	bool init_pending, nmi_pending, intr_pending; /* for the vCPU (L1's local APIC) */
	uint16_t timer_due; /* an MTF or VMX-preemption timer exit due now (halted L2), or 0 */
};

enum l2_event_kind {
	L2EV_NONE,
	L2EV_EXIT, /* a VM exit to L1 with basic reason `reason` */
	L2EV_INJECT_NMI, /* L0 delivers the NMI through L2's IDT */
	L2EV_INJECT_INTR, /* L0 acknowledges the interrupt and delivers it through L2's IDT */
};

struct l2_event_action {
	enum l2_event_kind kind;
	uint16_t reason;
	/* The exit must wait until the event being injected is delivered
	 * (SDM 27.6: injection is part of VM entry; events pending after it
	 * are recognized at the following instruction boundary). */
	bool after_delivery;
	/* What L0 still holds for L2: vmcs02's NMI-window and
	 * interrupt-window exiting (L1's own window controls come on top). */
	bool nmi_window, intr_window;
};

struct l2_event_action nested_l2_event(const struct l2_event_state *s);

#endif
