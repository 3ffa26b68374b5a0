/*
 * The emu backend: tortuga's software x86-64 CPU (private to core/emu/).
 *
 * Structure
 *  - Instructions are decoded once by Zydis into struct emu_insn (a handler
 *    pointer and pre-resolved operands) and grouped into blocks of straight-line
 *    code keyed by the guest-physical address of their first byte and the
 *    decode mode. Blocks never span more than two pages; a write to a page
 *    holding decoded code bumps the page's generation (core/memory.h), which
 *    invalidates its blocks.
 *  - A block runs as direct-threaded code (exec.h): each instruction's `exec`
 *    handler, chosen per operand form when the block is decoded (spec.c),
 *    does its work and tail-calls the next one's; a sentinel after the last
 *    instruction returns to the run loop. Forms without a specialised handler
 *    run their `fn` (the instruction's semantics, insn_table.def) through
 *    emu_exec_generic(), which keeps RIP and the current instruction exact.
 *  - Memory goes through a software TLB (one per privilege class) that maps
 *    linear pages straight to host pointers for RAM; misses walk the guest page
 *    tables (mmu.c). MMIO and unmapped memory always take the slow path, which
 *    turns the access into a VM exit.
 *  - Arithmetic flags are computed lazily from the last flag-setting
 *    operation (flags.c).
 *  - Faults unwind with longjmp to the run loop, which delivers them; handlers
 *    therefore check everything before they write architectural state.
 *  - Instructions that VT-x would make exit under the running level's
 *    controls build a struct vm_exit and call vcpu_handle_exit().
 */
#ifndef CORE_EMU_EMU_H
#define CORE_EMU_EMU_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "core/exit.h"
#include "core/state.h"
#include "core/vm.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

struct emu_cpu;
struct emu_insn;

typedef void (*emu_fn)(struct emu_cpu *c, const struct emu_insn *i);

/* ---- decoded instructions ---- */

enum emu_opkind {
	OPK_NONE = 0,
	OPK_REG, /* general-purpose register */
	OPK_MEM, /* memory operand (or address-only for LEA) */
	OPK_IMM, /* immediate (sign- or zero-extended as Zydis reports) */
	OPK_SEG, /* segment register */
	OPK_CR, /* control register */
	OPK_DR, /* debug register */
	OPK_REL, /* relative branch target: disp is the offset from next RIP */
	OPK_PTR, /* far pointer immediate: disp = offset, reg field unused, sel = selector */
	OPK_XMM, /* XMM register: reg 0-15 */
	OPK_MMX, /* MMX register: reg 0-7 */
	OPK_ST, /* x87 register ST(i): reg = i */
	OPK_OTHER, /* anything else Zydis reports (YMM, mask, bound registers...) */
};

#define EMU_REG_NONE 0xff
#define EMU_REG_RIP 0x10

struct emu_operand {
	uint8_t kind; /* enum emu_opkind */
	uint8_t size; /* bytes */
	uint8_t reg; /* REG: GPR 0-15; SEG/CR/DR: number */
	uint8_t hi8; /* REG: AH/CH/DH/BH */
	uint8_t seg; /* MEM: segment register */
	uint8_t base; /* MEM: GPR, EMU_REG_RIP or EMU_REG_NONE */
	uint8_t index; /* MEM: GPR or EMU_REG_NONE */
	uint8_t scale; /* MEM: 1, 2, 4, 8 */
	int64_t disp; /* MEM: displacement; IMM/REL/PTR: value */
};

/* emu_insn.flags */
#define EI_LOCK 0x01
#define EI_REP 0x02 /* F3: REP / REPE */
#define EI_REPNE 0x04 /* F2 */
#define EI_END 0x08 /* ends the block (branches, system instructions) */

