/*
 * cpuloop-mb: guests/cpuloop.c as a Multiboot kernel. The build converts it
 * to ELF32 carrying 64-bit code, which both `tortuga run --boot multiboot`
 * and `qemu-system-x86_64 -kernel` load unchanged: the image
 * bench/cpuloop_bench.py runs on both. Command line: n=N (QEMU passes the
 * kernel's file name first; the key=value lookup skips it).
 */
#include <pc/pc.h>

#include "../cpuloop/kernels.h"

int pc_main(const struct mb_info *mbi)
{
	return cpuloop_guest(parse_u64(pc_cmdline_get(mbi, "n"), CPULOOP_DEFAULT_ITERATIONS));
}
