/*
 * The VMX instructions of L1, emulated by L0 after they exited (Intel SDM
 * Vol. 3C 31.3, "VMX Instruction Reference"). Each handler follows its
 * pseudocode in order:
 *
 *   #UD  not in VMX operation, CR0.PE = 0, RFLAGS.VM = 1, compatibility mode
 *   VM exit  in VMX non-root operation -- L1 is in (virtual) root operation,
 *            so for L1 this step is the exit that brought us here
 *   #GP(0)  CPL > 0
 *   VMfailInvalid / VMfailValid(error)  (31.2; error numbers 31.4)
 *
 * and then the operation. Memory operands come from the VM-exit
 * instruction-information field and qualification (operand.c); their faults
 * are injected and the instruction is not retired.
 */
#include "core/arch.h"
#include "core/nested_hooks.h"
#include "core/x86.h"
#include "operand.h"
#include "transition.h"

/* ---- 31.2 conventions ---- */

static void set_arith_flags(struct vcpu *v, uint64_t flags)
{
	v->s.rflags = (v->s.rflags & ~RFLAGS_ARITH) | flags;
	vcpu_state_changed(v, STATE_FLAGS);
}

/* VMsucceed: CF, PF, AF, ZF, SF, OF cleared. */
static int succeed(struct nested_vcpu *n, struct vm_exit *e)
{
	set_arith_flags(n->v, 0);
	vcpu_skip_insn(n->v, e);
	return 0;
}

/* VMfailInvalid: CF set, the others cleared. */
static int fail_invalid(struct nested_vcpu *n, struct vm_exit *e)
{
	set_arith_flags(n->v, RFLAGS_CF);
	vcpu_skip_insn(n->v, e);
	return 0;
}

/* VMfailValid(error): ZF set, the error in the current VMCS. */
static int fail_valid(struct nested_vcpu *n, struct vm_exit *e, enum vmx_error err)
{
	nested_vmcs_write(n, VMCSF_VM_INSTRUCTION_ERROR, err);
	set_arith_flags(n->v, RFLAGS_ZF);
	vcpu_skip_insn(n->v, e);
	return 0;
}

/* VMfail(error): VMfailValid if there is a current VMCS, else VMfailInvalid. */
static int fail(struct nested_vcpu *n, struct vm_exit *e, enum vmx_error err)
{
	return n->vmptr != VMPTR_INVALID ? fail_valid(n, e, err) : fail_invalid(n, e);
}

static int inject_ud(struct vcpu *v)
{
	vcpu_inject_exception(v, X86_UD, false, 0);
	return 0;
}

/* The #UD conditions of every VMX instruction but VMXON and VMCALL:
 * (not in VMX operation) or (CR0.PE = 0) or (RFLAGS.VM = 1) or
 * (IA32_EFER.LMA = 1 and CS.L = 0). */
static bool mode_ud(const struct vcpu *v)
{
	const struct x86_state *s = &v->s;
	return !(s->cr0 & CR0_PE) || (s->rflags & RFLAGS_VM) || (x86_long_mode(s) && !(s->seg[SEG_CS].ar & SEG_AR_L));
}

/* #UD, then (the exit already happened), then #GP(0) for CPL > 0. Returns
 * false if an exception was queued. */
static bool prologue(struct nested_vcpu *n)
{
	struct vcpu *v = n->v;
	if (!n->vmxon || mode_ud(v)) {
		inject_ud(v);
		return false;
	}
	if (x86_cpl(&v->s) > 0) {
		vcpu_inject_exception(v, X86_GP, true, 0);
		return false;
	}
	return true;
}

/* An address a VMX instruction names: 4-KByte aligned, within MAXPHYADDR. */
static bool vmx_addr_ok(const struct nested_vcpu *n, uint64_t addr)
{
	return !(addr & 0xfff) && !(addr & arch_phys_reserved(n->v));
}

static uint32_t read_revision(struct nested_vcpu *n, uint64_t addr)
{
	uint32_t rev = 0xffffffffu; /* no RAM there: the bus reads all ones */
	aspace_read(&n->v->vm->as, addr, &rev, 4);
	return rev;
}

