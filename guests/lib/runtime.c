/*
 * Guest start-up and exit (see include/guest/guest.h).
 */
#include <guest/guest.h>
#include <guest/io.h>

int guest_start(const struct tortuga_bootinfo *bi);

int guest_start(const struct tortuga_bootinfo *bi)
{
	serial_init();
	return main(bi);
}

void guest_exit(uint32_t code)
{
	serial_flush();
	outl(GUEST_DEBUG_EXIT_PORT, code);
	for (;;)
		hlt();
}

const char *cmdline_get(const struct tortuga_bootinfo *bi, const char *key)
{
	if (!bi || !bi->cmdline_len)
		return NULL;
	return cmdline_value((const char *)(uintptr_t)bi->cmdline, key);
}
