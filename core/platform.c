#include <errno.h>

#include <stdlib.h>

#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pci.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/q35_host.h"
#include "devices/uart16550.h"
#include "platform.h"
#include "vm.h"

struct platform_devices {
	struct pic8259 *pic;
	struct ioapic *ioapic;
	struct pit8254 *pit;
	struct fw_cfg *fw_cfg;
	struct pci_bus *pci;
};

struct fw_cfg *platform_fw_cfg(const struct vm *vm)
{
	return vm->dev ? vm->dev->fw_cfg : NULL;
}

struct pci_bus *platform_pci(const struct vm *vm)
{
	return vm->dev ? vm->dev->pci : NULL;
}

struct pic8259 *platform_pic(const struct vm *vm)
{
	return vm->dev ? vm->dev->pic : NULL;
}

struct ioapic *platform_ioapic(const struct vm *vm)
{
	return vm->dev ? vm->dev->ioapic : NULL;
}

void platform_set_isa_irq(struct vm *vm, unsigned irq, bool level)
{
	if (!vm->dev)
		return;
	pic_set_irq(vm->dev->pic, irq, level);
	ioapic_set_irq(vm->dev->ioapic, irq == 0 ? 2 : irq, level);
}

/* Port 0x80: the POST diagnostic port, written for I/O delays; ignored. */
static void post_write(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	(void)opaque;
	(void)port;
	(void)size;
	(void)val;
}

static const struct io_ops post_ops = { .write = post_write };

uint64_t platform_low_ram_end(const struct vm *vm)
{
	return vm->ram.size < PLATFORM_PCI_HOLE_START ? vm->ram.size : PLATFORM_PCI_HOLE_START;
}

unsigned platform_memory_map(const struct vm *vm, struct platform_mem_range *out)
{
	uint64_t low = platform_low_ram_end(vm);
	unsigned n = 0;
	out[n++] = (struct platform_mem_range){ 0, PLATFORM_EBDA_START, PLATFORM_MEM_RAM };
	out[n++] = (struct platform_mem_range){ PLATFORM_EBDA_START, 0xa0000 - PLATFORM_EBDA_START,
						PLATFORM_MEM_RESERVED };
	out[n++] = (struct platform_mem_range){ PLATFORM_BIOS_START,
						PLATFORM_LOW_RAM_START - PLATFORM_BIOS_START,
						PLATFORM_MEM_RESERVED };
	if (low > PLATFORM_LOW_RAM_START)
		out[n++] = (struct platform_mem_range){ PLATFORM_LOW_RAM_START, low - PLATFORM_LOW_RAM_START,
							PLATFORM_MEM_RAM };
	if (vm->ram.size > low)
		out[n++] = (struct platform_mem_range){ PLATFORM_HIGH_RAM_START, vm->ram.size - low,
							PLATFORM_MEM_RAM };
	return n;
}

static int map_ram(struct vm *vm)
{
	uint64_t size = vm->ram.size;
	uint64_t low = platform_low_ram_end(vm);
	int err = aspace_add_ram(&vm->as, 0, low, 0, "ram-low");
	if (!err && size > low)
		err = aspace_add_ram(&vm->as, PLATFORM_HIGH_RAM_START, size - low, low, "ram-high");
	return err;
}

int platform_init(struct vm *vm)
{
	int err = map_ram(vm);
	if (err)
		return vm_error(vm, err, "cannot map guest RAM");
	int fd = vm->cfg.serial_mode == TORTUGA_SERIAL_FD ? vm->cfg.serial_fd : -1;
	vm->uart = uart16550_create(fd, vm->cfg.serial_capture_max);
	if (!vm->uart)
		return vm_error(vm, -ENOMEM, "out of memory creating the UART");
	err = uart16550_attach(vm->uart, &vm->io, PLATFORM_COM1);
	if (!err)
		err = debug_exit_attach(vm, DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE);
	if (!err)
		err = iobus_register(&vm->io, PLATFORM_POST_PORT, 1, &post_ops, NULL, "post");
	vm->dev = calloc(1, sizeof(*vm->dev));
	if (!vm->dev)
		err = -ENOMEM;
	if (!err)
		err = pic_create(vm, &vm->dev->pic);
	if (!err)
		err = ioapic_create(vm, &vm->dev->ioapic);
	if (!err)
		err = pit_create(vm, &vm->dev->pit);
	if (!err)
		err = fw_cfg_create(vm, &vm->dev->fw_cfg);
	if (!err)
		err = pci_bus_create(vm, &vm->dev->pci);
	if (!err)
		err = q35_host_create(vm->dev->pci);
	if (err)
		return vm_error(vm, err, "cannot register platform devices");
	return 0;
}

/*
 * What a PC BIOS (SeaBIOS, under QEMU/KVM) leaves behind, so that kernels
 * written for those boot unchanged: the 8259s initialised with vectors
 * 0x08 and 0x70, cascaded, every IRQ masked but the cascade; the BSP's
 * local APIC software-enabled with LINT0 as ExtINT and LINT1 as NMI
 * (virtual-wire mode, MP Specification 1.4 3.6.2.2); PCI BARs assigned and
 * decoding enabled. Unlike SeaBIOS, the
 * PIT is not started (so no IRQ 0 arrives unless the guest programs it).
 */
void platform_firmware_state(struct vm *vm)
{
	pic_firmware_init(vm->dev->pic, 0x08, 0x70);
	pci_firmware_assign(vm->dev->pci);
	struct lapic *l = vm->vcpus[0]->lapic;
	lapic_mmio_write(l, LAPIC_DEFAULT_BASE + 0xf0, 4, 0x1ff); /* SVR: enabled, vector 0xff */
	lapic_mmio_write(l, LAPIC_DEFAULT_BASE + 0x350, 4, 0x8700); /* LINT0: ExtINT, level */
	lapic_mmio_write(l, LAPIC_DEFAULT_BASE + 0x360, 4, 0x8400); /* LINT1: NMI, level */
}

void platform_fini(struct vm *vm)
{
	uart16550_destroy(vm->uart);
	vm->uart = NULL;
	if (vm->dev) {
		pic_destroy(vm->dev->pic);
		ioapic_destroy(vm->dev->ioapic);
		pit_destroy(vm->dev->pit);
		fw_cfg_destroy(vm->dev->fw_cfg);
		pci_bus_destroy(vm->dev->pci);
		free(vm->dev);
		vm->dev = NULL;
	}
}