/* Make the current VMCS not current (VMCLEAR of it, VMPTRLD of another,
 * VMXOFF): the shadow's values go back to vmcs12 first. */
static void release_current(struct nested_vcpu *n)
{
	if (n->vmptr == VMPTR_INVALID)
		return;
	nested_shadow_to_vmcs12(n);
	n->vmptr = VMPTR_INVALID;
	n->vmcs = NULL;
	nested_shadow_update(n);
}

/* ---- VMXON ---- */

static int handle_vmxon(struct nested_vcpu *n, struct vm_exit *e)
{
	struct vcpu *v = n->v;
	struct x86_state *s = &v->s;
	/* IF (register operand) or (CR0.PE = 0) or (CR4.VMXE = 0) or ... #UD */
	if (!(s->cr4 & CR4_VMXE) || mode_ud(v))
		return inject_ud(v);
	if (n->vmxon) {
		/* In VMX root operation: #GP for CPL > 0, else VMfailValid(15). */
		if (x86_cpl(s) > 0) {
			vcpu_inject_exception(v, X86_GP, true, 0);
			return 0;
		}
		return fail(n, e, VMXERR_VMXON_IN_ROOT);
	}
	/* #GP: CPL > 0, CR0/CR4 not as IA32_VMX_CR*_FIXED* require, or
	 * IA32_FEATURE_CONTROL not locked with VMX enabled outside SMX. */
	bool cr_ok = (s->cr0 & n->caps.cr0_fixed0) == n->caps.cr0_fixed0 && !(s->cr0 & ~n->caps.cr0_fixed1) &&
		     (s->cr4 & n->caps.cr4_fixed0) == n->caps.cr4_fixed0 && !(s->cr4 & ~n->caps.cr4_fixed1);
	if (x86_cpl(s) > 0 || !cr_ok || (s->feature_control & 5) != 5) {
		vcpu_inject_exception(v, X86_GP, true, 0);
		return 0;
	}
	uint64_t addr;
	if (!nested_operand_read(v, e, &addr, 8))
		return 0;
	if (!vmx_addr_ok(n, addr))
		return fail_invalid(n, e);
	uint32_t rev = read_revision(n, addr);
	if ((rev & ~VMCS12_SHADOW_INDICATOR) != VMCS12_REVISION || (rev & VMCS12_SHADOW_INDICATOR))
		return fail_invalid(n, e);
	n->vmxon = true;
	n->vmxon_ptr = addr;
	n->vmptr = VMPTR_INVALID;
	n->vmcs = NULL;
	return succeed(n, e);
}

/* ---- VMXOFF ---- */

static int handle_vmxoff(struct nested_vcpu *n, struct vm_exit *e)
{
	if (!prologue(n))
		return 0;
	release_current(n);
	n->vmxon = false;
	n->vmxon_epoch++;
	return succeed(n, e);
}

/*
 * The common start of VMCLEAR and VMPTRLD: #UD/#GP, the 64-bit memory
 * operand, then VMfail(bad_addr) for an unaligned or too wide address and
 * VMfail(vmxon) for the VMXON pointer. Returns false when the instruction
 * is finished (fault injected or VMfail).
 */
static bool vmcs_addr_operand(struct nested_vcpu *n, struct vm_exit *e, enum vmx_error bad_addr,
			      enum vmx_error vmxon, uint64_t *addr)
{
	if (!prologue(n) || !nested_operand_read(n->v, e, addr, 8))
		return false;
	if (!vmx_addr_ok(n, *addr)) {
		fail(n, e, bad_addr);
		return false;
	}
	if (*addr == n->vmxon_ptr) {
		fail(n, e, vmxon);
		return false;
	}
	return true;
}

/* ---- VMCLEAR ---- */

static int handle_vmclear(struct nested_vcpu *n, struct vm_exit *e)
{
	struct vcpu *v = n->v;
	uint64_t addr;
	if (!vmcs_addr_operand(n, e, VMXERR_VMCLEAR_INVALID_ADDR, VMXERR_VMCLEAR_VMXON_PTR, &addr))
		return 0;
	if (addr == n->vmptr)
		release_current(n);
	/* Launch state "clear", written to the region (where it lives). */
	uint32_t clear = 0;
	aspace_write(&v->vm->as, addr + offsetof(struct vmcs12, launch_state), &clear, 4);
	return succeed(n, e);
}

