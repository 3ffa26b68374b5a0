/*
 * Chrome trace-event JSON, as ui.perfetto.dev and chrome://tracing open it
 * ("Trace Event Format", Google, 2016: complete events "X", instant events
 * "i", flow events "s"/"f", metadata "M").
 *
 * Layout: one process per event source (tortuga, KVM tracepoints), three
 * threads (tracks) per vCPU:
 *   "vCPU n L0"  every exit as a slice from the exit to its entry (the
 *                handling time), named by reason; an exit that caused other
 *                exits (a chain: an L2 exit and the L1 exits of its handler)
 *                gets an enclosing "chain" slice, so nested work nests;
 *   "vCPU n L1", "vCPU n L2"  slices while that level runs (entry to exit).
 * Parent links from an exit to the exits it caused are flows. Other kinds
 * are instants: on the L0 track for what L0 does (nested entry, reflection,
 * stop, lost), else on the track of their level (exceptions, SMI, DMA, ...).
 */
#ifndef TRACING_PERFETTO_H
#define TRACING_PERFETTO_H

#include <stdio.h>

struct trace_evset;

enum trace_clock {
	TRACE_CLOCK_WALL, /* ts_ns: host time */
	TRACE_CLOCK_CYCLES, /* cycles: modelled guest cycles, shown as ns */
};

/* Write the whole set (indexed by trace_evset_index()); 0 or -errno. */
int trace_perfetto_write(FILE *f, const struct trace_evset *s, enum trace_clock clock);

#endif
