/*
 * VM-entry checks, in the order of Intel SDM Vol. 3C 27.2 (VMX controls and
 * host-state area) and 27.3.1 (guest-state area). The processor has no
 * hardware to lean on here: every check the SDM lists for features tortuga
 * exposes is done, and a check of a feature tortuga does not expose is
 * subsumed by the reserved-bit check of its control.
 */
#include "core/x86.h"
#include "checks.h"

const struct entry_check_info entry_checks[CHECK_COUNT] = {
	[CHECK_OK] = { "OK", "", "all checks pass", CLASS_CTL, 0 },
#define X(name_, cls_, qual_, sec_, text_)                                                    \
	[CHECK_##name_] = { .name = #name_, .section = sec_, .text = text_, .cls = CLASS_##cls_, \
			    .qual = qual_ },
#include "entry_checks.def"
#undef X
};

/* CC(): fail with the named check if cond holds, recording its text. */
#define CC(id, failed)                                                                        \
	do {                                                                                  \
		if (failed) {                                                                 \
			r->check = CHECK_##id;                                                \
			r->cond = #failed;                                                    \
			return CHECK_##id;                                                    \
		}                                                                             \
	} while (0)

#define PASS()                                                                                \
	do {                                                                                  \
		r->check = CHECK_OK;                                                          \
		r->cond = NULL;                                                               \
		return CHECK_OK;                                                              \
	} while (0)

#define INTR_TYPE(info) (((info) >> 8) & 7u)
enum { EV_EXT = 0, EV_NMI = 2, EV_HW = 3, EV_SW_INT = 4, EV_PRIV_SW = 5, EV_SW_EXC = 6, EV_OTHER = 7 };

static bool canonical(const struct entry_ctx *c, uint64_t a)
{
	unsigned sh = 64 - c->virt_bits;
	return (uint64_t)((int64_t)(a << sh) >> sh) == a;
}

static bool beyond_phys(const struct entry_ctx *c, uint64_t a)
{
	return c->phys_bits < 64 && (a >> c->phys_bits) != 0;
}

/* A 4-KByte page address within MAXPHYADDR. */
static bool page_addr_bad(const struct entry_ctx *c, uint64_t a)
{
	return (a & 0xfff) || beyond_phys(c, a);
}

/* An MSR area of count 16-byte entries: aligned, last byte within MAXPHYADDR
 * (27.2.1.2). */
static bool msr_area_bad(const struct entry_ctx *c, uint64_t addr, uint64_t count)
{
	return count && ((addr & 0xf) || beyond_phys(c, addr + count * 16 - 1) || addr + count * 16 - 1 < addr);
}

static bool fixed_bad(uint64_t val, uint64_t fixed0, uint64_t fixed1)
{
	return (val & fixed0) != fixed0 || (val & ~fixed1) != 0;
}

bool nested_pat_valid(uint64_t pat)
{
	for (int i = 0; i < 8; i++) {
		unsigned t = (pat >> (8 * i)) & 0xff;
		if (t != 0 && t != 1 && t != 4 && t != 5 && t != 6 && t != 7)
			return false;
	}
	return true;
}

bool nested_eptp_valid(const struct vmx_caps *caps, uint64_t eptp, unsigned phys_bits)
{
	unsigned mt = eptp & 7;
	if (!((mt == 0 && (caps->ept_vpid & EPT_CAP_UC)) || (mt == 6 && (caps->ept_vpid & EPT_CAP_WB))))
		return false;
	if (((eptp >> 3) & 7) != 3) /* page-walk length 4 */
		return false;
	if ((eptp & (1ull << 6)) && !(caps->ept_vpid & EPT_CAP_AD))
		return false;
	if (eptp & 0xf80) /* bit 7 (supervisor shadow stacks) and 11:8 */
		return false;
	return phys_bits >= 64 || (eptp >> phys_bits) == 0;
}

#define F(name) V12(c->vmcs, name)

static uint32_t proc2_of(const struct entry_ctx *c)
{
	return (F(CPU_BASED_VM_EXEC_CONTROL) & VMX_PROC_SECONDARY_CONTROLS) ?
		       (uint32_t)F(SECONDARY_VM_EXEC_CONTROL) :
		       0;
}

/* ---- 27.2.1 VMX controls ---- */

