/*
 * MOV to control and debug registers: Intel SDM Vol. 2B "MOV—Move to/from Control
 * Registers" (the #GP conditions) and Vol. 3A 2.5 (the bits), 4.1.1 (mode
 * changes) and 4.10.4.1 (which writes invalidate TLBs).
 */
#include <string.h>

#include "arch.h"
#include "cpuid.h"
#include "devices/lapic.h"
#include "nested_hooks.h"
#include "vm.h"

static void changed(struct vcpu *v, unsigned what)
{
	if (v->vm->be->state_changed)
		v->vm->be->state_changed(v, what);
}

uint64_t arch_read_cr0(const struct vcpu *v)
{
	return vmx_cr_read_value(v->s.cr0, v->ctls->cr0_mask, v->ctls->cr0_shadow);
}

uint64_t arch_read_cr4(const struct vcpu *v)
{
	return vmx_cr_read_value(v->s.cr4, v->ctls->cr4_mask, v->ctls->cr4_shadow);
}

bool arch_canonical(const struct vcpu *v, uint64_t la)
{
	unsigned bits = v->vm->model.virt_bits;
	int64_t s = (int64_t)(la << (64 - bits)) >> (64 - bits);
	return (uint64_t)s == la;
}

uint64_t arch_phys_reserved(const struct vcpu *v)
{
	return ~0ull << v->vm->model.phys_bits;
}

/*
 * SDM Vol. 3A 4.4.1: with PAE paging (CR0.PG = CR4.PAE = 1, IA32_EFER.LMA =
 * 0) MOV to CR3, and MOV to CR0/CR4 changing PG, CD, NW, PAE, PGE, PSE or
 * SMEP, load the four PDPTEs from the 32-byte table at CR3[31:5]. A present
 * PDPTE with a reserved bit set (bits 2:1, 8:5, 63:MAXPHYADDR) is #GP(0) and
 * the MOV has no effect.
 */
static int load_pdptes(struct vcpu *v, uint64_t cr0, uint64_t cr3, uint64_t cr4, bool lma)
{
	if (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE) || lma)
		return ARCH_OK;
	uint64_t e[4];
	aspace_read(&v->vm->as, cr3 & 0xffffffe0ull, e, sizeof(e));
	uint64_t rsvd = arch_phys_reserved(v) | 0x1e6ull;
	for (int i = 0; i < 4; i++)
		if ((e[i] & PTE_P) && (e[i] & rsvd))
			return ARCH_FAULT(X86_GP);
	memcpy(v->s.pdpte, e, sizeof(e));
	return ARCH_OK;
}

#define CR0_PDPTE_BITS (CR0_PG | CR0_CD | CR0_NW)
#define CR4_PDPTE_BITS (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP)

int arch_write_cr0(struct vcpu *v, uint64_t val)
{
	struct x86_state *s = &v->s;
	/* Bits 63:32 are reserved (#GP); ET is hard-wired to 1 on P6+. */
	if (val >> 32)
		return ARCH_FAULT(X86_GP);
	val |= CR0_ET;
	if ((val & CR0_PG) && !(val & CR0_PE))
		return ARCH_FAULT(X86_GP);
	if ((val & CR0_NW) && !(val & CR0_CD))
		return ARCH_FAULT(X86_GP);
	/* Enabling paging with EFER.LME needs CR4.PAE (SDM 4.1.2, 9.8.5). */
	if ((val & CR0_PG) && !(s->cr0 & CR0_PG) && (s->efer & EFER_LME)) {
		if (!(s->cr4 & CR4_PAE))
			return ARCH_FAULT(X86_GP);
		if (s->seg[SEG_CS].ar & SEG_AR_L)
			return ARCH_FAULT(X86_GP);
	}
	/* Clearing PG in 64-bit mode is #GP (leave through compatibility mode). */
	if (!(val & CR0_PG) && (s->cr0 & CR0_PG) && x86_64bit_mode(s))
		return ARCH_FAULT(X86_GP);
	/* Clearing PG while CR4.PCIDE = 1 is #GP (SDM Vol. 2B MOV to CR0). */
	if (!(val & CR0_PG) && (s->cr4 & CR4_PCIDE))
		return ARCH_FAULT(X86_GP);
	/* In VMX operation CR0 must respect IA32_VMX_CR0_FIXED0/1 (SDM 24.8). */
	if (v->nested && !nested_cr_valid(v, 0, val))
		return ARCH_FAULT(X86_GP);
	bool lma = (val & CR0_PG) && (s->efer & EFER_LME);
	if ((val ^ s->cr0) & CR0_PDPTE_BITS) {
		int ret = load_pdptes(v, val, s->cr3, s->cr4, lma);
		if (ret != ARCH_OK)
			return ret;
	}

	uint64_t old = s->cr0;
	s->cr0 = val;
	if ((val & CR0_PG) && !(old & CR0_PG) && (s->efer & EFER_LME))
		s->efer |= EFER_LMA;
	if (!(val & CR0_PG) && (old & CR0_PG))
		s->efer &= ~EFER_LMA;
	unsigned what = STATE_CRS;
	if ((old ^ val) & (CR0_PG | CR0_WP | CR0_PE))
		what |= STATE_TLB;
	changed(v, what);
	return ARCH_OK;
}

int arch_write_cr3(struct vcpu *v, uint64_t val)
{
	struct x86_state *s = &v->s;
	uint64_t addr = val;
	if ((s->cr4 & CR4_PCIDE) && x86_long_mode(s))
		addr &= ~(1ull << 63); /* bit 63: do not invalidate (SDM 4.10.4.1) */
	if (x86_long_mode(s) && (addr & arch_phys_reserved(v)))
		return ARCH_FAULT(X86_GP);
	int ret = load_pdptes(v, s->cr0, addr, s->cr4, x86_long_mode(s));
	if (ret != ARCH_OK)
		return ret;
	s->cr3 = addr;
	changed(v, STATE_CRS | STATE_TLB);
	return ARCH_OK;
}

