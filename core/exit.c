/*
 * L0 exit handling: one dispatch table indexed by basic exit reason (Intel SDM
 * Vol. 3D Appendix C), as KVM's kvm_vmx_exit_handlers[]. Handlers finish what
 * the exiting instruction asked for, on architectural state, for any backend.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "devices/lapic.h"
#include "exit.h"
#include "intr.h"
#include "nested_hooks.h"
#include "vm.h"

#include "tracing/trace.h"

typedef int (*exit_handler_fn)(struct vcpu *v, struct vm_exit *e);

const char *exit_reason_name(uint32_t reason, char buf[16])
{
	const char *n = trace_exit_reason_name(reason);
	if (n)
		return n;
	snprintf(buf, 16, "reason-%u", reason);
	return buf;
}

static uint64_t *gpr(struct vcpu *v, unsigned r)
{
	return &v->s.gpr[r & 15];
}

static void set_gpr32(struct vcpu *v, unsigned r, uint32_t val)
{
	v->s.gpr[r] = val; /* 32-bit writes zero-extend in 64-bit mode */
}

/* Deliver a fault computed by arch_*(): ARCH_FAULT(vector). */
static int inject_arch_fault(struct vcpu *v, int ret)
{
	unsigned vec = ARCH_VECTOR(ret);
	bool has_err = vec == X86_GP || vec == X86_SS || vec == X86_NP || vec == X86_TS ||
		       vec == X86_DF || vec == X86_AC || vec == X86_PF;
	vcpu_inject_exception(v, (uint8_t)vec, has_err, 0);
	return 0;
}

/* 0: exceptions the policy intercepts are reflected back to the guest, as KVM
 * does for #UD it cannot emulate, #AC and #MC. */
static int handle_exception(struct vcpu *v, struct vm_exit *e)
{
	uint8_t vec = e->intr_info & 0xff;
	uint32_t type = e->intr_info & (7u << 8);
	if (type == INTR_TYPE_NMI)
		return 0; /* host NMI: nothing for the guest */
	/* A #PF that exits leaves CR2 alone (SDM 26.2); delivering it loads
	 * CR2 with the address from the exit qualification. */
	if (vec == X86_PF)
		v->s.cr2 = e->qual;
	vcpu_inject_exception(v, vec, (e->intr_info & INTR_INFO_HAS_ERROR) != 0, e->intr_error);
	return 0;
}

/* 1: external interrupt: a host timer interrupt; fire the guest timers
 * that are due. The interrupts they raise are injected at VM entry. */
static int handle_external_interrupt(struct vcpu *v, struct vm_exit *e)
{
	(void)e;
	vm_timers_run(v->vm, v, vcpu_now(v));
	return 0;
}

/* 7, 8, 43: interrupt window, NMI window, TPR below threshold (trap-like:
 * the MOV to CR8 has completed, SDM Vol. 3C 29.1.2; the kvm backend reports
 * KVM_EXIT_SET_TPR as this): the guest can now take what is pending;
 * injection at VM entry does the rest (KVM's handle_interrupt_window() and
 * friends). */
static int handle_window(struct vcpu *v, struct vm_exit *e)
{
	(void)v;
	(void)e;
	return 0;
}

/* 2: triple fault: the VM shuts down (SDM 6.15, "Interrupt 8—Double Fault"). */
static int handle_triple_fault(struct vcpu *v, struct vm_exit *e)
{
	(void)e;
	v->s.activity = ACT_SHUTDOWN;
	vm_stop(v->vm, TORTUGA_STOP_TRIPLE_FAULT, TORTUGA_STATUS_TRIPLE_FAULT);
	return 0;
}

/* 9: task switch: L0 emulates it (SDM Vol. 3C 26.2: every task switch
 * exits; KVM's handle_task_switch()). */
static int handle_task_switch(struct vcpu *v, struct vm_exit *e)
{
	if (!v->vm->be->task_switch)
		return vm_error(v->vm, -ENOTSUP, "the %s backend cannot emulate task switches", v->vm->be->name);
	v->vm->be->task_switch(v, e);
	return 0;
}

