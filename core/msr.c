/*
 * RDMSR/WRMSR semantics (Intel SDM Vol. 4 Table 2-2; Vol. 2B RDMSR/WRMSR:
 * #GP for an unimplemented MSR or reserved bits). CPUID, XSETBV too.
 */
#include "arch.h"
#include "cpuid.h"
#include "devices/lapic.h"
#include "nested_hooks.h"
#include "vm.h"

/* IA32_FEATURE_CONTROL (SDM Vol. 3C 24.7; Vol. 4 Table 2-2). */
#define FEATURE_CONTROL_LOCK (1ull << 0)
#define FEATURE_CONTROL_VMX_IN_SMX (1ull << 1)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ull << 2)

static void changed(struct vcpu *v, unsigned what)
{
	if (v->vm->be->state_changed)
		v->vm->be->state_changed(v, what);
}

int arch_read_msr(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	struct x86_state *s = &v->s;
	const struct cpu_model *m = &v->vm->model;
	switch (msr) {
	case MSR_IA32_TSC:
		*val = vcpu_tsc(v);
		break;
	case MSR_IA32_PLATFORM_ID:
	case MSR_IA32_BIOS_SIGN_ID:
	case MSR_IA32_MCG_STATUS:
	case MSR_IA32_TSC_ADJUST:
		*val = 0;
		break;
	case MSR_IA32_APIC_BASE:
		*val = lapic_get_base(v->lapic);
		break;
	case MSR_IA32_FEATURE_CONTROL:
		*val = s->feature_control;
		break;
	case MSR_IA32_SPEC_CTRL:
		*val = s->spec_ctrl;
		break;
	case MSR_IA32_PRED_CMD:
		return ARCH_FAULT(X86_GP); /* write-only */
	case MSR_IA32_MTRRCAP:
		*val = 0; /* no variable or fixed MTRRs, no WC */
		break;
	case MSR_IA32_MTRR_DEF_TYPE:
		*val = s->mtrr_def_type;
		break;
	case MSR_IA32_SYSENTER_CS:
		*val = s->sysenter_cs;
		break;
	case MSR_IA32_SYSENTER_ESP:
		*val = s->sysenter_esp;
		break;
	case MSR_IA32_SYSENTER_EIP:
		*val = s->sysenter_eip;
		break;
	case MSR_IA32_MCG_CAP:
		*val = 0;
		break;
	case MSR_IA32_MISC_ENABLE:
		*val = s->misc_enable;
		break;
	case MSR_IA32_PAT:
		*val = s->pat;
		break;
	case MSR_IA32_EFER:
		*val = s->efer;
		break;
	case MSR_IA32_STAR:
		*val = s->star;
		break;
	case MSR_IA32_LSTAR:
		*val = s->lstar;
		break;
	case MSR_IA32_CSTAR:
		*val = s->cstar;
		break;
	case MSR_IA32_FMASK:
		*val = s->fmask;
		break;
	case MSR_IA32_FS_BASE:
		*val = s->seg[SEG_FS].base;
		break;
	case MSR_IA32_GS_BASE:
		*val = s->seg[SEG_GS].base;
		break;
	case MSR_IA32_KERNEL_GS_BASE:
		*val = s->kernel_gs_base;
		break;
	case MSR_IA32_TSC_AUX:
		if (!cpu_has(m, CPUF_RDTSCP))
			return ARCH_FAULT(X86_GP);
		*val = s->tsc_aux;
		break;
	case MSR_IA32_VMX_BASIC ... MSR_IA32_VMX_VMFUNC:
		/* The VMX capability MSRs exist only with CPUID.1:ECX.VMX (SDM A.1). */
		if (!v->nested)
			return ARCH_FAULT(X86_GP);
		return nested_read_vmx_msr(v, msr, val);
	default:
		if (lapic_msr_owned(msr))
			return lapic_msr_read(v->lapic, msr, val);
		return ARCH_FAULT(X86_GP);
	}
	return ARCH_OK;
}

/* SDM Vol. 3A 11.12.2: each PAT entry must be a valid memory type. */
static bool pat_valid(uint64_t pat)
{
	for (int i = 0; i < 8; i++) {
		uint8_t t = (pat >> (8 * i)) & 0xff;
		if (t != 0 && t != 1 && t != 4 && t != 5 && t != 6 && t != 7)
			return false;
	}
	return true;
}

static int write_efer(struct vcpu *v, uint64_t val)
{
	struct x86_state *s = &v->s;
	const struct cpu_model *m = &v->vm->model;
	uint64_t ok = EFER_SCE | EFER_LMA;
	if (cpu_has(m, CPUF_LM))
		ok |= EFER_LME;
	if (cpu_has(m, CPUF_NX))
		ok |= EFER_NXE;
	if (val & ~ok)
		return ARCH_FAULT(X86_GP);
	/* LME may not change while paging is on (SDM 9.8.5); LMA is read-only. */
	if ((s->cr0 & CR0_PG) && ((val ^ s->efer) & EFER_LME))
		return ARCH_FAULT(X86_GP);
	s->efer = (val & ~EFER_LMA) | (s->efer & EFER_LMA);
	changed(v, STATE_CRS | STATE_TLB);
	return ARCH_OK;
}