uint64_t arch_cr4_supported(const struct vcpu *v)
{
	const struct cpu_model *m = &v->vm->model;
	uint64_t ok = CR4_PVI | CR4_VME | CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE |
		      CR4_PCE;
	/* OSFXSR and OSXMMEXCPT exist with FXSAVE/FXRSTOR and SSE (Vol. 3A
	 * 2.5, 13.1.3, 13.1.4). */
	if (cpu_has(m, CPUF_FXSR))
		ok |= CR4_OSFXSR;
	if (cpu_has(m, CPUF_SSE))
		ok |= CR4_OSXMMEXCPT;
	if (cpu_has(m, CPUF_UMIP))
		ok |= CR4_UMIP;
	if (cpu_has(m, CPUF_VMX))
		ok |= CR4_VMXE;
	if (cpu_has(m, CPUF_FSGSBASE))
		ok |= CR4_FSGSBASE;
	if (cpu_has(m, CPUF_PCID))
		ok |= CR4_PCIDE;
	if (cpu_has(m, CPUF_XSAVE))
		ok |= CR4_OSXSAVE;
	if (cpu_has(m, CPUF_SMEP))
		ok |= CR4_SMEP;
	if (cpu_has(m, CPUF_SMAP))
		ok |= CR4_SMAP;
	return ok;
}

int arch_write_cr4(struct vcpu *v, uint64_t val)
{
	struct x86_state *s = &v->s;
	if (val & ~arch_cr4_supported(v))
		return ARCH_FAULT(X86_GP);
	/* In VMX operation CR4 must respect IA32_VMX_CR4_FIXED0/1 (SDM 24.8). */
	if (v->nested && !nested_cr_valid(v, 4, val))
		return ARCH_FAULT(X86_GP);
	if (x86_long_mode(s) && !(val & CR4_PAE))
		return ARCH_FAULT(X86_GP);
	if ((val & CR4_PCIDE) && !(s->cr4 & CR4_PCIDE) && (!x86_long_mode(s) || (s->cr3 & 0xfff)))
		return ARCH_FAULT(X86_GP);
	if ((val ^ s->cr4) & CR4_PDPTE_BITS) {
		int ret = load_pdptes(v, s->cr0, s->cr3, val, x86_long_mode(s));
		if (ret != ARCH_OK)
			return ret;
	}
	uint64_t old = s->cr4;
	s->cr4 = val;
	unsigned what = STATE_CRS;
	if ((old ^ val) & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMEP | CR4_SMAP | CR4_PCIDE))
		what |= STATE_TLB;
	changed(v, what);
	return ARCH_OK;
}

/* The VTPR byte of the virtual-APIC page when "use TPR shadow" has one
 * (SDM 30.1: TPR virtualization), else NULL. */
static uint8_t *vtpr(const struct vcpu *v)
{
	const struct vmx_exec_controls *c = v->ctls;
	return c && (c->proc & VMX_PROC_USE_TPR_SHADOW) && c->virtual_apic ? c->virtual_apic + 0x80 : NULL;
}

/* CR8 is the local APIC's TPR[7:4] (SDM Vol. 3A 10.8.6.1); with a TPR
 * shadow, VTPR[7:4] (SDM Vol. 3C 26.3, 30.1.1: MOV to CR8 writes bits 7:4
 * and clears bits 3:0 and bytes 81H-83H; MOV from CR8 reads bits 7:4). */
int arch_write_cr8(struct vcpu *v, uint64_t val)
{
	if (val & ~0xfull)
		return ARCH_FAULT(X86_GP);
	uint8_t *t = vtpr(v);
	if (t) {
		memset(t, 0, 4);
		t[0] = (uint8_t)(val << 4);
		ram_note_write(&v->vm->ram, t, 4);
		return ARCH_OK;
	}
	lapic_set_cr8(v->lapic, val);
	v->s.cr8 = val;
	return ARCH_OK;
}

uint64_t arch_read_cr8(struct vcpu *v)
{
	const uint8_t *t = vtpr(v);
	if (t)
		return t[0] >> 4;
	v->s.cr8 = lapic_get_cr8(v->lapic);
	return v->s.cr8;
}

/* SDM Vol. 3A 18.2: DR6 bits 31:16 and 11:4 read as 1, bit 12 as 0; DR7
 * bit 10 reads as 1, bits 15:14 and 12 as 0. */
int arch_write_dr(struct vcpu *v, unsigned dr, uint64_t val)
{
	struct x86_state *s = &v->s;
	if (dr == 4 || dr == 5)
		dr += 2;
	if (!x86_64bit_mode(s))
		val = (uint32_t)val;
	if ((dr == 6 || dr == 7) && (val >> 32))
		return ARCH_FAULT(X86_GP);
	if (dr < 4)
		s->dr[dr] = val;
	else if (dr == 6)
		s->dr6 = (val | DR6_FIXED1) & ~(1ull << 12);
	else
		s->dr7 = (val | DR7_FIXED1) & ~((1ull << 12) | (3ull << 14));
	return ARCH_OK;
}

uint64_t arch_read_dr(const struct vcpu *v, unsigned dr)
{
	const struct x86_state *s = &v->s;
	if (dr == 4 || dr == 5)
		dr += 2;
	uint64_t val = dr < 4 ? s->dr[dr] : dr == 6 ? s->dr6 : s->dr7;
	return x86_64bit_mode(s) ? val : (uint32_t)val;
}
