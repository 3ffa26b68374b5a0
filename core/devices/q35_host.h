/*
 * The Q35 MCH host bridge function at 00:00.0 (q35_host.c).
 */
#ifndef CORE_DEVICES_Q35_HOST_H
#define CORE_DEVICES_Q35_HOST_H

struct pci_bus;

int q35_host_create(struct pci_bus *bus);

#endif
