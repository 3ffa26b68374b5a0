/*
 * busyloop: a tight add/xor/dec/jnz loop with no exits (the loop of
 * REFERENCES.md's MIPS figures), then a checksum so the result is checked.
 * Four instructions per iteration. Command line: n=N (default 1000000).
 * guests/pc/busyloop_mb.c is the same guest as a Multiboot kernel.
 */
#include <guest/guest.h>

#include "cpuloop/kernels.h"

int main(const struct tortuga_bootinfo *bi)
{
	return busyloop_guest(parse_u64(cmdline_get(bi, "n"), BUSYLOOP_DEFAULT_ITERATIONS));
}
