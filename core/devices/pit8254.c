/*
 * 8254 PIT (Intel 8254 data sheet 231164). Fields: pit8254_regs.def.
 *
 * Counters run off the platform clock (core/timer.h) at PIT_HZ. The six
 * modes follow the data sheet's "Mode Definitions" (Figures 12-17):
 *  0 interrupt on terminal count   OUT high from count N on
 *  1 hardware one-shot             like 0, started by a gate rising edge
 *  2 rate generator                OUT low for the last clock of each period
 *  3 square wave                   OUT high for ceil(N/2), low for floor(N/2)
 *  4 software strobe               OUT low for one clock at count 0
 *  5 hardware strobe               like 4, started by a gate rising edge
 * Counter 0's OUT rising edges pulse ISA IRQ 0. Simplifications: a count
 * written while counting takes effect at once (not at the end of the
 * period), and a gate that goes low does not pause modes 0, 2, 3 and 4.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/iobus.h"
#include "core/platform.h"
#include "core/vm.h"
#include "pit8254.h"

enum {
#define X(name, shift, width, desc) PIT_##name##_SHIFT = (shift), PIT_##name##_MASK = ((1u << (width)) - 1),
#include "pit8254_regs.def"
#undef X
};
#define FIELD(v, name) (((v) >> PIT_##name##_SHIFT) & PIT_##name##_MASK)

#define PIT_PORT 0x40
#define PIT_CONTROL 0x43
#define PORT_B 0x61

struct pit_chan {
	uint32_t n; /* reload value in clocks (1..65536, or BCD 1..10000) */
	uint8_t mode, rw, bcd;
	bool gate;
	bool counting; /* a count was loaded (and, modes 1/5, triggered) */
	uint64_t load; /* platform time counting started */
	uint16_t wvalue;
	bool wmsb_next, rmsb_next;
	bool count_latched, status_latched;
	uint16_t latched;
	uint8_t latched_left; /* bytes of the latched count still to read */
	uint8_t status;
	bool null_count;
};

struct pit8254 {
	struct vm *vm;
	struct pit_chan ch[3];
	uint8_t port_b; /* bits 0 (gate 2) and 1 (speaker data) */
	struct vm_timer irq0;
};

static uint64_t ticks_at(const struct vm *vm, uint64_t start, uint64_t t)
{
	unsigned __int128 x = (unsigned __int128)(t - start) * PIT_HZ;
	return (uint64_t)(x / vm->model.tsc_hz);
}

/* The platform time of PIT clock k after start (rounded up). */
static uint64_t time_of_tick(const struct vm *vm, uint64_t start, uint64_t k)
{
	unsigned __int128 x = (unsigned __int128)k * vm->model.tsc_hz + PIT_HZ - 1;
	return start + (uint64_t)(x / PIT_HZ);
}

static uint16_t to_bcd(uint32_t v)
{
	return (uint16_t)((v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) | ((v / 1000 % 10) << 12));
}

