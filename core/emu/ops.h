/*
 * Instruction handlers of the emu CPU, one per row of insn_table.def.
 */
#ifndef CORE_EMU_OPS_H
#define CORE_EMU_OPS_H

#include "emu.h"

#define X(mnem, fn, flags) void fn(struct emu_cpu *c, const struct emu_insn *i);
#include "insn_table.def"
#undef X

void op_unimplemented(struct emu_cpu *c, const struct emu_insn *i);
void op_jmp_far(struct emu_cpu *c, const struct emu_insn *i);
void op_call_far(struct emu_cpu *c, const struct emu_insn *i);
void op_retf(struct emu_cpu *c, const struct emu_insn *i);
void op_mov_cr(struct emu_cpu *c, const struct emu_insn *i);
void op_mov_dr(struct emu_cpu *c, const struct emu_insn *i);
void op_movsd_sse(struct emu_cpu *c, const struct emu_insn *i);
void op_cmpsd_sse(struct emu_cpu *c, const struct emu_insn *i);

/* RFLAGS image merge for POPF/IRET (privilege rules). */
uint64_t emu_flags_merge(struct emu_cpu *c, uint64_t old, uint64_t img, unsigned size, bool iret);
/* Port I/O: TSS permission check; the access itself (exit or direct). */
void emu_io_check(struct emu_cpu *c, uint16_t port, unsigned size);
bool emu_io_access(struct emu_cpu *c, const struct emu_insn *i, uint16_t port, unsigned size, bool in,
		   bool string, bool rep, uint32_t count);

#endif
