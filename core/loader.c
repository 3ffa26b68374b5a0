#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>

#include <tortuga/bootinfo.h>

#include "boot.h"
#include "loader.h"
#include "vm.h"

struct seg {
	uint64_t paddr, vaddr, filesz, memsz, offset;
	uint32_t flags;
};

#define MAX_SEGS 64

static int check_segments(struct vm *vm, const char *name, const struct seg *segs, size_t n,
			  size_t file_len)
{
	for (size_t i = 0; i < n; i++) {
		const struct seg *s = &segs[i];
		if (s->filesz > s->memsz)
			return vm_error(vm, -ENOEXEC,
					"%s: segment %zu has file size 0x%" PRIx64 " > memory size 0x%" PRIx64,
					name, i, s->filesz, s->memsz);
		if (s->offset > file_len || s->filesz > file_len - s->offset)
			return vm_error(vm, -ENOEXEC,
					"%s: truncated: segment %zu needs bytes up to 0x%" PRIx64
					" but the file has 0x%zx",
					name, i, s->offset + s->filesz, file_len);
		if (s->paddr + s->memsz < s->paddr)
			return vm_error(vm, -ENOEXEC, "%s: segment %zu wraps around the address space",
					name, i);
		if (s->paddr < TORTUGA_BOOT_RESERVED_END)
			return vm_error(vm, -ENOEXEC,
					"%s: segment %zu at 0x%" PRIx64
					" overlaps tortuga's boot area below 0x%llx; link the guest at 1 MiB or above",
					name, i, s->paddr, TORTUGA_BOOT_RESERVED_END);
		if (!aspace_ram_ptr(&vm->as, s->paddr, s->memsz ? s->memsz : 1))
			return vm_error(vm, -ENOMEM,
					"%s: segment %zu (0x%" PRIx64 "-0x%" PRIx64
					") does not fit in guest RAM (%" PRIu64 " MiB); raise --mem",
					name, i, s->paddr, s->paddr + s->memsz, vm->ram.size >> 20);
		for (size_t j = 0; j < i; j++) {
			const struct seg *t = &segs[j];
			if (s->paddr < t->paddr + t->memsz && t->paddr < s->paddr + s->memsz)
				return vm_error(vm, -ENOEXEC, "%s: segments %zu and %zu overlap", name,
						j, i);
		}
	}
	return 0;
}

/* Read the program headers; 0 or -errno with vm->err set. */
static int read_elf(struct vm *vm, Elf *e, const char *name, struct seg *segs, size_t *nsegs,
		    uint64_t *entry)
{
	if (elf_kind(e) != ELF_K_ELF)
		return vm_error(vm, -ENOEXEC, "%s: not an ELF file", name);
	GElf_Ehdr eh;
	if (!gelf_getehdr(e, &eh))
		return vm_error(vm, -ENOEXEC, "%s: malformed ELF header: %s", name, elf_errmsg(-1));
	int cls = gelf_getclass(e);
	if (cls != ELFCLASS64)
		return vm_error(vm, -ENOEXEC,
				"%s: is a %s ELF file; the direct boot protocol needs a 64-bit x86-64 ELF",
				name, cls == ELFCLASS32 ? "32-bit" : "invalid-class");
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return vm_error(vm, -ENOEXEC, "%s: not a little-endian ELF file", name);
	if (eh.e_machine != EM_X86_64)
		return vm_error(vm, -ENOEXEC, "%s: ELF machine %u is not x86-64 (%u)", name,
				eh.e_machine, EM_X86_64);
	if (eh.e_type != ET_EXEC)
		return vm_error(vm, -ENOEXEC,
				"%s: ELF type %u is not an executable (ET_EXEC); link with -static -no-pie",
				name, eh.e_type);
	size_t phnum;
	if (elf_getphdrnum(e, &phnum))
		return vm_error(vm, -ENOEXEC, "%s: malformed program headers: %s", name,
				elf_errmsg(-1));
	size_t n = 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e, (int)i, &ph))
			return vm_error(vm, -ENOEXEC, "%s: malformed program header %zu: %s", name, i,
					elf_errmsg(-1));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (n == MAX_SEGS)
			return vm_error(vm, -ENOEXEC, "%s: more than %d loadable segments", name,
					MAX_SEGS);
		segs[n++] = (struct seg){ .paddr = ph.p_paddr,
					  .vaddr = ph.p_vaddr,
					  .filesz = ph.p_filesz,
					  .memsz = ph.p_memsz,
					  .offset = ph.p_offset,
					  .flags = ph.p_flags };
	}
	if (!n)
		return vm_error(vm, -ENOEXEC, "%s: has no loadable segments", name);
	*nsegs = n;
	*entry = eh.e_entry;
	return 0;
}

