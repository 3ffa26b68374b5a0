#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "evset.h"
#include "links.h"
#include "perfetto.h"
#include "trace.h"

#define LEVEL_TRACKS 3 /* L0, L1, L2; deeper levels share the L2 track */

struct vcpu_state {
	bool running; /* a level was entered and has not exited yet */
	uint8_t level;
	uint64_t since;
};

struct render {
	FILE *f;
	const struct trace_evset *s;
	struct trace_links links;
	enum trace_clock clock;
	uint64_t t0, tmax;
	bool first; /* no traceEvents element written yet */
	uint32_t nvcpus;
	struct vcpu_state *vs; /* [source][vcpu] */
	uint64_t *chain_end; /* root EXIT -> last entry among its chain's exits */
	uint64_t flow_id;
};

static int source_of(const struct tortuga_event *e)
{
	return (e->flags & TORTUGA_EVF_KVM) ? 1 : 0;
}

static uint64_t tsv(const struct render *r, const struct tortuga_event *e)
{
	return r->clock == TRACE_CLOCK_CYCLES ? e->cycles : e->ts_ns;
}

static int pid_of(const struct tortuga_event *e)
{
	return 1 + source_of(e);
}

static unsigned tid_of(unsigned vcpu, unsigned level)
{
	return 1 + vcpu * LEVEL_TRACKS + (level < LEVEL_TRACKS ? level : LEVEL_TRACKS - 1);
}

/* Chrome trace timestamps are microseconds; keep nanosecond precision. */
static void put_us(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
}

static void begin(struct render *r, char ph, int pid, unsigned tid)
{
	fputs(r->first ? "\n" : ",\n", r->f);
	r->first = false;
	fprintf(r->f, "{\"ph\":\"%c\",\"pid\":%d,\"tid\":%u", ph, pid, tid);
}

static void put_ts(struct render *r, const char *key, uint64_t t)
{
	fprintf(r->f, ",\"%s\":", key);
	put_us(r->f, t);
}

static const char *reason_or_kind(const struct tortuga_event *e, char buf[TRACE_NAME_MAX])
{
	const char *n = trace_reason_name(e, buf);
	if (n)
		return n;
	n = trace_event_kind_name(e->kind);
	return n ? n : "event";
}

static void put_event_args(struct render *r, const struct tortuga_event *e)
{
	fprintf(r->f,
		",\"args\":{\"seq\":%" PRIu64 ",\"level\":%u,\"handler\":%u,\"reason\":%u,"
		"\"qual\":\"0x%" PRIx64 "\",\"rip\":\"0x%" PRIx64 "\",\"aux\":\"0x%" PRIx64
		"\",\"cycles\":%" PRIu64,
		e->seq, e->level, e->handler, e->reason, e->qual, e->rip, e->aux, e->cycles);
}

static void slice(struct render *r, const struct tortuga_event *e, unsigned tid, uint64_t from,
		  uint64_t to, const char *name, const char *cat)
{
	begin(r, 'X', pid_of(e), tid);
	put_ts(r, "ts", from - r->t0);
	put_ts(r, "dur", to - from);
	fprintf(r->f, ",\"name\":\"%s\",\"cat\":\"%s\"", name, cat);
}

/* The end of an exit: its entry; an exit never resumed lasts to the end. */
static uint64_t exit_end(const struct render *r, uint32_t i)
{
	uint32_t n = r->links.entry[i];
	return n == TRACE_NONE ? r->tmax : tsv(r, &r->s->ev[n]);
}

