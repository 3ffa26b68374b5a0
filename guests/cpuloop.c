/*
 * cpuloop: a CPU-bound guest for benchmarks (bench/). It runs the integer
 * kernels of cpuloop/kernels.c -- a sieve, a quicksort, CRC-32, a hash table
 * -- "n=N" times (default 120, a few hundred million instructions), prints
 * the checksum, and exits with 0 only if every iteration checked out.
 */
#include <guest/guest.h>

#include "cpuloop/kernels.h"

#define CPULOOP_DEFAULT_ITERATIONS 120

int main(const struct tortuga_bootinfo *bi)
{
	uint64_t n = parse_u64(cmdline_get(bi, "n"), CPULOOP_DEFAULT_ITERATIONS);
	struct cpuloop_result r;
	cpuloop_run(n, &r);
	printf("cpuloop: %lu iterations, checksum 0x%016lx, crc check 0x%08x, %u bad\n", r.iterations,
	       r.checksum, r.crc_check, r.bad);
	bool ok = r.bad == 0 && r.crc_check == CPULOOP_CRC_CHECK;
	printf("cpuloop: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