/* ---- VMPTRLD ---- */

static int handle_vmptrld(struct nested_vcpu *n, struct vm_exit *e)
{
	struct vcpu *v = n->v;
	uint64_t addr;
	if (!vmcs_addr_operand(n, e, VMXERR_VMPTRLD_INVALID_ADDR, VMXERR_VMPTRLD_VMXON_PTR, &addr))
		return 0;
	uint32_t rev = read_revision(n, addr);
	bool shadow_ok = ((n->caps.proc2 >> 32) & VMX_PROC2_VMCS_SHADOWING) != 0;
	if ((rev & ~VMCS12_SHADOW_INDICATOR) != VMCS12_REVISION || ((rev & VMCS12_SHADOW_INDICATOR) && !shadow_ok))
		return fail(n, e, VMXERR_VMPTRLD_BAD_REVISION);
	if (addr == n->vmptr)
		return succeed(n, e);
	uint8_t *region = aspace_ram_ptr(&v->vm->as, addr, VMCS12_SIZE);
	if (!region) {
		/* The revision read from RAM but the 4 KiB do not all lie in RAM:
		 * tortuga cannot back the VMCS there. */
		vm_guest_warn(v->vm, "VMPTRLD 0x%llx: VMCS region is not entirely RAM", (unsigned long long)addr);
		return fail(n, e, VMXERR_VMPTRLD_INVALID_ADDR);
	}
	release_current(n);
	n->vmptr = addr;
	n->vmcs = region;
	nested_shadow_update(n);
	return succeed(n, e);
}

/* ---- VMPTRST ---- */

static int handle_vmptrst(struct nested_vcpu *n, struct vm_exit *e)
{
	if (!prologue(n))
		return 0;
	uint64_t ptr = n->vmptr;
	if (!nested_operand_write(n->v, e, &ptr, 8))
		return 0;
	return succeed(n, e);
}

/* ---- VMREAD / VMWRITE ---- */

/* The operand size of VMREAD/VMWRITE: 64 bits in 64-bit mode, else 32. */
static unsigned vmx_opsize(const struct vcpu *v)
{
	return x86_64bit_mode(&v->s) ? 8 : 4;
}

/* #UD/#GP, then VMfailInvalid without a current VMCS; decodes the
 * operands. Returns false when the instruction is finished. */
static bool vmcs_access_start(struct nested_vcpu *n, struct vm_exit *e, struct vmx_insn_operand *o)
{
	if (!prologue(n))
		return false;
	if (n->vmptr == VMPTR_INVALID) {
		fail_invalid(n, e);
		return false;
	}
	vmx_insn_info_decode(e->insn_info, o);
	return true;
}

static int handle_vmread(struct nested_vcpu *n, struct vm_exit *e)
{
	struct vcpu *v = n->v;
	struct vmx_insn_operand o;
	if (!vmcs_access_start(n, e, &o))
		return 0;
	uint64_t enc = nested_reg_read(v, o.reg2);
	int id = vmcs_field_lookup(enc);
	if (id < 0 || !vmcs_fields[id].implemented)
		return fail_valid(n, e, VMXERR_UNSUPPORTED_COMPONENT);
	uint64_t val = vmcs12_read_enc(nested_field_store(n, id), id, enc);
	unsigned size = vmx_opsize(v);
	/* Faults on the destination come after the checks above (31.3 VMREAD). */
	if (o.is_reg)
		nested_reg_write(v, o.reg1, val);
	else if (!nested_operand_write(v, e, &val, size))
		return 0;
	return succeed(n, e);
}