int loader_load_elf(struct vm *vm, const void *image, size_t len, const char *name,
		    const char *cmdline)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return vm_error(vm, -ENOSYS, "libelf is unusable: %s", elf_errmsg(-1));
	if (vm->image.loaded)
		return vm_error(vm, -EBUSY, "a guest is already loaded in this VM");
	if (len < EI_NIDENT || memcmp(image, ELFMAG, SELFMAG))
		return vm_error(vm, -ENOEXEC, "%s: not an ELF file", name);
	/* libelf calls an unknown class "not ELF"; say what is wrong. */
	uint8_t cls = ((const uint8_t *)image)[EI_CLASS];
	if (cls != ELFCLASS32 && cls != ELFCLASS64)
		return vm_error(vm, -ENOEXEC, "%s: invalid ELF class %u (want 2, 64-bit)", name, cls);

	/* libelf wants a writable buffer; it does not modify it for reading. */
	char *copy = malloc(len);
	if (!copy)
		return vm_error(vm, -ENOMEM, "out of memory reading %s", name);
	memcpy(copy, image, len);
	Elf *e = elf_memory(copy, len);
	struct seg *segs = calloc(MAX_SEGS, sizeof(*segs));
	size_t n = 0;
	uint64_t entry = 0;
	int err;
	if (!e) {
		err = vm_error(vm, -ENOEXEC, "%s: malformed ELF file: %s", name, elf_errmsg(-1));
		goto out;
	}
	if (!segs) {
		err = vm_error(vm, -ENOMEM, "out of memory reading %s", name);
		goto out;
	}
	err = read_elf(vm, e, name, segs, &n, &entry);
	if (!err)
		err = check_segments(vm, name, segs, n, len);
	if (err)
		goto out;

	/* The entry point must be inside a loaded segment (physical address:
	 * translate from the virtual one when they differ). */
	uint64_t entry_phys = UINT64_MAX;
	for (size_t i = 0; i < n; i++) {
		if (entry >= segs[i].vaddr && entry - segs[i].vaddr < segs[i].memsz) {
			entry_phys = entry - segs[i].vaddr + segs[i].paddr;
			break;
		}
	}
	if (entry_phys == UINT64_MAX) {
		err = vm_error(vm, -ENOEXEC, "%s: entry point 0x%" PRIx64 " is outside every loadable segment",
			       name, entry);
		goto out;
	}

	uint64_t lo = UINT64_MAX, hi = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t *dst = aspace_ram_ptr(&vm->as, segs[i].paddr, segs[i].memsz);
		memcpy(dst, copy + segs[i].offset, segs[i].filesz);
		memset(dst + segs[i].filesz, 0, segs[i].memsz - segs[i].filesz);
		ram_note_write(&vm->ram, dst, segs[i].memsz);
		if (segs[i].paddr < lo)
			lo = segs[i].paddr;
		if (segs[i].paddr + segs[i].memsz > hi)
			hi = segs[i].paddr + segs[i].memsz;
	}
	vm->image.entry = entry_phys;
	vm->image.start = lo;
	vm->image.end = hi;
	err = boot_direct(vm, entry_phys, cmdline);
	if (!err)
		vm->image.loaded = true;
out:
	if (e)
		elf_end(e);
	free(segs);
	free(copy);
	return err;
}
