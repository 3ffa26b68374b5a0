/*
 * The PC devices through their I/O ports and MMIO, with guest time driven
 * by hand: the 8254 counter modes, new counts while counting and GATE
 * (Intel 8254 data sheet, Figures 12-17 and Table 6),
 * the 8259 priorities and EOIs (8259A data sheet), the I/O APIC's level
 * semantics (82093AA), PCI configuration mechanism #1 and BAR sizing (PCI
 * Local Bus 3.0, 3.2.2.3.2 and 6.2.5.1), and local APIC destinations (SDM
 * Vol. 3A 11.6.2).
 */
#include <stdlib.h>

#include <tortuga/tortuga.h>

#include "core/devices/ioapic.h"
#include "core/devices/lapic.h"
#include "core/devices/pci.h"
#include "core/devices/pic8259.h"
#include "core/devices/pit8254.h"
#include "core/exit.h"
#include "core/intr.h"
#include "core/platform.h"
#include "core/vm.h"

#include "check.h"

static struct vm *make_vm(uint32_t vcpus)
{
	struct tortuga_config cfg;
	tortuga_config_init(&cfg);
	cfg.mem_size = 8 << 20;
	cfg.vcpus = vcpus;
	struct vm *vm = NULL;
	if (vm_create(&cfg, &vm)) {
		fprintf(stderr, "vm_create: %s\n", vm ? vm->err : "?");
		exit(1);
	}
	return vm;
}

static void outb(struct vm *vm, uint16_t port, uint8_t v)
{
	iobus_write(&vm->io, port, 1, v);
}

static uint8_t inb(struct vm *vm, uint16_t port)
{
	return (uint8_t)iobus_read(&vm->io, port, 1);
}

/* Platform time at the start of PIT clock pit_ticks (rounded up, so that
 * the clock has begun). */
static void set_time_ticks(struct vm *vm, uint64_t start, uint64_t pit_ticks)
{
	vm->platform_clock = start + (pit_ticks * vm->model.tsc_hz + PIT_HZ - 1) / PIT_HZ;
}

static uint16_t pit_latch(struct vm *vm, unsigned ch)
{
	outb(vm, 0x43, (uint8_t)(ch << 6));
	uint8_t lo = inb(vm, (uint16_t)(0x40 + ch));
	return (uint16_t)(lo | (inb(vm, (uint16_t)(0x40 + ch)) << 8));
}

/* A control word for counter ch (LSB then MSB) and a 16-bit count. */
static void pit_program(struct vm *vm, unsigned ch, uint8_t control, uint16_t count)
{
	outb(vm, 0x43, control);
	outb(vm, (uint16_t)(0x40 + ch), (uint8_t)count);
	outb(vm, (uint16_t)(0x40 + ch), (uint8_t)(count >> 8));
}

static void pit_modes(void)
{
	struct vm *vm = make_vm(1);
	uint64_t t0 = 1000000;
	vm->platform_clock = t0;
	/* Mode 2, N = 100: counts 100, 99, ... 1, reloads. */
	pit_program(vm, 0, 0x34, 100);
	set_time_ticks(vm, t0, 10);
	CHECK_EQ(pit_latch(vm, 0), 90);
	set_time_ticks(vm, t0, 130);
	CHECK_EQ(pit_latch(vm, 0), 70);
	/* IRQ 0 timer: the next rising edge at 200 clocks. */
	uint64_t d = vm_next_deadline(vm, vm->vcpus[0]);
	CHECK(d > t0 && d <= t0 + 201 * vm->model.tsc_hz / PIT_HZ);

	/* Mode 3, N = 100: decrements by 2; OUT high for the first half. */
	vm->platform_clock = t0;
	pit_program(vm, 2, 0xb6, 100); /* counter 2, LSB/MSB, mode 3 */
	outb(vm, 0x61, 1); /* gate 2 high: starts counting */
	set_time_ticks(vm, t0, 10);
	CHECK_EQ(pit_latch(vm, 2), 80);
	CHECK(inb(vm, 0x61) & 0x20);
	set_time_ticks(vm, t0, 60);
	CHECK(!(inb(vm, 0x61) & 0x20));

	/* Mode 0 with read-back: status byte, then OUT after N clocks. */
	vm->platform_clock = t0;
	pit_program(vm, 2, 0xb0, 50);
	outb(vm, 0x43, 0xe8); /* read back status of counter 2 */
	CHECK_EQ(inb(vm, 0x42), 0x30); /* OUT low, count loaded, LSB/MSB, mode 0 */
	set_time_ticks(vm, t0, 51);
	CHECK(inb(vm, 0x61) & 0x20);
	/* A latched count survives later time until it is read. */
	set_time_ticks(vm, t0, 20);
	outb(vm, 0x43, 0x80); /* latch counter 2 */
	set_time_ticks(vm, t0, 40);
	uint8_t lo = inb(vm, 0x42);
	CHECK_EQ(lo | (inb(vm, 0x42) << 8), 30);
	/* BCD: 0x0100 is 100 clocks. */
	vm->platform_clock = t0;
	pit_program(vm, 2, 0xb1, 0x0100); /* counter 2, LSB/MSB, mode 0, BCD */
	set_time_ticks(vm, t0, 1);
	CHECK_EQ(pit_latch(vm, 2), 0x0099);
	vm_destroy(vm);
}

