/*
 * Every VM-entry check of nested/entry_checks.def, each with a vmcs12 that
 * breaks exactly that check (Intel SDM Vol. 3C 27.2, 27.3): starting from a
 * valid 64-bit guest and host (what an OS hypervisor like l1hv sets up), one
 * mutation per check must make the checker name that check, and the
 * unmutated VMCS must pass all three groups. A table row per check: the test
 * fails if a check in the table has no mutation here.
 */
#include <stdlib.h>

#include "core/x86.h"
#include "nested/checks.h"
#include "support/vmcs_flat64.h"

#include "check.h"

static uint8_t vmcs[VMCS12_SIZE];
static struct vmx_caps caps;

/* A fake L1 physical memory for the link-pointer and PDPTE checks. */
#define LINK_GPA 0x5000ull
#define PDPT_GPA 0x6000ull
#define VAPIC_GPA 0x7000ull
static uint32_t link_rev;
static uint64_t pdpt[4];
static uint8_t vtpr; /* VTPR: byte 80H of the virtual-APIC page at VAPIC_GPA */

static bool read_phys(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	(void)opaque;
	if (gpa == LINK_GPA && len == 4) {
		memcpy(buf, &link_rev, 4);
		return true;
	}
	if (gpa == VAPIC_GPA + 0x80 && len == 1) {
		*(uint8_t *)buf = vtpr;
		return true;
	}
	if (gpa == PDPT_GPA && len == 32) {
		memcpy(buf, pdpt, 32);
		return true;
	}
	return false;
}

static struct entry_ctx ctx(void)
{
	return (struct entry_ctx){
		.vmcs = vmcs,
		.caps = &caps,
		.phys_bits = 40,
		.virt_bits = 48,
		.efer_valid = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE,
		.cpu_lma = true,
		.vmptr = 0x4000,
		.read_phys = read_phys,
	};
}

#define SET(name, v) V12_SET(vmcs, name, v)
#define GET(name) V12(vmcs, name)

/* A valid VMCS: controls at their must-be-1 settings plus what a 64-bit
 * guest needs, flat 64-bit host and guest. */
static void baseline(void)
{
	memset(vmcs, 0, sizeof(vmcs));
	SET(PIN_BASED_VM_EXEC_CONTROL, (uint32_t)caps.true_pin);
	SET(CPU_BASED_VM_EXEC_CONTROL, (uint32_t)caps.true_proc | VMX_PROC_SECONDARY_CONTROLS);
	SET(SECONDARY_VM_EXEC_CONTROL, 0);
	SET(VM_EXIT_CONTROLS, (uint32_t)caps.true_exit | VMX_EXIT_HOST_ADDR_SPACE_SIZE);
	SET(VM_ENTRY_CONTROLS, (uint32_t)caps.true_entry | VMX_ENTRY_IA32E_MODE_GUEST);
	vmcs_flat64_state(vmcs, CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG, 0x10000, CR4_PAE | CR4_VMXE,
			  0x20, 0x100000, 0x100000);
	SET(GUEST_GDTR_LIMIT, 0x2f);
	link_rev = VMCS12_REVISION;
	memset(pdpt, 0, sizeof(pdpt));
	vtpr = 0;
}

/* "Use TPR shadow" with a valid virtual-APIC page whose VTPR is 20H and a
 * TPR threshold of 2 (SDM 27.2.1.1: the threshold may equal VTPR[7:4]). */
static void tpr_shadow(void)
{
	SET(CPU_BASED_VM_EXEC_CONTROL, GET(CPU_BASED_VM_EXEC_CONTROL) | VMX_PROC_USE_TPR_SHADOW);
	SET(VIRTUAL_APIC_PAGE_ADDR, VAPIC_GPA);
	SET(TPR_THRESHOLD, 2);
	vtpr = 0x20;
}

static void allow_proc2(uint32_t bits)
{
	SET(SECONDARY_VM_EXEC_CONTROL, GET(SECONDARY_VM_EXEC_CONTROL) | bits);
}

