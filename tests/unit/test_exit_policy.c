/*
 * The pure exit decisions of core/exit_policy.c against Intel SDM Vol. 3C
 * 26.1.3 and 25.6 (bitmap layouts, masks and shadows).
 */
#include "core/exit_policy.h"
#include "core/x86.h"

#include "check.h"

static uint8_t iob[8192], msrb[4096];

static void io_unconditional(void)
{
	struct vmx_exec_controls c = { 0 };
	check_test = __func__;
	CHECK(!vmx_exit_on_io(&c, 0x3f8, 1));
	c.proc = VMX_PROC_UNCOND_IO_EXITING;
	CHECK(vmx_exit_on_io(&c, 0x3f8, 1));
}

static void io_bitmaps(void)
{
	struct vmx_exec_controls c = { .proc = VMX_PROC_USE_IO_BITMAPS | VMX_PROC_UNCOND_IO_EXITING,
				       .io_bitmap = iob };
	check_test = __func__;
	memset(iob, 0, sizeof(iob));
	/* "use I/O bitmaps" overrides unconditional exiting (26.1.3). */
	CHECK(!vmx_exit_on_io(&c, 0x80, 1));
	vmx_io_bitmap_set(iob, 0x81, true);
	CHECK(!vmx_exit_on_io(&c, 0x80, 1));
	CHECK(vmx_exit_on_io(&c, 0x80, 2)); /* word access touches 0x81 */
	CHECK(vmx_exit_on_io(&c, 0x81, 1));
	/* Bitmap B covers 8000H-FFFFH. */
	vmx_io_bitmap_set(iob, 0x8000, true);
	CHECK(iob[4096] & 1);
	CHECK(vmx_exit_on_io(&c, 0x8000, 1));
	/* An access wrapping past FFFFH exits. */
	CHECK(vmx_exit_on_io(&c, 0xffff, 2));
}

static void msr_bitmap(void)
{
	struct vmx_exec_controls c = { 0 };
	check_test = __func__;
	CHECK(vmx_exit_on_msr(&c, 0x10, false)); /* no bitmaps: always */
	c.proc = VMX_PROC_USE_MSR_BITMAPS;
	c.msr_bitmap = msrb;
	memset(msrb, 0, sizeof(msrb));
	CHECK(!vmx_exit_on_msr(&c, 0x10, false));
	CHECK(vmx_exit_on_msr(&c, 0x2000, false)); /* outside both ranges */
	CHECK(vmx_exit_on_msr(&c, 0xc0002000, true));
	vmx_msr_bitmap_set(msrb, 0xc0000080, false, true);
	/* write bitmap for high MSRs at byte 3072 (25.6.9) */
	CHECK(msrb[3072 + 0x80 / 8] & 1);
	CHECK(!vmx_exit_on_msr(&c, 0xc0000080, false));
	CHECK(vmx_exit_on_msr(&c, 0xc0000080, true));
	vmx_msr_bitmap_set(msrb, 0x1b, true, false);
	CHECK(msrb[0x1b / 8] & (1u << (0x1b & 7)));
	CHECK(vmx_exit_on_msr(&c, 0x1b, false));
	CHECK(!vmx_exit_on_msr(&c, 0x1b, true));
}

static void cr_masks(void)
{
	struct vmx_exec_controls c = { .cr0_mask = CR0_PG | CR0_PE, .cr0_shadow = CR0_PG | CR0_PE };
	check_test = __func__;
	CHECK(!vmx_exit_on_cr0_write(&c, CR0_PG | CR0_PE | CR0_TS)); /* TS is guest-owned */
	CHECK(vmx_exit_on_cr0_write(&c, CR0_PE));
	CHECK_EQ(vmx_cr_read_value(CR0_PE | CR0_TS, c.cr0_mask, CR0_PG), CR0_PG | CR0_TS);
	c.cr4_mask = CR4_VMXE;
	CHECK(vmx_exit_on_cr4_write(&c, CR4_VMXE));
	CHECK(!vmx_exit_on_cr4_write(&c, CR4_PAE));
	/* CLTS exits only if TS is set in both mask and shadow. */
	CHECK(!vmx_exit_on_clts(&c));
	c.cr0_mask |= CR0_TS;
	c.cr0_shadow |= CR0_TS;
	CHECK(vmx_exit_on_clts(&c));
}

