/*
 * cpuloop: arithmetic with no VM exits, for measuring what tracing costs a
 * guest that makes no events (bench/trace_bench.py). "n=N" iterations.
 */
#include <guest/guest.h>

int main(const struct tortuga_bootinfo *bi)
{
	uint64_t n = parse_u64(cmdline_get(bi, "n"), 1000000);
	uint64_t x = 1;
	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ volatile("" : "+r"(x));
	}
	return (int)(x & 0); /* status 1 whatever x is */
}
