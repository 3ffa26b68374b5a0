/*
 * Far transfers through call gates (gates.c).
 */
#ifndef CORE_EMU_GATES_H
#define CORE_EMU_GATES_H

#include <stdbool.h>
#include <stdint.h>

struct emu_cpu;
struct emu_insn;

/* Does the far CALL/JMP selector name a system descriptor (a gate or a
 * TSS) rather than a code segment? */
bool emu_far_is_system(struct emu_cpu *c, uint16_t sel);
/* Far CALL (call) or JMP through the gate gsel. */
void emu_far_gate(struct emu_cpu *c, const struct emu_insn *i, uint16_t gsel, bool call);

#endif
