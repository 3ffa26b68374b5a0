/*
 * The eBPF recorder: loads tortuga.bpf.c, attaches it to the tortuga:event
 * USDT probe of one process and to KVM's tracepoints filtered to it, and
 * writes what the BPF ring buffer delivers to a trace file from a reader
 * thread that batches (it is woken only when a quarter of the buffer is
 * pending, and polls with a timeout otherwise).
 */
#ifndef TRACING_BPF_H
#define TRACING_BPF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <tortuga/trace.h>

#include "reader.h"
#include "trace.h"

struct trace_bpf;

struct trace_bpf_opts {
	pid_t pid; /* the process to record */
	bool usdt; /* attach to tortuga:event in the process's libtortuga */
	bool kvm; /* attach to KVM's tracepoints, filtered to the process */
	enum trace_format fmt;
	uint32_t ring_bytes; /* BPF ring buffer size: a power of two >= 4096 */
	uint32_t poll_ms; /* the reader's longest sleep */
};

/* struct tortuga_bpf_stats (include/tortuga/trace.h) reports a recording. */

/* Start recording into path; on failure err says why in one line. */
int trace_bpf_start(struct trace_bpf **out, const char *path, const struct trace_bpf_opts *o,
		    char err[TRACE_ERR_MAX]);
/* Statistics so far (safe while recording). */
void trace_bpf_peek(struct trace_bpf *b, struct tortuga_bpf_stats *st);
/* Drain, write the rest, close the file, detach. Returns the first error. */
int trace_bpf_stop(struct trace_bpf *b, struct tortuga_bpf_stats *st, char err[TRACE_ERR_MAX]);

/* Describe what eBPF recording needs and whether this host has it, one line
 * per item. Returns 0 when recording tortuga:event works, else -errno. */
int trace_bpf_check(FILE *out);

#endif
