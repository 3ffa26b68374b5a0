/*
 * The VM and its vCPUs: the platform shared by both backends (memory, port
 * I/O, devices, trace, exit policy) and the backend interface (one struct of
 * function pointers, SimpleVisor style).
 */
#ifndef CORE_VM_H
#define CORE_VM_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <tortuga/tortuga.h>

#include "cpuid.h"
#include "exit.h"
#include "exit_policy.h"
#include "iobus.h"
#include "memory.h"
#include "state.h"
#include "timer.h"

struct vm;
struct vcpu;
struct trace;
struct uart16550;
struct lapic;
struct platform_devices;
struct nested_vcpu;

#define VM_MAX_VCPUS 64
/* Per vCPU: its local APIC timer and, with nested VMX, the VMX-preemption
 * timer of an L2 that halted; plus the platform's. */
#define VM_MAX_TIMERS (2 * VM_MAX_VCPUS + 16)
/* With several vCPUs each runs in turn for this many modelled cycles. */
#define VM_TIME_SLICE 20000u
/* EXTERNAL_INTERRUPT exits for host timer interrupts carry this vector. */
#define HOST_TIMER_VECTOR 0xecu
/* ... and L0 kicking a vCPU out of its guest (a reschedule IPI, Linux
 * RESCHEDULE_VECTOR, as kvm_vcpu_kick() sends) carry this one. */
#define HOST_KICK_VECTOR 0xfdu

/* What changed in struct x86_state behind the backend's back. */
#define STATE_GPRS (1u << 0)
#define STATE_SEGS (1u << 1) /* segment registers, descriptor tables */
#define STATE_CRS (1u << 2) /* CR0/3/4, EFER: mode and paging may change */
#define STATE_TLB (1u << 3) /* TLB must be flushed (CR3 write, INVLPG all) */
#define STATE_FLAGS (1u << 4)
/* Translations cached for L2 must go (INVEPT, INVVPID, VM entry without
 * VPID); STATE_TLB flushes the running level's. */
#define STATE_TLB_L2 (1u << 5)
#define STATE_ALL 0xffffffffu

struct backend_ops {
	const char *name;
	int (*vm_init)(struct vm *vm);
	void (*vm_fini)(struct vm *vm);
	int (*vcpu_init)(struct vcpu *v);
	void (*vcpu_fini)(struct vcpu *v);
	/* Run until vm_should_stop() or the vCPU cannot make progress. Returns 0
	 * or a negative errno (the VM is then stopped with an error). */
	int (*vcpu_run)(struct vcpu *v);
	/* Core code changed v->s; `what` is STATE_* bits. */
	void (*state_changed)(struct vcpu *v, unsigned what);
	/* After an I/O exit was handled: store IN data, advance RIP. */
	void (*complete_io)(struct vcpu *v, const struct vm_exit *e);
	/* L0 emulates the task switch a TASK_SWITCH exit describes (KVM's
	 * kvm_task_switch()); NULL where the backend's hypervisor does it. */
	void (*task_switch)(struct vcpu *v, const struct vm_exit *e);
	/* Invalidate cached translations of one linear address (INVLPG). */
	void (*flush_page)(struct vcpu *v, uint64_t la);
	/* Bring v->s up to date from the backend (kvm: KVM_GET_*), if needed. */
	int (*sync_state)(struct vcpu *v);
	/* Modelled cycles now: v->cycles plus what the backend has executed but
	 * not yet retired into it (emu: the current block). NULL: v->cycles. */
	uint64_t (*cycles_now)(struct vcpu *v);
	/* Make a vcpu_run in progress (on any thread) return soon; a stop was
	 * requested. Async-signal-safe. NULL: the run loop polls the flag. */
	void (*kick)(struct vcpu *v);
	/* Guest-linear memory access for exit handlers (vcpu_access_linear);
	 * NULL if the backend cannot (nested VMX then needs the emu backend). */
	int (*access_linear)(struct vcpu *v, uint64_t la, void *buf, unsigned len, bool write,
			     uint32_t *error);

	/*
	 * Backends whose vCPUs run on real hardware (kvm) run each vCPU on a
	 * host thread of its own, concurrently, on host time (core/vm_threads.c);
	 * the others (emu) run them one after another on the caller's thread,
	 * on modelled or host time, deterministically (core/vm.c).
	 */
	bool threaded;
	/* Guest time now (TSC ticks before the TSC offset), when the backend
	 * has a clock of its own (kvm: the host TSC); NULL: core/timer.c's. */
	uint64_t (*clock)(const struct vm *vm);
	/* Time to wait on the host for `ticks` of guest time, in ns. */
	uint64_t (*ticks_to_ns)(const struct vm *vm, uint64_t ticks);
	/* The vCPU's host thread starts / ends (threaded backends; run on
	 * that thread, without the VM lock). */
	int (*thread_init)(struct vcpu *v);
	void (*thread_fini)(struct vcpu *v);
};

extern const struct backend_ops emu_backend_ops;

