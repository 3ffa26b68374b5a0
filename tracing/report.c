/*
 * The trace report (definitions in report.h). One pass builds a model per
 * event source; two printers render it as text or JSON, so both always say
 * the same thing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "links.h"
#include "report.h"
#include "trace.h"

#define LEVELS 4 /* L0..L2, deeper levels counted as 3 */
#define HIST_BUCKETS 65 /* 0: 0 ns; k: [2^(k-1), 2^k) ns */
#define KEY_SPACE (LEVELS * 2 * 65536)
#define SIG_MAX 200

struct row {
	uint8_t level;
	bool svm;
	uint16_t reason;
	uint64_t count, timed;
	uint64_t total_ns, min_ns, max_ns, total_cycles;
	uint64_t reflected;
	uint64_t multiplied; /* exits in this exit's chain (1 when not a root) */
	uint64_t hist[HIST_BUCKETS];
};

struct chain {
	char sig[SIG_MAX + 8];
	uint64_t count, exits, ns, cycles;
	uint32_t first; /* root index of the first occurrence, for ordering ties */
};

struct level_time {
	uint64_t ns, cycles;
};

struct model {
	const struct trace_evset *s;
	struct trace_links links;
	int src; /* 0: tortuga, 1: KVM tracepoints */
	uint64_t events, exits, lost, missing, unfinished;
	uint64_t kinds[TORTUGA_EV_KIND_COUNT + 1]; /* last: unknown kinds */
	uint64_t exits_per_level[LEVELS];
	uint64_t ns_per_level[LEVELS]; /* handling ns of timed exits */
	uint32_t nvcpus;
	uint64_t t_first, t_last, c_first, c_last;
	struct row *rows;
	size_t nrows;
	uint32_t *row_of; /* KEY_SPACE: row index + 1 */
	struct level_time time[LEVELS];
	struct chain *chains;
	size_t nchains, chains_cap;
	uint64_t chain_roots;
};

static int source_of(const struct tortuga_event *e)
{
	return (e->flags & TORTUGA_EVF_KVM) ? 1 : 0;
}

static unsigned lvl(unsigned level)
{
	return level < LEVELS ? level : LEVELS - 1;
}

static unsigned bucket_of(uint64_t ns)
{
	return ns ? 64u - (unsigned)__builtin_clzll(ns) : 0;
}

static struct row *row_for(struct model *m, const struct tortuga_event *e)
{
	bool svm = (e->flags & TORTUGA_EVF_SVM) != 0;
	uint32_t key = (lvl(e->level) * 2u + svm) * 65536u + e->reason;
	if (m->row_of[key])
		return &m->rows[m->row_of[key] - 1];
	struct row *r = &m->rows[m->nrows++]; /* rows has room for every exit */
	memset(r, 0, sizeof(*r));
	r->level = (uint8_t)lvl(e->level);
	r->svm = svm;
	r->reason = e->reason;
	r->min_ns = UINT64_MAX;
	m->row_of[key] = (uint32_t)m->nrows;
	return r;
}

static const char *row_name(const struct row *r, char buf[TRACE_NAME_MAX])
{
	struct tortuga_event e = { .kind = TORTUGA_EV_EXIT, .reason = r->reason,
				   .flags = r->svm ? TORTUGA_EVF_SVM : 0 };
	return trace_reason_name(&e, buf);
}

/* ---- chains ---- */

static void sig_append(char *sig, const char *s)
{
	size_t n = strlen(sig);
	if (n >= SIG_MAX)
		return;
	snprintf(sig + n, SIG_MAX + 8 - n, "%s", s);
	if (strlen(sig) > SIG_MAX)
		strcpy(sig + SIG_MAX, "...");
}

/* "L2 CPUID > L1 VMREAD x3, VMWRITE, L2 HLT": levels are named when they
 * change, repeats are counted. */
