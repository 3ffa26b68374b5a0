/*
 * USDT probes (DESIGN.md "Tracing"). Every event producer goes through
 * trace_emit(), which fires tortuga:event; the probe is guarded by its
 * semaphore so it costs one load and a not-taken branch while nobody listens
 * (a uprobe attached with the semaphore's offset makes the kernel increment
 * it: libbpf, bpftrace and perf do so).
 *
 * Probe tortuga:event arguments (BPF_USDT order):
 *   1 const struct tortuga_event *ev   the whole record (64 bytes)
 *   2 u8  kind    3 u16 reason   4 u64 qual   5 u64 rip   6 u16 vcpu
 *
 * Building with -Dusdt=false (TORTUGA_NO_USDT) compiles the probe out; it
 * exists to measure what the disabled probe costs (bench/).
 */
#ifndef TRACING_PROBES_H
#define TRACING_PROBES_H

#ifdef TORTUGA_NO_USDT

#define TRACE_PROBE_ENABLED() 0
#define TRACE_PROBE_EVENT(ev) ((void)(ev))

#else

#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

extern unsigned short tortuga_event_semaphore;

#define TRACE_PROBE_ENABLED() __builtin_expect(tortuga_event_semaphore != 0, 0)

#define TRACE_PROBE_EVENT(ev)                                                      \
	STAP_PROBE6(tortuga, event, (ev), (ev)->kind, (ev)->reason, (ev)->qual, (ev)->rip, \
		    (ev)->vcpu)

#endif
#endif
