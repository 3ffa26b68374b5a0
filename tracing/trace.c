/*
 * The in-process event ring. One producer (the VM's run loop) and one consumer
 * (tortuga_vm_trace_read() or the sinks, drained from the producer's thread),
 * so a plain power-of-two ring with head/tail counters suffices; the counters
 * are atomics so that a monitoring thread may read the fill level.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probes.h"
#include "trace.h"
#include "trace_file.h"
#include "writer.h"

#ifndef TORTUGA_NO_USDT
/* USDT semaphore for tortuga:event (see probes.h). */
__extension__ unsigned short tortuga_event_semaphore __attribute__((unused))
__attribute__((section(".probes")));
#endif

#define TRACE_MAX_SINKS 4

struct trace {
	struct tortuga_event *ring;
	uint32_t mask;
	bool overwrite;
	_Atomic uint64_t head; /* next slot to write */
	_Atomic uint64_t tail; /* next slot to read */
	uint64_t next_seq;
	uint64_t dropped;
	struct trace_writer *sinks[TRACE_MAX_SINKS];
	int nsinks;
	int sink_error;
};

struct trace *trace_create(uint32_t capacity, bool overwrite)
{
	uint32_t cap = 64;
	while (cap < capacity && cap < (1u << 30))
		cap <<= 1;
	struct trace *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ring = calloc(cap, sizeof(*t->ring));
	if (!t->ring) {
		free(t);
		return NULL;
	}
	t->mask = cap - 1;
	t->overwrite = overwrite;
	t->next_seq = 1;
	return t;
}

void trace_destroy(struct trace *t)
{
	if (!t)
		return;
	trace_flush(t);
	for (int i = 0; i < t->nsinks; i++)
		trace_writer_close(t->sinks[i]);
	free(t->ring);
	free(t);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void drain_to_sinks(struct trace *t)
{
	uint64_t tail = atomic_load_explicit(&t->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&t->head, memory_order_acquire);
	while (tail != head) {
		/* Write the contiguous run up to the end of the ring at once. */
		uint32_t idx = (uint32_t)(tail & t->mask);
		uint64_t n = head - tail;
		if (n > (uint64_t)t->mask + 1 - idx)
			n = (uint64_t)t->mask + 1 - idx;
		for (int i = 0; i < t->nsinks; i++) {
			int err = trace_writer_write(t->sinks[i], &t->ring[idx], (size_t)n);
			if (err && !t->sink_error)
				t->sink_error = err;
		}
		tail += n;
	}
	atomic_store_explicit(&t->tail, tail, memory_order_release);
}

uint64_t trace_emit(struct trace *t, struct tortuga_event *ev)
{
	ev->seq = t->next_seq++;
	ev->ts_ns = now_ns();
	if (TRACE_PROBE_ENABLED())
		TRACE_PROBE_EVENT(ev);

	uint64_t head = atomic_load_explicit(&t->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&t->tail, memory_order_acquire);
	if (head - tail > t->mask) {
		if (t->nsinks) {
			drain_to_sinks(t);
		} else if (t->overwrite) {
			atomic_store_explicit(&t->tail, tail + 1, memory_order_release);
			t->dropped++;
		} else {
			t->dropped++;
			return ev->seq;
		}
	}
	t->ring[head & t->mask] = *ev;
	atomic_store_explicit(&t->head, head + 1, memory_order_release);
	if (t->nsinks && head + 1 - tail > (t->mask + 1) / 2)
		drain_to_sinks(t);
	return ev->seq;
}

uint32_t trace_read(struct trace *t, struct tortuga_event *out, uint32_t max)
{
	uint64_t tail = atomic_load_explicit(&t->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&t->head, memory_order_acquire);
	uint32_t n = 0;
	while (tail != head && n < max)
		out[n++] = t->ring[tail++ & t->mask];
	atomic_store_explicit(&t->tail, tail, memory_order_release);
	return n;
}

uint64_t trace_dropped(const struct trace *t)
{
	return t->dropped;
}

uint64_t trace_emitted(const struct trace *t)
{
	return t->next_seq - 1;
}

uint32_t trace_capacity(const struct trace *t)
{
	return t->mask + 1;
}

int trace_add_file_sink(struct trace *t, FILE *f, enum trace_format fmt)
{
	if (t->nsinks == TRACE_MAX_SINKS) {
		fclose(f);
		return -ENOSPC;
	}
	struct trace_writer *w = NULL;
	struct trace_writer_opts opts = { .file_flags = TRACE_FILE_F_RING };
	int err = trace_writer_open(&w, f, fmt, &opts);
	if (err)
		return err;
	t->sinks[t->nsinks++] = w;
	return 0;
}

int trace_flush(struct trace *t)
{
	if (!t->nsinks)
		return 0;
	drain_to_sinks(t);
	for (int i = 0; i < t->nsinks; i++) {
		int err = trace_writer_flush(t->sinks[i]);
		if (err && !t->sink_error)
			t->sink_error = err;
	}
	return t->sink_error;
}