static void chain_signature(const struct model *m, uint32_t root, const uint32_t *next, char *sig)
{
	char buf[TRACE_NAME_MAX], part[64];
	const struct tortuga_event *r = &m->s->ev[root];
	snprintf(sig, SIG_MAX, "L%u %s", r->level, trace_reason_name(r, buf));
	unsigned level = r->level;
	const char *sep = " > ";
	for (uint32_t i = next[root]; i != TRACE_NONE;) {
		const struct tortuga_event *e = &m->s->ev[i];
		unsigned run = 1;
		uint32_t j = next[i];
		while (j != TRACE_NONE && m->s->ev[j].level == e->level &&
		       m->s->ev[j].reason == e->reason && m->s->ev[j].flags == e->flags) {
			run++;
			j = next[j];
		}
		const char *name = trace_reason_name(e, buf);
		if (e->level != level)
			snprintf(part, sizeof(part), "%sL%u %s", sep, e->level, name);
		else
			snprintf(part, sizeof(part), "%s%s", sep, name);
		sig_append(sig, part);
		if (run > 1) {
			snprintf(part, sizeof(part), " x%u", run);
			sig_append(sig, part);
		}
		level = e->level;
		sep = ", ";
		i = j;
	}
}

static uint64_t exit_end_ns(const struct model *m, uint32_t i, uint64_t *cycles)
{
	uint32_t n = m->links.entry[i];
	const struct tortuga_event *e = &m->s->ev[n == TRACE_NONE ? i : n];
	*cycles = e->cycles;
	return e->ts_ns;
}

static int add_chain(struct model *m, uint32_t root, const uint32_t *next)
{
	char sig[SIG_MAX + 8];
	chain_signature(m, root, next, sig);
	const struct tortuga_event *r = &m->s->ev[root];
	uint64_t end_c, end_ns = exit_end_ns(m, root, &end_c);
	for (uint32_t i = next[root]; i != TRACE_NONE; i = next[i]) {
		uint64_t c, t = exit_end_ns(m, i, &c);
		if (t > end_ns)
			end_ns = t;
		if (c > end_c)
			end_c = c;
	}
	struct chain *c = NULL;
	for (size_t k = 0; k < m->nchains; k++)
		if (!strcmp(m->chains[k].sig, sig)) {
			c = &m->chains[k];
			break;
		}
	if (!c) {
		if (m->nchains == m->chains_cap) {
			size_t cap = m->chains_cap ? 2 * m->chains_cap : 64;
			struct chain *p = realloc(m->chains, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			m->chains = p;
			m->chains_cap = cap;
		}
		c = &m->chains[m->nchains++];
		memset(c, 0, sizeof(*c));
		memcpy(c->sig, sig, sizeof(sig));
		c->first = root;
	}
	c->count++;
	c->exits += m->links.chain_exits[root];
	c->ns += end_ns - r->ts_ns;
	c->cycles += end_c - r->cycles;
	m->chain_roots++;
	return 0;
}

static int chain_order(const void *a, const void *b)
{
	const struct chain *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->ns != y->ns)
		return x->ns > y->ns ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

static int build_chains(struct model *m)
{
	size_t n = m->s->n;
	uint32_t *next = malloc((n ? n : 1) * sizeof(*next));
	uint32_t *tail = malloc((n ? n : 1) * sizeof(*tail));
	if (!next || !tail) {
		free(next);
		free(tail);
		return -ENOMEM;
	}
	/* Link each chain's exits in order, root first. */
	for (uint32_t i = 0; i < n; i++)
		next[i] = tail[i] = TRACE_NONE;
	for (uint32_t i = 0; i < n; i++) {
		const struct tortuga_event *e = &m->s->ev[i];
		uint32_t root = m->links.root[i];
		if (e->kind != TORTUGA_EV_EXIT || source_of(e) != m->src || root == TRACE_NONE)
			continue;
		if (root == i)
			tail[i] = i;
		else if (tail[root] != TRACE_NONE) {
			next[tail[root]] = i;
			tail[root] = i;
		}
	}
	int err = 0;
	for (uint32_t i = 0; i < n && !err; i++)
		if (m->links.root[i] == i && m->links.chain_exits[i] > 1 &&
		    source_of(&m->s->ev[i]) == m->src)
			err = add_chain(m, i, next);
	free(next);
	free(tail);
	if (m->nchains)
		qsort(m->chains, m->nchains, sizeof(*m->chains), chain_order);
	return err;
}

/* ---- the model ---- */

static void account_exit(struct model *m, uint32_t i)
{
	const struct tortuga_event *e = &m->s->ev[i];
	struct row *r = row_for(m, e);
	r->count++;
	m->exits++;
	m->exits_per_level[lvl(e->level)]++;
	r->multiplied += m->links.root[i] == i ? m->links.chain_exits[i] : 1;
	if (m->links.reflect[i] != TRACE_NONE)
		r->reflected++;
	uint32_t n = m->links.entry[i];
	if (n == TRACE_NONE) {
		m->unfinished++;
		return;
	}
	const struct tortuga_event *x = &m->s->ev[n];
	uint64_t ns = x->ts_ns - e->ts_ns;
	r->timed++;
	r->total_ns += ns;
	r->total_cycles += x->cycles - e->cycles;
	if (ns < r->min_ns)
		r->min_ns = ns;
	if (ns > r->max_ns)
		r->max_ns = ns;
	r->hist[bucket_of(ns)]++;
	m->ns_per_level[r->level] += ns;
}

struct vcpu_walk {
	bool known;
	uint8_t level; /* 0: in L0 handling an exit */
	uint64_t ns, cycles;
};

static void walk_time(struct model *m, struct vcpu_walk *w, const struct tortuga_event *e)
{
	if (e->kind != TORTUGA_EV_EXIT && e->kind != TORTUGA_EV_ENTRY)
		return;
	bool is_exit = e->kind == TORTUGA_EV_EXIT;
	/* An exit ends a stretch of the level that ran; an entry ends L0's. */
	if (w->known && (is_exit ? w->level != 0 : w->level == 0)) {
		m->time[w->level].ns += e->ts_ns - w->ns;
		m->time[w->level].cycles += e->cycles - w->cycles;
	}
	w->known = true;
	w->level = is_exit ? 0 : (uint8_t)lvl(e->level ? e->level : 1);
	w->ns = e->ts_ns;
	w->cycles = e->cycles;
}

static int row_order(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->svm != y->svm)
		return x->svm ? 1 : -1;
	return x->reason < y->reason ? -1 : x->reason > y->reason;
}