/* A 32-bit PAE guest with PDPTEs at PDPT_GPA (for the PDPTE check). */
static void guest_pae32(void)
{
	SET(VM_ENTRY_CONTROLS, GET(VM_ENTRY_CONTROLS) & ~(uint64_t)VMX_ENTRY_IA32E_MODE_GUEST);
	SET(GUEST_CS_AR_BYTES, 0xc09b);
	SET(GUEST_CR3, PDPT_GPA);
}

/* Inject an event through the VM-entry interruption-information field. */
static void inject(uint32_t type, uint32_t vec, bool err)
{
	SET(VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID | (type << 8) | vec | (err ? INTR_INFO_HAS_ERROR : 0));
}

struct mutation {
	enum entry_check check;
	void (*apply)(void);
};

#define M(id, body)                                                                           \
	static void mut_##id(void)                                                            \
	{                                                                                     \
		body;                                                                         \
	}
/* 27.2.1.1 */
M(PIN_CTLS, SET(PIN_BASED_VM_EXEC_CONTROL, 0))
M(PROC_CTLS, SET(CPU_BASED_VM_EXEC_CONTROL, GET(CPU_BASED_VM_EXEC_CONTROL) | VMX_PROC_TERTIARY_CONTROLS))
M(PROC2_CTLS, allow_proc2(VMX_PROC2_VIRT_APIC_ACCESSES))
M(CR3_TARGET_COUNT, SET(CR3_TARGET_COUNT, 5))
M(IO_BITMAP_ADDR, {
	SET(CPU_BASED_VM_EXEC_CONTROL, GET(CPU_BASED_VM_EXEC_CONTROL) | VMX_PROC_USE_IO_BITMAPS);
	SET(IO_BITMAP_A, 0x7000);
	SET(IO_BITMAP_B, 0x8008);
})
M(MSR_BITMAP_ADDR, {
	SET(CPU_BASED_VM_EXEC_CONTROL, GET(CPU_BASED_VM_EXEC_CONTROL) | VMX_PROC_USE_MSR_BITMAPS);
	SET(MSR_BITMAP, 1ull << 40);
})
M(VIRTUAL_APIC_ADDR, {
	tpr_shadow();
	SET(VIRTUAL_APIC_PAGE_ADDR, VAPIC_GPA | 0x80);
})
M(TPR_THRESHOLD, {
	tpr_shadow();
	SET(TPR_THRESHOLD, 0x12);
})
M(TPR_THRESHOLD_VTPR, {
	tpr_shadow();
	vtpr = 0x1f; /* VTPR[7:4] = 1 < threshold 2; bits 3:0 do not count */
})
M(VIRTUAL_NMIS, SET(PIN_BASED_VM_EXEC_CONTROL, GET(PIN_BASED_VM_EXEC_CONTROL) | VMX_PIN_VIRTUAL_NMIS))
M(NMI_WINDOW_VNMI, {
	SET(PIN_BASED_VM_EXEC_CONTROL, GET(PIN_BASED_VM_EXEC_CONTROL) | VMX_PIN_NMI_EXITING);
	SET(CPU_BASED_VM_EXEC_CONTROL, GET(CPU_BASED_VM_EXEC_CONTROL) | VMX_PROC_NMI_WINDOW_EXITING);
})
M(VPID_NONZERO, allow_proc2(VMX_PROC2_ENABLE_VPID))
M(EPTP_VALID, {
	allow_proc2(VMX_PROC2_ENABLE_EPT);
	SET(EPT_POINTER, 0x9000 | 6 | (2 << 3)); /* page-walk length 3 */
})
M(UNRESTRICTED_EPT, allow_proc2(VMX_PROC2_UNRESTRICTED_GUEST))
M(VMFUNC_CTLS, {
	allow_proc2(VMX_PROC2_ENABLE_VMFUNC);
	SET(VM_FUNCTION_CONTROL, 2);
})
M(EPTP_LIST_ADDR, {
	allow_proc2(VMX_PROC2_ENABLE_VMFUNC | VMX_PROC2_ENABLE_EPT);
	SET(EPT_POINTER, 0x9000 | 6 | (3 << 3));
	SET(VM_FUNCTION_CONTROL, 1);
	SET(EPTP_LIST_ADDRESS, 0x9004);
})
M(VMCS_SHADOW_BITMAPS, {
	allow_proc2(VMX_PROC2_VMCS_SHADOWING);
	SET(VMREAD_BITMAP, 0xa000);
	SET(VMWRITE_BITMAP, 0xb800);
})
/* 27.2.1.2 */
M(EXIT_CTLS, SET(VM_EXIT_CONTROLS, GET(VM_EXIT_CONTROLS) | VMX_EXIT_LOAD_PERF_GLOBAL_CTRL))
M(EXIT_PREEMPTION_SAVE, SET(VM_EXIT_CONTROLS, GET(VM_EXIT_CONTROLS) | VMX_EXIT_SAVE_PREEMPTION_TIMER))
M(EXIT_MSR_STORE_ADDR, {
	SET(VM_EXIT_MSR_STORE_COUNT, 1);
	SET(VM_EXIT_MSR_STORE_ADDR, 0x7008);
})
M(EXIT_MSR_LOAD_ADDR, {
	SET(VM_EXIT_MSR_LOAD_COUNT, 2);
	SET(VM_EXIT_MSR_LOAD_ADDR, (1ull << 40) - 16); /* the second entry crosses MAXPHYADDR */
})
/* 27.2.1.3 */
M(ENTRY_CTLS, SET(VM_ENTRY_CONTROLS, GET(VM_ENTRY_CONTROLS) | VMX_ENTRY_ENTRY_TO_SMM))
M(ENTRY_INTR_TYPE, inject(1, 0, false))
M(ENTRY_INTR_VECTOR, inject(2, 3, false))
M(ENTRY_INTR_HAS_ERROR, inject(3, X86_GP, false))
M(ENTRY_INTR_RESERVED, SET(VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID | (3u << 8) | X86_UD | (1u << 12)))
M(ENTRY_INTR_ERROR, {
	inject(3, X86_GP, true);
	SET(VM_ENTRY_EXCEPTION_ERROR_CODE, 0x10000);
})
M(ENTRY_INTR_INSN_LEN, {
	inject(4, 0x80, false);
	SET(VM_ENTRY_INSTRUCTION_LEN, 16);
})
M(ENTRY_MSR_LOAD_ADDR, {
	SET(VM_ENTRY_MSR_LOAD_COUNT, 1);
	SET(VM_ENTRY_MSR_LOAD_ADDR, 0x7004);
})
/* 27.2.2 */
M(HOST_CR0, SET(HOST_CR0, GET(HOST_CR0) & ~CR0_NE))
M(HOST_CR4, SET(HOST_CR4, GET(HOST_CR4) & ~CR4_VMXE))
M(HOST_CR3, SET(HOST_CR3, 1ull << 45))
M(HOST_SYSENTER, SET(HOST_IA32_SYSENTER_EIP, 0x0000800000000000ull))
M(HOST_PAT, {
	SET(VM_EXIT_CONTROLS, GET(VM_EXIT_CONTROLS) | VMX_EXIT_LOAD_PAT);
	SET(HOST_IA32_PAT, 0x0007040600070402ull); /* type 2 is reserved */
})
M(HOST_EFER, {
	SET(VM_EXIT_CONTROLS, GET(VM_EXIT_CONTROLS) | VMX_EXIT_LOAD_EFER);
	SET(HOST_IA32_EFER, EFER_LMA); /* LME != host address-space size */
})
/* 27.2.3 */
M(HOST_SEL_RPL_TI, SET(HOST_DS_SELECTOR, 0x13))
M(HOST_CS_TR_NULL, SET(HOST_TR_SELECTOR, 0))
M(HOST_SS_NULL, {
	SET(VM_EXIT_CONTROLS, GET(VM_EXIT_CONTROLS) & ~(uint64_t)VMX_EXIT_HOST_ADDR_SPACE_SIZE);
	SET(VM_ENTRY_CONTROLS, GET(VM_ENTRY_CONTROLS) & ~(uint64_t)VMX_ENTRY_IA32E_MODE_GUEST);
	SET(HOST_SS_SELECTOR, 0);
})
M(HOST_BASES, SET(HOST_GS_BASE, 0x0000900000000000ull))
/* 27.2.4 (the processor is in IA-32e mode in ctx()) */
M(HOST_ADDR_SPACE, SET(VM_EXIT_CONTROLS, GET(VM_EXIT_CONTROLS) & ~(uint64_t)VMX_EXIT_HOST_ADDR_SPACE_SIZE))
M(HOST_RIP, SET(HOST_RIP, 0x0000800000000000ull))
M(HOST_CR4_MODE, SET(HOST_CR4, GET(HOST_CR4) & ~CR4_PAE))
/* 27.3.1.1 */
M(GUEST_CR0, SET(GUEST_CR0, GET(GUEST_CR0) & ~CR0_NE))
M(GUEST_CR0_PG_PE, {
	/* Unrestricted guest lets PE be 0 but PG still needs it. */
	allow_proc2(VMX_PROC2_UNRESTRICTED_GUEST | VMX_PROC2_ENABLE_EPT);
	SET(EPT_POINTER, 0x9000 | 6 | (3 << 3));
	SET(GUEST_CR0, GET(GUEST_CR0) & ~CR0_PE);
})
M(GUEST_CR4, SET(GUEST_CR4, GET(GUEST_CR4) | CR4_PKE))
M(GUEST_IA32E_PAGING, SET(GUEST_CR4, GET(GUEST_CR4) & ~CR4_PAE))
M(GUEST_PCIDE, {
	guest_pae32();
	SET(GUEST_CR4, GET(GUEST_CR4) | CR4_PCIDE);
})
M(GUEST_CR3, SET(GUEST_CR3, 1ull << 41))
M(GUEST_DEBUGCTL, {
	SET(VM_ENTRY_CONTROLS, GET(VM_ENTRY_CONTROLS) | VMX_ENTRY_LOAD_DEBUG_CONTROLS);
	SET(GUEST_IA32_DEBUGCTL, 1ull << 5);
})
M(GUEST_DR7, {
	SET(VM_ENTRY_CONTROLS, GET(VM_ENTRY_CONTROLS) | VMX_ENTRY_LOAD_DEBUG_CONTROLS);
	SET(GUEST_DR7, 1ull << 32);
})
M(GUEST_SYSENTER, SET(GUEST_SYSENTER_ESP, 0x8000000000000000ull))
M(GUEST_PAT, {
	SET(VM_ENTRY_CONTROLS, GET(VM_ENTRY_CONTROLS) | VMX_ENTRY_LOAD_PAT);
	SET(GUEST_IA32_PAT, 0x3ull);
})
M(GUEST_EFER, {
	SET(VM_ENTRY_CONTROLS, GET(VM_ENTRY_CONTROLS) | VMX_ENTRY_LOAD_EFER);
	SET(GUEST_IA32_EFER, EFER_LME); /* LMA != IA-32e mode guest */
})
/* 27.3.1.2 */
M(GUEST_TR_TI, SET(GUEST_TR_SELECTOR, 0x24))
M(GUEST_LDTR_TI, {
	SET(GUEST_LDTR_SELECTOR, 0x2c);
	SET(GUEST_LDTR_AR_BYTES, 0x82);
})
M(GUEST_SS_RPL, SET(GUEST_SS_SELECTOR, 0x13))
M(GUEST_V86_SEG, {
	guest_pae32();
	SET(GUEST_RFLAGS, GET(GUEST_RFLAGS) | RFLAGS_VM);
})
M(GUEST_SEG_BASE, SET(GUEST_FS_BASE, 0x0001000000000000ull))
M(GUEST_CS_TYPE, SET(GUEST_CS_AR_BYTES, 0xa093))
M(GUEST_CS_DPL, SET(GUEST_CS_AR_BYTES, 0xa09b | (3u << SEG_AR_DPL_SHIFT)))
M(GUEST_CS_DB_L, SET(GUEST_CS_AR_BYTES, 0xe09b))
M(GUEST_SS_TYPE, SET(GUEST_SS_AR_BYTES, 0xc091))
M(GUEST_SS_DPL, {
	/* DPL 1 for both CS and SS (consistent), but SS.RPL is 0. */
	SET(GUEST_SS_AR_BYTES, 0xc093 | (1u << SEG_AR_DPL_SHIFT));
	SET(GUEST_CS_AR_BYTES, 0xa09b | (1u << SEG_AR_DPL_SHIFT));
})
M(GUEST_DATA_TYPE, SET(GUEST_DS_AR_BYTES, 0xc092))
M(GUEST_DATA_DPL, {
	SET(GUEST_DS_SELECTOR, 0x13);
	SET(GUEST_DS_AR_BYTES, 0xc093);
})
M(GUEST_SEG_S, SET(GUEST_ES_AR_BYTES, 0xc083))
M(GUEST_SEG_P, SET(GUEST_GS_AR_BYTES, 0xc013))
M(GUEST_SEG_RESERVED, SET(GUEST_FS_AR_BYTES, 0xc093 | (1u << 8)))
M(GUEST_SEG_G, SET(GUEST_SS_LIMIT, 0xfffff000)) /* G = 1 needs limit[11:0] all ones */
M(GUEST_TR_TYPE, SET(GUEST_TR_AR_BYTES, 0x89)) /* available, not busy */
M(GUEST_LDTR_TYPE, {
	SET(GUEST_LDTR_SELECTOR, 0x28);
	SET(GUEST_LDTR_AR_BYTES, 0x89);
})
/* 27.3.1.3 */
M(GUEST_DTR, SET(GUEST_IDTR_LIMIT, 0x10000))
/* 27.3.1.4 */
M(GUEST_RIP, SET(GUEST_RIP, 0x0000800000000000ull))
M(GUEST_RFLAGS, SET(GUEST_RFLAGS, 0))
M(GUEST_RFLAGS_VM, {
	/* Segments fit virtual-8086 mode, but an IA-32e mode guest cannot be in it. */
	SET(GUEST_RFLAGS, RFLAGS_FIXED1 | RFLAGS_VM);
	for (int i = 0; i < 6; i++) {
		vmcs12_store(vmcs, vmcs_fields[VMCSF_GUEST_ES_SELECTOR + i].offset, 2, 0x100);
		vmcs12_store(vmcs, vmcs_fields[VMCSF_GUEST_ES_BASE + i].offset, 8, 0x1000);
		vmcs12_store(vmcs, vmcs_fields[VMCSF_GUEST_ES_LIMIT + i].offset, 4, 0xffff);
		vmcs12_store(vmcs, vmcs_fields[VMCSF_GUEST_ES_AR_BYTES + i].offset, 4, 0xf3);
	}
})
M(GUEST_RFLAGS_IF, inject(0, 0x30, false))
/* 27.3.1.5 */
M(GUEST_ACTIVITY, SET(GUEST_ACTIVITY_STATE, ACT_WAIT_SIPI))
M(GUEST_ACTIVITY_HLT, {
	SET(GUEST_ACTIVITY_STATE, ACT_HLT);
	SET(GUEST_SS_AR_BYTES, 0xc093 | (3u << SEG_AR_DPL_SHIFT));
	SET(GUEST_SS_SELECTOR, 0x13);
	SET(GUEST_CS_SELECTOR, 0x0b);
	SET(GUEST_CS_AR_BYTES, 0xa09b | (3u << SEG_AR_DPL_SHIFT));
})
M(GUEST_ACTIVITY_BLOCK, {
	SET(GUEST_ACTIVITY_STATE, ACT_HLT);
	SET(GUEST_INTERRUPTIBILITY_INFO, INTR_BLOCK_MOV_SS);
})
M(GUEST_INTR_RESERVED, SET(GUEST_INTERRUPTIBILITY_INFO, 1u << 5))
M(GUEST_INTR_STI_MOVSS, {
	SET(GUEST_RFLAGS, RFLAGS_FIXED1 | RFLAGS_IF);
	SET(GUEST_INTERRUPTIBILITY_INFO, INTR_BLOCK_STI | INTR_BLOCK_MOV_SS);
})
M(GUEST_INTR_STI_IF, SET(GUEST_INTERRUPTIBILITY_INFO, INTR_BLOCK_STI))
M(GUEST_INTR_EXT_INJECT, {
	SET(GUEST_RFLAGS, RFLAGS_FIXED1 | RFLAGS_IF);
	SET(GUEST_INTERRUPTIBILITY_INFO, INTR_BLOCK_MOV_SS);
	inject(0, 0x30, false);
})
M(GUEST_INTR_NMI_MOVSS, {
	SET(GUEST_INTERRUPTIBILITY_INFO, INTR_BLOCK_MOV_SS);
	inject(2, X86_NMI, false);
})
M(GUEST_INTR_SMI, SET(GUEST_INTERRUPTIBILITY_INFO, INTR_BLOCK_SMI))
M(GUEST_INTR_VNMI, {
	SET(PIN_BASED_VM_EXEC_CONTROL, GET(PIN_BASED_VM_EXEC_CONTROL) | VMX_PIN_NMI_EXITING | VMX_PIN_VIRTUAL_NMIS);
	SET(GUEST_INTERRUPTIBILITY_INFO, INTR_BLOCK_NMI);
	inject(2, X86_NMI, false);
})
M(GUEST_INTR_NMI_STI, {
	SET(GUEST_RFLAGS, RFLAGS_FIXED1 | RFLAGS_IF);
	SET(GUEST_INTERRUPTIBILITY_INFO, INTR_BLOCK_STI);
	inject(2, X86_NMI, false);
})
M(GUEST_PENDING_DBG, SET(GUEST_PENDING_DBG_EXCEPTIONS, 1ull << 4))
M(GUEST_PENDING_BS, {
	SET(GUEST_RFLAGS, RFLAGS_FIXED1 | RFLAGS_IF | RFLAGS_TF);
	SET(GUEST_INTERRUPTIBILITY_INFO, INTR_BLOCK_STI); /* BS must then be 1 */
})
M(GUEST_LINK_POINTER, {
	SET(VMCS_LINK_POINTER, LINK_GPA);
	link_rev = VMCS12_REVISION | VMCS12_SHADOW_INDICATOR; /* but shadowing is off */
})
/* 27.4: an MSR-load area that passes the checks; loading its entry (FS
 * base, which may not be loaded this way) fails later, at VM entry
 * (tests/py/test_nested.py). */
