/*
 * The kvm backend (DESIGN.md "Two backends, one hypervisor"): vCPUs run on
 * the Linux KVM API. The platform (RAM, address spaces, port bus, devices,
 * trace, exit dispatch) is the one the emu backend uses: guest RAM is handed
 * to KVM as memslots, and every exit that reaches user space becomes a
 * struct vm_exit with the Intel SDM basic exit reason, handled by
 * vcpu_handle_exit() like an emu exit.
 *
 * This header is private to core/kvm/. Other folders use kvm_backend_ops
 * (core/vm.c), kvm_probe() (backend selection) and core/kvm/kvm_smm.h.
 */
#ifndef CORE_KVM_KVM_H
#define CORE_KVM_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/vm.h"

extern const struct backend_ops kvm_backend_ops;

/*
 * Can the kvm backend run on this host? 0, or a negative errno and a
 * one-line reason in msg ("/dev/kvm does not exist: ..."). Opens and closes
 * the device; creates no VM.
 */
int kvm_probe(char *msg, size_t len);

/* The KVM device node: $TORTUGA_KVM_DEVICE if set, else /dev/kvm. */
const char *kvm_device_path(void);

/* ---- capabilities (kvm_caps.def) ---- */

enum kvm_need {
	KVM_NEED_ALWAYS,
	KVM_NEED_OPTIONAL,
	KVM_NEED_SMM,
	KVM_NEED_NESTED,
};

enum kvm_cap_id {
#define X(name, cap, need, why) KCAP_##name,
#include "kvm_caps.def"
#undef X
	KCAP_COUNT
};

struct kvm_cap_info {
	const char *name; /* "KVM_CAP_USER_MEMORY" */
	long cap;
	enum kvm_need need;
	const char *why;
};
extern const struct kvm_cap_info kvm_cap_table[KCAP_COUNT];

/* KVM_CHECK_EXTENSION results, by enum kvm_cap_id. */
struct kvm_caps {
	int val[KCAP_COUNT];
};

/* Ask `check` for every capability of the table (KVM_CHECK_EXTENSION on a
 * real host; a fake in unit tests). */
typedef int (*kvm_check_fn)(void *ctx, long cap);
void kvm_caps_query(kvm_check_fn check, void *ctx, struct kvm_caps *caps);
/* 0 if every capability of class `need` is present, else -ENOTSUP and a
 * one-line message naming the first missing one and what it is for. */
int kvm_caps_require(const struct kvm_caps *caps, enum kvm_need need, char *msg, size_t len);

/* Open the device and check the API version: fd, or -errno with msg. */
int kvm_open_device(char *msg, size_t len);

/* ---- exit reasons (kvm_exits.def) ---- */

/* "KVM_EXIT_IO", or NULL for a number the table does not know. */
const char *kvm_exit_name(uint32_t reason);

/*
 * An I/O instruction, decoded from the guest's instruction bytes: KVM's
 * kvm_run.io does not say which form of IN/OUT exited, and the SDM's exit
 * qualification (Vol. 3C 28.2.1, Table 28-5) does.
 */
struct kvm_io_insn {
	bool valid;
	bool imm; /* port in an immediate operand (bit 6) */
	bool string; /* INS/OUTS (bit 4) */
	bool rep; /* REP prefix (bit 5) */
	bool in;
	uint8_t size; /* bytes per access: 1, 2, 4 */
	uint8_t len;
	uint8_t port; /* the immediate, when imm */
};

/* Decode bytes[0..n) as an I/O instruction in a code segment of `bits`
 * (16, 32, 64). out->valid is false if it is not one. */
void kvm_io_insn_decode(const uint8_t *bytes, size_t n, unsigned bits, struct kvm_io_insn *out);
/* Could `io` be the instruction behind this KVM_EXIT_IO? */
bool kvm_io_insn_matches(const struct kvm_io_insn *io, const struct kvm_run *run);

enum kvm_exit_action {
	KVM_ACT_RESUME, /* nothing for tortuga (a signal, an interrupt window) */
	KVM_ACT_HANDLE, /* *e is an exit record for vcpu_handle_exit() */
	KVM_ACT_FAIL, /* the VM cannot continue: msg says why */
};

/*
 * Turn one KVM exit into what tortuga does with it (a pure function: unit
 * tests feed it synthetic kvm_run structures).
 *   run       the vCPU's kvm_run after KVM_RUN returned 0
 *   run_size  bytes mapped at run (bounds for the I/O data area)
 *   as        the address space the guest is in (MMIO vs. unmapped)
 *   io        the decoded I/O instruction for KVM_EXIT_IO, or NULL
 *   mmio_val  storage for MMIO data: filled for writes, read back for reads
 */
