#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "links.h"

void trace_links_free(struct trace_links *l)
{
	free(l->entry);
	free(l->reflect);
	free(l->root);
	free(l->chain_exits);
	memset(l, 0, sizeof(*l));
}

/* The parent's index, or TRACE_NONE when it is absent or not earlier. */
static uint32_t parent_of(const struct trace_evset *s, uint32_t i, uint64_t *bad)
{
	const struct tortuga_event *e = &s->ev[i];
	if (!e->parent)
		return TRACE_NONE;
	long p = trace_evset_find(s, e->parent);
	if (p < 0 || s->ev[p].seq >= e->seq) {
		++*bad;
		return TRACE_NONE;
	}
	return (uint32_t)p;
}

int trace_links_build(struct trace_links *l, const struct trace_evset *s)
{
	memset(l, 0, sizeof(*l));
	size_t n = s->n;
	uint32_t *parent = malloc((n ? n : 1) * sizeof(*parent));
	l->entry = malloc((n ? n : 1) * sizeof(*l->entry));
	l->reflect = malloc((n ? n : 1) * sizeof(*l->reflect));
	l->root = malloc((n ? n : 1) * sizeof(*l->root));
	l->chain_exits = calloc(n ? n : 1, sizeof(*l->chain_exits));
	if (!parent || !l->entry || !l->reflect || !l->root || !l->chain_exits) {
		free(parent);
		trace_links_free(l);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		parent[i] = parent_of(s, i, &l->bad_parents);
		l->entry[i] = l->reflect[i] = l->root[i] = TRACE_NONE;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t p = parent[i];
		if (p == TRACE_NONE || s->ev[p].kind != TORTUGA_EV_EXIT)
			continue;
		if (s->ev[i].kind == TORTUGA_EV_ENTRY && l->entry[p] == TRACE_NONE)
			l->entry[p] = i;
		else if (s->ev[i].kind == TORTUGA_EV_REFLECT && l->reflect[p] == TRACE_NONE)
			l->reflect[p] = i;
	}
	/* Roots: walk up to the topmost EXIT, memoising along the way. Parents
	 * have smaller seqs, so each walk ends. */
	for (uint32_t i = 0; i < n; i++) {
		if (l->root[i] != TRACE_NONE)
			continue;
		uint32_t top = TRACE_NONE, j = i;
		while (j != TRACE_NONE) {
			if (l->root[j] != TRACE_NONE) {
				top = l->root[j];
				break;
			}
			if (s->ev[j].kind == TORTUGA_EV_EXIT)
				top = j;
			j = parent[j];
		}
		/* Everything from i up to top (inclusive) has top as root. */
		for (j = i; top != TRACE_NONE && j != TRACE_NONE && l->root[j] == TRACE_NONE;
		     j = parent[j]) {
			l->root[j] = top;
			if (j == top)
				break;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		if (s->ev[i].kind == TORTUGA_EV_EXIT && l->root[i] != TRACE_NONE)
			l->chain_exits[l->root[i]]++;
	free(parent);
	return 0;
}
