/*
 * The body of the busyloop guests (guests/busyloop.c, direct boot, and
 * guests/pc/busyloop_mb.c, Multiboot).
 */
#include <guest/guest.h>

#include "kernels.h"

/*
 * The tight add/xor/dec/jnz loop of REFERENCES.md's MIPS figures, four
 * instructions per iteration with no exits, then a checksum so the result is
 * checked.
 */
int busyloop_guest(uint64_t n)
{
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
	printf("busyloop: %lu iterations, checksum %016lx\n", (unsigned long)n, (unsigned long)(a ^ b));
	return 0;
}
