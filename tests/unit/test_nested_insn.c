/*
 * The VMX instructions of an L1 guest (Intel SDM Vol. 3C 31.3), success and
 * failure paths, in pseudocode order: #UD, #GP(0), VMfailInvalid,
 * VMfailValid with the error numbers of 31.4, and VMsucceed (31.2 flags).
 *
 * Each case builds the VM exit the software CPU produces for the instruction
 * (reason, length, instruction information, displacement) on a 64-bit L1
 * booted by the direct protocol, and hands it to L0's exit dispatch, as the
 * emu does.
 */
#include <stdlib.h>

#include <tortuga/tortuga.h>

#include "core/arch.h"
#include "core/boot.h"
#include "core/exit_policy.h"
#include "core/vm.h"
#include "core/vmx_insn_info.h"
#include "core/x86.h"
#include "nested/vmcs12.h"

#include "check.h"

static struct vm *vm;
static struct vcpu *v;

/* Guest-physical (= linear, identity-mapped) addresses used below. */
#define VMXON_PA 0x200000ull
#define VMCS_PA 0x201000ull
#define VMCS2_PA 0x202000ull
#define OPERAND_LA 0x210000ull /* where memory operands live */
#define RIP0 0x100000ull

enum result { R_OK, R_FAIL_VALID, R_FAIL_INVALID, R_UD, R_GP, R_SS, R_PF };

static void fresh(bool nested)
{
	if (vm)
		vm_destroy(vm);
	struct tortuga_config cfg;
	tortuga_config_init(&cfg);
	cfg.mem_size = 64ull << 20;
	if (nested)
		cfg.flags |= TORTUGA_CFG_NESTED;
	vm = NULL;
	int err = vm_create(&cfg, &vm);
	if (err) {
		fprintf(stderr, "vm_create: %s\n", vm ? vm->err : "?");
		exit(1);
	}
	if (boot_direct(vm, RIP0, NULL)) {
		fprintf(stderr, "boot_direct: %s\n", vm->err);
		exit(1);
	}
	v = vm->vcpus[0];
	/* What an OS does before VMXON (SDM 24.7, 24.8). */
	v->s.feature_control = 5;
	v->s.cr4 |= CR4_VMXE;
	vcpu_state_changed(v, STATE_ALL);
}

static void put32(uint64_t pa, uint32_t val)
{
	tortuga_vm_write_phys((tortuga_vm *)vm, pa, &val, 4);
}

static void put64(uint64_t pa, uint64_t val)
{
	tortuga_vm_write_phys((tortuga_vm *)vm, pa, &val, 8);
}

static uint64_t get64(uint64_t pa)
{
	uint64_t val = 0;
	tortuga_vm_read_phys((tortuga_vm *)vm, pa, &val, 8);
	return val;
}

static uint32_t vmcs_error(uint64_t vmcs_pa)
{
	uint32_t e = 0;
	tortuga_vm_read_phys((tortuga_vm *)vm, vmcs_pa + offsetof(struct vmcs12, VM_INSTRUCTION_ERROR), &e, 4);
	return e;
}

/* A memory operand [RBX + disp] (64-bit addressing, DS). */
static struct vm_exit mem_exit(uint32_t reason, uint64_t la, unsigned reg2)
{
	struct vmx_insn_operand o = { .addr_bytes = 8, .seg = SEG_DS, .scale = 1, .base = GPR_RBX, .index = -1,
				      .reg2 = (uint8_t)reg2 };
	v->s.gpr[GPR_RBX] = la - 0x10;
	return (struct vm_exit){ .reason = reason, .insn_len = 4, .insn_info = vmx_insn_info_encode(&o), .qual = 0x10 };
}

/* A register operand (VMREAD/VMWRITE): reg1 is the value, reg2 the field. */
static struct vm_exit reg_exit(uint32_t reason, unsigned reg1, unsigned reg2)
{
	struct vmx_insn_operand o = { .is_reg = 1, .reg1 = (uint8_t)reg1, .reg2 = (uint8_t)reg2 };
	return (struct vm_exit){ .reason = reason, .insn_len = 3, .insn_info = vmx_insn_info_encode(&o) };
}

static struct vm_exit plain_exit(uint32_t reason)
{
	return (struct vm_exit){ .reason = reason, .insn_len = 3 };
}

