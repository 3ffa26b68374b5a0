/*
 * Direct-threaded execution of decoded blocks (private to core/emu/).
 *
 * A block's instructions each carry an `exec` handler. Running a block is a
 * call to its first instruction's handler, which does the instruction's
 * work and tail-calls the next instruction's (EMU_NEXT), and so on up to the
 * sentinel entry after the last instruction, which returns to run_block().
 * gcc turns the tail calls into jumps (-O2 and up, EMU_SIBCALLS); without
 * that a block needs up to EMU_BLOCK_MAX + 1 frames, and a chain enters at
 * most EMU_CHAIN_DEPTH_NOSIB blocks, so that no guest loop can overflow
 * the stack.
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
 *
 * Chaining. The last instruction of a block -- a branch, or the sentinel
 * after one that falls through -- goes on to the next block through the
 * block's link (emu_link) without returning to the run loop, unless the
 * block ended with an instruction that ran generically and ends blocks
 * (insn_table.def's EI_END: the instructions that change what the run loop
 * checks between blocks -- RFLAGS.TF/RF/IF, interrupt shadows, debug
 * registers, halts -- and exits, which break the block anyway). The next
 * block must fit in whole below emu_cpu.chain_end, the budget run_block()
 * sets from the preemption timer, the instruction limit and the next guest
 * timer or time slice (vcpu.poll_at), so that the loop runs its checks at
 * the same block boundary as without chaining. Instructions of a chain are
 * counted (emu_retire) when it ends, or before an instruction runs
 * generically, so that exits see the count as before; RIP is stored when
 * control leaves the threaded code. A link that does not match is left for
 * the run loop to fill (emu_cpu.stale_link).
 */
#ifndef CORE_EMU_EXEC_H
#define CORE_EMU_EXEC_H

#include "core/cost_model.h"
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

/* Sentinels: after a block whose last instruction ran generically and ends
 * blocks (EI_END), which set RIP; after a block whose last instruction set
 * RIP (a branch) or fell through, chaining to the next block. */
void emu_exec_end(struct emu_cpu *c, const struct emu_insn *i);
void emu_exec_chain(struct emu_cpu *c, const struct emu_insn *i);
void emu_exec_chain_seq(struct emu_cpu *c, const struct emu_insn *i);

/* Count n retired instructions: statistics and modelled cycles. */
static inline void emu_retire(struct emu_cpu *c, uint64_t n)
{
	c->v->stats.insns += n;
	c->v->cycles += n * COST_INSN_DEFAULT;
}

/*
 * Choose the exec handler of each of the n instructions of a block and set
 * up its sentinel (spec.c). For a `whole` decoded block, flag-setting
 * instructions whose arithmetic flags are overwritten before anything can
 * read them (within the block, with nothing that may fault in between) get
 * handlers that skip recording them, and the sentinel chains. A block cut
 * short (run_block) is not whole: every instruction records its flags and
 * the sentinel returns to the run loop.
 */
void emu_spec_block(struct emu_insn *insn, unsigned n, uint32_t mode, bool whole);

#endif
