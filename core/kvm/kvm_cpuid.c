/*
 * CPUID on the kvm backend: the guest sees tortuga's CPU model (core/cpuid.c),
 * as on the emu backend, minus the feature flags the host's KVM cannot offer
 * (KVM_GET_SUPPORTED_CPUID, api.rst 4.46), set with KVM_SET_CPUID2 (4.73).
 * KVM answers CPUID in the kernel from this table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"

/* Room for every leaf tortuga's model defines plus the nested leaves. */
#define CPUID_MAX_ENTRIES 128

/*
 * Leaves whose output depends on ECX (Intel SDM Vol. 2A, CPUID, Table 3-8:
 * deterministic cache parameters 04H, structured extended features 07H,
 * extended topology 0BH/1FH, processor extended state 0DH, RDT 0FH/10H,
 * SGX 12H, PT 14H, SoC vendor 17H, TLB 18H, tile 1DH; AMD APM Vol. 3 for
 * 8000001DH cache topology). KVM needs KVM_CPUID_FLAG_SIGNIFCANT_INDEX on them.
 */
static const uint32_t indexed_leaves[] = {
	0x04, 0x07, 0x0b, 0x0d, 0x0f, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1d, 0x1f, 0x8000001d,
};

static bool leaf_indexed(uint32_t leaf)
{
	for (size_t i = 0; i < sizeof(indexed_leaves) / sizeof(indexed_leaves[0]); i++)
		if (indexed_leaves[i] == leaf)
			return true;
	return false;
}

const struct kvm_cpuid_entry2 *kvm_cpuid_find(const struct kvm_cpuid2 *c, uint32_t leaf, uint32_t index)
{
	for (uint32_t i = 0; c && i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function != leaf)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}

static uint32_t *entry_reg(struct kvm_cpuid_entry2 *e, unsigned reg)
{
	uint32_t *regs[4] = { &e->eax, &e->ebx, &e->ecx, &e->edx };
	return regs[reg & 3];
}


/*
 * Clear the model's feature flags that the host's KVM does not support; a
 * note names them. Fields that are not flags (signature, brand, vendor) stay
 * the model's. OSXSAVE is computed by KVM from CR4 (api.rst 4.73 notes).
 */
/*
 * Features of tortuga's user-space local APIC, which KVM's supported CPUID
 * does not speak for (it lists what its own local APIC offers, and the
 * TSC-deadline timer not at all): the guest has them when the APIC's MSRs
 * reach user space (kvm_vm.c), else not.
 */
static bool platform_feature(const struct kvm_vm_data *kv, int f, bool *offered)
{
	if (f != CPUF_X2APIC && f != CPUF_TSC_DEADLINE)
		return false;
	*offered = kv->platform_msrs;
	return true;
}

static void filter_features(struct vm *vm, struct kvm_cpuid_entry2 *ents, uint32_t n, char *dropped, size_t len)
{
	const struct kvm_vm_data *kv = kvm_vm_of(vm);
	const struct kvm_cpuid2 *sup = kv->supported;
	size_t pos = strlen(dropped);
	for (int f = 0; f < CPUF_COUNT; f++) {
		if (!cpu_has(&vm->model, f) || f == CPUF_OSXSAVE)
			continue;
		const struct cpu_feature_bit *fb = cpu_feature_bit(f);
		const struct kvm_cpuid_entry2 *s = kvm_cpuid_find(sup, fb->leaf, fb->subleaf);
		uint32_t mask = 1u << fb->bit;
		struct kvm_cpuid_entry2 host = s ? *s : (struct kvm_cpuid_entry2){ 0 };
		bool offered = (*entry_reg(&host, fb->reg) & mask) != 0;
		platform_feature(kv, f, &offered);
		if (offered)
			continue;
		for (uint32_t i = 0; i < n; i++)
			if (ents[i].function == fb->leaf && ents[i].index == fb->subleaf)
				*entry_reg(&ents[i], fb->reg) &= ~mask;
		if (pos < len)
			pos += (size_t)snprintf(dropped + pos, len - pos, "%s%s", pos ? " " : "", fb->name);
	}
}

