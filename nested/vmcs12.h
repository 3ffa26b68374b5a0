/*
 * The VMCS: field encodings and tortuga's VMCS region layout ("vmcs12"), all
 * derived from nested/vmcs_fields.def.
 *
 * A VMCS region is 4 KiB of L1 memory (Intel SDM Vol. 3C 25.2, "Format of the
 * VMCS Region"): the revision identifier in bits 30:0 of the first dword and
 * the shadow-VMCS indicator in bit 31, the VMX-abort indicator in the second
 * dword, then implementation-specific data. tortuga's data is the launch state
 * and every field at the offset its table row gives, little-endian, each field
 * as wide as its encoding says (natural width = 64 bits).
 */
#ifndef NESTED_VMCS12_H
#define NESTED_VMCS12_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* SDM 25.11.2, Table 25-21: structure of a VMCS component encoding. */
#define VMCS_ENC_HIGH(enc) ((enc) & 1u) /* access type: 1 = high 32 bits of a 64-bit field */
#define VMCS_ENC_INDEX(enc) (((enc) >> 1) & 0x1ffu)
#define VMCS_ENC_TYPE(enc) (((enc) >> 10) & 3u)
#define VMCS_ENC_WIDTH(enc) (((enc) >> 13) & 3u)
#define VMCS_ENC_RESERVED 0xffff9000u /* bits 31:15 and 12 */
#define VMCS_ENC_BYTES(enc) (VMCS_ENC_WIDTH(enc) == VMCS_WIDTH_16 ? 2u : VMCS_ENC_WIDTH(enc) == VMCS_WIDTH_32 ? 4u : 8u)

enum vmcs_width { VMCS_WIDTH_16 = 0, VMCS_WIDTH_64 = 1, VMCS_WIDTH_32 = 2, VMCS_WIDTH_NATURAL = 3 };
enum vmcs_type { VMCS_TYPE_CONTROL = 0, VMCS_TYPE_RO = 1, VMCS_TYPE_GUEST = 2, VMCS_TYPE_HOST = 3 };
enum vmcs_shadow { SH_NONE = 0, SH_RO = 1, SH_RW = 2 };

/* VMCS_<NAME>: the field's encoding. */
enum vmcs_encoding {
#define X(name, enc, off, sh, impl) VMCS_##name = (enc),
#include "vmcs_fields.def"
#undef X
};

/* VMCSF_<NAME>: the field's row in the table. */
enum vmcs_field_id {
#define X(name, enc, off, sh, impl) VMCSF_##name,
#include "vmcs_fields.def"
#undef X
	VMCSF_COUNT
};

/* tortuga's VMCS revision identifier ("trtg"; bit 31 clear), reported in
 * IA32_VMX_BASIC[30:0] (SDM Appendix A.1). */
#define VMCS12_REVISION 0x74727467u
#define VMCS12_SHADOW_INDICATOR (1u << 31)
#define VMCS12_SIZE 4096u

/* Launch state (SDM 25.1): anything but LAUNCHED reads as clear. */
#define VMCS12_LAUNCHED 0x4c41554eu /* "NUAL" */

struct vmcs12 {
	uint32_t revision_id; /* bits 30:0 revision, bit 31 shadow-VMCS indicator */
	uint32_t abort; /* VMX-abort indicator (SDM 28.7) */
	uint32_t launch_state; /* VMCS12_LAUNCHED, or clear */
	uint32_t launch_epoch; /* VMXON epoch of the VMLAUNCH (VMRESUME error 6) */
#define X(name, enc, off, sh, impl) uint8_t name[VMCS_ENC_BYTES(enc)];
#include "vmcs_fields.def"
#undef X
};

/* The layout is frozen: one check per field. */
#define X(name, enc, off, sh, impl)                                                          \
	_Static_assert(offsetof(struct vmcs12, name) == (off), "vmcs12 offset of " #name);
#include "vmcs_fields.def"
#undef X
_Static_assert(offsetof(struct vmcs12, launch_state) == 8, "vmcs12 header");
/* The guest segment fields of each kind are consecutive in SDM order (ES, CS,
 * SS, DS, FS, GS, LDTR, TR): entry and exit index them. */
_Static_assert(offsetof(struct vmcs12, GUEST_TR_SELECTOR) == offsetof(struct vmcs12, GUEST_ES_SELECTOR) + 2 * 7,
	       "guest selectors are consecutive");
_Static_assert(offsetof(struct vmcs12, GUEST_TR_LIMIT) == offsetof(struct vmcs12, GUEST_ES_LIMIT) + 4 * 7,
	       "guest limits are consecutive");
_Static_assert(offsetof(struct vmcs12, GUEST_TR_AR_BYTES) == offsetof(struct vmcs12, GUEST_ES_AR_BYTES) + 4 * 7,
	       "guest access rights are consecutive");
_Static_assert(offsetof(struct vmcs12, GUEST_TR_BASE) == offsetof(struct vmcs12, GUEST_ES_BASE) + 8 * 7,
	       "guest bases are consecutive");
_Static_assert(sizeof(struct vmcs12) <= VMCS12_SIZE, "vmcs12 fits its 4 KiB region");

/* One row of the table, for lookups by encoding or id. */
struct vmcs_field {
	const char *name;
	uint32_t enc;
	uint16_t offset;
	uint8_t bytes;
	uint8_t shadow; /* enum vmcs_shadow */
	bool implemented;
};

extern const struct vmcs_field vmcs_fields[VMCSF_COUNT];

/* The row for an encoding (the high-access encoding of a 64-bit field maps
 * to the field), or -1 if no field has it. */
int vmcs_field_lookup(uint64_t enc);
/* Name of the field with this encoding ("GUEST_RIP", "TSC_OFFSET_HIGH"), or NULL. */
const char *vmcs_field_name(uint64_t enc);
/* Highest index (bits 9:1) of any implemented field: IA32_VMX_VMCS_ENUM[9:1]. */
unsigned vmcs_max_index(void);

/* Raw little-endian access to a field of a region. */
static inline uint64_t vmcs12_load(const uint8_t *region, size_t off, size_t bytes)
{
	uint64_t v = 0;
	memcpy(&v, region + off, bytes);
	return v;
}

static inline void vmcs12_store(uint8_t *region, size_t off, size_t bytes, uint64_t v)
{
	memcpy(region + off, &v, bytes);
}

/* V12(p, GUEST_RIP): a field of the region at p, by name; compile-time offsets. */
#define V12(p, name) vmcs12_load((const uint8_t *)(p), offsetof(struct vmcs12, name), \
				 sizeof(((struct vmcs12 *)0)->name))
#define V12_SET(p, name, v) vmcs12_store((uint8_t *)(p), offsetof(struct vmcs12, name), \
					 sizeof(((struct vmcs12 *)0)->name), (uint64_t)(v))

/*
 * VMREAD/VMWRITE semantics of one field of a region (SDM 25.11.2): a full
 * access reads the field zero-extended, a high access bits 63:32 of a 64-bit
 * field; a write stores the value truncated to the field's width (a high
 * write replaces bits 63:32 only).
 */
uint64_t vmcs12_read_enc(const uint8_t *region, int id, uint64_t enc);
void vmcs12_write_enc(uint8_t *region, int id, uint64_t enc, uint64_t val);

#endif