/* Run the exit at L0 and classify what the instruction did. */
static enum result run(struct vm_exit e)
{
	v->inject.valid = false;
	v->s.rip = RIP0;
	v->s.rflags = RFLAGS_FIXED1 | RFLAGS_ARITH; /* every result flag must be written */
	vcpu_state_changed(v, STATE_FLAGS);
	vcpu_handle_exit(v, &e);
	if (v->inject.valid) {
		CHECK_EQ(v->s.rip, RIP0); /* a faulting instruction is not retired */
		switch (v->inject.vector) {
		case X86_UD:
			return R_UD;
		case X86_GP:
			return R_GP;
		case X86_SS:
			return R_SS;
		case X86_PF:
			return R_PF;
		default:
			return R_UD + 100;
		}
	}
	if (v->level == 1)
		CHECK_EQ(v->s.rip, RIP0 + e.insn_len);
	uint64_t f = v->s.rflags & RFLAGS_ARITH;
	if (f == RFLAGS_CF)
		return R_FAIL_INVALID;
	if (f == RFLAGS_ZF)
		return R_FAIL_VALID;
	CHECK_EQ(f, 0);
	return R_OK;
}

static enum result vmxon_at(uint64_t pa)
{
	put64(OPERAND_LA, pa);
	return run(mem_exit(TORTUGA_EXIT_VMXON, OPERAND_LA, 0));
}

static enum result ptr_insn(uint32_t reason, uint64_t pa)
{
	put64(OPERAND_LA, pa);
	return run(mem_exit(reason, OPERAND_LA, 0));
}

/* VMXON, a VMCS made current: the state most cases start from. */
static void vmx_ready(void)
{
	fresh(true);
	put32(VMXON_PA, VMCS12_REVISION);
	put32(VMCS_PA, VMCS12_REVISION);
	put32(VMCS2_PA, VMCS12_REVISION);
	CHECK_EQ(vmxon_at(VMXON_PA), R_OK);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMCLEAR, VMCS_PA), R_OK);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMPTRLD, VMCS_PA), R_OK);
}

/* ---- VMXON ---- */

static void vmxon_checks(void)
{
	check_test = __func__;
	/* Without nesting, VMX instructions are undefined (CPUID.1:ECX.VMX = 0). */
	fresh(false);
	CHECK_EQ(vmxon_at(VMXON_PA), R_UD);

	fresh(true);
	put32(VMXON_PA, VMCS12_REVISION);
	v->s.cr4 &= ~CR4_VMXE;
	CHECK_EQ(vmxon_at(VMXON_PA), R_UD); /* CR4.VMXE = 0 */
	v->s.cr4 |= CR4_VMXE;
	v->s.feature_control = 1; /* locked without VMX outside SMX */
	CHECK_EQ(vmxon_at(VMXON_PA), R_GP);
	v->s.feature_control = 4; /* not locked */
	CHECK_EQ(vmxon_at(VMXON_PA), R_GP);
	v->s.feature_control = 5;
	v->s.cr0 &= ~CR0_NE; /* IA32_VMX_CR0_FIXED0 has NE */
	CHECK_EQ(vmxon_at(VMXON_PA), R_GP);
	v->s.cr0 |= CR0_NE;
	v->s.seg[SEG_CS].sel |= 3; /* CPL 3 */
	CHECK_EQ(vmxon_at(VMXON_PA), R_GP);
	v->s.seg[SEG_CS].sel &= ~3;
	/* VMfailInvalid: unaligned, beyond MAXPHYADDR, wrong revision, shadow bit. */
	CHECK_EQ(vmxon_at(VMXON_PA + 8), R_FAIL_INVALID);
	CHECK_EQ(vmxon_at(1ull << 40), R_FAIL_INVALID);
	put32(VMXON_PA, VMCS12_REVISION + 1);
	CHECK_EQ(vmxon_at(VMXON_PA), R_FAIL_INVALID);
	put32(VMXON_PA, VMCS12_REVISION | VMCS12_SHADOW_INDICATOR);
	CHECK_EQ(vmxon_at(VMXON_PA), R_FAIL_INVALID);
	/* The memory operand faults before anything else happens. */
	put32(VMXON_PA, VMCS12_REVISION);
	struct vm_exit e = mem_exit(TORTUGA_EXIT_VMXON, 0x0000800000000000ull, 0);
	CHECK_EQ(run(e), R_GP); /* non-canonical */
	e = mem_exit(TORTUGA_EXIT_VMXON, 0x7f0000000000ull, 0);
	CHECK_EQ(run(e), R_PF); /* not mapped */
	CHECK_EQ(v->s.cr2, 0x7f0000000000ull);
	CHECK_EQ(vmxon_at(VMXON_PA), R_OK);
	/* In VMX operation: CR4.VMXE cannot be cleared, CR0.PG neither. */
	CHECK(arch_write_cr4(v, v->s.cr4 & ~CR4_VMXE) == ARCH_FAULT(X86_GP));
	CHECK(arch_write_cr0(v, v->s.cr0 & ~CR0_NE) == ARCH_FAULT(X86_GP));
	/* VMXON in VMX root operation: VMfail(15), invalid without a VMCS ... */
	CHECK_EQ(vmxon_at(VMXON_PA), R_FAIL_INVALID);
	/* ... valid with one. */
	put32(VMCS_PA, VMCS12_REVISION);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMPTRLD, VMCS_PA), R_OK);
	CHECK_EQ(vmxon_at(VMXON_PA), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 15);
}