static void cr3_targets(void)
{
	struct vmx_exec_controls c = { .proc = VMX_PROC_CR3_LOAD_EXITING };
	check_test = __func__;
	CHECK(vmx_exit_on_cr3_write(&c, 0x1000));
	c.cr3_target_count = 2;
	c.cr3_target[0] = 0x1000;
	c.cr3_target[1] = 0x2000;
	c.cr3_target[2] = 0x3000;
	CHECK(!vmx_exit_on_cr3_write(&c, 0x2000));
	CHECK(vmx_exit_on_cr3_write(&c, 0x3000)); /* beyond the count */
	c.proc = 0;
	CHECK(!vmx_exit_on_cr3_write(&c, 0x3000));
}

static void lmsw(void)
{
	struct vmx_exec_controls c = { .cr0_mask = CR0_PE | CR0_MP, .cr0_shadow = 0 };
	check_test = __func__;
	CHECK(vmx_exit_on_lmsw(&c, 0, CR0_MP)); /* masked MP differs from shadow */
	CHECK(vmx_exit_on_lmsw(&c, 0, CR0_PE)); /* sets masked PE clear in the shadow */
	CHECK(!vmx_exit_on_lmsw(&c, 0, CR0_TS)); /* TS not masked */
	c.cr0_shadow = CR0_PE;
	CHECK(!vmx_exit_on_lmsw(&c, 0, 0)); /* LMSW cannot clear PE: no exit for PE */
}

static void exceptions(void)
{
	struct vmx_exec_controls c = { .exception_bitmap = 1u << X86_UD };
	check_test = __func__;
	CHECK(vmx_exit_on_exception(&c, X86_UD, 0));
	CHECK(!vmx_exit_on_exception(&c, X86_GP, 0));
	/* #PF: bit clear -> exit iff (PFEC & mask) != match (25.6.3). */
	c.pf_ec_mask = PFEC_W;
	c.pf_ec_match = PFEC_W;
	CHECK(!vmx_exit_on_exception(&c, X86_PF, PFEC_W));
	CHECK(vmx_exit_on_exception(&c, X86_PF, 0));
	c.exception_bitmap |= 1u << X86_PF;
	CHECK(vmx_exit_on_exception(&c, X86_PF, PFEC_W | PFEC_P));
	CHECK(!vmx_exit_on_exception(&c, X86_PF, PFEC_P));
}

static void default_l0(void)
{
	struct vmx_exec_controls c;
	check_test = __func__;
	vmx_policy_default_l0(&c, iob, msrb);
	CHECK(c.proc & VMX_PROC_HLT_EXITING);
	CHECK(vmx_exit_on_io(&c, 0x3f8, 1));
	CHECK(!vmx_exit_on_msr(&c, 0xc0000100, true)); /* FS_BASE passes through */
	CHECK(!vmx_exit_on_msr(&c, 0x10, false)); /* TSC reads pass through */
	CHECK(vmx_exit_on_msr(&c, 0x10, true));
	CHECK(vmx_exit_on_msr(&c, 0xc0000080, false)); /* EFER exits */
	CHECK(vmx_exit_on_exception(&c, X86_UD, 0));
	CHECK(!vmx_exit_on_exception(&c, X86_PF, PFEC_P)); /* EPT: no #PF intercept */
	CHECK(!vmx_exit_on_cr0_write(&c, c.cr0_shadow ^ CR0_TS));
	CHECK(vmx_exit_on_cr0_write(&c, c.cr0_shadow ^ CR0_PG));
}

TEST_MAIN(io_unconditional, io_bitmaps, msr_bitmap, cr_masks, cr3_targets, lmsw, exceptions, default_l0)
