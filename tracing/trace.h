/*
 * tracing/: the event ring, USDT probes and trace writers.
 *
 * tracing/ is used by every other part and uses none of them (DESIGN.md): it
 * knows the event schema (include/tortuga/event.h) and the name tables, and
 * nothing about CPUs or VMs.
 */
#ifndef TRACING_TRACE_H
#define TRACING_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <tortuga/event.h>

struct trace;
struct trace_sink;

/* capacity is rounded up to a power of two (minimum 64). */
struct trace *trace_create(uint32_t capacity, bool overwrite);
void trace_destroy(struct trace *t);

/*
 * Stamp ev with the next sequence number and the host time, put it into the
 * ring and fire the tortuga:event USDT probe. Returns the sequence number.
 * Single producer: the caller serialises emits for one trace.
 */
uint64_t trace_emit(struct trace *t, struct tortuga_event *ev);

/* Take up to max events out of the ring (oldest first). */
uint32_t trace_read(struct trace *t, struct tortuga_event *out, uint32_t max);
uint64_t trace_dropped(const struct trace *t);
uint64_t trace_emitted(const struct trace *t);
uint32_t trace_capacity(const struct trace *t);

/*
 * Sinks receive every event, in order, when the ring is drained: automatically
 * when it fills past half, and by trace_flush(). While a sink is attached the
 * ring never drops events.
 */
enum trace_format { TRACE_FMT_BIN, TRACE_FMT_CSV, TRACE_FMT_PERFETTO };
/* "bin", "csv", "perfetto" (or "json"); -EINVAL for others. */
int trace_format_parse(const char *name, enum trace_format *fmt);
/* By suffix: .csv CSV, .json Perfetto, anything else binary. */
enum trace_format trace_format_for_path(const char *path);
const char *trace_format_name(enum trace_format fmt);
/* Takes ownership of f. Returns 0 or -errno. */
int trace_add_file_sink(struct trace *t, FILE *f, enum trace_format fmt);
/* Drain the ring into the sinks and flush them; returns 0 or -errno. */
int trace_flush(struct trace *t);

/* Names from the tables in include/tortuga/ (NULL when unknown). */
#define TRACE_NAME_MAX 32
const char *trace_exit_reason_name(uint32_t reason);
const char *trace_event_kind_name(uint32_t kind);
/* READ_CR3, EXCP14, IOIO, ... (ranges are formatted into buf). */
const char *trace_svm_exit_name(uint32_t code, char buf[TRACE_NAME_MAX]);
/* Kinds whose `reason` is an exit reason (VMX, or SVM with TORTUGA_EVF_SVM). */
bool trace_kind_has_exit_reason(uint32_t kind);
/* The event's reason as a name (VMX or SVM table, "reason-N" when the table
 * has no entry); NULL for kinds whose reason is not an exit reason. */
const char *trace_reason_name(const struct tortuga_event *e, char buf[TRACE_NAME_MAX]);

#endif