M(ENTRY_MSR_LOAD, {
	SET(VM_ENTRY_MSR_LOAD_COUNT, 1);
	SET(VM_ENTRY_MSR_LOAD_ADDR, 0x7000);
})
/* 27.3.1.6 */
M(GUEST_PDPTE, {
	guest_pae32();
	pdpt[2] = 0x9000 | PTE_P | (1ull << 5); /* bit 5 is reserved in a PDPTE */
})

static const struct mutation mutations[] = {
#define X(name, cls, qual, sec, text) { CHECK_##name, mut_##name },
#include "nested/entry_checks.def"
#undef X
};

/* Entry checks in SDM order: controls, host state, guest state. */
static enum entry_check run_checks(struct entry_result *r)
{
	struct entry_ctx c = ctx();
	enum entry_check k = nested_check_controls(&c, r);
	if (!k)
		k = nested_check_host(&c, r);
	if (!k)
		k = nested_check_guest(&c, r);
	return k;
}

static void baseline_passes(void)
{
	struct entry_result r;
	check_test = __func__;
	baseline();
	enum entry_check k = run_checks(&r);
	if (k)
		fprintf(stderr, "baseline fails %s: %s\n", entry_checks[k].name, r.cond);
	CHECK_EQ(k, CHECK_OK);
}

