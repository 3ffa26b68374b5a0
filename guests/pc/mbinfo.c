/*
 * mbinfo: a 32-bit Multiboot kernel that checks the machine state it was
 * entered with (Multiboot 0.6.96 3.2) and prints the boot information
 * (3.3) for the host to compare with the VM's configuration.
 */
#include <pc/pc.h>

int pc_main(const struct mb_info *mbi)
{
	pc_check_eq(pc_boot_magic, MB_BOOTLOADER_MAGIC, "EAX holds the Multiboot magic");
	ulong cr0 = get_cr0();
	pc_check((cr0 & X86_CR0_PE) && !(cr0 & X86_CR0_PG), "protected mode, paging off (CR0 0x%lx)", cr0);
	pc_check(!(get_flags() & (X86_FL_IF | (1ul << 17))), "EFLAGS.IF and VM clear");
	uint32_t lim;
	__asm__("lsl %1, %0" : "=r"(lim) : "r"((uint32_t)get_cs()));
	pc_check_eq(lim, 0xffffffffu, "CS limit is 4 GiB");
	pc_check((mbi->flags & MB_INFO_MEMORY) && (mbi->flags & MB_INFO_MEM_MAP) && (mbi->flags & MB_INFO_CMDLINE),
		 "info flags 0x%x: memory, memory map, command line", mbi->flags);
	printf("mem_lower=%u mem_upper=%u\n", mbi->mem_lower, mbi->mem_upper);
	printf("cmdline=\"%s\"\n", (const char *)(uintptr_t)mbi->cmdline);
	if (mbi->flags & MB_INFO_BOOT_LOADER_NAME)
		printf("loader=\"%s\"\n", (const char *)(uintptr_t)mbi->boot_loader_name);
	/* The map's first range at 0 must cover mem_lower KiB, and one range
	 * starting at 1 MiB must cover mem_upper KiB. */
	uint64_t lower = 0, upper = 0;
	for (uint32_t off = 0; off < mbi->mmap_length;) {
		const struct mb_mmap_entry *e = (const void *)(uintptr_t)(mbi->mmap_addr + off);
		printf("mmap base=0x%llx len=0x%llx type=%u\n", (unsigned long long)e->base_addr,
		       (unsigned long long)e->length, e->type);
		if (e->type == MB_MEMORY_AVAILABLE && e->base_addr == 0)
			lower = e->length;
		if (e->type == MB_MEMORY_AVAILABLE && e->base_addr == 0x100000)
			upper = e->length;
		off += e->size + 4;
	}
	pc_check_eq(lower >> 10, mbi->mem_lower, "memory map agrees with mem_lower");
	pc_check_eq(upper >> 10, mbi->mem_upper, "memory map agrees with mem_upper");
	if (mbi->flags & MB_INFO_MODS) {
		const struct mb_module *m = (const void *)(uintptr_t)mbi->mods_addr;
		for (uint32_t i = 0; i < mbi->mods_count; i++) {
			uint32_t sum = 0;
			for (const uint8_t *p = (const void *)(uintptr_t)m[i].mod_start;
			     p < (const uint8_t *)(uintptr_t)m[i].mod_end; p++)
				sum = sum * 31 + *p;
			printf("module %u start=0x%x len=%u sum=0x%x string=\"%s\"\n", i, m[i].mod_start,
			       m[i].mod_end - m[i].mod_start, sum, (const char *)(uintptr_t)m[i].string);
			pc_check(!(m[i].mod_start & 0xfff), "module %u is page-aligned", i);
		}
	}
	return pc_done();
}