struct emu_insn {
	emu_fn exec; /* threaded entry: this instruction, then the rest of the block */
	emu_fn fn; /* the semantics of the instruction (insn_table.def) */
	uint16_t off; /* offset of the first byte from the block's first byte */
	uint8_t len;
	uint8_t opsize; /* effective operand size, bytes */
	uint8_t addrsize; /* effective address size, bytes */
	uint8_t nops; /* visible operands */
	uint16_t mnem; /* ZydisMnemonic */
	uint8_t flags; /* EI_* */
	uint8_t cc; /* condition code (Jcc/SETcc/CMOVcc), op variant otherwise */
	uint16_t sel; /* far pointer selector */
	uint8_t opcode; /* last opcode byte */
	uint8_t map; /* ZydisOpcodeMap */
	struct emu_operand op[3];
};

/* ---- blocks ---- */

#define EMU_BLOCK_MAX 64
/* Instructions a chain of blocks runs at most before the run loop looks at
 * stop requests again (exec.h "Chaining"). */
#define EMU_CHAIN_MAX (1u << 20)
/* Blocks a chain enters at most when the compiler does not turn the tail
 * calls of threaded code into jumps (EMU_SIBCALLS 0, core/meson.build):
 * each then takes up to EMU_BLOCK_MAX + 1 stack frames. */
#ifndef EMU_SIBCALLS
#define EMU_SIBCALLS 0
#endif
#define EMU_CHAIN_DEPTH_NOSIB 16u

/*
 * A block's remembered successor: the block at RIP under the translation
 * epoch it was found in (emu_cpu.tlb_epoch). Epochs are unique across the
 * VM's vCPUs and levels (emu_new_epoch), and renewed on every change of mode
 * or CS base and whenever decoded code was written (guest_ram.code_gen, seen
 * by the run loop), so a link found under other mappings, another mode or
 * older code never matches.
 */
struct emu_link {
	uint64_t rip;
	uint64_t epoch;
	const struct emu_block *b;
};

struct emu_block {
	uint64_t gpa; /* of the first byte */
	uint32_t mode; /* decode mode key */
	uint32_t n; /* instructions */
	uint64_t page[2]; /* RAM page numbers the bytes came from (page[1] = ~0 if one) */
	uint32_t gen[2];
	struct emu_link link[2]; /* [0]: falling through, [1]: elsewhere (exec.h) */
	struct emu_block *hnext;
	struct emu_insn insn[]; /* n instructions, then the sentinel (exec.h) */
};

/* ---- the software TLB ---- */

#define TLB_BITS 10
#define TLB_SIZE (1u << TLB_BITS)
#define TLB_INVALID 1ull /* never a valid tag: generations are even */

struct tlb_entry {
	uint64_t tag; /* linear page address | the TLB's generation, or TLB_INVALID */
	uintptr_t addend; /* host address = linear + addend */
};

/*
 * A TLB's entries carry its generation in the low 12 bits of the tag, so a
 * flush is O(1): bump the generation and every older entry stops matching.
 * Only when the generation wraps are the entries cleared.
 */
struct emu_tlb {
	struct tlb_entry r[TLB_SIZE], w[TLB_SIZE], x[TLB_SIZE];
	uint64_t gen; /* even, 2 .. 0xffe */
};

/* The tag an entry for la must have to hit. */
static inline uint64_t emu_tlb_tag(const struct emu_tlb *t, uint64_t la)
{
	return (la & ~0xfffull) | t->gen;
}

/* ---- lazy flags ---- */

enum lf_op {
	LF_NONE = 0, /* s->rflags holds the arithmetic flags */
	LF_ADD,
	LF_ADC,
	LF_SUB,
	LF_SBB,
	LF_LOGIC,
	LF_INC,
	LF_DEC,
};

struct lazy_flags {
	uint64_t dst, src, res;
	uint8_t op; /* enum lf_op */
	uint8_t size; /* bytes */
	uint8_t cf; /* carry in (ADC/SBB) or preserved CF (INC/DEC) */
};

/* ---- decode modes ---- */

enum emu_mode {
	MODE_REAL16,
	MODE_LEGACY16,
	MODE_LEGACY32,
	MODE_COMPAT16,
	MODE_COMPAT32,
	MODE_LONG64,
	MODE_COUNT
};

