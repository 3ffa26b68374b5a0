/*
 * The port I/O bus: devices register port ranges with callbacks, and a binary
 * search over the sorted ranges finds them (kvmtool style: no central switch
 * on port numbers). Unclaimed ports read as all ones and ignore writes, as on
 * a PC's ISA bus.
 */
#ifndef CORE_IOBUS_H
#define CORE_IOBUS_H

#include <stdint.h>

struct io_ops {
	uint32_t (*read)(void *opaque, uint16_t port, unsigned size);
	void (*write)(void *opaque, uint16_t port, unsigned size, uint32_t val);
};

struct io_range {
	uint16_t base;
	uint32_t len;
	const struct io_ops *ops;
	void *opaque;
	const char *name;
};

struct iobus {
	struct io_range *r;
	unsigned n, cap;
	uint64_t unclaimed; /* accesses to ports nobody claimed */
};

void iobus_init(struct iobus *bus);
void iobus_fini(struct iobus *bus);
/* -EEXIST if the range overlaps a registered one. */
int iobus_register(struct iobus *bus, uint16_t base, uint32_t len, const struct io_ops *ops,
		   void *opaque, const char *name);
/* Remove the range that starts at base; -ENOENT if none does. */
int iobus_unregister(struct iobus *bus, uint16_t base);
const struct io_range *iobus_find(const struct iobus *bus, uint16_t port);
uint32_t iobus_read(struct iobus *bus, uint16_t port, unsigned size);
void iobus_write(struct iobus *bus, uint16_t port, unsigned size, uint32_t val);

#endif