enum kvm_exit_action kvm_exit_decode(struct kvm_run *run, size_t run_size, const struct aspace *as,
				     const struct kvm_io_insn *io, struct vm_exit *e, uint64_t *mmio_val,
				     char *msg, size_t len);

/* ---- state (kvm_state.c) ---- */

/* Parts of struct x86_state as KVM transfers them. */
#define KVM_PART_REGS (1u << 0) /* KVM_GET/SET_REGS: GPRs, RIP, RFLAGS */
#define KVM_PART_SREGS (1u << 1) /* segments, descriptor tables, CRs, EFER, APIC base */
#define KVM_PART_MSRS (1u << 2)
#define KVM_PART_FPU (1u << 3) /* x87/SSE state (FXSAVE image) */
#define KVM_PART_DEBUG (1u << 4) /* DR0-3, DR6, DR7 */
#define KVM_PART_XCRS (1u << 5)
#define KVM_PART_EVENTS (1u << 6) /* interruptibility, pending injection */
#define KVM_PART_ALL 0x7fu

void kvm_seg_from_x86(struct kvm_segment *k, const struct x86_segment *s);
void kvm_seg_to_x86(struct x86_segment *s, const struct kvm_segment *k);
void kvm_regs_from_x86(struct kvm_regs *r, const struct x86_state *s);
void kvm_regs_to_x86(struct x86_state *s, const struct kvm_regs *r);
void kvm_sregs_from_x86(struct kvm_sregs *r, const struct x86_state *s);
void kvm_sregs_to_x86(struct x86_state *s, const struct kvm_sregs *r);
void kvm_fpu_from_fxsave(struct kvm_fpu *f, const uint8_t fx[512]);
void kvm_fpu_to_fxsave(uint8_t fx[512], const struct kvm_fpu *f);
/* Interruptibility (SDM Vol. 3C Table 24-3) <-> kvm_vcpu_events.interrupt.shadow */
uint8_t kvm_shadow_from_intr(uint32_t interruptibility);
uint32_t kvm_shadow_to_intr(uint8_t shadow);

/* Copy parts of v->s into KVM / out of KVM. 0 or -errno (vm->err set). */
int kvm_state_push(struct vcpu *v, unsigned parts);
int kvm_state_pull(struct vcpu *v, unsigned parts);
/* Choose the MSRs to transfer (those of the table KVM knows); at vCPU init. */
int kvm_state_init_msrs(struct vcpu *v);
/* IA32_APIC_BASE to KVM (KVM_SET_MSRS, host-initiated), after tortuga's
 * local APIC changed it: KVM derives CPUID.1:EDX.APIC from it. */
int kvm_state_push_apic_base(struct vcpu *v);

/* ---- CPUID (kvm_cpuid.c) and nested virtualization (kvm_nested.c) ---- */

/* KVM_SET_CPUID2 from vm->model filtered by KVM_GET_SUPPORTED_CPUID. */
int kvm_cpuid_setup(struct vcpu *v);
/* The host's supported entry for (leaf, index), or NULL. */
const struct kvm_cpuid_entry2 *kvm_cpuid_find(const struct kvm_cpuid2 *c, uint32_t leaf, uint32_t index);

enum kvm_nested_kind { KVM_NESTED_NONE, KVM_NESTED_VMX, KVM_NESTED_SVM };
/* What --nested can expose here: KVM_NESTED_NONE with msg when nothing. */
enum kvm_nested_kind kvm_nested_probe(const struct vm *vm, char *msg, size_t len);
/* Add the VMX or SVM leaves to a CPUID table being built (entries has room
 * for *n + 4 more). */
int kvm_nested_cpuid(struct vm *vm, struct kvm_cpuid_entry2 *entries, uint32_t *n);
/* After KVM_SET_CPUID2: the VMX capability MSRs and IA32_FEATURE_CONTROL. */
int kvm_nested_vcpu_setup(struct vcpu *v);

/* ---- the VM and vCPUs ---- */

#define KVM_AS_COUNT 2 /* 0: normal, 1: SMM (KVM_CAP_MULTI_ADDRESS_SPACE) */
#define KVM_SLOTS_PER_AS 32

struct kvm_slot {
	uint64_t gpa, size;
	uint8_t *host;
	bool used;
};

