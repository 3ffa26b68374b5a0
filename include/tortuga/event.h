/*
 * tortuga trace event: the one schema shared by the C library, the BPF program
 * (tracing/ BPF programs), every trace writer and the Python harness.
 *
 * The layout is frozen (64 bytes, little-endian, no padding) and described at
 * run time by tortuga_event_fields(), so consumers never restate it.
 * This header must stay compilable by `clang -target bpf`: fixed-width types
 * only, no libc beyond <stdint.h> (or vmlinux.h in BPF programs).
 */
#ifndef TORTUGA_EVENT_H
#define TORTUGA_EVENT_H

#ifdef __bpf__
#include <linux/types.h>
typedef __u8 uint8_t;
typedef __u16 uint16_t;
typedef __u32 uint32_t;
typedef __u64 uint64_t;
#else
#include <stdint.h>
#endif

/*
 * X(type, name, doc) -- in layout order. Keep 8-byte fields first.
 */
#define TORTUGA_EVENT_FIELDS(X)                                                \
	X(uint64_t, seq, "sequence number, from 1, per VM")                    \
	X(uint64_t, ts_ns, "host CLOCK_MONOTONIC time in ns")                  \
	X(uint64_t, cycles, "modelled guest cycles (the emulated TSC)")        \
	X(uint64_t, qual, "exit qualification, or kind-specific")              \
	X(uint64_t, rip, "guest RIP at the event")                             \
	X(uint64_t, aux, "kind-specific auxiliary value")                      \
	X(uint64_t, parent, "seq of the event that caused this one, 0 if none") \
	X(uint16_t, reason, "basic exit reason, or kind-specific code")        \
	X(uint16_t, vcpu, "vCPU index")                                        \
	X(uint8_t, kind, "enum tortuga_event_kind")                            \
	X(uint8_t, level, "level that exited / produced the event (0, 1, 2)")  \
	X(uint8_t, handler, "level that handled the event (0, 1, 2)")          \
	X(uint8_t, flags, "TORTUGA_EVF_* bits")

struct tortuga_event {
#define TORTUGA_EVENT_FIELD_(type, name, doc) type name;
	TORTUGA_EVENT_FIELDS(TORTUGA_EVENT_FIELD_)
#undef TORTUGA_EVENT_FIELD_
};

#define TORTUGA_EVENT_SIZE 64
_Static_assert(sizeof(struct tortuga_event) == TORTUGA_EVENT_SIZE,
	       "struct tortuga_event must stay 64 bytes");

enum tortuga_event_kind {
#define X(name, num, str, doc) TORTUGA_EV_##name = num,
#include "event_kinds.def"
#undef X
};

/* One past the largest kind number (the table is dense from 0). */
enum {
#define X(name, num, str, doc) TORTUGA_EV_COUNT_##name,
#include "event_kinds.def"
#undef X
	TORTUGA_EV_KIND_COUNT
};

enum tortuga_exit_reason {
#define X(name, num, str) TORTUGA_EXIT_##name = num,
#include "exit_reasons.def"
#undef X
	TORTUGA_EXIT_REASON_MAX = 80, /* one past the largest basic exit reason */
};

/*
 * AMD SVM exit codes (TORTUGA_EVF_SVM events carry one in `reason`).
 */
enum tortuga_svm_exit {
#define X(name, num, str) TORTUGA_SVM_EXIT_##name = num,
#define R(name, first, last, str) TORTUGA_SVM_EXIT_##name = first, TORTUGA_SVM_EXIT_##name##_LAST = last,
#include "svm_exit_codes.def"
#undef R
#undef X
};

/* flags */
#define TORTUGA_EVF_KVM 0x01 /* produced from a KVM tracepoint */
#define TORTUGA_EVF_SVM 0x02 /* reason is an AMD SVM exit code, not a VMX one */
/* An entry (or nested entry) that no exit asked for -- a vCPU's first
 * KVM_RUN, an entry KVM makes itself (RSM into guest mode,
 * KVM_SET_NESTED_STATE): `reason` is 0 and names nothing, and `parent` is 0. */
#define TORTUGA_EVF_NO_REASON 0x04

/*
 * Sequence numbers of events made from KVM tracepoints start here, so that
 * they never collide with the in-process numbering (which starts at 1) when
 * both are in one trace: a (seq) names one event in a file.
 */
#define TORTUGA_SEQ_KVM_BASE (1ull << 48)

/* TORTUGA_EV_LOST reasons: who lost the events. */
#define TORTUGA_LOST_RING 0 /* the in-process ring was full */
#define TORTUGA_LOST_BPF 1 /* the BPF ring buffer was full */

#endif
