/*
 * VM exits from L2 to L1, synthesized by L0 (Intel SDM Vol. 3C chapter 28):
 * recording the exit information (28.2), saving guest state (28.3) and MSRs
 * (28.4), loading host state (28.5) and MSRs (28.6), VMX aborts (28.7).
 *
 * tortuga keeps one architectural state per vCPU, as a processor does: a VM
 * exit stores L2's registers into vmcs12 and loads L1's host-state fields
 * over them; everything the SDM does not load (the other GPRs, CR2, DR0-DR6,
 * the SYSCALL MSRs...) keeps the value L2 left, exactly as on hardware.
 */
#include <inttypes.h>

#include "core/arch.h"
#include "core/x86.h"
#include "tracing/trace.h"
#include "transition.h"

uint64_t nested_trace(struct nested_vcpu *n, uint8_t kind, uint8_t level, uint8_t handler, uint16_t reason,
		      uint64_t qual, uint64_t aux, uint64_t parent)
{
	struct vcpu *v = n->v;
	struct tortuga_event ev = {
		.cycles = v->cycles,
		.qual = qual,
		.rip = v->s.rip,
		.aux = aux,
		.parent = parent,
		.reason = reason,
		.vcpu = (uint16_t)v->id,
		.kind = kind,
		.level = level,
		.handler = handler,
	};
	return trace_emit(v->vm->trace, &ev);
}

/* ---- 28.3 saving guest state ---- */

/* Segment i (ES..GS, LDTR, TR), as load_seg() in entry.c. */
static void save_seg(uint8_t *vmcs, unsigned i, const struct x86_segment *sg)
{
	vmcs12_store(vmcs, offsetof(struct vmcs12, GUEST_ES_SELECTOR) + 2 * i, 2, sg->sel);
	vmcs12_store(vmcs, offsetof(struct vmcs12, GUEST_ES_LIMIT) + 4 * i, 4, sg->limit);
	/* 28.3.2: bits 31:17 and 11:8 are saved as 0, bit 16 = unusable. */
	vmcs12_store(vmcs, offsetof(struct vmcs12, GUEST_ES_AR_BYTES) + 4 * i, 4, sg->ar & 0x1f0ffu);
	vmcs12_store(vmcs, offsetof(struct vmcs12, GUEST_ES_BASE) + 8 * i, 8, sg->base);
}