/* 10: CPUID from the VM's CPU model. */
static int handle_cpuid(struct vcpu *v, struct vm_exit *e)
{
	uint32_t out[4];
	arch_cpuid(v, (uint32_t)v->s.gpr[GPR_RAX], (uint32_t)v->s.gpr[GPR_RCX], out);
	set_gpr32(v, GPR_RAX, out[0]);
	set_gpr32(v, GPR_RBX, out[1]);
	set_gpr32(v, GPR_RCX, out[2]);
	set_gpr32(v, GPR_RDX, out[3]);
	vcpu_skip_insn(v, e);
	return 0;
}

/* 12: HLT: the vCPU enters the HLT activity state; the run loop wakes it. */
static int handle_hlt(struct vcpu *v, struct vm_exit *e)
{
	vcpu_skip_insn(v, e);
	v->s.activity = ACT_HLT;
	return 0;
}

/* 13, 54: INVD, WBINVD: tortuga models no caches. */
static int handle_nop_insn(struct vcpu *v, struct vm_exit *e)
{
	vcpu_skip_insn(v, e);
	return 0;
}

/* 15: RDPMC: no performance counters are modelled, every ECX is invalid. */
static int handle_rdpmc(struct vcpu *v, struct vm_exit *e)
{
	(void)e;
	vcpu_inject_exception(v, X86_GP, true, 0);
	return 0;
}

/* 16, 51: RDTSC/RDTSCP when the policy intercepts them. */
static int handle_rdtsc(struct vcpu *v, struct vm_exit *e)
{
	uint64_t tsc = vcpu_tsc(v);
	set_gpr32(v, GPR_RAX, (uint32_t)tsc);
	set_gpr32(v, GPR_RDX, (uint32_t)(tsc >> 32));
	if (e->reason == TORTUGA_EXIT_RDTSCP)
		set_gpr32(v, GPR_RCX, (uint32_t)v->s.tsc_aux);
	vcpu_skip_insn(v, e);
	return 0;
}

/* 18-27, 50, 53, 59: VMX instructions. With nested VMX, L0 emulates them
 * on L1's virtual VMX; without it they are undefined for the guest
 * (CPUID.1:ECX.VMX = 0). */
static int handle_vmx_insn(struct vcpu *v, struct vm_exit *e)
{
	if (v->nested)
		return nested_handle_vmx_insn(v, e);
	vcpu_inject_exception(v, X86_UD, false, 0);
	return 0;
}

/* 28: control-register accesses (qualification: SDM Table 28-3). */
static int handle_cr_access(struct vcpu *v, struct vm_exit *e)
{
	int ret = ARCH_OK;
	struct vmx_exec_controls *c = v->ctls;
	switch (e->cr.type) {
	case CR_ACCESS_MOV_TO: {
		uint64_t val = e->cr.value;
		switch (e->cr.cr) {
		case 0:
			ret = arch_write_cr0(v, val);
			if (ret == ARCH_OK)
				c->cr0_shadow = v->s.cr0; /* KVM keeps the shadow equal */
			break;
		case 3:
			ret = arch_write_cr3(v, val);
			break;
		case 4:
			ret = arch_write_cr4(v, val);
			if (ret == ARCH_OK)
				c->cr4_shadow = v->s.cr4;
			break;
		case 8:
			ret = arch_write_cr8(v, val);
			break;
		default:
			ret = ARCH_FAULT(X86_UD);
		}
		break;
	}
	case CR_ACCESS_MOV_FROM:
		if (e->cr.cr == 3)
			*gpr(v, e->cr.gpr) = v->s.cr3;
		else if (e->cr.cr == 8)
			*gpr(v, e->cr.gpr) = arch_read_cr8(v);
		else
			ret = ARCH_FAULT(X86_UD);
		break;
	case CR_ACCESS_CLTS:
		ret = arch_write_cr0(v, v->s.cr0 & ~CR0_TS);
		if (ret == ARCH_OK)
			c->cr0_shadow = v->s.cr0;
		break;
	case CR_ACCESS_LMSW: {
		/* LMSW loads PE, MP, EM, TS; it can set PE but never clear it. */
		uint64_t src = e->cr.value & 0xf;
		uint64_t cr0 = (v->s.cr0 & ~0xeull) | (src & 0xe) | ((v->s.cr0 | src) & CR0_PE);
		ret = arch_write_cr0(v, cr0);
		if (ret == ARCH_OK)
			c->cr0_shadow = v->s.cr0;
		break;
	}
	}
	if (ret != ARCH_OK)
		return inject_arch_fault(v, ret);
	vcpu_skip_insn(v, e);
	return 0;
}

