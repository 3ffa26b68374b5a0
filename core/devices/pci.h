/*
 * PCI bus 0 and configuration mechanism #1 (PCI Local Bus Specification
 * 3.0, 3.2.2.3.2: CONFIG_ADDRESS at 0xcf8, CONFIG_DATA at 0xcfc-0xcff).
 * Functions register with their IDs, class and BARs; the configuration
 * header's writable bits come from pci_regs.def, BAR sizing from the BAR
 * definitions (6.2.5.1). pci_firmware_assign() places the BARs and enables
 * decoding the way a PC BIOS leaves them.
 */
#ifndef CORE_DEVICES_PCI_H
#define CORE_DEVICES_PCI_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct pci_bus;
struct pci_func;

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc

enum pci_bar_type { PCI_BAR_NONE = 0, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar_def {
	uint64_t size; /* a power of two: >= 4 for I/O, >= 16 for memory */
	uint8_t type; /* enum pci_bar_type; a MEM64 BAR also uses the next slot */
	bool prefetchable;
};

struct pci_func_def {
	uint8_t dev, fn;
	uint16_t vendor, device;
	uint8_t revision;
	uint32_t class_code; /* base class 23:16, subclass 15:8, interface 7:0 */
	uint16_t subsys_vendor, subsys_id;
	uint8_t interrupt_pin; /* 0: none, 1-4: INTA#-INTD# */
	struct pci_bar_def bar[6];
	/* Device-specific registers (beyond the standard header): bytes the
	 * guest may write, then a hook after every config write. */
	const uint8_t *extra_wmask; /* 256 bytes or NULL */
	void (*config_written)(void *opaque, unsigned off, unsigned size);
	/* A BAR moved or its decoding changed: map it at addr (enabled) or
	 * unmap it. */
	void (*bar_map)(void *opaque, int bar, uint64_t addr, bool enabled);
	void *opaque;
};

int pci_bus_create(struct vm *vm, struct pci_bus **out);
void pci_bus_destroy(struct pci_bus *bus);
int pci_register(struct pci_bus *bus, const struct pci_func_def *def, struct pci_func **out);
/* The function's 256-byte configuration space (device code may set RO bits). */
uint8_t *pci_config(struct pci_func *f);
/* Assign every BAR (I/O from 0xc000, memory from the PCI hole, largest
 * first, naturally aligned) and enable I/O and memory decoding. */
void pci_firmware_assign(struct pci_bus *bus);

/* Configuration access by bus/device/function/offset (size 1, 2, 4; the
 * offset is aligned to the size), as CONFIG_DATA does it. Absent functions
 * read as all ones. */
uint32_t pci_config_read(struct pci_bus *bus, unsigned bdf, unsigned off, unsigned size);
void pci_config_write(struct pci_bus *bus, unsigned bdf, unsigned off, unsigned size, uint32_t val);

#endif
