#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "usdt_find.h"

#define NT_STAPSDT 3

int usdt_file_has_probe(const char *path, const char *provider, const char *name)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int found = 0;
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	size_t shstrndx;
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn && !found; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		const char *sname = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!sname || strcmp(sname, ".note.stapsdt"))
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;
		while (data && (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type != NT_STAPSDT || nh.n_namesz != sizeof("stapsdt") ||
			    memcmp((char *)data->d_buf + name_off, "stapsdt", sizeof("stapsdt")))
				continue;
			/* pc, base, semaphore (address-sized), then the strings. */
			size_t addr = gelf_getclass(elf) == ELFCLASS64 ? 8 : 4;
			if (nh.n_descsz < 3 * addr + 2)
				continue;
			const char *p = (const char *)data->d_buf + desc_off + 3 * addr;
			const char *end = (const char *)data->d_buf + desc_off + nh.n_descsz;
			size_t plen = strnlen(p, (size_t)(end - p));
			const char *n = p + plen + 1;
			if (n >= end || n + strnlen(n, (size_t)(end - n)) >= end)
				continue;
			if (!strcmp(p, provider) && !strcmp(n, name))
				found = 1;
		}
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

int usdt_find(pid_t pid, const char *provider, const char *name, char *out, size_t len)
{
	char maps[64];
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(maps, "re");
	if (!f)
		return -errno;
	char *line = NULL, last[4096] = "";
	size_t cap = 0;
	int err = -ENOENT;
	while (getline(&line, &cap, f) > 0) {
		/* address perms offset dev inode pathname */
		char *path = strchr(line, '/');
		if (!path)
			continue;
		path[strcspn(path, "\n")] = 0;
		if (!strcmp(path, last) || strstr(path, " (deleted)"))
			continue;
		snprintf(last, sizeof(last), "%s", path);
		/* Through the process's root: right also in another mount namespace. */
		char rooted[4200];
		snprintf(rooted, sizeof(rooted), "/proc/%d/root%s", (int)pid, path);
		if (usdt_file_has_probe(rooted, provider, name)) {
			snprintf(out, len, "%s", rooted);
			err = 0;
			break;
		}
	}
	free(line);
	fclose(f);
	return err;
}
