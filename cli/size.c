#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static int suffix_shift(const char *s, unsigned *shift)
{
	static const struct {
		const char *suf;
		unsigned shift;
	} tab[] = {
		{ "", 0 },     { "B", 0 },    { "K", 10 },  { "KB", 10 }, { "KIB", 10 }, { "M", 20 },
		{ "MB", 20 },  { "MIB", 20 }, { "G", 30 },  { "GB", 30 }, { "GIB", 30 }, { "T", 40 },
		{ "TB", 40 },  { "TIB", 40 },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (!strcasecmp(s, tab[i].suf)) {
			*shift = tab[i].shift;
			return 0;
		}
	}
	return -1;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	if (!s || !*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	unsigned shift;
	if (suffix_shift(end, &shift))
		return -1;
	if (shift && v > (~0ull >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int cli_parse_count(const char *s, uint64_t *out)
{
	if (!s || !*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	uint64_t mul = 1;
	if (!strcmp(end, "k") || !strcmp(end, "K"))
		mul = 1000;
	else if (!strcmp(end, "M"))
		mul = 1000000;
	else if (!strcmp(end, "G"))
		mul = 1000000000;
	else if (*end)
		return -1;
	if (v > ~0ull / mul)
		return -1;
	*out = v * mul;
	return 0;
}
