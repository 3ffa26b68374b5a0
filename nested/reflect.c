/*
 * Reflection decisions (see reflect.h). Each case cites the SDM rule that
 * makes the event an exit under L1's controls: 26.1.2 (instructions that
 * exit unconditionally), 26.1.3 (conditionally), 26.2 (other causes).
 */
#include "core/vm.h"
#include "core/x86.h"
#include "reflect.h"

bool nested_l0_wants_exit(const struct vm_exit *e)
{
	switch (e->reason) {
	case TORTUGA_EXIT_EXCEPTION_NMI:
		/* Host NMIs and machine checks belong to L0. */
		return (e->intr_info & (7u << 8)) == INTR_TYPE_NMI || (e->intr_info & 0xff) == X86_MC;
	case TORTUGA_EXIT_EXTERNAL_INTERRUPT:
		return true; /* L0's interrupts; L1's are injected as exits separately */
	case TORTUGA_EXIT_EPT_VIOLATION:
	case TORTUGA_EXIT_EPT_MISCONFIG:
		/* An access to an L1-physical address that is MMIO or has no RAM is
		 * L0's (its "EPT" maps L1's memory); faults in L1's own EPT tables
		 * for L2 are L1's. */
		return !(e->flags & VMEXIT_F_L1_EPT);
	case TORTUGA_EXIT_ENTRY_FAIL_MACHINE_CHECK:
		return true;
	default:
		return false;
	}
}

static bool l1_cr_access(const struct vmx_exec_controls *c, const struct vm_exit *e)
{
	switch (e->cr.type) {
	case CR_ACCESS_MOV_TO:
		switch (e->cr.cr) {
		case 0:
			return vmx_exit_on_cr0_write(c, e->cr.value);
		case 3:
			return vmx_exit_on_cr3_write(c, e->cr.value);
		case 4:
			return vmx_exit_on_cr4_write(c, e->cr.value);
		case 8:
			return (c->proc & VMX_PROC_CR8_LOAD_EXITING) != 0;
		default:
			return true;
		}
	case CR_ACCESS_MOV_FROM:
		if (e->cr.cr == 3)
			return (c->proc & VMX_PROC_CR3_STORE_EXITING) != 0;
		if (e->cr.cr == 8)
			return (c->proc & VMX_PROC_CR8_STORE_EXITING) != 0;
		return true;
	case CR_ACCESS_CLTS:
		return vmx_exit_on_clts(c);
	case CR_ACCESS_LMSW:
		return vmx_exit_on_lmsw(c, 0, (uint16_t)e->cr.value);
	default:
		return true;
	}
}

