/*
 * Trace writers: turn events into files. The binary format is the native one
 * (trace_file.h); CSV is for spreadsheets and pandas; Perfetto is the Chrome
 * trace-event JSON that ui.perfetto.dev opens (perfetto.h).
 *
 * Binary and CSV stream: every write reaches the file in order. Perfetto
 * needs whole exits (exit and entry) and chains, so its writer keeps the
 * events and renders the complete file at each flush (when the file is
 * seekable) and at close.
 */
#ifndef TRACING_WRITER_H
#define TRACING_WRITER_H

#include <stddef.h>
#include <stdio.h>

#include "perfetto.h"
#include "trace.h"

struct trace_writer;

struct trace_writer_opts {
	uint32_t file_flags; /* TRACE_FILE_F_* recorded in a binary header */
	enum trace_clock clock; /* Perfetto time axis */
};

/* Takes ownership of f (closed by trace_writer_close, also on failure).
 * opts may be NULL. */
int trace_writer_open(struct trace_writer **out, FILE *f, enum trace_format fmt,
		      const struct trace_writer_opts *opts);
int trace_writer_write(struct trace_writer *w, const struct tortuga_event *ev, size_t n);
int trace_writer_flush(struct trace_writer *w);
/* Flushes, closes the file and frees w; returns the first error seen. */
int trace_writer_close(struct trace_writer *w);

#endif