enum entry_check nested_check_controls(const struct entry_ctx *c, struct entry_result *r)
{
	const struct vmx_caps *caps = c->caps;
	uint32_t pin = (uint32_t)F(PIN_BASED_VM_EXEC_CONTROL);
	uint32_t proc = (uint32_t)F(CPU_BASED_VM_EXEC_CONTROL);
	uint32_t proc2 = proc2_of(c);
	uint32_t exit = (uint32_t)F(VM_EXIT_CONTROLS);
	uint32_t entry = (uint32_t)F(VM_ENTRY_CONTROLS);

	/* 27.2.1.1 VM-execution control fields. */
	CC(PIN_CTLS, !vmx_ctl_ok(caps->true_pin, pin));
	CC(PROC_CTLS, !vmx_ctl_ok(caps->true_proc, proc));
	if (proc & VMX_PROC_SECONDARY_CONTROLS)
		CC(PROC2_CTLS, !vmx_ctl_ok(caps->proc2, proc2));
	CC(CR3_TARGET_COUNT, F(CR3_TARGET_COUNT) > 4);
	if (proc & VMX_PROC_USE_IO_BITMAPS)
		CC(IO_BITMAP_ADDR, page_addr_bad(c, F(IO_BITMAP_A)) || page_addr_bad(c, F(IO_BITMAP_B)));
	if (proc & VMX_PROC_USE_MSR_BITMAPS)
		CC(MSR_BITMAP_ADDR, page_addr_bad(c, F(MSR_BITMAP)));
	if (proc & VMX_PROC_USE_TPR_SHADOW) {
		uint64_t vapic = F(VIRTUAL_APIC_PAGE_ADDR);
		CC(VIRTUAL_APIC_ADDR, page_addr_bad(c, vapic));
		/* Virtual-interrupt delivery and APIC-access virtualization are
		 * not offered: both checks apply. The VTPR is read from L1
		 * memory (all ones where there is no RAM). */
		CC(TPR_THRESHOLD, F(TPR_THRESHOLD) & ~0xfull);
		uint8_t vtpr = 0xff;
		if (c->read_phys && !c->read_phys(c->opaque, vapic + 0x80, &vtpr, 1))
			vtpr = 0xff;
		CC(TPR_THRESHOLD_VTPR, (F(TPR_THRESHOLD) & 0xf) > (vtpr >> 4));
	}
	CC(VIRTUAL_NMIS, !(pin & VMX_PIN_NMI_EXITING) && (pin & VMX_PIN_VIRTUAL_NMIS));
	CC(NMI_WINDOW_VNMI, !(pin & VMX_PIN_VIRTUAL_NMIS) && (proc & VMX_PROC_NMI_WINDOW_EXITING));
	if (proc2 & VMX_PROC2_ENABLE_VPID)
		CC(VPID_NONZERO, F(VIRTUAL_PROCESSOR_ID) == 0);
	if (proc2 & VMX_PROC2_ENABLE_EPT)
		CC(EPTP_VALID, !nested_eptp_valid(caps, F(EPT_POINTER), c->phys_bits));
	CC(UNRESTRICTED_EPT, (proc2 & VMX_PROC2_UNRESTRICTED_GUEST) && !(proc2 & VMX_PROC2_ENABLE_EPT));
	if (proc2 & VMX_PROC2_ENABLE_VMFUNC) {
		uint64_t fn = F(VM_FUNCTION_CONTROL);
		CC(VMFUNC_CTLS, (fn & ~caps->vmfunc) != 0);
		if (fn & 1) /* EPTP switching */
			CC(EPTP_LIST_ADDR, !(proc2 & VMX_PROC2_ENABLE_EPT) || page_addr_bad(c, F(EPTP_LIST_ADDRESS)));
	}
	if (proc2 & VMX_PROC2_VMCS_SHADOWING)
		CC(VMCS_SHADOW_BITMAPS, page_addr_bad(c, F(VMREAD_BITMAP)) || page_addr_bad(c, F(VMWRITE_BITMAP)));

	/* 27.2.1.2 VM-exit control fields. */
	CC(EXIT_CTLS, !vmx_ctl_ok(caps->true_exit, exit));
	CC(EXIT_PREEMPTION_SAVE, !(pin & VMX_PIN_PREEMPTION_TIMER) && (exit & VMX_EXIT_SAVE_PREEMPTION_TIMER));
	CC(EXIT_MSR_STORE_ADDR, msr_area_bad(c, F(VM_EXIT_MSR_STORE_ADDR), F(VM_EXIT_MSR_STORE_COUNT)));
	CC(EXIT_MSR_LOAD_ADDR, msr_area_bad(c, F(VM_EXIT_MSR_LOAD_ADDR), F(VM_EXIT_MSR_LOAD_COUNT)));