/* A pending event to deliver at the next instruction boundary (SDM 26.6). */
struct vcpu_event {
	bool valid;
	uint8_t vector;
	uint8_t type; /* INTR_TYPE_* >> 8 */
	bool has_error;
	uint32_t error;
	uint32_t insn_len; /* software interrupts/exceptions */
};

struct vcpu_stats {
	uint64_t insns;
	uint64_t exits;
	uint64_t exits_by_reason[TORTUGA_EXIT_REASON_MAX];
};

/* Per-level accounting (DESIGN.md "Levels and names"): index 1 is L1, 2 is L2.
 * exits counts exits *of* that level to L0; reflected counts L2 exits L0
 * passed on to L1; caused_by_l2 counts L1 exits to L0 made while L1 handled a
 * reflected L2 exit (the "exit multiplication"). */
#define VCPU_LEVELS 3
struct vcpu_level_stats {
	uint64_t insns;
	uint64_t exits;
	uint64_t exits_by_reason[TORTUGA_EXIT_REASON_MAX];
	uint64_t reflected;
	uint64_t caused_by_l2;
	uint64_t exit_cycles; /* cost-model cycles charged for this level's exits */
};

struct vcpu {
	struct vm *vm;
	uint32_t id;
	struct x86_state s;
	void *be; /* backend's per-vCPU state */

	/* The VM-execution controls the running level is under (vmcs01 for L1). */
	struct vmx_exec_controls *ctls;
	uint8_t level; /* level currently running: 1 (L1) or 2 (L2) */
	struct nested_vcpu *nested; /* virtual VMX state; NULL without nesting */
	/* seq of the L2 exit the running L1 is handling: the parent of L1's
	 * exits until it resumes L2 (0: none). */
	uint64_t nested_parent;

	uint64_t cycles; /* modelled cycles: the emulated TSC before offsetting */
	/* An exit at the instruction boundary where stats.insns reaches
	 * timer_deadline, with basic reason timer_reason: the VMX-preemption
	 * timer (52, SDM 26.5.1) or the monitor trap flag (37, 26.5.2) of the
	 * running level. It counts the guest's own execution (one cycle per
	 * instruction), not L0's handling of its exits, as the preemption timer
	 * counts only in VMX non-root operation. vcpu_poll() raises it. With
	 * timer_relative the deadline counts from the next instruction
	 * boundary (a VM entry arms it before the entering instruction has
	 * retired): the first poll adds stats.insns, which it also keeps in
	 * timer_anchor, and clears the flag. */
	bool timer_armed;
	bool timer_relative;
	uint16_t timer_reason;
	uint64_t timer_deadline;
	uint64_t timer_anchor;
	/* L0 wants the CPU back: the backend leaves the guest at the next
	 * instruction boundary where no injected event waits for delivery,
	 * with an EXTERNAL_INTERRUPT exit (HOST_KICK_VECTOR), as KVM kicks a
	 * vCPU (kvm_vcpu_kick, req_immediate_exit). */
	bool kick;
	uint64_t insn_limit; /* stop when stats.insns reaches it; 0: none */
	uint64_t slice_end; /* leave the guest when cycles reach it */
	uint64_t poll_at; /* backends call vcpu_poll() when cycles reach it */
	struct vcpu_event inject;

	/* Interrupt sources (core/intr.c): the local APIC, and signals that
	 * are not vectors. */
	struct lapic *lapic;
	bool nmi_pending;
	bool init_pending;
	bool sipi_pending;
	uint8_t sipi_vector;
	uint64_t cur_exit_seq; /* seq of the exit being handled (parent of events) */
	/* Threaded: another vCPU's thread made an event pending for this one
	 * since its thread last looked (vcpu_notify()). */
	bool notified;

	struct vcpu_stats stats;
	struct vcpu_level_stats lstats[VCPU_LEVELS];
	uint64_t level_insns_mark; /* stats.insns when the running level started */
};

struct vm_image {
	uint64_t entry;
	uint64_t start, end; /* guest-physical extent */
	uint64_t boot_end; /* end of what the boot protocol placed after it */
	bool loaded;
};

/* A Multiboot module (Multiboot 3.3 "mods"): its bytes and its string. */
struct vm_module {
	uint8_t *data;
	size_t len;
	char *string;
};

#define VM_MAX_MODULES 32

struct vm {
	struct tortuga_config cfg;
	const struct backend_ops *be;
	void *be_data;

	struct guest_ram ram;
	struct aspace as; /* normal view */
	struct iobus io;
	struct trace *trace;

	uint32_t nvcpus;
	struct vcpu *vcpus[VM_MAX_VCPUS];
	/* The vCPU running now, or NULL; threaded: the vCPU whose thread holds
	 * the VM lock. */
	struct vcpu *cur;

	/*
	 * Threaded runs (backend_ops.threaded): one host thread per vCPU. The
	 * lock guards the platform -- devices, interrupt controllers, timers,
	 * trace, stats, every struct vcpu field but the backend's -- and is
	 * released only while a vCPU's guest code runs (KVM_RUN) or its thread
	 * sleeps; `wake` wakes sleeping vCPU threads.
	 */
	bool threaded;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* CLOCK_MONOTONIC */
	uint32_t idle; /* threaded: vCPU threads sleeping with nothing to run */

