/*
 * fpkernels-native: the fpkernels guest's code (guests/fpkernels/kernels.c)
 * built for the host with the guest's code generation; prints the same
 * lines as the guest, which must be identical (tests/py/test_fpkernels.py).
 */
#include <inttypes.h>
#include <stdio.h>

#include "fpkernels/kernels.h"

static void emit(const char *name, uint64_t bits)
{
	printf("%s 0x%016" PRIx64 "\n", name, bits);
}

int main(void)
{
	unsigned bad = fpk_run(emit);
	printf("fpkernels: %u bad\n", bad);
	return bad ? 1 : 0;
}
