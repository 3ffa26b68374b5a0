/*
 * Links between the events of a set, from their parent fields
 * (include/tortuga/event_kinds.def, "Conventions"):
 * - the ENTRY that ends each EXIT (its handling time is entry - exit),
 * - the REFLECT that hands an L2 exit to L1,
 * - the chain root of every event: its topmost EXIT ancestor. An exit that
 *   other exits descend from (an L2 exit and the L1 exits of L1's handler)
 *   is a chain; the chain ends with the last entry among its exits.
 * A parent is honoured only when its seq is smaller than the child's (causes
 * precede effects), so a damaged trace cannot make a cycle.
 */
#ifndef TRACING_LINKS_H
#define TRACING_LINKS_H

#include <stdint.h>

#include "evset.h"

#define TRACE_NONE UINT32_MAX

struct trace_links {
	uint32_t *entry; /* EXIT -> its ENTRY, else TRACE_NONE */
	uint32_t *reflect; /* EXIT -> the REFLECT naming it, else TRACE_NONE */
	uint32_t *root; /* any event -> topmost EXIT ancestor (an EXIT: maybe itself) */
	uint32_t *chain_exits; /* root EXIT -> exits in its chain, itself included */
	uint64_t bad_parents; /* parents that are not earlier events of the set */
};

int trace_links_build(struct trace_links *l, const struct trace_evset *s);
void trace_links_free(struct trace_links *l);

#endif