/* Features that need more state pass with it: the TPR shadow with a
 * threshold equal to VTPR[7:4] (SDM 27.2.1.1 forbids only "greater"). */
static void valid_features_pass(void)
{
	struct entry_result r;
	check_test = __func__;
	baseline();
	tpr_shadow();
	CHECK_EQ(run_checks(&r), CHECK_OK);
	baseline();
	SET(PIN_BASED_VM_EXEC_CONTROL, GET(PIN_BASED_VM_EXEC_CONTROL) | VMX_PIN_NMI_EXITING | VMX_PIN_VIRTUAL_NMIS);
	SET(CPU_BASED_VM_EXEC_CONTROL, GET(CPU_BASED_VM_EXEC_CONTROL) | VMX_PROC_NMI_WINDOW_EXITING |
					       VMX_PROC_INTR_WINDOW_EXITING | VMX_PROC_MONITOR_TRAP_FLAG);
	CHECK_EQ(run_checks(&r), CHECK_OK);
}

static void each_check_fails_alone(void)
{
	check_test = __func__;
	CHECK_EQ(sizeof(mutations) / sizeof(mutations[0]), CHECK_COUNT - 1);
	for (size_t i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
		const struct mutation *m = &mutations[i];
		struct entry_result r;
		baseline();
		m->apply();
		enum entry_check k = run_checks(&r);
		/* MSR loading fails after the checks, which this area passes. */
		enum entry_check want = m->check == CHECK_ENTRY_MSR_LOAD ? CHECK_OK : m->check;
		if (k != want) {
			check_failures++;
			fprintf(stderr, "mutation for %s: got %s (%s)\n", entry_checks[m->check].name,
				entry_checks[k].name, r.cond ? r.cond : "pass");
		}
	}
}