bool nested_l1_wants_exit(const struct vmx_exec_controls *c, const struct vm_exit *e)
{
	switch (e->reason) {
	case TORTUGA_EXIT_EXCEPTION_NMI: {
		unsigned type = e->intr_info & (7u << 8);
		if (type == INTR_TYPE_NMI)
			return (c->pin & VMX_PIN_NMI_EXITING) != 0;
		/* 26.2: hardware and software exceptions by the exception bitmap,
		 * #PF through the error-code mask and match. */
		return vmx_exit_on_exception(c, e->intr_info & 0xff, e->intr_error);
	}
	case TORTUGA_EXIT_EXTERNAL_INTERRUPT:
		return (c->pin & VMX_PIN_EXT_INTR_EXITING) != 0;
	case TORTUGA_EXIT_TRIPLE_FAULT:
	case TORTUGA_EXIT_INIT_SIGNAL:
	case TORTUGA_EXIT_SIPI:
	case TORTUGA_EXIT_TASK_SWITCH:
		return true; /* 26.2, 26.1.2: always exits in VMX non-root operation */
	case TORTUGA_EXIT_INTERRUPT_WINDOW:
		return (c->proc & VMX_PROC_INTR_WINDOW_EXITING) != 0;
	case TORTUGA_EXIT_NMI_WINDOW:
		return (c->proc & VMX_PROC_NMI_WINDOW_EXITING) != 0;
	case TORTUGA_EXIT_CPUID:
	case TORTUGA_EXIT_GETSEC:
	case TORTUGA_EXIT_INVD:
	case TORTUGA_EXIT_XSETBV:
		return true; /* 26.1.2: unconditional */
	case TORTUGA_EXIT_HLT:
		return (c->proc & VMX_PROC_HLT_EXITING) != 0;
	case TORTUGA_EXIT_INVLPG:
		return (c->proc & VMX_PROC_INVLPG_EXITING) != 0;
	case TORTUGA_EXIT_RDPMC:
		return (c->proc & VMX_PROC_RDPMC_EXITING) != 0;
	case TORTUGA_EXIT_RDTSC:
	case TORTUGA_EXIT_RDTSCP:
		return (c->proc & VMX_PROC_RDTSC_EXITING) != 0;
	case TORTUGA_EXIT_RSM:
	case TORTUGA_EXIT_VMCALL:
	case TORTUGA_EXIT_VMCLEAR:
	case TORTUGA_EXIT_VMLAUNCH:
	case TORTUGA_EXIT_VMPTRLD:
	case TORTUGA_EXIT_VMPTRST:
	case TORTUGA_EXIT_VMREAD:
	case TORTUGA_EXIT_VMRESUME:
	case TORTUGA_EXIT_VMWRITE:
	case TORTUGA_EXIT_VMXOFF:
	case TORTUGA_EXIT_VMXON:
	case TORTUGA_EXIT_INVEPT:
	case TORTUGA_EXIT_INVVPID:
	case TORTUGA_EXIT_VMFUNC:
		/* 26.1.2: VMX instructions exit unconditionally (VMREAD/VMWRITE
		 * that reach L0 from L2 were not satisfied by L1's shadow VMCS;
		 * VMFUNC reaches L1 when L0 did not perform the function). */
		return true;
	case TORTUGA_EXIT_CR_ACCESS:
		return l1_cr_access(c, e);
	case TORTUGA_EXIT_DR_ACCESS:
		return (c->proc & VMX_PROC_MOV_DR_EXITING) != 0;
	case TORTUGA_EXIT_IO_INSTRUCTION:
		return vmx_exit_on_io(c, e->io.port, e->io.size);
	case TORTUGA_EXIT_RDMSR:
	case TORTUGA_EXIT_WRMSR:
		return vmx_exit_on_msr(c, e->msr.index, e->reason == TORTUGA_EXIT_WRMSR);
	case TORTUGA_EXIT_MWAIT:
		return (c->proc & VMX_PROC_MWAIT_EXITING) != 0;
	case TORTUGA_EXIT_MONITOR_TRAP_FLAG:
		/* 26.5.2: from L1's "monitor trap flag" or from a pending MTF
		 * VM exit L1 injected (27.6.2), which exits even with the
		 * control 0. L0 never uses it. */
		return true;
	case TORTUGA_EXIT_MONITOR:
		return (c->proc & VMX_PROC_MONITOR_EXITING) != 0;
	case TORTUGA_EXIT_PAUSE:
		return (c->proc & VMX_PROC_PAUSE_EXITING) || vmx_proc2(c, VMX_PROC2_PAUSE_LOOP_EXITING);
	case TORTUGA_EXIT_TPR_BELOW_THRESHOLD:
		return (c->proc & VMX_PROC_USE_TPR_SHADOW) != 0;
	case TORTUGA_EXIT_APIC_ACCESS:
	case TORTUGA_EXIT_APIC_WRITE:
	case TORTUGA_EXIT_VIRTUALIZED_EOI:
		return vmx_proc2(c, VMX_PROC2_VIRT_APIC_ACCESSES | VMX_PROC2_APIC_REGISTER_VIRT |
					    VMX_PROC2_VIRT_INTR_DELIVERY);
	case TORTUGA_EXIT_GDTR_IDTR_ACCESS:
	case TORTUGA_EXIT_LDTR_TR_ACCESS:
		return vmx_proc2(c, VMX_PROC2_DESC_TABLE_EXITING);
	case TORTUGA_EXIT_EPT_VIOLATION:
	case TORTUGA_EXIT_EPT_MISCONFIG:
		return vmx_proc2(c, VMX_PROC2_ENABLE_EPT);
	case TORTUGA_EXIT_PREEMPTION_TIMER:
		return (c->pin & VMX_PIN_PREEMPTION_TIMER) != 0;
	case TORTUGA_EXIT_WBINVD:
		return vmx_proc2(c, VMX_PROC2_WBINVD_EXITING);
	case TORTUGA_EXIT_RDRAND:
		return vmx_proc2(c, VMX_PROC2_RDRAND_EXITING);
	case TORTUGA_EXIT_RDSEED:
		return vmx_proc2(c, VMX_PROC2_RDSEED_EXITING);
	case TORTUGA_EXIT_INVPCID:
		return (c->proc & VMX_PROC_INVLPG_EXITING) && vmx_proc2(c, VMX_PROC2_ENABLE_INVPCID);
	case TORTUGA_EXIT_XSAVES:
	case TORTUGA_EXIT_XRSTORS:
		return vmx_proc2(c, VMX_PROC2_ENABLE_XSAVES);
	default:
		/* Exits L0 cannot attribute to a control of L1's: L1 gets them,
		 * as KVM's default. */
		return true;
	}
}

