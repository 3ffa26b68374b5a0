/*
 * The Multiboot v1 boot protocol (Multiboot Specification 0.6.96), as a
 * boot loader such as GRUB or QEMU's -kernel would do it: find the header,
 * place the modules and the information structure after the image, and
 * enter the kernel in 32-bit protected mode with paging off.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <tortuga/multiboot.h>
#include "multiboot.h"
#include "platform.h"
#include "vm.h"

int multiboot_find_header(const void *image, size_t len, struct mb_header *h, size_t *off)
{
	const uint8_t *p = image;
	size_t end = len < MB_HEADER_SEARCH ? len : MB_HEADER_SEARCH;
	for (size_t o = 0; o + 12 <= end; o += MB_HEADER_ALIGN) {
		uint32_t w[3];
		memcpy(w, p + o, sizeof(w));
		if (w[0] != MB_HEADER_MAGIC || w[0] + w[1] + w[2] != 0)
			continue;
		memset(h, 0, sizeof(*h));
		memcpy(h, p + o, len - o < sizeof(*h) ? len - o : sizeof(*h));
		*off = o;
		return 0;
	}
	return -ENOENT;
}

/* A bump allocator over guest-physical memory below the end of low RAM. */
struct mb_place {
	struct vm *vm;
	uint64_t next, end;
};

static int place(struct mb_place *pl, const void *data, size_t len, uint64_t align, uint32_t *addr)
{
	uint64_t a = (pl->next + align - 1) & ~(align - 1);
	if (a > pl->end || len > pl->end - a)
		return -ENOMEM;
	if (len && aspace_write(&pl->vm->as, a, data, len))
		return -EFAULT;
	pl->next = a + len;
	*addr = (uint32_t)a;
	return 0;
}

static int place_string(struct mb_place *pl, const char *s, uint32_t *addr)
{
	return place(pl, s, strlen(s) + 1, 1, addr);
}

/* A flat GDT for the kernel's convenience (3.2 says GDTR may be invalid;
 * the hidden segment state is what counts): null, 32-bit code, data. */
static const uint64_t mb_gdt[] = {
	0,
	0x00cf9b000000ffffull, /* 0x08: code, 32-bit, 4 GiB, DPL 0 */
	0x00cf93000000ffffull, /* 0x10: data, 4 GiB, DPL 0 */
};

static void set_seg(struct x86_segment *s, uint16_t sel, uint32_t ar)
{
	s->sel = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->ar = ar;
}

/* 3.2 "Machine state": EAX magic, EBX info, flat 32-bit CS and data
 * segments, A20 on, CR0.PG = 0 and PE = 1, EFLAGS.VM = IF = 0. */
static void enter_32bit(struct vcpu *v, uint32_t entry, uint32_t info)
{
	struct x86_state *s = &v->s;
	s->cr0 = CR0_PE | CR0_ET;
	s->cr4 = 0;
	s->cr3 = 0;
	s->efer = 0;
	s->rflags = RFLAGS_FIXED1;
	s->rip = entry;
	memset(s->gpr, 0, sizeof(s->gpr));
	s->gpr[GPR_RAX] = MB_BOOTLOADER_MAGIC;
	s->gpr[GPR_RBX] = info;
	/* ESP is undefined (3.2); the top of conventional memory is harmless. */
	s->gpr[GPR_RSP] = PLATFORM_EBDA_START;
	s->gdtr.base = MULTIBOOT_GDT;
	s->gdtr.limit = sizeof(mb_gdt) - 1;
	/* The real-mode IVT a BIOS leaves behind. */
	s->idtr.base = 0;
	s->idtr.limit = 0x3ff;
	set_seg(&s->seg[SEG_CS], 0x08, 0xc09b);
	for (int i = 0; i < SEG_COUNT; i++)
		if (i != SEG_CS)
			set_seg(&s->seg[i], 0x10, 0xc093);
	s->activity = ACT_ACTIVE;
	v->ctls->cr0_shadow = s->cr0;
	v->ctls->cr4_shadow = s->cr4;
	if (v->vm->be->state_changed)
		v->vm->be->state_changed(v, STATE_ALL);
}