static int build_model(struct model *m)
{
	const struct trace_evset *s = m->s;
	uint64_t seq_min = UINT64_MAX, seq_max = 0;
	m->t_first = m->c_first = UINT64_MAX;
	for (uint32_t i = 0; i < s->n; i++) {
		const struct tortuga_event *e = &s->ev[i];
		if (source_of(e) != m->src)
			continue;
		m->events++;
		if (e->vcpu >= m->nvcpus)
			m->nvcpus = e->vcpu + 1u;
		m->kinds[e->kind < TORTUGA_EV_KIND_COUNT ? e->kind : TORTUGA_EV_KIND_COUNT]++;
		if (e->kind == TORTUGA_EV_LOST) {
			m->lost += e->aux;
			continue; /* written by a consumer, outside the numbering */
		}
		if (e->seq < seq_min)
			seq_min = e->seq;
		if (e->seq > seq_max)
			seq_max = e->seq;
		if (e->ts_ns < m->t_first)
			m->t_first = e->ts_ns;
		if (e->ts_ns > m->t_last)
			m->t_last = e->ts_ns;
		if (e->cycles < m->c_first)
			m->c_first = e->cycles;
		if (e->cycles > m->c_last)
			m->c_last = e->cycles;
	}
	uint64_t numbered = m->events - m->kinds[TORTUGA_EV_LOST];
	/* Producers number events without gaps; what is missing was lost. */
	if (numbered && seq_max - seq_min + 1 > numbered - s->duplicates)
		m->missing = seq_max - seq_min + 1 - (numbered - s->duplicates);
	if (!numbered)
		m->t_first = m->c_first = 0;

	m->rows = malloc((m->kinds[TORTUGA_EV_EXIT] + 1) * sizeof(*m->rows));
	m->row_of = calloc(KEY_SPACE, sizeof(*m->row_of));
	struct vcpu_walk *w = calloc(m->nvcpus ? m->nvcpus : 1, sizeof(*w));
	if (!m->rows || !m->row_of || !w) {
		free(w);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->n; i++) {
		const struct tortuga_event *e = &s->ev[i];
		if (source_of(e) != m->src)
			continue;
		if (e->kind == TORTUGA_EV_EXIT)
			account_exit(m, i);
		walk_time(m, &w[e->vcpu], e);
	}
	free(w);
	if (m->nrows)
		qsort(m->rows, m->nrows, sizeof(*m->rows), row_order);
	return build_chains(m);
}

