/*
 * TAP results over the serial console (include/guest/tap.h).
 */
#include <guest/guest.h>
#include <guest/tap.h>

static unsigned tap_n, tap_failed;

static bool result(bool ok, const char *detail, const char *fmt, va_list ap)
{
	char name[200];
	vsnprintf(name, sizeof(name), fmt, ap);
	tap_n++;
	if (!ok)
		tap_failed++;
	if (ok || !detail || !*detail)
		printf("%sok %u - %s\n", ok ? "" : "not ", tap_n, name);
	else
		printf("not ok %u - %s # %s\n", tap_n, name, detail);
	return ok;
}

bool tap_ok(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	result(ok, NULL, fmt, ap);
	va_end(ap);
	return ok;
}

bool tap_ok_detail(bool ok, const char *detail, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	result(ok, detail, fmt, ap);
	va_end(ap);
	return ok;
}

bool tap_eq(uint64_t got, uint64_t want, const char *fmt, ...)
{
	char detail[64];
	snprintf(detail, sizeof(detail), "got 0x%lx want 0x%lx", got, want);
	va_list ap;
	va_start(ap, fmt);
	result(got == want, detail, fmt, ap);
	va_end(ap);
	return got == want;
}

bool tap_todo(bool ok, const char *reason, const char *fmt, ...)
{
	char name[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	printf("%sok %u - %s # TODO %s\n", ok ? "" : "not ", ++tap_n, name, reason);
	return ok;
}

void tap_skip(const char *reason, const char *fmt, ...)
{
	char name[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	printf("ok %u - %s # SKIP %s\n", ++tap_n, name, reason);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

int tap_done(void)
{
	printf("1..%u\n", tap_n);
	if (tap_failed)
		tap_diag("%u of %u failed", tap_failed, tap_n);
	return (int)tap_failed;
}

void tap_bail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("Bail out! ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	guest_exit(TAP_BAIL_STATUS);
}