static void save_guest_state(struct nested_vcpu *n)
{
	struct vcpu *v = n->v;
	struct x86_state *s = &v->s;
	uint8_t *vmcs = n->vmcs;
	uint32_t exit_ctl = (uint32_t)V12(vmcs, VM_EXIT_CONTROLS);

	V12_SET(vmcs, GUEST_CR0, s->cr0);
	V12_SET(vmcs, GUEST_CR3, s->cr3);
	V12_SET(vmcs, GUEST_CR4, s->cr4);
	if (exit_ctl & VMX_EXIT_SAVE_DEBUG_CONTROLS) {
		V12_SET(vmcs, GUEST_DR7, s->dr7);
		V12_SET(vmcs, GUEST_IA32_DEBUGCTL, 0); /* the model has no IA32_DEBUGCTL */
	}
	V12_SET(vmcs, GUEST_RSP, s->gpr[GPR_RSP]);
	V12_SET(vmcs, GUEST_RIP, s->rip);
	V12_SET(vmcs, GUEST_RFLAGS, s->rflags);
	for (unsigned i = 0; i < SEG_COUNT; i++)
		save_seg(vmcs, i, &s->seg[i]);
	save_seg(vmcs, VMCSF_GUEST_LDTR_SELECTOR - VMCSF_GUEST_ES_SELECTOR, &s->ldtr);
	save_seg(vmcs, VMCSF_GUEST_TR_SELECTOR - VMCSF_GUEST_ES_SELECTOR, &s->tr);
	V12_SET(vmcs, GUEST_GDTR_BASE, s->gdtr.base);
	V12_SET(vmcs, GUEST_GDTR_LIMIT, s->gdtr.limit);
	V12_SET(vmcs, GUEST_IDTR_BASE, s->idtr.base);
	V12_SET(vmcs, GUEST_IDTR_LIMIT, s->idtr.limit);
	V12_SET(vmcs, GUEST_SYSENTER_CS, s->sysenter_cs);
	V12_SET(vmcs, GUEST_SYSENTER_ESP, s->sysenter_esp);
	V12_SET(vmcs, GUEST_SYSENTER_EIP, s->sysenter_eip);
	if (exit_ctl & VMX_EXIT_SAVE_PAT)
		V12_SET(vmcs, GUEST_IA32_PAT, s->pat);
	if (exit_ctl & VMX_EXIT_SAVE_EFER)
		V12_SET(vmcs, GUEST_IA32_EFER, s->efer);
	V12_SET(vmcs, GUEST_ACTIVITY_STATE, s->activity == ACT_HLT ? ACT_HLT : ACT_ACTIVE);
	V12_SET(vmcs, GUEST_INTERRUPTIBILITY_INFO, s->interruptibility & 0xf);
	V12_SET(vmcs, GUEST_PENDING_DBG_EXCEPTIONS, 0);
	if (exit_ctl & VMX_EXIT_SAVE_PREEMPTION_TIMER)
		V12_SET(vmcs, VMX_PREEMPTION_TIMER_VALUE, nested_preempt_left(n) >> VMX_MISC_PREEMPTION_RATE);
	/* IA32_VMX_MISC[5]: "IA-32e mode guest" receives IA32_EFER.LMA. */
	uint64_t entry_ctl = V12(vmcs, VM_ENTRY_CONTROLS);
	if (s->efer & EFER_LMA)
		entry_ctl |= VMX_ENTRY_IA32E_MODE_GUEST;
	else
		entry_ctl &= ~(uint64_t)VMX_ENTRY_IA32E_MODE_GUEST;
	V12_SET(vmcs, VM_ENTRY_CONTROLS, entry_ctl);
}

/* ---- MSR areas (28.4, 28.6; entry loading in entry.c) ---- */

struct msr_entry {
	uint32_t index;
	uint32_t reserved;
	uint64_t data;
};
_Static_assert(sizeof(struct msr_entry) == 16, "MSR-area entry (SDM Table 25-15)");

/* VMX aborts (28.7): the abort indicator gets the reason and the logical
 * processor enters the shutdown state. */
enum { VMX_ABORT_SAVE_MSR = 1, VMX_ABORT_LOAD_HOST_MSR = 4 };

static void vmx_abort(struct nested_vcpu *n, uint32_t why)
{
	struct vcpu *v = n->v;
	memcpy(n->vmcs + offsetof(struct vmcs12, abort), &why, 4);
	ram_note_write(&v->vm->ram, n->vmcs, 8);
	vm_guest_warn(v->vm, "VMX abort %u (SDM 28.7): the vCPU shuts down", why);
	v->s.activity = ACT_SHUTDOWN;
	vm_stop(v->vm, TORTUGA_STOP_TRIPLE_FAULT, TORTUGA_STATUS_TRIPLE_FAULT);
}

/* Store MSRs into the VM-exit MSR-store area; false on a failure (28.4). */
static bool store_msrs(struct nested_vcpu *n)
{
	struct vcpu *v = n->v;
	uint64_t addr = V12(n->vmcs, VM_EXIT_MSR_STORE_ADDR);
	uint64_t count = V12(n->vmcs, VM_EXIT_MSR_STORE_COUNT);
	for (uint64_t k = 0; k < count; k++) {
		struct msr_entry me;
		if (aspace_read(&v->vm->as, addr + 16 * k, &me, 8))
			return false;
		/* FS/GS base, SMBASE and reserved bits cannot be stored. */
		if (me.reserved || me.index == MSR_IA32_FS_BASE || me.index == MSR_IA32_GS_BASE ||
		    (me.index >> 8) == 0x8)
			return false;
		uint64_t val;
		if (arch_read_msr(v, me.index, &val) != ARCH_OK)
			return false;
		if (aspace_write(&v->vm->as, addr + 16 * k + 8, &val, 8))
			return false;
	}
	return true;
}

