/*
 * The I/O APIC (Intel 82093AA I/O Advanced Programmable Interrupt
 * Controller data sheet, 290566-001): 24 redirection entries at
 * 0xfec00000, indirect access through IOREGSEL/IOWIN.
 */
#ifndef CORE_DEVICES_IOAPIC_H
#define CORE_DEVICES_IOAPIC_H

#include <stdbool.h>

struct vm;
struct ioapic;

#define IOAPIC_BASE 0xfec00000ull
#define IOAPIC_PINS 24

int ioapic_create(struct vm *vm, struct ioapic **out);
void ioapic_destroy(struct ioapic *io);
/* Drive input pin `pin` (asserted = true). Edge-triggered entries fire on
 * a rising edge, level-triggered ones while the line is asserted. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, bool asserted);
/* A local APIC broadcast an EOI for a level-triggered vector (SDM Vol. 3A
 * 11.8.5): clear Remote IRR of the entries with that vector. */
void ioapic_eoi(struct vm *vm, unsigned vector);

#endif
