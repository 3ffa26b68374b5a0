/*
 * Exception capture for PC guests. trap_init() installs an IDT whose 256
 * stubs save the registers and call one C handler. An instruction that is
 * expected to fault is marked with EX_TRY(): the handler finds its address
 * in the ex_table section and resumes at the fix-up label; the exception's
 * vector, error code and stack frame are kept in trap_last. Other vectors
 * go to a handler set with trap_set_handler(), or stop the guest.
 */
#ifndef PC_TRAP_H
#define PC_TRAP_H

#include "pc.h"

#ifdef __x86_64__
#define EX_PTR ".quad"
#else
#define EX_PTR ".long"
#endif

/* In an asm statement: "1: insn\n2:\n" EX_TRY("1b", "2b") makes a fault at
 * 1 resume at 2. */
#define EX_TRY(insn_label, resume_label)                                             \
	".pushsection ex_table, \"a\"\n\t" EX_PTR " " insn_label ", " resume_label "\n\t" \
	".popsection\n\t"

/* The registers saved by the stubs, then what the CPU pushed. */
struct trap_frame {
#ifdef __x86_64__
	ulong r15, r14, r13, r12, r11, r10, r9, r8;
#endif
	ulong di, si, bp, sp_unused, bx, dx, cx, ax;
	ulong vector, error; /* error: 0 when the vector pushes none */
	ulong ip, cs, flags;
	ulong sp, ss; /* 64-bit: always; 32-bit: only after a privilege change */
};

struct trap_record {
	ulong vector, error, ip, cs, flags, sp, ss, cr2;
	unsigned count; /* exceptions captured so far */
};

extern volatile struct trap_record trap_last;

/* Gate types (SDM Vol. 3A 3.5 Table 3-2, 6.11). */
#define GATE_INT 0xe
#define GATE_TRAP 0xf

typedef void (*trap_handler_fn)(struct trap_frame *f);

/* Build the IDT (all 256 vectors: interrupt gates, DPL 0, code selector
 * cs) and load it. */
void trap_init(uint16_t cs);
/* Change one gate: type, DPL, and (64-bit) IST index. */
void trap_set_gate(unsigned vector, unsigned type, unsigned dpl, unsigned ist);
/* Point a gate at another handler address (raw, for special tests). */
void trap_set_gate_target(unsigned vector, uint16_t sel, ulong target);
/* Call fn for this vector instead of the default (fatal) handling. */
void trap_set_handler(unsigned vector, trap_handler_fn fn);
/* The IDT itself (for tests that need its address). */
void *trap_idt(void);
/* Count of captured exceptions; use with trap_last. */
static inline unsigned trap_count(void)
{
	return trap_last.count;
}


/*
 * Check that exactly one exception was captured since `before` and that it
 * had this vector, error code (err < 0: not checked) and faulting IP: one TAP
 * line; then RF in the pushed flags (rf < 0: not checked) in a second one.
 */
void expect_trap(const char *what, unsigned before, unsigned vector, long err, ulong ip, int rf);
/* The same for a saved record (see trap_snapshot()). */
void expect_rec(const char *what, const struct trap_record *r, unsigned vector, long err, ulong ip, int rf);
/* Copy trap_last. */
void trap_snapshot(struct trap_record *out);
/* The address of vector v's entry stub (to re-point a gate). */
ulong trap_stub(unsigned v);
/* No exception since `before`. */
void expect_no_trap(const char *what, unsigned before);

/* The address of local label `lbl` (in an asm statement) into a register. */
#define ASM_LABEL_ADDR(lbl, reg) "mov $" lbl ", " reg "\n\t"

#endif
