/*
 * The body of the cpuloop guests, shared by the direct-boot one
 * (guests/cpuloop.c) and the Multiboot one (guests/pc/cpuloop_mb.c): run the
 * kernels n times, print the checksum over the serial console, and return
 * the exit value (0 only if every iteration checked out).
 */
#include <guest/guest.h>

#include "kernels.h"

int cpuloop_guest(uint64_t n)
{
	struct cpuloop_result r;
	cpuloop_run(n, &r);
	printf("cpuloop: %lu iterations, checksum 0x%016lx, crc check 0x%08x, %u bad\n",
	       (unsigned long)r.iterations, (unsigned long)r.checksum, r.crc_check, r.bad);
	bool ok = r.bad == 0 && r.crc_check == CPULOOP_CRC_CHECK;
	printf("cpuloop: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
