#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/types.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf.h"
#include "kvm_format.h"
#include "kvm_tp.h"
#include "trace_file.h"
#include "usdt_find.h"
#include "writer.h"

#include "tortuga.skel.h"

struct trace_bpf {
	struct tortuga_bpf *skel;
	struct ring_buffer *rb;
	struct trace_writer *w;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	unsigned poll_ms;
	bool streaming; /* the format writes as it goes (Perfetto renders at close) */
	int error; /* first error of the reader thread */
	pthread_mutex_t lock; /* stats */
	struct tortuga_bpf_stats st;
	uint64_t lost_written;
};

/* ---- libbpf's messages: kept for our one-line errors, not printed ---- */

static _Thread_local char libbpf_msg[256];

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	char buf[256];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = 0;
	if (buf[0])
		snprintf(libbpf_msg, sizeof(libbpf_msg), "%s", buf);
	return 0;
}

static const char *why(int err)
{
	switch (-err) {
	case EPERM:
	case EACCES:
		return "permission denied: run as root (or with CAP_BPF and CAP_PERFMON)";
	case ENOSYS:
		return "the kernel has no bpf() system call";
	default:
		return libbpf_msg[0] ? libbpf_msg : strerror(-err);
	}
}

/* ---- KVM tracepoint layouts from tracefs ---- */

/* libbpf attaches tracepoints through the same directory (tracefs_path()). */
static const char *tracefs_dir(void)
{
	if (!access("/sys/kernel/debug/tracing/events", F_OK))
		return "/sys/kernel/debug/tracing";
	if (!access("/sys/kernel/tracing/events", F_OK))
		return "/sys/kernel/tracing";
	return NULL;
}

static char *read_text(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	while (buf && (n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap) {
			char *p = realloc(buf, cap *= 2);
			if (!p) {
				free(buf);
				buf = NULL;
			}
			buf = p;
		}
	}
	close(fd);
	if (buf)
		buf[len] = 0;
	return buf;
}

/* Fill the layout of every tracepoint this kernel has. Returns a bit mask of
 * usable tracepoints (in TORTUGA_KVM_TRACEPOINTS order); note says why the
 * others are not. */
