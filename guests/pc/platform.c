/*
 * platform: QEMU's fw_cfg interface (docs/specs/fw_cfg.rst) and PCI
 * configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2)
 * as a bare-metal kernel sees them. The values that depend on the VM's
 * configuration are printed for the host side to compare.
 */
#include <guest/io.h>
#include <pc/fwcfg.h>

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void test_fw_cfg(const struct mb_info *mbi)
{
	char sig[5] = { 0 };
	fw_select(0x0000);
	fw_read(sig, 4);
	pc_check(!memcmp(sig, "QEMU", 4), "fw_cfg signature \"QEMU\" (got \"%s\")", sig);
	fw_select(0x0001);
	pc_check(fw_le(4) & 1, "fw_cfg ID: traditional interface");
	fw_select(0x0003);
	uint64_t ram = fw_le(8);
	printf("fw_cfg ram_size=%llu\n", (unsigned long long)ram);
	pc_check(ram >= ((uint64_t)mbi->mem_upper + 1024) << 10, "RAM size covers the Multiboot mem_upper");
	fw_select(0x0005);
	unsigned ncpus = (unsigned)fw_le(2);
	printf("fw_cfg nb_cpus=%u\n", ncpus);
	fw_select(0x000f);
	pc_check_eq(fw_le(2), ncpus, "max CPUs = CPUs");
	fw_select(0x0014);
	uint32_t clen = (uint32_t)fw_le(4);
	char cmd[256] = { 0 };
	fw_select(0x0015);
	fw_read(cmd, clen < sizeof(cmd) ? clen : sizeof(cmd) - 1);
	printf("fw_cfg cmdline=\"%s\" (size %u)\n", cmd, clen);
	pc_check_eq(clen, strlen(cmd) + 1, "command line size counts the NUL");
	/* Reading past the end gives 0; selecting again restarts at 0. */
	pc_check_eq(inb(0x511), 0, "reads past the end of an item return 0");
	fw_select(0x0000);
	pc_check_eq(inb(0x511), 'Q', "selecting resets the data offset");
	/* The file directory and etc/e820. */
	fw_select(0x0019);
	uint8_t hdr[4], ent[64];
	fw_read(hdr, 4);
	uint32_t count = be32(hdr);
	pc_check(count >= 1, "file directory: %u file(s)", count);
	int found = 0;
	for (uint32_t k = 0; k < count && k < 32; k++) {
		fw_read(ent, 64);
		if (!strcmp((const char *)ent + 8, "etc/e820")) {
			found = 1;
			uint32_t size = be32(ent);
			uint16_t sel = (uint16_t)((ent[4] << 8) | ent[5]);
			fw_select(sel);
			/* Compare with the Multiboot memory map. */
			uint32_t n = size / 20, same = 0;
			for (uint32_t i = 0; i < n; i++) {
				uint64_t base = fw_le(8), len = fw_le(8);
				uint32_t type = (uint32_t)fw_le(4);
				for (uint32_t off = 0; off < mbi->mmap_length;) {
					const struct mb_mmap_entry *e = (const void *)(uintptr_t)(mbi->mmap_addr + off);
					if (e->base_addr == base && e->length == len && e->type == type)
						same++;
					off += e->size + 4;
				}
			}
			pc_check(n && same == n, "etc/e820 (%u entries) matches the Multiboot memory map", n);
			break;
		}
	}
	pc_check(found, "etc/e820 is in the file directory");
}

static uint32_t cfg_addr(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	return 0x80000000u | (bus << 16) | (dev << 11) | (fn << 8) | (off & 0xfc);
}

static uint32_t pci_read32(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	outl(0xcf8, cfg_addr(bus, dev, fn, off));
	return inl(0xcfc);
}

static void test_pci(void)
{
	outl(0xcf8, 0x80000000u | 0x7f000003u);
	pc_check_eq(inl(0xcf8), 0x80000000u, "CONFIG_ADDRESS: reserved bits 30:24 and 1:0 read 0");
	uint32_t id = pci_read32(0, 0, 0, 0);
	printf("pci 00:00.0 id=0x%08x\n", id);
	pc_check_eq(id, 0x29c08086u, "00:00.0 is the Q35 host bridge (8086:29c0)");
	/* Byte and word accesses at every offset of CONFIG_DATA. */
	outl(0xcf8, cfg_addr(0, 0, 0, 0));
	uint32_t bytes = inb(0xcfc) | (inb(0xcfd) << 8) | (inb(0xcfe) << 16) | ((uint32_t)inb(0xcff) << 24);
	pc_check_eq(bytes, id, "byte reads at 0xcfc-0xcff assemble the dword");
	uint32_t words = inw(0xcfc) | ((uint32_t)inw(0xcfe) << 16);
	pc_check_eq(words, id, "word reads at 0xcfc and 0xcfe");
	pc_check_eq(pci_read32(0, 0, 0, 8) >> 8, 0x060000, "class code: host bridge");
	pc_check_eq((pci_read32(0, 0, 0, 0xc) >> 16) & 0xff, 0, "header type 0, single function");
	pc_check_eq(pci_read32(0, 7, 0, 0), 0xffffffffu, "an absent function (00:07.0) reads all ones");
	pc_check_eq(pci_read32(1, 0, 0, 0), 0xffffffffu, "bus 1 (nothing behind) reads all ones");
	outl(0xcf8, cfg_addr(0, 0, 0, 0) & ~0x80000000u);
	pc_check_eq(inl(0xcfc), 0xffffffffu, "with the enable bit clear no configuration cycle happens");
	/* Read-only and writable bits. */
	outl(0xcf8, cfg_addr(0, 0, 0, 0));
	outw(0xcfc, 0x1234);
	pc_check_eq(pci_read32(0, 0, 0, 0), id, "vendor/device ID are read-only");
	outl(0xcf8, cfg_addr(0, 0, 0, 0x90));
	outb(0xcfd, 0xff); /* PAM1 at 0x91 */
	pc_check_eq((pci_read32(0, 0, 0, 0x90) >> 8) & 0xff, 0x33, "PAM1: a byte write at 0xcfd, writable bits 0x33");
	outl(0xcf8, cfg_addr(0, 0, 0, 0x90));
	outb(0xcfd, 0x00);
	pc_check_eq(pci_read32(0, 0, 0, 0x9c) >> 8 & 0xff, 0x02, "SMRAM resets to C_BASE_SEG = 010b");
}

int pc_main(const struct mb_info *mbi)
{
	test_fw_cfg(mbi);
	test_pci();
	return pc_done();
}
