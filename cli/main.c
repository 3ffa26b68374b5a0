/*
 * tortuga: run guest programs in virtual machines, for studying nested
 * virtualization exit by exit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("tortuga: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void usage(FILE *f)
{
	fputs("usage: tortuga <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  run     run a guest ELF in a VM (tortuga run --help)\n"
	      "  trace   report on, convert and record traces (tortuga trace --help)\n"
	      "\n"
	      "options:\n"
	      "  -h, --help     show this help\n"
	      "  -V, --version  show the version\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return TORTUGA_STATUS_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("tortuga %s\n", tortuga_version());
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return cli_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "trace"))
		return cli_trace(argc - 1, argv + 1);
	cli_error("unknown command '%s' (try: tortuga --help)", cmd);
	return TORTUGA_STATUS_USAGE;
}