static unsigned kvm_layouts(struct kvm_tp_layout *lay, char *note)
{
	static const char *const names[] = {
#define T(name) #name,
		TORTUGA_KVM_TRACEPOINTS(T)
#undef T
	};
	char *text[TORTUGA_KVM_TP_COUNT] = { 0 };
	unsigned ok = 0;
	const char *dir = tracefs_dir();
	note[0] = 0;
	if (!dir) {
		snprintf(note, TRACE_ERR_MAX,
			 "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)");
		return 0;
	}
	for (int t = 0; t < TORTUGA_KVM_TP_COUNT; t++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/events/kvm/%s/format", dir, names[t]);
		text[t] = read_text(path);
		if (text[t])
			ok |= 1u << t;
	}
	if (!ok)
		snprintf(note, TRACE_ERR_MAX, "the kernel has no KVM tracepoints (%s/events/kvm)", dir);
	memset(lay, 0, sizeof(*lay));
#define X(tp, field, req)                                                                          \
	if (text[TORTUGA_KVM_TP_##tp] && kvm_tp_parse_field(text[TORTUGA_KVM_TP_##tp], #field, &lay->tp##__##field) && (req)) {       \
		ok &= ~(1u << TORTUGA_KVM_TP_##tp);                                                            \
		snprintf(note, TRACE_ERR_MAX, "kvm:%s has no field '%s' on this kernel", #tp, #field); \
	}
	TORTUGA_KVM_TP_FIELDS(X)
#undef X
	for (int t = 0; t < TORTUGA_KVM_TP_COUNT; t++)
		free(text[t]);
	return ok;
}

static struct bpf_program *kvm_prog(struct tortuga_bpf *s, unsigned t)
{
	struct bpf_program *progs[] = {
#define T(name) s->progs.name,
		TORTUGA_KVM_TRACEPOINTS(T)
#undef T
	};
	return progs[t];
}

static struct bpf_link **kvm_link(struct tortuga_bpf *s, unsigned t)
{
	struct bpf_link **links[] = {
#define T(name) &s->links.name,
		TORTUGA_KVM_TRACEPOINTS(T)
#undef T
	};
	return links[t];
}

/* ---- the reader ---- */

static int on_event(void *ctx, void *data, size_t size)
{
	struct trace_bpf *b = ctx;
	if (size != sizeof(struct tortuga_event))
		return 0;
	const struct tortuga_event *e = data;
	int err = trace_writer_write(b->w, e, 1);
	if (err && !b->error)
		b->error = err;
	pthread_mutex_lock(&b->lock);
	b->st.events++;
	if (e->flags & TORTUGA_EVF_KVM)
		b->st.kvm_events++;
	else
		b->st.usdt_events++;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The program counts what the ring buffer refused; say so in the file. */
static void note_lost(struct trace_bpf *b)
{
	uint64_t dropped = __atomic_load_n(&b->skel->bss->dropped, __ATOMIC_RELAXED);
	uint64_t read_errors = __atomic_load_n(&b->skel->bss->read_errors, __ATOMIC_RELAXED);
	pthread_mutex_lock(&b->lock);
	b->st.lost = dropped;
	b->st.read_errors = read_errors;
	pthread_mutex_unlock(&b->lock);
	if (dropped + read_errors <= b->lost_written)
		return;
	struct tortuga_event lost = {
		.ts_ns = now_ns(),
		.kind = TORTUGA_EV_LOST,
		.reason = TORTUGA_LOST_BPF,
		.aux = dropped + read_errors - b->lost_written,
	};
	b->lost_written = dropped + read_errors;
	int err = trace_writer_write(b->w, &lost, 1);
	if (err && !b->error)
		b->error = err;
}

static void *reader(void *arg)
{
	struct trace_bpf *b = arg;
	while (!atomic_load(&b->stop)) {
		int n = ring_buffer__poll(b->rb, (int)b->poll_ms);
		if (n < 0 && n != -EINTR) {
			if (!b->error)
				b->error = n;
			break;
		}
		note_lost(b);
		/* Keep the file readable while the run goes on (a Perfetto file
		 * is rendered whole, once, at the end). */
		int err = b->streaming ? trace_writer_flush(b->w) : 0;
		if (err && !b->error)
			b->error = err;
	}
	ring_buffer__consume(b->rb);
	note_lost(b);
	return NULL;
}

/* ---- start / stop ---- */

static void destroy(struct trace_bpf *b)
{
	ring_buffer__free(b->rb);
	tortuga_bpf__destroy(b->skel);
	if (b->w)
		trace_writer_close(b->w);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static int attach_kvm(struct trace_bpf *b, unsigned usable)
{
	for (unsigned t = 0; t < TORTUGA_KVM_TP_COUNT; t++) {
		if (!(usable & (1u << t)))
			continue;
		struct bpf_link *l = bpf_program__attach(kvm_prog(b->skel, t));
		if (!l) {
			snprintf(b->st.kvm_note, sizeof(b->st.kvm_note), "cannot attach to kvm:%s: %s",
				 bpf_program__name(kvm_prog(b->skel, t)), why(-errno));
			continue;
		}
		*kvm_link(b->skel, t) = l;
		b->st.kvm_attached++;
	}
	return 0;
}

int trace_bpf_start(struct trace_bpf **out, const char *path, const struct trace_bpf_opts *o,
		    char err[TRACE_ERR_MAX])
{
	*out = NULL;
	if (o->ring_bytes < 4096 || (o->ring_bytes & (o->ring_bytes - 1)))
		return trace_errf(err, -EINVAL, "the ring buffer size must be a power of two >= 4096");
	libbpf_set_print(libbpf_log);
	libbpf_msg[0] = 0;
	struct trace_bpf *b = calloc(1, sizeof(*b));
	if (!b)
		return trace_errf(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&b->lock, NULL);
	b->poll_ms = o->poll_ms ? o->poll_ms : 100;
	b->streaming = o->fmt != TRACE_FMT_PERFETTO;
	int e = 0;

	/* A process without libtortuga (QEMU, say) can still be recorded
	 * through KVM's tracepoints. */
	bool usdt = o->usdt;
	char usdt_note[128] = "not requested";
	if (usdt) {
		e = usdt_find(o->pid, "tortuga", "event", b->st.usdt_path, sizeof(b->st.usdt_path));
		if (e && e != -ENOENT) {
			e = trace_errf(err, e, "process %d: %s", (int)o->pid, strerror(-e));
			goto fail;
		}
		if (e == -ENOENT) {
			snprintf(usdt_note, sizeof(usdt_note),
				 "process %d has no tortuga:event probe (no libtortuga loaded)",
				 (int)o->pid);
			usdt = false;
			e = 0;
		}
	}
	b->skel = tortuga_bpf__open();
	if (!b->skel) {
		e = trace_errf(err, -errno, "eBPF unavailable: %s", why(-errno));
		goto fail;
	}
	b->skel->rodata->target_tgid = (__u32)o->pid;
	b->skel->rodata->wakeup_bytes = o->ring_bytes / 4;
	unsigned usable = o->kvm ? kvm_layouts(&b->skel->rodata->kvm_layout, b->st.kvm_note) : 0;
	if (!o->kvm)
		snprintf(b->st.kvm_note, sizeof(b->st.kvm_note), "not requested");
	bpf_program__set_autoload(b->skel->progs.tortuga_event, usdt);
	for (unsigned t = 0; t < TORTUGA_KVM_TP_COUNT; t++)
		bpf_program__set_autoload(kvm_prog(b->skel, t), (usable >> t) & 1);
	bpf_map__set_max_entries(b->skel->maps.events, o->ring_bytes);
	e = tortuga_bpf__load(b->skel);
	if (e) {
		e = trace_errf(err, e, "eBPF unavailable: %s", why(e));
		goto fail;
	}
	if (usdt) {
		b->skel->links.tortuga_event = bpf_program__attach_usdt(
			b->skel->progs.tortuga_event, o->pid, b->st.usdt_path, "tortuga", "event", NULL);
		if (!b->skel->links.tortuga_event) {
			e = -errno;
			e = trace_errf(err, e, "cannot attach to tortuga:event in %s (kernel without uprobes?): %s",
				 b->st.usdt_path, why(e));
			goto fail;
		}
		b->st.usdt_attached = 1;
	}
	if (usable)
		attach_kvm(b, usable);
	if (!b->st.usdt_attached && !b->st.kvm_attached) {
		e = trace_errf(err, -ENOENT, "nothing to record: %s; KVM tracepoints: %s", usdt_note,
			 b->st.kvm_note);
		goto fail;
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		e = trace_errf(err, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	struct trace_writer_opts wo = { .file_flags = TRACE_FILE_F_BPF };
	e = trace_writer_open(&b->w, f, o->fmt, &wo);
	if (e) {
		e = trace_errf(err, e, "%s: cannot write: %s", path, strerror(-e));
		goto fail;
	}
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), on_event, b, NULL);
	if (!b->rb) {
		e = trace_errf(err, -errno, "cannot read the BPF ring buffer: %s", why(-errno));
		goto fail;
	}
	e = pthread_create(&b->thread, NULL, reader, b);
	if (e) {
		e = trace_errf(err, -e, "cannot start the reader thread: %s", strerror(e));
		goto fail;
	}
	b->thread_started = true;
	*out = b;
	return 0;
fail:
	destroy(b);
	return e;
}

void trace_bpf_peek(struct trace_bpf *b, struct tortuga_bpf_stats *st)
{
	pthread_mutex_lock(&b->lock);
	*st = b->st;
	pthread_mutex_unlock(&b->lock);
}

int trace_bpf_stop(struct trace_bpf *b, struct tortuga_bpf_stats *st, char err[TRACE_ERR_MAX])
{
	atomic_store(&b->stop, true);
	if (b->thread_started)
		pthread_join(b->thread, NULL);
	/* Detach before the last drain so nothing arrives after it. */
	tortuga_bpf__detach(b->skel);
	ring_buffer__consume(b->rb);
	note_lost(b);
	int e = b->error;
	int cerr = trace_writer_close(b->w);
	b->w = NULL;
	if (!e)
		e = cerr;
	if (e)
		trace_errf(err, e, "cannot write the trace file: %s", strerror(-e));
	if (st)
		trace_bpf_peek(b, st);
	destroy(b);
	return e;
}

/* ---- check ---- */

static void item(FILE *out, bool ok, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void item(FILE *out, bool ok, const char *what, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(out, "  %-4s %-22s ", ok ? "ok" : "no", what);
	vfprintf(out, fmt, ap);
	fputc('\n', out);
	va_end(ap);
}

int trace_bpf_check(FILE *out)
{
	libbpf_set_print(libbpf_log);
	libbpf_msg[0] = 0;
	fprintf(out, "eBPF recording on this host (libbpf %s):\n", libbpf_version_string());
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "tortuga_check", 4, 4, 1, NULL);
	int bpf_err = fd < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	item(out, !bpf_err, "bpf() system call", "%s", bpf_err ? why(bpf_err) : "permitted");
	int rb = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
	item(out, rb == 1, "BPF ring buffer", "%s", rb == 1 ? "supported" : "unsupported (Linux >= 5.8)");
	bool uprobes = !access("/sys/bus/event_source/devices/uprobe/type", F_OK);
	item(out, uprobes, "uprobes (for USDT)", "%s",
	     uprobes ? "available" : "missing (kernel without CONFIG_UPROBE_EVENTS)");
	struct kvm_tp_layout lay;
	char note[TRACE_ERR_MAX];
	unsigned kvm = kvm_layouts(&lay, note);
	item(out, kvm != 0, "KVM tracepoints", "%s", kvm ? "available" : note);
	bool btf = !access("/sys/kernel/btf/vmlinux", R_OK);
	item(out, true, "kernel BTF", "%s (not needed: the program is CO-RE free)",
	     btf ? "present" : "absent");
	int e = bpf_err ? bpf_err : rb != 1 ? -ENOTSUP : !uprobes ? -ENOENT : 0;
	fprintf(out, "%s\n", e ? "tortuga cannot record through eBPF here: the in-process ring still works" :
				  "tortuga can record through eBPF here");
	return e;
}
