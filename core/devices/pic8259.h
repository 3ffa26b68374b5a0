/*
 * The pair of 8259A programmable interrupt controllers of a PC (Intel
 * 8259A data sheet 231468): master at 0x20/0x21 (vectors for IRQ 0-7),
 * slave at 0xa0/0xa1 cascaded on master IR2 (IRQ 8-15), and the ICH edge/
 * level control registers (ELCR) at 0x4d0/0x4d1.
 */
#ifndef CORE_DEVICES_PIC8259_H
#define CORE_DEVICES_PIC8259_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct pic8259;

int pic_create(struct vm *vm, struct pic8259 **out);
void pic_destroy(struct pic8259 *p);
/* Drive IRQ line 0-15. */
void pic_set_irq(struct pic8259 *p, unsigned irq, bool level);
/* Is the master's INT output asserted? */
bool pic_has_interrupt(const struct pic8259 *p);
/* The INTA cycle: the vector to run (spurious IRQ 7/15 if the request went
 * away). */
uint8_t pic_ack(struct pic8259 *p);
/* Program the pair the way a PC BIOS leaves it: ICW1-4 with vector bases
 * `master_base` and `slave_base`, cascade on IR2, every IRQ masked except
 * the cascade. */
void pic_firmware_init(struct pic8259 *p, uint8_t master_base, uint8_t slave_base);

#endif
