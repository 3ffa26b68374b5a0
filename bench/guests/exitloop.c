/*
 * exitloop: "n=N" writes to port 0x80 (ignored by the platform), each a VM
 * exit at L0 that produces two trace events (exit and entry), for measuring
 * tracing's cost per event in a guest workload (bench/trace_bench.py).
 */
#include <guest/guest.h>
#include <guest/io.h>

int main(const struct tortuga_bootinfo *bi)
{
	uint64_t n = parse_u64(cmdline_get(bi, "n"), 100000);
	for (uint64_t i = 0; i < n; i++)
		outb(0x80, (uint8_t)i);
	return 0;
}
