/*
 * The host bridge at 00:00.0: the DRAM controller of the Intel Q35
 * chipset's Memory Controller Hub (Intel 3 Series Express Chipset Family
 * datasheet, 316966, "Host Bridge/DRAM Controller Registers (D0:F0)"), as
 * QEMU's q35 machine exposes it (device 29C0h, subsystem 1AF4:1100).
 * The PAM (90h-96h), SMRAM (9Dh) and ESMRAMC (9Eh) registers hold what the
 * guest writes; their effect on memory decoding belongs to the SMM model.
 */
#include "core/vm.h"
#include "pci.h"
#include "q35_host.h"

/* Device-specific registers the guest may write (datasheet 5.1). */
static const struct {
	uint8_t off, len, wmask;
	const char *name;
} q35_rw[] = {
	{ 0x90, 7, 0x33, "PAM0-PAM6: programmable attribute map (HIENABLE 5:4, LOENABLE 1:0)" },
	{ 0x9d, 1, 0x78, "SMRAM: D_OPEN 6, D_CLS 5, D_LCK 4, G_SMRAME 3 (C_BASE_SEG 2:0 is RO)" },
	{ 0x9e, 1, 0x87, "ESMRAMC: H_SMRAME 7, TSEG_SZ 2:1, T_EN 0" },
};

int q35_host_create(struct pci_bus *bus)
{
	static uint8_t wmask[256];
	for (unsigned k = 0; k < sizeof(q35_rw) / sizeof(q35_rw[0]); k++)
		for (unsigned i = 0; i < q35_rw[k].len; i++)
			wmask[q35_rw[k].off + i] = q35_rw[k].wmask;
	struct pci_func_def def = {
		.dev = 0,
		.fn = 0,
		.vendor = 0x8086,
		.device = 0x29c0,
		.revision = 0x00,
		.class_code = 0x060000, /* bridge, host bridge */
		.subsys_vendor = 0x1af4,
		.subsys_id = 0x1100,
		.extra_wmask = wmask,
	};
	struct pci_func *f;
	int err = pci_register(bus, &def, &f);
	if (err)
		return err;
	/* SMRAM after reset: C_BASE_SEG = 010b (0xA0000), D_OPEN/D_LCK clear. */
	pci_config(f)[0x9d] = 0x02;
	/* ESMRAMC after reset: TSEG_SZ 00b, H_SMRAME 1. */
	pci_config(f)[0x9e] = 0x38;
	return 0;
}
