/*
 * tortuga trace files, reports and eBPF recording: the public API behind
 * `tortuga trace ...` and the Python harness (libtortuga.so).
 *
 * Same conventions as tortuga.h: fixed-width integers, opaque handles, 0 or a
 * count on success and a negative errno on failure. A failing call leaves a
 * one-line explanation in tortuga_trace_error() (per thread).
 *
 * Formats: "bin" (tortuga's binary format, self-describing and readable
 * while it grows), "csv", and "perfetto" (Chrome trace-event JSON for
 * ui.perfetto.dev; written, never read).
 */
#ifndef TORTUGA_TRACE_H
#define TORTUGA_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef TORTUGA_API
#define TORTUGA_API __attribute__((visibility("default")))
#endif

/* The last error of a tortuga_trace_* or tortuga_bpf_* call in this thread. */
TORTUGA_API const char *tortuga_trace_error(void);

/* ---- reading trace files (bin or csv, recognised by content) ---- */
typedef struct tortuga_trace tortuga_trace;
/* Follow a file still being written: an incomplete last event is not an
 * error, a later read continues. */
#define TORTUGA_TRACE_FOLLOW 0x1
TORTUGA_API int tortuga_trace_open(const char *path, uint32_t flags, tortuga_trace **out);
/* Up to max events; returns the count, 0 at the end, or -errno. */
TORTUGA_API int tortuga_trace_read(tortuga_trace *t, struct tortuga_event *buf, uint32_t max);
TORTUGA_API void tortuga_trace_close(tortuga_trace *t);

/* Convert a trace file. format: NULL (from out's suffix: .csv, .json, else
 * bin), "bin", "csv" or "perfetto"; clock (Perfetto's time axis): NULL or
 * "wall" (host ns), or "cycles" (modelled cycles). */
TORTUGA_API int tortuga_trace_convert(const char *in, const char *out, const char *format,
				      const char *clock);

/* Write the report of a trace file to out (NULL or "-": stdout). */
#define TORTUGA_REPORT_JSON 0x1
TORTUGA_API int tortuga_trace_report(const char *in, const char *out, uint32_t flags);

/* The event's reason as a name from the hardware tables (VMX basic exit
 * reasons, or AMD SVM exit codes for TORTUGA_EVF_SVM events); NULL for kinds
 * whose reason is not an exit reason. buf holds at least 32 bytes. */
TORTUGA_API const char *tortuga_event_reason_name(const struct tortuga_event *ev, char *buf);

/* ---- recording through eBPF (needs root, or CAP_BPF and CAP_PERFMON) ----
 *
 * tortuga's eBPF program attaches to the tortuga:event USDT probe of one
 * process (every event its VMs produce, as the in-process ring holds them)
 * and to KVM's tracepoints filtered to that process (exits the kernel handles
 * for the kvm backend, TORTUGA_EVF_KVM). A reader thread writes what arrives
 * to a trace file until tortuga_bpf_stop(). */
typedef struct tortuga_bpf tortuga_bpf;

#define TORTUGA_BPF_NO_USDT 0x1 /* do not attach to tortuga:event */
#define TORTUGA_BPF_NO_KVM 0x2 /* do not attach to KVM's tracepoints */

struct tortuga_bpf_opts {
	uint32_t size; /* sizeof(struct tortuga_bpf_opts) */
	int32_t pid; /* the process to record; 0: the calling process */
	uint32_t flags; /* TORTUGA_BPF_* */
	uint32_t ring_bytes; /* BPF ring buffer: a power of two (default 4 MiB) */
	uint32_t poll_ms; /* the reader's longest sleep (default 100) */
	uint32_t reserved;
	const char *format; /* NULL: from the path's suffix, as convert does */
};

struct tortuga_bpf_stats {
	uint64_t events; /* events written to the file */
	uint64_t usdt_events, kvm_events;
	uint64_t lost; /* the ring buffer was full (also LOST records in the file) */
	uint64_t read_errors; /* probe records the program could not copy */
	uint32_t usdt_attached; /* 1 when tortuga:event is attached */
	uint32_t kvm_attached; /* KVM tracepoints attached (0 to 6) */
	char usdt_path[512]; /* the file holding the probe */
	char kvm_note[320]; /* why KVM tracepoints are not attached, if not */
};

TORTUGA_API void tortuga_bpf_opts_init(struct tortuga_bpf_opts *o);
TORTUGA_API int tortuga_bpf_start(const char *path, const struct tortuga_bpf_opts *o,
				  tortuga_bpf **out);
/* Statistics so far; safe while recording. */
TORTUGA_API int tortuga_bpf_stats(tortuga_bpf *b, struct tortuga_bpf_stats *st);
/* Drain what is left, close the file, detach; st may be NULL. */
TORTUGA_API int tortuga_bpf_stop(tortuga_bpf *b, struct tortuga_bpf_stats *st);
/* What eBPF recording needs and whether this host has it, as text in buf.
 * Returns 0 when recording works here, else -errno. */
TORTUGA_API int tortuga_bpf_check(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
