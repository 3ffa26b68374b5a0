/*
 * VM entry into L2 (Intel SDM Vol. 3C chapter 27): the checks on controls
 * and host state (27.2) and on guest state (27.3.1, checks.c), loading guest
 * state (27.3.2), building vmcs02 -- the controls the software CPU really
 * runs L2 under -- loading MSRs (27.4) and event injection (27.6).
 */
#include <inttypes.h>

#include "core/arch.h"
#include "core/x86.h"
#include "operand.h"
#include "transition.h"

static bool read_phys(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	struct vm *vm = opaque;
	uint8_t *h = aspace_ram_ptr(&vm->as, gpa, len);
	if (!h)
		return false;
	memcpy(buf, h, len);
	return true;
}

void nested_entry_ctx(struct nested_vcpu *n, struct entry_ctx *c)
{
	struct vcpu *v = n->v;
	const struct cpu_model *m = &v->vm->model;
	uint64_t efer_valid = EFER_SCE | EFER_LMA;
	if (cpu_has(m, CPUF_LM))
		efer_valid |= EFER_LME;
	if (cpu_has(m, CPUF_NX))
		efer_valid |= EFER_NXE;
	*c = (struct entry_ctx){
		.vmcs = n->vmcs,
		.caps = &n->caps,
		.phys_bits = m->phys_bits,
		.virt_bits = m->virt_bits,
		.efer_valid = efer_valid,
		.cpu_lma = (v->s.efer & EFER_LMA) != 0,
		.vmptr = n->vmptr,
		.read_phys = read_phys,
		.opaque = v->vm,
	};
}

/* A 4-KiB page of L1 memory the CPU reads through (bitmaps, shadow VMCS);
 * NULL if it is not RAM (reads would return all ones: every bit set). */
static uint8_t *l1_page(struct nested_vcpu *n, uint64_t gpa)
{
	uint64_t page = gpa & PAGE_MASK;
	unsigned slot = (unsigned)(page >> PAGE_SHIFT) & 7;
	if (n->page_cache[slot].host && n->page_cache[slot].gpa == page)
		return n->page_cache[slot].host;
	uint8_t *h = aspace_ram_ptr(&n->v->vm->as, page, PAGE_SIZE);
	if (h) {
		n->page_cache[slot].gpa = page;
		n->page_cache[slot].host = h;
	}
	return h;
}

/* vmcs02's MSR bitmap starts as vmcs01's; list the bytes where vmcs01 lets
 * an access through, which are the only ones vmcs12 can change. */
static void msr_merge_init(struct nested_vcpu *n, const uint8_t *b01)
{
	memcpy(n->msr_bitmap02, b01, 4096);
	n->msr_merge_count = 0;
	for (unsigned k = 0; k < 4096 && n->msr_merge_count < 64; k++)
		if (b01[k] != 0xff)
			n->msr_merge[n->msr_merge_count++] = (uint16_t)k;
	n->msr_merge_base = b01;
}

/* vmcs12's execution controls, with its bitmaps mapped: what "does L1 want
 * this exit" is decided against (reflect.c). */
