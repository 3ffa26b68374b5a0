/*
 * QEMU's firmware configuration device (QEMU docs/specs/fw_cfg.rst): a
 * 16-bit selector at port 0x510 and a byte-wide data port at 0x511, as
 * bare-metal test kernels and firmware read it on x86. Keys:
 * fw_cfg_keys.def.
 */
#ifndef CORE_DEVICES_FW_CFG_H
#define CORE_DEVICES_FW_CFG_H

struct vm;
struct fw_cfg;

#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511

int fw_cfg_create(struct vm *vm, struct fw_cfg **out);
void fw_cfg_destroy(struct fw_cfg *f);
/* The kernel command line the items report (set when a guest is loaded). */
int fw_cfg_set_cmdline(struct fw_cfg *f, const char *cmdline);

#endif
