/*
 * VMCS shadowing as L0 policy (Intel SDM Vol. 3C 25.10 "VMCS Types: Ordinary
 * and Shadow", 25.6.15 "VMCS Shadowing Bitmap Addresses", 31.3 VMREAD and
 * VMWRITE in VMX non-root operation).
 *
 * While L1 has a current VMCS, vmcs01 runs L1 with "VMCS shadowing" = 1, a
 * link pointer to L0's shadow VMCS and bitmaps whose bits are clear exactly
 * for the fields the policy shadows -- vmcs_fields.def's shadow column (KVM's
 * set) unless tortuga_vm_set_vmcs_shadow() changed it: L1's VMREAD
 * and VMWRITE of those fields complete inside the CPU, without an exit. The
 * shadow holds the authoritative values of those fields; L0 copies them at
 * the points KVM does:
 *   vmcs12 -> shadow   after VMPTRLD and after every VM exit into L1
 *                      (copy_vmcs12_to_shadow, need_vmcs12_to_shadow_sync)
 *   shadow -> vmcs12   before VMLAUNCH/VMRESUME and when the VMCS stops
 *                      being current (copy_shadow_to_vmcs12)
 */
#include "core/nested_hooks.h"
#include "nested.h"

static void bitmap_clear(uint8_t *bm, uint32_t enc)
{
	uint32_t bit = enc & 0x7fff; /* bits 14:0 of the encoding index the bitmap */
	bm[bit >> 3] &= (uint8_t) ~(1u << (bit & 7));
}

/* Bitmaps and copy runs from the per-field modes. */
static void shadow_rebuild(struct nested_vcpu *n)
{
	memset(n->vmread_bitmap, 0xff, 4096);
	memset(n->vmwrite_bitmap, 0xff, 4096);
	n->shadow_run_count = 0;
	for (int id = 0; id < VMCSF_COUNT; id++) {
		if (n->shadow_mode[id] == SH_NONE)
			continue;
		uint32_t enc = vmcs_fields[id].enc;
		bool wide = VMCS_ENC_WIDTH(enc) == VMCS_WIDTH_64;
		bitmap_clear(n->vmread_bitmap, enc);
		if (wide)
			bitmap_clear(n->vmread_bitmap, enc | 1);
		if (n->shadow_mode[id] == SH_RW) {
			bitmap_clear(n->vmwrite_bitmap, enc);
			if (wide)
				bitmap_clear(n->vmwrite_bitmap, enc | 1);
		}
		/* Fields adjacent in the region merge into one run. */
		unsigned off = vmcs_fields[id].offset, bytes = vmcs_fields[id].bytes, k = n->shadow_run_count;
		if (k && n->shadow_runs[k - 1].offset + n->shadow_runs[k - 1].bytes == off &&
		    n->shadow_runs[k - 1].bytes + bytes <= 255) {
			n->shadow_runs[k - 1].bytes += (uint8_t)bytes;
			continue;
		}
		n->shadow_runs[k].offset = (uint16_t)off;
		n->shadow_runs[k].bytes = (uint8_t)bytes;
		n->shadow_run_count++;
	}
}

static void shadow_copy(const struct nested_vcpu *n, uint8_t *dst, const uint8_t *src)
{
	for (unsigned k = 0; k < n->shadow_run_count; k++)
		memcpy(dst + n->shadow_runs[k].offset, src + n->shadow_runs[k].offset, n->shadow_runs[k].bytes);
}

void nested_shadow_init_bitmaps(struct nested_vcpu *n)
{
	for (int id = 0; id < VMCSF_COUNT; id++)
		n->shadow_mode[id] = vmcs_fields[id].implemented ? vmcs_fields[id].shadow : SH_NONE;
	shadow_rebuild(n);
}

void nested_shadow_set_field(struct nested_vcpu *n, int id, enum vmcs_shadow mode)
{
	/* Values in the shadow go back to vmcs12 before the set changes. */
	nested_shadow_to_vmcs12(n);
	n->shadow_mode[id] = (uint8_t)mode;
	shadow_rebuild(n);
	nested_shadow_from_vmcs12(n);
}

void nested_shadow_from_vmcs12(struct nested_vcpu *n)
{
	if (n->shadow_active)
		shadow_copy(n, n->shadow_vmcs, n->vmcs);
}

void nested_shadow_to_vmcs12(struct nested_vcpu *n)
{
	if (!n->shadow_active)
		return;
	shadow_copy(n, n->vmcs, n->shadow_vmcs);
	ram_note_write(&n->v->vm->ram, n->vmcs, sizeof(struct vmcs12));
}

/* vmcs01's shadowing follows whether L1 has a current VMCS (KVM:
 * set_current_vmptr / nested_release_vmcs12). */
void nested_shadow_update(struct nested_vcpu *n)
{
	struct vcpu *v = n->v;
	struct vmx_exec_controls *c01 = v->level == 2 ? n->ctls01 : v->ctls;
	bool on = n->shadow_policy && n->vmcs != NULL;
	n->shadow_active = on;
	if (on) {
		c01->proc2 |= VMX_PROC2_VMCS_SHADOWING;
		c01->vmread_bitmap = n->vmread_bitmap;
		c01->vmwrite_bitmap = n->vmwrite_bitmap;
		c01->shadow_vmcs = n->shadow_vmcs;
		nested_shadow_from_vmcs12(n);
	} else {
		c01->proc2 &= ~VMX_PROC2_VMCS_SHADOWING;
		c01->vmread_bitmap = c01->vmwrite_bitmap = NULL;
		c01->shadow_vmcs = NULL;
	}
}

/*
 * VMREAD/VMWRITE in VMX non-root operation under VMCS shadowing (31.3): the
 * CPU accesses the VMCS the link pointer references. For L1 that is L0's
 * shadow VMCS; for L2 it is L1's shadow VMCS in L1 memory. A VMfailValid
 * records its error in the VMCS of the level's parent (vmcs12 for L2; L0's
 * own vmcs01 for L1, which L1 cannot read -- L1's bitmaps never let it reach
 * that case, since only implemented fields are shadowed).
 */
int nested_shadow_vmcs_access(struct vcpu *v, uint8_t *shadow_vmcs, uint64_t enc, uint64_t *val, bool write)
{
	struct nested_vcpu *n = nested_of(v);
	if (!shadow_vmcs)
		return VMX_SHADOW_FAIL_INVALID;
	int id = vmcs_field_lookup(enc);
	int err = 0;
	if (id < 0 || !vmcs_fields[id].implemented)
		err = VMXERR_UNSUPPORTED_COMPONENT;
	else if (write && VMCS_ENC_TYPE(enc) == VMCS_TYPE_RO && !(n->caps.misc & VMX_MISC_VMWRITE_ANY))
		err = VMXERR_VMWRITE_READ_ONLY;
	if (err) {
		if (v->level == 2 && n->vmcs)
			nested_vmcs_write(n, VMCSF_VM_INSTRUCTION_ERROR, (uint64_t)err);
		return err;
	}
	if (write) {
		vmcs12_write_enc(shadow_vmcs, id, enc, *val);
		if (shadow_vmcs != n->shadow_vmcs)
			ram_note_write(&v->vm->ram, shadow_vmcs + vmcs_fields[id].offset, vmcs_fields[id].bytes);
	} else {
		*val = vmcs12_read_enc(shadow_vmcs, id, enc);
	}
	return VMX_SHADOW_OK;
}