/* Load MSRs from an MSR-load area. Returns 0, or the 1-based index of the
 * entry that failed (27.4, 28.6: FS/GS base, x2APIC range, SMM-related MSRs,
 * reserved bits, or a value WRMSR would reject). */
uint32_t nested_load_msrs(struct nested_vcpu *n, uint64_t addr, uint64_t count)
{
	struct vcpu *v = n->v;
	for (uint64_t k = 0; k < count; k++) {
		struct msr_entry me;
		if (aspace_read(&v->vm->as, addr + 16 * k, &me, sizeof(me)))
			return (uint32_t)k + 1;
		if (me.reserved || me.index == MSR_IA32_FS_BASE || me.index == MSR_IA32_GS_BASE ||
		    (me.index >> 8) == 0x8 || me.index == 0x9b /* IA32_SMM_MONITOR_CTL */ ||
		    me.index == 0x9e /* IA32_SMBASE */)
			return (uint32_t)k + 1;
		if (arch_write_msr(v, me.index, me.data) != ARCH_OK)
			return (uint32_t)k + 1;
	}
	return 0;
}

/* ---- 28.5 loading host state ---- */

static void host_seg(struct x86_segment *sg, uint64_t sel, uint64_t base, bool keep_base)
{
	sg->sel = (uint16_t)sel;
	if (!sel) {
		/* A null selector leaves the segment unusable (28.5.2); FS/GS
		 * bases are loaded anyway. */
		sg->ar = SEG_AR_UNUSABLE;
		sg->base = keep_base ? base : 0;
		sg->limit = 0;
		return;
	}
	sg->base = keep_base ? base : 0;
	sg->limit = 0xffffffffu;
	sg->ar = 3 | SEG_AR_S | SEG_AR_P | SEG_AR_DB | SEG_AR_G; /* read/write, accessed */
}

