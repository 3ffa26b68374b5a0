// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tortuga's eBPF program (libbpf-bootstrap style: this file, a generated
 * skeleton, the loader tracing/bpf.c and the shared event header).
 *
 * Two producers, one schema (include/tortuga/event.h):
 * - the USDT probe tortuga:event (tracing/probes.h) in libtortuga.so: the
 *   record is copied as the process made it, so the eBPF stream holds the same
 *   events as the in-process ring;
 * - KVM's tracepoints, mapped to the schema with TORTUGA_EVF_KVM and their own
 *   numbering from TORTUGA_SEQ_KVM_BASE; per vCPU thread the program keeps the
 *   level running and the exits that parent later events.
 * Both are filtered to one process (target_tgid). Events go to a BPF ring
 * buffer without waking the reader, except when wakeup_bytes are pending: the
 * reader batches, polling with a timeout. A full ring buffer is counted in
 * `dropped`, which the reader turns into TORTUGA_EV_LOST records.
 *
 * CO-RE free on purpose: no vmlinux.h, no kernel BTF needed. Tracepoint field
 * offsets come from the kernel's format files through kvm_layout.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include <tortuga/event.h>

#include "kvm_tp.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Load-time settings (the loader sets them before loading). */
const volatile __u32 target_tgid = 0; /* 0: every process */
const volatile __u64 wakeup_bytes = 1; /* wake the reader at this much pending data */
const volatile struct kvm_tp_layout kvm_layout = {};

/* Read by the reader through the skeleton's mmaped .bss. */
__u64 dropped = 0; /* events the ring buffer had no room for */
__u64 read_errors = 0; /* USDT records that could not be copied */
__u64 kvm_seq = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* the loader resizes it */
} events SEC(".maps");

/* Per vCPU thread: what the KVM tracepoints imply about that vCPU. */
struct vcpu_state {
	__u64 last_exit; /* seq of the last exit, parent of entries */
	__u64 last_l2_exit; /* seq of the last exit from L2 */
	__u64 pending_l2; /* L2 exit L1 is handling after a reflection, 0: none */
	__u32 vcpu;
	__u16 last_reason;
	__u8 level; /* 1 or 2 */
	__u8 last_flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* thread id */
	__type(value, struct vcpu_state);
} vcpus SEC(".maps");

