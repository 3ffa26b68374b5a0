/*
 * The VMX capability MSRs tortuga reports to L1 (Intel SDM Vol. 3D Appendix A
 * "VMX Capability Reporting Facility"). They say exactly what nested/
 * implements: a control is allowed-1 only when L0 honours it for L2, and
 * VM entry checks L1's controls against these same values (27.2.1).
 */
#include "core/nested_hooks.h"
#include "core/arch.h"
#include "core/x86.h"
#include "nested.h"

/*
 * Default1 classes (A.2): bits that must be 1 in the non-TRUE MSRs. The TRUE
 * MSRs (IA32_VMX_BASIC[55] = 1) let these be 0: CR3-load/store exiting, "save
 * debug controls" and "load debug controls" (as KVM reports them).
 */
#define PIN_DEFAULT1 0x00000016u /* bits 1, 2, 4 */
#define PROC_DEFAULT1 0x0401e172u /* bits 1, 4-6, 8, 13-16, 26 */
#define EXIT_DEFAULT1 0x00036dffu /* bits 0-8, 10, 11, 13, 14, 16, 17 */
#define ENTRY_DEFAULT1 0x000011ffu /* bits 0-8, 12 */

/* The controls nested/ implements for L2, by class. */
static const uint32_t pin_allowed = PIN_DEFAULT1 | VMX_PIN_EXT_INTR_EXITING | VMX_PIN_NMI_EXITING |
				    VMX_PIN_VIRTUAL_NMIS | VMX_PIN_PREEMPTION_TIMER;

static const uint32_t proc_allowed =
	PROC_DEFAULT1 | VMX_PROC_INTR_WINDOW_EXITING | VMX_PROC_NMI_WINDOW_EXITING | VMX_PROC_USE_TPR_SHADOW |
	VMX_PROC_MONITOR_TRAP_FLAG | VMX_PROC_USE_TSC_OFFSETTING | VMX_PROC_HLT_EXITING | VMX_PROC_INVLPG_EXITING |
	VMX_PROC_MWAIT_EXITING | VMX_PROC_RDPMC_EXITING | VMX_PROC_RDTSC_EXITING |
	VMX_PROC_CR3_LOAD_EXITING | VMX_PROC_CR3_STORE_EXITING | VMX_PROC_CR8_LOAD_EXITING |
	VMX_PROC_CR8_STORE_EXITING | VMX_PROC_MOV_DR_EXITING | VMX_PROC_UNCOND_IO_EXITING |
	VMX_PROC_USE_IO_BITMAPS | VMX_PROC_USE_MSR_BITMAPS | VMX_PROC_MONITOR_EXITING |
	VMX_PROC_PAUSE_EXITING | VMX_PROC_SECONDARY_CONTROLS;

static const uint32_t proc2_allowed = VMX_PROC2_ENABLE_EPT | VMX_PROC2_DESC_TABLE_EXITING |
				      VMX_PROC2_ENABLE_RDTSCP | VMX_PROC2_ENABLE_VPID | VMX_PROC2_WBINVD_EXITING |
				      VMX_PROC2_UNRESTRICTED_GUEST | VMX_PROC2_PAUSE_LOOP_EXITING |
				      VMX_PROC2_ENABLE_VMFUNC | VMX_PROC2_VMCS_SHADOWING;

static const uint32_t exit_allowed = EXIT_DEFAULT1 | VMX_EXIT_HOST_ADDR_SPACE_SIZE |
				     VMX_EXIT_ACK_INTR_ON_EXIT | VMX_EXIT_SAVE_PAT | VMX_EXIT_LOAD_PAT |
				     VMX_EXIT_SAVE_EFER | VMX_EXIT_LOAD_EFER | VMX_EXIT_SAVE_PREEMPTION_TIMER;

static const uint32_t entry_allowed = ENTRY_DEFAULT1 | VMX_ENTRY_IA32E_MODE_GUEST | VMX_ENTRY_LOAD_PAT |
				      VMX_ENTRY_LOAD_EFER;

static uint64_t ctl_msr(uint32_t must1, uint32_t may1)
{
	return (uint64_t)must1 | ((uint64_t)may1 << 32);
}

