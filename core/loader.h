/*
 * ELF loading with libelf (DESIGN.md "Guests and boot"). Every way a file can
 * be wrong gives a one-line error naming the problem.
 */
#ifndef CORE_LOADER_H
#define CORE_LOADER_H

#include <stddef.h>
#include <stdint.h>

struct vm;

/* Load an ELF image for the VM's boot protocol into guest RAM and prepare
 * vCPU 0 to enter it. `name` is used in error messages. */
int loader_load_elf(struct vm *vm, const void *image, size_t len, const char *name,
		    const char *cmdline);

#endif
