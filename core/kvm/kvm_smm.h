/*
 * System Management Mode on the kvm backend: the plumbing the SMM part
 * (smm/) uses when the VM runs on KVM (api.rst 4.96 KVM_SMI, 4.35
 * KVM_SET_USER_MEMORY_REGION "address space", 5 "KVM_RUN_X86_SMM").
 *
 * KVM models SMM entry, the save-state map and RSM itself (AMD64 layout for
 * 64-bit guests, arch/x86/kvm/smm.c); user space supplies SMRAM as memslots
 * in address space 1 (the view the vCPU has while in SMM) and raises SMIs.
 */
#ifndef CORE_KVM_KVM_SMM_H
#define CORE_KVM_KVM_SMM_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct aspace;

/* Does this VM run on the kvm backend? The functions below need it. */
bool kvm_backend_active(const struct vm *vm);

/*
 * Give KVM the SMM view of guest memory: every RAM region of smm_view becomes
 * a memslot of address space 1 (SMRAM and, usually, the normal RAM around
 * it). Call again whenever the view changes. smm_view must outlive the VM or
 * the next call. 0, or a negative errno with the VM's error set: -ENOTSUP
 * names KVM_CAP_X86_SMM or KVM_CAP_MULTI_ADDRESS_SPACE when the host lacks it.
 */
int kvm_smm_set_view(struct vm *vm, const struct aspace *smm_view);

/* The view of memory the run loop uses for a vCPU (smm: it is in SMM). */
const struct aspace *kvm_smm_view_for(const struct vm *vm, bool smm);

/* Raise an SMI on a vCPU (KVM_SMI): KVM enters SMM at the next boundary. */
int kvm_smm_raise(struct vcpu *v);

/* Was the vCPU in SMM when it last exited (KVM_RUN_X86_SMM)? */
bool kvm_vcpu_in_smm(const struct vcpu *v);

/* How many exits reached user space while the vCPU was in SMM. */
uint64_t kvm_vcpu_smm_exits(const struct vcpu *v);

/* Re-sync the normal view's memslots after the platform changed vm->as
 * (e.g. SMRAM opened or closed for non-SMM code). */
int kvm_mem_resync(struct vm *vm);

#endif