static void load_host_state(struct nested_vcpu *n)
{
	struct vcpu *v = n->v;
	struct x86_state *s = &v->s;
	const uint8_t *vmcs = n->vmcs;
	uint32_t exit_ctl = (uint32_t)V12(vmcs, VM_EXIT_CONTROLS);
	bool host64 = (exit_ctl & VMX_EXIT_HOST_ADDR_SPACE_SIZE) != 0;

	/* 28.5.1 control registers, debug registers, MSRs. */
	s->cr0 = V12(vmcs, HOST_CR0) | CR0_ET;
	s->cr3 = V12(vmcs, HOST_CR3);
	s->cr4 = V12(vmcs, HOST_CR4);
	s->dr7 = DR7_FIXED1;
	s->sysenter_cs = V12(vmcs, HOST_IA32_SYSENTER_CS);
	s->sysenter_esp = V12(vmcs, HOST_IA32_SYSENTER_ESP);
	s->sysenter_eip = V12(vmcs, HOST_IA32_SYSENTER_EIP);
	if (exit_ctl & VMX_EXIT_LOAD_PAT)
		s->pat = V12(vmcs, HOST_IA32_PAT);
	if (exit_ctl & VMX_EXIT_LOAD_EFER) {
		s->efer = V12(vmcs, HOST_IA32_EFER);
	} else {
		s->efer &= ~(EFER_LMA | EFER_LME);
		if (host64)
			s->efer |= EFER_LMA | EFER_LME;
	}

	/* 28.5.2 segment and descriptor-table registers. */
	struct x86_segment *cs = &s->seg[SEG_CS];
	cs->sel = (uint16_t)V12(vmcs, HOST_CS_SELECTOR);
	cs->base = 0;
	cs->limit = 0xffffffffu;
	cs->ar = 11 | SEG_AR_S | SEG_AR_P | SEG_AR_G | (host64 ? SEG_AR_L : SEG_AR_DB);
	host_seg(&s->seg[SEG_SS], V12(vmcs, HOST_SS_SELECTOR), 0, false);
	host_seg(&s->seg[SEG_DS], V12(vmcs, HOST_DS_SELECTOR), 0, false);
	host_seg(&s->seg[SEG_ES], V12(vmcs, HOST_ES_SELECTOR), 0, false);
	host_seg(&s->seg[SEG_FS], V12(vmcs, HOST_FS_SELECTOR), V12(vmcs, HOST_FS_BASE), true);
	host_seg(&s->seg[SEG_GS], V12(vmcs, HOST_GS_SELECTOR), V12(vmcs, HOST_GS_BASE), true);
	s->tr.sel = (uint16_t)V12(vmcs, HOST_TR_SELECTOR);
	s->tr.base = V12(vmcs, HOST_TR_BASE);
	s->tr.limit = 0x67;
	s->tr.ar = SYS_TYPE_TSS_BUSY | SEG_AR_P;
	s->ldtr.sel = 0;
	s->ldtr.ar = SEG_AR_UNUSABLE;
	s->ldtr.base = 0;
	s->ldtr.limit = 0;
	s->gdtr.base = V12(vmcs, HOST_GDTR_BASE);
	s->gdtr.limit = 0xffff;
	s->idtr.base = V12(vmcs, HOST_IDTR_BASE);
	s->idtr.limit = 0xffff;

	/* 28.5.3 RIP, RSP, RFLAGS; no blocking, active. */
	s->rip = V12(vmcs, HOST_RIP);
	s->gpr[GPR_RSP] = V12(vmcs, HOST_RSP);
	s->rflags = RFLAGS_FIXED1;
	s->interruptibility = 0;
	s->activity = ACT_ACTIVE;
}

/* Back to L1: its controls, TSC offset and level. Without "enable VPID" in
 * vmcs12 a VM exit invalidates the mappings of VPID 0000H -- L1's own
 * (SDM 29.4.3.1); with it, L1's cached translations survive. */
static void switch_to_l1(struct nested_vcpu *n)
{
	struct vcpu *v = n->v;
	uint64_t proc = V12(n->vmcs, CPU_BASED_VM_EXEC_CONTROL);
	bool tagged = (proc & VMX_PROC_SECONDARY_CONTROLS) && (V12(n->vmcs, SECONDARY_VM_EXEC_CONTROL) & VMX_PROC2_ENABLE_VPID);
	nested_events_exit(n);
	if (v->level == 2) {
		v->ctls = n->ctls01;
		v->s.tsc_offset = n->l1_tsc_offset;
		vcpu_set_level(v, 1);
	}
	v->inject.valid = false;
	vcpu_state_changed(v, (STATE_ALL & ~(STATE_TLB | STATE_TLB_L2)) | (tagged ? 0 : STATE_TLB));
}

/* Finish a VM exit into L1 once the exit information is recorded. */
static void finish_exit(struct nested_vcpu *n, bool save_state)
{
	struct vcpu *v = n->v;
	if (save_state) {
		save_guest_state(n);
		if (!store_msrs(n)) {
			vmx_abort(n, VMX_ABORT_SAVE_MSR);
			return;
		}
	}
	/* Every VM exit clears the valid bit of the VM-entry
	 * interruption-information field (28.2, "Recording VM-Exit Information
	 * and Updating VM-Entry Control Fields"). */
	uint64_t intr = V12(n->vmcs, VM_ENTRY_INTR_INFO_FIELD);
	V12_SET(n->vmcs, VM_ENTRY_INTR_INFO_FIELD, intr & ~(uint64_t)INTR_INFO_VALID);
	load_host_state(n);
	switch_to_l1(n);
	uint32_t bad = nested_load_msrs(n, V12(n->vmcs, VM_EXIT_MSR_LOAD_ADDR), V12(n->vmcs, VM_EXIT_MSR_LOAD_COUNT));
	ram_note_write(&v->vm->ram, n->vmcs, VMCS12_SIZE);
	if (bad) {
		vmx_abort(n, VMX_ABORT_LOAD_HOST_MSR);
		return;
	}
	/* L0 wrote vmcs12 behind L1's shadow VMCS: sync it before L1 runs
	 * (KVM: need_vmcs12_to_shadow_sync after nested_vmx_vmexit). */
	nested_shadow_from_vmcs12(n);
}