static void load_ctls12(struct nested_vcpu *n, struct vmx_exec_controls *c)
{
	const uint8_t *vmcs = n->vmcs;
	memset(c, 0, sizeof(*c));
	c->pin = (uint32_t)V12(vmcs, PIN_BASED_VM_EXEC_CONTROL);
	c->proc = (uint32_t)V12(vmcs, CPU_BASED_VM_EXEC_CONTROL);
	c->proc2 = (c->proc & VMX_PROC_SECONDARY_CONTROLS) ? (uint32_t)V12(vmcs, SECONDARY_VM_EXEC_CONTROL) : 0;
	c->exit = (uint32_t)V12(vmcs, VM_EXIT_CONTROLS);
	c->entry = (uint32_t)V12(vmcs, VM_ENTRY_CONTROLS);
	c->exception_bitmap = (uint32_t)V12(vmcs, EXCEPTION_BITMAP);
	c->pf_ec_mask = (uint32_t)V12(vmcs, PAGE_FAULT_ERROR_CODE_MASK);
	c->pf_ec_match = (uint32_t)V12(vmcs, PAGE_FAULT_ERROR_CODE_MATCH);
	c->cr0_mask = V12(vmcs, CR0_GUEST_HOST_MASK);
	c->cr0_shadow = V12(vmcs, CR0_READ_SHADOW);
	c->cr4_mask = V12(vmcs, CR4_GUEST_HOST_MASK);
	c->cr4_shadow = V12(vmcs, CR4_READ_SHADOW);
	c->cr3_target_count = (uint32_t)V12(vmcs, CR3_TARGET_COUNT);
	for (int k = 0; k < 4; k++)
		c->cr3_target[k] = v12_get(vmcs, VMCSF_CR3_TARGET_VALUE0 + k);
	if (c->proc & VMX_PROC_USE_IO_BITMAPS) {
		c->io_bitmap = l1_page(n, V12(vmcs, IO_BITMAP_A));
		c->io_bitmap_b = l1_page(n, V12(vmcs, IO_BITMAP_B));
		if (!c->io_bitmap || !c->io_bitmap_b)
			c->io_bitmap = c->io_bitmap_b = NULL;
	}
	if (c->proc & VMX_PROC_USE_MSR_BITMAPS)
		c->msr_bitmap = l1_page(n, V12(vmcs, MSR_BITMAP));
	c->ple_gap = (uint32_t)V12(vmcs, PLE_GAP);
	c->ple_window = (uint32_t)V12(vmcs, PLE_WINDOW);
	c->tsc_offset = (c->proc & VMX_PROC_USE_TSC_OFFSETTING) ? V12(vmcs, TSC_OFFSET) : 0;
	if (c->proc & VMX_PROC_USE_TPR_SHADOW) {
		c->tpr_threshold = (uint32_t)V12(vmcs, TPR_THRESHOLD) & 0xf;
		c->virtual_apic = l1_page(n, V12(vmcs, VIRTUAL_APIC_PAGE_ADDR));
	}
}

/*
 * vmcs02: the union of L0's policy (vmcs01) and L1's controls (vmcs12), as
 * KVM's prepare_vmcs02_early() builds it. L0 checks vmcs12's I/O bitmaps
 * itself (vmcs02 exits on all I/O); MSR bitmaps are merged; CR0/CR4 bits owned
 * by either level exit, and L2 reads L1's shadow for L1's bits. Controls that
 * change instruction behaviour rather than exits (RDTSCP, descriptor-table
 * exiting, VMCS shadowing, VM functions) are L1's.
 */
