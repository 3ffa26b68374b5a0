/*
 * 8259A pair (Intel 8259A data sheet 231468). Command words:
 * pic8259_regs.def. Priorities follow the data sheet's "Interrupt
 * Sequence" and "Priority Modes": fully nested with optional rotation; the
 * request with the highest priority above every in-service one wins.
 * Edge or level sensing per IRQ comes from the ELCR (Intel ICH "Edge/Level
 * Control Registers", ports 0x4d0/0x4d1), as on PCs since the PIIX.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/iobus.h"
#include "core/vm.h"
#include "pic8259.h"

enum {
#define X(name, bits, desc) PIC_##name = (bits),
#include "pic8259_regs.def"
#undef X
};

#define PIC_MASTER 0x20
#define PIC_SLAVE 0xa0
#define PIC_ELCR 0x4d0
#define PIC_CASCADE_IRQ 2

struct chip {
	uint8_t irr, isr, imr;
	uint8_t base; /* ICW2 & 0xf8 */
	uint8_t priority_add; /* the IR with the highest priority */
	uint8_t init_step; /* 0: ready; 1: expect ICW2; 2: ICW3; 3: ICW4 */
	bool icw4, single, auto_eoi, rotate_aeoi, sfnm;
	bool read_isr, poll, special_mask;
	uint8_t elcr; /* 1: level-sensitive */
	uint8_t line; /* input levels */
};

struct pic8259 {
	struct vm *vm;
	struct chip c[2]; /* master, slave */
};

static int priority_of(const struct chip *c, uint8_t mask)
{
	if (!mask)
		return 8;
	int p = 0;
	while (!(mask & (1u << ((p + c->priority_add) & 7))))
		p++;
	return p;
}

/* The IR the chip would present, or -1. */
static int chip_irq(const struct chip *c, bool master)
{
	int req = priority_of(c, c->irr & ~c->imr);
	if (req == 8)
		return -1;
	uint8_t in_service = c->isr;
	if (master && c->sfnm)
		in_service &= (uint8_t)~(1u << PIC_CASCADE_IRQ);
	if (c->special_mask)
		in_service &= (uint8_t)~c->imr;
	return req < priority_of(c, in_service) ? (req + c->priority_add) & 7 : -1;
}

static void chip_line(struct chip *c, unsigned ir, bool level)
{
	uint8_t bit = (uint8_t)(1u << ir);
	bool was = c->line & bit;
	if (level)
		c->line |= bit;
	else
		c->line &= (uint8_t)~bit;
	if (c->elcr & bit) {
		if (level)
			c->irr |= bit;
		else
			c->irr &= (uint8_t)~bit;
	} else if (level && !was) {
		c->irr |= bit; /* edge: latched on the rising edge */
	}
}

/* The slave's INT output drives master IR2. */
static void cascade(struct pic8259 *p)
{
	chip_line(&p->c[0], PIC_CASCADE_IRQ, chip_irq(&p->c[1], false) >= 0);
}

void pic_set_irq(struct pic8259 *p, unsigned irq, bool level)
{
	if (irq >= 16)
		return;
	chip_line(&p->c[irq >> 3], irq & 7, level);
	cascade(p);
	if (level && pic_has_interrupt(p))
		vm_notify_extint(p->vm);
}

bool pic_has_interrupt(const struct pic8259 *p)
{
	return chip_irq(&p->c[0], true) >= 0;
}

static void chip_ack(struct chip *c, int ir)
{
	uint8_t bit = (uint8_t)(1u << ir);
	if (c->auto_eoi) {
		if (c->rotate_aeoi)
			c->priority_add = (uint8_t)((ir + 1) & 7);
	} else {
		c->isr |= bit;
	}
	if (!(c->elcr & bit))
		c->irr &= (uint8_t)~bit;
}

