/*
 * hello: the smallest tortuga guest. Prints a greeting and its command line
 * over the serial console, then exits through the debug-exit port with the
 * value of "exit=N" (default 0, so `tortuga run` exits with status 1).
 */
#include <guest/guest.h>

int main(const struct tortuga_bootinfo *bi)
{
	printf("Hello from a tortuga guest!\n");
	printf("RAM: %lu MiB, %u vCPU(s), command line: \"%s\"\n", bi->mem_size >> 20, bi->vcpus,
	       bi->cmdline_len ? (const char *)(uintptr_t)bi->cmdline : "");
	return (int)parse_u64(cmdline_get(bi, "exit"), 0);
}
