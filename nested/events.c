/*
 * Events while L2 runs (Intel SDM Vol. 3C): the interrupts, NMIs and INITs
 * of the vCPU, which L0 owns (vmcs02 exits on them), turned into what
 * vmcs12's controls say -- a VM exit to L1 (26.2; 28.2.2 for the exit
 * information, with "acknowledge interrupt on exit") or an event L0
 * delivers through L2's IDT --; L2 halted in HLT (27.7.2, 28.1); the
 * VMX-preemption timer (26.5.1, 27.7.4) and the monitor trap flag (26.5.2).
 *
 * The decision is nested_l2_event() (reflect.c, pure); this file gathers
 * its inputs and carries it out. L0 can act only while it holds the CPU:
 * at the end of an exit of L2, or while L2 is halted. Otherwise (the event
 * came from another vCPU between two runs, or an event injected at VM entry
 * must be delivered first) it kicks the vCPU out of L2, as KVM does, which
 * costs one L0 exit, as on hardware.
 */
#include "core/intr.h"
#include "core/devices/lapic.h"
#include "core/nested_hooks.h"
#include "core/x86.h"
#include "reflect.h"
#include "transition.h"

#define WINDOW_BITS (VMX_PROC_INTR_WINDOW_EXITING | VMX_PROC_NMI_WINDOW_EXITING)

/* ---- the VMX-preemption timer and the monitor trap flag ---- */

/*
 * Both count L2's instructions (one TSC cycle each) from its first
 * instruction boundary. A VM entry arms them before the VMLAUNCH/VMRESUME
 * of L1 has retired, so their deadlines start relative (timers_relative)
 * and become absolute at that boundary: where the backend anchors
 * v->timer_deadline, or where an event is delivered.
 */
static void anchor(struct nested_vcpu *n, bool at_boundary)
{
	struct vcpu *v = n->v;
	uint64_t base;
	if (!n->timers_relative)
		return;
	if (!v->timer_relative)
		base = v->timer_anchor; /* the backend anchored it */
	else if (at_boundary)
		base = v->stats.insns;
	else
		return;
	n->mtf_deadline += base;
	n->preempt_deadline += base;
	n->timers_relative = false;
}

/* Instructions left until a deadline (relative or absolute). */
static uint64_t insns_left(const struct nested_vcpu *n, uint64_t deadline)
{
	uint64_t now = n->v->stats.insns;
	if (n->timers_relative)
		return deadline;
	return deadline > now ? deadline - now : 0;
}

uint64_t nested_preempt_left(struct nested_vcpu *n)
{
	struct vcpu *v = n->v;
	if (!n->preempt_armed)
		return 0;
	anchor(n, false);
	uint64_t left = insns_left(n, n->preempt_deadline);
	if (n->l2_halted) {
		/* 26.5.1: the timer counts down in HLT (C1) too. */
		uint64_t gone = vcpu_now(v) - n->halt_since;
		left = left > gone ? left - gone : 0;
	}
	return left;
}

/* v->timer_* is the earlier of the two instruction-count exits; the MTF
 * exit wins a tie (it outranks the timer, Vol. 3A Table 6-2 with 26.5). */
static void timers_update(struct nested_vcpu *n)
{
	struct vcpu *v = n->v;
	bool p = n->preempt_armed && !n->l2_halted, m = n->mtf_armed;
	v->timer_armed = p || m;
	v->timer_relative = n->timers_relative;
	if (m && (!p || n->mtf_deadline <= n->preempt_deadline)) {
		v->timer_reason = TORTUGA_EXIT_MONITOR_TRAP_FLAG;
		v->timer_deadline = n->mtf_deadline;
	} else if (p) {
		v->timer_reason = TORTUGA_EXIT_PREEMPTION_TIMER;
		v->timer_deadline = n->preempt_deadline;
	}
}

void nested_events_entry(struct nested_vcpu *n, bool pending_mtf)
{
	/* 27.7.4: the timer starts from its field's value, one tick every
	 * 2^IA32_VMX_MISC[4:0] TSC cycles (one cycle per L2 instruction). */
	n->timers_relative = true;
	n->preempt_armed = (n->ctls12.pin & VMX_PIN_PREEMPTION_TIMER) != 0;
	n->preempt_deadline = V12(n->vmcs, VMX_PREEMPTION_TIMER_VALUE) << VMX_MISC_PREEMPTION_RATE;
	/* 26.5.2: with the monitor trap flag an MTF VM exit follows the first
	 * instruction (or the delivery of an event: nested_event_delivered);
	 * a pending MTF VM exit injected by VM entry comes before any. */
	n->mtf_armed = pending_mtf || (n->ctls12.proc & VMX_PROC_MONITOR_TRAP_FLAG);
	n->mtf_deadline = pending_mtf ? 0 : 1;
	n->l2_halted = false;
	timers_update(n);
}