static void build_ctls02(struct nested_vcpu *n)
{
	const struct vmx_exec_controls *c01 = n->ctls01, *c12 = &n->ctls12;
	struct vmx_exec_controls *c02 = &n->ctls02;
	const uint8_t *vmcs = n->vmcs;
	*c02 = *c12;
	/* L0 exits on every interrupt and NMI of the vCPU (its own vmcs01
	 * controls) and decides where they go (events.c). NMI blocking in L2
	 * means what vmcs12 says it means: with L1's "NMI exiting", L1's
	 * "virtual NMIs" decide whether IRET ends it (26.3); otherwise L0's
	 * virtual NMIs track L2's NMI blocking. */
	c02->pin = c01->pin | c12->pin;
	if (c12->pin & VMX_PIN_NMI_EXITING)
		c02->pin = (c02->pin & ~VMX_PIN_VIRTUAL_NMIS) | (c12->pin & VMX_PIN_VIRTUAL_NMIS);
	/* Window exiting: L1's own, plus what L0 waits for in L2 (set by
	 * nested_check_events(), never vmcs01's requests for L1). With L1's
	 * "use TPR shadow", L2's CR8 is the VTPR of L1's virtual-APIC page and
	 * the TPR threshold L1's (30.1); without, L2's CR8 is the vCPU's TPR. */
	const uint32_t windows = VMX_PROC_INTR_WINDOW_EXITING | VMX_PROC_NMI_WINDOW_EXITING;
	c02->proc = ((c01->proc & ~windows) | c12->proc | VMX_PROC_UNCOND_IO_EXITING) & ~VMX_PROC_USE_IO_BITMAPS;
	if (!(c12->proc & VMX_PROC_USE_TPR_SHADOW))
		c02->virtual_apic = NULL;
	c02->io_bitmap = c02->io_bitmap_b = NULL;
	const uint32_t l1_only = VMX_PROC2_ENABLE_RDTSCP | VMX_PROC2_DESC_TABLE_EXITING | VMX_PROC2_VMCS_SHADOWING |
				 VMX_PROC2_ENABLE_VMFUNC | VMX_PROC2_UNRESTRICTED_GUEST | VMX_PROC2_ENABLE_EPT |
				 VMX_PROC2_ENABLE_VPID | VMX_PROC2_PAUSE_LOOP_EXITING;
	c02->proc2 = (c01->proc2 & ~l1_only) | c12->proc2;
	if (c02->proc2)
		c02->proc |= VMX_PROC_SECONDARY_CONTROLS;
	/* MSR bitmaps: an access exits if either level wants it. */
	if ((c01->proc & VMX_PROC_USE_MSR_BITMAPS) && (c12->proc & VMX_PROC_USE_MSR_BITMAPS) && c12->msr_bitmap &&
	    c01->msr_bitmap) {
		if (n->msr_merge_base != c01->msr_bitmap)
			msr_merge_init(n, c01->msr_bitmap);
		for (unsigned k = 0; k < n->msr_merge_count; k++) {
			unsigned b = n->msr_merge[k];
			n->msr_bitmap02[b] = c01->msr_bitmap[b] | c12->msr_bitmap[b];
		}
		c02->msr_bitmap = n->msr_bitmap02;
	} else {
		c02->proc &= ~VMX_PROC_USE_MSR_BITMAPS;
		c02->msr_bitmap = NULL;
	}
	c02->exception_bitmap = c01->exception_bitmap | c12->exception_bitmap;
	/* L0 does not intercept #PF (it has EPT): vmcs12's mask/match decide. */
	c02->cr0_mask = c01->cr0_mask | c12->cr0_mask;
	c02->cr4_mask = c01->cr4_mask | c12->cr4_mask;
	c02->cr0_shadow = (c12->cr0_shadow & c12->cr0_mask) | (V12(vmcs, GUEST_CR0) & ~c12->cr0_mask);
	c02->cr4_shadow = (c12->cr4_shadow & c12->cr4_mask) | (V12(vmcs, GUEST_CR4) & ~c12->cr4_mask);
	if (c12->proc2 & VMX_PROC2_VMCS_SHADOWING) {
		c02->vmread_bitmap = l1_page(n, V12(vmcs, VMREAD_BITMAP));
		c02->vmwrite_bitmap = l1_page(n, V12(vmcs, VMWRITE_BITMAP));
		uint64_t link = V12(vmcs, VMCS_LINK_POINTER);
		c02->shadow_vmcs = (link & 0xfff) ? NULL : l1_page(n, link);
	} else {
		c02->vmread_bitmap = c02->vmwrite_bitmap = NULL;
		c02->shadow_vmcs = NULL;
	}
}

/* ---- 27.3.2 loading guest state ---- */

/* Segment i (ES..GS, LDTR, TR: the SDM's encoding order, consecutive in
 * each group of the frozen layout). */
static void load_seg(const uint8_t *vmcs, unsigned i, struct x86_segment *sg)
{
	sg->sel = (uint16_t)vmcs12_load(vmcs, offsetof(struct vmcs12, GUEST_ES_SELECTOR) + 2 * i, 2);
	sg->base = vmcs12_load(vmcs, offsetof(struct vmcs12, GUEST_ES_BASE) + 8 * i, 8);
	sg->limit = (uint32_t)vmcs12_load(vmcs, offsetof(struct vmcs12, GUEST_ES_LIMIT) + 4 * i, 4);
	sg->ar = (uint32_t)vmcs12_load(vmcs, offsetof(struct vmcs12, GUEST_ES_AR_BYTES) + 4 * i, 4) & 0x1f0ffu;
}

