/*
 * Fuzz VM entry: VMLAUNCH on random vmcs12 contents (DESIGN.md: a guest can
 * never crash tortuga). Each iteration boots a fresh L1, makes a VMCS
 * current, fills it -- either with random bytes or with a valid 64-bit VMCS
 * (EPT, VPID, MSR-load areas, event injection...) with a few fields
 * overwritten at random, over random EPT and bitmap pages -- and executes
 * VMLAUNCH through L0's exit dispatch. The outcome must be one of the three
 * the SDM allows (Vol. 3C 27.1-27.8):
 *   VMfail (VMfailInvalid, or VMfailValid with error 7 or 8), L1 continues;
 *   a VM-entry failure exit (reason 33 or 34, bit 31 set) at L1's host RIP;
 *   an entry into L2,
 * and whatever L2 then does for a few thousand instructions (exits
 * reflected to L1, faults, garbage EPT) must not crash or hang tortuga.
 *
 *   fuzz_vmlaunch [--iterations N] [--seed S] [--verbose]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <tortuga/tortuga.h>

#include "core/arch.h"
#include "core/boot.h"
#include "core/vm.h"
#include "core/vmx_insn_info.h"
#include "core/x86.h"
#include "nested/vmcs12.h"
#include "support/vmcs_flat64.h"

#define VMXON_PA 0x200000ull
#define VMCS_PA 0x201000ull
#define LINK_PA 0x202000ull
#define PAGES_PA 0x300000ull /* 64 pages of random or valid structures */
#define NPAGES 64
#define EPT_PML4 (PAGES_PA + 0x0000)
#define EPT_PDPT (PAGES_PA + 0x1000)
#define MSR_AREA (PAGES_PA + 0x2000)
#define L2_CODE 0x180000ull
#define HOST_CODE 0x190000ull
#define OPERAND_LA 0x210000ull

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Values with structure: small numbers, single bits, masks, addresses in
 * RAM, and plain noise. */
static uint64_t interesting(void)
{
	switch (rnd() % 7) {
	case 0:
		return rnd() % 16;
	case 1:
		return 1ull << (rnd() % 64);
	case 2:
		return ~0ull >> (rnd() % 64);
	case 3:
		return PAGES_PA + (rnd() % NPAGES) * 4096 + (rnd() % 2 ? 0 : rnd() % 4096);
	case 4:
		return ~0ull;
	default:
		return rnd();
	}
}

static struct vm *vm;
static struct vcpu *v;
static struct vmx_caps_view {
	uint64_t pin, proc, proc2, exit, entry;
} caps;

static void put(uint64_t pa, const void *buf, size_t n)
{
	tortuga_vm_write_phys((tortuga_vm *)vm, pa, buf, n);
}

static uint64_t msr(uint32_t idx)
{
	uint64_t val = 0;
	arch_read_msr(v, idx, &val);
	return val;
}

static void boot(void)
{
	if (vm)
		vm_destroy(vm);
	struct tortuga_config cfg;
	tortuga_config_init(&cfg);
	cfg.mem_size = 32ull << 20;
	cfg.flags = TORTUGA_CFG_NESTED | (rnd() % 2 ? TORTUGA_CFG_NO_SHADOW_VMCS : 0);
	cfg.trace_ring_events = 64;
	cfg.flags |= TORTUGA_CFG_TRACE_OVERWRITE;
	vm = NULL;
	if (vm_create(&cfg, &vm) || boot_direct(vm, L2_CODE, NULL)) {
		fprintf(stderr, "fuzz: cannot create a VM: %s\n", vm ? vm->err : "");
		exit(2);
	}
	vm->warn_budget = 0;
	vm->image.loaded = true; /* the "image" is what this program writes */
	v = vm->vcpus[0];
	v->s.feature_control = 5;
	v->s.cr4 |= CR4_VMXE;
	vcpu_state_changed(v, STATE_ALL);
	caps.pin = msr(0x48d);
	caps.proc = msr(0x48e);
	caps.proc2 = msr(0x48b);
	caps.exit = msr(0x48f);
	caps.entry = msr(0x490);
}

