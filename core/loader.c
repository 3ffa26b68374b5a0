#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tortuga/bootinfo.h>
#include <tortuga/multiboot.h>

#include "boot.h"
#include "devices/fw_cfg.h"
#include "loader.h"
#include "multiboot.h"
#include "platform.h"
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
		/* Direct boot keeps its structures in the first MiB; Multiboot
		 * loaders (GRUB) load kernels at 1 MiB or above too. */
		if (s->paddr < TORTUGA_BOOT_RESERVED_END)
			return vm_error(vm, -ENOEXEC,
					"%s: segment %zu at 0x%" PRIx64
					" is below 0x%llx; link the guest at 1 MiB or above",
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
static int read_elf(struct vm *vm, Elf *e, const char *name, bool multiboot, struct seg *segs,
		    size_t *nsegs, uint64_t *entry)
{
	if (elf_kind(e) != ELF_K_ELF)
		return vm_error(vm, -ENOEXEC, "%s: not an ELF file", name);
	GElf_Ehdr eh;
	if (!gelf_getehdr(e, &eh))
		return vm_error(vm, -ENOEXEC, "%s: malformed ELF header: %s", name, elf_errmsg(-1));
	int cls = gelf_getclass(e);
	/* Multiboot kernels are entered in 32-bit mode whatever their class:
	 * ELF32 (i386, or x86-64 code in an ELF32 container) and ELF64 both load. */
	if (cls != ELFCLASS64 && !(multiboot && cls == ELFCLASS32))
		return vm_error(vm, -ENOEXEC,
				"%s: is a %s ELF file; the direct boot protocol needs a 64-bit x86-64 ELF"
				" (32-bit kernels boot with --boot multiboot)",
				name, cls == ELFCLASS32 ? "32-bit" : "invalid-class");
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return vm_error(vm, -ENOEXEC, "%s: not a little-endian ELF file", name);
	if (eh.e_machine != EM_X86_64 && !(multiboot && eh.e_machine == EM_386))
		return vm_error(vm, -ENOEXEC, "%s: ELF machine %u is not x86-64 (%u)%s", name,
				eh.e_machine, EM_X86_64, multiboot ? " or i386 (3)" : "");
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

/*
 * Multiboot 3.1.3 "address fields" (flags bit 16): the image is loaded from
 * the file offset that puts the header at header_addr, up to load_end_addr
 * (0: the end of the file), with zeroes up to bss_end_addr (0: none).
 */
static int mb_address_segments(struct vm *vm, const char *name, const struct mb_header *h, size_t hoff,
			       size_t len, struct seg *seg, uint64_t *entry)
{
	uint64_t skip = (uint64_t)h->header_addr - h->load_addr;
	if (h->header_addr < h->load_addr || skip > hoff)
		return vm_error(vm, -ENOEXEC,
				"%s: Multiboot header_addr 0x%x and load_addr 0x%x put the image before the file start",
				name, h->header_addr, h->load_addr);
	uint64_t foff = hoff - skip;
	uint64_t end = h->load_end_addr ? h->load_end_addr : h->load_addr + (len - foff);
	if (end < h->load_addr || end - h->load_addr > len - foff)
		return vm_error(vm, -ENOEXEC, "%s: Multiboot load_end_addr 0x%" PRIx64 " is beyond the file", name,
				end);
	uint64_t memsz = end - h->load_addr;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < end)
			return vm_error(vm, -ENOEXEC, "%s: Multiboot bss_end_addr 0x%x is below load_end_addr",
					name, h->bss_end_addr);
		memsz = h->bss_end_addr - h->load_addr;
	}
	*seg = (struct seg){ .paddr = h->load_addr,
			     .vaddr = h->load_addr,
			     .filesz = end - h->load_addr,
			     .memsz = memsz,
			     .offset = foff };
	*entry = h->entry_addr;
	return 0;
}