static void free_model(struct model *m)
{
	free(m->rows);
	free(m->row_of);
	free(m->chains);
}

/* ---- text ---- */

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0.0;
}

static double avg(uint64_t total, uint64_t n)
{
	return n ? (double)total / (double)n : 0.0;
}

/* KVM tracepoint events carry no modelled cycles: say "-" (null), not 0. */
static bool has_cycles(const struct model *m)
{
	return m->src == 0;
}

static void text_num(FILE *f, const struct model *m, int width, double v, int decimals)
{
	if (has_cycles(m))
		fprintf(f, " %*.*f", width, decimals, v);
	else
		fprintf(f, " %*s", width, "-");
}

static void json_num(FILE *f, const struct model *m, const char *key, double v, int decimals)
{
	if (has_cycles(m))
		fprintf(f, ",\"%s\":%.*f", key, decimals, v);
	else
		fprintf(f, ",\"%s\":null", key);
}

static const char *const source_names[] = { "tortuga (in-process events)",
					    "KVM tracepoints (in-kernel exits)" };

static void text_header(FILE *f, const struct model *m)
{
	fprintf(f, "\nsource: %s\n", source_names[m->src]);
	fprintf(f, "  %" PRIu64 " events, %u vCPU(s), %" PRIu64 " exits", m->events, m->nvcpus,
		m->exits);
	const char *sep = " (";
	for (unsigned l = 0; l < LEVELS; l++)
		if (m->exits_per_level[l]) {
			fprintf(f, "%sL%u %" PRIu64, sep, l, m->exits_per_level[l]);
			sep = ", ";
		}
	fprintf(f, "%s\n", m->exits ? ")" : "");
	fprintf(f, "  span: %" PRIu64 " ns host time", m->t_last - m->t_first);
	if (m->src == 0)
		fprintf(f, ", %" PRIu64 " modelled cycles", m->c_last - m->c_first);
	fputc('\n', f);
	fprintf(f, "  events lost: %" PRIu64 " reported, %" PRIu64
		   " missing from the numbering; exits without entry: %" PRIu64 "\n",
		m->lost, m->missing, m->unfinished);
	if (m->lost || m->missing)
		fputs("  WARNING: the trace is incomplete; counts below are lower bounds\n", f);
	fputs("  events by kind:", f);
	for (unsigned k = 0; k <= TORTUGA_EV_KIND_COUNT; k++)
		if (m->kinds[k])
			fprintf(f, " %s %" PRIu64,
				k < TORTUGA_EV_KIND_COUNT ? trace_event_kind_name(k) : "unknown",
				m->kinds[k]);
	fputc('\n', f);
}

static void text_exits(FILE *f, const struct model *m)
{
	char buf[TRACE_NAME_MAX];
	for (unsigned l = 0; l < LEVELS; l++) {
		if (!m->exits_per_level[l])
			continue;
		fprintf(f, "\nexits from L%u by reason (handling time: exit to entry)\n", l);
		fprintf(f, "  %-26s %9s %7s %7s %12s %10s %12s %10s %12s\n", "reason", "count",
			"share", "time%", "total ns", "min ns", "avg ns", "max ns", "avg cycles");
		for (size_t k = 0; k < m->nrows; k++) {
			const struct row *r = &m->rows[k];
			if (r->level != l)
				continue;
			fprintf(f, "  %-26s %9" PRIu64 " %6.2f%% %6.2f%% %12" PRIu64, row_name(r, buf),
				r->count, pct(r->count, m->exits_per_level[l]),
				pct(r->total_ns, m->ns_per_level[l]), r->total_ns);
			if (r->timed) {
				fprintf(f, " %10" PRIu64 " %12.1f %10" PRIu64, r->min_ns,
					avg(r->total_ns, r->timed), r->max_ns);
				text_num(f, m, 12, avg(r->total_cycles, r->timed), 1);
				fputc('\n', f);
			} else {
				fprintf(f, " %10s %12s %10s %12s\n", "-", "-", "-", "-");
			}
		}
		fprintf(f, "  %-26s %9" PRIu64 " %6.2f%% %6.2f%% %12" PRIu64 "\n", "total",
			m->exits_per_level[l], 100.0, m->ns_per_level[l] ? 100.0 : 0.0,
			m->ns_per_level[l]);
	}
}