static int vmx_insn(uint32_t reason, uint64_t operand)
{
	put(OPERAND_LA, &operand, 8);
	struct vmx_insn_operand o = { .addr_bytes = 8, .seg = SEG_DS, .scale = 1, .base = -1, .index = -1 };
	struct vm_exit e = { .reason = reason, .insn_len = 3, .insn_info = vmx_insn_info_encode(&o), .qual = OPERAND_LA };
	v->s.rflags = RFLAGS_FIXED1;
	vcpu_state_changed(v, STATE_FLAGS);
	return vcpu_handle_exit(v, &e);
}

static uint8_t region[VMCS12_SIZE];
#define SET(name, val) V12_SET(region, name, val)

static uint32_t adjust(uint32_t want, uint64_t cap)
{
	return (want | (uint32_t)cap) & (uint32_t)(cap >> 32);
}

/* A valid VMCS for a 64-bit L2 with randomly chosen features. */
static void valid_vmcs(void)
{
	uint32_t proc2 = (uint32_t)(rnd() & (caps.proc2 >> 32));
	proc2 &= ~VMX_PROC2_UNRESTRICTED_GUEST;
	if (!(proc2 & VMX_PROC2_ENABLE_EPT))
		proc2 &= ~VMX_PROC2_ENABLE_VMFUNC;
	SET(PIN_BASED_VM_EXEC_CONTROL, adjust((uint32_t)rnd() & ~VMX_PIN_VIRTUAL_NMIS, caps.pin));
	SET(CPU_BASED_VM_EXEC_CONTROL, adjust((uint32_t)rnd() | VMX_PROC_SECONDARY_CONTROLS, caps.proc));
	SET(SECONDARY_VM_EXEC_CONTROL, proc2);
	SET(VM_EXIT_CONTROLS, adjust(VMX_EXIT_HOST_ADDR_SPACE_SIZE | ((uint32_t)rnd() & VMX_EXIT_SAVE_PAT), caps.exit));
	SET(VM_ENTRY_CONTROLS, adjust(VMX_ENTRY_IA32E_MODE_GUEST, caps.entry));
	SET(EXCEPTION_BITMAP, rnd());
	SET(CR3_TARGET_COUNT, rnd() % 5);
	for (int k = 0; k < 3; k++)
		vmcs12_store(region, offsetof(struct vmcs12, IO_BITMAP_A) + 8 * k, 8, PAGES_PA + (rnd() % NPAGES) * 4096);
	SET(VMREAD_BITMAP, PAGES_PA + (rnd() % NPAGES) * 4096);
	SET(VMWRITE_BITMAP, PAGES_PA + (rnd() % NPAGES) * 4096);
	SET(EPTP_LIST_ADDRESS, PAGES_PA + (rnd() % NPAGES) * 4096);
	SET(VM_FUNCTION_CONTROL, rnd() & 1);
	SET(VIRTUAL_PROCESSOR_ID, 1 + rnd() % 100);
	SET(EPT_POINTER, EPT_PML4 | (3 << 3) | 6 | (rnd() % 2 ? 1 << 6 : 0));
	SET(VMX_PREEMPTION_TIMER_VALUE, rnd() % 4096);
	if (rnd() % 4 == 0) {
		SET(VM_ENTRY_MSR_LOAD_ADDR, MSR_AREA);
		SET(VM_ENTRY_MSR_LOAD_COUNT, rnd() % 4);
		SET(VM_EXIT_MSR_LOAD_ADDR, MSR_AREA + 0x100);
		SET(VM_EXIT_MSR_LOAD_COUNT, rnd() % 4);
		SET(VM_EXIT_MSR_STORE_ADDR, MSR_AREA + 0x200);
		SET(VM_EXIT_MSR_STORE_COUNT, rnd() % 4);
	}
	if (rnd() % 4 == 0) /* inject a hardware exception */
		SET(VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | X86_UD);
	vmcs_flat64_state(region, v->s.cr0, v->s.cr3, v->s.cr4, 0x18, HOST_CODE, L2_CODE);
	SET(VMCS_LINK_POINTER, (proc2 & VMX_PROC2_VMCS_SHADOWING) ? LINK_PA : ~0ull);
	SET(GUEST_GDTR_BASE, v->s.gdtr.base);
	SET(GUEST_GDTR_LIMIT, v->s.gdtr.limit);
	if (rnd() % 2)
		SET(GUEST_RIP, PAGES_PA + (rnd() % (NPAGES * 4096)));
	if (rnd() % 2)
		SET(GUEST_RFLAGS, RFLAGS_FIXED1 | RFLAGS_TF);
}

