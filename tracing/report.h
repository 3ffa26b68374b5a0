/*
 * `tortuga trace report`: what a trace says about where time went.
 *
 * Definitions (the report prints them too, so numbers are never ambiguous):
 * - Handling time of an exit: from the EXIT to the ENTRY that names it as
 *   parent, as `perf kvm stat` measures exit->entry. For an L2 exit that L0
 *   reflects to L1, that is L0's part (up to entering L1's handler). Times
 *   are host ns (ts_ns) and modelled cycles (cycles); KVM events have ns only.
 * - Per reason and exiting level: count, share of exits, share of handling
 *   time, total/min/avg/max and a log2 histogram of handling ns.
 * - Attribution of L2 exits: handled at L0, or reflected to L1 (a REFLECT
 *   names the exit). L1 exits are all handled at L0.
 * - L0 exits per L2 exit: the exits in the chains rooted at L2 exits (the
 *   L2 exit itself plus the L1 exits of L1's handler, found by parent links)
 *   divided by the number of L2 exits.
 * - Time per level: per vCPU, EXIT->ENTRY counts for L0, ENTRY->EXIT for the
 *   level entered. Stretches without both ends (before the first event,
 *   after the last entry) are not counted.
 * - Exit chains: an exit with descendant exits; its signature is the root's
 *   level and reason, then its descendants' in order (runs compressed as
 *   xN). Top chains by count. Chain time: root EXIT to the last ENTRY
 *   among its exits.
 * Events from KVM tracepoints and from tortuga itself are reported apart:
 * they number their events separately and may describe the same exits.
 */
#ifndef TRACING_REPORT_H
#define TRACING_REPORT_H

#include <stdio.h>

#include "evset.h"

#define TRACE_REPORT_JSON 0x1
#define TRACE_REPORT_TOP_CHAINS 10

/* Report on s (indexed); name is what the header calls the trace. */
int trace_report_write(FILE *f, const struct trace_evset *s, const char *name, unsigned flags);

#endif