/* ---- the CPU ---- */

struct emu_jmp_entry {
	uint64_t rip;
	uint64_t epoch;
	struct emu_block *b;
};

#define JMP_CACHE_BITS 12

struct emu_cpu {
	struct x86_state *s;
	struct vcpu *v;
	struct vm *vm;

	/* current instruction */
	const struct emu_block *cur_block; /* the running block; NULL outside run_block() */
	/* The instruction emu_exec_generic() runs (or the sentinel once the block
	 * finished): specialised handlers do not update it, they never fault. */
	const struct emu_insn *cur;
	uint64_t block_rip; /* RIP of the running block's first instruction */
	uint64_t next_rip;
	uint64_t ip_mask; /* 0xffff, 0xffffffff or all ones */
	bool brk; /* stop executing the current block after this instruction */
	unsigned canon_shift; /* 64 - linear-address width: canonical checks */
	/* Chaining (exec.h): the instructions of the blocks entered since
	 * run_block() began (the running one included) that emu_retire() has
	 * not counted yet, and the most the chain may enter before the run
	 * loop must look; the link a sentinel found stale, for the loop to
	 * fill with the block it looks up next, unless the block cache was
	 * flushed meanwhile. */
	uint64_t chain_entered, chain_end;
	unsigned chain_depth; /* blocks chained since run_block(), if !EMU_SIBCALLS */
	struct emu_link *stale_link;
	uint64_t stale_link_flushes;
	uint64_t code_gen_seen; /* guest_ram.code_gen the epochs account for */
	/* A block cut short (run_block): the first instructions of a decoded
	 * block, re-specialised without flag liveness, and a sentinel. */
	struct emu_block *trunc;

	/* decode/execution mode, recomputed on CR0/EFER/CS changes */
	uint32_t mode;
	unsigned cpl;
	/* RFLAGS_AC when alignment checking is armed (CR0.AM, CPL 3), else 0:
	 * an access checks alignment when RFLAGS & ac_mask (SDM 3A 6.15
	 * "Interrupt 17"). */
	uint64_t ac_mask;
	uint64_t seg_base[SEG_COUNT]; /* effective bases (0 for ES/CS/SS/DS in 64-bit mode) */

	struct lazy_flags lf;

	/* memory */
	/* One set of TLBs per level, like VPID-tagged TLB entries: [0] L1,
	 * [1] L2; within a set [0] supervisor (CPL < 3), [1] user. */
	struct emu_tlb tlbs[2][2];
	struct emu_tlb *tlb;
	uint64_t tlb_epoch; /* renewed on every flush; validates the jump cache and links */
	/* Largest page size (shift) any entry was filled from since the last
	 * full flush: INVLPG must drop every 4 KiB piece of a large page. */
	unsigned tlb_max_shift;
	/* One jump cache per level (they map linear addresses differently), so
	 * that switching between L1 and L2 keeps both: the running level's
	 * epoch is tlb_epoch, the other's waits in level_epoch. */
	struct emu_jmp_entry jmp[2][1u << JMP_CACHE_BITS];
	unsigned jmp_level; /* 0: L1, 1: L2 -- whose cache and epoch are current */
	uint64_t level_epoch[2];
	unsigned level_cpl[2]; /* CPL each level last ran at */
	uint32_t level_mode[2]; /* and the decode mode */

	/* exceptions */
	jmp_buf jb;
	int exc_vector; /* pending fault raised by emu_raise() */
	uint32_t exc_error;
	/* The faulting address of a pending #PF: CR2 gets it when the fault is
	 * delivered, not when it causes a VM exit (SDM 26.2: the exit
	 * qualification carries it and CR2 is unchanged). */
	uint64_t exc_cr2;
	bool exc_has_error;
	int delivering; /* vector being delivered, -1 if none (double-fault rules) */
	/* The event being delivered in IDT-vectoring format (SDM 28.2.4): what an
	 * exit during its delivery reports. */
	uint32_t delivering_info, delivering_error;