int arch_write_msr(struct vcpu *v, uint32_t msr, uint64_t val)
{
	struct x86_state *s = &v->s;
	const struct cpu_model *m = &v->vm->model;
	switch (msr) {
	case MSR_IA32_TSC:
		s->tsc_offset = val - vcpu_now(v);
		break;
	case MSR_IA32_TSC_ADJUST:
	case MSR_IA32_BIOS_SIGN_ID:
		break;
	case MSR_IA32_APIC_BASE: {
		int ret = lapic_set_base(v->lapic, val);
		s->apic_base = lapic_get_base(v->lapic);
		return ret;
	}
	case MSR_IA32_FEATURE_CONTROL: {
		/* Locked (bit 0) means further writes #GP (SDM Vol. 3C 24.7); the
		 * VMX enables exist only with CPUID.1:ECX.VMX, other bits are
		 * reserved here (no SMX, SGX or LMCE in the model). */
		uint64_t ok = FEATURE_CONTROL_LOCK;
		if (cpu_has(m, CPUF_VMX))
			ok |= FEATURE_CONTROL_VMX_IN_SMX | FEATURE_CONTROL_VMX_OUTSIDE_SMX;
		if ((s->feature_control & FEATURE_CONTROL_LOCK) || (val & ~ok))
			return ARCH_FAULT(X86_GP);
		s->feature_control = val;
		break;
	}
	case MSR_IA32_SPEC_CTRL:
		if (val & ~0x7ull)
			return ARCH_FAULT(X86_GP);
		s->spec_ctrl = val;
		break;
	case MSR_IA32_PRED_CMD:
		if (val & ~1ull)
			return ARCH_FAULT(X86_GP);
		break;
	case MSR_IA32_MTRR_DEF_TYPE:
		if (val & ~0xcffull)
			return ARCH_FAULT(X86_GP);
		s->mtrr_def_type = val;
		break;
	case MSR_IA32_SYSENTER_CS:
		s->sysenter_cs = val & 0xffff;
		break;
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
	case MSR_IA32_LSTAR:
	case MSR_IA32_CSTAR:
	case MSR_IA32_FS_BASE:
	case MSR_IA32_GS_BASE:
	case MSR_IA32_KERNEL_GS_BASE:
		if (!arch_canonical(v, val))
			return ARCH_FAULT(X86_GP);
		if (msr == MSR_IA32_SYSENTER_ESP)
			s->sysenter_esp = val;
		else if (msr == MSR_IA32_SYSENTER_EIP)
			s->sysenter_eip = val;
		else if (msr == MSR_IA32_LSTAR)
			s->lstar = val;
		else if (msr == MSR_IA32_CSTAR)
			s->cstar = val;
		else if (msr == MSR_IA32_KERNEL_GS_BASE)
			s->kernel_gs_base = val;
		else {
			s->seg[msr == MSR_IA32_FS_BASE ? SEG_FS : SEG_GS].base = val;
			changed(v, STATE_SEGS);
		}
		break;
	case MSR_IA32_MISC_ENABLE:
		s->misc_enable = val;
		break;
	case MSR_IA32_PAT:
		if (!pat_valid(val))
			return ARCH_FAULT(X86_GP);
		s->pat = val;
		break;
	case MSR_IA32_EFER:
		return write_efer(v, val);
	case MSR_IA32_STAR:
		s->star = val;
		break;
	case MSR_IA32_FMASK:
		s->fmask = val & 0xffffffffull;
		break;
	case MSR_IA32_TSC_AUX:
		if (!cpu_has(m, CPUF_RDTSCP) || (val >> 32))
			return ARCH_FAULT(X86_GP);
		s->tsc_aux = val;
		break;
	default:
		if (lapic_msr_owned(msr))
			return lapic_msr_write(v->lapic, msr, val);
		return ARCH_FAULT(X86_GP);
	}
	return ARCH_OK;
}

void arch_cpuid(struct vcpu *v, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	struct cpuid_ctx ctx = {
		.apic_id = v->id,
		.vcpus = v->vm->nvcpus,
		.osxsave = (v->s.cr4 & CR4_OSXSAVE) != 0,
		.apic_enabled = lapic_hw_enabled(v->lapic),
	};
	cpuid_query(&v->vm->model, &ctx, leaf, subleaf, out);
}

/*
 * SDM Vol. 2B XSETBV: #GP if ECX != 0, if XCR0 bit 0 (x87) is clear, if bit 2
 * (AVX) is set without bit 1 (SSE), or for any bit outside the supported
 * components. Only x87|SSE are supported without AVX.
 */
int arch_xsetbv(struct vcpu *v, uint32_t xcr, uint64_t val)
{
	if (!cpu_has(&v->vm->model, CPUF_XSAVE) || !(v->s.cr4 & CR4_OSXSAVE))
		return ARCH_FAULT(X86_UD);
	if (xcr != 0 || !(val & 1) || (val & ~3ull))
		return ARCH_FAULT(X86_GP);
	v->s.xcr0 = val;
	return ARCH_OK;
}
