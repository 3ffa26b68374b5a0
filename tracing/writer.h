/*
 * Trace writers: turn events into files. The binary format is the native one
 * (trace_file.h); CSV is for spreadsheets and pandas.
 */
#ifndef TRACING_WRITER_H
#define TRACING_WRITER_H

#include <stddef.h>
#include <stdio.h>

#include "trace.h"

struct trace_writer;

/* Takes ownership of f (closed by trace_writer_close, also on failure). */
int trace_writer_open(struct trace_writer **out, FILE *f, enum trace_format fmt);
int trace_writer_write(struct trace_writer *w, const struct tortuga_event *ev, size_t n);
int trace_writer_flush(struct trace_writer *w);
void trace_writer_close(struct trace_writer *w);

#endif