/* Overwrite a few fields with interesting values. */
static void mutate(unsigned k)
{
	while (k--) {
		int id = (int)(rnd() % VMCSF_COUNT);
		vmcs12_store(region, vmcs_fields[id].offset, vmcs_fields[id].bytes, interesting());
	}
}

/* Random pages: valid-looking EPT entries, bitmaps, MSR entries, noise. */
static void fill_pages(void)
{
	static uint64_t page[512];
	for (int p = 0; p < NPAGES; p++) {
		unsigned style = (unsigned)(rnd() % 4);
		for (int k = 0; k < 512; k++) {
			switch (style) {
			case 0:
				page[k] = 0;
				break;
			case 1: /* EPT-like entries: pages here, RWX, WB, sometimes large */
				page[k] = (PAGES_PA + (rnd() % NPAGES) * 4096) | 7 | (6ull << 3) |
					  (rnd() % 8 == 0 ? 1ull << 7 : 0);
				break;
			case 2: /* MSR-area-like entries */
				page[k] = k % 2 ? interesting() : (rnd() % 2 ? 0xc0000080ull : rnd() % 0x2000);
				break;
			default:
				page[k] = rnd();
			}
		}
		put(PAGES_PA + p * 4096ull, page, sizeof(page));
	}
	/* A root that maps the low GiBs 1:1 half of the time. */
	uint64_t pml4e = EPT_PDPT | 7, pdpte[4];
	put(EPT_PML4, &pml4e, 8);
	if (rnd() % 2) {
		for (int g = 0; g < 4; g++)
			pdpte[g] = ((uint64_t)g << 30) | 7 | (6ull << 3) | (1ull << 7);
		put(EPT_PDPT, pdpte, sizeof(pdpte));
	}
	/* L2's code: bytes that do something, or noise. */
	uint8_t code[64];
	for (int k = 0; k < 64; k++)
		code[k] = (uint8_t)rnd();
	static const uint8_t cpuid_loop[] = { 0x0f, 0xa2, 0x0f, 0x01, 0xc1, 0xeb, 0xf9 }; /* cpuid; vmcall; jmp */
	if (rnd() % 2)
		memcpy(code, cpuid_loop, sizeof(cpuid_loop));
	put(L2_CODE, code, sizeof(code));
	static const uint8_t host_loop[] = { 0xf4, 0xeb, 0xfd }; /* hlt; jmp */
	put(HOST_CODE, host_loop, sizeof(host_loop));
	uint32_t rev = VMCS12_REVISION | VMCS12_SHADOW_INDICATOR;
	put(LINK_PA, &rev, 4);
}

enum outcome { OUT_FAIL_INVALID, OUT_FAIL_VALID, OUT_ENTRY_FAILURE, OUT_ENTRY, OUT_COUNT };
static const char *const outcome_names[OUT_COUNT] = { "VMfailInvalid", "VMfailValid", "entry-failure exit",
						     "entry" };

