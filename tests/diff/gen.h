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
};

struct opspec {
	uint8_t k;
	uint8_t sz; /* bytes; 0: the form's operand size */
};

struct form {
	char name[48];
	ZydisMnemonic mnem;
	uint8_t group;
	uint8_t sz; /* operand size in bytes */
	uint8_t nops;
	struct opspec op[3];
	uint32_t prefixes; /* ZYDIS_ATTRIB_HAS_REP... (string forms) */
	uint8_t asz; /* string forms: address size, bytes */
	const uint8_t *raw; /* hand-written encoding (rawlen bytes) */
	uint8_t rawlen;
	bool compat; /* runs in compatibility mode (32-bit or 16-bit code) */
	bool code16; /* 16-bit code: CS.D = 0, data segments based at DIFF_DATA_VA */
	uint16_t undef_regs; /* hand-written forms: GPRs with an undefined result */
};

#define MAX_FORMS 2048
extern struct form forms[MAX_FORMS];
extern unsigned nforms;

/* Fill forms[] (once). */
void forms_build(void);

#endif