/* ---- VMXOFF, and #UD outside VMX operation ---- */

static void vmxoff_checks(void)
{
	check_test = __func__;
	fresh(true);
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMXOFF)), R_UD);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMPTRLD, VMCS_PA), R_UD);
	CHECK_EQ(run(reg_exit(TORTUGA_EXIT_VMREAD, GPR_RAX, GPR_RCX)), R_UD);
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMCALL)), R_UD);
	vmx_ready();
	v->s.seg[SEG_CS].sel |= 3;
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMXOFF)), R_GP);
	v->s.seg[SEG_CS].sel &= ~3;
	/* Compatibility mode: #UD. */
	v->s.seg[SEG_CS].ar &= ~SEG_AR_L;
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMXOFF)), R_UD);
	v->s.seg[SEG_CS].ar |= SEG_AR_L;
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMXOFF)), R_OK);
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMXOFF)), R_UD); /* no longer in VMX operation */
	/* CR4.VMXE may be cleared again. */
	CHECK(arch_write_cr4(v, v->s.cr4 & ~CR4_VMXE) == ARCH_OK);
}

/* ---- VMCLEAR, VMPTRLD, VMPTRST ---- */

static void vmptr_checks(void)
{
	check_test = __func__;
	vmx_ready();
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMCLEAR, VMCS_PA + 0x10), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 2);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMCLEAR, VMXON_PA), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 3);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMPTRLD, 1ull << 41), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 9);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMPTRLD, VMXON_PA), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 10);
	put32(VMCS2_PA, 0x12345);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMPTRLD, VMCS2_PA), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 11);
	/* No RAM behind the address: the revision reads as all ones. */
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMPTRLD, 0xd0000000ull), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 11);
	/* A shadow VMCS may be current (VMCS shadowing is allowed-1). */
	put32(VMCS2_PA, VMCS12_REVISION | VMCS12_SHADOW_INDICATOR);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMPTRLD, VMCS2_PA), R_OK);
	/* VMPTRST stores the current-VMCS pointer. */
	put64(OPERAND_LA, 0);
	CHECK_EQ(run(mem_exit(TORTUGA_EXIT_VMPTRST, OPERAND_LA, 0)), R_OK);
	CHECK_EQ(get64(OPERAND_LA), VMCS2_PA);
	/* VMCLEAR of the current VMCS makes no VMCS current ... */
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMCLEAR, VMCS2_PA), R_OK);
	CHECK_EQ(run(mem_exit(TORTUGA_EXIT_VMPTRST, OPERAND_LA, 0)), R_OK);
	CHECK_EQ(get64(OPERAND_LA), ~0ull);
	/* ... so VMfail is now VMfailInvalid. */
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMCLEAR, VMXON_PA), R_FAIL_INVALID);
}

/* ---- VMREAD, VMWRITE ---- */

static enum result vmwrite(uint64_t field, uint64_t val)
{
	v->s.gpr[GPR_RCX] = field;
	v->s.gpr[GPR_RAX] = val;
	return run(reg_exit(TORTUGA_EXIT_VMWRITE, GPR_RAX, GPR_RCX));
}

static enum result vmread(uint64_t field, uint64_t *val)
{
	v->s.gpr[GPR_RCX] = field;
	v->s.gpr[GPR_RDX] = 0xdeadbeef;
	enum result r = run(reg_exit(TORTUGA_EXIT_VMREAD, GPR_RDX, GPR_RCX));
	*val = v->s.gpr[GPR_RDX];
	return r;
}

