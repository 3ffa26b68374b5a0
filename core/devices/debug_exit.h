/*
 * isa-debug-exit (QEMU hw/misc/debugexit.c semantics): a guest write of V to
 * the port stops the VM, and the process exits with status (V << 1) | 1.
 */
#ifndef CORE_DEVICES_DEBUG_EXIT_H
#define CORE_DEVICES_DEBUG_EXIT_H

#include <stdint.h>

struct vm;

#define DEBUG_EXIT_PORT 0xf4
#define DEBUG_EXIT_SIZE 4

int debug_exit_attach(struct vm *vm, uint16_t base, uint16_t size);

#endif
