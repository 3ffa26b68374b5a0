/*
 * Interrupts and CR8 between tortuga's platform and KVM. tortuga creates no
 * in-kernel irqchip: its local APICs, I/O APIC and 8259s (core/devices/)
 * decide what is pending, and core/intr.c acknowledges an interrupt when the
 * guest can take it (SDM Vol. 3A 6.8.1, 6.8.3). KVM then delivers it at the
 * next VM entry (api.rst "KVM_INTERRUPT", "KVM_NMI"), in the order SDM Vol.
 * 3A 6.9 prescribes with what else it holds (an event being re-injected
 * after an exit during delivery, NMI blocking until the next IRET, 6.7.1):
 * that state is KVM's, so tortuga hands events over instead of writing the
 * VM-entry interruption-information field itself (QEMU does the same with a
 * user-space irqchip).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "core/devices/lapic.h"
#include "kvm.h"

bool kvm_msr_is_platform(uint32_t msr)
{
	return lapic_msr_owned(msr) || msr == MSR_IA32_APIC_BASE;
}

void kvm_events_after_exit(struct vcpu *v)
{
	const struct kvm_run *run = kvm_vcpu_of(v)->run;
	/*
	 * CR8 is TPR[7:4] (SDM Vol. 3A 11.8.6.1). Without a local APIC of its
	 * own KVM completes MOV to CR8 itself (exiting only when the TPR went
	 * down: KVM_EXIT_SET_TPR) and reports CR8 in kvm_run.cr8 after every
	 * KVM_RUN; the TPR that decides priorities is tortuga's.
	 */
	if (run->cr8 != lapic_get_cr8(v->lapic))
		lapic_set_cr8(v->lapic, run->cr8);
	v->s.cr8 = run->cr8;
	/*
	 * What blocks a maskable interrupt besides RFLAGS.IF: blocking by STI or
	 * MOV SS (SDM Vol. 3A 6.8.3; Vol. 3C 25.4.2 interruptibility state), or
	 * on AMD a clear GIF, which KVM folds into ready_for_interrupt_injection.
	 * core/intr.c sees it as blocking by STI and asks for an interrupt
	 * window. NMI blocking is KVM's to track (it sees the IRET); tortuga
	 * queues NMIs with KVM_NMI and never holds one back.
	 */
	v->s.interruptibility &= ~(INTR_BLOCK_STI | INTR_BLOCK_MOV_SS | INTR_BLOCK_NMI);
	if ((v->s.rflags & RFLAGS_IF) && !run->ready_for_interrupt_injection)
		v->s.interruptibility |= INTR_BLOCK_STI;
}

static int vcpu_ioctl(struct vcpu *v, unsigned long req, void *arg, const char *what)
{
	if (ioctl(kvm_vcpu_of(v)->fd, req, arg) < 0)
		return vm_error(v->vm, -errno, "kvm: %s failed on vCPU %u: %s", what, v->id, strerror(errno));
	return 0;
}

/* A hardware exception from an exit handler (KVM_SET_VCPU_EVENTS: only the
 * exception; interruptibility and NMI state stay KVM's). */
static int queue_exception(struct vcpu *v)
{
	struct kvm_vcpu_events ev;
	int err = vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &ev, "KVM_GET_VCPU_EVENTS");
	if (err)
		return err;
	ev.flags = 0;
	ev.exception.injected = 1;
	ev.exception.nr = v->inject.vector;
	ev.exception.has_error_code = v->inject.has_error;
	ev.exception.error_code = v->inject.error;
	return vcpu_ioctl(v, KVM_SET_VCPU_EVENTS, &ev, "KVM_SET_VCPU_EVENTS");
}

int kvm_events_before_entry(struct vcpu *v)
{
	struct kvm_run *run = kvm_vcpu_of(v)->run;
	int err = 0;
	/* KVM_RUN loads CR8 from kvm_run.cr8 without a local APIC in KVM. */
	run->cr8 = lapic_get_cr8(v->lapic);
	v->s.cr8 = run->cr8;
	/* NMIs (SDM Vol. 3A 6.7.1): KVM holds one pending while another is
	 * being handled, as the processor does. */
	bool nmi = v->nmi_pending || (v->inject.valid && ((uint32_t)v->inject.type << 8) == INTR_TYPE_NMI);
	if (nmi) {
		err = vcpu_ioctl(v, KVM_NMI, NULL, "KVM_NMI");
		v->nmi_pending = false;
		if (v->inject.valid && ((uint32_t)v->inject.type << 8) == INTR_TYPE_NMI)
			v->inject.valid = false;
	}
	if (!err && v->inject.valid) {
		if (((uint32_t)v->inject.type << 8) == INTR_TYPE_EXT_INTR) {
			/* The vector core/intr.c acknowledged. KVM injects it once
			 * the guest can take it; -EEXIST: KVM still holds the last
			 * one, so this one waits for the interrupt window. */
			struct kvm_interrupt irq = { .irq = v->inject.vector };
			if (ioctl(kvm_vcpu_of(v)->fd, KVM_INTERRUPT, &irq) == 0)
				v->inject.valid = false;
			else if (errno != EEXIST)
				err = vm_error(v->vm, -errno, "kvm: KVM_INTERRUPT failed on vCPU %u: %s", v->id,
					       strerror(errno));
		} else {
			err = queue_exception(v);
			v->inject.valid = false;
		}
	}
	/* Interrupt-window exiting (SDM Vol. 3C 25.6.2), as core/intr.c asked
	 * for it, or for an acknowledged interrupt KVM could not take yet. */
	run->request_interrupt_window = v->inject.valid || (v->ctls->proc & VMX_PROC_INTR_WINDOW_EXITING) != 0;
	return err;
}