static int one(uint64_t iter, uint64_t counts[OUT_COUNT], uint64_t stops[8])
{
	boot();
	uint32_t rev = VMCS12_REVISION;
	put(VMXON_PA, &rev, 4);
	put(VMCS_PA, &rev, 4);
	fill_pages();
	static const uint32_t setup[3] = { TORTUGA_EXIT_VMXON, TORTUGA_EXIT_VMCLEAR, TORTUGA_EXIT_VMPTRLD };
	static const uint64_t setup_pa[3] = { VMXON_PA, VMCS_PA, VMCS_PA };
	for (int k = 0; k < 3; k++) {
		if (vmx_insn(setup[k], setup_pa[k]) || (v->s.rflags & RFLAGS_ARITH) || v->inject.valid) {
			fprintf(stderr, "fuzz: iteration %" PRIu64 ": setup instruction %u failed (flags %#" PRIx64
				", exception %d)\n",
				iter, setup[k], v->s.rflags, v->inject.valid ? v->inject.vector : -1);
			return 1;
		}
	}
	memset(region, 0, sizeof(region));
	if (rnd() % 4 == 0) {
		for (size_t k = 0; k < sizeof(region); k++)
			region[k] = (uint8_t)rnd();
	} else {
		valid_vmcs();
		mutate((unsigned)(rnd() % 6));
	}
	/* The header is the processor's: revision, launch state clear; now
	 * and then the shadow-VMCS indicator, which VMLAUNCH refuses. */
	memset(region, 0, 16);
	uint32_t hdr = rev | (rnd() % 16 == 0 ? VMCS12_SHADOW_INDICATOR : 0);
	memcpy(region, &hdr, 4);
	put(VMCS_PA, region, sizeof(region));

	v->s.rip = 0x100000;
	v->s.rflags = RFLAGS_FIXED1;
	vcpu_state_changed(v, STATE_FLAGS);
	struct vm_exit e = { .reason = TORTUGA_EXIT_VMLAUNCH, .insn_len = 3 };
	if (vcpu_handle_exit(v, &e) < 0) {
		fprintf(stderr, "fuzz: iteration %" PRIu64 ": L0 error: %s\n", iter, vm->err);
		return 1;
	}
	uint32_t reason = 0, err = 0;
	tortuga_vm_read_phys((tortuga_vm *)vm, VMCS_PA + offsetof(struct vmcs12, VM_EXIT_REASON), &reason, 4);
	tortuga_vm_read_phys((tortuga_vm *)vm, VMCS_PA + offsetof(struct vmcs12, VM_INSTRUCTION_ERROR), &err, 4);
	enum outcome out;
	uint64_t f = v->s.rflags & RFLAGS_ARITH;
	if (v->level == 2)
		out = OUT_ENTRY;
	else if (f == RFLAGS_CF && v->s.rip == 0x100003)
		out = OUT_FAIL_INVALID;
	else if (f == RFLAGS_ZF && v->s.rip == 0x100003 && (err == 7 || err == 8))
		out = OUT_FAIL_VALID;
	else if ((reason & (1u << 31)) && ((reason & 0xffff) == 33 || (reason & 0xffff) == 34) &&
		 v->s.rip == V12(region, HOST_RIP))
		out = OUT_ENTRY_FAILURE;
	else {
		fprintf(stderr,
			"fuzz: iteration %" PRIu64 ": VMLAUNCH outcome not allowed by the SDM: level %u rip %#" PRIx64
			" flags %#" PRIx64 " error %u exit reason %#x\n",
			iter, v->level, v->s.rip, f, err, reason);
		return 1;
	}
	counts[out]++;
	/* Let it run: L2, exits to L1, L1's HLT. Bounded by instructions. */
	v->insn_limit = v->stats.insns + 3000;
	vm_run(vm);
	stops[vm->stop_reason & 7]++;
	if (vm->stop_reason == TORTUGA_STOP_ERROR)
		fprintf(stderr, "fuzz: iteration %" PRIu64 ": tortuga stopped the VM: %s\n", iter, vm->err);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t iterations = 200, seed = 1;
	bool verbose = false;
	for (int k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--iterations") && k + 1 < argc)
			iterations = strtoull(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "--seed") && k + 1 < argc)
			seed = strtoull(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "--verbose"))
			verbose = true;
		else {
			fprintf(stderr, "usage: fuzz_vmlaunch [--iterations N] [--seed S] [--verbose]\n");
			return 2;
		}
	}
	uint64_t counts[OUT_COUNT] = { 0 }, stops[8] = { 0 };
	for (uint64_t it = 0; it < iterations; it++) {
		rng_state = seed * 0x100000001b3ull + it;
		if (one(it, counts, stops)) {
			fprintf(stderr, "fuzz: reproduce with --seed %" PRIu64 " (iteration %" PRIu64 ")\n", seed, it);
			return 1;
		}
	}
	vm_destroy(vm);
	printf("fuzz_vmlaunch: %" PRIu64 " iterations, seed %" PRIu64 ":", iterations, seed);
	for (int k = 0; k < OUT_COUNT; k++)
		printf(" %s %" PRIu64 "%s", outcome_names[k], counts[k], k + 1 < OUT_COUNT ? "," : "\n");
	if (verbose)
		for (int k = 0; k < 8; k++)
			if (stops[k])
				printf("  L2 runs that stopped with %s: %" PRIu64 "\n", tortuga_stop_reason_name((uint32_t)k),
				       stops[k]);
	/* A useful fuzzer reaches every outcome. */
	for (int k = 0; k < OUT_COUNT; k++)
		if (iterations >= 100 && !counts[k]) {
			fprintf(stderr, "fuzz: never reached '%s'\n", outcome_names[k]);
			return 1;
		}
	return 0;
}
