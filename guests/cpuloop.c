/*
 * cpuloop: a CPU-bound guest for benchmarks (bench/). It runs the integer
 * kernels of cpuloop/kernels.c -- a sieve, a quicksort, CRC-32, a hash table
 * -- "n=N" times (default 120, a few hundred million instructions), prints
 * the checksum, and exits with 0 only if every iteration checked out.
 * guests/pc/cpuloop_mb.c is the same guest as a Multiboot kernel.
 */
#include <guest/guest.h>

#include "cpuloop/kernels.h"

int main(const struct tortuga_bootinfo *bi)
{
	return cpuloop_guest(parse_u64(cmdline_get(bi, "n"), CPULOOP_DEFAULT_ITERATIONS));
}
