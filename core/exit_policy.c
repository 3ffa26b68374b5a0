#include <string.h>

#include "exit_policy.h"
#include "x86.h"

/*
 * SDM 26.1.3: IN/INS/OUT/OUTS exit if "use I/O bitmaps" is 1 and the bit of any
 * port accessed is set (an access that wraps past 0xffff exits), or, with
 * "use I/O bitmaps" 0, if "unconditional I/O exiting" is 1.
 */
bool vmx_exit_on_io(const struct vmx_exec_controls *c, uint16_t port, unsigned size)
{
	if (!(c->proc & VMX_PROC_USE_IO_BITMAPS))
		return (c->proc & VMX_PROC_UNCOND_IO_EXITING) != 0;
	if (!c->io_bitmap)
		return true;
	for (unsigned i = 0; i < size; i++) {
		uint32_t p = (uint32_t)port + i;
		if (p > 0xffff)
			return true;
		const uint8_t *bm = c->io_bitmap;
		if (p >= 0x8000 && c->io_bitmap_b) {
			bm = c->io_bitmap_b;
			p -= 0x8000;
		}
		if (bm[p >> 3] & (1u << (p & 7)))
			return true;
	}
	return false;
}

/*
 * SDM 26.1.3 and 25.6.9: RDMSR/WRMSR exit if "use MSR bitmaps" is 0, if ECX is
 * outside 0-1FFFH and C0000000H-C0001FFFH, or if the bit for ECX in the read
 * (low: 0, high: 1024) or write (low: 2048, high: 3072) bitmap is set.
 */
bool vmx_exit_on_msr(const struct vmx_exec_controls *c, uint32_t msr, bool write)
{
	if (!(c->proc & VMX_PROC_USE_MSR_BITMAPS) || !c->msr_bitmap)
		return true;
	uint32_t off;
	if (msr <= 0x1fff)
		off = 0;
	else if (msr >= 0xc0000000 && msr <= 0xc0001fff)
		off = 1024;
	else
		return true;
	if (write)
		off += 2048;
	uint32_t bit = msr & 0x1fff;
	return (c->msr_bitmap[off + (bit >> 3)] & (1u << (bit & 7))) != 0;
}

/*
 * SDM 26.1.3 MOV to CR0/CR4: exits if any bit set in the guest/host mask
 * differs between the source operand and the read shadow.
 */
bool vmx_exit_on_cr0_write(const struct vmx_exec_controls *c, uint64_t val)
{
	return ((val ^ c->cr0_shadow) & c->cr0_mask) != 0;
}

bool vmx_exit_on_cr4_write(const struct vmx_exec_controls *c, uint64_t val)
{
	return ((val ^ c->cr4_shadow) & c->cr4_mask) != 0;
}

/*
 * SDM 26.1.3 MOV to CR3: exits if "CR3-load exiting" is 1 and the value is not
 * one of the first CR3-target-count CR3-target values.
 */
bool vmx_exit_on_cr3_write(const struct vmx_exec_controls *c, uint64_t val)
{
	if (!(c->proc & VMX_PROC_CR3_LOAD_EXITING))
		return false;
	uint32_t n = c->cr3_target_count < 4 ? c->cr3_target_count : 4;
	for (uint32_t i = 0; i < n; i++)
		if (c->cr3_target[i] == val)
			return false;
	return true;
}

/* SDM 26.1.3 CLTS: exits if CR0.TS is set in both the mask and the shadow. */
bool vmx_exit_on_clts(const struct vmx_exec_controls *c)
{
	return (c->cr0_mask & CR0_TS) && (c->cr0_shadow & CR0_TS);
}

/*
 * SDM 26.1.3 LMSW: exits if, for CR0.PE/MP/EM/TS (bits 3:0), a masked bit of
 * the source differs from the shadow, or if CR0.PE is masked, clear in the
 * shadow and set in the source.
 */
bool vmx_exit_on_lmsw(const struct vmx_exec_controls *c, uint64_t cr0, uint16_t src)
{
	(void)cr0;
	uint64_t m = c->cr0_mask & 0xf;
	if (((uint64_t)src ^ c->cr0_shadow) & m & 0xe)
		return true;
	if ((m & CR0_PE) && !(c->cr0_shadow & CR0_PE) && (src & CR0_PE))
		return true;
	return false;
}

/*
 * SDM 26.2 Exceptions: the exception bitmap bit for the vector; for #PF
 * (vector 14) with the bit set, exit iff (PFEC & mask) == match, with the bit
 * clear, exit iff they differ (25.6.3).
 */
bool vmx_exit_on_exception(const struct vmx_exec_controls *c, unsigned vector, uint32_t error_code)
{
	bool bit = vector < 32 && (c->exception_bitmap & (1u << vector));
	if (vector != X86_PF)
		return bit;
	bool match = (error_code & c->pf_ec_mask) == c->pf_ec_match;
	return bit ? match : !match;
}

