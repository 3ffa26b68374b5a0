/*
 * The VMCS field table (vmcs_fields.def) at run time: lookup by encoding,
 * names, and VMREAD/VMWRITE semantics on a region (Intel SDM Vol. 3C 25.11.2).
 */
#include "nested.h"

const struct vmcs_field vmcs_fields[VMCSF_COUNT] = {
#define X(name_, enc_, off_, sh_, impl_)                                                      \
	[VMCSF_##name_] = { .name = #name_, .enc = (enc_), .offset = (off_),                 \
			    .bytes = VMCS_ENC_BYTES(enc_), .shadow = (sh_), .implemented = (impl_) },
#include "vmcs_fields.def"
#undef X
};

int vmcs_field_lookup(uint64_t enc)
{
	/* Encodings are sparse; the switch the compiler builds from the table
	 * is a jump table or binary search. A high-access encoding (bit 0) is
	 * valid only for 64-bit fields (25.11.2). */
	if (enc > 0xffffffffull || (enc & VMCS_ENC_RESERVED))
		return -1;
	uint32_t full = (uint32_t)enc & ~1u;
	if ((enc & 1) && VMCS_ENC_WIDTH(enc) != VMCS_WIDTH_64)
		return -1;
	switch (full) {
#define X(name, enc_, off, sh, impl)                                                          \
	case (enc_):                                                                          \
		return VMCSF_##name;
#include "vmcs_fields.def"
#undef X
	default:
		return -1;
	}
}

const char *vmcs_field_name(uint64_t enc)
{
	static const char *const high_names[VMCSF_COUNT] = {
#define X(name, enc, off, sh, impl) [VMCSF_##name] = #name "_HIGH",
#include "vmcs_fields.def"
#undef X
	};
	int id = vmcs_field_lookup(enc);
	if (id < 0)
		return NULL;
	return (enc & 1) ? high_names[id] : vmcs_fields[id].name;
}

unsigned vmcs_max_index(void)
{
	unsigned max = 0;
	for (int i = 0; i < VMCSF_COUNT; i++)
		if (vmcs_fields[i].implemented && VMCS_ENC_INDEX(vmcs_fields[i].enc) > max)
			max = VMCS_ENC_INDEX(vmcs_fields[i].enc);
	return max;
}

uint64_t vmcs12_read_enc(const uint8_t *region, int id, uint64_t enc)
{
	const struct vmcs_field *f = &vmcs_fields[id];
	uint64_t v = vmcs12_load(region, f->offset, f->bytes);
	return (enc & 1) ? v >> 32 : v;
}

void vmcs12_write_enc(uint8_t *region, int id, uint64_t enc, uint64_t val)
{
	const struct vmcs_field *f = &vmcs_fields[id];
	if (enc & 1) {
		uint64_t cur = vmcs12_load(region, f->offset, f->bytes);
		val = (cur & 0xffffffffull) | (val << 32);
	}
	vmcs12_store(region, f->offset, f->bytes, val);
}

/* ---- the current VMCS ---- */

uint8_t *nested_field_store(struct nested_vcpu *n, int id)
{
	if (n->shadow_active && n->shadow_mode[id] != SH_NONE)
		return n->shadow_vmcs;
	return n->vmcs;
}

uint64_t nested_vmcs_read(struct nested_vcpu *n, int id)
{
	return vmcs12_read_enc(nested_field_store(n, id), id, vmcs_fields[id].enc);
}

void nested_vmcs_write(struct nested_vcpu *n, int id, uint64_t val)
{
	uint8_t *store = nested_field_store(n, id);
	vmcs12_write_enc(store, id, vmcs_fields[id].enc, val);
	if (store == n->vmcs)
		ram_note_write(&n->v->vm->ram, store + vmcs_fields[id].offset, vmcs_fields[id].bytes);
}

const char *vmx_error_name(unsigned err)
{
	switch (err) {
#define X(name, num, desc)                                                                     \
	case num:                                                                             \
		return desc;
#include "vmx_errors.def"
#undef X
	default:
		return NULL;
	}
}
