/*
 * PCI bus 0 behind configuration mechanism #1 (PCI Local Bus Specification
 * 3.0, 3.2.2.3.2): CONFIG_ADDRESS (0xcf8, dword accesses only: enable bit
 * 31, bus 23:16, device 15:11, function 10:8, register 7:2) and
 * CONFIG_DATA (0xcfc-0xcff: byte, word or dword at any offset within the
 * dword). Header write masks: pci_regs.def; BARs: 6.2.5.1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/iobus.h"
#include "core/platform.h"
#include "core/vm.h"
#include "pci.h"

enum {
#define X(name, off, size, wmask, desc) PCI_##name = (off),
#include "pci_regs.def"
#undef X
};

static const struct {
	uint8_t off, size;
	uint32_t wmask;
} header_table[] = {
#define X(name, off, size, wmask, desc) { off, size, wmask },
#include "pci_regs.def"
#undef X
};

#define PCI_CMD_IO 0x1u
#define PCI_CMD_MEM 0x2u
#define PCI_STATUS_W1C 0xf900u /* error bits 15:11 and 8 (6.2.3) */
#define PCI_FUNCS (32 * 8)

/* Where firmware puts BARs: I/O from 0xc000 (SeaBIOS's start), memory in
 * the PCI hole below the I/O APIC. */
#define PCI_IO_START 0xc000u
#define PCI_IO_END 0x10000u
#define PCI_MEM_END 0xfec00000ull

struct pci_func {
	struct pci_func_def def;
	uint8_t cfg[256];
	uint8_t wmask[256];
	uint64_t mapped_addr[6];
	bool mapped[6];
};

struct pci_bus {
	struct vm *vm;
	uint32_t address; /* CONFIG_ADDRESS */
	struct pci_func *fn[PCI_FUNCS];
};

static inline void put(uint8_t *p, unsigned off, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t get(const uint8_t *p, unsigned off, unsigned size)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)p[off + i] << (8 * i);
	return v;
}

static uint64_t bar_value(const struct pci_func *f, int i)
{
	uint64_t v = get(f->cfg, PCI_BAR0 + 4u * i, 4);
	if (f->def.bar[i].type == PCI_BAR_MEM64)
		v |= (uint64_t)get(f->cfg, PCI_BAR0 + 4u * (i + 1), 4) << 32;
	return f->def.bar[i].type == PCI_BAR_IO ? v & ~3ull : v & ~0xfull;
}

/* Re-map the BARs whose address or decode enable changed. */
static void update_bars(struct pci_func *f)
{
	uint16_t cmd = (uint16_t)get(f->cfg, PCI_COMMAND, 2);
	for (int i = 0; i < 6; i++) {
		const struct pci_bar_def *b = &f->def.bar[i];
		if (b->type == PCI_BAR_NONE)
			continue;
		bool en = b->type == PCI_BAR_IO ? (cmd & PCI_CMD_IO) : (cmd & PCI_CMD_MEM);
		uint64_t addr = bar_value(f, i);
		/* An unassigned BAR, or one that runs past the end of its space
		 * (while being sized with all ones), decodes nothing. */
		uint64_t limit = b->type == PCI_BAR_IO ? 0x10000ull : b->type == PCI_BAR_MEM32 ? 1ull << 32 : ~0ull;
		if (!addr || addr > limit - b->size)
			en = false;
		if (en == f->mapped[i] && (!en || addr == f->mapped_addr[i]))
			continue;
		if (f->def.bar_map)
			f->def.bar_map(f->def.opaque, i, addr, en);
		f->mapped[i] = en;
		f->mapped_addr[i] = addr;
	}
}

uint32_t pci_config_read(struct pci_bus *bus, unsigned bdf, unsigned off, unsigned size)
{
	if (bdf >= PCI_FUNCS || !bus->fn[bdf] || off + size > 256)
		return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	return get(bus->fn[bdf]->cfg, off, size);
}

