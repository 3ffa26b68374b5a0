/*
 * ioloop: N writes to the POST port (0x80), each a VM exit to L0 and back,
 * then the count. Measures the exit round trip of a backend (bench/).
 * Command line: n=N (default 10000).
 */
#include <guest/guest.h>
#include <guest/io.h>

int main(const struct tortuga_bootinfo *bi)
{
	uint64_t n = parse_u64(cmdline_get(bi, "n"), 10000);
	for (uint64_t i = 0; i < n; i++)
		outb(0x80, (uint8_t)i);
	printf("ioloop: %lu port writes\n", n);
	return 0;
}
