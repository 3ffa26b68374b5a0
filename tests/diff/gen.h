/*
 * Private to the differential suite's generator: instruction forms (forms.c)
 * and what generating a case needs to know about them (gen.c).
 */
#ifndef TESTS_DIFF_GEN_H
#define TESTS_DIFF_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

#include "diff.h"

#define CF 0x001u
#define PF 0x004u
#define AF 0x010u
#define ZF 0x040u
#define SF 0x080u
#define DF 0x400u
#define OF 0x800u
#define ID 0x200000u
#define ARITH (CF | PF | AF | ZF | SF | OF)
#define COMPARED DIFF_FLAGS

enum group {
	G_ARITH, /* ADD ADC SUB SBB CMP NEG */
	G_LOGIC, /* AND OR XOR TEST */
	G_INCDEC,
	G_NOT,
	G_MUL, /* MUL, IMUL (all forms) */
	G_DIV, /* DIV, IDIV */
	G_SHIFT, /* SHL/SAL SHR SAR */
	G_ROT, /* ROL ROR */
	G_RCX, /* RCL RCR */
	G_SHXD, /* SHLD SHRD */
	G_BT,
	G_BSF, /* BSF BSR */
	G_CNT, /* TZCNT LZCNT */
	G_POPCNT,
	G_MOVE, /* no flags affected: BSWAP MOVBE XCHG CMOVcc SETcc LAHF CBW.. MOVZX MOVSX */
	G_SAHF,
	G_CMPXCHG,
	G_XADD,
	G_CX8, /* CMPXCHG8B CMPXCHG16B */
	G_ANDN,
	G_BEXTR,
	G_BLS, /* BLSI BLSMSK BLSR */
	G_STR, /* MOVS STOS LODS */
	G_STRCMP, /* CMPS SCAS */
	G_STACK, /* PUSH POP PUSHF POPF ENTER LEAVE: no flags affected but POPF's */
	G_XLAT,
	G_BRANCH, /* JMP Jcc CALL RET LOOPcc JrCXZ: no flags affected */
	/* x87/MMX/SSE (forms_sse.c, gen_sse.c); RFLAGS only from COMISS &c. */
	G_SSE, /* vector instructions */
	G_SSE_SHIFT, /* PSLLx... with an imm8 count */
	G_SSE_CMP, /* CMPPS... with an imm8 predicate */
	G_MXCSR, /* LDMXCSR STMXCSR */
	G_X87CTL, /* FNINIT FLDCW FNSTCW FNSTSW FNCLEX FWAIT EMMS */
	G_FXSAVE, /* FXSAVE FXRSTOR */
	G_XSAVE, /* XSAVE XSAVEOPT XRSTOR: EDX:EAX is the request */
	G_X87, /* x87 data, arithmetic and environment instructions */
};

/* Element types of vector operands: what their random values look like. */
enum vtype {
	VT_BYTES, /* random bits */
	VT_I8,
	VT_I16,
	VT_I32,
	VT_I64,
	VT_F32,
	VT_F64,
	VT_F80, /* x87 double extended */
};

/* Operand kinds of a form's shape. */
enum opk {
	K_NONE,
	K_R, /* general-purpose register */
	K_M, /* memory */
	K_RM, /* either, drawn per case */
	K_ACC, /* AL/AX/EAX/RAX */
	K_CL,
	K_ONE, /* the constant 1 of the D0/D1 shifts */
	K_I8S, /* imm8, sign-extended to the operand size */
	K_IZ, /* imm of the operand size, at most 32 bits, sign-extended */
	K_I8U, /* imm8 taken as is (counts, bit offsets) */
	K_I16, /* imm16 (ENTER's allocation size) */
	K_IMM, /* imm of the full operand size (MOV r, imm: B0+r/B8+r) */
	K_REL8, /* branch displacement */
	K_REL32,
	K_X, /* XMM register */
	K_XM, /* XMM register or memory, drawn per case */
	K_MM, /* MMX register */
	K_MMM, /* MMX register or memory */
	K_ST0, /* x87 ST(0) */
	K_STI, /* x87 ST(i), i drawn per case */
};

struct opspec {
	uint8_t k;
	uint16_t sz; /* bytes; 0: the form's operand size */
};

struct form {
	char name[48];
	ZydisMnemonic mnem;
	uint8_t group;
	uint16_t sz; /* operand size in bytes */
	uint8_t nops;
	struct opspec op[3];
	uint32_t prefixes; /* ZYDIS_ATTRIB_HAS_REP... (string forms) */
	uint8_t asz; /* string forms: address size, bytes */
	const uint8_t *raw; /* hand-written encoding (rawlen bytes) */
	uint8_t rawlen;
	bool compat; /* runs in compatibility mode (32-bit or 16-bit code) */
	bool code16; /* 16-bit code: CS.D = 0, data segments based at DIFF_DATA_VA */
	uint16_t undef_regs; /* hand-written forms: GPRs with an undefined result */
	uint8_t vt; /* enum vtype of the vector operands */
	uint8_t align; /* memory operand alignment the instruction requires (0: none) */
};

#define MAX_FORMS 4096
extern struct form forms[MAX_FORMS];
extern unsigned nforms;

/* Fill forms[] (once). */
void forms_build(void);
/* forms_sse.c: add the x87/MMX/SSE forms. */
void forms_sse_build(void);
struct form *add_form(ZydisMnemonic m, enum group g, unsigned sz, unsigned nops, struct opspec a,
		      struct opspec b, struct opspec c);

/* gen.c: the bytes of the case's memory at linear address addr (those in
 * the window or the tail). */
int gen_mem_index(uint64_t addr); /* -1: not in the window or the tail */
void gen_mem_put(struct diff_case *c, uint64_t addr, const void *buf, unsigned len);
void gen_mem_get(const struct diff_case *c, uint64_t addr, void *buf, unsigned len);
uint64_t gen_value(struct rng *r, unsigned sz);

/* gen_sse.c: operand values of the x87/MMX/SSE forms, once the case is
 * encoded: every XMM and x87/MMX register, MXCSR, the memory operand (at
 * mem_addr, mem_size bytes; mem_size 0: none) and implicit operands. */
void gen_sse_values(struct rng *r, struct diff_case *c, const struct form *f, uint64_t mem_addr,
		    unsigned mem_size);
/* The x87/SSE state every case starts from: FNINIT's x87, MXCSR 1F80H. */
void gen_fx_default(uint8_t *fx);

#endif
