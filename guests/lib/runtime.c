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

uint64_t parse_u64(const char *s, uint64_t def)
{
	if (!s || !*s)
		return def;
	uint64_t v = 0;
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return def;
		v = v * base + d;
	}
	return v;
}