static void load_guest_state(struct nested_vcpu *n)
{
	struct vcpu *v = n->v;
	struct x86_state *s = &v->s;
	const uint8_t *vmcs = n->vmcs;
	uint32_t entry = (uint32_t)V12(vmcs, VM_ENTRY_CONTROLS);
	bool ia32e = (entry & VMX_ENTRY_IA32E_MODE_GUEST) != 0;

	/* 27.3.2.1 control registers, debug registers, MSRs. */
	s->cr0 = V12(vmcs, GUEST_CR0) | CR0_ET;
	s->cr3 = V12(vmcs, GUEST_CR3);
	s->cr4 = V12(vmcs, GUEST_CR4);
	if (entry & VMX_ENTRY_LOAD_DEBUG_CONTROLS)
		s->dr7 = V12(vmcs, GUEST_DR7) | DR7_FIXED1;
	s->sysenter_cs = V12(vmcs, GUEST_SYSENTER_CS);
	s->sysenter_esp = V12(vmcs, GUEST_SYSENTER_ESP);
	s->sysenter_eip = V12(vmcs, GUEST_SYSENTER_EIP);
	if (entry & VMX_ENTRY_LOAD_PAT)
		s->pat = V12(vmcs, GUEST_IA32_PAT);
	if (entry & VMX_ENTRY_LOAD_EFER) {
		s->efer = V12(vmcs, GUEST_IA32_EFER);
	} else {
		/* LMA gets "IA-32e mode guest"; LME too while paging is on. */
		s->efer &= ~EFER_LMA;
		if (ia32e)
			s->efer |= EFER_LMA;
		if (s->cr0 & CR0_PG) {
			s->efer &= ~EFER_LME;
			if (ia32e)
				s->efer |= EFER_LME;
		}
	}

	/* 27.3.2.2 segment and descriptor-table registers. */
	for (unsigned i = 0; i < SEG_COUNT; i++)
		load_seg(vmcs, i, &s->seg[i]);
	load_seg(vmcs, VMCSF_GUEST_LDTR_SELECTOR - VMCSF_GUEST_ES_SELECTOR, &s->ldtr);
	load_seg(vmcs, VMCSF_GUEST_TR_SELECTOR - VMCSF_GUEST_ES_SELECTOR, &s->tr);
	s->gdtr.base = V12(vmcs, GUEST_GDTR_BASE);
	s->gdtr.limit = (uint16_t)V12(vmcs, GUEST_GDTR_LIMIT);
	s->idtr.base = V12(vmcs, GUEST_IDTR_BASE);
	s->idtr.limit = (uint16_t)V12(vmcs, GUEST_IDTR_LIMIT);

	/* 27.3.2.3 RIP, RSP, RFLAGS; 27.3.2.5 non-register state. */
	s->rip = V12(vmcs, GUEST_RIP);
	s->gpr[GPR_RSP] = V12(vmcs, GUEST_RSP);
	s->rflags = V12(vmcs, GUEST_RFLAGS);
	s->interruptibility = (uint32_t)V12(vmcs, GUEST_INTERRUPTIBILITY_INFO) & 0xf;
	s->activity = (uint32_t)V12(vmcs, GUEST_ACTIVITY_STATE);
}

/* 27.6: the event in the VM-entry interruption-information field is
 * delivered as if it occurred right after VM entry, through L2's IDT.
 * Returns true if the entry injects a pending MTF VM exit instead. */
static bool inject_event(struct nested_vcpu *n)
{
	struct vcpu *v = n->v;
	uint32_t intr = (uint32_t)V12(n->vmcs, VM_ENTRY_INTR_INFO_FIELD);
	if (!(intr & INTR_INFO_VALID))
		return false;
	unsigned type = (intr >> 8) & 7;
	/* 27.6.2: type 7 (other event), vector 0: a pending MTF VM exit. */
	if (type == INTR_TYPE_OTHER >> 8)
		return true;
	/* 27.7.1: after a vectoring VM entry there is no blocking by STI or
	 * MOV SS; injecting an NMI blocks NMIs (or, with "virtual NMIs",
	 * sets virtual-NMI blocking: 27.6.1.2). */
	v->s.interruptibility &= ~(INTR_BLOCK_STI | INTR_BLOCK_MOV_SS);
	if (type == INTR_TYPE_NMI >> 8)
		v->s.interruptibility |= INTR_BLOCK_NMI;
	v->inject = (struct vcpu_event){
		.valid = true,
		.vector = intr & 0xff,
		.type = (intr >> 8) & 7,
		.has_error = (intr & INTR_INFO_HAS_ERROR) != 0,
		.error = (uint32_t)V12(n->vmcs, VM_ENTRY_EXCEPTION_ERROR_CODE),
		.insn_len = (uint32_t)V12(n->vmcs, VM_ENTRY_INSTRUCTION_LEN),
	};
	/* An injected event is delivered even in the HLT state (27.6.3). */
	v->s.activity = ACT_ACTIVE;
	return false;
}

/*
 * May L2 keep the translations the CPU cached for it last time (SDM 29.4.3)?
 * Only if vmcs12 tags them with a VPID -- without "enable VPID" every VM
 * entry invalidates -- and the context (VPID, CR3, EPTP) is the one they were
 * cached for; flushing more than the SDM requires is always allowed.
 */
