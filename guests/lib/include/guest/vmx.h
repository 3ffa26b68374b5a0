/*
 * VMX for guest hypervisors (freestanding): instruction wrappers and the
 * hardware tables -- VMCS field encodings (nested/vmcs_fields.def), control
 * bits (core/hw/vmx_controls.def), exit reasons (tortuga/exit_reasons.def) --
 * read from the same tables tortuga uses, so nothing is restated.
 *
 * Every wrapper returns the VMX result of Intel SDM Vol. 3C 31.2:
 * VMX_OK (VMsucceed), VMX_FAIL_VALID (ZF = 1: the error is in the current
 * VMCS's VM-instruction error field) or VMX_FAIL_INVALID (CF = 1).
 */
#ifndef GUEST_VMX_H
#define GUEST_VMX_H

#include <stdint.h>

enum vmcs_field_enc {
#define X(name, enc, off, sh, impl) VMCS_##name = (enc),
#include "nested/vmcs_fields.def"
#undef X
};

enum {
#define X(cls, name, bit, desc) VMX_##cls##_##name = (1u << (bit)),
#include "core/hw/vmx_controls.def"
#undef X
};

enum {
#define X(name, num, str) EXIT_##name = num,
#include <tortuga/exit_reasons.def>
#undef X
};

/* Capability MSRs (SDM Appendix A). */
#define MSR_IA32_FEATURE_CONTROL 0x3a
#define MSR_IA32_VMX_BASIC 0x480
#define MSR_IA32_VMX_PINBASED_CTLS 0x481
#define MSR_IA32_VMX_PROCBASED_CTLS 0x482
#define MSR_IA32_VMX_EXIT_CTLS 0x483
#define MSR_IA32_VMX_ENTRY_CTLS 0x484
#define MSR_IA32_VMX_MISC 0x485
#define MSR_IA32_VMX_CR0_FIXED0 0x486
#define MSR_IA32_VMX_CR0_FIXED1 0x487
#define MSR_IA32_VMX_CR4_FIXED0 0x488
#define MSR_IA32_VMX_CR4_FIXED1 0x489
#define MSR_IA32_VMX_PROCBASED_CTLS2 0x48b
#define MSR_IA32_VMX_EPT_VPID_CAP 0x48c
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS 0x48d
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x48e
#define MSR_IA32_VMX_TRUE_EXIT_CTLS 0x48f
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS 0x490
#define MSR_IA32_VMX_VMFUNC 0x491

#define VMX_OK 0
#define VMX_FAIL_VALID 1
#define VMX_FAIL_INVALID 2

/* The flags after a VMX instruction: CF -> fail invalid, ZF -> fail valid. */
#define VMX_RESULT(cf, zf) ((cf) ? VMX_FAIL_INVALID : (zf) ? VMX_FAIL_VALID : VMX_OK)

#define VMX_MEM_INSN(name, insn)                                                    \
	static inline int name(uint64_t pa)                                         \
	{                                                                           \
		uint8_t cf, zf;                                                     \
		__asm__ volatile(insn " %2; setc %0; setz %1"                       \
				 : "=qm"(cf), "=qm"(zf)                             \
				 : "m"(pa)                                          \
				 : "cc", "memory");                                 \
		return VMX_RESULT(cf, zf);                                          \
	}
VMX_MEM_INSN(vmxon, "vmxon")
VMX_MEM_INSN(vmclear, "vmclear")
VMX_MEM_INSN(vmptrld, "vmptrld")
#undef VMX_MEM_INSN

static inline int vmptrst(uint64_t *pa)
{
	uint8_t cf, zf;
	__asm__ volatile("vmptrst %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf), "=m"(*pa) : : "cc", "memory");
	return VMX_RESULT(cf, zf);
}

static inline int vmxoff(void)
{
	uint8_t cf, zf;
	__asm__ volatile("vmxoff; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : : "cc", "memory");
	return VMX_RESULT(cf, zf);
}

/* VMREAD r/m64, r64 (AT&T: field register first). */
static inline int vmread_checked(uint64_t field, uint64_t *val)
{
	uint8_t cf, zf;
	__asm__ volatile("vmread %3, %2; setc %0; setz %1"
			 : "=qm"(cf), "=qm"(zf), "=r"(*val)
			 : "r"(field)
			 : "cc");
	return VMX_RESULT(cf, zf);
}

static inline uint64_t vmread(uint64_t field)
{
	uint64_t v = 0;
	vmread_checked(field, &v);
	return v;
}

/* VMWRITE r64, r/m64 (AT&T: source first). */
static inline int vmwrite(uint64_t field, uint64_t val)
{
	uint8_t cf, zf;
	__asm__ volatile("vmwrite %3, %2; setc %0; setz %1"
			 : "=qm"(cf), "=qm"(zf)
			 : "r"(field), "rm"(val)
			 : "cc");
	return VMX_RESULT(cf, zf);
}

/* INVEPT / INVVPID r64, m128. */
static inline int invept(uint64_t type, uint64_t eptp)
{
	struct {
		uint64_t eptp, zero;
	} desc = { eptp, 0 };
	uint8_t cf, zf;
	__asm__ volatile("invept %2, %3; setc %0; setz %1"
			 : "=qm"(cf), "=qm"(zf)
			 : "m"(desc), "r"(type)
			 : "cc", "memory");
	return VMX_RESULT(cf, zf);
}

static inline int invvpid(uint64_t type, uint16_t vpid, uint64_t la)
{
	struct {
		uint64_t vpid, la;
	} desc = { vpid, la };
	uint8_t cf, zf;
	__asm__ volatile("invvpid %2, %3; setc %0; setz %1"
			 : "=qm"(cf), "=qm"(zf)
			 : "m"(desc), "r"(type)
			 : "cc", "memory");
	return VMX_RESULT(cf, zf);
}

/* VMCALL from a guest: the hypervisor sees exit reason 18. */
static inline uint64_t vmcall(uint64_t nr, uint64_t arg)
{
	uint64_t ret;
	__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "b"(arg) : "memory");
	return ret;
}

/* A control value that the capability MSR allows: the must-be-1 bits
 * (low dword) set, the may-not-be-1 bits (high dword clear) cleared
 * (SDM A.3). */
static inline uint32_t vmx_adjust_ctl(uint32_t want, uint64_t cap)
{
	return (want | (uint32_t)cap) & (uint32_t)(cap >> 32);
}

#endif