	/* 27.2.1.3 VM-entry control fields. */
	CC(ENTRY_CTLS, !vmx_ctl_ok(caps->true_entry, entry));
	uint32_t intr = (uint32_t)F(VM_ENTRY_INTR_INFO_FIELD);
	if (intr & INTR_INFO_VALID) {
		unsigned type = INTR_TYPE(intr), vec = intr & 0xff;
		/* Type 1 is reserved; type 7 (other event: pending MTF) needs the
		 * monitor trap flag, which L1 may only use if allowed-1. */
		bool mtf = ((caps->true_proc >> 32) & VMX_PROC_MONITOR_TRAP_FLAG) != 0;
		CC(ENTRY_INTR_TYPE, type == 1 || (type == EV_OTHER && !mtf));
		CC(ENTRY_INTR_VECTOR, (type == EV_NMI && vec != X86_NMI) || (type == EV_HW && vec > 31) ||
					      (type == EV_OTHER && vec != 0));
		bool pe = (F(GUEST_CR0) & CR0_PE) != 0;
		bool ug = (proc2 & VMX_PROC2_UNRESTRICTED_GUEST) != 0;
		bool err_vec = vec == X86_DF || vec == X86_TS || vec == X86_NP || vec == X86_SS ||
			       vec == X86_GP || vec == X86_PF || vec == X86_AC;
		bool need_err = (!ug || pe) && type == EV_HW && err_vec;
		CC(ENTRY_INTR_HAS_ERROR, ((intr & INTR_INFO_HAS_ERROR) != 0) != need_err);
		CC(ENTRY_INTR_RESERVED, (intr & 0x7ffff000u) != 0);
		if (intr & INTR_INFO_HAS_ERROR)
			CC(ENTRY_INTR_ERROR, (F(VM_ENTRY_EXCEPTION_ERROR_CODE) & 0xffff0000u) != 0);
		if (type == EV_SW_INT || type == EV_PRIV_SW || type == EV_SW_EXC) {
			uint64_t len = F(VM_ENTRY_INSTRUCTION_LEN);
			CC(ENTRY_INTR_INSN_LEN, len > 15 || (len == 0 && !(caps->misc & VMX_MISC_ZERO_LEN_INJECT)));
		}
	}
	CC(ENTRY_MSR_LOAD_ADDR, msr_area_bad(c, F(VM_ENTRY_MSR_LOAD_ADDR), F(VM_ENTRY_MSR_LOAD_COUNT)));
	PASS();
}

/* ---- 27.2.2 - 27.2.4 host-state area ---- */

enum entry_check nested_check_host(const struct entry_ctx *c, struct entry_result *r)
{
	const struct vmx_caps *caps = c->caps;
	uint32_t exit = (uint32_t)F(VM_EXIT_CONTROLS);
	uint32_t entry = (uint32_t)F(VM_ENTRY_CONTROLS);
	bool host64 = (exit & VMX_EXIT_HOST_ADDR_SPACE_SIZE) != 0;

	/* 27.2.2 control registers and MSRs. */
	CC(HOST_CR0, fixed_bad(F(HOST_CR0), caps->cr0_fixed0, caps->cr0_fixed1));
	CC(HOST_CR4, fixed_bad(F(HOST_CR4), caps->cr4_fixed0, caps->cr4_fixed1));
	CC(HOST_CR3, beyond_phys(c, F(HOST_CR3)));
	CC(HOST_SYSENTER, !canonical(c, F(HOST_IA32_SYSENTER_ESP)) || !canonical(c, F(HOST_IA32_SYSENTER_EIP)));
	if (exit & VMX_EXIT_LOAD_PAT)
		CC(HOST_PAT, !nested_pat_valid(F(HOST_IA32_PAT)));
	if (exit & VMX_EXIT_LOAD_EFER) {
		uint64_t efer = F(HOST_IA32_EFER);
		CC(HOST_EFER, (efer & ~c->efer_valid) || ((efer & EFER_LMA) != 0) != host64 ||
				      ((efer & EFER_LME) != 0) != host64);
	}

