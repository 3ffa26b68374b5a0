/*
 * An event set: a whole trace in memory, with its events findable by
 * sequence number. The Perfetto writer and the report work on one.
 */
#ifndef TRACING_EVSET_H
#define TRACING_EVSET_H

#include <stddef.h>
#include <stdint.h>

#include <tortuga/event.h>

struct trace_evset {
	struct tortuga_event *ev; /* in arrival order */
	size_t n, cap;
	/* seq -> index + 1 (0: empty slot), open addressing; built by
	 * trace_evset_index(). */
	uint64_t *keys;
	uint32_t *vals;
	size_t mask;
	size_t duplicates; /* events whose seq an earlier event already had */
};

void trace_evset_init(struct trace_evset *s);
void trace_evset_free(struct trace_evset *s);
/* Append n events; -ENOMEM on failure. Invalidates the index. */
int trace_evset_push(struct trace_evset *s, const struct tortuga_event *ev, size_t n);
/* Build the seq index (the first of equal seqs wins). */
int trace_evset_index(struct trace_evset *s);
/* Index of the event with this seq, or -1. */
long trace_evset_find(const struct trace_evset *s, uint64_t seq);
/* The event `e` names as parent, or NULL (no parent, or not in the set). */
const struct tortuga_event *trace_evset_parent(const struct trace_evset *s,
					       const struct tortuga_event *e);

#endif