static void halt_end(struct nested_vcpu *n)
{
	if (!n->l2_halted)
		return;
	uint64_t left = nested_preempt_left(n);
	n->preempt_deadline = n->timers_relative ? left : n->v->stats.insns + left;
	n->l2_halted = false;
	vm_timer_disarm(&n->preempt_timer);
	timers_update(n);
}

void nested_events_exit(struct nested_vcpu *n)
{
	struct vcpu *v = n->v;
	n->preempt_armed = n->mtf_armed = false;
	n->l2_halted = false;
	vm_timer_disarm(&n->preempt_timer);
	v->timer_armed = false;
	v->timer_relative = false;
	v->kick = false;
}

/* The vm_timer only makes an idle vCPU wake at the expiry:
 * nested_preempt_left() tells it expired. */
static void preempt_timer_fire(void *opaque, uint64_t now)
{
	(void)opaque;
	(void)now;
}

int nested_events_init(struct nested_vcpu *n)
{
	n->preempt_timer = (struct vm_timer){ .fire = preempt_timer_fire, .opaque = n, .owner = n->v,
					      .name = "vmx-preemption (L2 halted)" };
	return vm_timer_register(n->v->vm, &n->preempt_timer);
}

void nested_event_delivered(struct vcpu *v)
{
	struct nested_vcpu *n = nested_of(v);
	if (!n->mtf_armed)
		return;
	/* 26.5.2: an MTF VM exit is pending on the boundary after delivery of
	 * an event (injected, an interrupt, an exception and any nested one). */
	anchor(n, true);
	n->mtf_deadline = v->stats.insns;
	timers_update(n);
	vcpu_update_poll(v);
}

/* ---- interrupts, NMIs, INIT ---- */

bool nested_init_blocked(const struct vcpu *v)
{
	/* In VMX root operation INIT is blocked (24.8); in non-root operation
	 * it is a VM exit, which nested_check_events() makes. */
	return nested_of(v)->vmxon;
}

/* Carry out an exit to L1 for an event (no instruction of L2 caused it). */
static void event_exit(struct nested_vcpu *n, uint16_t reason, uint64_t parent)
{
	struct vcpu *v = n->v;
	struct vm_exit e = { .reason = reason };
	switch (reason) {
	case TORTUGA_EXIT_EXTERNAL_INTERRUPT:
		/* 28.2.2: with "acknowledge interrupt on exit" the processor
		 * acknowledges the interrupt controller and the exit reports the
		 * vector; without, the interrupt stays pending and the
		 * interruption information is invalid (28.1). */
		if (n->ctls12.exit & VMX_EXIT_ACK_INTR_ON_EXIT) {
			int vec = vcpu_ack_interrupt(v);
			if (vec >= 0) {
				e.intr_info = INTR_INFO_VALID | INTR_TYPE_EXT_INTR | (uint32_t)vec;
				e.aux = (uint64_t)vec;
			}
		}
		break;
	case TORTUGA_EXIT_EXCEPTION_NMI:
		e.intr_info = INTR_INFO_VALID | INTR_TYPE_NMI | X86_NMI;
		e.aux = X86_NMI;
		v->nmi_pending = false;
		break;
	case TORTUGA_EXIT_INIT_SIGNAL:
		v->init_pending = false;
		break;
	default:
		break;
	}
	n->events_exited += reason == TORTUGA_EXIT_EXTERNAL_INTERRUPT || reason == TORTUGA_EXIT_EXCEPTION_NMI ||
			    reason == TORTUGA_EXIT_INIT_SIGNAL;
	nested_reflect(n, &e, parent);
	/* 28.1: "An NMI causes subsequent NMIs to be blocked, but only after
	 * the VM exit completes" (L0 tracks L1's NMI blocking as virtual-NMI
	 * blocking of vmcs01; L1's IRET ends it). */
	if (reason == TORTUGA_EXIT_EXCEPTION_NMI)
		v->s.interruptibility |= INTR_BLOCK_NMI;
}

/* L0 delivers an event of the vCPU through L2's IDT (L1 did not ask to
 * exit on it): what KVM's inject_pending_event() does for L2. */
