/*
 * Reset state and boot protocols (DESIGN.md "Guests and boot").
 */
#ifndef CORE_BOOT_H
#define CORE_BOOT_H

#include <stdint.h>

struct vm;
struct vcpu;

/* The power-up state of a vCPU (SDM Vol. 3A 10.1.1, Table 10-1). */
void boot_reset_vcpu(struct vcpu *v);
/* The state after INIT: the BSP runs from the reset vector, APs wait for
 * a SIPI. */
void boot_init_vcpu(struct vcpu *v);
/* Start a vCPU waiting for SIPI at vector * 4096 in real mode. */
void boot_sipi_vcpu(struct vcpu *v, uint8_t vector);

/*
 * The direct protocol (include/tortuga/bootinfo.h): builds the GDT, the
 * identity page tables and the boot information in guest RAM and puts vCPU 0
 * at the entry point in 64-bit mode.
 */
int boot_direct(struct vm *vm, uint64_t entry, const char *cmdline);

#endif
