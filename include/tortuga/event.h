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

#ifndef __bpf__
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

enum tortuga_exit_reason {
#define X(name, num, str) TORTUGA_EXIT_##name = num,
#include "exit_reasons.def"
#undef X
	TORTUGA_EXIT_REASON_MAX = 80, /* one past the largest basic exit reason */
};

/* flags */
#define TORTUGA_EVF_KVM 0x01 /* produced from a KVM tracepoint */

#endif
