#include <errno.h>

#include "devices/debug_exit.h"
#include "devices/uart16550.h"
#include "platform.h"
#include "vm.h"

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
	if (err)
		return vm_error(vm, err, "cannot register platform devices");
	return 0;
}

void platform_fini(struct vm *vm)
{
	uart16550_destroy(vm->uart);
	vm->uart = NULL;
}