/*
 * Events L0 holds for the vCPU while L2 runs. The order is the SDM's
 * priority among simultaneous events (Vol. 3A 6.9, Table 6-2, with the VMX
 * rows of Vol. 3C 26.2 and 26.5): INIT; then the monitor trap flag and the
 * VMX-preemption timer; NMI-window exits; NMIs; interrupt-window exits;
 * maskable interrupts.
 */
struct l2_event_action nested_l2_event(const struct l2_event_state *s)
{
	struct l2_event_action a = { .kind = L2EV_NONE };
	uint32_t ib = s->interruptibility;
	bool nmi_exiting = (s->pin & VMX_PIN_NMI_EXITING) != 0;
	bool intr_exiting = (s->pin & VMX_PIN_EXT_INTR_EXITING) != 0;

	/* 26.2: with "NMI exiting" an NMI is a VM exit. 27.7.1: without
	 * "virtual NMIs", blocking by NMI holds NMIs off for as long as L2
	 * runs; with them, bit 3 is virtual-NMI blocking, which real NMIs
	 * ignore. Whether STI or MOV SS block the exit is implementation-
	 * specific (26.4.1): here, as in KVM, they do not. */
	bool nmi_exit = s->nmi_pending && nmi_exiting && ((s->pin & VMX_PIN_VIRTUAL_NMIS) || !(ib & INTR_BLOCK_NMI));
	/* 26.4.1: with "external-interrupt exiting" RFLAGS.IF does not block
	 * external interrupts: the exit happens even with IF = 0 (STI and MOV
	 * SS: implementation-specific, not blocking here either). */
	bool intr_exit = s->intr_pending && intr_exiting;
	/* Without those controls L0 delivers the event through L2's IDT when
	 * L2 can take it: an NMI unless blocked by NMI or MOV SS (Vol. 3A
	 * 6.7.1, 6.8.3), an interrupt with IF = 1 and no STI or MOV SS
	 * blocking (6.8.1, 6.8.3); one event per VM entry (27.6). */
	bool can_inject = !s->inject_pending;
	bool nmi_open = !(ib & (INTR_BLOCK_NMI | INTR_BLOCK_MOV_SS));
	bool intr_open = (s->rflags & RFLAGS_IF) && !(ib & (INTR_BLOCK_STI | INTR_BLOCK_MOV_SS));
	bool nmi_inject = s->nmi_pending && !nmi_exiting && nmi_open && can_inject;
	bool intr_inject = s->intr_pending && !intr_exiting && intr_open && can_inject && !nmi_inject;

	/* L1's window exits (26.2). While L2 runs the CPU takes them by itself
	 * at the next instruction boundary; L0 takes one here only where it
	 * outranks the event L0 would act on. A halted L2 executes nothing, so
	 * L0 takes them all: they wake the processor from HLT as an NMI or an
	 * interrupt would (26.2), whether HLT came from L2 (STI; HLT opens the
	 * interrupt window in the HLT state) or from VM entry (27.7.5, 27.7.6). */
	bool nmi_window = (s->proc & VMX_PROC_NMI_WINDOW_EXITING) && nmi_open;
	bool intr_window = (s->proc & VMX_PROC_INTR_WINDOW_EXITING) && intr_open;
	bool competing = s->halted || nmi_exit || intr_exit || nmi_inject || intr_inject;

	int reason = -1; /* EXCEPTION_NMI is basic exit reason 0 */
	if (s->init_pending)
		reason = TORTUGA_EXIT_INIT_SIGNAL; /* 26.2: INIT always exits */
	else if (s->timer_due)
		reason = s->timer_due; /* 26.5.1, 26.5.2: not blocked by HLT */
	else if (competing && nmi_window)
		reason = TORTUGA_EXIT_NMI_WINDOW;
	else if (nmi_exit)
		reason = TORTUGA_EXIT_EXCEPTION_NMI;
	else if (nmi_inject)
		a.kind = L2EV_INJECT_NMI;
	else if (competing && intr_window)
		reason = TORTUGA_EXIT_INTERRUPT_WINDOW;
	else if (intr_exit)
		reason = TORTUGA_EXIT_EXTERNAL_INTERRUPT;
	else if (intr_inject)
		a.kind = L2EV_INJECT_INTR;
	if (reason >= 0) {
		a.kind = L2EV_EXIT;
		a.reason = (uint16_t)reason;
		a.after_delivery = s->inject_pending;
	}
	/* What L0 still has to deliver into L2 waits for its window. */
	a.nmi_window = s->nmi_pending && !nmi_exiting && a.kind != L2EV_INJECT_NMI;
	a.intr_window = s->intr_pending && !intr_exiting && a.kind != L2EV_INJECT_INTR;
	return a;
}
