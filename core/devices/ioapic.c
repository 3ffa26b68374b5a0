/*
 * 82093AA I/O APIC (data sheet 290566-001). Registers: ioapic_regs.def.
 * Redirection entries (3.2.4, Figure 8): vector 7:0, delivery mode 10:8,
 * destination mode 11, delivery status 12 (RO), polarity 13, remote IRR 14
 * (RO), trigger mode 15, mask 16, destination 63:56. After reset every
 * entry is masked (3.2.4).
 *
 * Lines are modelled by their asserted state; the polarity bit is kept
 * but not applied (every source here drives an active-high ISA line).
 */
#include <errno.h>
#include <stdlib.h>

#include "core/platform.h"
#include "core/vm.h"
#include "ioapic.h"
#include "lapic.h"

#define IO_RO 1u
#define IO_RW 3u

enum {
#define M(name, off, desc) IOAPIC_##name = (off),
#define X(name, idx, acc, desc) IOAPIC_REG_##name = (idx),
#include "ioapic_regs.def"
#undef M
#undef X
};

#define IOAPIC_VERSION 0x11u /* 82093AA */

#define RTE_DELIVERY_STATUS (1ull << 12)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
/* Writable bits: all but delivery status and remote IRR, and 55:17. */
#define RTE_WRITABLE (0xff000000000000ffull | 0x1af00ull)

struct ioapic {
	struct vm *vm;
	uint32_t sel;
	uint32_t id;
	uint64_t rte[IOAPIC_PINS];
	bool line[IOAPIC_PINS];
};

static void send(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];
	struct apic_msg m = {
		.dest = (uint32_t)(e >> 56),
		.vector = e & 0xff,
		.mode = (e >> 8) & 7,
		.logical = (e >> 11) & 1,
		.level = true,
		.trigger_level = (e & RTE_LEVEL) != 0,
	};
	if (m.mode == APIC_DM_EXTINT) {
		/* ExtINT: the 8259 supplies the vector; the PIC path handles it. */
		return;
	}
	if (m.trigger_level)
		io->rte[pin] |= RTE_REMOTE_IRR;
	apic_deliver(io->vm, NULL, &m);
}

static void service(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];
	if (io->line[pin] && (e & RTE_LEVEL) && !(e & RTE_MASKED) && !(e & RTE_REMOTE_IRR))
		send(io, pin);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, bool asserted)
{
	if (pin >= IOAPIC_PINS)
		return;
	bool was = io->line[pin];
	io->line[pin] = asserted;
	uint64_t e = io->rte[pin];
	if (e & RTE_LEVEL)
		service(io, pin);
	else if (asserted && !was && !(e & RTE_MASKED))
		send(io, pin); /* edge: a masked edge is lost */
}

void ioapic_eoi(struct vm *vm, unsigned vector)
{
	struct ioapic *io = platform_ioapic(vm);
	if (!io)
		return;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		if ((io->rte[pin] & 0xff) != vector || !(io->rte[pin] & RTE_LEVEL))
			continue;
		io->rte[pin] &= ~RTE_REMOTE_IRR;
		service(io, pin);
	}
}

static uint32_t reg_read(struct ioapic *io)
{
	unsigned r = io->sel & 0xff;
	switch (r) {
	case IOAPIC_REG_IOAPICID:
		return io->id << 24;
	case IOAPIC_REG_IOAPICVER:
		return ((IOAPIC_PINS - 1u) << 16) | IOAPIC_VERSION;
	case IOAPIC_REG_IOAPICARB:
		return io->id << 24;
	default:
		if (r >= IOAPIC_REG_IOREDTBL && r < IOAPIC_REG_IOREDTBL + 2 * IOAPIC_PINS) {
			uint64_t e = io->rte[(r - IOAPIC_REG_IOREDTBL) / 2];
			return (r & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
		}
		return 0;
	}
}

static void reg_write(struct ioapic *io, uint32_t val)
{
	unsigned r = io->sel & 0xff;
	if (r == IOAPIC_REG_IOAPICID) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	if (r < IOAPIC_REG_IOREDTBL || r >= IOAPIC_REG_IOREDTBL + 2 * IOAPIC_PINS)
		return;
	unsigned pin = (r - IOAPIC_REG_IOREDTBL) / 2;
	uint64_t e = io->rte[pin];
	uint64_t nv = (r & 1) ? (e & 0xffffffffull) | ((uint64_t)val << 32) : (e & ~0xffffffffull) | val;
	io->rte[pin] = (nv & RTE_WRITABLE) | (e & (RTE_DELIVERY_STATUS | RTE_REMOTE_IRR));
	/* An edge entry keeps no Remote IRR. */
	if (!(io->rte[pin] & RTE_LEVEL))
		io->rte[pin] &= ~RTE_REMOTE_IRR;
	service(io, pin);
}

static uint64_t mmio_read(void *opaque, uint64_t off, unsigned size)
{
	struct ioapic *io = opaque;
	(void)size;
	switch (off) {
	case IOAPIC_IOREGSEL:
		return io->sel;
	case IOAPIC_IOWIN:
		return reg_read(io);
	default:
		return 0;
	}
}

static void mmio_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct ioapic *io = opaque;
	(void)size;
	switch (off) {
	case IOAPIC_IOREGSEL:
		io->sel = (uint32_t)val & 0xff;
		break;
	case IOAPIC_IOWIN:
		reg_write(io, (uint32_t)val);
		break;
	default:
		break;
	}
}

static const struct mmio_ops ioapic_ops = { .read = mmio_read, .write = mmio_write };

int ioapic_create(struct vm *vm, struct ioapic **out)
{
	struct ioapic *io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->vm = vm;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		io->rte[pin] = RTE_MASKED;
	int err = aspace_add_mmio(&vm->as, IOAPIC_BASE, PAGE_SIZE, &ioapic_ops, io, "ioapic");
	if (err) {
		free(io);
		return err;
	}
	*out = io;
	return 0;
}

void ioapic_destroy(struct ioapic *io)
{
	free(io);
}
