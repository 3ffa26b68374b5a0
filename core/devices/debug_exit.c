#include "core/vm.h"
#include "debug_exit.h"

static void debug_exit_write(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	struct vm *vm = opaque;
	(void)port;
	(void)size;
	vm_stop(vm, TORTUGA_STOP_DEBUG_EXIT, (int32_t)((val << 1) | 1));
}

static const struct io_ops debug_exit_ops = { .write = debug_exit_write };

int debug_exit_attach(struct vm *vm, uint16_t base, uint16_t size)
{
	return iobus_register(&vm->io, base, size, &debug_exit_ops, vm, "isa-debug-exit");
}
