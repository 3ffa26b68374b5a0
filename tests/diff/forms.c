/*
 * The instruction forms of the differential suite: every mnemonic with
 * every operand size and operand shape it has ("add r/m32, imm8"), then
 * the same forms in 32-bit and 16-bit compatibility mode, plus hand-written
 * encodings the Zydis encoder never produces.
 */
#include <stdio.h>
#include <string.h>

#include "gen.h"

struct form forms[MAX_FORMS];
unsigned nforms;

/* ---- the form table ---- */

static const char *size_suffix(unsigned sz)
{
	return sz == 1 ? "8" : sz == 2 ? "16" : sz == 4 ? "32" : "64";
}

static void shape_text(char *buf, size_t len, const struct opspec *o, unsigned fsz)
{
	unsigned sz = o->sz ? o->sz : fsz;
	static const char *acc[] = { [1] = "al", [2] = "ax", [4] = "eax", [8] = "rax" };
	switch (o->k) {
	case K_R: snprintf(buf, len, "r%s", size_suffix(sz)); break;
	case K_M: snprintf(buf, len, "m%u", 8 * sz); break;
	case K_RM: snprintf(buf, len, "r/m%s", size_suffix(sz)); break;
	case K_ACC: snprintf(buf, len, "%s", acc[sz]); break;
	case K_CL: snprintf(buf, len, "cl"); break;
	case K_ONE: snprintf(buf, len, "1"); break;
	case K_I8S:
	case K_I8U: snprintf(buf, len, "imm8"); break;
	case K_IZ: snprintf(buf, len, "imm%s", sz > 4 ? "32" : size_suffix(sz)); break;
	case K_I16: snprintf(buf, len, "imm16"); break;
	case K_IMM: snprintf(buf, len, "imm%s", size_suffix(sz)); break;
	case K_REL8: snprintf(buf, len, "rel8"); break;
	case K_REL32: snprintf(buf, len, "rel32"); break;
	case K_X: snprintf(buf, len, "xmm"); break;
	case K_XM: snprintf(buf, len, "xmm/m%u", 8 * sz); break;
	case K_MM: snprintf(buf, len, "mm"); break;
	case K_MMM: snprintf(buf, len, "mm/m%u", 8 * sz); break;
	case K_ST0: snprintf(buf, len, "st0"); break;
	case K_STI: snprintf(buf, len, "st(i)"); break;
	default: buf[0] = 0;
	}
}

