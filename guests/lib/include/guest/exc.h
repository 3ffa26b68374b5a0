/*
 * Exceptions for self-test guests: an IDT whose 256 entries lead to one C
 * dispatcher that records what the CPU delivered (vector, error code, CR2 and
 * the stack frame) and then resumes the guest.
 *
 * How a guest resumes after an exception:
 *  - skip: an instruction written with EXC_SAFE() in inline assembly resumes
 *    at the instruction after it (a fixup table, like Linux's exception
 *    tables); the exc_*_safe() helpers below are built on it.
 *  - fix up and retry: a handler installed with exc_set_handler() changes
 *    the cause (maps the page, ...) and returns true; the guest returns to
 *    the faulting instruction, which runs again.
 *  - traps (#DB single-step, #BP, INT n) return to the next instruction by
 *    themselves: a handler just returns true (exc_resume), and a trap from
 *    an EXC_SAFE instruction needs nothing.
 *  - escape: exc_escape() leaves code that cannot go on (below).
 * Anything else is an unexpected exception: the dispatcher prints the record
 * and bails out (tap_bail), so a broken CPU cannot hang a self-test.
 *
 * Frames follow SDM Vol. 3A 6.14.2 (64-bit mode): the CPU pushes SS, RSP,
 * RFLAGS, CS, RIP and, for some vectors, an error code; the stubs push a
 * zero error code for the others so every frame has one layout.
 */
#ifndef GUEST_EXC_H
#define GUEST_EXC_H

/* Vectors for which the CPU pushes an error code (SDM 3A 6.3.1, Table 6-1):
 * #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14, #AC 17, #CP 21. Also read
 * by the assembly stubs. */
#define EXC_ERROR_VECTORS 0x00227d00

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

#include "core/x86.h"

struct exc_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector;
	uint64_t error; /* pushed by the CPU, or 0 from the stub (exc_pushes_error) */
	uint64_t rip, cs, rflags, rsp, ss; /* the frame the CPU pushed */
};

/* What the last exception delivered. */
struct exc_record {
	int vector; /* -1: none since exc_reset() */
	uint64_t error, rip, cs, rflags, rsp, ss;
	uint64_t cr2; /* read on entry, before anything else can fault */
	uint64_t frame; /* address of the RIP slot of the hardware frame */
	uint64_t rax; /* the guest's RAX at the exception */
};

extern volatile struct exc_record exc_last;
/* Exceptions taken per vector since boot. */
extern volatile uint64_t exc_count[256];

/* Build the GDT and TSS (desc_init) and the IDT, and load them. Every vector
 * gets a 64-bit interrupt gate at DPL 0 without IST, except #DF (IST
 * GUEST_IST_DF) and USER_RETURN_VECTOR (DPL 3). */
void exc_init(void);

typedef bool (*exc_handler)(struct exc_frame *f);
/* Run h for vector v before the fixup table; h returns true if it handled
 * the exception (and may edit f, e.g. f->rip). NULL removes it. */
void exc_set_handler(unsigned v, exc_handler h);
/* A handler for traps (INT n, INT3, INT1, single-step): resume where the
 * CPU says, i.e. after the instruction. */
bool exc_resume(struct exc_frame *f);
/* Gate attributes of vector v (SDM 3A 6.14.1, Figure 6-8). */
void exc_set_gate(unsigned v, unsigned dpl, bool trap_gate, unsigned ist);
void exc_set_ist(unsigned v, unsigned ist);
void exc_set_present(unsigned v, bool present);
/* Does the CPU push an error code for vector v (SDM 3A 6.3.1, Table 6-1)? */
bool exc_pushes_error(unsigned v);
/* The stub address of vector v (the gate's target). */
uint64_t exc_stub(unsigned v);

static inline void exc_reset(void)
{
	exc_last.vector = -1;
}

/*
 * EXC_SAFE("insn"): an inline-assembly instruction that may fault; on an
 * exception the guest resumes right after it. Use with exc_reset() before
 * and exc_last.vector after (and a "memory" clobber).
 */
#define EXC_SAFE(insn)                                                     \
	"6661: " insn "\n6662:\n"                                          \
	".pushsection exc_fixup, \"a\"\n.balign 8\n.quad 6661b, 6662b\n" \
	".popsection\n"

/*
 * Escapes from exceptions after which the interrupted code cannot go on
 * (#DF, whose saved RIP is undefined; faults on a broken RSP): inline
 * assembly starts with EXC_ESCAPE_ARM (clobbers RAX), which records RSP and
 * the address of EXC_ESCAPE_LABEL; a handler calling exc_escape() resumes
 * there with that RSP, at CPL 0.
 */
#define EXC_ESCAPE_ARM                                                      \
	"lea 6663f(%%rip), %%rax\n\tmov %%rax, exc_escape_rip(%%rip)\n\t" \
	"mov %%rsp, exc_escape_rsp(%%rip)\n\t"
#define EXC_ESCAPE_LABEL "6663:\n"
extern uint64_t exc_escape_rip, exc_escape_rsp;
bool exc_escape(struct exc_frame *f);

/* Memory and MSR accesses that report the exception vector they raised
 * (-1 for none) instead of dying. */
int exc_read8_safe(const volatile void *p, uint8_t *v);
int exc_read64_safe(const volatile void *p, uint64_t *v);
int exc_write8_safe(volatile void *p, uint8_t v);
int exc_write64_safe(volatile void *p, uint64_t v);
int exc_rdmsr_safe(uint32_t msr, uint64_t *v);
int exc_wrmsr_safe(uint32_t msr, uint64_t v);
/* Call the code at addr (which must return); if fetching its first
 * instruction faults, resume as if it had returned. */
int exc_call_safe(uint64_t addr);

#endif /* __ASSEMBLER__ */
#endif
