/*
 * Guest memory as KVM memslots (api.rst 4.35 KVM_SET_USER_MEMORY_REGION):
 * each RAM region of an address space is one slot pointing at the same host
 * memory the platform uses (struct guest_ram), so devices, the loader and
 * KVM see the same bytes. MMIO regions get no slot: accesses to them exit
 * with KVM_EXIT_MMIO and reach the device through the address space.
 *
 * Also the SMM plumbing of kvm_smm.h: address space 1, KVM_SMI.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"
#include "kvm_smm.h"

static int set_slot(struct vm *vm, unsigned as_id, unsigned idx, const struct kvm_slot *s, bool del)
{
	struct kvm_userspace_memory_region r = {
		/* api.rst: "bits 16-31 of slot specify the address space" */
		.slot = (as_id << 16) | idx,
		.guest_phys_addr = s->gpa,
		.memory_size = del ? 0 : s->size,
		.userspace_addr = (uint64_t)(uintptr_t)s->host,
	};
	if (ioctl(kvm_vm_of(vm)->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return vm_error(vm, -errno, "kvm: cannot %s memslot %u of address space %u at 0x%llx (+0x%llx): %s",
				del ? "delete" : "add", idx, as_id, (unsigned long long)s->gpa,
				(unsigned long long)s->size, strerror(errno));
	return 0;
}

static bool region_wanted(const struct aspace *view, const struct kvm_slot *s)
{
	for (unsigned i = 0; view && i < view->n; i++) {
		const struct mem_region *r = &view->r[i];
		if (r->type == MEM_RAM && r->gpa == s->gpa && r->size == s->size && r->host == s->host)
			return true;
	}
	return false;
}

static bool slot_present(const struct kvm_slot *slots, const struct mem_region *r)
{
	for (unsigned i = 0; i < KVM_SLOTS_PER_AS; i++)
		if (slots[i].used && slots[i].gpa == r->gpa && slots[i].size == r->size && slots[i].host == r->host)
			return true;
	return false;
}

int kvm_mem_sync(struct vm *vm, unsigned as_id, const struct aspace *view)
{
	struct kvm_vm_data *kv = kvm_vm_of(vm);
	struct kvm_slot *slots = kv->slots[as_id];
	unsigned max = KVM_SLOTS_PER_AS;
	if (kv->caps.val[KCAP_NR_MEMSLOTS] > 0 && (unsigned)kv->caps.val[KCAP_NR_MEMSLOTS] < max)
		max = (unsigned)kv->caps.val[KCAP_NR_MEMSLOTS];
	for (unsigned i = 0; i < KVM_SLOTS_PER_AS; i++) {
		if (!slots[i].used || region_wanted(view, &slots[i]))
			continue;
		int err = set_slot(vm, as_id, i, &slots[i], true);
		if (err)
			return err;
		slots[i].used = false;
	}
	for (unsigned k = 0; view && k < view->n; k++) {
		const struct mem_region *r = &view->r[k];
		if (r->type != MEM_RAM || slot_present(slots, r))
			continue;
		if ((r->gpa | r->size | (uint64_t)(uintptr_t)r->host) & (PAGE_SIZE - 1))
			return vm_error(vm, -EINVAL, "kvm: RAM region %s at 0x%llx is not page-aligned", r->name,
					(unsigned long long)r->gpa);
		unsigned i = 0;
		while (i < max && slots[i].used)
			i++;
		if (i == max)
			return vm_error(vm, -ENOSPC, "kvm: more than %u RAM regions in address space %u", max, as_id);
		slots[i] = (struct kvm_slot){ .gpa = r->gpa, .size = r->size, .host = r->host, .used = true };
		int err = set_slot(vm, as_id, i, &slots[i], false);
		if (err) {
			slots[i].used = false;
			return err;
		}
	}
	return 0;
}

bool kvm_backend_active(const struct vm *vm)
{
	return vm && vm->be == &kvm_backend_ops && vm->be_data;
}

int kvm_mem_resync(struct vm *vm)
{
	if (!kvm_backend_active(vm))
		return -ENOTSUP;
	return kvm_mem_sync(vm, 0, &vm->as);
}

int kvm_smm_set_view(struct vm *vm, const struct aspace *smm_view)
{
	if (!kvm_backend_active(vm))
		return vm_error(vm, -ENOTSUP, "SMM on KVM: the VM does not run on the kvm backend");
	struct kvm_vm_data *kv = kvm_vm_of(vm);
	char msg[sizeof(vm->err)];
	if (kvm_caps_require(&kv->caps, KVM_NEED_SMM, msg, sizeof(msg)))
		return vm_error(vm, -ENOTSUP, "%s", msg);
	if (kv->caps.val[KCAP_MULTI_ADDRESS_SPACE] < KVM_AS_COUNT)
		return vm_error(vm, -ENOTSUP, "the host's KVM has %d memslot address spaces; SMRAM needs %d",
				kv->caps.val[KCAP_MULTI_ADDRESS_SPACE], KVM_AS_COUNT);
	int err = kvm_mem_sync(vm, 1, smm_view);
	if (!err)
		kv->smm_view = smm_view;
	return err;
}

const struct aspace *kvm_smm_view_for(const struct vm *vm, bool smm)
{
	const struct kvm_vm_data *kv = kvm_vm_of(vm);
	return smm && kv->smm_view ? kv->smm_view : &vm->as;
}

int kvm_smm_raise(struct vcpu *v)
{
	if (!kvm_backend_active(v->vm))
		return vm_error(v->vm, -ENOTSUP, "SMM on KVM: the VM does not run on the kvm backend");
	if (!kvm_vm_of(v->vm)->smm_view)
		return vm_error(v->vm, -EINVAL, "SMI on KVM before SMRAM was given (kvm_smm_set_view)");
	if (ioctl(kvm_vcpu_of(v)->fd, KVM_SMI, 0) < 0)
		return vm_error(v->vm, -errno, "kvm: KVM_SMI failed on vCPU %u: %s", v->id, strerror(errno));
	return 0;
}

bool kvm_vcpu_in_smm(const struct vcpu *v)
{
	const struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	return kvm_backend_active(v->vm) && kc && (kc->run->flags & KVM_RUN_X86_SMM);
}

uint64_t kvm_vcpu_smm_exits(const struct vcpu *v)
{
	return kvm_backend_active(v->vm) && v->be ? kvm_vcpu_of(v)->smm_exits : 0;
}
