#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "trace_file.h"
#include "writer.h"

struct trace_writer {
	FILE *f;
	enum trace_format fmt;
};

static int io_err(FILE *f)
{
	return ferror(f) ? -EIO : 0;
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

int trace_writer_open(struct trace_writer **out, FILE *f, enum trace_format fmt)
{
	struct trace_writer *w = calloc(1, sizeof(*w));
	if (!w) {
		fclose(f);
		return -ENOMEM;
	}
	w->f = f;
	w->fmt = fmt;
	int err = 0;
	if (fmt == TRACE_FMT_BIN) {
		struct trace_file_header h;
		memset(&h, 0, sizeof(h));
		memcpy(h.magic, TRACE_FILE_MAGIC, 8);
		h.version = TRACE_FILE_VERSION;
		h.header_size = sizeof(h);
		h.event_size = sizeof(struct tortuga_event);
		if (fwrite(&h, sizeof(h), 1, f) != 1)
			err = -EIO;
	} else {
		err = write_csv_header(f);
	}
	if (err) {
		trace_writer_close(w);
		return err;
	}
	*out = w;
	return 0;
}

int trace_writer_write(struct trace_writer *w, const struct tortuga_event *ev, size_t n)
{
	if (w->fmt == TRACE_FMT_BIN) {
		if (fwrite(ev, sizeof(*ev), n, w->f) != n)
			return -EIO;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		write_csv_event(w->f, &ev[i]);
	return io_err(w->f);
}

int trace_writer_flush(struct trace_writer *w)
{
	return fflush(w->f) ? -errno : 0;
}

void trace_writer_close(struct trace_writer *w)
{
	if (!w)
		return;
	fclose(w->f);
	free(w);
}
