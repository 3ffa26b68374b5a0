/*
 * The thread's last error for the public trace API (tortuga_trace_error()).
 */
#ifndef TRACING_API_ERROR_H
#define TRACING_API_ERROR_H

/* Record a one-line message; returns -|err| for convenience. */
int trace_api_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