static void event_inject(struct nested_vcpu *n, enum l2_event_kind kind)
{
	struct vcpu *v = n->v;
	if (kind == L2EV_INJECT_NMI) {
		v->inject = (struct vcpu_event){ .valid = true, .vector = X86_NMI, .type = INTR_TYPE_NMI >> 8 };
		v->nmi_pending = false;
		v->s.interruptibility |= INTR_BLOCK_NMI; /* Vol. 3A 6.7.1 */
	} else {
		int vec = vcpu_ack_interrupt(v);
		if (vec < 0)
			return;
		v->inject = (struct vcpu_event){ .valid = true, .vector = (uint8_t)vec,
						 .type = INTR_TYPE_EXT_INTR >> 8 };
	}
	n->events_injected++;
	/* Either wakes a halted L2 (HLT resumes on the event, Vol. 3A HLT). */
	if (v->s.activity == ACT_HLT) {
		halt_end(n);
		v->s.activity = ACT_ACTIVE;
	}
}

/* A due MTF or preemption-timer exit of a halted L2 (running, the backend
 * takes them itself through vcpu_poll()). */
static uint16_t halted_timer_due(struct nested_vcpu *n)
{
	anchor(n, false);
	if (n->mtf_armed && insns_left(n, n->mtf_deadline) == 0)
		return TORTUGA_EXIT_MONITOR_TRAP_FLAG;
	if (n->preempt_armed && nested_preempt_left(n) == 0)
		return TORTUGA_EXIT_PREEMPTION_TIMER;
	return 0;
}

void nested_check_events(struct vcpu *v)
{
	struct nested_vcpu *n = nested_of(v);
	struct vmx_exec_controls *c02 = &n->ctls02;
	bool halted = v->s.activity == ACT_HLT;

	/* L2 just halted at L0 (HLT without HLT exiting): L0 holds the vCPU
	 * from now on; the preemption timer goes on counting in time. */
	if (halted && !n->l2_halted) {
		n->l2_halted = true;
		n->halt_since = vcpu_now(v);
		n->halt_parent = v->cur_exit_seq;
		if (n->preempt_armed)
			vm_timer_arm(&n->preempt_timer, n->halt_since + nested_preempt_left(n));
		timers_update(n);
	}

	struct l2_event_state st = {
		.pin = n->ctls12.pin,
		.proc = n->ctls12.proc,
		.rflags = v->s.rflags,
		.interruptibility = v->s.interruptibility,
		.halted = halted,
		.inject_pending = v->inject.valid,
		.init_pending = v->init_pending,
		.nmi_pending = v->nmi_pending,
		.intr_pending = vcpu_interrupt_pending(v),
		.timer_due = halted ? halted_timer_due(n) : 0,
	};
	struct l2_event_action a = nested_l2_event(&st);

	/* vmcs02: L1's window controls plus what L0 waits for; L0's TPR
	 * threshold unless L1 virtualizes L2's TPR itself (KVM's
	 * update_cr8_intercept on vmcs02). */
	c02->proc = (c02->proc & ~WINDOW_BITS) | (n->ctls12.proc & WINDOW_BITS) |
		    (a.nmi_window ? VMX_PROC_NMI_WINDOW_EXITING : 0) | (a.intr_window ? VMX_PROC_INTR_WINDOW_EXITING : 0);
	if (!(n->ctls12.proc & VMX_PROC_USE_TPR_SHADOW))
		c02->tpr_threshold = lapic_masked_irr_class(v->lapic);

	if (a.kind == L2EV_NONE)
		return;
	/* L0 acts now if it holds the CPU (an exit of L2 is being handled, or
	 * L2 is halted) and no injected event must be delivered first. */
	bool l0_holds = halted || v->cur_exit_seq != 0;
	if (a.after_delivery || !l0_holds) {
		v->kick = true;
		return;
	}
	/* The parent: the L2 exit L0 is handling, or after which L2 halted;
	 * right after VM entry (no L2 exit yet), the nested-entry event. */
	uint64_t parent = halted ? n->halt_parent : v->cur_exit_seq;
	if (parent == n->entry_exit_seq)
		parent = n->entry_seq;
	if (a.kind == L2EV_EXIT)
		event_exit(n, a.reason, parent);
	else
		event_inject(n, a.kind);
}

bool nested_l2_wake(struct vcpu *v)
{
	nested_check_events(v);
	return v->s.activity == ACT_ACTIVE;
}
