/*
 * The VMCS field table (nested/vmcs_fields.def) against Intel SDM Vol. 3C
 * 25.11.2 (encoding structure, Table 25-21) and Appendix B: widths and types
 * derived from encodings, high-access encodings, lookups, the VMREAD/VMWRITE
 * semantics of each width, and the shadow set (KVM's vmcs_shadow_fields.h).
 */
#include "nested/nested.h"

#include "check.h"

static void encodings(void)
{
	check_test = __func__;
	/* Appendix B examples: guest RIP is a natural-width guest-state field,
	 * the exit reason a 32-bit read-only field, the TSC offset a 64-bit
	 * control, the host CS selector a 16-bit host-state field. */
	CHECK_EQ(VMCS_ENC_WIDTH(VMCS_GUEST_RIP), VMCS_WIDTH_NATURAL);
	CHECK_EQ(VMCS_ENC_TYPE(VMCS_GUEST_RIP), VMCS_TYPE_GUEST);
	CHECK_EQ(VMCS_ENC_WIDTH(VMCS_VM_EXIT_REASON), VMCS_WIDTH_32);
	CHECK_EQ(VMCS_ENC_TYPE(VMCS_VM_EXIT_REASON), VMCS_TYPE_RO);
	CHECK_EQ(VMCS_ENC_WIDTH(VMCS_TSC_OFFSET), VMCS_WIDTH_64);
	CHECK_EQ(VMCS_ENC_TYPE(VMCS_TSC_OFFSET), VMCS_TYPE_CONTROL);
	CHECK_EQ(VMCS_ENC_WIDTH(VMCS_HOST_CS_SELECTOR), VMCS_WIDTH_16);
	CHECK_EQ(VMCS_ENC_TYPE(VMCS_HOST_CS_SELECTOR), VMCS_TYPE_HOST);
	/* Every row: access type full, bit 12 and 31:15 clear, unique. */
	for (int i = 0; i < VMCSF_COUNT; i++) {
		uint32_t enc = vmcs_fields[i].enc;
		CHECK_EQ(enc & (1u | VMCS_ENC_RESERVED), 0);
		CHECK_EQ(vmcs_fields[i].bytes, VMCS_ENC_BYTES(enc));
		CHECK_EQ(vmcs_field_lookup(enc), i);
		for (int j = i + 1; j < VMCSF_COUNT; j++)
			CHECK(vmcs_fields[j].enc != enc);
		/* Layout: fields do not overlap and fit the region. */
		if (i + 1 < VMCSF_COUNT)
			CHECK(vmcs_fields[i].offset + vmcs_fields[i].bytes <= vmcs_fields[i + 1].offset);
		CHECK(vmcs_fields[i].offset + vmcs_fields[i].bytes <= VMCS12_SIZE);
	}
}

static void lookups(void)
{
	check_test = __func__;
	/* The high access of a 64-bit field names the field. */
	CHECK_EQ(vmcs_field_lookup(VMCS_TSC_OFFSET | 1), VMCSF_TSC_OFFSET);
	CHECK_STR(vmcs_field_name(VMCS_TSC_OFFSET | 1), "TSC_OFFSET_HIGH");
	CHECK_STR(vmcs_field_name(VMCS_GUEST_RIP), "GUEST_RIP");
	/* High access of other widths, reserved bits, unknown indexes: none. */
	CHECK_EQ(vmcs_field_lookup(VMCS_GUEST_RIP | 1), -1);
	CHECK_EQ(vmcs_field_lookup(VMCS_VM_EXIT_REASON | 1), -1);
	CHECK_EQ(vmcs_field_lookup(VMCS_GUEST_RIP | 0x1000), -1);
	CHECK_EQ(vmcs_field_lookup(VMCS_GUEST_RIP | 0x8000), -1);
	CHECK_EQ(vmcs_field_lookup(0x1ull << 32 | VMCS_GUEST_RIP), -1);
	CHECK_EQ(vmcs_field_lookup(0x6840), -1);
	/* A field of a feature tortuga does not offer exists in the table but
	 * is not implemented (VMREAD/VMWRITE fail with error 12). */
	CHECK(!vmcs_fields[VMCSF_POSTED_INTR_NV].implemented);
	CHECK(vmcs_fields[VMCSF_EPT_POINTER].implemented);
}

static void access_semantics(void)
{
	static uint8_t region[VMCS12_SIZE];
	check_test = __func__;
	int rip = vmcs_field_lookup(VMCS_GUEST_RIP);
	vmcs12_write_enc(region, rip, VMCS_GUEST_RIP, 0x1122334455667788ull);
	CHECK_EQ(vmcs12_read_enc(region, rip, VMCS_GUEST_RIP), 0x1122334455667788ull);
	/* A 16-bit field keeps bits 15:0 of what is written. */
	int cs = vmcs_field_lookup(VMCS_GUEST_CS_SELECTOR);
	vmcs12_write_enc(region, cs, VMCS_GUEST_CS_SELECTOR, 0xabcdef);
	CHECK_EQ(vmcs12_read_enc(region, cs, VMCS_GUEST_CS_SELECTOR), 0xcdef);
	/* The high access reads and writes bits 63:32 only. */
	int tsc = vmcs_field_lookup(VMCS_TSC_OFFSET);
	vmcs12_write_enc(region, tsc, VMCS_TSC_OFFSET, 0x0000000155555555ull);
	vmcs12_write_enc(region, tsc, VMCS_TSC_OFFSET | 1, 0xaaaa);
	CHECK_EQ(vmcs12_read_enc(region, tsc, VMCS_TSC_OFFSET), 0x0000aaaa55555555ull);
	CHECK_EQ(vmcs12_read_enc(region, tsc, VMCS_TSC_OFFSET | 1), 0xaaaa);
	/* Fields do not disturb their neighbours. */
	CHECK_EQ(vmcs12_read_enc(region, rip, VMCS_GUEST_RIP), 0x1122334455667788ull);
}

static void shadow_set(void)
{
	check_test = __func__;
	/* KVM's set: the exit information L1 reads on every exit, read-only;
	 * the guest state it updates, read-write; no field L0 itself changes
	 * when emulating VMX instructions (VM_INSTRUCTION_ERROR). */
	CHECK_EQ(vmcs_fields[VMCSF_VM_EXIT_REASON].shadow, SH_RO);
	CHECK_EQ(vmcs_fields[VMCSF_EXIT_QUALIFICATION].shadow, SH_RO);
	CHECK_EQ(vmcs_fields[VMCSF_GUEST_RIP].shadow, SH_RW);
	CHECK_EQ(vmcs_fields[VMCSF_VM_INSTRUCTION_ERROR].shadow, SH_NONE);
	unsigned n = 0;
	for (int i = 0; i < VMCSF_COUNT; i++)
		n += vmcs_fields[i].shadow != SH_NONE;
	CHECK_EQ(n, 35); /* 36 encodings in KVM, GUEST_PHYSICAL_ADDRESS_HIGH included */
}

TEST_MAIN(encodings, lookups, access_semantics, shadow_set)