	/* Hardware breakpoints (debug.c): DR0-DR3 and DR7 the masks were
	 * computed from, enabled instruction and data breakpoints, and data
	 * breakpoints hit by the running instruction (DR6 B0-B3 to report). */
	uint64_t dr_seen[5];
	uint8_t bp_exec, bp_data, bp_hit;

	/* PAUSE-loop exiting: cycles of the first and last PAUSE of a spin */
	uint64_t ple_first, ple_last;

	/* Task switch exits: set when L0 lets the switch happen (task.c). */
	bool task_switch_ok;

	/* I/O exits: data buffer, and set by complete_io() once L0 handled it */
	uint8_t io_buf[4096];
	bool io_done;
};

struct emu_vm {
	ZydisDecoder dec[MODE_COUNT];
	struct emu_block **hash;
	uint32_t hash_mask;
	uint8_t *arena;
	size_t arena_size, arena_used;
	uint64_t blocks_decoded, flushes;
	uint64_t epoch_seq; /* the last translation epoch handed out */
};

static inline struct emu_cpu *emu_of(struct vcpu *v)
{
	return v->be;
}

static inline struct emu_vm *emu_vm_of(struct vm *vm)
{
	return vm->be_data;
}

/* A translation epoch no vCPU or level of the VM has used (emu_link). */
static inline uint64_t emu_new_epoch(struct emu_cpu *c)
{
	return ++emu_vm_of(c->vm)->epoch_seq;
}

/* ---- cpu.c ---- */
void emu_update_mode(struct emu_cpu *c);
/* Flush the TLBs of the running level / of one level (1 or 2). */
void emu_tlb_flush(struct emu_cpu *c);
void emu_tlb_flush_level(struct emu_cpu *c, unsigned level);
/* Stop the current block after this instruction and leave the run loop's
 * inner loop, e.g. after a mode change or a stop request. */
static inline void emu_break(struct emu_cpu *c)
{
	c->brk = true;
}

/* ---- debug.c ---- */
/* Recompute the breakpoint masks if DR0-DR3 or DR7 changed (flushes the TLB). */
void emu_debug_sync(struct emu_cpu *c);
/* An enabled instruction breakpoint at la: sets DR6 B0-B3, returns true. */
bool emu_debug_exec_hit(struct emu_cpu *c, uint64_t la);
/* A data access [la, la+size): note the data breakpoints it hits. */
void emu_debug_data_access(struct emu_cpu *c, uint64_t la, unsigned size, bool write);
/* Does a data breakpoint watch bytes of this page (kept out of the TLB)? */
bool emu_debug_page_watched(const struct emu_cpu *c, uint64_t page_la);

/* ---- except.c ---- */
__attribute__((noreturn)) void emu_raise(struct emu_cpu *c, unsigned vector, uint32_t error);
__attribute__((noreturn)) void emu_raise_noerr(struct emu_cpu *c, unsigned vector);
/* Abandon the current instruction (or event delivery) after a VM exit that
 * replaced it, e.g. an EPT violation: nothing is retired or delivered. */
__attribute__((noreturn)) void emu_abort(struct emu_cpu *c);
/* #UD for an instruction tortuga does not implement: traced with its mnemonic. */
__attribute__((noreturn)) void emu_unimplemented(struct emu_cpu *c, const struct emu_insn *i);
/* Deliver an event through the guest IDT (SDM Vol. 3A 6.12, 6.14). */
void emu_deliver(struct emu_cpu *c, unsigned vector, unsigned type, bool has_error, uint32_t error,
		 uint64_t return_rip);
/* Handle a fault raised during execution: exit to L0 if the policy wants it,
 * else deliver it (with the double-fault rules). */
void emu_handle_fault(struct emu_cpu *c, unsigned vector, bool has_error, uint32_t error);

/* ---- mmu.c ---- */
enum emu_access { ACC_READ = 0, ACC_WRITE = 1, ACC_EXEC = 2 };
#define ACC_IMPLICIT 0x10 /* implicit supervisor access to system structures (SDM 4.6) */
#define ACC_SUPER 0x20 /* explicit supervisor access whatever the CPL (event delivery) */