	/* Time (core/timer.h). */
	struct vm_timer *timers[VM_MAX_TIMERS];
	unsigned ntimers;
	uint64_t platform_clock;
	uint64_t host_t0; /* host ns at creation (clock = host) */

	struct cpu_model model;
	struct vmx_exec_controls l0_ctls; /* vmcs01 policy template */
	uint8_t *io_bitmap; /* 8 KiB */
	uint8_t *msr_bitmap; /* 4 KiB */
	uint32_t exit_cost[TORTUGA_EXIT_REASON_MAX]; /* cost model, cycles */

	struct uart16550 *uart;
	struct platform_devices *dev; /* interrupt controllers, PIT, fw_cfg, PCI */
	struct vm_image image;
	struct vm_module modules[VM_MAX_MODULES];
	uint32_t nmodules;

	atomic_int stop_requested;
	uint32_t stop_reason;
	int32_t exit_status;
	uint64_t wall_ns; /* total over runs */
	char err[256];
	/* Why the backend is the one it is, or what it leaves out (auto fell back
	 * to emu; kvm lacks a model feature); "" if nothing to say. */
	char backend_note[256];
	unsigned warn_budget; /* rate limit for guest-caused log lines */
};

/* ---- VM ---- */
int vm_create(const struct tortuga_config *cfg, struct vm **out);
/* Queue a Multiboot module (copied) for the next load. */
int vm_add_module(struct vm *vm, const void *data, size_t len, const char *string);
void vm_destroy(struct vm *vm);
int vm_run(struct vm *vm);

/* Stop the VM (first reason wins). status is the process exit status. */
void vm_stop(struct vm *vm, uint32_t reason, int32_t status);
static inline bool vm_should_stop(struct vm *vm)
{
	return atomic_load_explicit(&vm->stop_requested, memory_order_relaxed) != 0;
}

/* Record a one-line error (printf style); returns -err for convenience. */
int vm_error(struct vm *vm, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A rate-limited diagnostic caused by the guest (never fatal). */
void vm_guest_warn(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- threaded runs (core/vm_threads.c) ---- */
/* Run every vCPU on a host thread of its own until the VM stops. */
int vm_run_threaded(struct vm *vm);
/* The platform lock (no-ops unless the run is threaded). */
void vm_lock(struct vm *vm);
void vm_unlock(struct vm *vm);
/* A vCPU's thread lets go of the platform while its guest runs, and takes
 * it back (vm->cur follows). */
void vcpu_release(struct vcpu *v);
void vcpu_acquire(struct vcpu *v);
/* An event (interrupt, NMI, INIT, SIPI, an earlier timer deadline) became
 * pending for v on another vCPU's thread: wake v's thread, or make its
 * guest leave KVM_RUN, so that it looks. Caller holds the lock. */
void vcpu_notify(struct vcpu *v);
/* The 8259's INTR went up: notify the vCPUs whose LINT0 takes ExtINT. */
void vm_notify_extint(struct vm *vm);
/* Wake every vCPU thread (the VM is stopping). */
void vm_wake_all(struct vm *vm);

/* ---- vCPU helpers used by exit handlers and devices ---- */
/* Retire the instruction that exited (RIP += instruction length). */
void vcpu_skip_insn(struct vcpu *v, const struct vm_exit *e);
/* Queue a hardware exception for delivery before the next instruction. */
void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error);
/* Emit a trace event from this vCPU (fills vcpu, level, rip, cycles). */
uint64_t vcpu_trace(struct vcpu *v, uint8_t kind, uint16_t reason, uint64_t qual, uint64_t aux,
		    uint64_t parent);
/* The guest-visible TSC. */
static inline uint64_t vcpu_tsc(const struct vcpu *v)
{
	return vcpu_now(v) + v->s.tsc_offset;
}
/* Format a QEMU-style register dump into buf. */
int vcpu_dump_state(const struct vcpu *v, char *buf, size_t len);
/* Tell the backend that core code changed v->s (STATE_* bits). */
void vcpu_state_changed(struct vcpu *v, unsigned what);
/* Switch the running level (VM entry into L2, VM exit to L1), attributing the
 * instructions retired so far to the level that ran them. */
void vcpu_set_level(struct vcpu *v, uint8_t level);
/* Attribute instructions retired since the last level switch (before stats
 * are read). */
void vcpu_account_level(struct vcpu *v);
/*
 * Access guest-linear memory the way the running level's instruction would
 * (paging, EPT, access rights at the current CPL) for an exit handler that
 * emulates an instruction with a memory operand. Returns ARCH_OK, or
 * ARCH_FAULT(vector) with *error set (for #PF, CR2 is already set): the
 * caller injects the fault.
 */
int vcpu_access_linear(struct vcpu *v, uint64_t la, void *buf, unsigned len, bool write,
		       uint32_t *error);

#endif
