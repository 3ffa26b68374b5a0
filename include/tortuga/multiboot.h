/*
 * Multiboot Specification version 0.6.96 (v1) layouts, written once:
 *   3.1.1 "The layout of Multiboot header" (Table: offsets 0-44),
 *   3.1.2 "The magic fields of Multiboot header" (flags bits),
 *   3.2   "Machine state" (the magic value in EAX),
 *   3.3   "Boot information format" (the info structure, modules, memory map).
 * Offsets are frozen with _Static_assert so that the tables cannot drift.
 */
#ifndef TORTUGA_MULTIBOOT_H
#define TORTUGA_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

/* 3.1.1: the header lies in the first 8192 bytes, 32-bit aligned. */
#define MB_HEADER_MAGIC 0x1badb002u
#define MB_HEADER_SEARCH 8192u
#define MB_HEADER_ALIGN 4u

/* 3.1.2: flags. Bits 0-15 are requirements: a loader that does not know a
 * set bit there must refuse the image. */
#define MB_HF_PAGE_ALIGN (1u << 0) /* modules on 4 KiB boundaries */
#define MB_HF_MEMORY_INFO (1u << 1) /* mem_* fields must be provided */
#define MB_HF_VIDEO_MODE (1u << 2) /* video mode table must be provided */
#define MB_HF_ADDRESS (1u << 16) /* header_addr.. entry_addr are valid */
#define MB_HF_REQUIRED_MASK 0x0000ffffu

struct mb_header {
	uint32_t magic;
	uint32_t flags;
	uint32_t checksum; /* magic + flags + checksum == 0 (mod 2^32) */
	/* valid if MB_HF_ADDRESS */
	uint32_t header_addr;
	uint32_t load_addr;
	uint32_t load_end_addr; /* 0: the whole file from load_addr's offset */
	uint32_t bss_end_addr; /* 0: no bss */
	uint32_t entry_addr;
	/* valid if MB_HF_VIDEO_MODE */
	uint32_t mode_type;
	uint32_t width;
	uint32_t height;
	uint32_t depth;
};
_Static_assert(offsetof(struct mb_header, header_addr) == 12, "Multiboot 3.1.1");
_Static_assert(offsetof(struct mb_header, entry_addr) == 28, "Multiboot 3.1.1");
_Static_assert(sizeof(struct mb_header) == 48, "Multiboot 3.1.1");

/* 3.2: EAX on entry. */
#define MB_BOOTLOADER_MAGIC 0x2badb002u

/* 3.3: which fields of the information structure are valid. */
#define MB_INFO_MEMORY (1u << 0) /* mem_lower, mem_upper */
#define MB_INFO_BOOTDEV (1u << 1)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS (1u << 3)
#define MB_INFO_AOUT_SYMS (1u << 4)
#define MB_INFO_ELF_SHDR (1u << 5)
#define MB_INFO_MEM_MAP (1u << 6)
#define MB_INFO_DRIVES (1u << 7)
#define MB_INFO_CONFIG_TABLE (1u << 8)
#define MB_INFO_BOOT_LOADER_NAME (1u << 9)
#define MB_INFO_APM_TABLE (1u << 10)
#define MB_INFO_VBE (1u << 11)
#define MB_INFO_FRAMEBUFFER (1u << 12)

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB of memory from 0 (at most 640) */
	uint32_t mem_upper; /* KiB of memory from 1 MiB to the first hole */
	uint32_t boot_device;
	uint32_t cmdline; /* physical address of a C string */
	uint32_t mods_count;
	uint32_t mods_addr; /* physical address of struct mb_module[mods_count] */
	uint32_t syms[4];
	uint32_t mmap_length; /* bytes of the memory map buffer */
	uint32_t mmap_addr;
	uint32_t drives_length;
	uint32_t drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe_control_info;
	uint32_t vbe_mode_info;
	uint16_t vbe_mode;
	uint16_t vbe_interface_seg;
	uint16_t vbe_interface_off;
	uint16_t vbe_interface_len;
	uint32_t framebuffer_addr_lo, framebuffer_addr_hi; /* a 64-bit field at a 4-byte-aligned offset */
	uint32_t framebuffer_pitch;
	uint32_t framebuffer_width;
	uint32_t framebuffer_height;
	uint8_t framebuffer_bpp;
	uint8_t framebuffer_type;
	uint8_t color_info[6];
};
_Static_assert(offsetof(struct mb_info, cmdline) == 16, "Multiboot 3.3");
_Static_assert(offsetof(struct mb_info, mods_addr) == 24, "Multiboot 3.3");
_Static_assert(offsetof(struct mb_info, mmap_length) == 44, "Multiboot 3.3");
_Static_assert(offsetof(struct mb_info, boot_loader_name) == 64, "Multiboot 3.3");
_Static_assert(offsetof(struct mb_info, vbe_mode) == 80, "Multiboot 3.3");
_Static_assert(offsetof(struct mb_info, framebuffer_addr_lo) == 88, "Multiboot 3.3");
_Static_assert(sizeof(struct mb_info) == 116, "Multiboot 3.3");

/* 3.3 "mods_addr": one entry per module. */
struct mb_module {
	uint32_t mod_start;
	uint32_t mod_end; /* one past the last byte */
	uint32_t string; /* physical address of the module's C string */
	uint32_t reserved;
};
_Static_assert(sizeof(struct mb_module) == 16, "Multiboot 3.3");

/* 3.3 "mmap_addr": entries of variable size; `size` does not count itself. */
struct mb_mmap_entry {
	uint32_t size;
	uint64_t base_addr;
	uint64_t length;
	uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct mb_mmap_entry) == 24, "Multiboot 3.3");

#define MB_MEMORY_AVAILABLE 1u
#define MB_MEMORY_RESERVED 2u

#endif
