/*
 * The differential suite (checkasm style): one instruction, the same bytes
 * and the same inputs, run on the host CPU (native.c) and on tortuga's emu
 * CPU (guest.c); main.c compares the results.
 *
 * Both sides use the same virtual addresses: the host maps its code page and
 * data pages at the guest-physical addresses the guest identity-maps, so
 * every register (including memory base registers and RIP-relative operands)
 * holds the same value on both sides.
 */
#ifndef TESTS_DIFF_DIFF_H
#define TESTS_DIFF_DIFF_H

#include <stdbool.h>
#include <stdint.h>

#define DIFF_CODE_VA 0x800000ull /* one page: the instruction, then RET */
#define DIFF_DATA_VA 0xa00000ull /* four pages of data */
#define DIFF_DATA_SIZE 0x4000ull
/* The bytes an instruction may touch: 1 KiB around the boundary between
 * the first and second data page, so page-crossing accesses are exercised
 * (and a 576-byte XSAVE area fits on either side of it). */
#define DIFF_WIN_SIZE 1024u
#define DIFF_WIN_VA (DIFF_DATA_VA + 0x1000 - DIFF_WIN_SIZE / 2)
/* The last bytes of the data pages: operands that run off their end fault
 * (#PF on the next page), and nothing of them may have been written. */
#define DIFF_TAIL_VA (DIFF_DATA_VA + DIFF_DATA_SIZE - 64)
#define DIFF_TAIL_SIZE 64u
#define DIFF_MEM_SIZE (DIFF_WIN_SIZE + DIFF_TAIL_SIZE) /* window, then tail */
#define DIFF_STACK_VA 0xc00000ull /* the guest's exception stack (IST1) */
#define DIFF_GS_BASE 0x100000ull /* GS base on both sides (arch_prctl on the host) */
#define DIFF_CODE_MAX 32 /* instruction plus the jump back (native.c) */
/*
 * The code page: [0, 0x20) the case (instruction, then the jump back);
 * the rest is written once (native.c diff_code_fixed): a NOP sled that
 * branch cases land in, ending in a far jump to the "taken" exit; the 64-bit
 * entry that far-jumps to a compatibility-mode case; far pointers; the
 * 64-bit exit stubs.
 */
#define DIFF_CODE_FIXED 0x20 /* offset of the fixed part */
#define DIFF_SLED_LO (DIFF_CODE_VA + 0x20) /* branch targets: [LO, HI) */
#define DIFF_SLED_HI (DIFF_CODE_VA + 0x7e0)
#define DIFF_CODE_ENTRY32 (DIFF_CODE_VA + 0x800)
#define DIFF_CODE_PTR64 (DIFF_CODE_VA + 0x900) /* m16:32 -> 64-bit exit stub */
#define DIFF_CODE_PTR32 (DIFF_CODE_VA + 0x910) /* m16:32 -> the case, 32-bit CS */
#define DIFF_CODE_PTR_TAKEN (DIFF_CODE_VA + 0x920) /* m16:32 -> 64-bit "taken" exit */
#define DIFF_CODE_EXIT64 (DIFF_CODE_VA + 0x980)
#define DIFF_CODE_EXIT_TAKEN (DIFF_CODE_VA + 0x9a0)
#define DIFF_CODE_ENTRY16 (DIFF_CODE_VA + 0x840) /* loads the 16-bit segments */
#define DIFF_CODE_SEL16 (DIFF_CODE_VA + 0x930) /* the 16-bit data selector */
#define DIFF_CODE_PTR16 (DIFF_CODE_VA + 0x938) /* m16:32 -> the case, 16-bit CS */

#define DIFF_RSP 4
/* RFLAGS bits a case sets and compares: the arithmetic flags, DF and ID.
 * IF is 1 on both sides (user mode on the host). */
#define DIFF_FLAGS 0x200cd5ull
#define DIFF_IF 0x200ull

/* Layout shared with native.S: 16 GPRs in encoding order, RFLAGS, then the
 * x87/MMX/SSE state as an FXSAVE64 image (SDM Vol. 2A FXSAVE, Table 3-56):
 * FXRSTOR64 loads it before the instruction, FXSAVE64 stores it after. */
#define DIFF_FX_OFFSET 144
struct diff_regs {
	uint64_t gpr[16];
	uint64_t rflags;
	uint64_t pad;
	uint8_t fx[512] __attribute__((aligned(16)));
};
_Static_assert(__builtin_offsetof(struct diff_regs, fx) == DIFF_FX_OFFSET, "native.S layout");


#define DIFF_NO_FAULT (-1)

