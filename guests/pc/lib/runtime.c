/*
 * Start-up, exit and checks for PC guests (include/pc/pc.h).
 */
#include <guest/io.h>
#include <pc/pc.h>

uint32_t pc_boot_magic;
static const struct mb_info *boot_info;
static int checks, failures;

int pc_start(uint32_t magic, uint32_t info);

int pc_start(uint32_t magic, uint32_t info)
{
	serial_init();
	pc_boot_magic = magic;
	boot_info = (const struct mb_info *)(uintptr_t)info;
	return pc_main(boot_info);
}

void guest_exit(uint32_t code)
{
	serial_flush();
	outl(GUEST_DEBUG_EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

const char *pc_cmdline_get(const struct mb_info *mbi, const char *key)
{
	if (!mbi || !(mbi->flags & MB_INFO_CMDLINE))
		return NULL;
	return cmdline_value((const char *)(uintptr_t)mbi->cmdline, key);
}

void pc_check(int ok, const char *fmt, ...)
{
	va_list ap;
	checks++;
	if (!ok)
		failures++;
	printf("%sok %d - ", ok ? "" : "not ", checks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

void pc_skip(int n, const char *why)
{
	for (int i = 0; i < n; i++)
		printf("ok %d - %s # SKIP\n", ++checks, why);
}

void pc_check_eq(uint64_t got, uint64_t want, const char *what)
{
	pc_check(got == want, "%s", what);
	if (got != want)
		printf("#   got 0x%llx, want 0x%llx\n", (unsigned long long)got, (unsigned long long)want);
}

int pc_failures(void)
{
	return failures;
}

int pc_done(void)
{
	printf("# %d checks, %d failed\n", checks, failures);
	printf("1..%d\n", checks);
	return failures;
}

uint64_t pc_tsc_hz(void)
{
	uint32_t r[4];
	pc_cpuid(0, 0, r);
	if (r[0] < 0x15)
		return 0;
	pc_cpuid(0x15, 0, r);
	if (!r[0] || !r[1] || !r[2])
		return 0;
	return (uint64_t)r[2] * r[1] / r[0];
}

#ifndef __x86_64__
/* libgcc's 64-bit division for -m32 (no 32-bit libgcc on the build host). */
uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem)
{
	uint64_t q = 0, r = 0;
	for (int i = 63; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1);
		if (r >= d) {
			r -= d;
			q |= 1ull << i;
		}
	}
	if (rem)
		*rem = r;
	return q;
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
	return __udivmoddi4(n, d, 0);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
	uint64_t r;
	__udivmoddi4(n, d, &r);
	return r;
}
#endif