/* Multiboot: the header, and which of its requirements tortuga meets. */
static int mb_header(struct vm *vm, const void *image, size_t len, const char *name, struct mb_header *h,
		     size_t *off)
{
	if (multiboot_find_header(image, len, h, off))
		return vm_error(vm, -ENOEXEC,
				"%s: no Multiboot header (magic 0x1BADB002 with a valid checksum) in the first %u bytes",
				name, MB_HEADER_SEARCH);
	/* 3.1.2: a loader must refuse an image that requires something it
	 * does not know or provide; tortuga has no video modes. */
	uint32_t unknown = h->flags & MB_HF_REQUIRED_MASK & ~(MB_HF_PAGE_ALIGN | MB_HF_MEMORY_INFO);
	if (unknown)
		return vm_error(vm, -ENOEXEC,
				"%s: the Multiboot header requires features tortuga does not provide (flags 0x%x)",
				name, unknown);
	return 0;
}

int loader_load_elf(struct vm *vm, const void *image, size_t len, const char *name,
		    const char *cmdline)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return vm_error(vm, -ENOSYS, "libelf is unusable: %s", elf_errmsg(-1));
	if (vm->image.loaded)
		return vm_error(vm, -EBUSY, "a guest is already loaded in this VM");
	bool mb = vm->cfg.boot == TORTUGA_BOOT_MULTIBOOT;
	struct mb_header mh;
	size_t mh_off = 0;
	if (mb) {
		int err = mb_header(vm, image, len, name, &mh, &mh_off);
		if (err)
			return err;
	}
	bool mb_addr = mb && (mh.flags & MB_HF_ADDRESS);
	if (!mb_addr && (len < EI_NIDENT || memcmp(image, ELFMAG, SELFMAG)))
		return vm_error(vm, -ENOEXEC, "%s: not an ELF file", name);
	/* libelf calls an unknown class "not ELF"; say what is wrong. */
	uint8_t cls = len > EI_CLASS ? ((const uint8_t *)image)[EI_CLASS] : 0;
	if (!mb_addr && cls != ELFCLASS32 && cls != ELFCLASS64)
		return vm_error(vm, -ENOEXEC, "%s: invalid ELF class %u (want 2, 64-bit)", name, cls);

	/* libelf wants a writable buffer; it does not modify it for reading. */
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return vm_error(vm, -ENOMEM, "out of memory reading %s", name);
	memcpy(copy, image, len);
	Elf *e = NULL;
	struct seg *segs = calloc(MAX_SEGS, sizeof(*segs));
	size_t n = 0;
	uint64_t entry = 0;
	int err = 0;
	if (!segs) {
		err = vm_error(vm, -ENOMEM, "out of memory reading %s", name);
		goto out;
	}
	if (mb_addr) {
		err = mb_address_segments(vm, name, &mh, mh_off, len, &segs[0], &entry);
		n = 1;
	} else {
		e = elf_memory(copy, len);
		if (!e) {
			err = vm_error(vm, -ENOEXEC, "%s: malformed ELF file: %s", name, elf_errmsg(-1));
			goto out;
		}
		err = read_elf(vm, e, name, mb, segs, &n, &entry);
	}
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
	vm->image.boot_end = hi;
	err = fw_cfg_set_cmdline(platform_fw_cfg(vm), cmdline);
	if (err) {
		err = vm_error(vm, err, "out of memory");
		goto out;
	}
	if (mb) {
		/* Like QEMU's -kernel, the command line starts with the kernel's name. */
		size_t cl = strlen(name) + (cmdline ? strlen(cmdline) : 0) + 2;
		char *full = malloc(cl);
		if (!full) {
			err = vm_error(vm, -ENOMEM, "out of memory");
			goto out;
		}
		snprintf(full, cl, "%s%s%s", name, cmdline && *cmdline ? " " : "", cmdline ? cmdline : "");
		err = boot_multiboot(vm, entry_phys, hi, full);
		free(full);
	} else {
		err = boot_direct(vm, entry_phys, cmdline);
	}
	if (!err)
		vm->image.loaded = true;
out:
	if (e)
		elf_end(e);
	free(segs);
	free(copy);
	return err;
}
