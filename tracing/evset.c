#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evset.h"

void trace_evset_init(struct trace_evset *s)
{
	memset(s, 0, sizeof(*s));
}

void trace_evset_free(struct trace_evset *s)
{
	free(s->ev);
	free(s->keys);
	free(s->vals);
	trace_evset_init(s);
}

int trace_evset_push(struct trace_evset *s, const struct tortuga_event *ev, size_t n)
{
	if (s->n + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->n + n)
			cap *= 2;
		struct tortuga_event *p = realloc(s->ev, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->ev = p;
		s->cap = cap;
	}
	memcpy(s->ev + s->n, ev, n * sizeof(*ev));
	s->n += n;
	s->mask = 0; /* index is stale */
	return 0;
}

static size_t slot_of(uint64_t seq, size_t mask)
{
	/* Fibonacci hashing spreads consecutive sequence numbers. */
	return (size_t)((seq * 0x9e3779b97f4a7c15ull) >> 17) & mask;
}

int trace_evset_index(struct trace_evset *s)
{
	if (s->n > 0x7fffffffu)
		return -EFBIG;
	size_t size = 64;
	while (size < 2 * s->n)
		size *= 2;
	free(s->keys);
	free(s->vals);
	s->keys = calloc(size, sizeof(*s->keys));
	s->vals = calloc(size, sizeof(*s->vals));
	s->mask = 0;
	if (!s->keys || !s->vals)
		return -ENOMEM;
	s->duplicates = 0;
	for (size_t i = 0; i < s->n; i++) {
		uint64_t seq = s->ev[i].seq;
		size_t h = slot_of(seq, size - 1);
		while (s->vals[h] && s->keys[h] != seq)
			h = (h + 1) & (size - 1);
		if (s->vals[h]) {
			s->duplicates++;
			continue;
		}
		s->keys[h] = seq;
		s->vals[h] = (uint32_t)i + 1;
	}
	s->mask = size - 1;
	return 0;
}

long trace_evset_find(const struct trace_evset *s, uint64_t seq)
{
	if (!s->mask)
		return -1;
	for (size_t h = slot_of(seq, s->mask); s->vals[h]; h = (h + 1) & s->mask)
		if (s->keys[h] == seq)
			return (long)s->vals[h] - 1;
	return -1;
}

const struct tortuga_event *trace_evset_parent(const struct trace_evset *s,
					       const struct tortuga_event *e)
{
	if (!e->parent)
		return NULL;
	long i = trace_evset_find(s, e->parent);
	return i < 0 ? NULL : &s->ev[i];
}
