/*
 * cpuloop's integer kernels, compiled twice: into the cpuloop guest and into
 * bench/cpuloop-native, the peer the benchmark runs the same work on. The
 * code needs nothing but memset/memcpy, so it builds freestanding and hosted.
 */
#ifndef CPULOOP_KERNELS_H
#define CPULOOP_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

struct cpuloop_result {
	uint64_t iterations;
	uint64_t checksum; /* folds every kernel's output of every iteration */
	uint32_t bad; /* iterations whose self-checks failed */
	uint32_t crc_check; /* CRC-32 of "123456789" (must be 0xcbf43926) */
};

#define CPULOOP_CRC_CHECK 0xcbf43926u /* the CRC-32/ISO-HDLC check value */
#define CPULOOP_PRIMES 6542u /* primes below 65536 */

void cpuloop_run(uint64_t iterations, struct cpuloop_result *r);

/* The guests' bodies (guest_main.c and busyloop.c, guests only): run, print the result over
 * the serial console, return the exit value. busyloop is the tight
 * add/xor/dec/jnz loop, four instructions per iteration. */
#define CPULOOP_DEFAULT_ITERATIONS 120
#define BUSYLOOP_DEFAULT_ITERATIONS 1000000
int cpuloop_guest(uint64_t n);
int busyloop_guest(uint64_t n);

#endif