/* The middle of PIT clock k after start: immune to rounding of reloads. */
static void set_time_mid(struct vm *vm, uint64_t start, uint64_t k)
{
	vm->platform_clock = start + ((2 * k + 1) * vm->model.tsc_hz) / (2 * PIT_HZ);
}

static uint64_t tick_time(struct vm *vm, uint64_t start, uint64_t k)
{
	return start + k * vm->model.tsc_hz / PIT_HZ;
}

static uint8_t pit_status(struct vm *vm, unsigned ch)
{
	outb(vm, 0x43, (uint8_t)(0xe0 | (2u << ch))); /* read back status only */
	return inb(vm, (uint16_t)(0x40 + ch));
}

static bool out2(struct vm *vm)
{
	return inb(vm, 0x61) & 0x20;
}

/* New counts written while counting (8254 data sheet, "Mode Definitions"):
 * mode 2 loads them at the end of the period, mode 3 at the end of the
 * half-cycle, modes 1 and 5 at the next trigger, mode 0 stops at the
 * first byte of a two-byte count. */
static void pit_new_counts(void)
{
	struct vm *vm = make_vm(1);
	uint64_t t0 = 1000000;
	vm->platform_clock = t0;
	/* Counter 0, mode 2, N = 100; N = 40 written at clock 130. */
	pit_program(vm, 0, 0x34, 100);
	set_time_mid(vm, t0, 130);
	outb(vm, 0x40, 40);
	outb(vm, 0x40, 0);
	CHECK(pit_status(vm, 0) & 0x40); /* NULL COUNT: not loaded yet */
	set_time_mid(vm, t0, 190);
	CHECK_EQ(pit_latch(vm, 0), 10); /* the old period runs out */
	uint64_t d = vm_next_deadline(vm, vm->vcpus[0]);
	CHECK(d >= tick_time(vm, t0, 200) && d <= tick_time(vm, t0, 201));
	set_time_mid(vm, t0, 215);
	CHECK_EQ(pit_latch(vm, 0), 25); /* reloaded with 40 at clock 200 */
	CHECK(!(pit_status(vm, 0) & 0x40));
	vm_timers_run(vm, vm->vcpus[0], vm->platform_clock); /* the edge at 200 */
	outb(vm, 0x20, 0x0a); /* OCW3: read IRR */
	CHECK(inb(vm, 0x20) & 1);
	d = vm_next_deadline(vm, vm->vcpus[0]);
	CHECK(d >= tick_time(vm, t0, 240) && d <= tick_time(vm, t0, 241));

	/* Counter 2, mode 3, N = 100, gate high; N = 40 written at clock 20,
	 * in the high half that ends at clock 50. */
	vm->platform_clock = t0;
	outb(vm, 0x61, 1);
	pit_program(vm, 2, 0xb6, 100);
	set_time_mid(vm, t0, 20);
	outb(vm, 0x42, 40);
	outb(vm, 0x42, 0);
	set_time_mid(vm, t0, 45);
	CHECK_EQ(pit_latch(vm, 2), 10);
	CHECK(out2(vm));
	/* Clock 50: OUT low for half of the new count, 20 clocks. */
	set_time_mid(vm, t0, 55);
	CHECK(!out2(vm));
	CHECK_EQ(pit_latch(vm, 2), 30);
	set_time_mid(vm, t0, 69);
	CHECK(!out2(vm));
	set_time_mid(vm, t0, 71);
	CHECK(out2(vm));
	set_time_mid(vm, t0, 95);
	CHECK(!out2(vm));

	/* Mode 0, two-byte count rewritten: the first byte stops counting
	 * with OUT low, the second starts the new count. */
	vm->platform_clock = t0;
	pit_program(vm, 2, 0xb0, 10);
	set_time_mid(vm, t0, 20);
	CHECK(out2(vm)); /* terminal count reached */
	outb(vm, 0x42, 50);
	CHECK(!out2(vm));
	set_time_mid(vm, t0, 40);
	CHECK(!out2(vm));
	outb(vm, 0x42, 0);
	set_time_mid(vm, t0, 89);
	CHECK(!out2(vm));
	set_time_mid(vm, t0, 91);
	CHECK(out2(vm));

	/* Mode 1: armed by the count, started by a gate rising edge; a
	 * count written during the one-shot waits for the next trigger. */
	outb(vm, 0x61, 0);
	vm->platform_clock = t0;
	pit_program(vm, 2, 0xb2, 30);
	CHECK(out2(vm)); /* OUT high until triggered */
	CHECK(pit_status(vm, 2) & 0x40);
	set_time_mid(vm, t0, 10);
	outb(vm, 0x61, 1); /* trigger at clock 10 */
	CHECK(!out2(vm));
	set_time_mid(vm, t0, 20);
	outb(vm, 0x42, 5);
	outb(vm, 0x42, 0);
	set_time_mid(vm, t0, 35);
	CHECK(!out2(vm)); /* still the 30-clock one-shot */
	set_time_mid(vm, t0, 41);
	CHECK(out2(vm));
	outb(vm, 0x61, 0);
	set_time_mid(vm, t0, 50);
	outb(vm, 0x61, 1); /* retrigger at 50: the new count of 5 */
	CHECK(!out2(vm));
	set_time_mid(vm, t0, 56);
	CHECK(out2(vm));
	vm_destroy(vm);
}

