/*
 * Segment descriptor helpers for the emu CPU (seg.c).
 */
#ifndef CORE_EMU_SEG_H
#define CORE_EMU_SEG_H

#include <stdbool.h>
#include <stdint.h>

struct emu_cpu;
struct x86_segment;

/* Hidden segment state from a descriptor (hi: bytes 8-15 of a 16-byte
 * system descriptor, 0 otherwise). */
void emu_seg_from_desc(struct x86_segment *sg, uint16_t sel, uint64_t lo, uint64_t hi);
/* Read the descriptor for sel from the GDT or LDT; false if beyond the table
 * limit or the LDT is unusable. Page faults are raised. */
bool emu_read_descriptor(struct emu_cpu *c, uint16_t sel, uint64_t *lo, uint64_t *hi, bool wide);
/* Set the descriptor's accessed bit in memory (SDM 3.4.5.1). */
void emu_set_accessed(struct emu_cpu *c, uint16_t sel, uint64_t lo);
/* Real/virtual-8086 mode segment load: base = selector * 16. */
void emu_real_seg(struct x86_segment *sg, uint16_t sel);
/* MOV/POP to DS, ES, FS, GS, SS with protected-mode checks. */
void emu_load_seg(struct emu_cpu *c, unsigned seg, uint16_t sel);

/* The code segment a gate (interrupt, trap or call) points to, with the
 * checks of SDM Vol. 3A 6.12.1 / Vol. 2A CALL: NULL #GP(ext), not code or
 * DPL > CPL #GP(sel | ext), not 64-bit when want64 #GP, not present #NP.
 * Fills cs (RPL = the new CPL) and returns the new CPL. */
unsigned emu_gate_target_cs(struct emu_cpu *c, uint16_t sel, uint32_t ext, bool want64, struct x86_segment *cs);

#endif
