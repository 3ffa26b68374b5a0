/*
 * nested/'s entry points from core (core/nested_hooks.h): per-vCPU state,
 * and the dispatch of L2's exits between L0 and L1.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/arch.h"
#include "core/nested_hooks.h"
#include "core/x86.h"
#include "reflect.h"
#include "transition.h"

int nested_vcpu_init(struct vcpu *v)
{
	struct nested_vcpu *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->v = v;
	n->vmptr = VMPTR_INVALID;
	n->vmxon_ptr = VMPTR_INVALID;
	n->shadow_policy = !(v->vm->cfg.flags & TORTUGA_CFG_NO_SHADOW_VMCS);
	n->shadow_vmcs = calloc(1, VMCS12_SIZE);
	n->vmread_bitmap = malloc(4096);
	n->vmwrite_bitmap = malloc(4096);
	n->msr_bitmap02 = malloc(4096);
	if (!n->shadow_vmcs || !n->vmread_bitmap || !n->vmwrite_bitmap || !n->msr_bitmap02) {
		v->nested = n;
		nested_vcpu_fini(v);
		return -ENOMEM;
	}
	vmx_caps_init(&n->caps, arch_cr4_supported(v), v->vm->model.phys_bits);
	nested_shadow_init_bitmaps(n);
	v->nested = n;
	return nested_events_init(n);
}

void nested_vcpu_fini(struct vcpu *v)
{
	struct nested_vcpu *n = v->nested;
	if (!n)
		return;
	if (v->level == 2)
		v->ctls = n->ctls01; /* the vCPU owns and frees vmcs01's controls */
	free(n->shadow_vmcs);
	free(n->vmread_bitmap);
	free(n->vmwrite_bitmap);
	free(n->msr_bitmap02);
	free(n);
	v->nested = NULL;
}

/*
 * MOV to CR0/CR4, CLTS and LMSW of L2 that L1 does not want but L0's own
 * guest/host mask made exit: L0 performs them on L2's behalf, keeping the
 * bits L1 owns as L1 set them (SDM 26.3 "Changes to Instruction Behavior in
 * VMX Non-Root Operation": masked bits are not modified), and updates the
 * read shadow L2 sees. KVM does the same in handle_set_cr0/cr4.
 */
static int l2_cr_write(struct nested_vcpu *n, struct vm_exit *e)
{
	struct vcpu *v = n->v;
	const struct vmx_exec_controls *c12 = &n->ctls12;
	struct vmx_exec_controls *c02 = &n->ctls02;
	int ret;
	switch (e->cr.type) {
	case CR_ACCESS_MOV_TO:
		if (e->cr.cr == 0) {
			uint64_t val = (e->cr.value & ~c12->cr0_mask) | (v->s.cr0 & c12->cr0_mask);
			ret = arch_write_cr0(v, val);
			if (ret == ARCH_OK)
				c02->cr0_shadow = (c02->cr0_shadow & c12->cr0_mask) | (v->s.cr0 & ~c12->cr0_mask);
		} else if (e->cr.cr == 4) {
			uint64_t val = (e->cr.value & ~c12->cr4_mask) | (v->s.cr4 & c12->cr4_mask);
			ret = arch_write_cr4(v, val);
			if (ret == ARCH_OK)
				c02->cr4_shadow = (c02->cr4_shadow & c12->cr4_mask) | (v->s.cr4 & ~c12->cr4_mask);
		} else {
			return 0; /* CR3, CR8: no masks, L0's handler */
		}
		break;
	case CR_ACCESS_CLTS:
		/* TS owned by L1 with a clear shadow: CLTS leaves CR0.TS alone. */
		ret = arch_write_cr0(v, (c12->cr0_mask & CR0_TS) ? v->s.cr0 : v->s.cr0 & ~CR0_TS);
		if (ret == ARCH_OK)
			c02->cr0_shadow = (c02->cr0_shadow & c12->cr0_mask) | (v->s.cr0 & ~c12->cr0_mask);
		break;
	case CR_ACCESS_LMSW: {
		/* LMSW writes CR0[3:0] (PE only set); bits L1 owns are kept. */
		uint64_t src = e->cr.value & 0xf, cr0 = v->s.cr0;
		uint64_t lmsw = (cr0 & ~0xeull) | (src & 0xe) | ((cr0 | src) & CR0_PE);
		uint64_t val = (lmsw & ~(c12->cr0_mask & 0xf)) | (cr0 & c12->cr0_mask & 0xf);
		ret = arch_write_cr0(v, val);
		if (ret == ARCH_OK)
			c02->cr0_shadow = (c02->cr0_shadow & c12->cr0_mask) | (v->s.cr0 & ~c12->cr0_mask);
		break;
	}
	default:
		return 0;
	}
	if (ret != ARCH_OK)
		vcpu_inject_exception(v, (uint8_t)ARCH_VECTOR(ret), ARCH_VECTOR(ret) == X86_GP, 0);
	else
		vcpu_skip_insn(v, e);
	return 1;
}

/*
 * VMFUNC from L2 (SDM 26.5.6): the CPU runs L2 with no VM function enabled,
 * so L0 performs what L1 enabled -- function 0, EPTP switching: EAX = 0,
 * ECX < 512 and a valid entry in L1's EPTP list load a new EPTP. Anything
 * else is the VM exit L1 asked for (reason 59). Returns 1 if performed.
 */
static int l2_vmfunc(struct nested_vcpu *n, struct vm_exit *e)
{
	struct vcpu *v = n->v;
	uint32_t fn = (uint32_t)v->s.gpr[GPR_RAX], index = (uint32_t)v->s.gpr[GPR_RCX];
	if (fn != 0 || !(V12(n->vmcs, VM_FUNCTION_CONTROL) & 1) || index >= 512)
		return 0;
	uint64_t eptp;
	if (aspace_read(&v->vm->as, V12(n->vmcs, EPTP_LIST_ADDRESS) + 8ull * index, &eptp, 8) ||
	    !nested_eptp_valid(&n->caps, eptp, v->vm->model.phys_bits))
		return 0;
	n->eptp = eptp;
	V12_SET(n->vmcs, EPT_POINTER, eptp);
	ram_note_write(&v->vm->ram, n->vmcs, VMCS12_SIZE);
	/* The software CPU's TLB holds one EPTP's translations. */
	vcpu_state_changed(v, STATE_TLB_L2);
	vcpu_skip_insn(v, e);
	return 1;
}

void nested_reflect(struct nested_vcpu *n, const struct vm_exit *e, uint64_t parent)
{
	struct vcpu *v = n->v;
	n->reflected++;
	v->lstats[2].reflected++;
	nested_vmexit(n, e);
	/* From here until L1 resumes L2, L1's exits are caused by this one. */
	v->nested_parent = parent;
	nested_trace(n, TORTUGA_EV_REFLECT, 2, 1, (uint16_t)e->reason, e->qual, v->s.rip, parent);
}

int nested_l2_exit(struct vcpu *v, struct vm_exit *e, uint64_t seq)
{
	struct nested_vcpu *n = nested_of(v);
	if (nested_l0_wants_exit(e))
		return 0;
	if (e->reason == TORTUGA_EXIT_VMFUNC && l2_vmfunc(n, e))
		return 1;
	if (nested_l1_wants_exit(&n->ctls12, e)) {
		nested_reflect(n, e, seq);
		return 1;
	}
	if (e->reason == TORTUGA_EXIT_CR_ACCESS)
		return l2_cr_write(n, e);
	return 0; /* L0's handler, on L2's behalf */
}