/* GATE (8254 data sheet, Table 6 "Gate Pin Operations Summary"): low
 * suspends modes 0 and 4, and in modes 2 and 3 also sets OUT high; a
 * rising edge reloads modes 2 and 3. */
static void pit_gate(void)
{
	struct vm *vm = make_vm(1);
	uint64_t t0 = 1000000;
	vm->platform_clock = t0;
	outb(vm, 0x61, 1);
	pit_program(vm, 2, 0xb0, 100); /* counter 2, mode 0, N = 100 */
	set_time_mid(vm, t0, 30);
	outb(vm, 0x61, 0);
	set_time_mid(vm, t0, 80);
	CHECK_EQ(pit_latch(vm, 2), 70); /* held at 70 while the gate is low */
	outb(vm, 0x61, 1);
	set_time_mid(vm, t0, 90);
	CHECK_EQ(pit_latch(vm, 2), 60);
	set_time_mid(vm, t0, 149);
	CHECK(!out2(vm));
	set_time_mid(vm, t0, 151);
	CHECK(out2(vm)); /* 100 clocks of counting, 50 of them suspended */

	/* Mode 0 loaded with the gate low waits for it. */
	outb(vm, 0x61, 0);
	vm->platform_clock = t0;
	pit_program(vm, 2, 0xb0, 20);
	set_time_mid(vm, t0, 50);
	CHECK_EQ(pit_latch(vm, 2), 20);
	outb(vm, 0x61, 1);
	set_time_mid(vm, t0, 65);
	CHECK_EQ(pit_latch(vm, 2), 5);

	/* Mode 2, N = 100: gate low in the last clock sets OUT high; the
	 * rising edge at clock 120 restarts from 100. */
	vm->platform_clock = t0;
	pit_program(vm, 2, 0xb4, 100);
	set_time_mid(vm, t0, 99);
	CHECK(!out2(vm));
	outb(vm, 0x61, 0);
	CHECK(out2(vm));
	set_time_mid(vm, t0, 120);
	CHECK_EQ(pit_latch(vm, 2), 1);
	outb(vm, 0x61, 1);
	set_time_mid(vm, t0, 130);
	CHECK_EQ(pit_latch(vm, 2), 90);
	vm_destroy(vm);
}

