/*
 * The eBPF recorder of a build without clang, bpftool or libbpf: every
 * request says so in one line; the in-process ring still records.
 */
#include <errno.h>
#include <stdio.h>

#include "bpf.h"

#define NO_BPF "this tortuga was built without eBPF support (install clang, llvm, bpftool and libbpf-dev, then rebuild)"

int trace_bpf_start(struct trace_bpf **out, const char *path, const struct trace_bpf_opts *o,
		    char err[TRACE_ERR_MAX])
{
	*out = NULL;
	snprintf(err, TRACE_ERR_MAX, "%s", NO_BPF);
	return -ENOTSUP;
}

void trace_bpf_peek(struct trace_bpf *b, struct tortuga_bpf_stats *st)
{
}

int trace_bpf_stop(struct trace_bpf *b, struct tortuga_bpf_stats *st, char err[TRACE_ERR_MAX])
{
	return 0;
}

int trace_bpf_check(FILE *out)
{
	fprintf(out, "%s\n", NO_BPF);
	return -ENOTSUP;
}
