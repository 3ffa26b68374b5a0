/*
 * The public trace API (include/tortuga/trace.h): checked wrappers over the
 * readers, writers and the report.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <tortuga/trace.h>

#include "api_error.h"
#include "bpf.h"
#include "evset.h"
#include "reader.h"
#include "report.h"
#include "trace.h"
#include "writer.h"

static _Thread_local char last_error[TRACE_ERR_MAX];

int trace_api_fail(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

TORTUGA_API const char *tortuga_trace_error(void)
{
	return last_error;
}

TORTUGA_API int tortuga_trace_open(const char *path, uint32_t flags, tortuga_trace **out)
{
	if (!path || !out)
		return trace_api_fail(-EINVAL, "tortuga_trace_open: NULL argument");
	struct trace_reader *r;
	int err = trace_reader_open(&r, path, (flags & TORTUGA_TRACE_FOLLOW) ? TRACE_READ_FOLLOW : 0,
				    last_error);
	*out = err ? NULL : (tortuga_trace *)r;
	return err;
}

TORTUGA_API int tortuga_trace_read(tortuga_trace *t, struct tortuga_event *buf, uint32_t max)
{
	struct trace_reader *r = (struct trace_reader *)t;
	int n = trace_reader_read(r, buf, max);
	if (n < 0)
		trace_api_fail(n, "%s", trace_reader_error(r));
	return n;
}

TORTUGA_API void tortuga_trace_close(tortuga_trace *t)
{
	trace_reader_close((struct trace_reader *)t);
}

/* Open an output file ("-" is stdout, which stays open). */
static FILE *open_out(const char *path, bool *is_stdout)
{
	*is_stdout = !path || !strcmp(path, "-");
	return *is_stdout ? stdout : fopen(path, "w");
}

TORTUGA_API int tortuga_trace_convert(const char *in, const char *out, const char *format,
				      const char *clock)
{
	if (!in || !out)
		return trace_api_fail(-EINVAL, "tortuga_trace_convert: NULL argument");
	enum trace_format fmt = trace_format_for_path(out);
	if (format && trace_format_parse(format, &fmt))
		return trace_api_fail(-EINVAL, "unknown trace format '%s' (use bin, csv or perfetto)",
				      format);
	struct trace_writer_opts opts = { .clock = TRACE_CLOCK_WALL };
	if (clock && !strcmp(clock, "cycles"))
		opts.clock = TRACE_CLOCK_CYCLES;
	else if (clock && strcmp(clock, "wall"))
		return trace_api_fail(-EINVAL, "unknown clock '%s' (use wall or cycles)", clock);

	struct trace_reader *r;
	int err = trace_reader_open(&r, in, 0, last_error);
	if (err)
		return err;
	opts.file_flags = trace_reader_file_flags(r);
	bool is_stdout;
	FILE *f = open_out(out, &is_stdout);
	if (!f) {
		err = trace_api_fail(-errno, "%s: %s", out, strerror(errno));
		trace_reader_close(r);
		return err;
	}
	if (is_stdout) /* the writer closes its FILE: give it its own */
		f = fdopen(dup(fileno(stdout)), "w");
	struct trace_writer *w = NULL;
	err = f ? trace_writer_open(&w, f, fmt, &opts) : -errno;
	if (err) {
		trace_reader_close(r);
		return trace_api_fail(err, "%s: cannot write: %s", out, strerror(-err));
	}
	struct tortuga_event buf[1024];
	int n;
	while ((n = trace_reader_read(r, buf, 1024)) > 0 && !err)
		err = trace_writer_write(w, buf, (size_t)n);
	if (n < 0)
		err = trace_api_fail(n, "%s", trace_reader_error(r));
	int cerr = trace_writer_close(w);
	if (!err && cerr)
		err = trace_api_fail(cerr, "%s: cannot write: %s", out, strerror(-cerr));
	else if (err && n >= 0)
		err = trace_api_fail(err, "%s: cannot write: %s", out, strerror(-err));
	trace_reader_close(r);
	return err;
}

TORTUGA_API int tortuga_trace_report(const char *in, const char *out, uint32_t flags)
{
	if (!in)
		return trace_api_fail(-EINVAL, "tortuga_trace_report: NULL argument");
	struct trace_evset s;
	trace_evset_init(&s);
	int err = trace_load(&s, in, last_error);
	if (err) {
		trace_evset_free(&s);
		return err;
	}
	bool is_stdout;
	FILE *f = open_out(out, &is_stdout);
	if (!f) {
		err = trace_api_fail(-errno, "%s: %s", out, strerror(errno));
	} else {
		err = trace_report_write(f, &s, in, (flags & TORTUGA_REPORT_JSON) ? TRACE_REPORT_JSON : 0);
		if (is_stdout ? fflush(f) : fclose(f))
			err = err ? err : -EIO;
		if (err)
			trace_api_fail(err, "%s: cannot write the report: %s", is_stdout ? "stdout" : out,
				       strerror(-err));
	}
	trace_evset_free(&s);
	return err;
}

TORTUGA_API const char *tortuga_event_reason_name(const struct tortuga_event *ev, char *buf)
{
	return trace_reason_name(ev, buf);
}

/* ---- eBPF ---- */

TORTUGA_API void tortuga_bpf_opts_init(struct tortuga_bpf_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->ring_bytes = 4u << 20;
	o->poll_ms = 100;
}

TORTUGA_API int tortuga_bpf_start(const char *path, const struct tortuga_bpf_opts *uo,
				  tortuga_bpf **out)
{
	if (!path || !out)
		return trace_api_fail(-EINVAL, "tortuga_bpf_start: NULL argument");
	*out = NULL;
	struct tortuga_bpf_opts o;
	tortuga_bpf_opts_init(&o);
	if (uo)
		memcpy(&o, uo, uo->size < sizeof(o) ? uo->size : sizeof(o));
	struct trace_bpf_opts bo = {
		.pid = o.pid ? o.pid : getpid(),
		.usdt = !(o.flags & TORTUGA_BPF_NO_USDT),
		.kvm = !(o.flags & TORTUGA_BPF_NO_KVM),
		.fmt = trace_format_for_path(path),
		.ring_bytes = o.ring_bytes,
		.poll_ms = o.poll_ms,
	};
	if (o.format && trace_format_parse(o.format, &bo.fmt))
		return trace_api_fail(-EINVAL, "unknown trace format '%s' (use bin, csv or perfetto)",
				      o.format);
	struct trace_bpf *b;
	int err = trace_bpf_start(&b, path, &bo, last_error);
	if (!err)
		*out = (tortuga_bpf *)b;
	return err;
}

TORTUGA_API int tortuga_bpf_stats(tortuga_bpf *b, struct tortuga_bpf_stats *st)
{
	trace_bpf_peek((struct trace_bpf *)b, st);
	return 0;
}

TORTUGA_API int tortuga_bpf_stop(tortuga_bpf *b, struct tortuga_bpf_stats *st)
{
	if (!b)
		return 0;
	return trace_bpf_stop((struct trace_bpf *)b, st, last_error);
}

TORTUGA_API int tortuga_bpf_check(char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");
	if (!f)
		return trace_api_fail(-errno, "tortuga_bpf_check: %s", strerror(errno));
	int err = trace_bpf_check(f);
	fclose(f);
	return err;
}
