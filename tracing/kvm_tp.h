/*
 * The fields of KVM's tracepoints that tortuga maps to its event schema,
 * shared by the BPF program (tortuga.bpf.c) and its loader (bpf.c).
 *
 * Tracepoint records have no stable layout across kernels (kvm_exit gained
 * intr_info, error_code, vcpu_id and requests over the years), so nothing here
 * restates offsets: the loader reads each field's offset and size from the
 * kernel's own description (tracefs events/kvm/<name>/format) and hands them
 * to the program as load-time constants. A field the running kernel lacks has
 * size 0 and reads as 0.
 *
 * X(tracepoint, field, required): required fields must exist for the
 * tracepoint to be attached.
 */
#ifndef TRACING_KVM_TP_H
#define TRACING_KVM_TP_H

#define TORTUGA_KVM_TRACEPOINTS(T)                                                                 \
	T(kvm_exit)                                                                                \
	T(kvm_entry)                                                                               \
	T(kvm_nested_vmexit)                                                                       \
	T(kvm_nested_vmexit_inject)                                                                \
	T(kvm_nested_vmenter)                                                                      \
	T(kvm_smm_transition)

#define TORTUGA_KVM_TP_FIELDS(X)                                                                   \
	X(kvm_exit, exit_reason, 1)                                                                \
	X(kvm_exit, guest_rip, 1)                                                                  \
	X(kvm_exit, isa, 1)                                                                        \
	X(kvm_exit, info1, 1)                                                                      \
	X(kvm_exit, info2, 1)                                                                      \
	X(kvm_exit, vcpu_id, 0)                                                                    \
	X(kvm_entry, vcpu_id, 1)                                                                   \
	X(kvm_entry, rip, 1)                                                                       \
	X(kvm_entry, intr_info, 0)                                                                 \
	X(kvm_entry, error_code, 0)                                                                \
	X(kvm_nested_vmexit, exit_reason, 1)                                                       \
	X(kvm_nested_vmexit, guest_rip, 1)                                                         \
	X(kvm_nested_vmexit, isa, 1)                                                               \
	X(kvm_nested_vmexit, info1, 1)                                                             \
	X(kvm_nested_vmexit, info2, 1)                                                             \
	X(kvm_nested_vmexit_inject, exit_code, 1)                                                  \
	X(kvm_nested_vmexit_inject, exit_info1, 1)                                                 \
	X(kvm_nested_vmexit_inject, exit_info2, 1)                                                 \
	X(kvm_nested_vmexit_inject, isa, 1)                                                        \
	X(kvm_nested_vmenter, rip, 1)                                                              \
	X(kvm_nested_vmenter, vmcb, 1)                                                             \
	X(kvm_nested_vmenter, nested_rip, 1)                                                       \
	X(kvm_nested_vmenter, isa, 0)                                                              \
	X(kvm_smm_transition, vcpu_id, 1)                                                          \
	X(kvm_smm_transition, smbase, 1)                                                           \
	X(kvm_smm_transition, entering, 1)

enum {
#define T(name) TORTUGA_KVM_TP_##name,
	TORTUGA_KVM_TRACEPOINTS(T)
#undef T
	TORTUGA_KVM_TP_COUNT
};

/* KVM's `isa` values (arch/x86/kvm/trace.h: KVM_ISA_VMX, KVM_ISA_SVM). */
#define TORTUGA_KVM_ISA_VMX 1
#define TORTUGA_KVM_ISA_SVM 2

struct kvm_tp_field {
	__u16 off;
	__u16 size; /* 0: the running kernel has no such field */
};

struct kvm_tp_layout {
#define X(tp, field, req) struct kvm_tp_field tp##__##field;
	TORTUGA_KVM_TP_FIELDS(X)
#undef X
};

#endif
