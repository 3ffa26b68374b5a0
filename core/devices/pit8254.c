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
 * Counter 0's OUT rising edges pulse ISA IRQ 0.
 *
 * A counter is kept in closed form: the platform time `load` at which it
 * last started counting from its initial count, plus `phase` clocks
 * already counted (a half-cycle reload in mode 3, a resumed gate), or the
 * clocks `held` while GATE is low. A count written while counting takes
 * effect when the data sheet says: on the next clock in modes 0 and 4, at
 * the end of the period (mode 2) or half-cycle (mode 3), at the next
 * trigger in modes 1 and 5, and at once on a trigger in modes 2 and 3.
 * The one-clock delay before a written count is loaded is not modelled.
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
	uint32_t n; /* initial count in clocks (1..65536, or BCD 1..10000) */
	uint8_t mode, rw, bcd;
	bool gate;
	bool counting; /* an initial count was loaded (and, modes 1/5, triggered) */
	bool paused;   /* counting, but GATE low (modes 0, 2, 3, 4) or stopped */
	bool stopped;  /* mode 0: the first byte of a new count was written */
	uint64_t load;   /* platform time counting (re)started */
	uint64_t phase;  /* clocks counted before `load` */
	uint64_t held;   /* clocks counted when paused */
	uint32_t next_n; /* a written count not loaded yet (0: none) */
	uint64_t next_k; /* modes 2, 3: the elapsed clocks at which it loads */
	uint16_t wvalue;
	bool wmsb_next, rmsb_next;
	bool count_latched, status_latched;
	uint16_t latched;
	uint8_t latched_left; /* bytes of the latched count still to read */
	uint8_t status;
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

/* Clocks counted since the initial count was loaded, at time t. */
static uint64_t elapsed(struct pit8254 *p, const struct pit_chan *c, uint64_t t)
{
	return c->paused ? c->held : c->phase + ticks_at(p->vm, c->load, t);
}

/* The platform time at which the counter reaches `k` elapsed clocks. */
static uint64_t time_of_elapsed(struct pit8254 *p, const struct pit_chan *c, uint64_t k)
{
	return time_of_tick(p->vm, c->load, k - c->phase);
}

/* Modes 2 and 3: the elapsed count at which a new count written during
 * counting is loaded: the end of the period (mode 2, Figure 14) or of the
 * current half-cycle (mode 3, Figure 15). */
static uint64_t reload_point(const struct pit_chan *c, uint64_t e)
{
	uint64_t n = c->n, base = e / n * n;
	if (c->mode == 3 && e - base < (n + 1) / 2)
		return base + (n + 1) / 2;
	return base + n;
}

/* Load a pending count whose time has come (modes 2 and 3), before the
 * state is looked at. */
static void settle(struct pit8254 *p, struct pit_chan *c)
{
	if (!c->next_n || !c->counting || c->paused || (c->mode != 2 && c->mode != 3))
		return;
	uint64_t k = c->next_k;
	uint64_t at = time_of_elapsed(p, c, k);
	if (vm_now(p->vm) < at)
		return;
	/* In mode 3 a reload at the end of the high half starts the low
	 * half of the new count. */
	bool low_half = c->mode == 3 && k % c->n != 0;
	c->n = c->next_n;
	c->next_n = 0;
	c->load = at;
	c->phase = low_half ? (c->n + 1) / 2 : 0;
}