static void bucket_label(char *out, size_t len, unsigned k)
{
	static const char *const unit[] = { "", "K", "M", "G", "T", "P", "E" };
	if (k == 0) {
		snprintf(out, len, "[0]");
		return;
	}
	unsigned lo = k - 1, hi = k;
	snprintf(out, len, "[%llu%s, %llu%s)", 1ull << (lo % 10), unit[lo / 10], 1ull << (hi % 10),
		 unit[hi / 10]);
}

static void text_histograms(FILE *f, const struct model *m)
{
	char buf[TRACE_NAME_MAX], label[32];
	bool any = false;
	for (size_t k = 0; k < m->nrows; k++) {
		const struct row *r = &m->rows[k];
		if (!r->timed)
			continue;
		if (!any)
			fputs("\nhandling time histograms (ns, log2 buckets)\n", f);
		any = true;
		fprintf(f, "  L%u %s\n", r->level, row_name(r, buf));
		uint64_t top = 0;
		unsigned lo = HIST_BUCKETS, hi = 0;
		for (unsigned b = 0; b < HIST_BUCKETS; b++)
			if (r->hist[b]) {
				top = r->hist[b] > top ? r->hist[b] : top;
				lo = b < lo ? b : lo;
				hi = b;
			}
		for (unsigned b = lo; b <= hi; b++) {
			unsigned bar = (unsigned)((r->hist[b] * 40 + top - 1) / top);
			bucket_label(label, sizeof(label), b);
			fprintf(f, "    %-14s %9" PRIu64 " |%-40.*s|\n", label, r->hist[b], (int)bar,
				"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@");
		}
	}
}

static void text_attribution(FILE *f, const struct model *m)
{
	char buf[TRACE_NAME_MAX];
	fputs("\nwho handled the exits (an L2 exit is reflected when L0 hands it to L1)\n", f);
	fprintf(f, "  %-5s %9s %13s %15s %22s\n", "level", "exits", "handled at L0",
		"reflected to L1", "L0 exits per exit");
	for (unsigned l = 0; l < LEVELS; l++) {
		if (!m->exits_per_level[l])
			continue;
		uint64_t refl = 0, mult = 0;
		for (size_t k = 0; k < m->nrows; k++)
			if (m->rows[k].level == l) {
				refl += m->rows[k].reflected;
				mult += m->rows[k].multiplied;
			}
		fprintf(f, "  L%-4u %9" PRIu64 " %13" PRIu64 " %15" PRIu64 " %22.2f\n", l,
			m->exits_per_level[l], m->exits_per_level[l] - refl, refl,
			avg(mult, m->exits_per_level[l]));
	}
	if (!m->exits_per_level[2])
		return;
	fputs("  L2 exits by reason:\n", f);
	fprintf(f, "  %-26s %9s %13s %15s %22s\n", "reason", "exits", "handled at L0",
		"reflected to L1", "L0 exits per L2 exit");
	for (size_t k = 0; k < m->nrows; k++) {
		const struct row *r = &m->rows[k];
		if (r->level != 2)
			continue;
		fprintf(f, "  %-26s %9" PRIu64 " %13" PRIu64 " %15" PRIu64 " %22.2f\n",
			row_name(r, buf), r->count, r->count - r->reflected, r->reflected,
			avg(r->multiplied, r->count));
	}
}

static void text_time(FILE *f, const struct model *m)
{
	uint64_t ns = 0, cyc = 0;
	for (unsigned l = 0; l < LEVELS; l++) {
		ns += m->time[l].ns;
		cyc += m->time[l].cycles;
	}
	fputs("\ntime per level (L0: exit to entry; Ln: entry to the next exit)\n", f);
	fprintf(f, "  %-5s %14s %7s %16s %7s\n", "level", "host ns", "share", "modelled cycles",
		"share");
	for (unsigned l = 0; l < LEVELS; l++) {
		if (!m->time[l].ns && !m->time[l].cycles && l != 0)
			continue;
		fprintf(f, "  L%-4u %14" PRIu64 " %6.2f%%", l, m->time[l].ns, pct(m->time[l].ns, ns));
		text_num(f, m, 16, (double)m->time[l].cycles, 0);
		if (has_cycles(m))
			fprintf(f, " %6.2f%%\n", pct(m->time[l].cycles, cyc));
		else
			fprintf(f, " %7s\n", "-");
	}
}