void pci_config_write(struct pci_bus *bus, unsigned bdf, unsigned off, unsigned size, uint32_t val)
{
	if (bdf >= PCI_FUNCS || !bus->fn[bdf] || off + size > 256)
		return;
	struct pci_func *f = bus->fn[bdf];
	for (unsigned i = 0; i < size; i++) {
		unsigned o = off + i;
		uint8_t b = (uint8_t)(val >> (8 * i));
		if (o == PCI_STATUS || o == PCI_STATUS + 1) {
			uint8_t w1c = (uint8_t)(PCI_STATUS_W1C >> (8 * (o - PCI_STATUS)));
			f->cfg[o] &= (uint8_t)~(b & w1c);
			continue;
		}
		f->cfg[o] = (uint8_t)((f->cfg[o] & ~f->wmask[o]) | (b & f->wmask[o]));
	}
	if (off < PCI_BAR0 + 24 && off + size > PCI_COMMAND)
		update_bars(f);
	if (f->def.config_written)
		f->def.config_written(f->def.opaque, off, size);
}

/* ---- the ports ---- */

static int selected(const struct pci_bus *bus, unsigned *bdf, unsigned *reg)
{
	uint32_t a = bus->address;
	if (!(a & 0x80000000u) || ((a >> 16) & 0xff) != 0)
		return 0; /* disabled, or a bus other than 0 */
	*bdf = (a >> 8) & 0xff;
	*reg = a & 0xfc;
	return 1;
}

static uint32_t pci_io_read(void *opaque, uint16_t port, unsigned size)
{
	struct pci_bus *bus = opaque;
	if (port < PCI_CONFIG_DATA)
		return port == PCI_CONFIG_ADDRESS && size == 4 ? bus->address : (1u << (8 * size)) - 1;
	unsigned bdf, reg;
	if (!selected(bus, &bdf, &reg))
		return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	return pci_config_read(bus, bdf, reg + (port - PCI_CONFIG_DATA), size);
}

static void pci_io_write(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	struct pci_bus *bus = opaque;
	if (port < PCI_CONFIG_DATA) {
		/* Only a dword access to 0xcf8 is CONFIG_ADDRESS; bits 1:0 and
		 * 30:24 are reserved and read as 0. */
		if (port == PCI_CONFIG_ADDRESS && size == 4)
			bus->address = val & 0x80fffffcu;
		return;
	}
	unsigned bdf, reg;
	if (selected(bus, &bdf, &reg))
		pci_config_write(bus, bdf, reg + (port - PCI_CONFIG_DATA), size, val);
}

static const struct io_ops pci_io_ops = { .read = pci_io_read, .write = pci_io_write };

/* ---- functions ---- */

int pci_register(struct pci_bus *bus, const struct pci_func_def *def, struct pci_func **out)
{
	unsigned bdf = (unsigned)def->dev << 3 | def->fn;
	if (def->dev >= 32 || def->fn >= 8 || bus->fn[bdf])
		return -EEXIST;
	struct pci_func *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->def = *def;
	put(f->cfg, PCI_VENDOR_ID, 2, def->vendor);
	put(f->cfg, PCI_DEVICE_ID, 2, def->device);
	put(f->cfg, PCI_REVISION_ID, 1, def->revision);
	put(f->cfg, PCI_CLASS_CODE, 3, def->class_code);
	put(f->cfg, PCI_SUBSYS_VENDOR, 2, def->subsys_vendor);
	put(f->cfg, PCI_SUBSYS_ID, 2, def->subsys_id);
	put(f->cfg, PCI_INTERRUPT_PIN, 1, def->interrupt_pin);
	for (unsigned k = 0; k < sizeof(header_table) / sizeof(header_table[0]); k++)
		put(f->wmask, header_table[k].off, header_table[k].size, header_table[k].wmask);
	if (!def->interrupt_pin)
		f->wmask[PCI_INTERRUPT_LINE] = 0;
	/* BARs: the type bits are read-only, the address bits above the size
	 * writable, so that writing all ones reads back the size (6.2.5.1). */
	for (int i = 0; i < 6; i++) {
		const struct pci_bar_def *b = &def->bar[i];
		unsigned off = PCI_BAR0 + 4u * (unsigned)i;
		switch (b->type) {
		case PCI_BAR_IO:
			put(f->cfg, off, 4, 1);
			put(f->wmask, off, 4, (uint32_t)~(b->size - 1) & ~3u);
			break;
		case PCI_BAR_MEM32:
			put(f->cfg, off, 4, b->prefetchable ? 8u : 0u);
			put(f->wmask, off, 4, (uint32_t)~(b->size - 1) & ~0xfu);
			break;
		case PCI_BAR_MEM64:
			put(f->cfg, off, 4, 4u | (b->prefetchable ? 8u : 0u));
			put(f->wmask, off, 4, (uint32_t)~(b->size - 1) & ~0xfu);
			put(f->wmask, off + 4, 4, (uint32_t)(~(b->size - 1) >> 32));
			i++;
			break;
		default:
			break;
		}
	}
	if (def->extra_wmask)
		for (unsigned o = 0x40; o < 256; o++)
			f->wmask[o] = def->extra_wmask[o];
	bus->fn[bdf] = f;
	if (out)
		*out = f;
	return 0;
}

