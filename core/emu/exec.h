/*
 * Direct-threaded execution of decoded blocks (private to core/emu/).
 *
 * A block's instructions each carry an `exec` handler. Running a block is a
 * call to its first instruction's handler, which does the instruction's
 * work and tail-calls the next instruction's (EMU_NEXT), and so on up to the
 * sentinel entry after the last instruction, which returns to run_block().
 * gcc turns the tail calls into jumps (-O2 and up); without optimisation a
 * block still needs only EMU_BLOCK_MAX + 1 frames.
 *
 * Specialised handlers (fast_*.c, chosen by spec.c) execute one operand form
 * of one instruction and never fault: whatever their fast path does not
 * cover (a TLB miss, a page-crossing access, a non-canonical branch target,
 * alignment checking) they hand to emu_exec_generic(), which runs the
 * instruction's full semantics (emu_insn.fn). They keep neither RIP nor
 * emu_cpu.cur up to date; emu_exec_generic() sets both before it runs an
 * instruction, so everything that can fault, exit or read the time sees the
 * architectural RIP and the right instruction count. Branch handlers set
 * RIP; the sentinel of a block that falls through sets it to the byte after
 * the block.
 */
#ifndef CORE_EMU_EXEC_H
#define CORE_EMU_EXEC_H

#include "emu.h"

/* Run the next instruction of the block (in tail position). */
#define EMU_NEXT(c, i)                                          \
	do {                                                    \
		const struct emu_insn *next_ = (i) + 1;         \
		next_->exec((c), next_);                        \
		return;                                         \
	} while (0)

/* Run i->fn with RIP, next_rip and cur set, then continue with the next
 * instruction unless the handler broke the block (emu_break). */
void emu_exec_generic(struct emu_cpu *c, const struct emu_insn *i);

/* Sentinels: after a block whose last instruction set RIP (branches, and
 * everything emu_exec_generic ran), and after one that falls through. */
void emu_exec_end(struct emu_cpu *c, const struct emu_insn *i);
void emu_exec_end_seq(struct emu_cpu *c, const struct emu_insn *i);

/*
 * Choose the exec handler of each of the n instructions of a block and set
 * up its sentinel (spec.c). With `liveness`, flag-setting instructions whose
 * arithmetic flags are overwritten before anything can read them (within
 * the block, with nothing that may fault in between) get handlers that skip
 * recording them; without it (blocks cut short, see run_block) every
 * instruction records its flags.
 */
void emu_spec_block(struct emu_insn *insn, unsigned n, uint32_t mode, bool liveness);

#endif
