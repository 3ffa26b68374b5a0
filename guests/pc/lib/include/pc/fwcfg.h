/*
 * QEMU fw_cfg through the I/O ports (QEMU docs/specs/fw_cfg.rst): select
 * an item at 0x510, read its bytes at 0x511.
 */
#ifndef PC_FWCFG_H
#define PC_FWCFG_H

#include <guest/io.h>

#include "pc.h"

#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MAX_CPUS 0x0f
#define FW_CFG_CMDLINE_SIZE 0x14
#define FW_CFG_CMDLINE_DATA 0x15
#define FW_CFG_FILE_DIR 0x19

static inline void fw_select(uint16_t key)
{
	outw(0x510, key);
}

static inline void fw_read(void *buf, size_t n)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < n; i++)
		p[i] = inb(0x511);
}

/* The next n bytes as a little-endian number. */
static inline uint64_t fw_le(unsigned n)
{
	uint8_t b[8] = { 0 };
	fw_read(b, n);
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

#endif