uint8_t *pci_config(struct pci_func *f)
{
	return f->cfg;
}

void pci_firmware_assign(struct pci_bus *bus)
{
	uint64_t next[2] = { PCI_IO_START, PLATFORM_PCI_HOLE_START };
	const uint64_t end[2] = { PCI_IO_END, PCI_MEM_END };
	static bool done[PCI_FUNCS][6];
	memset(done, 0, sizeof(done));
	/* Largest first, as SeaBIOS does, so that alignment wastes nothing. */
	for (int pass = 0; pass < 2; pass++) {
		for (;;) {
			unsigned bk = 0;
			int bi = -1;
			for (unsigned k = 0; k < PCI_FUNCS; k++) {
				const struct pci_func *f = bus->fn[k];
				for (int i = 0; f && i < 6; i++) {
					const struct pci_bar_def *b = &f->def.bar[i];
					if (b->type == PCI_BAR_NONE || (b->type == PCI_BAR_IO) != (pass == 0) || done[k][i])
						continue;
					if (bi < 0 || b->size > bus->fn[bk]->def.bar[bi].size) {
						bk = k;
						bi = i;
					}
				}
			}
			if (bi < 0)
				break;
			done[bk][bi] = true;
			uint64_t size = bus->fn[bk]->def.bar[bi].size;
			uint64_t a = (next[pass] + size - 1) & ~(size - 1);
			if (a + size > end[pass]) {
				vm_guest_warn(bus->vm, "PCI %02x.%x: no room for BAR %d (%llu bytes)", bk >> 3, bk & 7, bi,
					      (unsigned long long)size);
				continue;
			}
			next[pass] = a + size;
			unsigned off = PCI_BAR0 + 4u * (unsigned)bi;
			pci_config_write(bus, bk, off, 4, (uint32_t)a);
			if (bus->fn[bk]->def.bar[bi].type == PCI_BAR_MEM64)
				pci_config_write(bus, bk, off + 4, 4, (uint32_t)(a >> 32));
		}
	}
	for (unsigned k = 0; k < PCI_FUNCS; k++) {
		struct pci_func *f = bus->fn[k];
		if (!f)
			continue;
		bool io = false, mem = false;
		for (int i = 0; i < 6; i++) {
			io |= f->def.bar[i].type == PCI_BAR_IO;
			mem |= f->def.bar[i].type == PCI_BAR_MEM32 || f->def.bar[i].type == PCI_BAR_MEM64;
		}
		uint32_t cmd = get(f->cfg, PCI_COMMAND, 2) | (io ? PCI_CMD_IO : 0) | (mem ? PCI_CMD_MEM : 0);
		pci_config_write(bus, k, PCI_COMMAND, 2, cmd);
	}
}

int pci_bus_create(struct vm *vm, struct pci_bus **out)
{
	struct pci_bus *bus = calloc(1, sizeof(*bus));
	if (!bus)
		return -ENOMEM;
	bus->vm = vm;
	int err = iobus_register(&vm->io, PCI_CONFIG_ADDRESS, 8, &pci_io_ops, bus, "pci-config");
	if (err) {
		free(bus);
		return err;
	}
	*out = bus;
	return 0;
}

void pci_bus_destroy(struct pci_bus *bus)
{
	if (!bus)
		return;
	for (unsigned k = 0; k < PCI_FUNCS; k++)
		free(bus->fn[k]);
	free(bus);
}