uint64_t emu_read_slow(struct emu_cpu *c, uint64_t la, unsigned size, unsigned acc);
void emu_write_slow(struct emu_cpu *c, uint64_t la, unsigned size, uint64_t val, unsigned acc);
/* Translate for a fetch/read/write; raises #PF. Returns the guest-physical address. */
uint64_t emu_translate(struct emu_cpu *c, uint64_t la, unsigned acc);
/* The same without raising: false if the access would fault. */
bool emu_translate_probe(struct emu_cpu *c, uint64_t la, unsigned acc, uint64_t *gpa);
/* Linear address of seg:off with the mode's checks (canonical / limits). */
uint64_t emu_linear(struct emu_cpu *c, unsigned seg, uint64_t off, unsigned size, unsigned acc);
/* A code page was decoded: writes to it must take the slow path. */
void emu_tlb_protect_code(struct emu_vm *ev, struct vm *vm, uint64_t ram_page);
void emu_flush_page(struct vcpu *v, uint64_t la);
/* backend_ops.access_linear (core/vm.h). */
int emu_access_linear(struct vcpu *v, uint64_t la, void *buf, unsigned len, bool write, uint32_t *error);

static inline uint64_t emu_read_la(struct emu_cpu *c, uint64_t la, unsigned size)
{
	struct tlb_entry *e = &c->tlb->r[(la >> 12) & (TLB_SIZE - 1)];
	if (likely(e->tag == emu_tlb_tag(c->tlb, la) && (la & 0xfff) + size <= 4096)) {
		uint64_t v = 0;
		memcpy(&v, (void *)(uintptr_t)(la + e->addend), size);
		return v;
	}
	return emu_read_slow(c, la, size, ACC_READ);
}

static inline void emu_write_la(struct emu_cpu *c, uint64_t la, unsigned size, uint64_t val)
{
	struct tlb_entry *e = &c->tlb->w[(la >> 12) & (TLB_SIZE - 1)];
	if (likely(e->tag == emu_tlb_tag(c->tlb, la) && (la & 0xfff) + size <= 4096)) {
		memcpy((void *)(uintptr_t)(la + e->addend), &val, size);
		return;
	}
	emu_write_slow(c, la, size, val, ACC_WRITE);
}

/* seg:off with the effective segment base; 64-bit mode needs canonical
 * addresses (#GP(0), or #SS(0) for stack references). */
static inline uint64_t emu_la(struct emu_cpu *c, unsigned seg, uint64_t off, unsigned size,
			      unsigned acc)
{
	if (likely(c->mode == MODE_LONG64 && !(c->s->rflags & c->ac_mask))) {
		uint64_t la = c->seg_base[seg] + off;
		if (likely((uint64_t)((int64_t)(la << 16) >> 16) == la))
			return la;
	}
	return emu_linear(c, seg, off, size, acc);
}

static inline uint64_t emu_read(struct emu_cpu *c, unsigned seg, uint64_t off, unsigned size)
{
	return emu_read_la(c, emu_la(c, seg, off, size, ACC_READ), size);
}

static inline void emu_write(struct emu_cpu *c, unsigned seg, uint64_t off, unsigned size, uint64_t val)
{
	emu_write_la(c, emu_la(c, seg, off, size, ACC_WRITE), size, val);
}

/* Make sure [la, la+size) is writable before any state changes (RMW, PUSH
 * sequences); raises the fault now. Returns nothing: the later write then
 * cannot fault. */
void emu_probe_write(struct emu_cpu *c, uint64_t la, unsigned size);

static inline bool arch_canonical_la(const struct emu_cpu *c, uint64_t la)
{
	unsigned bits = c->vm->model.virt_bits;
	return (uint64_t)((int64_t)(la << (64 - bits)) >> (64 - bits)) == la;
}