/* 29: MOV DR. The CPL, CR4.DE and DR7.GD checks precede the exit (SDM
 * 26.1.1), so the backend has done them; only the move is left. */
static int handle_dr_access(struct vcpu *v, struct vm_exit *e)
{
	uint64_t *r = gpr(v, e->dr.gpr);
	if (e->dr.to_dr) {
		int ret = arch_write_dr(v, e->dr.dr, *r);
		if (ret != ARCH_OK)
			return inject_arch_fault(v, ret);
	} else {
		*r = arch_read_dr(v, e->dr.dr);
	}
	vcpu_skip_insn(v, e);
	return 0;
}

/* 30: I/O instruction: the platform's port bus, then the backend finishes. */
static int handle_io(struct vcpu *v, struct vm_exit *e)
{
	struct vm *vm = v->vm;
	uint8_t *p = e->io.data;
	for (uint32_t i = 0; i < e->io.count && !vm_should_stop(vm); i++, p += e->io.size) {
		uint32_t val = 0;
		if (e->io.in) {
			val = iobus_read(&vm->io, e->io.port, e->io.size);
			memcpy(p, &val, e->io.size);
		} else {
			memcpy(&val, p, e->io.size);
			iobus_write(&vm->io, e->io.port, e->io.size, val);
		}
	}
	vm->be->complete_io(v, e);
	return 0;
}

/* 31: RDMSR */
static int handle_rdmsr(struct vcpu *v, struct vm_exit *e)
{
	uint64_t val = 0;
	int ret = arch_read_msr(v, e->msr.index, &val);
	if (ret != ARCH_OK)
		return inject_arch_fault(v, ret);
	e->msr.value = val;
	set_gpr32(v, GPR_RAX, (uint32_t)val);
	set_gpr32(v, GPR_RDX, (uint32_t)(val >> 32));
	vcpu_skip_insn(v, e);
	return 0;
}

/* 32: WRMSR */
static int handle_wrmsr(struct vcpu *v, struct vm_exit *e)
{
	int ret = arch_write_msr(v, e->msr.index, e->msr.value);
	if (ret != ARCH_OK)
		return inject_arch_fault(v, ret);
	vcpu_skip_insn(v, e);
	return 0;
}

/* 36, 39: MWAIT/MONITOR are not in the CPU model: #UD, as KVM does when the
 * guest has no MONITOR in CPUID. */
static int handle_monitor_mwait(struct vcpu *v, struct vm_exit *e)
{
	(void)e;
	vcpu_inject_exception(v, X86_UD, false, 0);
	return 0;
}

/* 40: PAUSE-loop exiting: the spinning vCPU yields; nothing else to do. */
static int handle_pause(struct vcpu *v, struct vm_exit *e)
{
	vcpu_skip_insn(v, e);
	return 0;
}

/* 49: EPT misconfiguration: KVM marks MMIO GPAs so that accesses exit here;
 * tortuga dispatches the access to the device that owns the GPA. */