uint8_t pic_ack(struct pic8259 *p)
{
	struct chip *m = &p->c[0], *s = &p->c[1];
	int ir = chip_irq(m, true);
	uint8_t vec;
	if (ir < 0) {
		vec = m->base + 7; /* spurious IRQ 7 */
	} else {
		chip_ack(m, ir);
		if (ir == PIC_CASCADE_IRQ) {
			int ir2 = chip_irq(s, false);
			if (ir2 >= 0) {
				chip_ack(s, ir2);
				vec = (uint8_t)(s->base + ir2);
			} else {
				vec = s->base + 7; /* spurious IRQ 15 */
			}
		} else {
			vec = (uint8_t)(m->base + ir);
		}
	}
	cascade(p);
	return vec;
}

/* Poll command (OCW3 P = 1): the next read is an INTA returning 0x80 | IR,
 * or 0 when nothing is pending. */
static uint8_t chip_poll(struct pic8259 *p, int which)
{
	struct chip *c = &p->c[which];
	c->poll = false;
	int ir = chip_irq(c, which == 0);
	if (ir < 0)
		return 0;
	chip_ack(c, ir);
	cascade(p);
	return (uint8_t)(0x80 | ir);
}

static void eoi(struct chip *c, int ir, bool rotate)
{
	if (ir < 0) {
		/* Non-specific: the highest-priority in-service IR. */
		int pr = priority_of(c, c->isr);
		if (pr == 8)
			return;
		ir = (pr + c->priority_add) & 7;
	}
	c->isr &= (uint8_t)~(1u << ir);
	if (rotate)
		c->priority_add = (uint8_t)((ir + 1) & 7);
}

static void write_even(struct pic8259 *p, int which, uint8_t v)
{
	struct chip *c = &p->c[which];
	if (v & PIC_ICW1_INIT) {
		/* ICW1 resets the chip ("Initialization Command Words"): IMR
		 * cleared, IR7 lowest priority, special mask off, IRR selected
		 * for reads, edge sense reset; ICW4 functions cleared if IC4 = 0. */
		uint8_t elcr = c->elcr, line = c->line;
		memset(c, 0, sizeof(*c));
		c->elcr = elcr;
		c->line = line; /* inputs already high need a new rising edge */
		c->icw4 = v & PIC_ICW1_IC4;
		c->single = v & PIC_ICW1_SNGL;
		if (v & PIC_ICW1_LTIM)
			vm_guest_warn(p->vm, "8259: ICW1 level-triggered mode ignored; use the ELCR");
		c->init_step = 1;
		return;
	}
	if ((v & 0x18) == PIC_OCW3_MARK) {
		if (v & PIC_OCW3_POLL)
			c->poll = true;
		if (v & PIC_OCW3_RR)
			c->read_isr = v & PIC_OCW3_RIS;
		if (v & PIC_OCW3_ESMM)
			c->special_mask = v & PIC_OCW3_SMM;
		return;
	}
	if ((v & 0x18) == 0) {
		/* OCW2 */
		int level = v & 7;
		switch (v & 0xe0) {
		case PIC_OCW2_ROTATE_AEOI_CLEAR:
		case PIC_OCW2_ROTATE_AEOI_SET:
			c->rotate_aeoi = (v & 0xe0) == PIC_OCW2_ROTATE_AEOI_SET;
			break;
		case PIC_OCW2_NONSPECIFIC_EOI:
			eoi(c, -1, false);
			break;
		case PIC_OCW2_ROTATE_NONSPEC:
			eoi(c, -1, true);
			break;
		case PIC_OCW2_SPECIFIC_EOI:
			eoi(c, level, false);
			break;
		case PIC_OCW2_ROTATE_SPECIFIC:
			eoi(c, level, true);
			break;
		case PIC_OCW2_SET_PRIORITY:
			c->priority_add = (uint8_t)((level + 1) & 7);
			break;
		default:
			break;
		}
		cascade(p);
	}
}

