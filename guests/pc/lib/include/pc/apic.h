/*
 * Local APIC, I/O APIC, 8259 and 8254 access for PC guests (SDM Vol. 3A
 * chapter 11; 82093AA, 8259A and 8254 data sheets). Register offsets are
 * the SDM's Table 11-1.
 */
#ifndef PC_APIC_H
#define PC_APIC_H

#include <guest/io.h>

#include "pc.h"

#define APIC_BASE 0xfee00000ul
#define APIC_ID 0x020
#define APIC_VERSION 0x030
#define APIC_TPR 0x080
#define APIC_PPR 0x0a0
#define APIC_EOI 0x0b0
#define APIC_LDR 0x0d0
#define APIC_DFR 0x0e0
#define APIC_SVR 0x0f0
#define APIC_ISR 0x100
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_ERROR 0x370
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR 0x3e0

#define MSR_APIC_BASE 0x1bu
#define MSR_TSC_DEADLINE 0x6e0u
#define MSR_X2APIC(off) (0x800u + ((off) >> 4))

#define ICR_FIXED 0x000u
#define ICR_LOWEST 0x100u
#define ICR_NMI 0x400u
#define ICR_INIT 0x500u
#define ICR_SIPI 0x600u
#define ICR_LOGICAL (1u << 11)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_LEVEL_TRIG (1u << 15)
#define ICR_SELF (1u << 18)
#define ICR_ALL (2u << 18)
#define ICR_OTHERS (3u << 18)

static inline uint32_t apic_read(unsigned off)
{
	return *(volatile uint32_t *)(APIC_BASE + off);
}

static inline void apic_write(unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(APIC_BASE + off) = v;
}

static inline void apic_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

/* Send an IPI in xAPIC mode: destination (8 bits) and the low ICR word. */
static inline void apic_ipi(uint8_t dest, uint32_t lo)
{
	apic_write(APIC_ICR_HI, (uint32_t)dest << 24);
	apic_write(APIC_ICR_LO, lo);
}

#define IOAPIC_BASE 0xfec00000ul

static inline uint32_t ioapic_read(unsigned reg)
{
	*(volatile uint32_t *)IOAPIC_BASE = reg;
	return *(volatile uint32_t *)(IOAPIC_BASE + 0x10);
}

static inline void ioapic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)IOAPIC_BASE = reg;
	*(volatile uint32_t *)(IOAPIC_BASE + 0x10) = v;
}

static inline void ioapic_route(unsigned pin, uint64_t rte)
{
	ioapic_write(0x10 + 2 * pin + 1, (uint32_t)(rte >> 32));
	ioapic_write(0x10 + 2 * pin, (uint32_t)rte);
}

/* Remap both 8259s to vectors base..base+15 (ICW1-ICW4) and set masks. */
static inline void pic_remap(uint8_t base, uint8_t mask_master, uint8_t mask_slave)
{
	outb(0x20, 0x11);
	outb(0xa0, 0x11);
	outb(0x21, base);
	outb(0xa1, (uint8_t)(base + 8));
	outb(0x21, 0x04);
	outb(0xa1, 0x02);
	outb(0x21, 0x01);
	outb(0xa1, 0x01);
	outb(0x21, mask_master);
	outb(0xa1, mask_slave);
}

#endif
