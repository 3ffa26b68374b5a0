/*
 * fpkernels: floating-point and vectorized integer C code compiled with SSE
 * at -O2 (fpkernels/kernels.c). It prints every result as bits, one
 * "name 0x..." line each, for tests/py/test_fpkernels.py to compare with
 * the same code run natively (tests/fpkernels-native), and exits with 0 only
 * if the kernels' self-checks passed.
 */
#include <guest/guest.h>

#include "fpkernels/kernels.h"

static void emit(const char *name, uint64_t bits)
{
	printf("%s 0x%016lx\n", name, bits);
}

int main(const struct tortuga_bootinfo *bi)
{
	(void)bi;
	unsigned bad = fpk_run(emit);
	printf("fpkernels: %u bad\n", bad);
	return bad ? 1 : 0;
}