	/* 27.2.3 segment and descriptor-table registers. */
	CC(HOST_SEL_RPL_TI, ((F(HOST_ES_SELECTOR) | F(HOST_CS_SELECTOR) | F(HOST_SS_SELECTOR) |
			      F(HOST_DS_SELECTOR) | F(HOST_FS_SELECTOR) | F(HOST_GS_SELECTOR) |
			      F(HOST_TR_SELECTOR)) & 7) != 0);
	CC(HOST_CS_TR_NULL, F(HOST_CS_SELECTOR) == 0 || F(HOST_TR_SELECTOR) == 0);
	CC(HOST_SS_NULL, F(HOST_SS_SELECTOR) == 0 && !host64);
	CC(HOST_BASES, !canonical(c, F(HOST_FS_BASE)) || !canonical(c, F(HOST_GS_BASE)) ||
			       !canonical(c, F(HOST_GDTR_BASE)) || !canonical(c, F(HOST_IDTR_BASE)) ||
			       !canonical(c, F(HOST_TR_BASE)));

	/* 27.2.4 address-space size. */
	if (!c->cpu_lma)
		CC(HOST_ADDR_SPACE, (entry & VMX_ENTRY_IA32E_MODE_GUEST) || host64);
	else
		CC(HOST_ADDR_SPACE, !host64);
	if (!host64) {
		CC(HOST_ADDR_SPACE, entry & VMX_ENTRY_IA32E_MODE_GUEST);
		CC(HOST_CR4_MODE, F(HOST_CR4) & CR4_PCIDE);
		CC(HOST_RIP, F(HOST_RIP) >> 32);
	} else {
		CC(HOST_CR4_MODE, !(F(HOST_CR4) & CR4_PAE));
		CC(HOST_RIP, !canonical(c, F(HOST_RIP)));
	}
	PASS();
}

/* ---- 27.3.1 guest-state area ---- */

struct gseg {
	uint64_t base;
	uint32_t limit, ar;
	uint16_t sel;
};

