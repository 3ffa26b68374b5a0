/*
 * busyloop-mb: guests/busyloop.c as a Multiboot kernel (ELF32 carrying
 * 64-bit code) for tortuga and QEMU alike (bench/cpuloop_bench.py).
 */
#include <pc/pc.h>

#include "../cpuloop/kernels.h"

int pc_main(const struct mb_info *mbi)
{
	return busyloop_guest(parse_u64(pc_cmdline_get(mbi, "n"), BUSYLOOP_DEFAULT_ITERATIONS));
}