static void write_odd(struct pic8259 *p, int which, uint8_t v)
{
	struct chip *c = &p->c[which];
	switch (c->init_step) {
	case 1: /* ICW2 */
		c->base = v & 0xf8;
		c->init_step = c->single ? (c->icw4 ? 3 : 0) : 2;
		break;
	case 2: /* ICW3: the cascade wiring is fixed on a PC */
		c->init_step = c->icw4 ? 3 : 0;
		break;
	case 3: /* ICW4 */
		c->auto_eoi = v & PIC_ICW4_AEOI;
		c->sfnm = v & PIC_ICW4_SFNM;
		c->init_step = 0;
		break;
	default: /* OCW1 */
		c->imr = v;
		cascade(p);
	}
}

static uint32_t pic_read(void *opaque, uint16_t port, unsigned size)
{
	struct pic8259 *p = opaque;
	(void)size;
	if (port >= PIC_ELCR)
		return p->c[port - PIC_ELCR].elcr;
	int which = port >= PIC_SLAVE;
	struct chip *c = &p->c[which];
	if (c->poll)
		return chip_poll(p, which);
	if (port & 1)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

static void pic_write(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	struct pic8259 *p = opaque;
	(void)size;
	if (port >= PIC_ELCR) {
		/* IRQ 0, 1, 2, 8 and 13 are always edge-triggered (ICH ELCR). */
		static const uint8_t fixed_edge[2] = { 0x07, 0x21 };
		p->c[port - PIC_ELCR].elcr = (uint8_t)val & (uint8_t)~fixed_edge[port - PIC_ELCR];
		return;
	}
	int which = port >= PIC_SLAVE;
	if (port & 1)
		write_odd(p, which, (uint8_t)val);
	else
		write_even(p, which, (uint8_t)val);
	/* An unmask or an EOI can let a request through (threaded runs: the
	 * vCPU taking ExtINT may be another one). */
	if (pic_has_interrupt(p))
		vm_notify_extint(p->vm);
}

static const struct io_ops pic_ops = { .read = pic_read, .write = pic_write };

void pic_firmware_init(struct pic8259 *p, uint8_t master_base, uint8_t slave_base)
{
	static const struct {
		uint16_t port;
		uint8_t val;
	} seq[] = {
		{ PIC_MASTER, PIC_ICW1_INIT | PIC_ICW1_IC4 }, { PIC_SLAVE, PIC_ICW1_INIT | PIC_ICW1_IC4 },
		{ PIC_MASTER + 1, 0 }, /* ICW2, patched below */
		{ PIC_SLAVE + 1, 0 },  { PIC_MASTER + 1, 1u << PIC_CASCADE_IRQ }, /* ICW3 */
		{ PIC_SLAVE + 1, PIC_CASCADE_IRQ }, { PIC_MASTER + 1, PIC_ICW4_UPM }, /* ICW4 */
		{ PIC_SLAVE + 1, PIC_ICW4_UPM },    { PIC_MASTER + 1, (uint8_t)~(1u << PIC_CASCADE_IRQ) }, /* OCW1 */
		{ PIC_SLAVE + 1, 0xff },
	};
	for (unsigned k = 0; k < sizeof(seq) / sizeof(seq[0]); k++) {
		uint8_t v = seq[k].val;
		if (k == 2)
			v = master_base;
		if (k == 3)
			v = slave_base;
		pic_write(p, seq[k].port, 1, v);
	}
}

int pic_create(struct vm *vm, struct pic8259 **out)
{
	struct pic8259 *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->vm = vm;
	int err = iobus_register(&vm->io, PIC_MASTER, 2, &pic_ops, p, "pic-master");
	if (!err)
		err = iobus_register(&vm->io, PIC_SLAVE, 2, &pic_ops, p, "pic-slave");
	if (!err)
		err = iobus_register(&vm->io, PIC_ELCR, 2, &pic_ops, p, "elcr");
	if (err) {
		free(p);
		return err;
	}
	*out = p;
	return 0;
}

void pic_destroy(struct pic8259 *p)
{
	free(p);
}
