/*
 * Which events leave a guest: the VM-execution controls of the VMCS a level
 * runs under (vmcs01 for L1, vmcs02 for L2), and pure functions that decide,
 * event by event, whether those controls make it a VM exit. The same functions
 * answer "does L1 want this exit?" when fed vmcs12's controls (nested/).
 *
 * Every decision cites Intel SDM Vol. 3C 26.1 "Instructions That Cause VM
 * Exits" and 26.2 "Other Causes of VM Exits".
 */
#ifndef CORE_EXIT_POLICY_H
#define CORE_EXIT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

enum {
#define X(cls, name, bit, desc) VMX_##cls##_##name = (1u << (bit)),
#include "hw/vmx_controls.def"
#undef X
};

struct vmx_exec_controls {
	uint32_t pin, proc, proc2, exit, entry;
	uint32_t exception_bitmap;
	uint32_t pf_ec_mask, pf_ec_match;
	uint64_t cr0_mask, cr0_shadow;
	uint64_t cr4_mask, cr4_shadow;
	uint32_t cr3_target_count;
	uint64_t cr3_target[4];
	const uint8_t *io_bitmap; /* bitmap A (ports 0-7fff), 4 KiB; B follows unless io_bitmap_b */
	const uint8_t *io_bitmap_b; /* bitmap B (ports 8000-ffff) when not contiguous, or NULL */
	const uint8_t *msr_bitmap; /* 4 KiB, SDM 25.6.9 layout */
	uint32_t ple_gap, ple_window;
	uint32_t tpr_threshold; /* TPR threshold (SDM 25.6.8), bits 3:0 */
	/* With "use TPR shadow": the virtual-APIC page (SDM 25.6.8) whose VTPR
	 * (offset 80H) MOV to/from CR8 accesses (SDM 30.1); NULL when the shadow
	 * is the local APIC itself (L0's own vmcs01, as KVM's APIC page). */
	uint8_t *virtual_apic;
	uint64_t tsc_offset;
	/* VMCS shadowing (SDM 25.6.15, 25.10): with VMX_PROC2_VMCS_SHADOWING,
	 * VMREAD/VMWRITE of a field whose bit is clear in these 4-KiB bitmaps
	 * access the shadow VMCS (a region in the vmcs12 layout) without an
	 * exit. */
	const uint8_t *vmread_bitmap, *vmwrite_bitmap;
	uint8_t *shadow_vmcs;
};

static inline bool vmx_proc2(const struct vmx_exec_controls *c, uint32_t bit)
{
	return (c->proc & VMX_PROC_SECONDARY_CONTROLS) && (c->proc2 & bit);
}

bool vmx_exit_on_io(const struct vmx_exec_controls *c, uint16_t port, unsigned size);
bool vmx_exit_on_msr(const struct vmx_exec_controls *c, uint32_t msr, bool write);
bool vmx_exit_on_cr0_write(const struct vmx_exec_controls *c, uint64_t val);
bool vmx_exit_on_cr4_write(const struct vmx_exec_controls *c, uint64_t val);
bool vmx_exit_on_cr3_write(const struct vmx_exec_controls *c, uint64_t val);
bool vmx_exit_on_clts(const struct vmx_exec_controls *c);
bool vmx_exit_on_lmsw(const struct vmx_exec_controls *c, uint64_t cr0, uint16_t src);
bool vmx_exit_on_exception(const struct vmx_exec_controls *c, unsigned vector, uint32_t error_code);
/* A guest read of a CR0/CR4 bit owned by the host returns the read shadow. */
uint64_t vmx_cr_read_value(uint64_t real, uint64_t mask, uint64_t shadow);

/* The default vmcs01 of a VM: what KVM sets on a modern Intel host. */
void vmx_policy_default_l0(struct vmx_exec_controls *c, uint8_t *io_bitmap, uint8_t *msr_bitmap);

/* Set a bitmap bit (ports / MSRs) so that the access exits. */
void vmx_io_bitmap_set(uint8_t *bitmap, uint16_t port, bool exits);
void vmx_msr_bitmap_set(uint8_t *bitmap, uint32_t msr, bool read_exits, bool write_exits);

#endif
