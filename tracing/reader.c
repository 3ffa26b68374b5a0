#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"
#include "trace_file.h"

struct trace_reader {
	char *path;
	enum trace_format fmt;
	unsigned flags;
	uint32_t file_flags;
	int fd; /* binary */
	uint64_t pos; /* binary: offset of the next event */
	uint64_t nread; /* events returned so far */
	FILE *f; /* CSV */
	char *line;
	size_t line_cap;
	uint64_t lineno;
	char err[TRACE_ERR_MAX];
};

#define our_fields trace_event_fields
#define NFIELDS ((size_t)trace_event_nfields)
/* The number of fields as a constant, for arrays. */
enum {
#define X(type, name, doc) FIELD_##name,
	TORTUGA_EVENT_FIELDS(X)
#undef X
	FIELD_COUNT
};

int trace_errf(char err[TRACE_ERR_MAX], int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, TRACE_ERR_MAX, fmt, ap);
	va_end(ap);
	return code < 0 ? code : -code;
}

static int read_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	*got = 0;
	while (*got < len) {
		ssize_t n = pread(fd, (char *)buf + *got, len - *got, (off_t)(off + *got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

static int open_bin(struct trace_reader *r, char *err)
{
	struct trace_file_header h;
	size_t got;
	int e = read_full(r->fd, &h, sizeof(h), 0, &got);
	if (e)
		return trace_errf(err, e, "%s: %s", r->path, strerror(-e));
	if (got < sizeof(h))
		return trace_errf(err, -EINVAL, "%s: truncated trace header (%zu of %zu bytes)", r->path, got,
			    sizeof(h));
	if (h.version < 1 || h.version > TRACE_FILE_VERSION)
		return trace_errf(err, -EINVAL,
			    "%s: trace format version %u is not one this tortuga reads (1 to %u)",
			    r->path, h.version, TRACE_FILE_VERSION);
	if (h.event_size != sizeof(struct tortuga_event))
		return trace_errf(err, -EINVAL, "%s: events of %u bytes; this tortuga's are %zu bytes",
			    r->path, h.event_size, sizeof(struct tortuga_event));
	uint32_t min_header = (uint32_t)sizeof(h);
	if (h.version >= 2) {
		min_header += h.nfields * (uint32_t)sizeof(struct trace_file_field);
		if (h.nfields != NFIELDS)
			return trace_errf(err, -EINVAL,
				    "%s: the file's events have %u fields; this tortuga's have %zu",
				    r->path, h.nfields, NFIELDS);
	}
	if (h.header_size < min_header || h.header_size > (1u << 20))
		return trace_errf(err, -EINVAL, "%s: bad header size %u", r->path, h.header_size);
	for (uint32_t i = 0; h.version >= 2 && i < h.nfields; i++) {
		struct trace_file_field ff;
		e = read_full(r->fd, &ff, sizeof(ff), sizeof(h) + i * sizeof(ff), &got);
		if (e || got < sizeof(ff))
			return trace_errf(err, -EINVAL, "%s: truncated field table (field %u)", r->path, i);
		ff.name[sizeof(ff.name) - 1] = 0;
		if (strcmp(ff.name, our_fields[i].name) || ff.offset != our_fields[i].offset ||
		    ff.size != our_fields[i].size)
			return trace_errf(err, -EINVAL,
				    "%s: field %u is '%s' (offset %u, %u bytes), this tortuga expects "
				    "'%s' (offset %u, %u bytes)",
				    r->path, i, ff.name, ff.offset, ff.size, our_fields[i].name,
				    our_fields[i].offset, our_fields[i].size);
	}
	r->file_flags = h.flags;
	r->pos = h.header_size;
	return 0;
}

static int read_bin(struct trace_reader *r, struct tortuga_event *out, uint32_t max)
{
	size_t got;
	int e = read_full(r->fd, out, (size_t)max * sizeof(*out), r->pos, &got);
	if (e)
		return trace_errf(r->err, e, "%s: %s", r->path, strerror(-e));
	size_t n = got / sizeof(*out), partial = got % sizeof(*out);
	r->pos += n * sizeof(*out);
	if (partial && !n && !(r->flags & TRACE_READ_FOLLOW))
		return trace_errf(r->err, -EINVAL,
			    "%s: truncated: %zu bytes after event %" PRIu64
			    " are an incomplete event (%zu bytes each)",
			    r->path, partial, r->nread, sizeof(*out));
	return (int)n;
}

/* The header line tortuga's CSV writer puts first. */
static void csv_header(char *buf, size_t len)
{
	buf[0] = 0;
	for (size_t i = 0; i < NFIELDS; i++) {
		strncat(buf, our_fields[i].name, len - strlen(buf) - 1);
		strncat(buf, ",", len - strlen(buf) - 1);
	}
	strncat(buf, "kind_name,reason_name", len - strlen(buf) - 1);
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
}

static int open_csv(struct trace_reader *r, char *err)
{
	r->f = fdopen(r->fd, "r");
	if (!r->f)
		return trace_errf(err, -errno, "%s: %s", r->path, strerror(errno));
	r->fd = -1;
	char want[512];
	csv_header(want, sizeof(want));
	if (getline(&r->line, &r->line_cap, r->f) < 0)
		return trace_errf(err, -EINVAL, "%s: empty file", r->path);
	r->lineno = 1;
	chomp(r->line);
	if (strcmp(r->line, want))
		return trace_errf(err, -EINVAL, "%s:1: not tortuga's CSV header (expected \"%s\")", r->path,
			    want);
	return 0;
}

static int parse_csv_line(struct trace_reader *r, char *line, struct tortuga_event *e)
{
	char *p = line;
	uint64_t v[FIELD_COUNT];
	for (size_t i = 0; i < NFIELDS; i++) {
		char *end;
		size_t tok = strcspn(p, ",");
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (!tok || end != p + tok || *p < '0' || *p > '9')
			return trace_errf(r->err, -EINVAL, "%s:%" PRIu64 ": field %s: '%.*s' is not a number",
				    r->path, r->lineno, our_fields[i].name, (int)(tok < 40 ? tok : 40), p);
		uint64_t max = our_fields[i].size == 8 ? UINT64_MAX :
							 (1ull << (8 * our_fields[i].size)) - 1;
		if (errno || v[i] > max)
			return trace_errf(r->err, -EINVAL, "%s:%" PRIu64 ": field %s: %.*s is out of range",
				    r->path, r->lineno, our_fields[i].name, (int)tok, p);
		if (p[tok] != ',')
			return trace_errf(r->err, -EINVAL,
				    "%s:%" PRIu64 ": expected %zu comma-separated numbers, then "
				    "kind_name,reason_name",
				    r->path, r->lineno, NFIELDS);
		p += tok + 1;
	}
	/* kind_name,reason_name are derived from the numbers; only their
	 * presence is checked. */
	if (!strchr(p, ','))
		return trace_errf(r->err, -EINVAL, "%s:%" PRIu64 ": missing kind_name,reason_name", r->path,
			    r->lineno);
	size_t i = 0;
#define X(type, name, doc) e->name = (type)v[i++];
	TORTUGA_EVENT_FIELDS(X)
#undef X
	return 0;
}

static int read_csv(struct trace_reader *r, struct tortuga_event *out, uint32_t max)
{
	uint32_t n = 0;
	while (n < max) {
		ssize_t len = getline(&r->line, &r->line_cap, r->f);
		if (len < 0)
			break;
		if (r->line[len - 1] != '\n' && (r->flags & TRACE_READ_FOLLOW)) {
			/* The writer is mid-line: read it whole next time. */
			fseeko(r->f, -(off_t)len, SEEK_CUR);
			clearerr(r->f);
			break;
		}
		r->lineno++;
		chomp(r->line);
		if (!r->line[0])
			continue;
		int e = parse_csv_line(r, r->line, &out[n]);
		if (e)
			return e;
		n++;
	}
	if (ferror(r->f))
		return trace_errf(r->err, -EIO, "%s: read error", r->path);
	return (int)n;
}

int trace_reader_open(struct trace_reader **out, const char *path, unsigned flags,
		      char err[TRACE_ERR_MAX])
{
	*out = NULL;
	struct trace_reader *r = calloc(1, sizeof(*r));
	if (!r || !(r->path = strdup(path))) {
		free(r);
		return trace_errf(err, -ENOMEM, "out of memory");
	}
	r->flags = flags;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	int e;
	if (r->fd < 0) {
		e = trace_errf(err, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	char magic[8] = { 0 };
	size_t got;
	e = read_full(r->fd, magic, sizeof(magic), 0, &got);
	if (e) {
		trace_errf(err, e, "%s: %s", path, strerror(-e));
		goto fail;
	}
	if (got == sizeof(magic) && !memcmp(magic, TRACE_FILE_MAGIC, 8)) {
		r->fmt = TRACE_FMT_BIN;
		e = open_bin(r, err);
	} else if (got >= 4 && !memcmp(magic, "seq,", 4)) {
		r->fmt = TRACE_FMT_CSV;
		e = open_csv(r, err);
	} else if (got && magic[0] == '{') {
		e = trace_errf(err, -EINVAL,
			 "%s: a JSON file; Perfetto JSON is an output format, read the .bin or "
			 ".csv it was made from",
			 path);
	} else {
		e = trace_errf(err, -EINVAL, "%s: not a tortuga trace (%s)", path,
			 got ? "neither the binary header nor tortuga's CSV" : "empty file");
	}
	if (e)
		goto fail;
	*out = r;
	return 0;
fail:
	trace_reader_close(r);
	return e;
}

int trace_reader_read(struct trace_reader *r, struct tortuga_event *out, uint32_t max)
{
	int n = r->fmt == TRACE_FMT_BIN ? read_bin(r, out, max) : read_csv(r, out, max);
	if (n > 0)
		r->nread += (uint64_t)n;
	return n;
}

const char *trace_reader_error(const struct trace_reader *r)
{
	return r->err;
}

enum trace_format trace_reader_format(const struct trace_reader *r)
{
	return r->fmt;
}

uint32_t trace_reader_file_flags(const struct trace_reader *r)
{
	return r->file_flags;
}

void trace_reader_close(struct trace_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	if (r->fd >= 0)
		close(r->fd);
	free(r->line);
	free(r->path);
	free(r);
}

int trace_load(struct trace_evset *s, const char *path, char err[TRACE_ERR_MAX])
{
	struct trace_reader *r;
	int e = trace_reader_open(&r, path, 0, err);
	if (e)
		return e;
	struct tortuga_event buf[1024];
	int n;
	while ((n = trace_reader_read(r, buf, 1024)) > 0) {
		e = trace_evset_push(s, buf, (size_t)n);
		if (e) {
			trace_errf(err, e, "%s: out of memory after %zu events", path, s->n);
			break;
		}
	}
	if (n < 0) {
		e = n;
		snprintf(err, TRACE_ERR_MAX, "%s", trace_reader_error(r));
	}
	trace_reader_close(r);
	if (!e)
		e = trace_evset_index(s);
	return e;
}