struct form *add_form(ZydisMnemonic m, enum group g, unsigned sz, unsigned nops, struct opspec a,
		      struct opspec b, struct opspec c)
{
	if (nforms == MAX_FORMS)
		return NULL;
	struct form *f = &forms[nforms++];
	memset(f, 0, sizeof(*f));
	f->mnem = m;
	f->group = (uint8_t)g;
	f->sz = (uint16_t)sz;
	f->nops = (uint8_t)nops;
	f->op[0] = a;
	f->op[1] = b;
	f->op[2] = c;
	char name[48];
	snprintf(name, sizeof(name), "%s", ZydisMnemonicGetString(m));
	for (unsigned k = 0; k < nops; k++) {
		char t[16];
		shape_text(t, sizeof(t), &f->op[k], sz);
		size_t n = strlen(name);
		snprintf(name + n, sizeof(name) - n, "%s%s", k ? ", " : " ", t);
	}
	if (g == G_STACK && (nops == 0 || a.k != K_R))
		snprintf(name + strlen(name), sizeof(name) - strlen(name), " (o%u)", 8 * sz);
	for (char *p = name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	memcpy(f->name, name, sizeof(name));
	return f;
}

#define S1 1u
#define S2 2u
#define S4 4u
#define S8 8u
#define SALL (S1 | S2 | S4 | S8)
#define SW (S2 | S4 | S8)
#define SD (S4 | S8)
#define OP(kind) ((struct opspec){ (kind), 0 })
#define OPS(kind, size) ((struct opspec){ (kind), (size) })
#define NOP_ OP(K_NONE)

static void add_sizes(ZydisMnemonic m, enum group g, unsigned sizes, unsigned nops, struct opspec a,
		      struct opspec b, struct opspec c)
{
	for (unsigned sz = 1; sz <= 8; sz <<= 1)
		if (sizes & sz)
			add_form(m, g, sz, nops, a, b, c);
}

static struct form *add_raw(const char *name, enum group g, unsigned sz, const uint8_t *bytes, unsigned len)
{
	struct form *f = add_form(ZYDIS_MNEMONIC_INVALID, g, sz, 0, NOP_, NOP_, NOP_);
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->raw = bytes;
	f->rawlen = (uint8_t)len;
	return f;
}

/* Encodings the Zydis encoder never picks. Operand registers are fixed;
 * their values are random. */
static const uint8_t raw_sal_d1[] = { 0xd1, 0xf1 }; /* sal ecx, 1 (D1 /6) */
static const uint8_t raw_sal_d3[] = { 0x48, 0xd3, 0xf2 }; /* sal rdx, cl (D3 /6) */
static const uint8_t raw_sal_c0[] = { 0xc0, 0xf3, 0x05 }; /* sal bl, 5 (C0 /6) */
static const uint8_t raw_shl_c1_1[] = { 0x66, 0xc1, 0xe6, 0x01 }; /* shl si, 1 (C1 /4 ib) */
static const uint8_t raw_test_f6_1[] = { 0xf6, 0xca, 0x5a }; /* test dl, 0x5a (F6 /1) */
static const uint8_t raw_test_f7_1[] = { 0x48, 0xf7, 0xcf, 0x00, 0x00, 0x00, 0x80 }; /* test rdi, imm (F7 /1) */
static const uint8_t raw_add_82[] = { 0x82, 0xc0, 0x01 }; /* 82 /0: invalid in 64-bit mode */
static const uint8_t raw_add_rr03[] = { 0x4d, 0x03, 0xc1 }; /* add r8, r9 (03 /r) */
static const uint8_t raw_xchg_87[] = { 0x87, 0xc0 }; /* xchg eax, eax (87 /r: zero-extends) */
static const uint8_t raw_xchg_90_r8[] = { 0x41, 0x90 }; /* xchg eax, r8d (REX.B 90) */
static const uint8_t raw_lock_add_rr[] = { 0xf0, 0x01, 0xc8 }; /* lock add eax, ecx: #UD */
static const uint8_t raw_lock_cmp_m[] = { 0xf0, 0x39, 0x06 }; /* lock cmp [rsi], eax: #UD */
static const uint8_t raw_bswap16[] = { 0x66, 0x0f, 0xc9 }; /* bswap cx (undefined result) */
static const uint8_t raw_movsxd16[] = { 0x66, 0x63, 0xc1 }; /* movsxd ax, ecx */
static const uint8_t raw_movsxd32[] = { 0x63, 0xc1 }; /* movsxd eax, ecx */
static const uint8_t raw_toolong[] = { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
				       0x66, 0x66, 0x66, 0x66, 0x66, 0x01, 0xc8 }; /* 15 bytes: legal */
static const uint8_t raw_toolong16[] = { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					 0x66, 0x66, 0x66, 0x66, 0x66, 0x01, 0xc8 }; /* 16 bytes: #GP(0) */
static const uint8_t raw_rep_ret[] = { 0xf3, 0xc3 }; /* rep ret (F3 ignored) */
static const uint8_t raw_imul_69_16[] = { 0x66, 0x69, 0xc1, 0x00, 0x80 }; /* imul ax, cx, 0x8000 */
static const uint8_t raw_cmpxchg_lock_rr[] = { 0xf0, 0x0f, 0xb1, 0xc8 }; /* lock cmpxchg eax, ecx: #UD */

static const uint8_t raw_mov_moffs_ld[] = { 0x48, 0xa1, 0x40, 0x10, 0xa0, 0, 0, 0, 0, 0 }; /* mov rax, [0xa01040] */
static const uint8_t raw_mov_moffs_st[] = { 0xa3, 0xfc, 0x0f, 0xa0, 0, 0, 0, 0, 0 }; /* mov [0xa00ffc], eax */
static const uint8_t raw_mov_moffs8[] = { 0xa0, 0x00, 0x10, 0xa0, 0, 0, 0, 0, 0 }; /* mov al, [0xa01000] */
static const uint8_t raw_mov_moffs32_c[] = { 0xa1, 0x40, 0x10, 0xa0, 0 }; /* mov eax, [0xa01040] */
static const uint8_t raw_mov_moffs16_c[] = { 0x66, 0xa3, 0xff, 0x0f, 0xa0, 0 }; /* mov [0xa00fff], ax */
static const uint8_t raw_nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 }; /* nop dword [rax+rax] */
static const uint8_t raw_nop9[] = { 0x66, 0x0f, 0x1f, 0x84, 0x00, 0, 0, 0, 0 }; /* nop word [rax+rax+0] */
static const uint8_t raw_nop66[] = { 0x66, 0x90 }; /* xchg ax, ax */

static const ZydisMnemonic jccs[16] = {
	ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JNB,
	ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
	ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP,
	ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE,
};

