/*
 * Cost per event of the in-process ring and of the USDT + eBPF path, measured
 * in one process against a peer measured in the same run: clock_gettime(),
 * which every event pays for its timestamp.
 *
 *   trace_emit_bench [EVENTS]
 *
 * Modes: "clock" (the peer), "ring" (trace_emit into the ring, drained by
 * trace_read as a consumer would), "ring+bpf" (the same with tortuga's eBPF
 * program attached to this process's tortuga:event probe; needs root).
 * Prints CPU ns per event and the ratio to the peer, median of 5 rounds.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <tortuga/trace.h>

#include "tracing/trace.h"

#define ROUNDS 5

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Costs are this thread's CPU time (user + system: a uprobe's handler runs
 * in the traced thread), so other load on the machine does not count. */
static uint64_t cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static volatile uint64_t sink;

static double run_clock(uint64_t n)
{
	uint64_t t0 = cpu_ns();
	for (uint64_t i = 0; i < n; i++)
		sink += clock_ns(CLOCK_MONOTONIC);
	return (double)(cpu_ns() - t0) / (double)n;
}

static double run_ring(struct trace *t, uint64_t n)
{
	static struct tortuga_event out[4096];
	struct tortuga_event ev = { .kind = TORTUGA_EV_EXIT, .reason = TORTUGA_EXIT_IO_INSTRUCTION,
				    .level = 1 };
	uint64_t t0 = cpu_ns();
	for (uint64_t i = 0; i < n; i++) {
		ev.rip = i;
		trace_emit(t, &ev);
		if ((i & 2047) == 2047)
			trace_read(t, out, 4096);
	}
	double ns = (double)(cpu_ns() - t0) / (double)n;
	trace_read(t, out, 4096);
	return ns;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double (*fn)(struct trace *, uint64_t), struct trace *t, uint64_t n)
{
	double r[ROUNDS];
	for (int i = 0; i < ROUNDS; i++)
		r[i] = fn(t, n);
	qsort(r, ROUNDS, sizeof(r[0]), cmp_double);
	return r[ROUNDS / 2];
}

static double clock_adapter(struct trace *t, uint64_t n)
{
	(void)t;
	return run_clock(n);
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 2000000;
	struct trace *t = trace_create(1u << 16, false);
	if (!t)
		return 1;
	double peer = median(clock_adapter, t, n);
	double ring = median(run_ring, t, n);
	printf("%-10s %10.1f ns/event  %6.2fx clock_gettime\n", "clock", peer, 1.0);
	printf("%-10s %10.1f ns/event  %6.2fx clock_gettime\n", "ring", ring, ring / peer);

	struct tortuga_bpf_opts o;
	tortuga_bpf_opts_init(&o);
	o.flags = TORTUGA_BPF_NO_KVM;
	o.ring_bytes = 1u << 26;
	tortuga_bpf *b;
	char path[] = "/tmp/tortuga-bench-XXXXXX.bin";
	int fd = mkstemps(path, 4);
	if (fd >= 0)
		close(fd);
	if (fd < 0 || tortuga_bpf_start(path, &o, &b)) {
		printf("%-10s %10s (eBPF unavailable: %s)\n", "ring+bpf", "-", tortuga_trace_error());
	} else {
		uint64_t nb = n / 10; /* a uprobe costs microseconds */
		double bpf = median(run_ring, t, nb);
		struct tortuga_bpf_stats st;
		tortuga_bpf_stop(b, &st);
		printf("%-10s %10.1f ns/event  %6.2fx clock_gettime  (%" PRIu64 " events recorded, %" PRIu64
		       " lost)\n",
		       "ring+bpf", bpf, bpf / peer, st.events, st.lost);
		printf("%-10s %10.1f ns/event  (ring+bpf minus ring)\n", "usdt+bpf", bpf - ring);
	}
	unlink(path);
	trace_destroy(t);
	return 0;
}