static void text_chains(FILE *f, const struct model *m)
{
	fprintf(f, "\ntop exit chains (an exit and the exits it caused; %" PRIu64 " chains)\n",
		m->chain_roots);
	if (!m->nchains) {
		fputs("  none: no exit caused another exit\n", f);
		return;
	}
	fprintf(f, "  %7s %7s %12s %12s  %s\n", "count", "exits", "avg ns", "avg cycles", "chain");
	for (size_t k = 0; k < m->nchains && k < TRACE_REPORT_TOP_CHAINS; k++) {
		const struct chain *c = &m->chains[k];
		fprintf(f, "  %7" PRIu64 " %7.1f %12.1f", c->count, avg(c->exits, c->count),
			avg(c->ns, c->count));
		text_num(f, m, 12, avg(c->cycles, c->count), 1);
		fprintf(f, "  %s\n", c->sig);
	}
}

/* ---- JSON ---- */

static void json_rows(FILE *f, const struct model *m)
{
	char buf[TRACE_NAME_MAX];
	fputs("\"exits_by_level\":[", f);
	bool firstl = true;
	for (unsigned l = 0; l < LEVELS; l++) {
		if (!m->exits_per_level[l])
			continue;
		fprintf(f, "%s{\"level\":%u,\"count\":%" PRIu64 ",\"total_ns\":%" PRIu64 ",\"reasons\":[",
			firstl ? "" : ",", l, m->exits_per_level[l], m->ns_per_level[l]);
		firstl = false;
		bool first = true;
		for (size_t k = 0; k < m->nrows; k++) {
			const struct row *r = &m->rows[k];
			if (r->level != l)
				continue;
			fprintf(f,
				"%s{\"reason\":%u,\"name\":\"%s\",\"isa\":\"%s\",\"count\":%" PRIu64
				",\"share\":%.2f,\"time_share\":%.2f,\"timed\":%" PRIu64
				",\"total_ns\":%" PRIu64 ",\"total_cycles\":%" PRIu64,
				first ? "" : ",", r->reason, row_name(r, buf), r->svm ? "svm" : "vmx",
				r->count, pct(r->count, m->exits_per_level[l]),
				pct(r->total_ns, m->ns_per_level[l]), r->timed, r->total_ns,
				r->total_cycles);
			first = false;
			if (r->timed) {
				fprintf(f, ",\"min_ns\":%" PRIu64 ",\"avg_ns\":%.1f,\"max_ns\":%" PRIu64,
					r->min_ns, avg(r->total_ns, r->timed), r->max_ns);
				json_num(f, m, "avg_cycles", avg(r->total_cycles, r->timed), 1);
			} else
				fputs(",\"min_ns\":null,\"avg_ns\":null,\"max_ns\":null,\"avg_cycles\":null",
				      f);
			fprintf(f, ",\"handled_at_l0\":%" PRIu64 ",\"reflected_to_l1\":%" PRIu64
				   ",\"l0_exits_per_exit\":%.2f,\"hist_ns\":[",
				r->count - r->reflected, r->reflected, avg(r->multiplied, r->count));
			bool fb = true;
			for (unsigned b = 0; b < HIST_BUCKETS; b++)
				if (r->hist[b]) {
					fprintf(f, "%s{\"lo\":%llu,\"hi\":%llu,\"count\":%" PRIu64 "}",
						fb ? "" : ",", b ? 1ull << (b - 1) : 0ull,
						b ? (b < 64 ? 1ull << b : UINT64_MAX) : 1ull, r->hist[b]);
					fb = false;
				}
			fputs("]}", f);
		}
		fputs("]}", f);
	}
	fputs("]", f);
}

