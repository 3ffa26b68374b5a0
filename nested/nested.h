/*
 * nested/: the virtual VMX that tortuga (L0) gives an L1 guest hypervisor.
 * Private to nested/; core/ sees only core/nested_hooks.h.
 *
 *  vmcs.c      the VMCS field table: lookup, names, VMREAD/VMWRITE semantics
 *  caps.c      the VMX capability MSRs (SDM Appendix A)
 *  operand.c   memory operands of exiting VMX instructions (SDM 28.2.5)
 *  insn.c      VMXON ... INVVPID, VMCALL, VMFUNC (SDM 31.3)
 *  checks.c    VM-entry checks, each named (SDM 27.2, 27.3)
 *  entry.c     VM entry: vmcs02, guest-state loading, MSR loading, events
 *  exit.c      synthesized VM exits into L1 (SDM 28)
 *  reflect.c   which level handles an L2 exit or event (pure decisions)
 *  events.c    interrupts, NMIs and INIT while L2 runs; HLT in L2; the
 *              VMX-preemption timer and the monitor trap flag
 *  shadow.c    VMCS shadowing (SDM 25.10, 31.3 VMREAD/VMWRITE)
 *  ept.c       EPT for L2 (SDM 29.3)
 */
#ifndef NESTED_NESTED_H
#define NESTED_NESTED_H

#include <stdbool.h>
#include <stdint.h>

#include "core/exit.h"
#include "core/exit_policy.h"
#include "core/timer.h"
#include "core/vm.h"
#include "vmcs12.h"

#define VMPTR_INVALID (~0ull)

/* VM-instruction error numbers (vmx_errors.def). */
enum vmx_error {
#define X(name, num, desc) VMXERR_##name = num,
#include "vmx_errors.def"
#undef X
};
const char *vmx_error_name(unsigned err);

/* The VMX capability MSRs L1 reads (SDM Appendix A), computed once per vCPU
 * from what nested/ implements. */
struct vmx_caps {
	uint64_t basic;
	uint64_t pin, proc, exit, entry; /* non-TRUE forms */
	uint64_t true_pin, true_proc, true_exit, true_entry;
	uint64_t misc;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t vmcs_enum;
	uint64_t proc2;
	uint64_t ept_vpid;
	uint64_t vmfunc;
};

/* cr4_valid: the CR4 bits the vCPU's CPU model supports (CR4_FIXED1). */
void vmx_caps_init(struct vmx_caps *c, uint64_t cr4_valid, unsigned phys_bits);
/* Is a control value allowed by a capability MSR (low: must-be-1 bits,
 * high: may-be-1 bits; SDM A.3)? */
static inline bool vmx_ctl_ok(uint64_t cap, uint32_t val)
{
	uint32_t must1 = (uint32_t)cap, may1 = (uint32_t)(cap >> 32);
	return (val & must1) == must1 && (val & ~may1) == 0;
}

/* IA32_VMX_BASIC (SDM A.1). */
#define VMX_BASIC_TRUE_CTLS (1ull << 55)
#define VMX_BASIC_INOUT (1ull << 54)
/* IA32_VMX_MISC (SDM A.6). */
#define VMX_MISC_PREEMPTION_RATE 5u /* timer counts down every 2^5 TSC cycles */
#define VMX_MISC_SAVE_LMA (1ull << 5)
#define VMX_MISC_ACT_HLT (1ull << 6)
#define VMX_MISC_VMWRITE_ANY (1ull << 29)
#define VMX_MISC_ZERO_LEN_INJECT (1ull << 30)
/* IA32_VMX_EPT_VPID_CAP (SDM A.10). */
#define EPT_CAP_EXEC_ONLY (1ull << 0)
#define EPT_CAP_PWL4 (1ull << 6)
#define EPT_CAP_UC (1ull << 8)
#define EPT_CAP_WB (1ull << 14)
#define EPT_CAP_2M (1ull << 16)
#define EPT_CAP_1G (1ull << 17)
#define EPT_CAP_INVEPT (1ull << 20)
#define EPT_CAP_AD (1ull << 21)
#define EPT_CAP_INVEPT_SINGLE (1ull << 25)
#define EPT_CAP_INVEPT_ALL (1ull << 26)
#define VPID_CAP_INVVPID (1ull << 32)
#define VPID_CAP_ADDR (1ull << 40)
#define VPID_CAP_SINGLE (1ull << 41)
#define VPID_CAP_ALL (1ull << 42)
#define VPID_CAP_SINGLE_GLOBALS (1ull << 43)

/* Per-vCPU nested state. */
struct nested_vcpu {
	struct vcpu *v;
	struct vmx_caps caps;

	/* VMX operation of L1 (SDM 24.7). */
	bool vmxon;
	uint64_t vmxon_ptr;
	uint32_t vmxon_epoch; /* bumped by VMXOFF: VMRESUME error 6 */
	uint64_t vmptr; /* current-VMCS pointer, VMPTR_INVALID if none */
	uint8_t *vmcs; /* the current VMCS region in L1 RAM (NULL if none) */

	/* VMCS shadowing as L0 policy (KVM's enable_shadow_vmcs). */
	bool shadow_policy;
	bool shadow_active; /* vmcs01 runs L1 with "VMCS shadowing" = 1 */
	uint8_t *shadow_vmcs; /* L0's shadow VMCS, vmcs12 layout, 4 KiB */
	uint8_t *vmread_bitmap, *vmwrite_bitmap; /* 4 KiB each (SDM 25.6.15) */
	/* Which fields the policy shadows (enum vmcs_shadow per field; KVM's
	 * set by default), and where they lie in the region, merged into runs
	 * for the sync copies. */
	uint8_t shadow_mode[VMCSF_COUNT];
	struct {
		uint16_t offset;
		uint8_t bytes;
	} shadow_runs[VMCSF_COUNT];
	unsigned shadow_run_count;

