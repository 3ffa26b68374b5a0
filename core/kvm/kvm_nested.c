/*
 * --nested on the kvm backend: the guest sees the host KVM's own nested
 * virtualization (VMX on Intel hosts, SVM on AMD hosts), when that KVM
 * offers it. tortuga's software nested VMX (nested/) is the emu backend's.
 *
 * KVM advertises VMX/SVM in KVM_GET_SUPPORTED_CPUID only when its module
 * was loaded with nested=1 (kvm_intel / kvm_amd), and saves nested state
 * with KVM_CAP_NESTED_STATE (api.rst 4.114).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"

/* CPUID.01H:ECX.VMX[bit 5] (SDM Vol. 2A Table 3-10); CPUID
 * Fn8000_0001_ECX.SVM[bit 2] and Fn8000_000A (SVM revision and features)
 * (AMD APM Vol. 3, Appendix E.4.2 and E.4.9). */
#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_80000001_ECX_SVM (1u << 2)
#define CPUID_SVM_LEAF 0x8000000au

/* IA32_VMX_BASIC (SDM Vol. 3D A.1): bits 30:0 the VMCS revision identifier. */
#define MSR_IA32_VMX_BASIC_INDEX 0x480u
/* IA32_FEATURE_CONTROL (SDM Vol. 3C 24.7): bit 0 lock, bit 2 VMXON outside SMX. */
#define FEATURE_CONTROL_LOCK (1ull << 0)
#define FEATURE_CONTROL_VMXON_OUTSIDE_SMX (1ull << 2)

enum kvm_nested_kind kvm_nested_probe(const struct vm *vm, char *msg, size_t len)
{
	const struct kvm_vm_data *kv = kvm_vm_of(vm);
	if (kvm_caps_require(&kv->caps, KVM_NEED_NESTED, msg, len))
		return KVM_NESTED_NONE;
	const struct kvm_cpuid_entry2 *l1 = kvm_cpuid_find(kv->supported, 1, 0);
	const struct kvm_cpuid_entry2 *e1 = kvm_cpuid_find(kv->supported, 0x80000001, 0);
	if (l1 && (l1->ecx & CPUID_1_ECX_VMX))
		return KVM_NESTED_VMX;
	if (e1 && (e1->ecx & CPUID_80000001_ECX_SVM))
		return KVM_NESTED_SVM;
	snprintf(msg, len,
		 "the host's KVM offers neither VMX nor SVM to its guests: nested virtualization is off "
		 "(load kvm_intel or kvm_amd with nested=1)");
	return KVM_NESTED_NONE;
}

static struct kvm_cpuid_entry2 *find_entry(struct kvm_cpuid_entry2 *ents, uint32_t n, uint32_t leaf)
{
	for (uint32_t i = 0; i < n; i++)
		if (ents[i].function == leaf && ents[i].index == 0)
			return &ents[i];
	return NULL;
}

static struct kvm_cpuid_entry2 *add_entry(struct kvm_cpuid_entry2 *ents, uint32_t *n, uint32_t leaf)
{
	struct kvm_cpuid_entry2 *e = find_entry(ents, *n, leaf);
	if (e)
		return e;
	e = &ents[(*n)++];
	memset(e, 0, sizeof(*e));
	e->function = leaf;
	return e;
}

int kvm_nested_cpuid(struct vm *vm, struct kvm_cpuid_entry2 *ents, uint32_t *n)
{
	struct kvm_vm_data *kv = kvm_vm_of(vm);
	char why[200];
	kv->nested = kvm_nested_probe(vm, why, sizeof(why));
	if (kv->nested == KVM_NESTED_NONE)
		return vm_error(vm, -ENOTSUP, "--nested on the kvm backend: %s", why);
	if (kv->nested == KVM_NESTED_VMX) {
		add_entry(ents, n, 1)->ecx |= CPUID_1_ECX_VMX;
		return 0;
	}
	/* SVM: the feature bit, and leaf 8000000AH as the host's KVM reports it
	 * (revision, ASIDs, nested paging and the other SVM features it emulates). */
	struct kvm_cpuid_entry2 *max = add_entry(ents, n, 0x80000000u);
	if (max->eax < CPUID_SVM_LEAF) {
		for (uint32_t leaf = max->eax + 1; leaf < CPUID_SVM_LEAF; leaf++)
			add_entry(ents, n, leaf);
		max->eax = CPUID_SVM_LEAF;
	}
	add_entry(ents, n, 0x80000001u)->ecx |= CPUID_80000001_ECX_SVM;
	const struct kvm_cpuid_entry2 *hs = kvm_cpuid_find(kv->supported, CPUID_SVM_LEAF, 0);
	struct kvm_cpuid_entry2 *e = add_entry(ents, n, CPUID_SVM_LEAF);
	if (hs) {
		e->eax = hs->eax;
		e->ebx = hs->ebx;
		e->ecx = hs->ecx;
		e->edx = hs->edx;
	}
	return 0;
}

int kvm_nested_vcpu_setup(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_vm_data *kv = kvm_vm_of(vm);
	if (!(vm->cfg.flags & TORTUGA_CFG_NESTED))
		return 0;
	if (kv->nested == KVM_NESTED_SVM) {
		snprintf(vm->backend_note, sizeof(vm->backend_note),
			 "kvm: --nested: the guest sees the host KVM's nested SVM (CPUID Fn8000_0001_ECX.SVM)");
		return 0;
	}
	/* VMX: KVM derives the guest's VMX capability MSRs from its nested
	 * support; without them VMXON cannot work, so check they are there. */
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} b = { .hdr.nmsrs = 1, .e.index = MSR_IA32_VMX_BASIC_INDEX };
	if (ioctl(kvm_vcpu_of(v)->fd, KVM_GET_MSRS, &b) != 1)
		return vm_error(vm, -ENOTSUP,
				"--nested on the kvm backend: the host's KVM offers VMX in CPUID but not the VMX "
				"capability MSRs (IA32_VMX_BASIC)");
	/* As firmware does: VMXON allowed outside SMX, and locked (SDM 24.7). */
	v->s.feature_control = FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMXON_OUTSIDE_SMX;
	snprintf(vm->backend_note, sizeof(vm->backend_note),
		 "kvm: --nested: the guest sees the host KVM's nested VMX (VMCS revision 0x%x)",
		 (unsigned)(b.e.data & 0x7fffffff));
	return 0;
}
