/*
 * Reading trace files: the binary format (trace_file.h) and tortuga's CSV,
 * recognised by content, not by name. Every problem becomes one line naming
 * the file (and the line, for CSV) and what is wrong with it.
 */
#ifndef TRACING_READER_H
#define TRACING_READER_H

#include <stdint.h>

#include "evset.h"
#include "trace.h"

#define TRACE_ERR_MAX 320

/* Format a one-line message into err; returns -|code|. */
int trace_errf(char err[TRACE_ERR_MAX], int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct trace_reader;

/* Follow a file that is still being written: an incomplete last event is
 * not an error, the next read continues where this one stopped. */
#define TRACE_READ_FOLLOW 0x1

int trace_reader_open(struct trace_reader **out, const char *path, unsigned flags,
		      char err[TRACE_ERR_MAX]);
/* Up to max events: the count, 0 at the end, or -errno (see the error). */
int trace_reader_read(struct trace_reader *r, struct tortuga_event *out, uint32_t max);
const char *trace_reader_error(const struct trace_reader *r);
enum trace_format trace_reader_format(const struct trace_reader *r);
uint32_t trace_reader_file_flags(const struct trace_reader *r); /* TRACE_FILE_F_* */
void trace_reader_close(struct trace_reader *r);

/* Open, read everything into s (which the caller initialised), close. */
int trace_load(struct trace_evset *s, const char *path, char err[TRACE_ERR_MAX]);

#endif