void nested_vmexit(struct nested_vcpu *n, const struct vm_exit *e)
{
	struct vcpu *v = n->v;
	uint8_t *vmcs = n->vmcs;
	if (v->vm->be->sync_state)
		v->vm->be->sync_state(v); /* RFLAGS from the backend's lazy state */

	/* 28.2: exit information. */
	uint32_t idt_info = e->idt_vec_info, idt_err = e->idt_vec_error;
	uint32_t insn_len = e->insn_len;
	if (!(idt_info & INTR_INFO_VALID) && v->inject.valid) {
		/* An event L0 was about to inject into L2 was not delivered: L1
		 * sees it as the event being delivered (KVM's
		 * vmcs12_save_pending_event). */
		idt_info = INTR_INFO_VALID | ((uint32_t)v->inject.type << 8) | v->inject.vector |
			   (v->inject.has_error ? INTR_INFO_HAS_ERROR : 0);
		idt_err = v->inject.error;
		if (v->inject.type == INTR_TYPE_SW_INTR >> 8 || v->inject.type == INTR_TYPE_SW_EXCEPTION >> 8 ||
		    v->inject.type == INTR_TYPE_PRIV_SW_EXCEPTION >> 8)
			insn_len = v->inject.insn_len;
	}
	V12_SET(vmcs, VM_EXIT_REASON, e->reason);
	V12_SET(vmcs, EXIT_QUALIFICATION, e->qual);
	V12_SET(vmcs, GUEST_LINEAR_ADDRESS, e->gla);
	V12_SET(vmcs, GUEST_PHYSICAL_ADDRESS, e->gpa);
	V12_SET(vmcs, VM_EXIT_INTR_INFO, e->intr_info);
	V12_SET(vmcs, VM_EXIT_INTR_ERROR_CODE, (e->intr_info & INTR_INFO_HAS_ERROR) ? e->intr_error : 0);
	V12_SET(vmcs, IDT_VECTORING_INFO_FIELD, idt_info);
	V12_SET(vmcs, IDT_VECTORING_ERROR_CODE, idt_err);
	V12_SET(vmcs, VM_EXIT_INSTRUCTION_LEN, insn_len);
	V12_SET(vmcs, VMX_INSTRUCTION_INFO, e->insn_info);
	finish_exit(n, true);
}

void nested_entry_failure(struct nested_vcpu *n, uint32_t reason, uint64_t qual, const char *check)
{
	struct vcpu *v = n->v;
	n->entry_failures++;
	n->last_failed_check = check;
	V12_SET(n->vmcs, VM_EXIT_REASON, reason | EXIT_REASON_FAILED_ENTRY);
	V12_SET(n->vmcs, EXIT_QUALIFICATION, qual);
	/* 27.8: host state and host MSRs are loaded; guest state and MSRs are
	 * not saved. */
	finish_exit(n, false);
	nested_trace(n, TORTUGA_EV_NESTED_EXIT, 2, 1, (uint16_t)reason, qual, v->s.rip, v->cur_exit_seq);
	vm_guest_warn(v->vm, "VM entry failed (exit reason %u, qualification %" PRIu64 "): check %s", reason, qual,
		      check);
}