/* ---- flags.c ---- */
uint64_t emu_flags(struct emu_cpu *c);
void emu_set_flags(struct emu_cpu *c, uint64_t rflags);
bool emu_cc(struct emu_cpu *c, unsigned cc);
bool emu_cf(struct emu_cpu *c);

static inline void lf_set(struct emu_cpu *c, enum lf_op op, unsigned size, uint64_t dst, uint64_t src,
			  uint64_t res)
{
	c->lf.op = (uint8_t)op;
	c->lf.size = (uint8_t)size;
	c->lf.dst = dst;
	c->lf.src = src;
	c->lf.res = res;
}

/* ---- operand helpers (ops_common.c) ---- */
static inline uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static inline uint64_t sign_extend(uint64_t v, unsigned size)
{
	unsigned sh = 64 - 8 * size;
	return (uint64_t)((int64_t)(v << sh) >> sh);
}

static inline uint64_t gpr_read(const struct emu_cpu *c, unsigned reg, bool hi8, unsigned size)
{
	uint64_t v = c->s->gpr[reg];
	if (unlikely(hi8))
		return (v >> 8) & 0xff;
	return v & size_mask(size);
}

/* SF, ZF and PF of a result of sz bytes (PF: even parity of the low byte,
 * SDM Vol. 1 3.4.3.1). */
static inline uint64_t emu_szp(uint64_t res, unsigned sz)
{
	uint64_t r = res & size_mask(sz);
	uint64_t f = 0;
	if (!r)
		f |= RFLAGS_ZF;
	if (r >> (8 * sz - 1))
		f |= RFLAGS_SF;
	if (!__builtin_parity((unsigned)(r & 0xff)))
		f |= RFLAGS_PF;
	return f;
}

/* x86-64 register write rules: 32-bit writes zero-extend, 8/16-bit merge. */
static inline void gpr_write(struct emu_cpu *c, unsigned reg, bool hi8, unsigned size, uint64_t val)
{
	uint64_t *r = &c->s->gpr[reg];
	switch (size) {
	case 1:
		if (hi8)
			*r = (*r & ~0xff00ull) | ((val & 0xff) << 8);
		else
			*r = (*r & ~0xffull) | (val & 0xff);
		break;
	case 2:
		*r = (*r & ~0xffffull) | (val & 0xffff);
		break;
	case 4:
		*r = (uint32_t)val;
		break;
	default:
		*r = val;
	}
}

uint64_t emu_ea(struct emu_cpu *c, const struct emu_insn *i, const struct emu_operand *o);
uint64_t emu_op_read(struct emu_cpu *c, const struct emu_insn *i, unsigned n);
void emu_op_write(struct emu_cpu *c, const struct emu_insn *i, unsigned n, uint64_t val);
/* Linear address of a memory operand, checked for a write (RMW instructions
 * translate once, then read and write through it). */
uint64_t emu_op_la(struct emu_cpu *c, const struct emu_insn *i, unsigned n, unsigned acc);

/* Stack */
void emu_push(struct emu_cpu *c, unsigned size, uint64_t val);
uint64_t emu_pop(struct emu_cpu *c, unsigned size);
unsigned emu_stack_size(const struct emu_cpu *c);

/* Branch to target (masked to the mode's IP width; 64-bit: canonical or #GP). */
void emu_jump(struct emu_cpu *c, uint64_t target);

/* Exit to L0 for the current instruction. Returns after the handler ran;
 * the handler owns RIP (the instruction is retired only by vcpu_skip_insn). */
void emu_exit_insn(struct emu_cpu *c, const struct emu_insn *i, struct vm_exit *e);

/* ---- decode.c ---- */
/* Decode the block starting at linear address la (host: its byte in RAM,
 * gpa: its guest-physical address). NULL if the arena is full. */
struct emu_block *emu_decode_block(struct emu_cpu *c, uint64_t la, uint8_t *host, uint64_t gpa);
int emu_decoders_init(struct emu_vm *ev);
/* Handler table lookup by mnemonic (NULL: unimplemented). */
emu_fn emu_handler_for(ZydisMnemonic m, uint8_t *flags);

#endif