static void pic_priorities(void)
{
	struct vm *vm = make_vm(1);
	struct pic8259 *p = platform_pic(vm);
	/* Firmware state: vectors 0x08/0x70, all masked but IR2. */
	CHECK_EQ(inb(vm, 0x21), 0xfb);
	outb(vm, 0x21, 0x00);
	outb(vm, 0xa1, 0x00);
	pic_set_irq(p, 3, true);
	pic_set_irq(p, 1, true);
	pic_set_irq(p, 9, true);
	CHECK(pic_has_interrupt(p));
	outb(vm, 0x20, 0x0a); /* OCW3: read IRR */
	CHECK_EQ(inb(vm, 0x20), 0x0e); /* IR1, IR2 (cascade), IR3 */
	CHECK_EQ(pic_ack(p), 0x09); /* IRQ 1 first */
	outb(vm, 0x20, 0x0b); /* read ISR */
	CHECK_EQ(inb(vm, 0x20), 0x02);
	/* Fully nested: IR1 in service blocks the lower IR2 and IR3. After the
	 * EOI, IRQ 9 (through IR2) goes before IRQ 3. */
	CHECK(!pic_has_interrupt(p));
	outb(vm, 0x20, 0x20); /* non-specific EOI */
	CHECK_EQ(pic_ack(p), 0x71);
	outb(vm, 0xa0, 0x20);
	outb(vm, 0x20, 0x20);
	CHECK_EQ(pic_ack(p), 0x0b); /* IRQ 3 */
	/* Masked or in service: nothing more; a spurious INTA gives IRQ 7. */
	CHECK(!pic_has_interrupt(p));
	CHECK_EQ(pic_ack(p), 0x0f);
	outb(vm, 0x20, 0x63); /* specific EOI for IR3 */
	outb(vm, 0x20, 0x0b);
	CHECK_EQ(inb(vm, 0x20), 0x00);
	/* Edge: the line must fall and rise again; level (ELCR) follows it. */
	pic_set_irq(p, 3, true);
	CHECK(!pic_has_interrupt(p));
	outb(vm, 0x4d0, 0x08); /* IRQ 3 level-triggered */
	pic_set_irq(p, 3, false);
	pic_set_irq(p, 3, true);
	CHECK_EQ(pic_ack(p), 0x0b);
	outb(vm, 0x20, 0x20);
	CHECK(pic_has_interrupt(p)); /* still asserted */
	pic_set_irq(p, 3, false);
	CHECK(!pic_has_interrupt(p));
	/* Poll command. */
	pic_set_irq(p, 5, true);
	outb(vm, 0x20, 0x0c);
	CHECK_EQ(inb(vm, 0x20), 0x85);
	vm_destroy(vm);
}

static void ioapic_level(void)
{
	struct vm *vm = make_vm(1);
	struct ioapic *io = platform_ioapic(vm);
	struct lapic *l = vm->vcpus[0]->lapic;
	uint64_t base = IOAPIC_BASE;
	uint32_t v;
	/* Pin 5: vector 0x55, level-triggered, to APIC 0. */
	v = 0x10 + 2 * 5;
	aspace_write(&vm->as, base, &v, 4);
	v = 0x55 | (1u << 15);
	aspace_write(&vm->as, base + 0x10, &v, 4);
	ioapic_set_irq(io, 5, true);
	CHECK_EQ(lapic_pending(l), 0x55);
	CHECK_EQ(lapic_ack(l), 0x55);
	/* Remote IRR is set: no second message while it is. */
	aspace_read(&vm->as, base + 0x10, &v, 4);
	CHECK(v & (1u << 14));
	/* EOI from the local APIC (level: TMR set) re-sends while asserted. */
	lapic_mmio_write(l, LAPIC_DEFAULT_BASE + 0xb0, 4, 0);
	CHECK_EQ(lapic_pending(l), 0x55);
	lapic_ack(l);
	ioapic_set_irq(io, 5, false);
	lapic_mmio_write(l, LAPIC_DEFAULT_BASE + 0xb0, 4, 0);
	CHECK_EQ(lapic_pending(l), -1);
	aspace_read(&vm->as, base + 0x10, &v, 4);
	CHECK(!(v & (1u << 14)));
	/* Masked edges are lost. */
	v = 0x10 + 2 * 6;
	aspace_write(&vm->as, base, &v, 4);
	v = 0x56 | (1u << 16);
	aspace_write(&vm->as, base + 0x10, &v, 4);
	ioapic_set_irq(io, 6, true);
	v = 0x56;
	aspace_write(&vm->as, base + 0x10, &v, 4);
	CHECK_EQ(lapic_pending(l), -1);
	vm_destroy(vm);
}

static uint64_t mapped_addr[6];
static bool mapped_on[6];
static int map_calls;

static void bar_map(void *opaque, int bar, uint64_t addr, bool enabled)
{
	(void)opaque;
	mapped_addr[bar] = addr;
	mapped_on[bar] = enabled;
	map_calls++;
}