int boot_multiboot(struct vm *vm, uint64_t entry, uint64_t image_end, const char *cmdline)
{
	uint64_t low_end = platform_low_ram_end(vm);
	if (entry >> 32)
		return vm_error(vm, -ENOEXEC, "multiboot: entry point 0x%" PRIx64 " is above 4 GiB", entry);
	if (aspace_write(&vm->as, MULTIBOOT_GDT, mb_gdt, sizeof(mb_gdt)))
		return vm_error(vm, -EFAULT, "multiboot: no RAM for the boot GDT");
	struct mb_place pl = { vm, (image_end + PAGE_SIZE - 1) & PAGE_MASK, low_end };
	struct mb_info mbi;
	memset(&mbi, 0, sizeof(mbi));
	uint32_t info_addr = 0;
	int err = place(&pl, &mbi, sizeof(mbi), 8, &info_addr);

	/* Memory sizes in KiB: below 640 KiB, and from 1 MiB up to the first
	 * hole (the PCI hole or the end of RAM). */
	struct platform_mem_range map[PLATFORM_MEM_MAP_MAX];
	unsigned n = platform_memory_map(vm, map);
	mbi.flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MEM_MAP | MB_INFO_BOOT_LOADER_NAME;
	mbi.mem_lower = (uint32_t)(PLATFORM_EBDA_START >> 10);
	mbi.mem_upper = low_end > PLATFORM_LOW_RAM_START ? (uint32_t)((low_end - PLATFORM_LOW_RAM_START) >> 10) : 0;

	struct mb_mmap_entry mm[PLATFORM_MEM_MAP_MAX];
	for (unsigned i = 0; i < n; i++)
		mm[i] = (struct mb_mmap_entry){ .size = sizeof(mm[i]) - 4,
						.base_addr = map[i].base,
						.length = map[i].len,
						.type = map[i].type == PLATFORM_MEM_RAM ? MB_MEMORY_AVAILABLE :
											  MB_MEMORY_RESERVED };
	if (!err)
		err = place(&pl, mm, n * sizeof(mm[0]), 8, &mbi.mmap_addr);
	mbi.mmap_length = n * (uint32_t)sizeof(mm[0]);
	if (!err)
		err = place_string(&pl, cmdline ? cmdline : "", &mbi.cmdline);
	if (!err)
		err = place_string(&pl, "tortuga", &mbi.boot_loader_name);

	if (!err && vm->nmodules) {
		struct mb_module mods[VM_MAX_MODULES];
		for (uint32_t i = 0; i < vm->nmodules && !err; i++) {
			const struct vm_module *m = &vm->modules[i];
			err = place_string(&pl, m->string, &mods[i].string);
			/* Page-aligned whether or not the kernel asked (3.1.2 bit 0). */
			if (!err)
				err = place(&pl, m->data, m->len, PAGE_SIZE, &mods[i].mod_start);
			mods[i].mod_end = mods[i].mod_start + (uint32_t)m->len;
			mods[i].reserved = 0;
		}
		if (!err)
			err = place(&pl, mods, vm->nmodules * sizeof(mods[0]), 8, &mbi.mods_addr);
		mbi.mods_count = vm->nmodules;
		mbi.flags |= MB_INFO_MODS;
	}
	if (!err && aspace_write(&vm->as, info_addr, &mbi, sizeof(mbi)))
		err = -EFAULT;
	if (err)
		return vm_error(vm, err,
				"multiboot: the boot information and modules do not fit in RAM below 0x%" PRIx64
				"; raise --mem",
				low_end);
	vm->image.boot_end = pl.next;
	enter_32bit(vm->vcpus[0], (uint32_t)entry, info_addr);
	return 0;
}