static const uint8_t raw_push_rsp[] = { 0xff, 0x74, 0x24, 0x10 }; /* push [rsp+0x10] */
static const uint8_t raw_pop_rsp[] = { 0x8f, 0x44, 0x24, 0x10 }; /* pop [rsp+0x10]: address after the pop */
static const uint8_t raw_pop_rsp_reg[] = { 0x5c }; /* pop rsp */
static const uint8_t raw_push_rsp_reg[] = { 0x54 }; /* push rsp: the old value */

/*
 * The same forms in compatibility mode (IA-32e mode with a 32-bit or 16-bit
 * code segment, SDM Vol. 3A 5.2.1 / Vol. 1 3.2.1): 32-bit (16-bit) default
 * operand and address sizes, eight registers, no REX, no RIP-relative
 * addressing, the one-byte INC/DEC; with 16-bit code, 16-bit addressing
 * ([BX+SI] ...) and segments with a base and a 64-KByte limit. 64-bit-only
 * forms are left out; 64-bit stack forms become 32-bit ones. Branches stay
 * out of 16-bit code (its sled would decode differently).
 */
static void add_compat_forms(bool code16)
{
	unsigned n = nforms;
	for (unsigned k = 0; k < n && nforms < MAX_FORMS; k++) {
		const struct form *f = &forms[k];
		unsigned sz = f->sz;
		ZydisMnemonic m = f->mnem;
		if (f->raw || f->compat || f->asz == 8 || m == ZYDIS_MNEMONIC_CMPXCHG16B || m == ZYDIS_MNEMONIC_MOVSXD ||
		    m == ZYDIS_MNEMONIC_CDQE || m == ZYDIS_MNEMONIC_CQO || (code16 && f->group == G_BRANCH))
			continue;
		if ((f->group == G_STACK || f->group == G_BRANCH) && sz == 8) {
			sz = 4;
			if (m == ZYDIS_MNEMONIC_PUSHFQ)
				m = ZYDIS_MNEMONIC_PUSHFD;
			else if (m == ZYDIS_MNEMONIC_POPFQ)
				m = ZYDIS_MNEMONIC_POPFD;
		} else if (sz == 8 && m != ZYDIS_MNEMONIC_CMPXCHG8B) {
			continue;
		}
		struct form *g = add_form(m, (enum group)f->group, sz, f->nops, f->op[0], f->op[1], f->op[2]);
		g->prefixes = f->prefixes;
		g->asz = f->asz && code16 ? 2 : f->asz;
		g->compat = true;
		g->code16 = code16;
		if (f->group == G_STR || f->group == G_STRCMP) {
			/* " rep"/" repne" as in the 64-bit name; 32-bit
			 * addresses are the default here */
			memcpy(g->name, f->name, sizeof(g->name));
			char *a = strstr(g->name, " a32");
			if (a)
				*a = 0;
		}
		size_t len = strlen(g->name);
		snprintf(g->name + len, sizeof(g->name) - len, code16 ? " [c16]" : " [c32]");
	}
}

