/*
 * Test support: the host- and guest-state part of a valid VMCS for a flat
 * 64-bit host and guest (what an OS hypervisor such as guests/l1hv sets up):
 * code selector 08H, data 10H, a busy 64-bit TSS, unusable LDTR. Shared by
 * the VM-entry check tests and the VM-entry fuzzer.
 */
#ifndef TESTS_SUPPORT_VMCS_FLAT64_H
#define TESTS_SUPPORT_VMCS_FLAT64_H

#include "core/x86.h"
#include "nested/vmcs12.h"

static inline void vmcs_flat64_state(uint8_t *vmcs, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint16_t tr_sel,
				     uint64_t host_rip, uint64_t guest_rip)
{
	V12_SET(vmcs, HOST_CR0, cr0);
	V12_SET(vmcs, HOST_CR3, cr3);
	V12_SET(vmcs, HOST_CR4, cr4);
	V12_SET(vmcs, HOST_CS_SELECTOR, 0x08);
	V12_SET(vmcs, HOST_SS_SELECTOR, 0x10);
	V12_SET(vmcs, HOST_DS_SELECTOR, 0x10);
	V12_SET(vmcs, HOST_ES_SELECTOR, 0x10);
	V12_SET(vmcs, HOST_FS_SELECTOR, 0x10);
	V12_SET(vmcs, HOST_GS_SELECTOR, 0x10);
	V12_SET(vmcs, HOST_TR_SELECTOR, tr_sel);
	V12_SET(vmcs, HOST_RIP, host_rip);
	V12_SET(vmcs, HOST_RSP, 0x80000);
	V12_SET(vmcs, GUEST_CR0, cr0);
	V12_SET(vmcs, GUEST_CR3, cr3);
	V12_SET(vmcs, GUEST_CR4, cr4);
	V12_SET(vmcs, GUEST_DR7, 0x400);
	for (unsigned i = 0; i < SEG_COUNT; i++) {
		bool code = i == SEG_CS;
		vmcs12_store(vmcs, vmcs_fields[VMCSF_GUEST_ES_SELECTOR + i].offset, 2, code ? 0x08 : 0x10);
		vmcs12_store(vmcs, vmcs_fields[VMCSF_GUEST_ES_LIMIT + i].offset, 4, 0xffffffff);
		vmcs12_store(vmcs, vmcs_fields[VMCSF_GUEST_ES_AR_BYTES + i].offset, 4, code ? 0xa09b : 0xc093);
		vmcs12_store(vmcs, vmcs_fields[VMCSF_GUEST_ES_BASE + i].offset, 8, 0);
	}
	V12_SET(vmcs, GUEST_LDTR_AR_BYTES, SEG_AR_UNUSABLE);
	V12_SET(vmcs, GUEST_TR_SELECTOR, tr_sel);
	V12_SET(vmcs, GUEST_TR_LIMIT, 0x67);
	V12_SET(vmcs, GUEST_TR_AR_BYTES, 0x8b);
	V12_SET(vmcs, GUEST_RIP, guest_rip);
	V12_SET(vmcs, GUEST_RSP, 0x70000);
	V12_SET(vmcs, GUEST_RFLAGS, RFLAGS_FIXED1);
	V12_SET(vmcs, VMCS_LINK_POINTER, ~0ull);
}

#endif
