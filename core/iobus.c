#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iobus.h"

void iobus_init(struct iobus *bus)
{
	memset(bus, 0, sizeof(*bus));
}

void iobus_fini(struct iobus *bus)
{
	free(bus->r);
	memset(bus, 0, sizeof(*bus));
}

int iobus_register(struct iobus *bus, uint16_t base, uint32_t len, const struct io_ops *ops,
		   void *opaque, const char *name)
{
	if (!len || (uint32_t)base + len > 0x10000)
		return -EINVAL;
	unsigned i = 0;
	while (i < bus->n && bus->r[i].base < base)
		i++;
	if (i > 0 && (uint32_t)bus->r[i - 1].base + bus->r[i - 1].len > base)
		return -EEXIST;
	if (i < bus->n && (uint32_t)base + len > bus->r[i].base)
		return -EEXIST;
	if (bus->n == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 16;
		struct io_range *r = realloc(bus->r, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		bus->r = r;
		bus->cap = cap;
	}
	memmove(&bus->r[i + 1], &bus->r[i], (bus->n - i) * sizeof(*bus->r));
	bus->r[i] = (struct io_range){ .base = base, .len = len, .ops = ops, .opaque = opaque, .name = name };
	bus->n++;
	return 0;
}

int iobus_unregister(struct iobus *bus, uint16_t base)
{
	for (unsigned i = 0; i < bus->n; i++) {
		if (bus->r[i].base == base) {
			memmove(&bus->r[i], &bus->r[i + 1], (bus->n - i - 1) * sizeof(*bus->r));
			bus->n--;
			return 0;
		}
	}
	return -ENOENT;
}

const struct io_range *iobus_find(const struct iobus *bus, uint16_t port)
{
	unsigned lo = 0, hi = bus->n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct io_range *r = &bus->r[mid];
		if (port < r->base)
			hi = mid;
		else if ((uint32_t)(port - r->base) >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

uint32_t iobus_read(struct iobus *bus, uint16_t port, unsigned size)
{
	const struct io_range *r = iobus_find(bus, port);
	if (!r || !r->ops->read) {
		bus->unclaimed++;
		return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	}
	return r->ops->read(r->opaque, port, size);
}

void iobus_write(struct iobus *bus, uint16_t port, unsigned size, uint32_t val)
{
	const struct io_range *r = iobus_find(bus, port);
	if (!r || !r->ops->write) {
		bus->unclaimed++;
		return;
	}
	r->ops->write(r->opaque, port, size, val);
}