static int add_range(struct vm *vm, const struct cpuid_ctx *ctx, uint32_t first, struct kvm_cpuid_entry2 *ents,
		     uint32_t *n)
{
	uint32_t out[4];
	cpuid_query(&vm->model, ctx, first, 0, out);
	uint32_t last = out[0];
	if (last < first || last - first >= CPUID_MAX_ENTRIES)
		last = first;
	for (uint32_t leaf = first; leaf <= last; leaf++) {
		if (*n >= CPUID_MAX_ENTRIES - 8)
			return -E2BIG;
		struct kvm_cpuid_entry2 *e = &ents[(*n)++];
		memset(e, 0, sizeof(*e));
		cpuid_query(&vm->model, ctx, leaf, 0, out);
		e->function = leaf;
		e->index = 0;
		e->flags = leaf_indexed(leaf) ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
		e->eax = out[0];
		e->ebx = out[1];
		e->ecx = out[2];
		e->edx = out[3];
		/* Leaf 0DH sub-leaf 1 enumerates the XSAVE variants
		 * (XSAVEOPT, SDM Vol. 1 13.2). */
		if (leaf == 0xd) {
			struct kvm_cpuid_entry2 *e1 = &ents[(*n)++];
			memset(e1, 0, sizeof(*e1));
			cpuid_query(&vm->model, ctx, leaf, 1, out);
			e1->function = leaf;
			e1->index = 1;
			e1->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
			e1->eax = out[0];
			e1->ebx = out[1];
			e1->ecx = out[2];
			e1->edx = out[3];
		}
	}
	return 0;
}

int kvm_cpuid_setup(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_vm_data *kv = kvm_vm_of(vm);
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return vm_error(vm, -ENOMEM, "out of memory");
	struct cpuid_ctx ctx = { .apic_id = v->id, .vcpus = vm->nvcpus ? vm->nvcpus : vm->cfg.vcpus };
	uint32_t n = 0;
	int err = add_range(vm, &ctx, 0, c->entries, &n);
	if (!err)
		err = add_range(vm, &ctx, 0x40000000u, c->entries, &n);
	if (!err)
		err = add_range(vm, &ctx, 0x80000000u, c->entries, &n);
	if (err) {
		free(c);
		return vm_error(vm, err, "kvm: the CPU model has more CPUID leaves than tortuga passes to KVM");
	}

	char dropped[256] = "";
	filter_features(vm, c->entries, n, dropped, sizeof(dropped));
	/* Physical-address width: no wider than the host's (KVM derives reserved
	 * bits of guest paging entries from it; SDM Vol. 3A 4.1.4). */
	const struct kvm_cpuid_entry2 *hs = kvm_cpuid_find(kv->supported, 0x80000008, 0);
	for (uint32_t i = 0; hs && i < n; i++)
		if (c->entries[i].function == 0x80000008 && (c->entries[i].eax & 0xff) > (hs->eax & 0xff))
			c->entries[i].eax = (c->entries[i].eax & ~0xffu) | (hs->eax & 0xff);

	if (vm->cfg.flags & TORTUGA_CFG_NESTED) {
		err = kvm_nested_cpuid(vm, c->entries, &n);
		if (err) {
			free(c);
			return err;
		}
	}
	c->nent = n;
	if (ioctl(kvm_vcpu_of(v)->fd, KVM_SET_CPUID2, c) < 0) {
		err = vm_error(vm, -errno, "kvm: KVM_SET_CPUID2 failed: %s", strerror(errno));
		free(c);
		return err;
	}
	free(c);
	if (dropped[0] && v->id == 0 && !vm->backend_note[0])
		snprintf(vm->backend_note, sizeof(vm->backend_note),
			 "kvm: the host's KVM cannot offer CPU model features %s; the guest does not see them", dropped);
	return 0;
}