static int handle_mmio(struct vcpu *v, struct vm_exit *e)
{
	const struct aspace *as = &v->vm->as;
	/* The local APIC page belongs to the vCPU, not to the address space
	 * (each vCPU sees its own APIC at IA32_APIC_BASE, SDM 11.4.1). */
	if (lapic_mmio_claims(v->lapic, e->mmio.gpa)) {
		if (e->mmio.write)
			lapic_mmio_write(v->lapic, e->mmio.gpa, e->mmio.size, *e->mmio.data);
		else
			*e->mmio.data = lapic_mmio_read(v->lapic, e->mmio.gpa, e->mmio.size);
		return 0;
	}
	if (e->mmio.write)
		aspace_write(as, e->mmio.gpa, e->mmio.data, e->mmio.size);
	else
		aspace_read(as, e->mmio.gpa, e->mmio.data, e->mmio.size);
	return 0;
}

/* 48: EPT violation on a GPA with no memory behind it: like KVM without a
 * memslot, the access goes to user space and finds no device: reads return
 * all ones, writes are dropped. */
static int handle_ept_violation(struct vcpu *v, struct vm_exit *e)
{
	/* The local APIC page is no region of the address space; a backend
	 * that reports it as unmapped (kvm) reaches the vCPU's APIC here. */
	if (lapic_mmio_claims(v->lapic, e->mmio.gpa))
		return handle_mmio(v, e);
	vm_guest_warn(v->vm, "guest %s unmapped physical address 0x%" PRIx64 " at rip 0x%" PRIx64,
		      e->mmio.write ? "wrote" : "read", e->mmio.gpa, v->s.rip);
	if (!e->mmio.write)
		memset(e->mmio.data, 0xff, e->mmio.size);
	return 0;
}

/* 55: XSETBV */
static int handle_xsetbv(struct vcpu *v, struct vm_exit *e)
{
	uint64_t val = (uint32_t)v->s.gpr[GPR_RAX] | (v->s.gpr[GPR_RDX] << 32);
	int ret = arch_xsetbv(v, (uint32_t)v->s.gpr[GPR_RCX], val);
	if (ret != ARCH_OK)
		return inject_arch_fault(v, ret);
	vcpu_skip_insn(v, e);
	return 0;
}

/* Any reason L0 does not expect under its policy: stop with a state dump
 * (KVM's "unexpected exit reason"). */
static int handle_unexpected(struct vcpu *v, struct vm_exit *e)
{
	char nb[16];
	return vm_error(v->vm, -ENOSYS, "unexpected VM exit %s (%u) at rip 0x%" PRIx64,
			exit_reason_name(e->reason, nb), e->reason, v->s.rip);
}