static void exit_slice(struct render *r, uint32_t i)
{
	const struct tortuga_event *e = &r->s->ev[i];
	uint32_t n = r->links.entry[i];
	const struct tortuga_event *entry = n == TRACE_NONE ? NULL : &r->s->ev[n];
	char buf[TRACE_NAME_MAX], cat[16];
	snprintf(cat, sizeof(cat), "L%u exit", e->level);
	uint64_t end = exit_end(r, i);
	slice(r, e, tid_of(e->vcpu, 0), tsv(r, e), end, reason_or_kind(e, buf), cat);
	put_event_args(r, e);
	if (entry)
		fprintf(r->f, ",\"handling_cycles\":%" PRIu64, entry->cycles - e->cycles);
	else
		fputs(",\"unfinished\":true", r->f);
	if (r->links.reflect[i] != TRACE_NONE)
		fputs(",\"reflected_to\":\"L1\"", r->f);
	fputs("}}", r->f);
}


static void chain_slice(struct render *r, uint32_t root)
{
	const struct tortuga_event *e = &r->s->ev[root];
	uint64_t end = r->chain_end[root];
	char buf[TRACE_NAME_MAX], name[64];
	snprintf(name, sizeof(name), "L%u %s chain", e->level, reason_or_kind(e, buf));
	slice(r, e, tid_of(e->vcpu, 0), tsv(r, e), end, name, "chain");
	fprintf(r->f, ",\"args\":{\"root_seq\":%" PRIu64 ",\"exits\":%u}}", e->seq,
		r->links.chain_exits[root]);
}

static void flow(struct render *r, const struct tortuga_event *from, const struct tortuga_event *to)
{
	r->flow_id++;
	begin(r, 's', pid_of(from), tid_of(from->vcpu, 0));
	put_ts(r, "ts", tsv(r, from) - r->t0);
	fprintf(r->f, ",\"id\":%" PRIu64 ",\"name\":\"caused\",\"cat\":\"parent\"}", r->flow_id);
	begin(r, 'f', pid_of(to), tid_of(to->vcpu, 0));
	put_ts(r, "ts", tsv(r, to) - r->t0);
	fprintf(r->f, ",\"id\":%" PRIu64 ",\"name\":\"caused\",\"cat\":\"parent\",\"bp\":\"e\"}",
		r->flow_id);
}

/* Kinds that happen while L0 works (between an exit and an entry). */
static bool in_l0(uint8_t kind)
{
	return kind == TORTUGA_EV_NESTED_ENTRY || kind == TORTUGA_EV_NESTED_EXIT ||
	       kind == TORTUGA_EV_REFLECT || kind == TORTUGA_EV_STOP || kind == TORTUGA_EV_LOST;
}

static void instant(struct render *r, const struct tortuga_event *e)
{
	char buf[TRACE_NAME_MAX], name[64];
	const char *kind = trace_event_kind_name(e->kind);
	const char *reason = trace_reason_name(e, buf);
	snprintf(name, sizeof(name), "%s%s%s", kind ? kind : "event", reason ? " " : "",
		 reason ? reason : "");
	begin(r, 'i', pid_of(e), tid_of(e->vcpu, in_l0(e->kind) ? 0 : e->level));
	put_ts(r, "ts", tsv(r, e) - r->t0);
	/* Lost events concern the whole trace: a global instant. */
	fprintf(r->f, ",\"s\":\"%c\",\"name\":\"%s\",\"cat\":\"%s\"",
		e->kind == TORTUGA_EV_LOST ? 'g' : 't', name, kind ? kind : "event");
	put_event_args(r, e);
	fputs("}}", r->f);
}

static struct vcpu_state *state_of(struct render *r, const struct tortuga_event *e)
{
	return &r->vs[source_of(e) * r->nvcpus + e->vcpu];
}

static void level_slice(struct render *r, const struct tortuga_event *e, struct vcpu_state *v,
			uint64_t until)
{
	if (!v->running)
		return;
	char name[8];
	snprintf(name, sizeof(name), "L%u", v->level);
	begin(r, 'X', pid_of(e), tid_of(e->vcpu, v->level));
	put_ts(r, "ts", v->since - r->t0);
	put_ts(r, "dur", until - v->since);
	fprintf(r->f, ",\"name\":\"%s\",\"cat\":\"running\"}", name);
	v->running = false;
}

