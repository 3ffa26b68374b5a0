/*
 * Multiboot v1 boot (DESIGN.md "Guests and boot"; layouts in <tortuga/multiboot.h>).
 */
#ifndef CORE_MULTIBOOT_H
#define CORE_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct mb_header;

/* Where the boot GDT goes (a flat 32-bit code and data segment). */
#define MULTIBOOT_GDT 0x800ull

/* Find a valid Multiboot header (magic and checksum) in the first 8192
 * bytes of image: 0 and *off = its file offset, or -ENOENT. */
int multiboot_find_header(const void *image, size_t len, struct mb_header *h, size_t *off);

/*
 * With the image already in RAM (ending below image_end), write the boot
 * information, the command line and the VM's modules after it and put vCPU 0
 * at entry in 32-bit protected mode (Multiboot 3.2).
 */
int boot_multiboot(struct vm *vm, uint64_t entry, uint64_t image_end, const char *cmdline);

#endif
