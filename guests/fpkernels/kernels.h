/*
 * fpkernels: floating-point C code compiled with gcc -O2 and SSE (the
 * x86-64 ABI's own floating point), built twice -- into the fpkernels guest
 * and into tests/fpkernels-native -- whose outputs must be identical bit
 * for bit. Each kernel reports its results through emit() as raw bits.
 */
#ifndef FPKERNELS_KERNELS_H
#define FPKERNELS_KERNELS_H

#include <stdint.h>

typedef void (*fpk_emit)(const char *name, uint64_t bits);

/* Run every kernel, reporting results through emit; returns the number of
 * self-checks that failed. */
unsigned fpk_run(fpk_emit emit);

#endif