static void metadata(struct render *r)
{
	static const char *const proc[] = { "tortuga", "KVM tracepoints" };
	bool used[2] = { false, false };
	for (size_t i = 0; i < r->s->n; i++)
		used[source_of(&r->s->ev[i])] = true;
	for (int src = 0; src < 2; src++) {
		if (!used[src])
			continue;
		begin(r, 'M', 1 + src, 0);
		fprintf(r->f, ",\"name\":\"process_name\",\"args\":{\"name\":\"%s\"}}", proc[src]);
		for (unsigned v = 0; v < r->nvcpus; v++)
			for (unsigned l = 0; l < LEVEL_TRACKS; l++) {
				begin(r, 'M', 1 + src, tid_of(v, l));
				fprintf(r->f,
					",\"name\":\"thread_name\",\"args\":{\"name\":\"vCPU%u L%u%s\"}}",
					v, l, l ? "" : " (exits)");
				begin(r, 'M', 1 + src, tid_of(v, l));
				fprintf(r->f, ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":%u}}",
					tid_of(v, l));
			}
	}
}

int trace_perfetto_write(FILE *f, const struct trace_evset *s, enum trace_clock clock)
{
	struct render r = { .f = f, .s = s, .clock = clock, .first = true };
	int err = trace_links_build(&r.links, s);
	if (err)
		return err;
	r.t0 = UINT64_MAX;
	for (size_t i = 0; i < s->n; i++) {
		uint64_t t = tsv(&r, &s->ev[i]);
		if (t < r.t0)
			r.t0 = t;
		if (t > r.tmax)
			r.tmax = t;
		if (s->ev[i].vcpu >= r.nvcpus)
			r.nvcpus = s->ev[i].vcpu + 1u;
	}
	if (!s->n)
		r.t0 = 0;
	r.vs = calloc(2 * (r.nvcpus ? r.nvcpus : 1), sizeof(*r.vs));
	r.chain_end = calloc(s->n ? s->n : 1, sizeof(*r.chain_end));
	if (!r.vs || !r.chain_end) {
		free(r.vs);
		free(r.chain_end);
		trace_links_free(&r.links);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->n; i++) {
		uint32_t root = r.links.root[i];
		if (s->ev[i].kind == TORTUGA_EV_EXIT && root != TRACE_NONE &&
		    exit_end(&r, i) > r.chain_end[root])
			r.chain_end[root] = exit_end(&r, i);
	}
	fprintf(f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":\"tortuga\","
		   "\"clock\":\"%s\"},\"traceEvents\":[",
		clock == TRACE_CLOCK_CYCLES ? "modelled cycles" : "host ns");
	metadata(&r);
	for (uint32_t i = 0; i < s->n; i++) {
		const struct tortuga_event *e = &s->ev[i];
		struct vcpu_state *v = state_of(&r, e);
		switch (e->kind) {
		case TORTUGA_EV_EXIT:
			level_slice(&r, e, v, tsv(&r, e));
			if (r.links.root[i] == i && r.links.chain_exits[i] > 1)
				chain_slice(&r, i);
			exit_slice(&r, i);
			if (r.links.root[i] != i && r.links.root[i] != TRACE_NONE) {
				const struct tortuga_event *p = trace_evset_parent(s, e);
				if (p)
					flow(&r, p, e);
			}
			break;
		case TORTUGA_EV_ENTRY:
			level_slice(&r, e, v, tsv(&r, e));
			v->running = true;
			v->level = e->level;
			v->since = tsv(&r, e);
			break;
		default:
			instant(&r, e);
			break;
		}
	}
	/* Levels still running at the end of the trace run to its last event. */
	for (uint32_t i = 0; i < s->n; i++) {
		struct vcpu_state *v = state_of(&r, &s->ev[i]);
		level_slice(&r, &s->ev[i], v, r.tmax);
	}
	fputs("\n]}\n", f);
	free(r.vs);
	free(r.chain_end);
	trace_links_free(&r.links);
	return ferror(f) ? -EIO : 0;
}