static uint32_t cfg32(struct vm *vm, unsigned dev, unsigned off)
{
	iobus_write(&vm->io, 0xcf8, 4, 0x80000000u | (dev << 11) | off);
	return iobus_read(&vm->io, 0xcfc, 4);
}

static void cfg32w(struct vm *vm, unsigned dev, unsigned off, uint32_t v)
{
	iobus_write(&vm->io, 0xcf8, 4, 0x80000000u | (dev << 11) | off);
	iobus_write(&vm->io, 0xcfc, 4, v);
}

static void pci_bars(void)
{
	struct vm *vm = make_vm(1);
	struct pci_bus *bus = platform_pci(vm);
	struct pci_func_def def = {
		.dev = 3,
		.vendor = 0x1234,
		.device = 0x5678,
		.class_code = 0xff0000,
		.interrupt_pin = 1,
		.bar = { [0] = { 0x1000, PCI_BAR_MEM32, false },
			 [1] = { 0x20, PCI_BAR_IO, false },
			 [2] = { 0x100000, PCI_BAR_MEM64, true } },
		.bar_map = bar_map,
	};
	CHECK_EQ(pci_register(bus, &def, NULL), 0);
	CHECK_EQ(cfg32(vm, 3, 0), 0x56781234);
	/* Sizing (6.2.5.1): write all ones, read back the size mask and the
	 * read-only type bits. */
	cfg32w(vm, 3, 0x10, 0xffffffff);
	CHECK_EQ(cfg32(vm, 3, 0x10), 0xfffff000);
	cfg32w(vm, 3, 0x14, 0xffffffff);
	CHECK_EQ(cfg32(vm, 3, 0x14), 0xffffffe1);
	cfg32w(vm, 3, 0x18, 0xffffffff);
	cfg32w(vm, 3, 0x1c, 0xffffffff);
	CHECK_EQ(cfg32(vm, 3, 0x18), 0xfff0000c);
	CHECK_EQ(cfg32(vm, 3, 0x1c), 0xffffffff);
	CHECK_EQ(map_calls, 0); /* decoding is off */
	for (unsigned o = 0x10; o <= 0x1c; o += 4)
		cfg32w(vm, 3, o, 0);
	/* Firmware assignment: memory largest first from the PCI hole, I/O
	 * from 0xc000; decoding enabled. */
	pci_firmware_assign(bus);
	CHECK_EQ(cfg32(vm, 3, 0x18), 0xc000000c);
	CHECK_EQ(cfg32(vm, 3, 0x1c), 0);
	CHECK_EQ(cfg32(vm, 3, 0x10), 0xc0100000);
	CHECK_EQ(cfg32(vm, 3, 0x14), 0xc001);
	CHECK_EQ(cfg32(vm, 3, 0x04) & 3, 3);
	CHECK(mapped_on[0] && mapped_addr[0] == 0xc0100000);
	CHECK(mapped_on[1] && mapped_addr[1] == 0xc000);
	CHECK(mapped_on[2] && mapped_addr[2] == 0xc0000000);
	/* Memory decoding off unmaps the memory BARs only. */
	cfg32w(vm, 3, 0x04, 1);
	CHECK(!mapped_on[0] && mapped_on[1] && !mapped_on[2]);
	/* Status error bits are write-1-to-clear; the interrupt line is RW. */
	cfg32w(vm, 3, 0x3c, 0x0000000b);
	CHECK_EQ(cfg32(vm, 3, 0x3c), 0x0000010b);
	vm_destroy(vm);
}