#define GSEG(s, NAME)                                                                         \
	((struct gseg){ .base = F(GUEST_##NAME##_BASE), .limit = (uint32_t)F(GUEST_##NAME##_LIMIT), \
			.ar = (uint32_t)F(GUEST_##NAME##_AR_BYTES), .sel = (uint16_t)F(GUEST_##NAME##_SELECTOR) })

static unsigned ar_type(const struct gseg *s)
{
	return s->ar & SEG_AR_TYPE_MASK;
}

static unsigned ar_dpl(const struct gseg *s)
{
	return (s->ar >> SEG_AR_DPL_SHIFT) & 3;
}

static bool usable(const struct gseg *s)
{
	return !(s->ar & SEG_AR_UNUSABLE);
}

/* G must agree with the limit: limit[11:0] not all ones needs G = 0,
 * limit[31:20] not all zeros needs G = 1. */
static bool g_bad(const struct gseg *s)
{
	bool g = (s->ar & SEG_AR_G) != 0;
	return ((s->limit & 0xfff) != 0xfff && g) || ((s->limit >> 20) && !g);
}

#define AR_RESERVED 0xfffe0f00u /* bits 31:17 and 11:8 */

enum entry_check nested_check_guest(const struct entry_ctx *c, struct entry_result *r)
{
	const struct vmx_caps *caps = c->caps;
	uint32_t pin = (uint32_t)F(PIN_BASED_VM_EXEC_CONTROL);
	uint32_t proc2 = proc2_of(c);
	uint32_t entry = (uint32_t)F(VM_ENTRY_CONTROLS);
	bool ug = (proc2 & VMX_PROC2_UNRESTRICTED_GUEST) != 0;
	bool ia32e = (entry & VMX_ENTRY_IA32E_MODE_GUEST) != 0;
	uint64_t cr0 = F(GUEST_CR0), cr4 = F(GUEST_CR4), rflags = F(GUEST_RFLAGS);
	uint32_t intr = (uint32_t)F(VM_ENTRY_INTR_INFO_FIELD);
	bool inject = (intr & INTR_INFO_VALID) != 0;
	unsigned itype = INTR_TYPE(intr), ivec = intr & 0xff;

	/* 27.3.1.1 control registers, debug registers, MSRs. */
	uint64_t f0 = caps->cr0_fixed0;
	if (ug)
		f0 &= ~(CR0_PE | CR0_PG);
	CC(GUEST_CR0, fixed_bad(cr0, f0, caps->cr0_fixed1));
	CC(GUEST_CR0_PG_PE, (cr0 & CR0_PG) && !(cr0 & CR0_PE));
	CC(GUEST_CR4, fixed_bad(cr4, caps->cr4_fixed0, caps->cr4_fixed1));
	if (ia32e)
		CC(GUEST_IA32E_PAGING, !(cr0 & CR0_PG) || !(cr4 & CR4_PAE));
	else
		CC(GUEST_PCIDE, cr4 & CR4_PCIDE);
	CC(GUEST_CR3, beyond_phys(c, F(GUEST_CR3)));
	if (entry & VMX_ENTRY_LOAD_DEBUG_CONTROLS) {
		/* IA32_DEBUGCTL: LBR (bit 0) and BTF (bit 1) exist; the model has
		 * no performance-monitoring or branch-trace-store bits. */
		CC(GUEST_DEBUGCTL, F(GUEST_IA32_DEBUGCTL) & ~3ull);
		CC(GUEST_DR7, F(GUEST_DR7) >> 32);
	}
	CC(GUEST_SYSENTER, !canonical(c, F(GUEST_SYSENTER_ESP)) || !canonical(c, F(GUEST_SYSENTER_EIP)));
	if (entry & VMX_ENTRY_LOAD_PAT)
		CC(GUEST_PAT, !nested_pat_valid(F(GUEST_IA32_PAT)));
	if (entry & VMX_ENTRY_LOAD_EFER) {
		uint64_t efer = F(GUEST_IA32_EFER);
		CC(GUEST_EFER, (efer & ~c->efer_valid) || ((efer & EFER_LMA) != 0) != ia32e ||
				       ((cr0 & CR0_PG) && ((efer & EFER_LME) != 0) != ia32e));
	}

	/* 27.3.1.2 segment registers. */
	struct gseg cs = GSEG(c, CS), ss = GSEG(c, SS), tr = GSEG(c, TR), ldtr = GSEG(c, LDTR);
	struct gseg data[4] = { GSEG(c, DS), GSEG(c, ES), GSEG(c, FS), GSEG(c, GS) };
	bool v86 = (rflags & RFLAGS_VM) != 0;
	CC(GUEST_TR_TI, tr.sel & 4);
	if (usable(&ldtr))
		CC(GUEST_LDTR_TI, ldtr.sel & 4);
	if (!v86 && !ug)
		CC(GUEST_SS_RPL, (ss.sel & 3) != (cs.sel & 3));
	if (v86) {
		const struct gseg *all[6] = { &cs, &ss, &data[0], &data[1], &data[2], &data[3] };
		for (int k = 0; k < 6; k++)
			CC(GUEST_V86_SEG, all[k]->base != (uint64_t)all[k]->sel << 4 || all[k]->limit != 0xffff ||
						  all[k]->ar != 0xf3);
	}
	CC(GUEST_SEG_BASE, !canonical(c, tr.base) || !canonical(c, data[2].base) || !canonical(c, data[3].base));
	CC(GUEST_SEG_BASE, usable(&ldtr) && !canonical(c, ldtr.base));
	CC(GUEST_SEG_BASE, cs.base >> 32);
	CC(GUEST_SEG_BASE, (usable(&ss) && ss.base >> 32) || (usable(&data[0]) && data[0].base >> 32) ||
				   (usable(&data[1]) && data[1].base >> 32));
	if (!v86) {
		unsigned ct = ar_type(&cs);
		CC(GUEST_CS_TYPE, !(ct == 9 || ct == 11 || ct == 13 || ct == 15 || (ug && ct == 3)));
		CC(GUEST_SEG_S, !(cs.ar & SEG_AR_S));
		if (ct == 3)
			CC(GUEST_CS_DPL, ar_dpl(&cs) != 0);
		else if (ct == 9 || ct == 11)
			CC(GUEST_CS_DPL, ar_dpl(&cs) != ar_dpl(&ss));
		else
			CC(GUEST_CS_DPL, ar_dpl(&cs) > ar_dpl(&ss));
		CC(GUEST_SEG_P, !(cs.ar & SEG_AR_P));
		CC(GUEST_SEG_RESERVED, cs.ar & AR_RESERVED);
		if (ia32e && (cs.ar & SEG_AR_L))
			CC(GUEST_CS_DB_L, cs.ar & SEG_AR_DB);
		CC(GUEST_SEG_G, g_bad(&cs));

		if (usable(&ss)) {
			CC(GUEST_SS_TYPE, ar_type(&ss) != 3 && ar_type(&ss) != 7);
			CC(GUEST_SEG_S, !(ss.ar & SEG_AR_S));
			CC(GUEST_SEG_P, !(ss.ar & SEG_AR_P));
			CC(GUEST_SEG_RESERVED, ss.ar & AR_RESERVED);
			CC(GUEST_SEG_G, g_bad(&ss));
		}
		if (!ug)
			CC(GUEST_SS_DPL, ar_dpl(&ss) != (ss.sel & 3u));
		if (ct == 3 || !(cr0 & CR0_PE))
			CC(GUEST_SS_DPL, ar_dpl(&ss) != 0);

		for (int k = 0; k < 4; k++) {
			const struct gseg *d = &data[k];
			if (!usable(d))
				continue;
			unsigned t = ar_type(d);
			CC(GUEST_DATA_TYPE, !(t & SEG_AR_TYPE_ACCESSED) ||
						    ((t & SEG_AR_TYPE_CODE) && !(t & SEG_AR_TYPE_RW)));
			CC(GUEST_SEG_S, !(d->ar & SEG_AR_S));
			if (!ug && t <= 11)
				CC(GUEST_DATA_DPL, ar_dpl(d) < (d->sel & 3u));
			CC(GUEST_SEG_P, !(d->ar & SEG_AR_P));
			CC(GUEST_SEG_RESERVED, d->ar & AR_RESERVED);
			CC(GUEST_SEG_G, g_bad(d));
		}
	}
	/* TR and LDTR are checked whatever RFLAGS.VM says. */
	CC(GUEST_TR_TYPE, !usable(&tr) || (tr.ar & SEG_AR_S) ||
				  !(ar_type(&tr) == 11 || (!ia32e && ar_type(&tr) == 3)));
	CC(GUEST_SEG_P, !(tr.ar & SEG_AR_P));
	CC(GUEST_SEG_RESERVED, tr.ar & AR_RESERVED);
	CC(GUEST_SEG_G, g_bad(&tr));
	if (usable(&ldtr)) {
		CC(GUEST_LDTR_TYPE, ar_type(&ldtr) != SYS_TYPE_LDT || (ldtr.ar & SEG_AR_S));
		CC(GUEST_SEG_P, !(ldtr.ar & SEG_AR_P));
		CC(GUEST_SEG_RESERVED, ldtr.ar & AR_RESERVED);
		CC(GUEST_SEG_G, g_bad(&ldtr));
	}

	/* 27.3.1.3 descriptor-table registers. */
	CC(GUEST_DTR, !canonical(c, F(GUEST_GDTR_BASE)) || !canonical(c, F(GUEST_IDTR_BASE)) ||
			      (F(GUEST_GDTR_LIMIT) >> 16) || (F(GUEST_IDTR_LIMIT) >> 16));

	/* 27.3.1.4 RIP and RFLAGS. */
	if (ia32e && (cs.ar & SEG_AR_L))
		CC(GUEST_RIP, !canonical(c, F(GUEST_RIP)));
	else
		CC(GUEST_RIP, F(GUEST_RIP) >> 32);
	CC(GUEST_RFLAGS, (rflags & ~0x3f7fd7ull) || !(rflags & RFLAGS_FIXED1));
	CC(GUEST_RFLAGS_VM, v86 && (ia32e || !(cr0 & CR0_PE)));
	if (inject && itype == EV_EXT)
		CC(GUEST_RFLAGS_IF, !(rflags & RFLAGS_IF));

	/* 27.3.1.5 non-register state. */
	uint64_t act = F(GUEST_ACTIVITY_STATE);
	CC(GUEST_ACTIVITY, act > 3 || (act != 0 && !(caps->misc & (1ull << (5 + act)))));
	if (act == ACT_HLT) {
		CC(GUEST_ACTIVITY_HLT, ar_dpl(&ss) != 0);
		if (inject)
			CC(GUEST_ACTIVITY_HLT, !(itype == EV_EXT || itype == EV_NMI ||
						 (itype == EV_HW && (ivec == X86_DB || ivec == X86_MC)) ||
						 (itype == EV_OTHER && ivec == 0)));
	}
	uint64_t ib = F(GUEST_INTERRUPTIBILITY_INFO);
	if (ib & (INTR_BLOCK_STI | INTR_BLOCK_MOV_SS))
		CC(GUEST_ACTIVITY_BLOCK, act != ACT_ACTIVE);
	CC(GUEST_INTR_RESERVED, ib & ~0xfull);
	CC(GUEST_INTR_STI_MOVSS, (ib & INTR_BLOCK_STI) && (ib & INTR_BLOCK_MOV_SS));
	CC(GUEST_INTR_STI_IF, (ib & INTR_BLOCK_STI) && !(rflags & RFLAGS_IF));
	if (inject && itype == EV_EXT)
		CC(GUEST_INTR_EXT_INJECT, ib & (INTR_BLOCK_STI | INTR_BLOCK_MOV_SS));
	if (inject && itype == EV_NMI)
		CC(GUEST_INTR_NMI_MOVSS, ib & INTR_BLOCK_MOV_SS);
	CC(GUEST_INTR_SMI, ib & INTR_BLOCK_SMI); /* tortuga never enters L2 from SMM */
	if (inject && itype == EV_NMI && (pin & VMX_PIN_VIRTUAL_NMIS))
		CC(GUEST_INTR_VNMI, ib & INTR_BLOCK_NMI);
	if (inject && itype == EV_NMI)
		CC(GUEST_INTR_NMI_STI, ib & INTR_BLOCK_STI);
	uint64_t pd = F(GUEST_PENDING_DBG_EXCEPTIONS);
	/* Valid: B3-B0 (3:0), enabled breakpoint (12), BS (14); RTM (16) is
	 * reserved without RTM. */
	CC(GUEST_PENDING_DBG, pd & ~0x500full);
	if ((ib & (INTR_BLOCK_STI | INTR_BLOCK_MOV_SS)) || act == ACT_HLT) {
		bool tf = (rflags & RFLAGS_TF) != 0;
		bool btf = (entry & VMX_ENTRY_LOAD_DEBUG_CONTROLS) && (F(GUEST_IA32_DEBUGCTL) & 2);
		bool bs = (pd & (1ull << 14)) != 0;
		CC(GUEST_PENDING_BS, (tf && !btf && !bs) || ((!tf || btf) && bs));
	}
	uint64_t link = F(VMCS_LINK_POINTER);
	if (link != ~0ull) {
		CC(GUEST_LINK_POINTER, (link & 0xfff) || beyond_phys(c, link));
		uint32_t rev = 0xffffffffu;
		bool ram = c->read_phys && c->read_phys(c->opaque, link, &rev, 4);
		bool shadowing = (proc2 & VMX_PROC2_VMCS_SHADOWING) != 0;
		CC(GUEST_LINK_POINTER, !ram || (rev & ~VMCS12_SHADOW_INDICATOR) != VMCS12_REVISION ||
					       ((rev & VMCS12_SHADOW_INDICATOR) != 0) != shadowing);
		CC(GUEST_LINK_POINTER, link == c->vmptr);
	}

	/* 27.3.1.6 PDPTEs, for PAE paging: from the VMCS with EPT (loaded by
	 * VM entry), else from the table CR3 points to. */
	if ((cr0 & CR0_PG) && (cr4 & CR4_PAE) && !ia32e) {
		uint64_t pdpte[4];
		if (proc2 & VMX_PROC2_ENABLE_EPT) {
			pdpte[0] = F(GUEST_PDPTE0);
			pdpte[1] = F(GUEST_PDPTE1);
			pdpte[2] = F(GUEST_PDPTE2);
			pdpte[3] = F(GUEST_PDPTE3);
		} else {
			bool ram = c->read_phys && c->read_phys(c->opaque, F(GUEST_CR3) & 0xffffffe0ull, pdpte, 32);
			CC(GUEST_PDPTE, !ram);
		}
		uint64_t rsvd = 0x1e6ull | (c->phys_bits < 64 ? ~0ull << c->phys_bits : 0);
		for (int k = 0; k < 4; k++)
			CC(GUEST_PDPTE, (pdpte[k] & PTE_P) && (pdpte[k] & rsvd));
	}
	PASS();
}
