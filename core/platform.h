/*
 * The PC platform guests see (DESIGN.md "Guests and boot"): RAM, the serial
 * console, the debug-exit port and the POST port. Later parts add the
 * interrupt controllers, PCI, SMRAM control and the IOMMU here.
 */
#ifndef CORE_PLATFORM_H
#define CORE_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

/* Guest-physical layout of RAM: low RAM up to the PCI hole, the rest above 4G. */
#define PLATFORM_PCI_HOLE_START 0xc0000000ull
#define PLATFORM_HIGH_RAM_START 0x100000000ull

#define PLATFORM_COM1 0x3f8
#define PLATFORM_POST_PORT 0x80

/*
 * The physical memory map a PC BIOS reports (INT 15h E820h; the types are
 * the ACPI "Address Range Types", which Multiboot 3.3 "mmap" reuses): the
 * conventional 639 KiB, the EBDA and BIOS area reserved, RAM from 1 MiB to
 * the PCI hole and RAM above 4 GiB. Multiboot and fw_cfg's "etc/e820" are
 * built from it.
 */
#define PLATFORM_EBDA_START 0x9fc00ull
#define PLATFORM_BIOS_START 0xf0000ull
#define PLATFORM_LOW_RAM_START 0x100000ull

enum platform_mem_type { PLATFORM_MEM_RAM = 1, PLATFORM_MEM_RESERVED = 2 };

struct platform_mem_range {
	uint64_t base, len;
	uint32_t type; /* enum platform_mem_type */
};

#define PLATFORM_MEM_MAP_MAX 6

/* Fill out[] (PLATFORM_MEM_MAP_MAX entries); returns how many. */
unsigned platform_memory_map(const struct vm *vm, struct platform_mem_range *out);
/* End of RAM below 4 GiB (the start of the PCI hole for large VMs). */
uint64_t platform_low_ram_end(const struct vm *vm);

int platform_init(struct vm *vm);
void platform_fini(struct vm *vm);
/* After the vCPUs exist: the state a PC BIOS leaves the interrupt
 * controllers in (see platform.c). */
void platform_firmware_state(struct vm *vm);

/* Devices (NULL before platform_init). */
struct fw_cfg *platform_fw_cfg(const struct vm *vm);
struct pci_bus *platform_pci(const struct vm *vm);
struct pic8259 *platform_pic(const struct vm *vm);
struct ioapic *platform_ioapic(const struct vm *vm);
/* Drive ISA IRQ line 0-15: the 8259 input and the I/O APIC pin it is
 * wired to (IRQ 0 -> pin 2, the usual interrupt source override; IRQ n ->
 * pin n otherwise). */
void platform_set_isa_irq(struct vm *vm, unsigned irq, bool level);

#endif
