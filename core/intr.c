#include "boot.h"
#include "devices/lapic.h"
#include "devices/pic8259.h"
#include "intr.h"
#include "nested_hooks.h"
#include "platform.h"
#include "vm.h"

/* Interrupts from the 8259 reach a vCPU whose LINT0 takes ExtINT. */
static bool extint_pending(const struct vcpu *v)
{
	struct pic8259 *pic = platform_pic(v->vm);
	return pic && lapic_accepts_extint(v->lapic) && pic_has_interrupt(pic);
}

bool vcpu_interrupt_pending(const struct vcpu *v)
{
	return lapic_pending(v->lapic) >= 0 || extint_pending(v);
}

/* SDM Vol. 3A 6.8.1 (IF), 6.8.3 (STI and MOV SS shadows). */
static bool interruptible(const struct vcpu *v)
{
	return (v->s.rflags & RFLAGS_IF) && !(v->s.interruptibility & (INTR_BLOCK_STI | INTR_BLOCK_MOV_SS));
}

/* INTA: the local APIC first (its vectors come from the IRR), else the
 * 8259 through LINT0 (SDM Vol. 3A 11.5.1, ExtINT). */
int vcpu_ack_interrupt(struct vcpu *v)
{
	int vec = lapic_ack(v->lapic);
	if (vec >= 0)
		return vec;
	if (extint_pending(v))
		return pic_ack(platform_pic(v->vm));
	return -1;
}

void vcpu_inject_pending(struct vcpu *v)
{
	/* While L2 runs, the vCPU's events become VM exits to L1 or events
	 * injected into L2, as vmcs12 says: the nested layer's business. It
	 * may exit to L1, whose events are then handled below. */
	if (v->level == 2 && v->nested)
		nested_check_events(v);
	if (v->level != 1)
		return;
	struct vmx_exec_controls *c = v->ctls;
	c->proc &= ~(VMX_PROC_INTR_WINDOW_EXITING | VMX_PROC_NMI_WINDOW_EXITING);
	c->tpr_threshold = lapic_masked_irr_class(v->lapic);
	/* A halted vCPU does not enter the guest: vcpu_wake() decides first. */
	if (v->s.activity != ACT_ACTIVE)
		return;

	/* NMI before maskable interrupts (SDM Vol. 3A 6.9). NMIs are blocked
	 * from delivery until the next IRET (6.7.1) and by MOV SS. */
	if (v->nmi_pending) {
		if (!v->inject.valid && !(v->s.interruptibility & (INTR_BLOCK_NMI | INTR_BLOCK_MOV_SS))) {
			v->inject = (struct vcpu_event){ .valid = true, .vector = X86_NMI, .type = INTR_TYPE_NMI >> 8 };
			v->nmi_pending = false;
			v->s.interruptibility |= INTR_BLOCK_NMI;
		} else {
			c->proc |= VMX_PROC_NMI_WINDOW_EXITING;
		}
	}
	if (!vcpu_interrupt_pending(v))
		return;
	if (!v->inject.valid && interruptible(v)) {
		int vec = vcpu_ack_interrupt(v);
		if (vec >= 0)
			v->inject = (struct vcpu_event){ .valid = true, .vector = (uint8_t)vec,
							 .type = INTR_TYPE_EXT_INTR >> 8 };
	}
	if (vcpu_interrupt_pending(v))
		c->proc |= VMX_PROC_INTR_WINDOW_EXITING;
}

bool vcpu_wake(struct vcpu *v)
{
	/* INIT (SDM Vol. 3A 9.4.2; 11.4.7.3): the vCPU resets; an AP then
	 * waits for a SIPI. A SIPI starts a waiting vCPU in real mode at
	 * vector * 4096 (9.4.4.1); it is ignored otherwise. */
	if (v->init_pending && !(v->nested && nested_init_blocked(v))) {
		/* A pending SIPI came after the INIT (apic_deliver() voids
		 * earlier ones). */
		v->init_pending = false;
		/* The event the vCPU was about to deliver is abandoned: INIT
		 * is taken at the instruction boundary before NMIs and
		 * interrupts (SDM Vol. 3A 6.9, Table 6-2), an exception belongs to the
		 * instruction stream the INIT ends, and an acknowledged
		 * interrupt left an ISR bit the INIT clears (11.4.7.3). An NMI
		 * goes back to pending, as one not yet taken (nmi_pending is
		 * not touched by INIT here). */
		if (v->inject.valid && ((uint32_t)v->inject.type << 8) == INTR_TYPE_NMI)
			v->nmi_pending = true;
		v->inject.valid = false;
		boot_init_vcpu(v);
		lapic_init_signal(v->lapic);
	}
	if (v->sipi_pending) {
		v->sipi_pending = false;
		if (v->s.activity == ACT_WAIT_SIPI)
			boot_sipi_vcpu(v, v->sipi_vector);
	}
	switch (v->s.activity) {
	case ACT_ACTIVE:
		return true;
	case ACT_HLT:
		/* An L2 that halted (L0 holds it) wakes by a VM exit to L1 or
		 * an event L0 injects into it. */
		if (v->level == 2 && v->nested)
			return nested_l2_wake(v);
		/* HLT resumes on an NMI or an interrupt the vCPU would take. */
		if (v->nmi_pending || ((v->s.rflags & RFLAGS_IF) && vcpu_interrupt_pending(v))) {
			v->s.activity = ACT_ACTIVE;
			return true;
		}
		return false;
	default:
		return false;
	}
}