static void apic_destinations(void)
{
	struct vm *vm = make_vm(4);
	/* Software-enable every APIC; logical IDs: flat model, bit per CPU. */
	for (uint32_t i = 0; i < 4; i++) {
		struct lapic *l = vm->vcpus[i]->lapic;
		lapic_mmio_write(l, LAPIC_DEFAULT_BASE + 0xf0, 4, 0x1ff);
		lapic_mmio_write(l, LAPIC_DEFAULT_BASE + 0xd0, 4, (1u << i) << 24);
	}
	struct apic_msg m = { .dest = 0x0a, .vector = 0x40, .logical = true };
	apic_deliver(vm, NULL, &m);
	for (uint32_t i = 0; i < 4; i++)
		CHECK_EQ(lapic_pending(vm->vcpus[i]->lapic), (i == 1 || i == 3) ? 0x40 : -1);
	/* Physical destination 2. */
	m = (struct apic_msg){ .dest = 2, .vector = 0x41 };
	apic_deliver(vm, NULL, &m);
	CHECK_EQ(lapic_pending(vm->vcpus[2]->lapic), 0x41);
	/* Lowest priority among 0-3: the lowest TPR wins. */
	for (uint32_t i = 0; i < 4; i++)
		lapic_mmio_write(vm->vcpus[i]->lapic, LAPIC_DEFAULT_BASE + 0x80, 4, i == 3 ? 0x10 : 0x20);
	m = (struct apic_msg){ .dest = 0x0f, .vector = 0x90, .logical = true, .mode = APIC_DM_LOWEST };
	apic_deliver(vm, NULL, &m);
	CHECK_EQ(lapic_pending(vm->vcpus[3]->lapic), 0x90);
	CHECK(lapic_pending(vm->vcpus[0]->lapic) != 0x90);
	/* Cluster model: cluster 1, members 0 and 1 <- CPUs 2 and 3. */
	for (uint32_t i = 0; i < 4; i++) {
		struct lapic *l = vm->vcpus[i]->lapic;
		lapic_mmio_write(l, LAPIC_DEFAULT_BASE + 0xe0, 4, 0x0fffffff);
		lapic_mmio_write(l, LAPIC_DEFAULT_BASE + 0xd0, 4, (uint32_t)(((i >> 1) << 4) | (1u << (i & 1))) << 24);
		lapic_mmio_write(l, LAPIC_DEFAULT_BASE + 0x80, 4, 0);
	}
	m = (struct apic_msg){ .dest = 0x12, .vector = 0xa0, .logical = true };
	apic_deliver(vm, NULL, &m);
	CHECK_EQ(lapic_pending(vm->vcpus[3]->lapic), 0xa0);
	CHECK(lapic_pending(vm->vcpus[2]->lapic) != 0xa0);
	/* INIT and SIPI become pending signals. */
	m = (struct apic_msg){ .dest = 1, .mode = APIC_DM_INIT, .level = true };
	apic_deliver(vm, NULL, &m);
	CHECK(vm->vcpus[1]->init_pending);
	m = (struct apic_msg){ .dest = 1, .mode = APIC_DM_SIPI, .vector = 0x08 };
	apic_deliver(vm, NULL, &m);
	CHECK(vm->vcpus[1]->sipi_pending && vm->vcpus[1]->sipi_vector == 0x08);
	vm_destroy(vm);
}

/*
 * INIT abandons the event a vCPU was about to deliver: INIT is taken at the
 * instruction boundary before NMIs and maskable interrupts (SDM Vol. 3A 6.9,
 * Table 6-2) and clears the ISR bit of the acknowledged interrupt
 * (11.4.7.3). After the SIPI the vCPU starts at VV000H (9.4.4.1) with
 * nothing to inject; an NMI not yet delivered is still pending.
 */
static void init_drops_inflight_event(void)
{
	struct vm *vm = make_vm(2);
	struct vcpu *v = vm->vcpus[1];
	struct apic_msg init = { .dest = 1, .mode = APIC_DM_INIT, .level = true };
	struct apic_msg sipi = { .dest = 1, .mode = APIC_DM_SIPI, .vector = 0x08 };
	v->s.activity = ACT_ACTIVE;
	v->inject = (struct vcpu_event){ .valid = true, .vector = 0x56, .type = INTR_TYPE_EXT_INTR >> 8 };
	apic_deliver(vm, NULL, &init);
	CHECK(!vcpu_wake(v));
	CHECK_EQ(v->s.activity, ACT_WAIT_SIPI);
	CHECK(!v->inject.valid);
	CHECK(!v->nmi_pending);
	apic_deliver(vm, NULL, &sipi);
	CHECK(vcpu_wake(v));
	CHECK_EQ(v->s.seg[SEG_CS].base, 0x8000);
	CHECK_EQ(v->s.rip, 0);
	CHECK(!v->inject.valid);
	/* An NMI being delivered goes back to pending. */
	v->inject = (struct vcpu_event){ .valid = true, .vector = X86_NMI, .type = INTR_TYPE_NMI >> 8 };
	apic_deliver(vm, NULL, &init);
	CHECK(!vcpu_wake(v));
	CHECK(!v->inject.valid);
	CHECK(v->nmi_pending);
	vm_destroy(vm);
}

TEST_MAIN(pit_modes, pit_new_counts, pit_gate, pic_priorities, ioapic_level, pci_bars, apic_destinations,
	  init_drops_inflight_event)
