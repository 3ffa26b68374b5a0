/*
 * VM entries into L2 and VM exits to L1 (entry.c, exit.c), and the trace
 * events that mark them.
 */
#ifndef NESTED_TRANSITION_H
#define NESTED_TRANSITION_H

#include <stdbool.h>
#include <stdint.h>

#include "checks.h"
#include "nested.h"

/* VM-exit reason bit 31: VM-entry failure (SDM 28.2.1, Table 28-1). */
#define EXIT_REASON_FAILED_ENTRY (1u << 31)

/* Emulate VM entry for VMLAUNCH/VMRESUME once the instruction's own checks
 * passed (SDM 27.2 onwards). */
int nested_vmentry(struct nested_vcpu *n, struct vm_exit *e, bool launch);

/*
 * Synthesize a VM exit into L1 for an exit of L2 (SDM chapter 28): record the
 * exit information, save L2's state into vmcs12, store and load MSRs, load
 * L1's host state, and switch the vCPU to level 1.
 */
void nested_vmexit(struct nested_vcpu *n, const struct vm_exit *e);

/* A VM-entry failure after the control and host checks (SDM 27.8): exit
 * reason (33 or 34) with bit 31 set, the qualification, host state loaded. */
void nested_entry_failure(struct nested_vcpu *n, uint32_t reason, uint64_t qual, const char *check);

/* Load MSRs from an MSR-load area (27.4, 28.6): 0, or the 1-based index of
 * the first entry that cannot be loaded. */
uint32_t nested_load_msrs(struct nested_vcpu *n, uint64_t addr, uint64_t count);

/* The context the entry checks need for the current vmcs12. */
void nested_entry_ctx(struct nested_vcpu *n, struct entry_ctx *c);

/* Trace an event with an explicit level and handler (tortuga_event). */
uint64_t nested_trace(struct nested_vcpu *n, uint8_t kind, uint8_t level, uint8_t handler, uint16_t reason,
		      uint64_t qual, uint64_t aux, uint64_t parent);

/* Access one field by table row (widths from the table). */
static inline uint64_t v12_get(const uint8_t *region, int id)
{
	return vmcs12_load(region, vmcs_fields[id].offset, vmcs_fields[id].bytes);
}

static inline void v12_put(uint8_t *region, int id, uint64_t val)
{
	vmcs12_store(region, vmcs_fields[id].offset, vmcs_fields[id].bytes, val);
}

#endif