void vmx_caps_init(struct vmx_caps *c, uint64_t cr4_valid, unsigned phys_bits)
{
	(void)phys_bits; /* Intel 64: IA32_VMX_BASIC[48] = 0, addresses use MAXPHYADDR */
	memset(c, 0, sizeof(*c));
	/* A.1: revision, region size 4096 (bits 44:32), write-back VMCS memory
	 * type (bits 53:50 = 6), INS/OUTS instruction information (bit 54), TRUE
	 * controls (bit 55). */
	c->basic = VMCS12_REVISION | ((uint64_t)VMCS12_SIZE << 32) | (6ull << 50) | VMX_BASIC_INOUT |
		   VMX_BASIC_TRUE_CTLS;
	c->pin = ctl_msr(PIN_DEFAULT1, pin_allowed);
	c->true_pin = c->pin;
	c->proc = ctl_msr(PROC_DEFAULT1, proc_allowed);
	c->true_proc = ctl_msr(PROC_DEFAULT1 & ~(VMX_PROC_CR3_LOAD_EXITING | VMX_PROC_CR3_STORE_EXITING),
			       proc_allowed);
	c->exit = ctl_msr(EXIT_DEFAULT1, exit_allowed);
	c->true_exit = ctl_msr(EXIT_DEFAULT1 & ~VMX_EXIT_SAVE_DEBUG_CONTROLS, exit_allowed);
	c->entry = ctl_msr(ENTRY_DEFAULT1, entry_allowed);
	c->true_entry = ctl_msr(ENTRY_DEFAULT1 & ~VMX_ENTRY_LOAD_DEBUG_CONTROLS, entry_allowed);
	c->proc2 = ctl_msr(0, proc2_allowed);
	/* A.6: EFER.LMA is stored into "IA-32e mode guest" on exits (bit 5),
	 * the HLT activity state (bit 6), 4 CR3-target values (bits 24:16),
	 * MSR lists of up to 512 entries (bits 27:25 = 0), VMWRITE to any field
	 * (bit 29) and zero-length software event injection (bit 30), as KVM. */
	c->misc = VMX_MISC_SAVE_LMA | VMX_MISC_ACT_HLT | (4ull << 16) | VMX_MISC_VMWRITE_ANY |
		  VMX_MISC_ZERO_LEN_INJECT;
	/* A.7, A.8: PE, NE and PG fixed to 1 (unrestricted guest relaxes PE/PG
	 * for guests only), CR4.VMXE fixed to 1; everything the model has may
	 * be 1. */
	c->cr0_fixed0 = CR0_PE | CR0_NE | CR0_PG;
	c->cr0_fixed1 = 0xffffffffull;
	c->cr4_fixed0 = CR4_VMXE;
	c->cr4_fixed1 = cr4_valid | CR4_VMXE;
	/* A.9: bits 9:1 hold the highest field index. */
	c->vmcs_enum = (uint64_t)vmcs_max_index() << 1;
	/* A.10: 4-level EPT with execute-only entries, UC and WB paging-structure
	 * memory types, 2-MByte and 1-GByte pages, A/D flags, INVEPT
	 * single- and all-context; INVVPID of all four types (nested/ept.c). */
	c->ept_vpid = EPT_CAP_EXEC_ONLY | EPT_CAP_PWL4 | EPT_CAP_UC | EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_1G |
		      EPT_CAP_INVEPT | EPT_CAP_AD | EPT_CAP_INVEPT_SINGLE | EPT_CAP_INVEPT_ALL | VPID_CAP_INVVPID |
		      VPID_CAP_ADDR | VPID_CAP_SINGLE | VPID_CAP_ALL | VPID_CAP_SINGLE_GLOBALS;
	/* A.11: VM function 0, EPTP switching. */
	c->vmfunc = 1;
}

int nested_read_vmx_msr(const struct vcpu *v, uint32_t msr, uint64_t *val)
{
	const struct vmx_caps *c = &nested_of(v)->caps;
	switch (msr) {
	case MSR_IA32_VMX_BASIC:
		*val = c->basic;
		break;
	case MSR_IA32_VMX_PINBASED_CTLS:
		*val = c->pin;
		break;
	case MSR_IA32_VMX_PROCBASED_CTLS:
		*val = c->proc;
		break;
	case MSR_IA32_VMX_EXIT_CTLS:
		*val = c->exit;
		break;
	case MSR_IA32_VMX_ENTRY_CTLS:
		*val = c->entry;
		break;
	case MSR_IA32_VMX_MISC:
		*val = c->misc;
		break;
	case MSR_IA32_VMX_CR0_FIXED0:
		*val = c->cr0_fixed0;
		break;
	case MSR_IA32_VMX_CR0_FIXED1:
		*val = c->cr0_fixed1;
		break;
	case MSR_IA32_VMX_CR4_FIXED0:
		*val = c->cr4_fixed0;
		break;
	case MSR_IA32_VMX_CR4_FIXED1:
		*val = c->cr4_fixed1;
		break;
	case MSR_IA32_VMX_VMCS_ENUM:
		*val = c->vmcs_enum;
		break;
	case MSR_IA32_VMX_PROCBASED_CTLS2:
		*val = c->proc2;
		break;
	case MSR_IA32_VMX_EPT_VPID_CAP:
		/* A.10: exists if EPT or VPID may be enabled. */
		if (!((c->proc2 >> 32) & (VMX_PROC2_ENABLE_EPT | VMX_PROC2_ENABLE_VPID)))
			return ARCH_FAULT(X86_GP);
		*val = c->ept_vpid;
		break;
	case MSR_IA32_VMX_TRUE_PINBASED_CTLS:
		*val = c->true_pin;
		break;
	case MSR_IA32_VMX_TRUE_PROCBASED_CTLS:
		*val = c->true_proc;
		break;
	case MSR_IA32_VMX_TRUE_EXIT_CTLS:
		*val = c->true_exit;
		break;
	case MSR_IA32_VMX_TRUE_ENTRY_CTLS:
		*val = c->true_entry;
		break;
	case MSR_IA32_VMX_VMFUNC:
		/* A.11: exists if "enable VM functions" may be 1. */
		if (!((c->proc2 >> 32) & VMX_PROC2_ENABLE_VMFUNC))
			return ARCH_FAULT(X86_GP);
		*val = c->vmfunc;
		break;
	default:
		return ARCH_FAULT(X86_GP);
	}
	return ARCH_OK;
}

/* SDM 24.8: in VMX operation, bits set in FIXED0 must be 1 and bits clear in
 * FIXED1 must be 0. */
bool nested_cr_valid(const struct vcpu *v, unsigned cr, uint64_t val)
{
	const struct nested_vcpu *n = nested_of(v);
	if (!n->vmxon || v->level != 1)
		return true;
	uint64_t f0 = cr == 0 ? n->caps.cr0_fixed0 : n->caps.cr4_fixed0;
	uint64_t f1 = cr == 0 ? n->caps.cr0_fixed1 : n->caps.cr4_fixed1;
	return (val & f0) == f0 && (val & ~f1) == 0;
}
