/*
 * The libc subset compilers expect (memset/memcpy may be emitted for plain C).
 * Written with REP string instructions so the compiler cannot turn them back
 * into calls to themselves.
 */
#include <guest/guest.h>

void *memset(void *d, int c, size_t n)
{
	void *r = d;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return r;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *r = d;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return r;
}

void *memmove(void *d, const void *s, size_t n)
{
	if ((uintptr_t)d <= (uintptr_t)s || (uintptr_t)d >= (uintptr_t)s + n)
		return memcpy(d, s, n);
	void *r = d;
	const char *se = (const char *)s + n - 1;
	char *de = (char *)d + n - 1;
	__asm__ volatile("std; rep movsb; cld" : "+D"(de), "+S"(se), "+c"(n) : : "memory");
	return r;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;
	for (size_t i = 0; i < n; i++)
		if (p[i] != q[i])
			return p[i] - q[i];
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

char *strstr(const char *h, const char *n)
{
	size_t nl = strlen(n);
	for (; *h; h++)
		if (!strncmp(h, n, nl))
			return (char *)h;
	return nl ? NULL : (char *)h;
}

const char *cmdline_value(const char *s, const char *key)
{
	static char val[256];
	size_t kl = strlen(key);
	while (*s) {
		while (*s == ' ')
			s++;
		if (!strncmp(s, key, kl) && s[kl] == '=') {
			s += kl + 1;
			size_t n = 0;
			while (s[n] && s[n] != ' ' && n < sizeof(val) - 1) {
				val[n] = s[n];
				n++;
			}
			val[n] = 0;
			return val;
		}
		while (*s && *s != ' ')
			s++;
	}
	return NULL;
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
