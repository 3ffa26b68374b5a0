/*
 * VM-entry checks (Intel SDM Vol. 3C 27.2, 27.3): pure functions of a vmcs12
 * region, the VMX capabilities and the few processor facts the SDM consults.
 * Each returns the first failing check of entry_checks.def (CHECK_OK if all
 * hold) and records the condition's source text, so that a failed entry
 * always names its check (KVM's CC() idea).
 */
#ifndef NESTED_CHECKS_H
#define NESTED_CHECKS_H

#include <stdbool.h>
#include <stdint.h>

#include "nested.h"

enum entry_check {
	CHECK_OK = 0,
#define X(name, cls, qual, sec, text) CHECK_##name,
#include "entry_checks.def"
#undef X
	CHECK_COUNT
};

enum entry_check_class { CLASS_CTL, CLASS_HOST, CLASS_GUEST, CLASS_MSR };

struct entry_check_info {
	const char *name;
	const char *section;
	const char *text;
	uint8_t cls; /* enum entry_check_class */
	uint8_t qual; /* exit qualification of a failed entry (GUEST class) */
};

extern const struct entry_check_info entry_checks[CHECK_COUNT];

struct entry_ctx {
	const uint8_t *vmcs; /* vmcs12 */
	const struct vmx_caps *caps;
	unsigned phys_bits, virt_bits;
	uint64_t efer_valid; /* IA32_EFER bits the CPU model supports */
	bool cpu_lma; /* IA32_EFER.LMA of the logical processor (L1) at VMLAUNCH */
	uint64_t vmptr; /* current-VMCS pointer */
	/* Read L1 guest-physical memory (VMCS link pointer, PDPTEs); false if
	 * the address has no RAM. */
	bool (*read_phys)(void *opaque, uint64_t gpa, void *buf, unsigned len);
	void *opaque;
};

struct entry_result {
	enum entry_check check;
	const char *cond; /* source text of the failing condition */
};

enum entry_check nested_check_controls(const struct entry_ctx *c, struct entry_result *r);
enum entry_check nested_check_host(const struct entry_ctx *c, struct entry_result *r);
enum entry_check nested_check_guest(const struct entry_ctx *c, struct entry_result *r);

/* Valid IA32_PAT value: every entry a memory type 0, 1, 4, 5, 6 or 7 (SDM 11.12.2). */
bool nested_pat_valid(uint64_t pat);
/* Valid EPTP for the capabilities (SDM 25.6.11). */
bool nested_eptp_valid(const struct vmx_caps *caps, uint64_t eptp, unsigned phys_bits);

#endif