static void vmread_vmwrite_checks(void)
{
	uint64_t val;
	check_test = __func__;
	vmx_ready();
	/* Round trips at every width (SDM 25.11.2). */
	CHECK_EQ(vmwrite(VMCS_GUEST_RIP, 0x123456789abcull), R_OK);
	CHECK_EQ(vmread(VMCS_GUEST_RIP, &val), R_OK);
	CHECK_EQ(val, 0x123456789abcull);
	CHECK_EQ(vmwrite(VMCS_GUEST_CS_SELECTOR, 0x12345), R_OK); /* 16-bit: truncated */
	CHECK_EQ(vmread(VMCS_GUEST_CS_SELECTOR, &val), R_OK);
	CHECK_EQ(val, 0x2345);
	CHECK_EQ(vmwrite(VMCS_EXCEPTION_BITMAP, 0xffffffff00004000ull), R_OK); /* 32-bit */
	CHECK_EQ(vmread(VMCS_EXCEPTION_BITMAP, &val), R_OK);
	CHECK_EQ(val, 0x4000);
	/* 64-bit fields: the high access (encoding | 1) is bits 63:32. */
	CHECK_EQ(vmwrite(VMCS_TSC_OFFSET, 0x1111222233334444ull), R_OK);
	CHECK_EQ(vmread(VMCS_TSC_OFFSET | 1, &val), R_OK);
	CHECK_EQ(val, 0x11112222);
	CHECK_EQ(vmwrite(VMCS_TSC_OFFSET | 1, 0x5555), R_OK);
	CHECK_EQ(vmread(VMCS_TSC_OFFSET, &val), R_OK);
	CHECK_EQ(val, 0x0000555533334444ull);
	/* Unsupported components: VMfailValid(12). */
	CHECK_EQ(vmread(VMCS_POSTED_INTR_NV, &val), R_FAIL_VALID); /* feature not offered */
	CHECK_EQ(vmcs_error(VMCS_PA), 12);
	CHECK_EQ(val, 0xdeadbeef); /* destination untouched */
	CHECK_EQ(vmwrite(0x6c00 | 1, 0), R_FAIL_VALID); /* high access to a natural-width field */
	CHECK_EQ(vmwrite(1ull << 32 | VMCS_GUEST_RIP, 0), R_FAIL_VALID); /* bits 63:32 */
	CHECK_EQ(vmwrite(0x4024, 0), R_FAIL_VALID); /* notify window: not offered */
	/* Read-only data fields are writable: IA32_VMX_MISC[29] = 1. */
	CHECK_EQ(vmwrite(VMCS_VM_EXIT_REASON, 10), R_OK);
	CHECK_EQ(vmread(VMCS_VM_EXIT_REASON, &val), R_OK);
	CHECK_EQ(val, 10);
	/* A memory destination: 8 bytes in 64-bit mode. */
	v->s.gpr[GPR_RCX] = VMCS_GUEST_RIP;
	put64(OPERAND_LA, ~0ull);
	CHECK_EQ(run(mem_exit(TORTUGA_EXIT_VMREAD, OPERAND_LA, GPR_RCX)), R_OK);
	CHECK_EQ(get64(OPERAND_LA), 0x123456789abcull);
	/* A memory source. */
	put64(OPERAND_LA, 0xfeed);
	CHECK_EQ(run(mem_exit(TORTUGA_EXIT_VMWRITE, OPERAND_LA, GPR_RCX)), R_OK);
	CHECK_EQ(vmread(VMCS_GUEST_RIP, &val), R_OK);
	CHECK_EQ(val, 0xfeed);
	/* A faulting destination only after the field checks (31.3 VMREAD). */
	v->s.gpr[GPR_RCX] = VMCS_POSTED_INTR_NV;
	CHECK_EQ(run(mem_exit(TORTUGA_EXIT_VMREAD, 0x7f0000000000ull, GPR_RCX)), R_FAIL_VALID);
	v->s.gpr[GPR_RCX] = VMCS_GUEST_RIP;
	CHECK_EQ(run(mem_exit(TORTUGA_EXIT_VMREAD, 0x7f0000000000ull, GPR_RCX)), R_PF);
	/* Without a current VMCS: VMfailInvalid. */
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMCLEAR, VMCS_PA), R_OK);
	CHECK_EQ(vmread(VMCS_GUEST_RIP, &val), R_FAIL_INVALID);
	CHECK_EQ(vmwrite(VMCS_GUEST_RIP, 0), R_FAIL_INVALID);
}

