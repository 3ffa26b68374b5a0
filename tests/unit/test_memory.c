/*
 * Address spaces and the port bus: region lookup, bounds checks, MMIO
 * dispatch, unclaimed accesses, and code-page generations.
 */
#include <errno.h>

#include "core/iobus.h"
#include "core/memory.h"

#include "check.h"

static uint64_t mmio_last_off, mmio_last_val;
static unsigned mmio_last_size;

static uint64_t mread(void *o, uint64_t off, unsigned size)
{
	(void)o;
	mmio_last_off = off;
	mmio_last_size = size;
	return 0x1122334455667788ull & ((size == 8) ? ~0ull : ((1ull << (8 * size)) - 1));
}

static void mwrite(void *o, uint64_t off, unsigned size, uint64_t v)
{
	(void)o;
	mmio_last_off = off;
	mmio_last_size = size;
	mmio_last_val = v;
}

static const struct mmio_ops mops = { mread, mwrite };

static void regions(void)
{
	struct guest_ram ram;
	struct aspace as;
	CHECK_EQ(ram_init(&ram, 1 << 20), 0);
	aspace_init(&as, &ram);
	CHECK_EQ(aspace_add_ram(&as, 0, 1 << 20, 0, "ram"), 0);
	CHECK_EQ(aspace_add_mmio(&as, 0xfee00000, 0x1000, &mops, NULL, "dev"), 0);
	CHECK_EQ(aspace_add_mmio(&as, 0xfee00800, 0x1000, &mops, NULL, "overlap"), (uint64_t)-EEXIST);
	CHECK_EQ(aspace_add_ram(&as, 0x100000, 1, (1 << 20), "beyond"), (uint64_t)-EINVAL);
	CHECK(aspace_find(&as, 0xfffff) != NULL);
	CHECK(aspace_find(&as, 0x100000) == NULL);
	CHECK(aspace_ram_ptr(&as, 0xff000, 0x1000) != NULL);
	CHECK(aspace_ram_ptr(&as, 0xff001, 0x1000) == NULL); /* crosses the end */
	CHECK(aspace_ram_ptr(&as, 0xfee00000, 4) == NULL); /* MMIO is no RAM */

	uint32_t v = 0;
	CHECK_EQ(aspace_read(&as, 0xfee00010, &v, 4), 0);
	CHECK_EQ(v, 0x55667788);
	CHECK_EQ(mmio_last_off, 0x10);
	CHECK_EQ(mmio_last_size, 4);
	uint64_t w = 0xabcdef;
	CHECK_EQ(aspace_write(&as, 0xfee00020, &w, 2), 0);
	CHECK_EQ(mmio_last_val, 0xcdef);

	/* Unmapped: reads return all ones and report -EFAULT. */
	uint32_t u = 0;
	CHECK_EQ(aspace_read(&as, 0x200000, &u, 4), (uint64_t)-EFAULT);
	CHECK_EQ(u, 0xffffffff);
	/* A read straddling RAM's end: the RAM part is real, the rest all ones. */
	uint8_t *p = aspace_ram_ptr(&as, 0xffffe, 2);
	p[0] = 0x12;
	p[1] = 0x34;
	u = 0;
	CHECK_EQ(aspace_read(&as, 0xffffe, &u, 4), (uint64_t)-EFAULT);
	CHECK_EQ(u, 0xffff3412);
	aspace_fini(&as);
	ram_fini(&ram);
}

static void code_generations(void)
{
	struct guest_ram ram;
	struct aspace as;
	CHECK_EQ(ram_init(&ram, 1 << 20), 0);
	aspace_init(&as, &ram);
	aspace_add_ram(&as, 0, 1 << 20, 0, "ram");
	uint8_t b = 0x90;
	uint32_t g0 = ram.gen[3];
	aspace_write(&as, 0x3000, &b, 1);
	CHECK_EQ(ram.gen[3], g0); /* not code: no bump */
	ram_mark_code(&ram, 3);
	aspace_write(&as, 0x3ffe, &b, 1);
	CHECK_EQ(ram.gen[3], g0 + 1);
	CHECK_EQ(ram.code[3], 0);
	aspace_fini(&as);
	ram_fini(&ram);
}

static uint32_t port_read(void *o, uint16_t port, unsigned size)
{
	(void)o;
	return port + size;
}

static const struct io_ops pops = { .read = port_read };

static void iobus(void)
{
	struct iobus bus;
	iobus_init(&bus);
	CHECK_EQ(iobus_register(&bus, 0x3f8, 8, &pops, NULL, "uart"), 0);
	CHECK_EQ(iobus_register(&bus, 0x3fc, 1, &pops, NULL, "x"), (uint64_t)-EEXIST);
	CHECK_EQ(iobus_register(&bus, 0xffff, 2, &pops, NULL, "wrap"), (uint64_t)-EINVAL);
	CHECK_EQ(iobus_read(&bus, 0x3f9, 1), 0x3fa);
	CHECK_EQ(iobus_read(&bus, 0x60, 1), 0xff);
	CHECK_EQ(iobus_read(&bus, 0x60, 2), 0xffff);
	CHECK_EQ(iobus_read(&bus, 0x60, 4), 0xffffffff);
	CHECK_EQ(bus.unclaimed, 3);
	iobus_fini(&bus);
}

TEST_MAIN(regions, code_generations, iobus)