static uint32_t from_bcd(uint16_t v)
{
	return (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;
}

static uint32_t count_now(struct pit8254 *p, const struct pit_chan *c)
{
	if (!c->counting)
		return c->n & 0xffff;
	uint64_t d = ticks_at(p->vm, c->load, vm_now(p->vm));
	uint32_t n = c->n, v;
	switch (c->mode) {
	case 2:
		v = n - (uint32_t)(d % n);
		break;
	case 3:
		v = (n - (uint32_t)((2 * d) % n)) & 0xfffe;
		break;
	default: /* 0, 1, 4, 5 count down and wrap */
		v = (uint32_t)((n - d) & 0xffff);
		break;
	}
	uint32_t mod = c->bcd ? 10000 : 0x10000;
	v %= mod;
	return c->bcd ? to_bcd(v) : v;
}

static bool out_now(struct pit8254 *p, const struct pit_chan *c)
{
	if (!c->counting)
		return c->mode != 0; /* mode 0: OUT low once the control word is written */
	uint64_t d = ticks_at(p->vm, c->load, vm_now(p->vm));
	uint64_t n = c->n;
	switch (c->mode) {
	case 0:
	case 1:
		return d >= n;
	case 2:
		return d % n != n - 1;
	case 3:
		return d % n < (n + 1) / 2;
	default: /* 4, 5 */
		return d != n;
	}
}

/* Counter 0: arm the next OUT rising edge, which pulses IRQ 0. */
static void schedule_irq0(struct pit8254 *p)
{
	const struct pit_chan *c = &p->ch[0];
	if (!c->counting) {
		vm_timer_disarm(&p->irq0);
		return;
	}
	uint64_t now = vm_now(p->vm);
	uint64_t d = ticks_at(p->vm, c->load, now);
	uint64_t n = c->n, k;
	switch (c->mode) {
	case 0:
	case 1:
		k = n; /* once */
		break;
	case 2:
	case 3:
		k = (d / n + 1) * n;
		break;
	default:
		k = n + 1; /* once */
		break;
	}
	if (k <= d && (c->mode < 2 || c->mode > 3)) {
		vm_timer_disarm(&p->irq0);
		return;
	}
	vm_timer_arm(&p->irq0, time_of_tick(p->vm, c->load, k));
}

static void irq0_fire(void *opaque, uint64_t when)
{
	struct pit8254 *p = opaque;
	platform_set_isa_irq(p->vm, 0, true);
	platform_set_isa_irq(p->vm, 0, false);
	const struct pit_chan *c = &p->ch[0];
	if (c->counting && (c->mode == 2 || c->mode == 3)) {
		uint64_t k = ticks_at(p->vm, c->load, when) / c->n + 1;
		vm_timer_arm(&p->irq0, time_of_tick(p->vm, c->load, k * c->n));
	}
}

static void load_count(struct pit8254 *p, int i, uint16_t value)
{
	struct pit_chan *c = &p->ch[i];
	uint32_t n = c->bcd ? from_bcd(value) : value;
	if (!n)
		n = c->bcd ? 10000 : 0x10000;
	if (n == 1 && (c->mode == 2 || c->mode == 3))
		n = 2; /* a count of 1 is illegal in modes 2 and 3 */
	c->n = n;
	c->null_count = false;
	c->load = vm_now(p->vm);
	/* Modes 1 and 5 wait for a gate rising edge. */
	c->counting = !(c->mode == 1 || c->mode == 5);
	if (i == 0)
		schedule_irq0(p);
}

static uint8_t status_byte(struct pit8254 *p, const struct pit_chan *c)
{
	return (uint8_t)((out_now(p, c) << PIT_ST_OUT_SHIFT) | (c->null_count << PIT_ST_NULL_SHIFT) |
			 (c->rw << PIT_CW_RW_SHIFT) | (c->mode << PIT_CW_MODE_SHIFT) | c->bcd);
}

static void latch_count(struct pit8254 *p, struct pit_chan *c)
{
	if (c->count_latched)
		return; /* only the first latch counts until it is read */
	c->latched = (uint16_t)count_now(p, c);
	c->count_latched = true;
	c->latched_left = c->rw == 3 ? 2 : 1;
}

static void control(struct pit8254 *p, uint8_t v)
{
	unsigned sc = FIELD(v, CW_SC);
	if (sc == 3) {
		/* Read-back: the bits are "not" latches. */
		for (int i = 0; i < 3; i++) {
			if (!(FIELD(v, RB_COUNTERS) & (1u << i)))
				continue;
			struct pit_chan *c = &p->ch[i];
			if (!FIELD(v, RB_NCOUNT))
				latch_count(p, c);
			if (!FIELD(v, RB_NSTATUS) && !c->status_latched) {
				c->status = status_byte(p, c);
				c->status_latched = true;
			}
		}
		return;
	}
	struct pit_chan *c = &p->ch[sc];
	unsigned rw = FIELD(v, CW_RW);
	if (rw == 0) {
		latch_count(p, c);
		return;
	}
	c->rw = (uint8_t)rw;
	c->mode = (uint8_t)(FIELD(v, CW_MODE) > 5 ? FIELD(v, CW_MODE) - 4 : FIELD(v, CW_MODE));
	c->bcd = (uint8_t)FIELD(v, CW_BCD);
	c->counting = false;
	c->null_count = true;
	c->wmsb_next = c->rmsb_next = false;
	c->count_latched = c->status_latched = false;
	if (sc == 0)
		schedule_irq0(p);
}

static uint8_t read_counter(struct pit8254 *p, int i)
{
	struct pit_chan *c = &p->ch[i];
	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	uint16_t v;
	if (c->count_latched) {
		v = c->latched;
		if (--c->latched_left == 0)
			c->count_latched = false;
	} else {
		v = (uint16_t)count_now(p, c);
	}
	switch (c->rw) {
	case 1:
		return (uint8_t)v;
	case 2:
		return (uint8_t)(v >> 8);
	default: {
		bool msb = c->rmsb_next;
		c->rmsb_next = !msb;
		return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
	}
	}
}

static void write_counter(struct pit8254 *p, int i, uint8_t v)
{
	struct pit_chan *c = &p->ch[i];
	switch (c->rw) {
	case 1:
		load_count(p, i, v);
		break;
	case 2:
		load_count(p, i, (uint16_t)(v << 8));
		break;
	case 3:
		if (!c->wmsb_next) {
			c->wvalue = v;
			c->wmsb_next = true;
		} else {
			c->wmsb_next = false;
			load_count(p, i, (uint16_t)(c->wvalue | (v << 8)));
		}
		break;
	default:
		break; /* no control word yet */
	}
}

static void set_gate2(struct pit8254 *p, bool gate)
{
	struct pit_chan *c = &p->ch[2];
	bool rising = gate && !c->gate;
	c->gate = gate;
	if (rising && c->n && (c->mode == 1 || c->mode == 5 || c->mode == 2 || c->mode == 3)) {
		c->load = vm_now(p->vm);
		c->counting = true;
	}
}

static uint32_t pit_read(void *opaque, uint16_t port, unsigned size)
{
	struct pit8254 *p = opaque;
	(void)size;
	if (port == PORT_B) {
		/* Bit 4 toggles every 18 PIT clocks (the old DRAM refresh,
		 * about 15 us); bit 5 is OUT2. */
		uint64_t t = ticks_at(p->vm, 0, vm_now(p->vm));
		return (uint32_t)(p->port_b & 3) | (uint32_t)(((t / 18) & 1) << 4) |
		       ((uint32_t)out_now(p, &p->ch[2]) << 5);
	}
	if (port == PIT_CONTROL)
		return 0xff; /* the control register is write-only */
	return read_counter(p, port - PIT_PORT);
}

static void pit_write(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	struct pit8254 *p = opaque;
	(void)size;
	if (port == PORT_B) {
		p->port_b = (uint8_t)(val & 3);
		set_gate2(p, val & 1);
	} else if (port == PIT_CONTROL) {
		control(p, (uint8_t)val);
	} else {
		write_counter(p, port - PIT_PORT, (uint8_t)val);
	}
}

static const struct io_ops pit_ops = { .read = pit_read, .write = pit_write };

int pit_create(struct vm *vm, struct pit8254 **out)
{
	struct pit8254 *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->vm = vm;
	p->ch[0].gate = p->ch[1].gate = true; /* wired high on a PC */
	p->irq0 = (struct vm_timer){ .fire = irq0_fire, .opaque = p, .name = "pit-irq0" };
	int err = vm_timer_register(vm, &p->irq0);
	if (!err)
		err = iobus_register(&vm->io, PIT_PORT, 4, &pit_ops, p, "pit");
	if (!err)
		err = iobus_register(&vm->io, PORT_B, 1, &pit_ops, p, "port61");
	if (err) {
		free(p);
		return err;
	}
	*out = p;
	return 0;
}

void pit_destroy(struct pit8254 *p)
{
	free(p);
}