struct diff_case {
	uint8_t code[16]; /* 16: room for one byte too many */
	uint8_t len;
	struct diff_regs in;
	uint8_t mem[DIFF_MEM_SIZE];
	/* What the SDM defines: RFLAGS bits to compare, GPRs whose final
	 * value is undefined, and whether the memory result is defined. */
	uint64_t flags_defined;
	uint16_t regs_undefined;
	bool mem_undefined;
	/* Memory bytes whose result is implementation-specific (FXSAVE's
	 * MXCSR_MASK and x87 pointers): [off, off + len) in mem[]. */
	struct {
		uint16_t off, len;
	} mem_skip[2];
	uint8_t nskip;
	/* x87 forms: which of the last-instruction pointers to compare when
	 * the case leaves an exception pending (main.c compare()). */
	uint8_t x87_pointers; /* 0, DIFF_X87_FIP (FOP and FIP), | DIFF_X87_FDP */
	bool compat; /* 32-bit or 16-bit code in compatibility mode */
	bool code16; /* 16-bit code: DS, ES, SS based at DIFF_DATA_VA, 64 KiB */
	uint64_t target; /* branch cases: where a taken branch goes (0: none) */
	const char *form; /* the form's name, for reports */
};

#define DIFF_X87_FIP 1
#define DIFF_X87_FDP 2

struct diff_out {
	struct diff_regs r; /* at completion, or at the fault */
	uint8_t mem[DIFF_MEM_SIZE];
	int fault; /* exception vector, or DIFF_NO_FAULT */
	uint32_t error; /* its error code (#PF: P and W bits only) */
	uint64_t cr2; /* #PF: the faulting linear address */
	uint64_t rip; /* emu only: RIP after the instruction */
};

/* The address of byte k of diff_case.mem. */
static inline uint64_t diff_mem_va(unsigned k)
{
	return k < DIFF_WIN_SIZE ? DIFF_WIN_VA + k : DIFF_TAIL_VA + (k - DIFF_WIN_SIZE);
}

/* native.c: map the host pages; run one case on the host CPU. Compatibility
 * mode cases need the host kernel's 32-bit user code segment. */
int native_init(void);
extern bool native_compat_ok, native_code16_ok;
/* The bytes both sides put at DIFF_CODE_VA (at most DIFF_CODE_MAX). */
void diff_code_bytes(const struct diff_case *c, uint8_t *code);
/* The fixed part of the code page, DIFF_CODE_FIXED.. (4096 - that) bytes. */
void diff_code_fixed(uint8_t *page_tail);
void native_run(const struct diff_case *c, struct diff_out *o);

/* guest.c: create the VM; run one case on the emu CPU. */
int guest_init(void);
void guest_fini(void);
void guest_run(const struct diff_case *c, struct diff_out *o);
/* An unimplemented instruction gives #UD and its trace event; 0 if so. */
int guest_check_unimplemented(void);

/*
 * Instruction sequences (blocks.c): code at DIFF_SEQ_VA (the third data
 * page), a loop counter at DIFF_SEQ_COUNTER (the first data page), both
 * outside the window. guest_run_seq() loads the whole data area (`data`,
 * DIFF_DATA_SIZE bytes: code, counter, window and all), the case's
 * registers and flags, starts at DIFF_SEQ_VA and runs until the vCPU stops
 * (the sequence's final HLT, or a fault's stub) or DIFF_SEQ_MAX_INSNS
 * retired: as whole decoded blocks, or one instruction per vm_run().
 */
#define DIFF_SEQ_VA (DIFF_DATA_VA + 0x2000)
#define DIFF_SEQ_SIZE 0x1000u
#define DIFF_SEQ_COUNTER DIFF_DATA_VA
#define DIFF_SEQ_MAX_INSNS 100000u

struct diff_seq_out {
	struct diff_regs r;
	uint64_t rip;
	uint32_t stop; /* TORTUGA_STOP_* */
	uint64_t insns; /* retired */
	uint8_t data[DIFF_DATA_SIZE];
};

void guest_run_seq(const struct diff_case *c, const uint8_t *data, bool step, struct diff_seq_out *o);

/* gen.c: the instruction forms and their case generator. */
struct rng {
	uint64_t s[4];
};
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

unsigned gen_form_count(void);
const char *gen_form_name(unsigned f);
bool gen_form_compat(unsigned f); /* 32-bit compatibility-mode code */
bool gen_form_code16(unsigned f);
unsigned gen_form_mnemonic(unsigned f); /* ZydisMnemonic; INVALID for hand-written bytes */
/* Fill *c with a random case of form f; false if the form cannot be
 * encoded with the drawn operands (the caller draws again). */
bool gen_case(unsigned f, struct rng *r, struct diff_case *c);
/* Cases the generator threw away because they broke its own invariants. */
extern unsigned gen_bugs;

#endif