static uint32_t count_now(struct pit8254 *p, struct pit_chan *c)
{
	settle(p, c);
	if (!c->counting)
		return c->n & 0xffff;
	uint64_t d = elapsed(p, c, vm_now(p->vm));
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

static bool out_now(struct pit8254 *p, struct pit_chan *c)
{
	settle(p, c);
	if (!c->counting)
		return c->mode != 0; /* mode 0: OUT low once the control word is written */
	if (c->paused && (c->mode == 2 || c->mode == 3))
		return true; /* GATE low sets OUT high at once (Figures 14, 15) */
	if (c->stopped)
		return false; /* first byte of a new count: OUT low (Figure 12) */
	uint64_t d = elapsed(p, c, vm_now(p->vm));
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

/* Counter 0: arm the timer for the next OUT rising edge, which pulses
 * IRQ 0, or for the reload of a pending count, whichever comes first. */
static void schedule_irq0(struct pit8254 *p)
{
	struct pit_chan *c = &p->ch[0];
	settle(p, c);
	if (!c->counting || c->paused) {
		vm_timer_disarm(&p->irq0);
		return;
	}
	uint64_t d = elapsed(p, c, vm_now(p->vm));
	uint64_t n = c->n, k;
	switch (c->mode) {
	case 0:
	case 1:
		k = n; /* once */
		break;
	case 2:
	case 3:
		k = (d / n + 1) * n;
		if (c->next_n && c->next_k < k)
			k = c->next_k;
		break;
	default:
		k = n + 1; /* once */
		break;
	}
	if (k <= d) {
		vm_timer_disarm(&p->irq0);
		return;
	}
	vm_timer_arm(&p->irq0, time_of_elapsed(p, c, k));
}

static void irq0_fire(void *opaque, uint64_t when)
{
	struct pit8254 *p = opaque;
	struct pit_chan *c = &p->ch[0];
	(void)when;
	/* A pending reload at the end of a mode 3 high half is no edge. */
	bool edge = true;
	if (c->next_n && c->mode == 3)
		edge = c->next_k % c->n == 0;
	if (edge) {
		platform_set_isa_irq(p->vm, 0, true);
		platform_set_isa_irq(p->vm, 0, false);
	}
	schedule_irq0(p);
}

/* A trigger (modes 1, 2, 3, 5: a GATE rising edge) starts counting from
 * the initial count, or from a count written since. */
static void trigger(struct pit8254 *p, struct pit_chan *c)
{
	if (c->next_n) {
		c->n = c->next_n;
		c->next_n = 0;
	}
	if (!c->n)
		return; /* no count written yet */
	c->load = vm_now(p->vm);
	c->phase = 0;
	c->paused = false;
	c->counting = true;
}

static void load_count(struct pit8254 *p, int i, uint16_t value)
{
	struct pit_chan *c = &p->ch[i];
	uint32_t n = c->bcd ? from_bcd(value) : value;
	if (!n)
		n = c->bcd ? 10000 : 0x10000;
	if (n == 1 && (c->mode == 2 || c->mode == 3))
		n = 2; /* a count of 1 is illegal in modes 2 and 3 */
	bool periodic = c->mode == 2 || c->mode == 3;
	if (c->mode == 1 || c->mode == 5) {
		/* Loaded at the next trigger (Figures 13, 17). */
		c->next_n = n;
	} else if (periodic && c->counting) {
		/* The current sequence is not affected (Figures 14, 15). */
		settle(p, c);
		c->next_n = n;
		c->next_k = c->paused ? UINT64_MAX : reload_point(c, elapsed(p, c, vm_now(p->vm)));
	} else {
		/* Modes 0 and 4, and the first count after a control word in
		 * modes 2 and 3: loaded on the next clock (Figures 12-16). */
		c->n = n;
		c->next_n = 0;
		c->counting = true;
		c->load = vm_now(p->vm);
		c->phase = c->held = 0;
		c->stopped = false;
		c->paused = !c->gate;
	}
	if (i == 0)
		schedule_irq0(p);
}

/* Mode 0, first byte of a two-byte count: counting stops and OUT goes low
 * at once (Figure 12). */
static void stop_mode0(struct pit8254 *p, int i)
{
	struct pit_chan *c = &p->ch[i];
	if (c->mode != 0 || !c->counting || c->paused)
		return;
	c->held = elapsed(p, c, vm_now(p->vm));
	c->paused = c->stopped = true;
	if (i == 0)
		schedule_irq0(p);
}

/* Status byte (Figure 11): NULL COUNT is set from a control word or a
 * written count until that count is loaded into the counting element. */
static uint8_t status_byte(struct pit8254 *p, struct pit_chan *c)
{
	bool out = out_now(p, c); /* settles a pending count first */
	bool null = !c->counting || c->next_n;
	return (uint8_t)((out << PIT_ST_OUT_SHIFT) | (null << PIT_ST_NULL_SHIFT) |
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
	c->counting = c->paused = c->stopped = false;
	c->n = c->next_n = 0;
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
			stop_mode0(p, i);
		} else {
			c->wmsb_next = false;
			load_count(p, i, (uint16_t)(c->wvalue | (v << 8)));
		}
		break;
	default:
		break; /* no control word yet */
	}
}

/* GATE of counter 2 (port 0x61 bit 0; counters 0 and 1 are wired high).
 * Table 6 "Gate Pin Operations Summary": low disables counting in modes 0,
 * 2, 3 and 4 (2 and 3 also set OUT high); a rising edge triggers modes 1,
 * 2, 3 and 5 and lets modes 0 and 4 count on. */
static void set_gate2(struct pit8254 *p, bool gate)
{
	struct pit_chan *c = &p->ch[2];
	bool rising = gate && !c->gate, falling = !gate && c->gate;
	c->gate = gate;
	settle(p, c);
	bool gated = c->mode == 0 || c->mode == 2 || c->mode == 3 || c->mode == 4;
	if (falling && gated && c->counting && !c->paused) {
		c->held = elapsed(p, c, vm_now(p->vm));
		c->paused = true;
	} else if (rising && (c->mode == 0 || c->mode == 4)) {
		if (c->counting && c->paused && !c->stopped) {
			c->load = vm_now(p->vm);
			c->phase = c->held;
			c->paused = false;
		}
	} else if (rising) {
		trigger(p, c);
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