/* SDM 25.6.6: masked bits read from the shadow, others from the register. */
uint64_t vmx_cr_read_value(uint64_t real, uint64_t mask, uint64_t shadow)
{
	return (real & ~mask) | (shadow & mask);
}

void vmx_io_bitmap_set(uint8_t *bitmap, uint16_t port, bool exits)
{
	if (exits)
		bitmap[port >> 3] |= (uint8_t)(1u << (port & 7));
	else
		bitmap[port >> 3] &= (uint8_t) ~(1u << (port & 7));
}

static void bit_set(uint8_t *b, uint32_t off, uint32_t bit, bool v)
{
	if (v)
		b[off + (bit >> 3)] |= (uint8_t)(1u << (bit & 7));
	else
		b[off + (bit >> 3)] &= (uint8_t) ~(1u << (bit & 7));
}

void vmx_msr_bitmap_set(uint8_t *bitmap, uint32_t msr, bool read_exits, bool write_exits)
{
	uint32_t off;
	if (msr <= 0x1fff)
		off = 0;
	else if (msr >= 0xc0000000 && msr <= 0xc0001fff)
		off = 1024;
	else
		return; /* outside the bitmap: always exits */
	bit_set(bitmap, off, msr & 0x1fff, read_exits);
	bit_set(bitmap, off + 2048, msr & 0x1fff, write_exits);
}

enum { MSR_PASS_NONE, MSR_PASS_READ, MSR_PASS_RW };

/*
 * KVM's vmcs01 on a host with EPT, VPID, unrestricted guest and a TPR shadow
 * (arch/x86/kvm/vmx/vmx.c: setup_vmcs_config(), vmx_exec_control(),
 * vmx_secondary_exec_control(), vmx_update_exception_bitmap()):
 *  - pin: external-interrupt and NMI exiting, virtual NMIs;
 *  - primary: HLT, MWAIT, MONITOR, RDPMC, MOV-DR and unconditional I/O exiting,
 *    TSC offsetting, TPR shadow (no CR8 exits), MSR bitmaps; no CR3/INVLPG
 *    exiting (EPT);
 *  - secondary: EPT, VPID, unrestricted guest, RDTSCP, INVPCID, XSAVES,
 *    WBINVD exiting, PAUSE-loop exiting (gap 128, window 4096);
 *  - exceptions: #UD, #MC, #AC (no #PF with EPT);
 *  - CR0 guest-owned bits TS and WP, CR4 guest-owned bits as in
 *    KVM_POSSIBLE_CR4_GUEST_BITS; the rest exit when written;
 *  - MSR bitmap: the pass-through MSRs of hw/msr.def.
 */
void vmx_policy_default_l0(struct vmx_exec_controls *c, uint8_t *io_bitmap, uint8_t *msr_bitmap)
{
	memset(c, 0, sizeof(*c));
	c->pin = VMX_PIN_EXT_INTR_EXITING | VMX_PIN_NMI_EXITING | VMX_PIN_VIRTUAL_NMIS;
	c->proc = VMX_PROC_HLT_EXITING | VMX_PROC_MWAIT_EXITING | VMX_PROC_MONITOR_EXITING |
		  VMX_PROC_RDPMC_EXITING | VMX_PROC_MOV_DR_EXITING | VMX_PROC_UNCOND_IO_EXITING |
		  VMX_PROC_USE_TSC_OFFSETTING | VMX_PROC_USE_TPR_SHADOW | VMX_PROC_USE_MSR_BITMAPS |
		  VMX_PROC_SECONDARY_CONTROLS;
	c->proc2 = VMX_PROC2_ENABLE_EPT | VMX_PROC2_ENABLE_VPID | VMX_PROC2_UNRESTRICTED_GUEST |
		   VMX_PROC2_ENABLE_RDTSCP | VMX_PROC2_ENABLE_INVPCID | VMX_PROC2_ENABLE_XSAVES |
		   VMX_PROC2_WBINVD_EXITING | VMX_PROC2_PAUSE_LOOP_EXITING;
	c->exception_bitmap = (1u << X86_UD) | (1u << X86_MC) | (1u << X86_AC);
	c->cr0_mask = ~(CR0_TS | CR0_WP);
	c->cr4_mask = ~(CR4_PVI | CR4_DE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_PGE |
			CR4_TSD | CR4_FSGSBASE);
	c->ple_gap = 128;
	c->ple_window = 4096;
	c->io_bitmap = io_bitmap;
	c->msr_bitmap = msr_bitmap;
	if (io_bitmap)
		memset(io_bitmap, 0xff, 8192);
	if (msr_bitmap) {
		memset(msr_bitmap, 0xff, 4096);
#define X(name, idx, pass, desc)                                                            \
	if (pass != MSR_PASS_NONE)                                                          \
		vmx_msr_bitmap_set(msr_bitmap, idx, false, pass != MSR_PASS_RW);
#include "hw/msr.def"
#undef X
	}
}
