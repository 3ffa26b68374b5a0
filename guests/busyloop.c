/*
 * busyloop: a tight add/xor/dec/jnz loop with no exits (the loop of
 * REFERENCES.md's MIPS figures), then a checksum so the result is checked.
 * Four instructions per iteration. Command line: n=N (default 1000000).
 */
#include <guest/guest.h>

int main(const struct tortuga_bootinfo *bi)
{
	uint64_t n = parse_u64(cmdline_get(bi, "n"), 1000000);
	uint64_t a = 0x9e3779b97f4a7c15ull, b = 0;
	if (n) {
		uint64_t c = n;
		__asm__ volatile("1:\n\t"
				 "add %[a], %[b]\n\t"
				 "xor %[c], %[a]\n\t"
				 "dec %[c]\n\t"
				 "jnz 1b"
				 : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c)
				 :
				 : "cc");
	}
	printf("busyloop: %lu iterations, checksum %016lx\n", n, a ^ b);
	return 0;
}