static int handle_vmwrite(struct nested_vcpu *n, struct vm_exit *e)
{
	struct vcpu *v = n->v;
	struct vmx_insn_operand o;
	if (!vmcs_access_start(n, e, &o))
		return 0;
	uint64_t val = 0;
	unsigned size = vmx_opsize(v);
	/* The source operand is read before the field checks (31.3 VMWRITE:
	 * its faults come first). */
	if (o.is_reg)
		val = nested_reg_read(v, o.reg1);
	else if (!nested_operand_read(v, e, &val, size))
		return 0;
	uint64_t enc = nested_reg_read(v, o.reg2);
	int id = vmcs_field_lookup(enc);
	if (id < 0 || !vmcs_fields[id].implemented)
		return fail_valid(n, e, VMXERR_UNSUPPORTED_COMPONENT);
	if (VMCS_ENC_TYPE(enc) == VMCS_TYPE_RO && !(n->caps.misc & VMX_MISC_VMWRITE_ANY))
		return fail_valid(n, e, VMXERR_VMWRITE_READ_ONLY);
	uint8_t *store = nested_field_store(n, id);
	vmcs12_write_enc(store, id, enc, val);
	if (store == n->vmcs)
		ram_note_write(&v->vm->ram, store + vmcs_fields[id].offset, vmcs_fields[id].bytes);
	return succeed(n, e);
}

/* ---- VMLAUNCH / VMRESUME ---- */

static int handle_vmlaunch(struct nested_vcpu *n, struct vm_exit *e)
{
	struct vcpu *v = n->v;
	bool launch = e->reason == TORTUGA_EXIT_VMLAUNCH;
	if (!prologue(n))
		return 0;
	/* 27.1: no current VMCS, or a shadow VMCS as the current one. */
	if (n->vmptr == VMPTR_INVALID)
		return fail_invalid(n, e);
	struct vmcs12 *hdr = (struct vmcs12 *)n->vmcs;
	if (hdr->revision_id & VMCS12_SHADOW_INDICATOR)
		return fail_invalid(n, e);
	if (v->s.interruptibility & INTR_BLOCK_MOV_SS)
		return fail_valid(n, e, VMXERR_ENTRY_MOV_SS_BLOCKING);
	bool launched = hdr->launch_state == VMCS12_LAUNCHED;
	if (launch && launched)
		return fail_valid(n, e, VMXERR_VMLAUNCH_NONCLEAR);
	if (!launch && !launched)
		return fail_valid(n, e, VMXERR_VMRESUME_NONLAUNCHED);
	if (!launch && hdr->launch_epoch != n->vmxon_epoch)
		return fail_valid(n, e, VMXERR_VMRESUME_AFTER_VMXOFF);
	/* L1's VMWRITEs to shadowed fields went to the shadow VMCS: vmcs12
	 * must have them before entry (KVM: copy_shadow_to_vmcs12 in
	 * nested_vmx_run). */
	nested_shadow_to_vmcs12(n);
	return nested_vmentry(n, e, launch);
}

/* ---- INVEPT / INVVPID ---- */

/*
 * The common start of INVEPT and INVVPID (31.3): #UD if the processor lacks
 * the instruction (insn_cap clear in IA32_VMX_EPT_VPID_CAP), #UD/#GP, the
 * type from the register operand -- VMfail(28) unless min_type <= type <=
 * max_type and EPT_VPID_CAP bit (cap_bit0 + type) is set -- then the 128-bit
 * descriptor. Returns false when the instruction is finished.
 */
static bool inv_operands(struct nested_vcpu *n, struct vm_exit *e, uint64_t insn_cap, unsigned cap_bit0,
			 uint64_t min_type, uint64_t max_type, uint64_t *type, uint64_t desc[2])
{
	struct vcpu *v = n->v;
	if (!(n->caps.ept_vpid & insn_cap)) {
		inject_ud(v);
		return false;
	}
	if (!prologue(n))
		return false;
	struct vmx_insn_operand o;
	vmx_insn_info_decode(e->insn_info, &o);
	*type = nested_reg_read(v, o.reg2);
	if (*type < min_type || *type > max_type || !(n->caps.ept_vpid & (1ull << (cap_bit0 + *type)))) {
		fail(n, e, VMXERR_INVALID_INVEPT_INVVPID);
		return false;
	}
	return nested_operand_read(v, e, desc, 16);
}

