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

#ifdef __cplusplus
}
#endif
#endif
