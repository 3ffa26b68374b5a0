#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvm_format.h"

int kvm_tp_parse_field(const char *format_text, const char *name, struct kvm_tp_field *out)
{
	size_t nlen = strlen(name);
	for (const char *p = strstr(format_text, "field:"); p; p = strstr(p + 6, "field:")) {
		const char *semi = strchr(p, ';');
		if (!semi || (size_t)(semi - p) < 6 + nlen + 1)
			continue;
		/* The declaration ends with the name: "<type> <name>" or "<type> *<name>". */
		const char *nm = semi - nlen;
		if (strncmp(nm, name, nlen) || (nm[-1] != ' ' && nm[-1] != '*' && nm[-1] != '\t'))
			continue;
		unsigned off, size;
		if (sscanf(semi, ";%*[ \t]offset:%u;%*[ \t]size:%u;", &off, &size) != 2 ||
		    off > 0xffff || size > 0xffff)
			return -EINVAL;
		out->off = (__u16)off;
		out->size = (__u16)size;
		return 0;
	}
	return -ENOENT;
}