static int handle_invept(struct nested_vcpu *n, struct vm_exit *e)
{
	struct vcpu *v = n->v;
	uint64_t type, desc[2];
	/* Types 1 (single-context, EPT_VPID_CAP[25]) and 2 (all-context, [26]). */
	if (!inv_operands(n, e, EPT_CAP_INVEPT, 24, 1, 2, &type, desc))
		return 0;
	if (type == 1 && !nested_eptp_valid(&n->caps, desc[0], v->vm->model.phys_bits))
		return fail(n, e, VMXERR_INVALID_INVEPT_INVVPID);
	/* The software CPU caches combined (L2-linear to host) translations:
	 * invalidating any EPT-derived mapping flushes them all. */
	vcpu_state_changed(v, STATE_TLB_L2);
	return succeed(n, e);
}

static int handle_invvpid(struct nested_vcpu *n, struct vm_exit *e)
{
	struct vcpu *v = n->v;
	uint64_t type, desc[2];
	/* Types 0 (individual address) to 3 (single context, retaining
	 * globals): EPT_VPID_CAP[40 + type]. */
	if (!inv_operands(n, e, VPID_CAP_INVVPID, 40, 0, 3, &type, desc))
		return 0;
	uint64_t vpid = desc[0] & 0xffff;
	/* Descriptor bits 63:16 are reserved; VPID 0 is invalid except for
	 * all-context; an individual address must be canonical. */
	if (desc[0] >> 16)
		return fail(n, e, VMXERR_INVALID_INVEPT_INVVPID);
	if (type != 2 && vpid == 0)
		return fail(n, e, VMXERR_INVALID_INVEPT_INVVPID);
	if (type == 0 && !arch_canonical(v, desc[1]))
		return fail(n, e, VMXERR_INVALID_INVEPT_INVVPID);
	/* The CPU keeps one VPID's translations for L2: flush them. */
	vcpu_state_changed(v, STATE_TLB_L2);
	return succeed(n, e);
}

/* ---- VMCALL, VMFUNC ---- */

static int handle_vmcall(struct nested_vcpu *n, struct vm_exit *e)
{
	struct vcpu *v = n->v;
	/* Outside VMX operation VMCALL is #UD; in (virtual) root operation:
	 * mode #UD, CPL #GP, then VMfail(1) -- tortuga has no SMM monitor. */
	if (!prologue(n))
		return 0;
	(void)v;
	return fail(n, e, VMXERR_VMCALL_IN_ROOT);
}

static int handle_vmfunc(struct nested_vcpu *n, struct vm_exit *e)
{
	(void)e;
	/* L1 runs with "enable VM functions" = 0 in vmcs01: #UD (31.3 VMFUNC). */
	return inject_ud(n->v);
}

typedef int (*vmx_insn_fn)(struct nested_vcpu *n, struct vm_exit *e);

/* By basic exit reason, as L0's own dispatch table (core/exit.c). */
static const vmx_insn_fn vmx_insn_handlers[TORTUGA_EXIT_REASON_MAX] = {
	[TORTUGA_EXIT_VMCALL] = handle_vmcall,     [TORTUGA_EXIT_VMCLEAR] = handle_vmclear,
	[TORTUGA_EXIT_VMLAUNCH] = handle_vmlaunch, [TORTUGA_EXIT_VMPTRLD] = handle_vmptrld,
	[TORTUGA_EXIT_VMPTRST] = handle_vmptrst,   [TORTUGA_EXIT_VMREAD] = handle_vmread,
	[TORTUGA_EXIT_VMRESUME] = handle_vmlaunch, [TORTUGA_EXIT_VMWRITE] = handle_vmwrite,
	[TORTUGA_EXIT_VMXOFF] = handle_vmxoff,     [TORTUGA_EXIT_VMXON] = handle_vmxon,
	[TORTUGA_EXIT_INVEPT] = handle_invept,     [TORTUGA_EXIT_INVVPID] = handle_invvpid,
	[TORTUGA_EXIT_VMFUNC] = handle_vmfunc,
};

int nested_handle_vmx_insn(struct vcpu *v, struct vm_exit *e)
{
	vmx_insn_fn fn = e->reason < TORTUGA_EXIT_REASON_MAX ? vmx_insn_handlers[e->reason] : NULL;
	return (fn ? fn : handle_vmfunc)(nested_of(v), e);
}
