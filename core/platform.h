/*
 * The PC platform guests see (DESIGN.md "Guests and boot"): RAM, the serial
 * console, the debug-exit port and the POST port. Later parts add the
 * interrupt controllers, PCI, SMRAM control and the IOMMU here.
 */
#ifndef CORE_PLATFORM_H
#define CORE_PLATFORM_H

struct vm;

/* Guest-physical layout of RAM: low RAM up to the PCI hole, the rest above 4G. */
#define PLATFORM_PCI_HOLE_START 0xc0000000ull
#define PLATFORM_HIGH_RAM_START 0x100000000ull

#define PLATFORM_COM1 0x3f8
#define PLATFORM_POST_PORT 0x80

int platform_init(struct vm *vm);
void platform_fini(struct vm *vm);

#endif
