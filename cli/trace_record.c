/*
 * Recording through eBPF: `tortuga trace record -p PID` (a separate process
 * attached to a running VM, as `perf kvm stat record` is), `tortuga trace
 * check`, and the --trace-bpf option of `tortuga run`.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <tortuga/trace.h>

#include "cli.h"

static void print_stats(const char *what, const char *path, const struct tortuga_bpf_stats *st)
{
	fprintf(stderr,
		"tortuga: %s: %" PRIu64 " events to %s (%" PRIu64 " from tortuga:event, %" PRIu64
		" from KVM tracepoints)",
		what, st->events, path, st->usdt_events, st->kvm_events);
	if (st->lost || st->read_errors)
		fprintf(stderr, "; %" PRIu64 " events LOST (the BPF ring buffer was full: try a larger "
				"--ring-size)",
			st->lost + st->read_errors);
	fputc('\n', stderr);
}

/* ---- tortuga run --trace-bpf ---- */

tortuga_bpf *cli_bpf_begin(tortuga_vm *vm, const char *path)
{
	struct tortuga_bpf_opts o;
	tortuga_bpf_opts_init(&o);
	tortuga_bpf *b = NULL;
	const char *why = NULL;
	if (tortuga_bpf_start(path, &o, &b)) {
		why = tortuga_trace_error();
	} else {
		struct tortuga_bpf_stats st;
		tortuga_bpf_stats(b, &st);
		if (!st.usdt_attached) {
			tortuga_bpf_stop(b, NULL);
			b = NULL;
			why = "this libtortuga has no tortuga:event probe (built with -Dusdt=false)";
		}
	}
	if (b)
		return b;
	/* Keep the user's trace: the in-process ring records the same events. */
	cli_error("--trace-bpf: %s; %s records the in-process ring instead", why, path);
	if (tortuga_vm_trace_to_file(vm, path, NULL))
		cli_error("--trace-bpf: %s", tortuga_vm_error(vm));
	return NULL;
}

int cli_bpf_end(tortuga_bpf *b, const char *path, bool quiet)
{
	if (!b)
		return 0;
	struct tortuga_bpf_stats st;
	if (tortuga_bpf_stop(b, &st)) {
		cli_error("--trace-bpf: %s", tortuga_trace_error());
		return -1;
	}
	if (!quiet || st.lost || st.read_errors)
		print_stats("--trace-bpf", path, &st);
	return 0;
}

/* ---- tortuga trace record ---- */

static void record_usage(FILE *f)
{
	fputs("usage: tortuga trace record -p PID -o FILE [options]\n"
	      "\n"
	      "Record the trace events of a running process through eBPF until it exits\n"
	      "or you press Ctrl-C: tortuga:event (every event of a process using\n"
	      "libtortuga) and KVM's tracepoints filtered to the process (exits KVM\n"
	      "handles in the kernel; also for VMs tortuga does not run). Needs root.\n"
	      "\n"
	      "options:\n"
	      "  -p, --pid PID        the process to record\n"
	      "  -o, --output FILE    the trace file (.csv: CSV, .json: Perfetto, else binary)\n"
	      "  --format F           bin, csv or perfetto, whatever FILE is called\n"
	      "  --no-usdt            only KVM's tracepoints\n"
	      "  --no-kvm             only tortuga:event\n"
	      "  --ring-size SIZE     BPF ring buffer size, a power of two (default 4M)\n",
	      f);
}

enum { OPT_FORMAT = 300, OPT_NO_USDT, OPT_NO_KVM, OPT_RING };

/* Wait until the target exits or SIGINT/SIGTERM arrives (blocked in mask
 * since before recording started, so none is missed). */
static int wait_for_end(pid_t pid, const sigset_t *mask)
{
	int sfd = signalfd(-1, mask, SFD_CLOEXEC);
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd fds[2] = { { .fd = sfd, .events = POLLIN }, { .fd = pfd, .events = POLLIN } };
	int why = 0;
	while (!why) {
		/* Without pidfds (Linux < 5.3) look at the target now and then. */
		int n = poll(fds, 2, pfd < 0 ? 200 : -1);
		if (n < 0 && errno != EINTR)
			break;
		if (fds[0].revents) {
			/* Consume it, or unblocking would deliver it again. */
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) < 0)
				continue;
			why = 1;
		}
		else if (fds[1].revents || (pfd < 0 && kill(pid, 0) && errno == ESRCH))
			why = 2;
	}
	if (sfd >= 0)
		close(sfd);
	if (pfd >= 0)
		close(pfd);
	return why;
}

int cli_trace_record(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "no-usdt", no_argument, NULL, OPT_NO_USDT },
		{ "no-kvm", no_argument, NULL, OPT_NO_KVM },
		{ "ring-size", required_argument, NULL, OPT_RING },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tortuga_bpf_opts o;
	tortuga_bpf_opts_init(&o);
	const char *out = NULL;
	uint64_t v;
	char *end;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.pid = (int32_t)strtol(optarg, &end, 10);
			if (*end || o.pid <= 0) {
				cli_error("-p: '%s' is not a process id", optarg);
				return TORTUGA_STATUS_USAGE;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case OPT_FORMAT:
			o.format = optarg;
			break;
		case OPT_NO_USDT:
			o.flags |= TORTUGA_BPF_NO_USDT;
			break;
		case OPT_NO_KVM:
			o.flags |= TORTUGA_BPF_NO_KVM;
			break;
		case OPT_RING:
			if (cli_parse_size(optarg, &v) || v < 4096 || v > (1u << 30) || (v & (v - 1))) {
				cli_error("--ring-size: '%s' is not a power of two from 4K to 1G", optarg);
				return TORTUGA_STATUS_USAGE;
			}
			o.ring_bytes = (uint32_t)v;
			break;
		case 'h':
			record_usage(stdout);
			return 0;
		default:
			return cli_bad_option(argc, argv, c, "tortuga trace record --help");
		}
	}
	if (!o.pid || !out || optind != argc) {
		cli_error("usage: tortuga trace record -p PID -o FILE (try --help)");
		return TORTUGA_STATUS_USAGE;
	}
	if (kill(o.pid, 0) && errno == ESRCH) {
		cli_error("-p: no process %d", o.pid);
		return TORTUGA_STATUS_USAGE;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	tortuga_bpf *b;
	if (tortuga_bpf_start(out, &o, &b)) {
		cli_error("%s", tortuga_trace_error());
		sigprocmask(SIG_UNBLOCK, &mask, NULL);
		return TORTUGA_STATUS_ERROR;
	}
	struct tortuga_bpf_stats st;
	tortuga_bpf_stats(b, &st);
	fprintf(stderr, "tortuga: recording process %d to %s: tortuga:event %s%s, %u KVM tracepoints",
		o.pid, out, st.usdt_attached ? "in " : "not attached", st.usdt_path, st.kvm_attached);
	if (st.kvm_attached < 6)
		fprintf(stderr, " (%s)", st.kvm_note);
	fputs("; Ctrl-C stops\n", stderr);
	int why = wait_for_end(o.pid, &mask);
	int err = tortuga_bpf_stop(b, &st);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	if (err) {
		cli_error("%s", tortuga_trace_error());
		return TORTUGA_STATUS_ERROR;
	}
	print_stats(why == 2 ? "the process exited" : "stopped", out, &st);
	return 0;
}

int cli_trace_check(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		cli_error("usage: tortuga trace check");
		return TORTUGA_STATUS_USAGE;
	}
	char buf[4096];
	int err = tortuga_bpf_check(buf, sizeof(buf));
	fputs(buf, stdout);
	return err ? 1 : 0;
}