static bool l2_tlb_reusable(struct nested_vcpu *n)
{
	const uint8_t *vmcs = n->vmcs;
	bool tagged = vmx_proc2(&n->ctls12, VMX_PROC2_ENABLE_VPID);
	uint16_t vpid = (uint16_t)V12(vmcs, VIRTUAL_PROCESSOR_ID);
	uint64_t cr3 = V12(vmcs, GUEST_CR3);
	uint64_t eptp = vmx_proc2(&n->ctls12, VMX_PROC2_ENABLE_EPT) ? V12(vmcs, EPT_POINTER) : 0;
	bool reuse = tagged && n->l2_tlb_tagged && vpid == n->l2_tlb_vpid && cr3 == n->l2_tlb_cr3 &&
		     eptp == n->l2_tlb_eptp;
	n->l2_tlb_tagged = tagged;
	n->l2_tlb_vpid = vpid;
	n->l2_tlb_cr3 = cr3;
	n->l2_tlb_eptp = eptp;
	return reuse;
}

static void fail_valid(struct nested_vcpu *n, struct vm_exit *e, unsigned err, const struct entry_result *r)
{
	struct vcpu *v = n->v;
	n->entry_failures++;
	n->last_failed_check = entry_checks[r->check].name;
	V12_SET(n->vmcs, VM_INSTRUCTION_ERROR, err);
	ram_note_write(&v->vm->ram, n->vmcs, VMCS12_SIZE);
	v->s.rflags = (v->s.rflags & ~RFLAGS_ARITH) | RFLAGS_ZF;
	vcpu_state_changed(v, STATE_FLAGS);
	vcpu_skip_insn(v, e);
	vm_guest_warn(v->vm, "VMLAUNCH/VMRESUME failed with VM-instruction error %u: check %s (%s)", err,
		      entry_checks[r->check].name, r->cond);
}

int nested_vmentry(struct nested_vcpu *n, struct vm_exit *e, bool launch)
{
	struct vcpu *v = n->v;
	struct entry_ctx ctx;
	struct entry_result res;
	nested_entry_ctx(n, &ctx);

	/* 27.2: controls and host state; a failure is VMfailValid and L1
	 * continues after the instruction. */
	if (nested_check_controls(&ctx, &res)) {
		fail_valid(n, e, VMXERR_ENTRY_INVALID_CONTROL, &res);
		return 0;
	}
	if (nested_check_host(&ctx, &res)) {
		fail_valid(n, e, VMXERR_ENTRY_INVALID_HOST_STATE, &res);
		return 0;
	}
	/* 27.3.1: guest state; a failure loads host state (27.8). */
	if (nested_check_guest(&ctx, &res)) {
		nested_entry_failure(n, TORTUGA_EXIT_ENTRY_FAIL_GUEST_STATE, entry_checks[res.check].qual,
				     entry_checks[res.check].name);
		return 0;
	}

	/* Committed: load L2's state and run it under vmcs02. */
	load_ctls12(n, &n->ctls12);
	n->eptp = vmx_proc2(&n->ctls12, VMX_PROC2_ENABLE_EPT) ? V12(n->vmcs, EPT_POINTER) : 0;
	n->ctls01 = v->ctls;
	n->l1_tsc_offset = v->s.tsc_offset;
	load_guest_state(n);
	build_ctls02(n);
	v->ctls = &n->ctls02;
	v->s.tsc_offset = n->l1_tsc_offset + n->ctls12.tsc_offset;
	vcpu_set_level(v, 2);
	vcpu_state_changed(v, (STATE_ALL & ~(STATE_TLB | STATE_TLB_L2)) | (l2_tlb_reusable(n) ? 0 : STATE_TLB_L2));

	/* 27.4: MSR loading; a failure is a VM-entry failure (reason 34). */
	uint32_t bad = nested_load_msrs(n, V12(n->vmcs, VM_ENTRY_MSR_LOAD_ADDR), V12(n->vmcs, VM_ENTRY_MSR_LOAD_COUNT));
	if (bad) {
		nested_entry_failure(n, TORTUGA_EXIT_ENTRY_FAIL_MSR_LOADING, bad, entry_checks[CHECK_ENTRY_MSR_LOAD].name);
		return 0;
	}
	if (launch) {
		uint32_t st[2] = { VMCS12_LAUNCHED, n->vmxon_epoch };
		memcpy(n->vmcs + offsetof(struct vmcs12, launch_state), st, sizeof(st));
	}
	nested_events_entry(n, inject_event(n));
	n->entries++;
	v->nested_parent = 0;
	n->entry_exit_seq = v->cur_exit_seq;
	n->entry_seq = nested_trace(n, TORTUGA_EV_NESTED_ENTRY, 1, 0, (uint16_t)e->reason, 0, v->s.rip, v->cur_exit_seq);
	return 0;
}
