#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evset.h"
#include "trace_file.h"
#include "writer.h"

struct trace_writer {
	FILE *f;
	enum trace_format fmt;
	struct trace_writer_opts opts;
	struct trace_evset buf; /* Perfetto: everything written so far */
	bool dirty; /* Perfetto: events since the last render */
	bool rendered; /* Perfetto: the file holds a complete render */
	int error;
};

static const char *const format_names[] = {
	[TRACE_FMT_BIN] = "bin",
	[TRACE_FMT_CSV] = "csv",
	[TRACE_FMT_PERFETTO] = "perfetto",
};

const char *trace_format_name(enum trace_format fmt)
{
	return format_names[fmt];
}

int trace_format_parse(const char *name, enum trace_format *fmt)
{
	for (unsigned i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (!strcmp(name, format_names[i])) {
			*fmt = (enum trace_format)i;
			return 0;
		}
	if (!strcmp(name, "json")) {
		*fmt = TRACE_FMT_PERFETTO;
		return 0;
	}
	return -EINVAL;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

enum trace_format trace_format_for_path(const char *path)
{
	if (has_suffix(path, ".csv"))
		return TRACE_FMT_CSV;
	if (has_suffix(path, ".json"))
		return TRACE_FMT_PERFETTO;
	return TRACE_FMT_BIN;
}

static int io_err(FILE *f)
{
	return ferror(f) ? -EIO : 0;
}

static int write_bin_header(FILE *f, uint32_t flags)
{
	const struct trace_field_desc *fields = trace_event_fields;
	uint32_t nfields = trace_event_nfields;
	struct trace_file_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, TRACE_FILE_MAGIC, 8);
	h.version = TRACE_FILE_VERSION;
	h.header_size = (uint32_t)(sizeof(h) + nfields * sizeof(struct trace_file_field));
	h.event_size = sizeof(struct tortuga_event);
	h.flags = flags;
	h.nfields = nfields;
	if (fwrite(&h, sizeof(h), 1, f) != 1)
		return -EIO;
	for (uint32_t i = 0; i < nfields; i++) {
		struct trace_file_field ff;
		memset(&ff, 0, sizeof(ff));
		_Static_assert(sizeof("handler") <= TRACE_FIELD_NAME_MAX, "field names fit");
		strncpy(ff.name, fields[i].name, sizeof(ff.name) - 1);
		ff.offset = fields[i].offset;
		ff.size = fields[i].size;
		if (fwrite(&ff, sizeof(ff), 1, f) != 1)
			return -EIO;
	}
	return 0;
}

static int write_csv_header(FILE *f)
{
#define X(type, name, doc) fputs(#name ",", f);
	TORTUGA_EVENT_FIELDS(X)
#undef X
	fputs("kind_name,reason_name\n", f);
	return io_err(f);
}

static void write_csv_event(FILE *f, const struct tortuga_event *e)
{
	char buf[TRACE_NAME_MAX];
	const char *kind = trace_event_kind_name(e->kind);
	const char *reason = trace_reason_name(e, buf);
#define X(type, name, doc) fprintf(f, "%llu,", (unsigned long long)e->name);
	TORTUGA_EVENT_FIELDS(X)
#undef X
	fprintf(f, "%s,%s\n", kind ? kind : "", reason ? reason : "");
}

int trace_writer_open(struct trace_writer **out, FILE *f, enum trace_format fmt,
		      const struct trace_writer_opts *opts)
{
	struct trace_writer *w = calloc(1, sizeof(*w));
	if (!w) {
		fclose(f);
		return -ENOMEM;
	}
	w->f = f;
	w->fmt = fmt;
	if (opts)
		w->opts = *opts;
	trace_evset_init(&w->buf);
	int err = 0;
	if (fmt == TRACE_FMT_BIN)
		err = write_bin_header(f, w->opts.file_flags);
	else if (fmt == TRACE_FMT_CSV)
		err = write_csv_header(f);
	if (err) {
		trace_writer_close(w);
		return err;
	}
	*out = w;
	return 0;
}

int trace_writer_write(struct trace_writer *w, const struct tortuga_event *ev, size_t n)
{
	int err = 0;
	switch (w->fmt) {
	case TRACE_FMT_BIN:
		if (fwrite(ev, sizeof(*ev), n, w->f) != n)
			err = -EIO;
		break;
	case TRACE_FMT_CSV:
		for (size_t i = 0; i < n; i++)
			write_csv_event(w->f, &ev[i]);
		err = io_err(w->f);
		break;
	case TRACE_FMT_PERFETTO:
		err = trace_evset_push(&w->buf, ev, n);
		w->dirty = true;
		break;
	}
	if (err && !w->error)
		w->error = err;
	return err;
}

/* Render the Perfetto JSON of everything so far over the file's contents. */
static int render_perfetto(struct trace_writer *w, bool final)
{
	if (!w->dirty && w->rendered)
		return 0;
	if (fseek(w->f, 0, SEEK_SET)) {
		if (!final)
			return 0; /* a pipe: written once, at close */
	} else if (ftruncate(fileno(w->f), 0)) {
		return -errno;
	}
	int err = trace_evset_index(&w->buf);
	if (!err)
		err = trace_perfetto_write(w->f, &w->buf, w->opts.clock);
	w->dirty = false;
	w->rendered = !err;
	return err;
}

int trace_writer_flush(struct trace_writer *w)
{
	int err = w->fmt == TRACE_FMT_PERFETTO ? render_perfetto(w, false) : 0;
	if (!err && fflush(w->f))
		err = -errno;
	if (err && !w->error)
		w->error = err;
	return w->error;
}

int trace_writer_close(struct trace_writer *w)
{
	if (!w)
		return 0;
	int err = w->error;
	if (w->fmt == TRACE_FMT_PERFETTO && !err)
		err = render_perfetto(w, true);
	if (fclose(w->f) && !err)
		err = -EIO;
	trace_evset_free(&w->buf);
	free(w);
	return err;
}
