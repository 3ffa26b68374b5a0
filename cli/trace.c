/*
 * tortuga trace: work with trace files (report, convert) and record them
 * through eBPF (record, check: cli/trace_record.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <tortuga/trace.h>

#include "cli.h"

int cli_bad_option(int argc, char **argv, int c, const char *help)
{
	(void)argc;
	if (c == ':')
		cli_error("option '%s' needs a value", argv[optind - 1]);
	else
		cli_error("unknown option '%s' (try: %s)", argv[optind - 1], help);
	return TORTUGA_STATUS_USAGE;
}

static void trace_usage(FILE *f)
{
	fputs("usage: tortuga trace <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  report FILE [--json] [-o OUT]\n"
	      "        exits by reason with handling-time statistics and histograms, who\n"
	      "        handled them (L0 or L1), L0 exits per L2 exit, time per level and the\n"
	      "        top exit chains\n"
	      "  convert IN OUT [--format bin|csv|perfetto] [--clock wall|cycles]\n"
	      "        convert a trace (format from OUT's suffix: .csv, .json, else bin);\n"
	      "        Perfetto JSON opens in ui.perfetto.dev\n"
	      "  record -p PID -o FILE [options]\n"
	      "        record a running process through eBPF until it exits or Ctrl-C\n"
	      "        (tortuga trace record --help; needs root)\n"
	      "  check  say whether eBPF recording works on this host, and why not\n"
	      "\n"
	      "Trace files are written by `tortuga run --trace FILE` (the in-process\n"
	      "ring), `tortuga run --trace-bpf FILE` and `tortuga trace record` (eBPF).\n",
	      f);
}

enum { OPT_JSON = 256, OPT_FORMAT, OPT_CLOCK };

static int trace_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint32_t flags = 0;
	const char *out = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			flags |= TORTUGA_REPORT_JSON;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			trace_usage(stdout);
			return 0;
		default:
			return cli_bad_option(argc, argv, c, "tortuga trace --help");
		}
	}
	if (optind != argc - 1) {
		cli_error("usage: tortuga trace report FILE [--json] [-o OUT]");
		return TORTUGA_STATUS_USAGE;
	}
	if (tortuga_trace_report(argv[optind], out, flags)) {
		cli_error("%s", tortuga_trace_error());
		return TORTUGA_STATUS_ERROR;
	}
	return 0;
}

static int trace_convert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "clock", required_argument, NULL, OPT_CLOCK },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *format = NULL, *clock = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
		case OPT_FORMAT:
			format = optarg;
			break;
		case OPT_CLOCK:
			clock = optarg;
			break;
		case 'h':
			trace_usage(stdout);
			return 0;
		default:
			return cli_bad_option(argc, argv, c, "tortuga trace --help");
		}
	}
	if (optind != argc - 2) {
		cli_error("usage: tortuga trace convert IN OUT [--format bin|csv|perfetto]");
		return TORTUGA_STATUS_USAGE;
	}
	if (tortuga_trace_convert(argv[optind], argv[optind + 1], format, clock)) {
		cli_error("%s", tortuga_trace_error());
		return TORTUGA_STATUS_ERROR;
	}
	return 0;
}

int cli_trace(int argc, char **argv)
{
	if (argc < 2) {
		trace_usage(stderr);
		return TORTUGA_STATUS_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		trace_usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "report"))
		return trace_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "convert"))
		return trace_convert(argc - 1, argv + 1);
	if (!strcmp(cmd, "record"))
		return cli_trace_record(argc - 1, argv + 1);
	if (!strcmp(cmd, "check"))
		return cli_trace_check(argc - 1, argv + 1);
	cli_error("unknown trace command '%s' (try: tortuga trace --help)", cmd);
	return TORTUGA_STATUS_USAGE;
}