struct kvm_vm_data {
	int sys_fd, vm_fd;
	struct kvm_caps caps;
	size_t run_size;
	struct kvm_cpuid2 *supported; /* KVM_GET_SUPPORTED_CPUID */
	uint32_t *msr_index; /* KVM_GET_MSR_INDEX_LIST */
	uint32_t nmsr_index;
	struct kvm_slot slots[KVM_AS_COUNT][KVM_SLOTS_PER_AS];
	uint64_t tsc0; /* host TSC when the VM was created: guest time 0 */
	/* KVM_VCPU_TSC_OFFSET can be read (kvm_time.c). */
	bool tsc_offset_attr;
	/* MSRs of tortuga's platform reach user space: the x2APIC MSRs, which
	 * KVM without a local APIC of its own answers with #GP, as
	 * KVM_MSR_EXIT_REASON_INVAL, and IA32_APIC_BASE and IA32_TSC_DEADLINE
	 * through the MSR filter (KVM_CAP_X86_USER_SPACE_MSR, _MSR_FILTER). */
	bool platform_msrs;
	enum kvm_nested_kind nested;
	const struct aspace *smm_view; /* address space 1, once kvm_smm_set_view() gave it */
};

#define KVM_MAX_SYNC_MSRS 24

struct kvm_vcpu_data {
	int fd;
	struct kvm_run *run;
	/* An I/O, MMIO or MSR exit awaits completion by the next KVM_RUN. */
	bool io_pending;
	/* The vCPU's host thread (kvm_time.c): its kernel thread id while it
	 * runs the vCPU (0 otherwise), for kicks; its signal mask before; the
	 * host timer and the guest-time deadline it is armed for. */
	pid_t tid;
	sigset_t saved_mask;
	timer_t timer;
	uint64_t timer_armed;
	/* Least time the guest runs before the host timer ends KVM_RUN, and
	 * KVM_RUNs ended by kicks alone in a row (kvm_time.c). */
	uint64_t quantum_ns;
	unsigned kick_streak;
	uint32_t msrs[KVM_MAX_SYNC_MSRS]; /* indexes into the MSR map that KVM accepts */
	uint32_t nmsrs;
	struct kvm_vcpu_events events; /* as last read from KVM */
	uint64_t smm_exits; /* exits that arrived with KVM_RUN_X86_SMM set */
	uint64_t code_la, code_cr3, code_gpa; /* last code-page translation */
	bool code_valid;
};

static inline struct kvm_vm_data *kvm_vm_of(const struct vm *vm)
{
	return (struct kvm_vm_data *)vm->be_data;
}

static inline struct kvm_vcpu_data *kvm_vcpu_of(const struct vcpu *v)
{
	return (struct kvm_vcpu_data *)v->be;
}

/* Make the memslots of address space as_id (0 or 1) mirror the RAM regions
 * of `view`: stale slots are deleted, new ones added. */
int kvm_mem_sync(struct vm *vm, unsigned as_id, const struct aspace *view);

/* Ends KVM_RUN (kvm_time.c): blocked on vCPU threads but inside KVM_RUN.
 * A handler that does nothing is installed over the default action, in case
 * one arrives after a thread unblocked it. */
#define KVM_KICK_SIGNAL (SIGRTMIN + 3)

/* The run loop (kvm_run.c). */
int kvm_vcpu_run(struct vcpu *v);

/* Time and kicks (kvm_time.c). */
uint64_t kvm_clock(const struct vm *vm);
uint64_t kvm_ticks_to_ns(const struct vm *vm, uint64_t ticks);
/* The guest's TSC rate into vm->model.tsc_hz (vCPU 0, before CPUID). */
int kvm_tsc_rate_init(struct vcpu *v);
/* KVM's TSC offset into v->s.tsc_offset (guest TSC = vcpu_now + offset). */
int kvm_tsc_offset_pull(struct vcpu *v);
int kvm_thread_init(struct vcpu *v);
void kvm_thread_fini(struct vcpu *v);
void kvm_vcpu_kick(struct vcpu *v);
/* Arm the vCPU thread's host timer for a guest-time deadline. */
void kvm_timer_arm(struct vcpu *v, uint64_t deadline);
/* KVM_RUN returned -EINTR: drain the kick signals, re-arm on next entry. */
void kvm_kick_drain(struct vcpu *v);
/* KVM_RUN ended with a real exit: the guest ran. */
void kvm_guest_progressed(struct vcpu *v);

/* Events into KVM (kvm_events.c). */
/* After KVM_RUN: CR8 into the local APIC's TPR, interruptibility. */
void kvm_events_after_exit(struct vcpu *v);
/* Before KVM_RUN: TPR into CR8, queued interrupt/NMI/exception to KVM,
 * interrupt-window request. 0 or -errno. */
int kvm_events_before_entry(struct vcpu *v);
/* Does tortuga's platform own this MSR (the local APIC's)? */
bool kvm_msr_is_platform(uint32_t msr);

#endif
