/*
 * The narrow interface between core/ and nested/ (DESIGN.md "Layout": nested/
 * plugs into core through narrow headers). core/ calls these and nothing else
 * of nested/; nested/ implements them on architectural vCPU state and the
 * backend interface.
 *
 * Without TORTUGA_CFG_NESTED a VM has no nested state (v->nested == NULL):
 * CPUID.1:ECX.VMX stays 0 and VMX instructions raise #UD, as before.
 */
#ifndef CORE_NESTED_HOOKS_H
#define CORE_NESTED_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;
struct vm_exit;

/* Create / free a vCPU's nested state (called when the VM enables nesting). */
int nested_vcpu_init(struct vcpu *v);
void nested_vcpu_fini(struct vcpu *v);

/*
 * L0's handler for exits of VMX instructions executed by L1 (basic reasons
 * 18-27, 50, 53, 59): emulates the instruction on the virtual VMX (Intel SDM
 * Vol. 3C 31.3 pseudocode, from the check after "VM exit"). VMLAUNCH and
 * VMRESUME enter L2. Returns 0 or a negative errno.
 */
int nested_handle_vmx_insn(struct vcpu *v, struct vm_exit *e);

/*
 * Every exit of L2 is first an exit to L0 (traced with sequence number seq).
 * Returns 1 if nested/ reflected it into L1 as a synthesized VM exit (L1 now
 * runs at its host RIP), 0 if L0's own handler must handle it on L2's
 * behalf, or a negative errno.
 */
int nested_l2_exit(struct vcpu *v, struct vm_exit *e, uint64_t seq);

/*
 * Events while L2 runs. Every interrupt, NMI and INIT for the vCPU is first
 * L0's (vmcs02 exits on them); nested_check_events() turns it, as vmcs12's
 * controls say, into a VM exit to L1 or an event L0 injects into L2 (SDM
 * Vol. 3C 26.2, 26.4.1, 28.2.2), and sets vmcs02's interrupt-window and
 * NMI-window exiting and TPR threshold for what L0 holds. core/intr.c calls
 * it at level 2 at the end of every exit and before the vCPU runs.
 */
void nested_check_events(struct vcpu *v);
/* L2 halted (HLT without HLT exiting: L0 holds the vCPU): do what wakes it
 * (a VM exit to L1, an event injected into L2); true if the vCPU can run. */
bool nested_l2_wake(struct vcpu *v);
/* INIT is blocked in VMX root operation (SDM 24.8) and is a VM exit in VMX
 * non-root operation (26.2): either way core does not reset the vCPU. */
bool nested_init_blocked(const struct vcpu *v);
/* The backend delivered an event through L2's IDT: with the monitor trap
 * flag an MTF VM exit is pending before the next instruction (SDM 26.5.2). */
void nested_event_delivered(struct vcpu *v);

/* RDMSR of the VMX capability MSRs (IA32_VMX_BASIC .. IA32_VMX_VMFUNC,
 * SDM Appendix A). Returns ARCH_OK or ARCH_FAULT(X86_GP). */
int nested_read_vmx_msr(const struct vcpu *v, uint32_t msr, uint64_t *val);

/* MOV to CR0/CR4 while L1 is in VMX operation must keep the bits that
 * IA32_VMX_CR0/CR4_FIXED0/1 fix (SDM 24.8); false means #GP. */
bool nested_cr_valid(const struct vcpu *v, unsigned cr, uint64_t val);

/*
 * VMREAD/VMWRITE in VMX non-root operation that the VMCS-shadowing bitmaps
 * let complete without an exit (SDM 31.3): read or write the field with
 * encoding enc of the shadow VMCS (a region in the vmcs12 layout; NULL if the
 * VMCS link pointer is invalid). Returns VMX_SHADOW_OK, VMX_SHADOW_FAIL_INVALID,
 * or a VM-instruction error number for VMfailValid (already recorded).
 */
#define VMX_SHADOW_OK 0
#define VMX_SHADOW_FAIL_INVALID (-1)
int nested_shadow_vmcs_access(struct vcpu *v, uint8_t *shadow_vmcs, uint64_t enc, uint64_t *val, bool write);

/*
 * EPT for L2 (SDM 29.3), used by the software CPU's page walk while L2 runs
 * with "enable EPT": translate the L2-physical address gpa for an access of
 * kind acc (NESTED_EPT_R, _W or _X). On success returns true with the
 * L1-physical address and the R/W/X permissions of the translation. On an
 * EPT violation or misconfiguration returns false and fills *e with the VM
 * exit (reason, qualification, guest-physical and -linear addresses,
 * VMEXIT_F_L1_EPT). has_la/la: the linear address being translated, if any;
 * final: the access is to la's translation, not to a paging-structure entry.
 */
#define NESTED_EPT_R 1u
#define NESTED_EPT_W 2u
#define NESTED_EPT_X 4u
bool nested_ept_translate(struct vcpu *v, uint64_t gpa, unsigned acc, bool has_la, uint64_t la, bool final,
			  uint64_t *l1pa, unsigned *perms, struct vm_exit *e);

#endif
