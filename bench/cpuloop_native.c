/*
 * cpuloop-native: the cpuloop guest's kernels (guests/cpuloop/kernels.c),
 * built for the host with the guest's code-generation flags. It is the peer
 * bench/cpuloop_bench.py measures in the same run as tortuga, and its
 * checksum must equal the guest's.
 *
 * usage: cpuloop-native [ITERATIONS]   prints one JSON object
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpuloop/kernels.h"

int main(int argc, char **argv)
{
	char *end = NULL;
	uint64_t n = argc > 1 ? strtoull(argv[1], &end, 0) : 120;
	if (argc > 2 || (argc > 1 && (!*argv[1] || *end))) {
		fprintf(stderr, "usage: cpuloop-native [ITERATIONS]\n");
		return 2;
	}
	struct timespec t0, t1;
	struct cpuloop_result r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cpuloop_run(n, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	uint64_t ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	printf("{\"iterations\": %" PRIu64 ", \"checksum\": \"0x%016" PRIx64 "\", \"bad\": %u, "
	       "\"crc_check\": \"0x%08x\", \"wall_ns\": %" PRIu64 "}\n",
	       r.iterations, r.checksum, r.bad, r.crc_check, ns);
	return r.bad || r.crc_check != CPULOOP_CRC_CHECK;
}
