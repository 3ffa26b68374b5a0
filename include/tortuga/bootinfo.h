/*
 * The direct boot protocol (DESIGN.md "Guests and boot"): what a guest finds
 * when tortuga enters its ELF entry point.
 *
 *  - 64-bit long mode, CPL 0, interrupts disabled (RFLAGS = 0x2).
 *  - CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE|OSFXSR|OSXMMEXCPT, EFER = LME|LMA|NXE.
 *    The x87 FPU as FNINIT leaves it, MXCSR = 0x1f80: SSE code runs as is.
 *  - Paging: identity map of the low TORTUGA_BOOT_IDENTITY_GB GiB with 2 MiB
 *    pages and of any RAM above that with 1 GiB pages; read/write/execute,
 *    supervisor. Page tables start at TORTUGA_BOOT_PML4.
 *  - A flat GDT at TORTUGA_BOOT_GDT: 0x08 64-bit code, 0x10 data
 *    (SS/DS/ES/FS/GS), 0x18 32-bit code. IDTR limit 0: the guest installs
 *    its own IDT before it can take an exception.
 *  - RSP = TORTUGA_BOOT_STACK_TOP (16-byte aligned), RDI = address of
 *    struct tortuga_bootinfo, RSI = TORTUGA_BOOT_MAGIC.
 *  - Memory below TORTUGA_BOOT_RESERVED_END belongs to tortuga's boot
 *    structures and the stack; ELF segments must be loaded above it.
 *
 * The guest may overwrite all of it once it has read what it needs.
 */
#ifndef TORTUGA_BOOTINFO_H
#define TORTUGA_BOOTINFO_H

#include <stdint.h>

#define TORTUGA_BOOT_MAGIC 0x74727467617eb007ull /* "trtga~\xb0\x07" */

#define TORTUGA_BOOT_GDT 0x1000ull
#define TORTUGA_BOOT_BOOTINFO 0x2000ull
#define TORTUGA_BOOT_CMDLINE 0x3000ull /* up to TORTUGA_BOOT_CMDLINE_MAX bytes */
#define TORTUGA_BOOT_CMDLINE_MAX 0x1000ull
#define TORTUGA_BOOT_PML4 0x10000ull /* then the PDPT and page directories */
#define TORTUGA_BOOT_STACK_TOP 0x80000ull
#define TORTUGA_BOOT_RESERVED_END 0x100000ull /* first MiB */
#define TORTUGA_BOOT_IDENTITY_GB 4u

struct tortuga_bootinfo {
	uint64_t magic; /* TORTUGA_BOOT_MAGIC */
	uint32_t version; /* 1 */
	uint32_t vcpus; /* number of vCPUs */
	uint64_t mem_size; /* bytes of RAM starting at guest-physical 0 */
	uint64_t cmdline; /* guest-physical address of a NUL-terminated string */
	uint64_t cmdline_len; /* strlen of the command line */
	uint64_t image_start; /* lowest guest-physical address of the ELF image */
	uint64_t image_end; /* one past the highest (end of .bss) */
	uint64_t tsc_hz; /* rate of the TSC the guest sees */
};

_Static_assert(sizeof(struct tortuga_bootinfo) == 64, "bootinfo layout is frozen");

#endif