void forms_build(void)
{
	if (nforms)
		return;
	static const ZydisMnemonic alu[] = {
		ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_OR,	ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SBB,
		ZYDIS_MNEMONIC_AND, ZYDIS_MNEMONIC_SUB, ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_CMP,
	};
	for (unsigned k = 0; k < sizeof(alu) / sizeof(alu[0]); k++) {
		ZydisMnemonic m = alu[k];
		enum group g = (m == ZYDIS_MNEMONIC_AND || m == ZYDIS_MNEMONIC_OR || m == ZYDIS_MNEMONIC_XOR) ?
				       G_LOGIC :
				       G_ARITH;
		add_sizes(m, g, SALL, 2, OP(K_RM), OP(K_R), NOP_);
		add_sizes(m, g, SALL, 2, OP(K_R), OP(K_M), NOP_);
		add_sizes(m, g, SALL, 2, OP(K_RM), OP(K_IZ), NOP_);
		add_sizes(m, g, SW, 2, OP(K_RM), OP(K_I8S), NOP_);
		add_sizes(m, g, SALL, 2, OP(K_ACC), OP(K_IZ), NOP_);
	}
	add_sizes(ZYDIS_MNEMONIC_TEST, G_LOGIC, SALL, 2, OP(K_RM), OP(K_R), NOP_);
	add_sizes(ZYDIS_MNEMONIC_TEST, G_LOGIC, SALL, 2, OP(K_RM), OP(K_IZ), NOP_);
	add_sizes(ZYDIS_MNEMONIC_TEST, G_LOGIC, SALL, 2, OP(K_ACC), OP(K_IZ), NOP_);

	add_sizes(ZYDIS_MNEMONIC_INC, G_INCDEC, SALL, 1, OP(K_RM), NOP_, NOP_);
	add_sizes(ZYDIS_MNEMONIC_DEC, G_INCDEC, SALL, 1, OP(K_RM), NOP_, NOP_);
	add_sizes(ZYDIS_MNEMONIC_NEG, G_ARITH, SALL, 1, OP(K_RM), NOP_, NOP_);
	add_sizes(ZYDIS_MNEMONIC_NOT, G_NOT, SALL, 1, OP(K_RM), NOP_, NOP_);

	add_sizes(ZYDIS_MNEMONIC_MUL, G_MUL, SALL, 1, OP(K_RM), NOP_, NOP_);
	add_sizes(ZYDIS_MNEMONIC_IMUL, G_MUL, SALL, 1, OP(K_RM), NOP_, NOP_);
	add_sizes(ZYDIS_MNEMONIC_IMUL, G_MUL, SW, 2, OP(K_R), OP(K_RM), NOP_);
	add_sizes(ZYDIS_MNEMONIC_IMUL, G_MUL, SW, 3, OP(K_R), OP(K_RM), OP(K_I8S));
	add_sizes(ZYDIS_MNEMONIC_IMUL, G_MUL, SW, 3, OP(K_R), OP(K_RM), OP(K_IZ));
	add_sizes(ZYDIS_MNEMONIC_DIV, G_DIV, SALL, 1, OP(K_RM), NOP_, NOP_);
	add_sizes(ZYDIS_MNEMONIC_IDIV, G_DIV, SALL, 1, OP(K_RM), NOP_, NOP_);

	static const struct {
		ZydisMnemonic m;
		enum group g;
	} shifts[] = {
		{ ZYDIS_MNEMONIC_SHL, G_SHIFT }, { ZYDIS_MNEMONIC_SHR, G_SHIFT }, { ZYDIS_MNEMONIC_SAR, G_SHIFT },
		{ ZYDIS_MNEMONIC_ROL, G_ROT },	 { ZYDIS_MNEMONIC_ROR, G_ROT },	  { ZYDIS_MNEMONIC_RCL, G_RCX },
		{ ZYDIS_MNEMONIC_RCR, G_RCX },
	};
	for (unsigned k = 0; k < sizeof(shifts) / sizeof(shifts[0]); k++) {
		add_sizes(shifts[k].m, shifts[k].g, SALL, 2, OP(K_RM), OP(K_ONE), NOP_);
		add_sizes(shifts[k].m, shifts[k].g, SALL, 2, OP(K_RM), OPS(K_CL, 1), NOP_);
		add_sizes(shifts[k].m, shifts[k].g, SALL, 2, OP(K_RM), OP(K_I8U), NOP_);
	}
	add_sizes(ZYDIS_MNEMONIC_SHLD, G_SHXD, SW, 3, OP(K_RM), OP(K_R), OP(K_I8U));
	add_sizes(ZYDIS_MNEMONIC_SHLD, G_SHXD, SW, 3, OP(K_RM), OP(K_R), OPS(K_CL, 1));
	add_sizes(ZYDIS_MNEMONIC_SHRD, G_SHXD, SW, 3, OP(K_RM), OP(K_R), OP(K_I8U));
	add_sizes(ZYDIS_MNEMONIC_SHRD, G_SHXD, SW, 3, OP(K_RM), OP(K_R), OPS(K_CL, 1));

	static const ZydisMnemonic bts[] = { ZYDIS_MNEMONIC_BT, ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_BTR,
					     ZYDIS_MNEMONIC_BTC };
	for (unsigned k = 0; k < 4; k++) {
		add_sizes(bts[k], G_BT, SW, 2, OP(K_R), OP(K_R), NOP_);
		add_sizes(bts[k], G_BT, SW, 2, OP(K_M), OP(K_R), NOP_);
		add_sizes(bts[k], G_BT, SW, 2, OP(K_RM), OP(K_I8U), NOP_);
	}
	add_sizes(ZYDIS_MNEMONIC_BSF, G_BSF, SW, 2, OP(K_R), OP(K_RM), NOP_);
	add_sizes(ZYDIS_MNEMONIC_BSR, G_BSF, SW, 2, OP(K_R), OP(K_RM), NOP_);
	add_sizes(ZYDIS_MNEMONIC_TZCNT, G_CNT, SW, 2, OP(K_R), OP(K_RM), NOP_);
	add_sizes(ZYDIS_MNEMONIC_LZCNT, G_CNT, SW, 2, OP(K_R), OP(K_RM), NOP_);
	add_sizes(ZYDIS_MNEMONIC_POPCNT, G_POPCNT, SW, 2, OP(K_R), OP(K_RM), NOP_);
	add_sizes(ZYDIS_MNEMONIC_BSWAP, G_MOVE, SD, 1, OP(K_R), NOP_, NOP_);
	add_sizes(ZYDIS_MNEMONIC_MOVBE, G_MOVE, SW, 2, OP(K_R), OP(K_M), NOP_);
	add_sizes(ZYDIS_MNEMONIC_MOVBE, G_MOVE, SW, 2, OP(K_M), OP(K_R), NOP_);

	add_sizes(ZYDIS_MNEMONIC_CMPXCHG, G_CMPXCHG, SALL, 2, OP(K_RM), OP(K_R), NOP_);
	add_sizes(ZYDIS_MNEMONIC_XADD, G_XADD, SALL, 2, OP(K_RM), OP(K_R), NOP_);
	add_sizes(ZYDIS_MNEMONIC_XCHG, G_MOVE, SALL, 2, OP(K_RM), OP(K_R), NOP_);
	add_sizes(ZYDIS_MNEMONIC_XCHG, G_MOVE, SW, 2, OP(K_ACC), OP(K_R), NOP_);
	add_form(ZYDIS_MNEMONIC_CMPXCHG8B, G_CX8, 8, 1, OP(K_M), NOP_, NOP_);
	add_form(ZYDIS_MNEMONIC_CMPXCHG16B, G_CX8, 16, 1, OP(K_M), NOP_, NOP_);

	static const ZydisMnemonic cmovs_[16] = {
		ZYDIS_MNEMONIC_CMOVO,  ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB,  ZYDIS_MNEMONIC_CMOVNB,
		ZYDIS_MNEMONIC_CMOVZ,  ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE,
		ZYDIS_MNEMONIC_CMOVS,  ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP,  ZYDIS_MNEMONIC_CMOVNP,
		ZYDIS_MNEMONIC_CMOVL,  ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE, ZYDIS_MNEMONIC_CMOVNLE,
	};
	static const ZydisMnemonic sets[16] = {
		ZYDIS_MNEMONIC_SETO,  ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB,  ZYDIS_MNEMONIC_SETNB,
		ZYDIS_MNEMONIC_SETZ,  ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
		ZYDIS_MNEMONIC_SETS,  ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP,  ZYDIS_MNEMONIC_SETNP,
		ZYDIS_MNEMONIC_SETL,  ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE,
	};
	for (unsigned k = 0; k < 16; k++) {
		add_sizes(cmovs_[k], G_MOVE, SW, 2, OP(K_R), OP(K_RM), NOP_);
		add_form(sets[k], G_MOVE, 1, 1, OP(K_RM), NOP_, NOP_);
	}
	add_form(ZYDIS_MNEMONIC_LAHF, G_MOVE, 1, 0, NOP_, NOP_, NOP_);
	add_form(ZYDIS_MNEMONIC_SAHF, G_SAHF, 1, 0, NOP_, NOP_, NOP_);
	static const ZydisMnemonic cvt[] = { ZYDIS_MNEMONIC_CBW, ZYDIS_MNEMONIC_CWDE, ZYDIS_MNEMONIC_CDQE,
					     ZYDIS_MNEMONIC_CWD, ZYDIS_MNEMONIC_CDQ,  ZYDIS_MNEMONIC_CQO };
	for (unsigned k = 0; k < 6; k++)
		add_form(cvt[k], G_MOVE, 2u << (k % 3), 0, NOP_, NOP_, NOP_);
	add_sizes(ZYDIS_MNEMONIC_MOVZX, G_MOVE, SW, 2, OP(K_R), OPS(K_RM, 1), NOP_);
	add_sizes(ZYDIS_MNEMONIC_MOVZX, G_MOVE, SD, 2, OP(K_R), OPS(K_RM, 2), NOP_);
	add_sizes(ZYDIS_MNEMONIC_MOVSX, G_MOVE, SW, 2, OP(K_R), OPS(K_RM, 1), NOP_);
	add_sizes(ZYDIS_MNEMONIC_MOVSX, G_MOVE, SD, 2, OP(K_R), OPS(K_RM, 2), NOP_);
	add_form(ZYDIS_MNEMONIC_MOVSXD, G_MOVE, 8, 2, OP(K_R), OPS(K_RM, 4), NOP_);

	add_sizes(ZYDIS_MNEMONIC_ANDN, G_ANDN, SD, 3, OP(K_R), OP(K_R), OP(K_RM));
	add_sizes(ZYDIS_MNEMONIC_BEXTR, G_BEXTR, SD, 3, OP(K_R), OP(K_RM), OP(K_R));
	add_sizes(ZYDIS_MNEMONIC_BLSI, G_BLS, SD, 2, OP(K_R), OP(K_RM), NOP_);
	add_sizes(ZYDIS_MNEMONIC_BLSMSK, G_BLS, SD, 2, OP(K_R), OP(K_RM), NOP_);
	add_sizes(ZYDIS_MNEMONIC_BLSR, G_BLS, SD, 2, OP(K_R), OP(K_RM), NOP_);

	/* String instructions: each element size, with and without REP, with
	 * 64- and 32-bit addresses. */
	static const struct {
		ZydisMnemonic m[4];
		enum group g;
	} strs[] = {
		{ { ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSD, ZYDIS_MNEMONIC_MOVSQ }, G_STR },
		{ { ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD, ZYDIS_MNEMONIC_STOSQ }, G_STR },
		{ { ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD, ZYDIS_MNEMONIC_LODSQ }, G_STR },
		{ { ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSD, ZYDIS_MNEMONIC_CMPSQ },
		  G_STRCMP },
		{ { ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD, ZYDIS_MNEMONIC_SCASQ },
		  G_STRCMP },
	};
	for (unsigned k = 0; k < sizeof(strs) / sizeof(strs[0]); k++) {
		bool cmp = strs[k].g == G_STRCMP;
		const uint32_t reps[3] = { 0, cmp ? ZYDIS_ATTRIB_HAS_REPE : ZYDIS_ATTRIB_HAS_REP,
					   ZYDIS_ATTRIB_HAS_REPNE };
		unsigned nrep = cmp ? 3 : 2;
		for (unsigned e = 0; e < 4; e++)
			for (unsigned p = 0; p < nrep; p++)
				for (unsigned asz = 4; asz <= 8; asz += 4) {
					struct form *f = add_form(strs[k].m[e], strs[k].g, 1u << e, 0, NOP_, NOP_,
								  NOP_);
					f->prefixes = reps[p];
					f->asz = (uint8_t)asz;
					size_t n = strlen(f->name);
					snprintf(f->name + n, sizeof(f->name) - n, "%s%s",
						 p == 1 ? (strs[k].g == G_STRCMP ? " repe" : " rep") :
						 p == 2 ? " repne" :
							  "",
						 asz == 4 ? " a32" : "");
				}
	}

	/* The stack (RSP in the window) and XLAT. */
	static const uint8_t stack_sizes[2] = { 2, 8 };
	for (unsigned k = 0; k < 2; k++) {
		unsigned sz = stack_sizes[k];
		add_form(ZYDIS_MNEMONIC_PUSH, G_STACK, sz, 1, OP(K_R), NOP_, NOP_);
		add_form(ZYDIS_MNEMONIC_PUSH, G_STACK, sz, 1, OP(K_M), NOP_, NOP_);
		add_form(ZYDIS_MNEMONIC_PUSH, G_STACK, sz, 1, OP(K_I8S), NOP_, NOP_);
		add_form(ZYDIS_MNEMONIC_PUSH, G_STACK, sz, 1, OP(K_IZ), NOP_, NOP_);
		add_form(ZYDIS_MNEMONIC_POP, G_STACK, sz, 1, OP(K_R), NOP_, NOP_);
		add_form(ZYDIS_MNEMONIC_POP, G_STACK, sz, 1, OP(K_M), NOP_, NOP_);
		add_form(sz == 8 ? ZYDIS_MNEMONIC_PUSHFQ : ZYDIS_MNEMONIC_PUSHF, G_STACK, sz, 0, NOP_, NOP_, NOP_);
		add_form(sz == 8 ? ZYDIS_MNEMONIC_POPFQ : ZYDIS_MNEMONIC_POPF, G_STACK, sz, 0, NOP_, NOP_, NOP_);
		add_form(ZYDIS_MNEMONIC_ENTER, G_STACK, sz, 2, OP(K_I16), OP(K_I8U), NOP_);
		add_form(ZYDIS_MNEMONIC_LEAVE, G_STACK, sz, 0, NOP_, NOP_, NOP_);
	}
	for (unsigned asz = 4; asz <= 8; asz += 4) {
		struct form *f = add_form(ZYDIS_MNEMONIC_XLAT, G_XLAT, 1, 0, NOP_, NOP_, NOP_);
		f->asz = (uint8_t)asz;
		if (asz == 4)
			strcat(f->name, " a32");
	}
	/* Data movement and flag instructions. */
	add_sizes(ZYDIS_MNEMONIC_MOV, G_MOVE, SALL, 2, OP(K_RM), OP(K_R), NOP_);
	add_sizes(ZYDIS_MNEMONIC_MOV, G_MOVE, SALL, 2, OP(K_R), OP(K_M), NOP_);
	add_sizes(ZYDIS_MNEMONIC_MOV, G_MOVE, SALL, 2, OP(K_RM), OP(K_IZ), NOP_);
	add_sizes(ZYDIS_MNEMONIC_MOV, G_MOVE, SALL, 2, OP(K_R), OP(K_IMM), NOP_);
	add_sizes(ZYDIS_MNEMONIC_LEA, G_MOVE, SW, 2, OP(K_R), OP(K_M), NOP_);
	static const ZydisMnemonic flagops[] = { ZYDIS_MNEMONIC_CLC, ZYDIS_MNEMONIC_STC, ZYDIS_MNEMONIC_CMC,
						 ZYDIS_MNEMONIC_CLD, ZYDIS_MNEMONIC_STD };
	for (unsigned k = 0; k < 5; k++)
		add_form(flagops[k], G_MOVE, 1, 0, NOP_, NOP_, NOP_);

	/* Branches: targets land in the code page's NOP sled. */
	add_form(ZYDIS_MNEMONIC_JMP, G_BRANCH, 8, 1, OP(K_REL8), NOP_, NOP_);
	add_form(ZYDIS_MNEMONIC_JMP, G_BRANCH, 8, 1, OP(K_REL32), NOP_, NOP_);
	for (unsigned k = 0; k < 16; k++) {
		add_form(jccs[k], G_BRANCH, 8, 1, OP(K_REL8), NOP_, NOP_);
		add_form(jccs[k], G_BRANCH, 8, 1, OP(K_REL32), NOP_, NOP_);
	}
	add_form(ZYDIS_MNEMONIC_JMP, G_BRANCH, 8, 1, OP(K_R), NOP_, NOP_);
	add_form(ZYDIS_MNEMONIC_JMP, G_BRANCH, 8, 1, OP(K_M), NOP_, NOP_);
	add_form(ZYDIS_MNEMONIC_CALL, G_BRANCH, 8, 1, OP(K_REL32), NOP_, NOP_);
	add_form(ZYDIS_MNEMONIC_CALL, G_BRANCH, 8, 1, OP(K_R), NOP_, NOP_);
	add_form(ZYDIS_MNEMONIC_CALL, G_BRANCH, 8, 1, OP(K_M), NOP_, NOP_);
	add_form(ZYDIS_MNEMONIC_RET, G_BRANCH, 8, 0, NOP_, NOP_, NOP_);
	add_form(ZYDIS_MNEMONIC_RET, G_BRANCH, 8, 1, OP(K_I16), NOP_, NOP_);
	static const ZydisMnemonic loops[] = { ZYDIS_MNEMONIC_LOOP, ZYDIS_MNEMONIC_LOOPE, ZYDIS_MNEMONIC_LOOPNE };
	for (unsigned asz = 4; asz <= 8; asz += 4) {
		for (unsigned k = 0; k < 3; k++) {
			struct form *f = add_form(loops[k], G_BRANCH, 8, 1, OP(K_REL8), NOP_, NOP_);
			f->asz = (uint8_t)asz;
			if (asz == 4)
				strcat(f->name, " a32");
		}
		struct form *f = add_form(asz == 4 ? ZYDIS_MNEMONIC_JECXZ : ZYDIS_MNEMONIC_JRCXZ, G_BRANCH, 8, 1,
					  OP(K_REL8), NOP_, NOP_);
		f->asz = (uint8_t)asz;
	}

	add_raw("push qword [rsp+0x10]", G_STACK, 8, raw_push_rsp, sizeof(raw_push_rsp));
	add_raw("pop qword [rsp+0x10]", G_STACK, 8, raw_pop_rsp, sizeof(raw_pop_rsp));
	add_raw("pop rsp", G_STACK, 8, raw_pop_rsp_reg, sizeof(raw_pop_rsp_reg));
	add_raw("push rsp", G_STACK, 8, raw_push_rsp_reg, sizeof(raw_push_rsp_reg));

	add_raw("mov rax, moffs64", G_MOVE, 8, raw_mov_moffs_ld, sizeof(raw_mov_moffs_ld));
	add_raw("mov moffs64, eax", G_MOVE, 4, raw_mov_moffs_st, sizeof(raw_mov_moffs_st));
	add_raw("mov al, moffs64", G_MOVE, 1, raw_mov_moffs8, sizeof(raw_mov_moffs8));
	add_raw("mov eax, moffs32 [c32]", G_MOVE, 4, raw_mov_moffs32_c, sizeof(raw_mov_moffs32_c))->compat = true;
	add_raw("mov moffs32, ax [c32]", G_MOVE, 2, raw_mov_moffs16_c, sizeof(raw_mov_moffs16_c))->compat = true;
	add_raw("nop dword [rax+rax] (0f 1f /0)", G_MOVE, 4, raw_nop5, sizeof(raw_nop5));
	add_raw("nop word [rax+rax+disp32]", G_MOVE, 2, raw_nop9, sizeof(raw_nop9));
	add_raw("xchg ax, ax (66 90)", G_MOVE, 2, raw_nop66, sizeof(raw_nop66));
	for (unsigned sz = 2; sz <= 4; sz += 2) {
		struct form *f = add_form(sz == 2 ? ZYDIS_MNEMONIC_PUSHA : ZYDIS_MNEMONIC_PUSHAD, G_STACK, sz, 0, NOP_,
					  NOP_, NOP_);
		f->compat = true;
		strcat(f->name, " [c32]");
		f = add_form(sz == 2 ? ZYDIS_MNEMONIC_POPA : ZYDIS_MNEMONIC_POPAD, G_STACK, sz, 0, NOP_, NOP_, NOP_);
		f->compat = true;
		strcat(f->name, " [c32]");
	}

	add_raw("sal ecx, 1 (d1 /6)", G_SHIFT, 4, raw_sal_d1, sizeof(raw_sal_d1));
	add_raw("sal rdx, cl (d3 /6)", G_SHIFT, 8, raw_sal_d3, sizeof(raw_sal_d3));
	add_raw("sal bl, 5 (c0 /6)", G_SHIFT, 1, raw_sal_c0, sizeof(raw_sal_c0));
	add_raw("shl si, 1 (c1 /4 01)", G_SHIFT, 2, raw_shl_c1_1, sizeof(raw_shl_c1_1));
	add_raw("test dl, imm8 (f6 /1)", G_LOGIC, 1, raw_test_f6_1, sizeof(raw_test_f6_1));
	add_raw("test rdi, imm32 (f7 /1)", G_LOGIC, 8, raw_test_f7_1, sizeof(raw_test_f7_1));
	add_raw("add r/m8, imm8 (82 /0, #UD)", G_ARITH, 1, raw_add_82, sizeof(raw_add_82));
	add_raw("add r64, r/m64 (03 /r)", G_ARITH, 8, raw_add_rr03, sizeof(raw_add_rr03));
	add_raw("xchg eax, eax (87 /r)", G_MOVE, 4, raw_xchg_87, sizeof(raw_xchg_87));
	add_raw("xchg r8d, eax (41 90)", G_MOVE, 4, raw_xchg_90_r8, sizeof(raw_xchg_90_r8));
	add_raw("lock add r32, r32 (#UD)", G_ARITH, 4, raw_lock_add_rr, sizeof(raw_lock_add_rr));
	add_raw("lock cmp m32, r32 (#UD)", G_ARITH, 4, raw_lock_cmp_m, sizeof(raw_lock_cmp_m));
	add_raw("bswap r16", G_MOVE, 2, raw_bswap16, sizeof(raw_bswap16))->undef_regs = 1u << 1; /* SDM BSWAP: undefined */
	add_raw("movsxd r16, r/m32", G_MOVE, 2, raw_movsxd16, sizeof(raw_movsxd16));
	add_raw("movsxd r32, r/m32", G_MOVE, 4, raw_movsxd32, sizeof(raw_movsxd32));
	add_raw("add with 13 prefixes (15 bytes)", G_ARITH, 2, raw_toolong, sizeof(raw_toolong));
	add_raw("add with 14 prefixes (16 bytes, #GP)", G_ARITH, 2, raw_toolong16, sizeof(raw_toolong16));
	add_raw("rep ret", G_BRANCH, 8, raw_rep_ret, sizeof(raw_rep_ret));
	add_raw("imul r16, r/m16, imm16", G_MUL, 2, raw_imul_69_16, sizeof(raw_imul_69_16));
	add_raw("lock cmpxchg r32, r32 (#UD)", G_CMPXCHG, 4, raw_cmpxchg_lock_rr, sizeof(raw_cmpxchg_lock_rr));
	add_compat_forms(false);
	add_compat_forms(true); /* skips the 32-bit clones: they are compat */
	forms_sse_build();
}

unsigned gen_form_count(void)
{
	forms_build();
	return nforms;
}

const char *gen_form_name(unsigned f)
{
	return forms[f].name;
}

bool gen_form_compat(unsigned f)
{
	return forms[f].compat && !forms[f].code16;
}

bool gen_form_code16(unsigned f)
{
	return forms[f].code16;
}

unsigned gen_form_mnemonic(unsigned f)
{
	return forms[f].mnem;
}