/* ---- VMLAUNCH, VMRESUME up to the VM-entry checks ---- */

static void vmlaunch_checks(void)
{
	check_test = __func__;
	vmx_ready();
	v->s.interruptibility = INTR_BLOCK_MOV_SS;
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMLAUNCH)), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 26);
	v->s.interruptibility = 0;
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMRESUME)), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 5);
	/* An all-zero VMCS has invalid controls: VMfailValid(7). */
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMLAUNCH)), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 7);
	/* A launched VMCS: VMLAUNCH fails with 4 ... */
	uint32_t launched[2] = { VMCS12_LAUNCHED, 0 };
	tortuga_vm_write_phys((tortuga_vm *)vm, VMCS_PA + offsetof(struct vmcs12, launch_state), launched, 8);
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMLAUNCH)), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 4);
	/* ... and VMRESUME after VMXOFF/VMXON with 6. */
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMXOFF)), R_OK);
	CHECK_EQ(vmxon_at(VMXON_PA), R_OK);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMPTRLD, VMCS_PA), R_OK);
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMRESUME)), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 6);
	/* A shadow VMCS cannot be launched: VMfailInvalid (27.1). */
	put32(VMCS2_PA, VMCS12_REVISION | VMCS12_SHADOW_INDICATOR);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMCLEAR, VMCS2_PA), R_OK);
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMPTRLD, VMCS2_PA), R_OK);
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMLAUNCH)), R_FAIL_INVALID);
	/* No current VMCS. */
	CHECK_EQ(ptr_insn(TORTUGA_EXIT_VMCLEAR, VMCS2_PA), R_OK);
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMLAUNCH)), R_FAIL_INVALID);
}

/* ---- INVEPT, INVVPID ---- */

static enum result inv(uint32_t reason, uint64_t type, uint64_t lo, uint64_t hi)
{
	put64(OPERAND_LA, lo);
	put64(OPERAND_LA + 8, hi);
	v->s.gpr[GPR_RDX] = type;
	return run(mem_exit(reason, OPERAND_LA, GPR_RDX));
}

static void invept_invvpid_checks(void)
{
	check_test = __func__;
	vmx_ready();
	uint64_t eptp = 0x300000 | (3 << 3) | 6;
	CHECK_EQ(inv(TORTUGA_EXIT_INVEPT, 1, eptp, 0), R_OK);
	CHECK_EQ(inv(TORTUGA_EXIT_INVEPT, 2, 0, 0), R_OK);
	CHECK_EQ(inv(TORTUGA_EXIT_INVEPT, 0, eptp, 0), R_FAIL_VALID); /* type 0 does not exist */
	CHECK_EQ(vmcs_error(VMCS_PA), 28);
	CHECK_EQ(inv(TORTUGA_EXIT_INVEPT, 3, eptp, 0), R_FAIL_VALID);
	CHECK_EQ(inv(TORTUGA_EXIT_INVEPT, 1, 0x300000 | (2 << 3) | 6, 0), R_FAIL_VALID); /* walk length 3 */
	CHECK_EQ(inv(TORTUGA_EXIT_INVVPID, 0, 1, 0x1000), R_OK);
	CHECK_EQ(inv(TORTUGA_EXIT_INVVPID, 1, 1, 0), R_OK);
	CHECK_EQ(inv(TORTUGA_EXIT_INVVPID, 2, 0, 0), R_OK); /* all contexts: VPID 0 is fine */
	CHECK_EQ(inv(TORTUGA_EXIT_INVVPID, 3, 7, 0), R_OK);
	CHECK_EQ(inv(TORTUGA_EXIT_INVVPID, 4, 1, 0), R_FAIL_VALID);
	CHECK_EQ(inv(TORTUGA_EXIT_INVVPID, 1, 0, 0), R_FAIL_VALID); /* VPID 0 */
	CHECK_EQ(inv(TORTUGA_EXIT_INVVPID, 1, 1ull << 16, 0), R_FAIL_VALID); /* reserved bits */
	CHECK_EQ(inv(TORTUGA_EXIT_INVVPID, 0, 1, 0x0000800000000000ull), R_FAIL_VALID); /* non-canonical */
	CHECK_EQ(vmcs_error(VMCS_PA), 28);
	v->s.seg[SEG_CS].sel |= 3;
	CHECK_EQ(inv(TORTUGA_EXIT_INVEPT, 2, 0, 0), R_GP);
	v->s.seg[SEG_CS].sel &= ~3;
}

/* ---- VMCALL and VMFUNC in VMX root operation ---- */

