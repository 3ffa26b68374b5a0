/*
 * The `tortuga` command: subcommands share these helpers.
 */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <tortuga/tortuga.h>

/* Parse "128M", "1G", "4096", "2KiB"... into bytes; -1 on bad input. */
int cli_parse_size(const char *s, uint64_t *out);
/* Parse a non-negative decimal (or 0x hex) count with optional k/M/G suffix
 * (powers of 1000); -1 on bad input. */
int cli_parse_count(const char *s, uint64_t *out);

int cli_run(int argc, char **argv);
int cli_trace(int argc, char **argv);
int cli_trace_record(int argc, char **argv);
int cli_trace_check(int argc, char **argv);

/* tortuga run --trace-bpf: start recording this process into path (on
 * failure: say why in one line and record the in-process ring instead), and
 * stop, reporting lost events. */
struct tortuga_bpf;
struct tortuga_bpf *cli_bpf_begin(tortuga_vm *vm, const char *path);
int cli_bpf_end(struct tortuga_bpf *b, const char *path, bool quiet);

/* Report a getopt error (c is ':' or '?'); returns TORTUGA_STATUS_USAGE. */
int cli_bad_option(int argc, char **argv, int c, const char *help);

/* Print "tortuga: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