static void json_model(FILE *f, const struct model *m)
{
	fprintf(f,
		"{\"source\":\"%s\",\"events\":%" PRIu64 ",\"vcpus\":%u,\"exits\":%" PRIu64
		",\"span_ns\":%" PRIu64,
		m->src ? "kvm" : "tortuga", m->events, m->nvcpus, m->exits, m->t_last - m->t_first);
	json_num(f, m, "span_cycles", (double)(m->c_last - m->c_first), 0);
	fprintf(f, ",\"lost\":%" PRIu64 ",\"missing\":%" PRIu64 ",\"unfinished_exits\":%" PRIu64
		   ",\"kinds\":{",
		m->lost, m->missing, m->unfinished);
	bool first = true;
	for (unsigned k = 0; k <= TORTUGA_EV_KIND_COUNT; k++)
		if (m->kinds[k]) {
			fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",",
				k < TORTUGA_EV_KIND_COUNT ? trace_event_kind_name(k) : "unknown",
				m->kinds[k]);
			first = false;
		}
	fputs("},", f);
	json_rows(f, m);
	uint64_t ns = 0, cyc = 0;
	for (unsigned l = 0; l < LEVELS; l++) {
		ns += m->time[l].ns;
		cyc += m->time[l].cycles;
	}
	fputs(",\"time_per_level\":[", f);
	first = true;
	for (unsigned l = 0; l < LEVELS; l++) {
		if (!m->time[l].ns && !m->time[l].cycles && l != 0)
			continue;
		fprintf(f, "%s{\"level\":%u,\"ns\":%" PRIu64 ",\"share\":%.2f", first ? "" : ",", l,
			m->time[l].ns, pct(m->time[l].ns, ns));
		json_num(f, m, "cycles", (double)m->time[l].cycles, 0);
		json_num(f, m, "cycles_share", pct(m->time[l].cycles, cyc), 2);
		fputc('}', f);
		first = false;
	}
	fprintf(f, "],\"chain_roots\":%" PRIu64 ",\"chains\":[", m->chain_roots);
	for (size_t k = 0; k < m->nchains && k < TRACE_REPORT_TOP_CHAINS; k++) {
		const struct chain *c = &m->chains[k];
		fprintf(f, "%s{\"chain\":\"%s\",\"count\":%" PRIu64 ",\"avg_exits\":%.1f,\"avg_ns\":%.1f",
			k ? "," : "", c->sig, c->count, avg(c->exits, c->count), avg(c->ns, c->count));
		json_num(f, m, "avg_cycles", avg(c->cycles, c->count), 1);
		fputc('}', f);
	}
	fputs("]}", f);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

int trace_report_write(FILE *f, const struct trace_evset *s, const char *name, unsigned flags)
{
	bool json = flags & TRACE_REPORT_JSON;
	bool has[2] = { false, false };
	for (size_t i = 0; i < s->n; i++)
		has[source_of(&s->ev[i])] = true;
	struct trace_links links;
	int err = trace_links_build(&links, s);
	if (err)
		return err;
	if (json) {
		fputs("{\"trace\":", f);
		json_string(f, name);
		fprintf(f, ",\"bad_parents\":%" PRIu64 ",\"duplicate_seqs\":%zu,\"sources\":[",
			links.bad_parents, s->duplicates);
	} else {
		fprintf(f, "tortuga trace report: %s (%zu events)\n", name, s->n);
		if (links.bad_parents || s->duplicates)
			fprintf(f,
				"WARNING: %" PRIu64 " parent links point nowhere, %zu events repeat a "
				"sequence number: chains and attribution may be wrong\n",
				links.bad_parents, s->duplicates);
		if (!s->n)
			fputs("\nthe trace holds no events\n", f);
	}
	bool first = true;
	for (int src = 0; src < 2 && !err; src++) {
		if (!has[src])
			continue;
		struct model m = { .s = s, .links = links, .src = src };
		err = build_model(&m);
		if (!err && json) {
			fputs(first ? "" : ",", f);
			json_model(f, &m);
		} else if (!err) {
			text_header(f, &m);
			text_exits(f, &m);
			text_histograms(f, &m);
			if (m.exits)
				text_attribution(f, &m);
			text_time(f, &m);
			text_chains(f, &m);
		}
		first = false;
		free_model(&m);
	}
	if (json)
		fputs("]}\n", f);
	trace_links_free(&links);
	if (!err && ferror(f))
		err = -EIO;
	return err;
}