	/* L2. */
	struct vmx_exec_controls *ctls01; /* L1's controls while L2 runs */
	struct vmx_exec_controls ctls12; /* vmcs12's controls, bitmaps mapped */
	struct vmx_exec_controls ctls02; /* what the CPU runs L2 under */
	uint8_t *msr_bitmap02; /* vmcs01 | vmcs12 MSR bitmaps, 4 KiB */
	/* The bytes of vmcs01's MSR bitmap with a pass-through bit: the only
	 * ones where vmcs12's bitmap matters (KVM's nested_vmx_prepare_msr_bitmap
	 * merges just those MSRs too); everywhere else vmcs02 exits. */
	uint16_t msr_merge[64];
	unsigned msr_merge_count;
	const uint8_t *msr_merge_base; /* the vmcs01 bitmap msr_merge was built for */
	/* L1 pages the CPU reads through (bitmaps, shadow VMCS): gpa -> host.
	 * RAM never moves, so a host pointer stays inside guest RAM. */
	struct {
		uint64_t gpa;
		uint8_t *host;
	} page_cache[8];
	uint64_t l1_tsc_offset;
	uint64_t eptp; /* L1's EPTP for the running L2 (VMFUNC may switch it) */
	/* What the software CPU's L2 TLB caches translations for (SDM 29.4:
	 * mappings are tagged with the VPID; without VPID, VM entries and
	 * exits invalidate). */
	bool l2_tlb_tagged;
	uint16_t l2_tlb_vpid;
	uint64_t l2_tlb_cr3, l2_tlb_eptp;

	/* Events while L2 runs (events.c). The VMX-preemption timer expires
	 * when stats.insns reaches preempt_deadline (while L2 runs) or, while
	 * it is halted, preempt_timer fires; an MTF VM exit is due when
	 * stats.insns reaches mtf_deadline. v->timer_* carries the earlier. */
	bool preempt_armed, mtf_armed;
	bool timers_relative; /* deadlines count from L2's first boundary (events.c) */
	uint64_t preempt_deadline, mtf_deadline;
	bool l2_halted; /* L2 is in HLT and L0 holds the vCPU (since halt_since) */
	uint64_t halt_since; /* vcpu_now() when it halted */
	uint64_t halt_parent; /* the exit after which it halted: parent of what wakes it */
	/* The L1 exit (VMLAUNCH/VMRESUME) that entered L2 and the nested-entry
	 * event: what an event L0 finds right at that entry names as parent. */
	uint64_t entry_exit_seq, entry_seq;
	struct vm_timer preempt_timer;

	/* Statistics. */
	uint64_t events_exited; /* interrupts, NMIs, INITs for the vCPU made VM exits to L1 */
	uint64_t events_injected; /* ... and delivered into L2 by L0 */
	uint64_t reflected; /* L2 exits reflected into L1 */
	uint64_t entries; /* successful VM entries into L2 */
	uint64_t entry_failures; /* VMfailValid(7/8) and failed-entry exits */
	const char *last_failed_check; /* name of the last VM-entry check that failed */
};

static inline struct nested_vcpu *nested_of(const struct vcpu *v)
{
	return v->nested;
}

/* ---- vmcs.c: access to the current VMCS ---- */
/* The region where a field's current value lives: the shadow VMCS for
 * shadowed fields while the L0 shadow is active, else vmcs12. */
uint8_t *nested_field_store(struct nested_vcpu *n, int id);
uint64_t nested_vmcs_read(struct nested_vcpu *n, int id);
void nested_vmcs_write(struct nested_vcpu *n, int id, uint64_t val);

/* ---- shadow.c ---- */
/* Set up the policy's shadow set (KVM's) and its bitmaps. */
void nested_shadow_init_bitmaps(struct nested_vcpu *n);
/* Change whether L0's policy shadows one field (SH_NONE, SH_RO, SH_RW). */
void nested_shadow_set_field(struct nested_vcpu *n, int id, enum vmcs_shadow mode);
/* copy_vmcs12_to_shadow / copy_shadow_to_vmcs12 (KVM's names). */
void nested_shadow_from_vmcs12(struct nested_vcpu *n);
void nested_shadow_to_vmcs12(struct nested_vcpu *n);
/* The current VMCS changed (VMPTRLD, VMCLEAR, VMXOFF): switch vmcs01's
 * shadowing on or off. */
void nested_shadow_update(struct nested_vcpu *n);

/* ---- nested.c ---- */
/* Give L1 a VM exit for an exit or event of L2 (parent: the L2 exit that
 * caused it), with the trace and statistics that go with it. */
void nested_reflect(struct nested_vcpu *n, const struct vm_exit *e, uint64_t parent);

/* ---- events.c ---- */
/* A VM entry loaded L2's state: start the VMX-preemption timer and the
 * monitor trap flag (SDM 27.7.4, 26.5.2). pending_mtf: the entry injects a
 * pending MTF VM exit (27.6.2). */
void nested_events_entry(struct nested_vcpu *n, bool pending_mtf);
/* A VM exit to L1: stop them. */
void nested_events_exit(struct nested_vcpu *n);
/* What is left of the VMX-preemption timer, in TSC cycles. */
uint64_t nested_preempt_left(struct nested_vcpu *n);
/* Register the vCPU's timer for a halted L2. */
int nested_events_init(struct nested_vcpu *n);

#endif
