/*
 * QEMU fw_cfg, traditional (non-DMA) interface (docs/specs/fw_cfg.rst):
 * writing the selector resets the data offset; each data-port read returns
 * the next byte of the item, 0 past its end; writes to the data port are
 * ignored (as in QEMU since v2.4). Items: fw_cfg_keys.def.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/iobus.h"
#include "core/platform.h"
#include "core/vm.h"
#include "fw_cfg.h"

enum {
#define X(name, key, desc) FW_CFG_##name = (key),
#include "fw_cfg_keys.def"
#undef X
};

#define ITEMS 0x21
#define FW_CFG_ID_TRADITIONAL 0x1u

struct item {
	uint8_t *data;
	uint32_t len;
};

struct fw_cfg {
	struct item item[ITEMS];
	uint16_t sel;
	uint32_t off;
};

static int set_item(struct fw_cfg *f, uint16_t key, const void *data, uint32_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, data, len);
	free(f->item[key].data);
	f->item[key] = (struct item){ p, len };
	return 0;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

int fw_cfg_set_cmdline(struct fw_cfg *f, const char *cmdline)
{
	const char *s = cmdline ? cmdline : "";
	uint32_t len = (uint32_t)strlen(s) + 1;
	uint8_t sz[4];
	put_le(sz, len, 4);
	int err = set_item(f, FW_CFG_CMDLINE_SIZE, sz, 4);
	return err ? err : set_item(f, FW_CFG_CMDLINE_DATA, s, len);
}

/* "etc/e820": the memory map as 20-byte little-endian entries (address,
 * length, type), the file QEMU's firmware reads, and its directory. */
static int add_files(struct fw_cfg *f, const struct vm *vm)
{
	struct platform_mem_range map[PLATFORM_MEM_MAP_MAX];
	unsigned n = platform_memory_map(vm, map);
	uint8_t e820[PLATFORM_MEM_MAP_MAX * 20];
	for (unsigned i = 0; i < n; i++) {
		put_le(e820 + 20 * i, map[i].base, 8);
		put_le(e820 + 20 * i + 8, map[i].len, 8);
		put_le(e820 + 20 * i + 16, map[i].type, 4);
	}
	int err = set_item(f, FW_CFG_FILE_FIRST, e820, 20 * n);
	uint8_t dir[4 + 64] = { 0 };
	put_be(dir, 1, 4);
	put_be(dir + 4, 20 * n, 4); /* size */
	put_be(dir + 8, FW_CFG_FILE_FIRST, 2); /* select */
	memcpy(dir + 12, "etc/e820", 9); /* name[56] */
	return err ? err : set_item(f, FW_CFG_FILE_DIR, dir, sizeof(dir));
}

static uint32_t fw_cfg_read(void *opaque, uint16_t port, unsigned size)
{
	struct fw_cfg *f = opaque;
	if (port != FW_CFG_PORT_DATA)
		return 0;
	/* Wider reads return the next bytes in increasing address order. */
	uint32_t v = 0;
	for (unsigned i = 0; i < size; i++) {
		uint16_t key = f->sel & 0x3fff; /* bits 15 (arch) and 14 (write) */
		const struct item *it = (f->sel & 0x8000) || key >= ITEMS ? NULL : &f->item[key];
		uint8_t b = it && f->off < it->len ? it->data[f->off] : 0;
		if (it && f->off < it->len)
			f->off++;
		v |= (uint32_t)b << (8 * i);
	}
	return v;
}

static void fw_cfg_write(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	struct fw_cfg *f = opaque;
	if (port == FW_CFG_PORT_SEL && size == 2) {
		f->sel = (uint16_t)val;
		f->off = 0;
	}
}

static const struct io_ops fw_cfg_ops = { .read = fw_cfg_read, .write = fw_cfg_write };

int fw_cfg_create(struct vm *vm, struct fw_cfg **out)
{
	struct fw_cfg *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	uint8_t b[8];
	int err = set_item(f, FW_CFG_SIGNATURE, "QEMU", 4);
	put_le(b, FW_CFG_ID_TRADITIONAL, 4);
	if (!err)
		err = set_item(f, FW_CFG_ID, b, 4);
	put_le(b, vm->ram.size, 8);
	if (!err)
		err = set_item(f, FW_CFG_RAM_SIZE, b, 8);
	put_le(b, vm->cfg.vcpus, 2);
	if (!err)
		err = set_item(f, FW_CFG_NB_CPUS, b, 2);
	if (!err)
		err = set_item(f, FW_CFG_MAX_CPUS, b, 2);
	if (!err)
		err = fw_cfg_set_cmdline(f, "");
	if (!err)
		err = add_files(f, vm);
	if (!err)
		err = iobus_register(&vm->io, FW_CFG_PORT_SEL, 2, &fw_cfg_ops, f, "fw_cfg");
	if (err) {
		fw_cfg_destroy(f);
		return err;
	}
	*out = f;
	return 0;
}

void fw_cfg_destroy(struct fw_cfg *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < ITEMS; i++)
		free(f->item[i].data);
	free(f);
}
