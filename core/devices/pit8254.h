/*
 * The 8254 programmable interval timer (Intel 8254 data sheet 231164) at
 * ports 0x40-0x43, input clock 1.193182 MHz; counter 0 drives IRQ 0,
 * counter 2's gate and output are wired to port 0x61 (System Control
 * Port B: bit 0 gate 2, bit 1 speaker data, bit 4 refresh toggle, bit 5
 * OUT2).
 */
#ifndef CORE_DEVICES_PIT8254_H
#define CORE_DEVICES_PIT8254_H

struct vm;
struct pit8254;

#define PIT_HZ 1193182ull

int pit_create(struct vm *vm, struct pit8254 **out);
void pit_destroy(struct pit8254 *p);

#endif