static const exit_handler_fn exit_handlers[TORTUGA_EXIT_REASON_MAX] = {
	[TORTUGA_EXIT_EXCEPTION_NMI] = handle_exception,
	[TORTUGA_EXIT_EXTERNAL_INTERRUPT] = handle_external_interrupt,
	[TORTUGA_EXIT_TRIPLE_FAULT] = handle_triple_fault,
	[TORTUGA_EXIT_INTERRUPT_WINDOW] = handle_window,
	[TORTUGA_EXIT_NMI_WINDOW] = handle_window,
	[TORTUGA_EXIT_TASK_SWITCH] = handle_task_switch,
	[TORTUGA_EXIT_TPR_BELOW_THRESHOLD] = handle_window,
	[TORTUGA_EXIT_CPUID] = handle_cpuid,
	[TORTUGA_EXIT_HLT] = handle_hlt,
	[TORTUGA_EXIT_INVD] = handle_nop_insn,
	[TORTUGA_EXIT_RDPMC] = handle_rdpmc,
	[TORTUGA_EXIT_RDTSC] = handle_rdtsc,
	[TORTUGA_EXIT_VMCALL] = handle_vmx_insn,
	[TORTUGA_EXIT_VMCLEAR] = handle_vmx_insn,
	[TORTUGA_EXIT_VMLAUNCH] = handle_vmx_insn,
	[TORTUGA_EXIT_VMPTRLD] = handle_vmx_insn,
	[TORTUGA_EXIT_VMPTRST] = handle_vmx_insn,
	[TORTUGA_EXIT_VMREAD] = handle_vmx_insn,
	[TORTUGA_EXIT_VMRESUME] = handle_vmx_insn,
	[TORTUGA_EXIT_VMWRITE] = handle_vmx_insn,
	[TORTUGA_EXIT_VMXOFF] = handle_vmx_insn,
	[TORTUGA_EXIT_VMXON] = handle_vmx_insn,
	[TORTUGA_EXIT_CR_ACCESS] = handle_cr_access,
	[TORTUGA_EXIT_DR_ACCESS] = handle_dr_access,
	[TORTUGA_EXIT_IO_INSTRUCTION] = handle_io,
	[TORTUGA_EXIT_RDMSR] = handle_rdmsr,
	[TORTUGA_EXIT_WRMSR] = handle_wrmsr,
	[TORTUGA_EXIT_MWAIT] = handle_monitor_mwait,
	[TORTUGA_EXIT_MONITOR] = handle_monitor_mwait,
	[TORTUGA_EXIT_PAUSE] = handle_pause,
	[TORTUGA_EXIT_EPT_VIOLATION] = handle_ept_violation,
	[TORTUGA_EXIT_EPT_MISCONFIG] = handle_mmio,
	[TORTUGA_EXIT_INVEPT] = handle_vmx_insn,
	[TORTUGA_EXIT_RDTSCP] = handle_rdtsc,
	[TORTUGA_EXIT_INVVPID] = handle_vmx_insn,
	[TORTUGA_EXIT_WBINVD] = handle_nop_insn,
	[TORTUGA_EXIT_XSETBV] = handle_xsetbv,
	[TORTUGA_EXIT_VMFUNC] = handle_vmx_insn,
};

int vcpu_handle_exit(struct vcpu *v, struct vm_exit *e)
{
	struct vm *vm = v->vm;
	uint32_t reason = e->reason;
	uint32_t idx = reason < TORTUGA_EXIT_REASON_MAX ? reason : 0;

	struct vcpu_level_stats *ls = &v->lstats[v->level < VCPU_LEVELS ? v->level : 0];
	v->stats.exits++;
	ls->exits++;
	if (reason < TORTUGA_EXIT_REASON_MAX) {
		v->stats.exits_by_reason[reason]++;
		ls->exits_by_reason[reason]++;
	}
	/* An exit of L1 while it handles a reflected L2 exit is caused by that
	 * L2 exit: the trace links them (parent) and the count measures exit
	 * multiplication. */
	if (v->level == 1 && v->nested_parent)
		ls->caused_by_l2++;
	uint64_t seq = vcpu_trace(v, TORTUGA_EV_EXIT, (uint16_t)reason, e->qual, e->aux, 0);
	uint64_t saved_parent = v->cur_exit_seq;
	v->cur_exit_seq = seq;

	int ret = 0;
	/* Every L2 exit is first an L0 exit; nested/ decides who handles it. */
	if (v->level == 2 && v->nested)
		ret = nested_l2_exit(v, e, seq);
	if (ret == 0) {
		exit_handler_fn fn = reason < TORTUGA_EXIT_REASON_MAX ? exit_handlers[idx] : NULL;
		ret = fn ? fn(v, e) : handle_unexpected(v, e);
	} else if (ret > 0) {
		ret = 0;
	}

	uint32_t cost = reason < TORTUGA_EXIT_REASON_MAX ? vm->exit_cost[reason] : 0;
	v->cycles += cost;
	ls->exit_cycles += cost;
	/* VM entry: inject what is pending, re-arm the backend's poll. */
	vcpu_inject_pending(v);
	vcpu_update_poll(v);
	vcpu_trace(v, TORTUGA_EV_ENTRY, (uint16_t)reason, 0, cost, seq);
	v->cur_exit_seq = saved_parent;
	if (ret < 0)
		vm_stop(vm, TORTUGA_STOP_ERROR, TORTUGA_STATUS_ERROR);
	return ret;
}