/* The class of a check decides how the entry fails (27.2 vs 27.3). */
static void check_classes(void)
{
	check_test = __func__;
	CHECK_EQ(entry_checks[CHECK_PIN_CTLS].cls, CLASS_CTL);
	CHECK_EQ(entry_checks[CHECK_HOST_CR0].cls, CLASS_HOST);
	CHECK_EQ(entry_checks[CHECK_GUEST_CR0].cls, CLASS_GUEST);
	/* 27.8: VMCS link pointer failures report qualification 4, PDPTE 2. */
	CHECK_EQ(entry_checks[CHECK_GUEST_LINK_POINTER].qual, 4);
	CHECK_EQ(entry_checks[CHECK_GUEST_PDPTE].qual, 2);
	CHECK_EQ(entry_checks[CHECK_GUEST_CR0].qual, 0);
}

/* Several broken fields: the first check in SDM order is reported. */
static void sdm_order(void)
{
	struct entry_result r;
	check_test = __func__;
	baseline();
	mut_GUEST_RIP();
	mut_HOST_CR3();
	mut_CR3_TARGET_COUNT();
	CHECK_EQ(run_checks(&r), CHECK_CR3_TARGET_COUNT);
	baseline();
	mut_GUEST_RIP();
	mut_HOST_CR3();
	CHECK_EQ(run_checks(&r), CHECK_HOST_CR3);
}

/* The checks a feature needs are the reserved-bit checks while L1 may not
 * use it: with EPT-related bits disallowed, the EPTP is not looked at. */
static void unallowed_feature(void)
{
	struct entry_result r;
	struct vmx_caps saved = caps;
	check_test = __func__;
	caps.proc2 &= ~((uint64_t)VMX_PROC2_ENABLE_EPT << 32);
	baseline();
	mut_EPTP_VALID();
	CHECK_EQ(run_checks(&r), CHECK_PROC2_CTLS);
	caps = saved;
}

static void setup(void)
{
	/* tortuga's capabilities for a CPU model with these CR4 bits. */
	vmx_caps_init(&caps, CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE |
				     CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_PCIDE,
		      40);
}

TEST_MAIN(setup, baseline_passes, valid_features_pass, each_check_fails_alone, check_classes, sdm_order, unallowed_feature)