static __always_inline bool wanted(void)
{
	return !target_tgid || (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline struct tortuga_event *reserve(void)
{
	struct tortuga_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		__sync_fetch_and_add(&dropped, 1);
	return e;
}

static __always_inline void submit(struct tortuga_event *e)
{
	/* Batching: wake the reader only when enough is pending; its poll
	 * timeout collects the rest. */
	__u64 pending = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(e, pending >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

SEC("usdt")
int BPF_USDT(tortuga_event, const struct tortuga_event *ev)
{
	if (!wanted())
		return 0;
	struct tortuga_event *e = reserve();
	if (!e)
		return 0;
	if (bpf_probe_read_user(e, sizeof(*e), ev)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		__sync_fetch_and_add(&read_errors, 1);
		return 0;
	}
	submit(e);
	return 0;
}

/* ---- KVM tracepoints ---- */

#define FIELD(ctx, tp, f) tp_read(ctx, kvm_layout.tp##__##f.off, kvm_layout.tp##__##f.size)

static __always_inline __u64 tp_read(void *ctx, __u16 off, __u16 size)
{
	__u64 v = 0;
	/* off and size are load-time constants: the verifier sees them. */
	if (size && size <= sizeof(v))
		bpf_probe_read_kernel(&v, size, (char *)ctx + off);
	return v;
}

static __always_inline struct vcpu_state *vcpu_of(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vcpu_state *st = bpf_map_lookup_elem(&vcpus, &tid);
	if (st)
		return st;
	struct vcpu_state init = { .level = 1 };
	bpf_map_update_elem(&vcpus, &tid, &init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&vcpus, &tid);
}

static __always_inline struct tortuga_event *kvm_event(struct vcpu_state *st, __u8 kind)
{
	struct tortuga_event *e = reserve();
	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->seq = TORTUGA_SEQ_KVM_BASE + __sync_fetch_and_add(&kvm_seq, 1) + 1;
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->vcpu = (__u16)st->vcpu;
	e->level = st->level;
	e->flags = TORTUGA_EVF_KVM;
	return e;
}

/* VMX reports the full exit reason (SDM Vol. 3C 24.9.1: bits 15:0 are the
 * basic reason); SVM an exit code (AMD APM Vol. 2 Appendix C), whose
 * VMEXIT_INVALID (-1) keeps its low 16 bits. */
static __always_inline __u8 isa_flags(__u64 isa)
{
	return isa == TORTUGA_KVM_ISA_SVM ? TORTUGA_EVF_SVM : 0;
}

/* An entry's reason is the exit it ends (kvm_exit's record, still open);
 * with none open -- a vCPU's first entry, one KVM makes itself -- it has
 * none: TORTUGA_EVF_NO_REASON. */
static __always_inline void name_by_open_exit(const struct vcpu_state *st, struct tortuga_event *e)
{
	if (st->last_exit) {
		e->reason = st->last_reason;
		e->flags |= st->last_flags & TORTUGA_EVF_SVM;
	} else {
		e->flags |= TORTUGA_EVF_NO_REASON;
	}
}

SEC("tracepoint/kvm/kvm_exit")
int kvm_exit(void *ctx)
{
	if (!wanted())
		return 0;
	struct vcpu_state *st = vcpu_of();
	if (!st)
		return 0;
	if (kvm_layout.kvm_exit__vcpu_id.size)
		st->vcpu = (__u32)FIELD(ctx, kvm_exit, vcpu_id);
	struct tortuga_event *e = kvm_event(st, TORTUGA_EV_EXIT);
	if (!e)
		return 0;
	e->reason = (__u16)FIELD(ctx, kvm_exit, exit_reason);
	e->flags |= isa_flags(FIELD(ctx, kvm_exit, isa));
	e->qual = FIELD(ctx, kvm_exit, info1);
	e->aux = FIELD(ctx, kvm_exit, info2);
	e->rip = FIELD(ctx, kvm_exit, guest_rip);
	/* L1's exits while it handles a reflected L2 exit descend from it. */
	if (st->level == 1)
		e->parent = st->pending_l2;
	st->last_exit = e->seq;
	st->last_reason = e->reason;
	st->last_flags = e->flags;
	if (st->level == 2)
		st->last_l2_exit = e->seq;
	submit(e);
	return 0;
}

SEC("tracepoint/kvm/kvm_nested_vmexit")
int kvm_nested_vmexit(void *ctx)
{
	if (!wanted())
		return 0;
	struct vcpu_state *st = vcpu_of();
	if (!st)
		return 0;
	/* Only exits from L2 get here: the exit just traced was L2's. */
	st->level = 2;
	st->last_l2_exit = st->last_exit;
	struct tortuga_event *e = kvm_event(st, TORTUGA_EV_NESTED_EXIT);
	if (!e)
		return 0;
	e->reason = (__u16)FIELD(ctx, kvm_nested_vmexit, exit_reason);
	e->flags |= isa_flags(FIELD(ctx, kvm_nested_vmexit, isa));
	e->qual = FIELD(ctx, kvm_nested_vmexit, info1);
	e->aux = FIELD(ctx, kvm_nested_vmexit, info2);
	e->rip = FIELD(ctx, kvm_nested_vmexit, guest_rip);
	e->parent = st->last_exit;
	submit(e);
	return 0;
}

SEC("tracepoint/kvm/kvm_nested_vmexit_inject")
int kvm_nested_vmexit_inject(void *ctx)
{
	if (!wanted())
		return 0;
	struct vcpu_state *st = vcpu_of();
	if (!st)
		return 0;
	struct tortuga_event *e = kvm_event(st, TORTUGA_EV_REFLECT);
	if (!e)
		return 0;
	e->level = 2;
	e->handler = 1;
	e->reason = (__u16)FIELD(ctx, kvm_nested_vmexit_inject, exit_code);
	e->flags |= isa_flags(FIELD(ctx, kvm_nested_vmexit_inject, isa));
	e->qual = FIELD(ctx, kvm_nested_vmexit_inject, exit_info1);
	e->aux = FIELD(ctx, kvm_nested_vmexit_inject, exit_info2);
	e->parent = st->last_l2_exit;
	/* L1 runs its handler next; its exits descend from the L2 exit. */
	st->level = 1;
	st->pending_l2 = st->last_l2_exit;
	submit(e);
	return 0;
}

SEC("tracepoint/kvm/kvm_nested_vmenter")
int kvm_nested_vmenter(void *ctx)
{
	if (!wanted())
		return 0;
	struct vcpu_state *st = vcpu_of();
	if (!st)
		return 0;
	struct tortuga_event *e = kvm_event(st, TORTUGA_EV_NESTED_ENTRY);
	if (!e)
		return 0;
	e->level = 1;
	/* The schema's reason is the L1 exit that asked for the entry: VMRUN
	 * (SVM exit code 80h) or VMLAUNCH/VMRESUME (VMX 20/24), kvm_exit's
	 * record just before. Entries KVM makes for other causes (RSM, or
	 * KVM_SET_NESTED_STATE, with no exit open) have reason 0, parent 0
	 * and TORTUGA_EVF_NO_REASON; the ISA comes from the tracepoint where
	 * the kernel has the field. */
	name_by_open_exit(st, e);
	if (kvm_layout.kvm_nested_vmenter__isa.size)
		e->flags = (e->flags & ~TORTUGA_EVF_SVM) | isa_flags(FIELD(ctx, kvm_nested_vmenter, isa));
	e->qual = FIELD(ctx, kvm_nested_vmenter, vmcb);
	e->aux = FIELD(ctx, kvm_nested_vmenter, nested_rip);
	e->rip = FIELD(ctx, kvm_nested_vmenter, rip);
	e->parent = st->last_exit;
	st->level = 2;
	st->pending_l2 = 0;
	submit(e);
	return 0;
}

SEC("tracepoint/kvm/kvm_entry")
int kvm_entry(void *ctx)
{
	if (!wanted())
		return 0;
	struct vcpu_state *st = vcpu_of();
	if (!st)
		return 0;
	st->vcpu = (__u32)FIELD(ctx, kvm_entry, vcpu_id);
	struct tortuga_event *e = kvm_event(st, TORTUGA_EV_ENTRY);
	if (!e)
		return 0;
	/* The entry names the exit it ends; a vCPU's first entry ends none. */
	name_by_open_exit(st, e);
	e->parent = st->last_exit;
	e->rip = FIELD(ctx, kvm_entry, rip);
	e->aux = FIELD(ctx, kvm_entry, intr_info) | FIELD(ctx, kvm_entry, error_code) << 32;
	st->last_exit = 0; /* an entry closes its exit */
	submit(e);
	return 0;
}

SEC("tracepoint/kvm/kvm_smm_transition")
int kvm_smm_transition(void *ctx)
{
	if (!wanted())
		return 0;
	struct vcpu_state *st = vcpu_of();
	if (!st)
		return 0;
	st->vcpu = (__u32)FIELD(ctx, kvm_smm_transition, vcpu_id);
	bool entering = FIELD(ctx, kvm_smm_transition, entering) != 0;
	struct tortuga_event *e = kvm_event(st, entering ? TORTUGA_EV_SMI : TORTUGA_EV_RSM);
	if (!e)
		return 0;
	e->aux = FIELD(ctx, kvm_smm_transition, smbase);
	submit(e);
	return 0;
}