static void vmcall_vmfunc_checks(void)
{
	check_test = __func__;
	vmx_ready();
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMCALL)), R_FAIL_VALID);
	CHECK_EQ(vmcs_error(VMCS_PA), 1);
	/* L1 runs with "enable VM functions" = 0: VMFUNC is #UD. */
	CHECK_EQ(run(plain_exit(TORTUGA_EXIT_VMFUNC)), R_UD);
}

/* ---- the capability MSRs ---- */

static void capability_msrs(void)
{
	uint64_t basic, val;
	check_test = __func__;
	fresh(false);
	CHECK(arch_read_msr(v, 0x480, &basic) == ARCH_FAULT(X86_GP)); /* no VMX without nesting */
	fresh(true);
	CHECK(arch_read_msr(v, 0x480, &basic) == ARCH_OK);
	CHECK_EQ(basic & 0x7fffffff, VMCS12_REVISION);
	CHECK_EQ((basic >> 32) & 0x1fff, 4096); /* region size */
	CHECK_EQ((basic >> 50) & 0xf, 6); /* write-back */
	CHECK(basic & (1ull << 55)); /* TRUE controls */
	/* Default1 bits: set in the low half of the non-TRUE MSRs (A.2). */
	CHECK(arch_read_msr(v, 0x481, &val) == ARCH_OK);
	CHECK_EQ((uint32_t)val & 0x16, 0x16);
	CHECK(arch_read_msr(v, 0x482, &val) == ARCH_OK);
	CHECK_EQ((uint32_t)val & 0x0401e172, 0x0401e172);
	CHECK(arch_read_msr(v, 0x48e, &val) == ARCH_OK); /* TRUE: CR3 exiting may be 0 */
	CHECK_EQ((uint32_t)val & (3u << 15), 0);
	CHECK(arch_read_msr(v, 0x486, &val) == ARCH_OK);
	CHECK_EQ(val, CR0_PE | CR0_NE | CR0_PG);
	CHECK(arch_read_msr(v, 0x488, &val) == ARCH_OK);
	CHECK_EQ(val, CR4_VMXE);
	CHECK(arch_read_msr(v, 0x48a, &val) == ARCH_OK);
	/* The highest index: VMX-preemption timer value, 0000482EH (App. B). */
	CHECK_EQ((val >> 1) & 0x1ff, (0x482e >> 1) & 0x1ff);
	/* IA32_VMX_EPT_VPID_CAP and IA32_VMX_VMFUNC exist because EPT, VPID and
	 * VM functions may be enabled; IA32_VMX_PROCBASED_CTLS3 and
	 * IA32_VMX_EXIT_CTLS2 do not, as tertiary processor-based controls and
	 * secondary exit controls may not be (SDM A.3.4, A.4.2). */
	CHECK(arch_read_msr(v, 0x48c, &val) == ARCH_OK);
	CHECK(val & (1ull << 6)); /* page-walk length 4 */
	CHECK(arch_read_msr(v, 0x491, &val) == ARCH_OK);
	CHECK_EQ(val, 1); /* EPTP switching */
	CHECK(arch_read_msr(v, 0x48e, &val) == ARCH_OK);
	CHECK_EQ((val >> 32) & VMX_PROC_TERTIARY_CONTROLS, 0);
	CHECK(arch_read_msr(v, 0x492, &val) == ARCH_FAULT(X86_GP));
	CHECK(arch_read_msr(v, 0x493, &val) == ARCH_FAULT(X86_GP));
	/* Read-only: WRMSR #GPs. */
	CHECK(arch_write_msr(v, 0x480, basic) == ARCH_FAULT(X86_GP));
	/* IA32_FEATURE_CONTROL: VMX bits writable once, then locked. */
	v->s.feature_control = 0;
	CHECK(arch_write_msr(v, 0x3a, 1ull << 20) == ARCH_FAULT(X86_GP)); /* reserved here */
	CHECK(arch_write_msr(v, 0x3a, 5) == ARCH_OK);
	CHECK(arch_write_msr(v, 0x3a, 5) == ARCH_FAULT(X86_GP));
}

static void cleanup(void)
{
	vm_destroy(vm);
	vm = NULL;
}

TEST_MAIN(vmxon_checks, vmxoff_checks, vmptr_checks, vmread_vmwrite_checks, vmlaunch_checks,
	  invept_invvpid_checks, vmcall_vmfunc_checks, capability_msrs, cleanup)
