/*
 * Instruction forms of the differential suite and their random cases.
 *
 * A form is a mnemonic, an operand size and an operand shape ("add r/m32,
 * imm8"). A case picks registers and a memory addressing form, encodes the
 * instruction with the Zydis encoder (or takes hand-written bytes for forms
 * the encoder does not produce), then fills the operands with random and
 * edge-case values (0, 1, -1, sign boundaries, shift counts around the
 * operand size, carry in set and clear, equal operands for CMPXCHG...).
 *
 * Each group states which results the Intel SDM (Vol. 2, the instruction's
 * "Flags Affected" and "Operation") defines; only those are compared, since
 * the reference CPU (an AMD host) fills undefined flags its own way.
 */
#include <stdio.h>
#include <string.h>

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
};

#define MAX_FORMS 2048
static struct form forms[MAX_FORMS];
static unsigned nforms;
unsigned gen_bugs;

/* ---- random numbers: xoshiro256** ---- */

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void rng_seed(struct rng *r, uint64_t seed)
{
	/* splitmix64 expands the seed */
	for (int i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		r->s[i] = z ^ (z >> 31);
	}
}

uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static uint64_t mask_of(unsigned sz)
{
	return sz >= 8 ? ~0ull : (1ull << (8 * sz)) - 1;
}

/* Edge cases half of the time, uniform random bits otherwise. */
static uint64_t value(struct rng *r, unsigned sz)
{
	uint64_t m = mask_of(sz), sb = 1ull << (8 * sz - 1);
	unsigned bits = 8 * sz;
	switch (rng_below(r, 24)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return m; /* -1 */
	case 3: return sb; /* most negative */
	case 4: return sb - 1; /* most positive */
	case 5: return sb + 1;
	case 6: return m - 1; /* -2 */
	case 7: return 2;
	case 8: return 1ull << rng_below(r, bits);
	case 9: return ~(1ull << rng_below(r, bits)) & m;
	case 10: return rng_below(r, bits + 2);
	case 11: return (0 - rng_below(r, bits + 2)) & m;
	default: return rng_next(r) & m;
	}
}

/* Shift and rotate counts around the interesting boundaries. */
static uint8_t count_value(struct rng *r, unsigned sz)
{
	static const uint8_t fixed[] = { 0, 1, 2, 31, 32, 33, 63, 64, 65, 255 };
	unsigned bits = 8 * sz;
	switch (rng_below(r, 8)) {
	case 0: return fixed[rng_below(r, sizeof(fixed))];
	case 1: return (uint8_t)(bits - 1);
	case 2: return (uint8_t)bits;
	case 3: return (uint8_t)(bits + 1);
	case 4: return (uint8_t)rng_below(r, 4);
	case 5: return (uint8_t)rng_next(r);
	default: return (uint8_t)rng_below(r, 2 * bits);
	}
}

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
	case K_M: snprintf(buf, len, "m%s", size_suffix(sz)); break;
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
	default: buf[0] = 0;
	}
}

static struct form *add_form(ZydisMnemonic m, enum group g, unsigned sz, unsigned nops, struct opspec a,
			     struct opspec b, struct opspec c)
{
	if (nforms == MAX_FORMS)
		return NULL;
	struct form *f = &forms[nforms++];
	memset(f, 0, sizeof(*f));
	f->mnem = m;
	f->group = (uint8_t)g;
	f->sz = (uint8_t)sz;
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

static void build_forms(void)
{
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
	add_raw("bswap r16", G_MOVE, 2, raw_bswap16, sizeof(raw_bswap16));
	add_raw("movsxd r16, r/m32", G_MOVE, 2, raw_movsxd16, sizeof(raw_movsxd16));
	add_raw("movsxd r32, r/m32", G_MOVE, 4, raw_movsxd32, sizeof(raw_movsxd32));
	add_raw("add with 13 prefixes (15 bytes)", G_ARITH, 2, raw_toolong, sizeof(raw_toolong));
	add_raw("imul r16, r/m16, imm16", G_MUL, 2, raw_imul_69_16, sizeof(raw_imul_69_16));
	add_raw("lock cmpxchg r32, r32 (#UD)", G_CMPXCHG, 4, raw_cmpxchg_lock_rr, sizeof(raw_cmpxchg_lock_rr));
	add_compat_forms(false);
	add_compat_forms(true); /* skips the 32-bit clones: they are compat */
}

unsigned gen_form_count(void)
{
	if (!nforms)
		build_forms();
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

/* ---- registers ---- */

static ZydisRegister gpr_reg(unsigned id, unsigned sz, bool hi8)
{
	switch (sz) {
	case 1:
		if (hi8)
			return (ZydisRegister)(ZYDIS_REGISTER_AH + id);
		if (id < 4)
			return (ZydisRegister)(ZYDIS_REGISTER_AL + id);
		if (id < 8)
			return (ZydisRegister)(ZYDIS_REGISTER_SPL + (id - 4));
		return (ZydisRegister)(ZYDIS_REGISTER_R8B + (id - 8));
	case 2:
		return (ZydisRegister)(ZYDIS_REGISTER_AX + id);
	case 4:
		return (ZydisRegister)(ZYDIS_REGISTER_EAX + id);
	default:
		return (ZydisRegister)(ZYDIS_REGISTER_RAX + id);
	}
}

/* A decoded register as (GPR number, high-byte flag); false for non-GPRs. */
static bool gpr_id(ZydisRegister r, unsigned *id, bool *hi8)
{
	*hi8 = false;
	if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
		*id = (unsigned)(r - ZYDIS_REGISTER_AH);
		*hi8 = true;
		return true;
	}
	ZydisRegisterClass cl = ZydisRegisterGetClass(r);
	if (cl != ZYDIS_REGCLASS_GPR8 && cl != ZYDIS_REGCLASS_GPR16 && cl != ZYDIS_REGCLASS_GPR32 &&
	    cl != ZYDIS_REGCLASS_GPR64)
		return false;
	*id = (unsigned)(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r) - ZYDIS_REGISTER_RAX);
	return true;
}

static void reg_set(struct diff_case *c, unsigned id, bool hi8, unsigned sz, uint64_t v)
{
	uint64_t *g = &c->in.gpr[id];
	if (hi8)
		*g = (*g & ~0xff00ull) | ((v & 0xff) << 8);
	else
		*g = (*g & ~mask_of(sz)) | (v & mask_of(sz));
}

static uint64_t reg_get(const struct diff_case *c, unsigned id, bool hi8, unsigned sz)
{
	uint64_t g = c->in.gpr[id];
	return hi8 ? (g >> 8) & 0xff : g & mask_of(sz);
}

/* ---- memory ---- */

/* Index of a byte in diff_case.mem, or -1 (beyond the tail: unmapped). */
static int mem_index(uint64_t a)
{
	if (a >= DIFF_WIN_VA && a < DIFF_WIN_VA + DIFF_WIN_SIZE)
		return (int)(a - DIFF_WIN_VA);
	if (a >= DIFF_TAIL_VA && a < DIFF_TAIL_VA + DIFF_TAIL_SIZE)
		return (int)(DIFF_WIN_SIZE + (a - DIFF_TAIL_VA));
	return -1;
}

static void mem_set(struct diff_case *c, uint64_t addr, unsigned sz, uint64_t v)
{
	for (unsigned k = 0; k < sz && k < 8; k++) {
		int i = mem_index(addr + k);
		if (i >= 0)
			c->mem[i] = (uint8_t)(v >> (8 * k));
	}
}

static uint64_t mem_get(const struct diff_case *c, uint64_t addr, unsigned sz)
{
	uint64_t v = 0;
	for (unsigned k = 0; k < sz && k < 8; k++) {
		int i = mem_index(addr + k);
		if (i >= 0)
			v |= (uint64_t)c->mem[i] << (8 * k);
	}
	return v;
}

/* An address for an sz-byte operand well inside the window; a third of them
 * straddle the page boundary in its middle. `slack` keeps room for BT bit
 * offsets that address beyond the operand. */
static uint64_t mem_addr(struct rng *r, unsigned sz, unsigned slack)
{
	uint64_t mid = DIFF_WIN_VA + DIFF_WIN_SIZE / 2; /* the page boundary */
	uint64_t end = DIFF_TAIL_VA + DIFF_TAIL_SIZE; /* unmapped from here */
	if (!slack && rng_below(r, 32) == 0) {
		/* At the end of the data pages: inside, running off it (#PF on
		 * the next page, nothing written), or wholly beyond it. */
		switch (rng_below(r, 3)) {
		case 0:
			return DIFF_TAIL_VA + rng_below(r, DIFF_TAIL_SIZE - sz + 1);
		case 1:
			if (sz > 1)
				return end - 1 - rng_below(r, sz - 1);
			/* fall through */
		default:
			return end + rng_below(r, 8);
		}
	}
	if (rng_below(r, 3) == 0 && sz > 1)
		return mid - 1 - rng_below(r, sz - 1);
	uint64_t lo = DIFF_WIN_VA + slack, hi = DIFF_WIN_VA + DIFF_WIN_SIZE - slack - sz;
	return lo + rng_below(r, hi - lo + 1);
}

/* The memory operand of a case: its shape as encoded, and what makes the
 * effective address come out at `addr`. */
struct memop {
	int base, index; /* GPR numbers, -1 none */
	bool rip;
	unsigned scale;
	int64_t disp;
	unsigned asz; /* address size, 4 or 8 */
	uint64_t addr; /* linear address */
	uint64_t off; /* effective address: addr minus the segment base */
	uint64_t ival; /* index value of the index-only form */
	unsigned sz;
};

static int pick_free(struct rng *r, uint32_t *used)
{
	int cand[16], n = 0;
	for (int k = 0; k < 16; k++)
		if (!(*used & (1u << k)))
			cand[n++] = k;
	if (!n)
		return -1;
	int id = cand[rng_below(r, (uint64_t)n)];
	*used |= 1u << id;
	return id;
}

/* RSP can be a base but never an index (SDM Vol. 2A 2.1.5, Table 2-3). */
static int pick_index(struct rng *r, uint32_t *used)
{
	uint32_t u = *used | (1u << DIFF_RSP);
	int id = pick_free(r, &u);
	if (id >= 0)
		*used |= 1u << id;
	return id;
}

/*
 * 16-bit addressing (SDM Vol. 2A 2.1.5, Table 2-1): [BX|BP] + [SI|DI] +
 * disp8/disp16, any one of the four alone (BP with a displacement), or
 * [disp16].
 */
static void mem_shape16(struct rng *r, struct memop *m, uint32_t *used)
{
	static const int8_t forms16[][2] = { { 3, 6 }, { 3, 7 }, { 5, 6 }, { 5, 7 }, { -1, 6 },
					     { -1, 7 }, { 3, -1 }, { 5, -1 }, { -1, -1 } };
	unsigned k = (unsigned)rng_below(r, sizeof(forms16) / sizeof(forms16[0]));
	int b = forms16[k][0], x = forms16[k][1];
	if ((b >= 0 && (*used & (1u << b))) || (x >= 0 && (*used & (1u << x))))
		b = x = -1; /* taken by an operand: absolute */
	m->base = b;
	m->index = x;
	if (b >= 0)
		*used |= 1u << b;
	if (x >= 0)
		*used |= 1u << x;
	m->scale = 1;
	m->ival = rng_next(r);
	switch (rng_below(r, 3)) {
	case 0: m->disp = 0; break;
	case 1: m->disp = (int8_t)rng_next(r); break;
	default: m->disp = (int16_t)rng_next(r); break;
	}
	if (b < 0 && x < 0)
		m->disp = (int64_t)m->off; /* [disp16] */
}

static void mem_shape(struct rng *r, struct memop *m, uint32_t *used, bool compat, bool code16)
{
	m->base = m->index = -1;
	m->rip = false;
	m->scale = 1;
	m->disp = 0;
	if (code16 && rng_below(r, 4)) {
		m->asz = 2;
		mem_shape16(r, m, used);
		return;
	}
	m->asz = compat || rng_below(r, 8) == 0 ? 4 : 8;
	switch (rng_below(r, 8)) {
	case 0:
		m->base = pick_free(r, used);
		break;
	case 1:
		m->base = pick_free(r, used);
		m->disp = (int8_t)rng_next(r);
		break;
	case 2:
		m->base = pick_free(r, used);
		m->disp = (int32_t)rng_next(r);
		break;
	case 3:
	case 4:
		m->base = pick_free(r, used);
		m->index = pick_index(r, used);
		m->scale = 1u << rng_below(r, 4);
		m->disp = rng_below(r, 2) ? (int8_t)rng_next(r) : (int32_t)rng_next(r);
		break;
	case 5:
		/* [index*scale + disp32]: always a disp32, so its value does
		 * not change the encoding. */
		m->index = pick_index(r, used);
		m->scale = 1u << rng_below(r, 4);
		m->ival = rng_below(r, m->off / m->scale + 1);
		m->disp = (int64_t)(m->off - m->ival * m->scale);
		break;
	case 6:
		if (m->asz == 8) {
			m->rip = true;
			break;
		}
		/* fall through */
	default:
		m->disp = 0; /* absolute [disp32]: set from the address later */
		break;
	}
}

static void mem_encode(const struct memop *m, ZydisEncoderOperand *eo, unsigned sz)
{
	eo->type = ZYDIS_OPERAND_TYPE_MEMORY;
	unsigned rsz = m->asz;
	eo->mem.base = m->rip ? ZYDIS_REGISTER_RIP : m->base >= 0 ? gpr_reg((unsigned)m->base, rsz, false) :
								   ZYDIS_REGISTER_NONE;
	eo->mem.index = m->index >= 0 ? gpr_reg((unsigned)m->index, rsz, false) : ZYDIS_REGISTER_NONE;
	eo->mem.scale = m->index >= 0 ? (uint8_t)m->scale : 0;
	eo->mem.displacement = m->disp;
	eo->mem.size = (uint16_t)sz;
}

/* Register values that make the encoded effective address equal m->off
 * (SDM Vol. 1 3.7.5: base + index * scale + disp, truncated to the address
 * size). */
static void mem_bind(struct rng *r, struct diff_case *c, struct memop *m)
{
	uint64_t amask = m->asz == 2 ? 0xffffull : m->asz == 4 ? 0xffffffffull : ~0ull;
	if (m->asz == 2) {
		/* 16-bit: the sum wraps at 64 KiB; the upper bits are ignored */
		uint64_t rest = (uint64_t)m->disp;
		if (m->index >= 0) {
			c->in.gpr[m->index] = m->ival;
			rest += m->ival;
		}
		if (m->base >= 0)
			c->in.gpr[m->base] = ((m->off - rest) & amask) | (rng_next(r) & ~amask);
		return;
	}
	if (m->rip || (m->base < 0 && m->index < 0))
		return; /* displacement computed at encode time */
	uint64_t rest = (uint64_t)m->disp;
	if (m->index >= 0) {
		uint64_t iv;
		if (m->base >= 0)
			iv = rng_below(r, 4) ? rng_next(r) : rng_below(r, 64);
		else
			iv = m->ival;
		c->in.gpr[m->index] = iv;
		rest += iv * m->scale;
	}
	if (m->base >= 0) {
		uint64_t bv = (m->off - rest) & amask;
		if (m->asz == 4)
			bv |= rng_next(r) & ~0xffffffffull; /* ignored upper half */
		c->in.gpr[m->base] = bv;
	}
}

/* ---- encoding ---- */

/*
 * Encode, then decode again and check the memory operand: Zydis 4.0's
 * encoder sometimes shortens a disp32 of 32-bit addressing in 16-bit code
 * to a disp8; such encodings are thrown away (the caller draws again).
 */
static bool encode(ZydisEncoderRequest *req, struct diff_case *c)
{
	ZyanUSize len = sizeof(c->code);
	if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(req, c->code, &len)))
		return false;
	c->len = (uint8_t)len;
	ZydisDecoder dec;
	ZydisDecoderInit(&dec, req->machine_mode,
			 req->machine_mode == ZYDIS_MACHINE_MODE_LONG_64 ? ZYDIS_STACK_WIDTH_64 :
			 req->machine_mode == ZYDIS_MACHINE_MODE_LONG_COMPAT_32 ? ZYDIS_STACK_WIDTH_32 :
										  ZYDIS_STACK_WIDTH_16);
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, c->code, len, &zi, zo)))
		return false;
	for (unsigned k = 0; k < req->operand_count && k < zi.operand_count_visible; k++) {
		const ZydisEncoderOperand *eo = &req->operands[k];
		if (eo->type != ZYDIS_OPERAND_TYPE_MEMORY || zo[k].type != ZYDIS_OPERAND_TYPE_MEMORY)
			continue;
		int64_t disp = zo[k].mem.disp.has_displacement ? zo[k].mem.disp.value : 0;
		if (eo->mem.base != ZYDIS_REGISTER_RIP && (zo[k].mem.base != eo->mem.base || disp != eo->mem.displacement))
			return false;
	}
	return true;
}

/* Lockable forms with a memory destination (SDM Vol. 2A LOCK). */
static bool lockable(ZydisMnemonic m)
{
	switch (m) {
	case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_AND:
	case ZYDIS_MNEMONIC_BTC: case ZYDIS_MNEMONIC_BTR: case ZYDIS_MNEMONIC_BTS:
	case ZYDIS_MNEMONIC_CMPXCHG: case ZYDIS_MNEMONIC_CMPXCHG8B: case ZYDIS_MNEMONIC_CMPXCHG16B:
	case ZYDIS_MNEMONIC_DEC: case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_NEG:
	case ZYDIS_MNEMONIC_NOT: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_SBB:
	case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_XADD:
	case ZYDIS_MNEMONIC_XCHG:
		return true;
	default:
		return false;
	}
}

/* Registers an instruction reads or writes implicitly (kept out of
 * addressing so that they can hold random operand values). */
static uint32_t implicit_regs(const struct form *f)
{
	for (unsigned k = 0; k < f->nops; k++)
		if (f->op[k].k == K_CL)
			return 0x2; /* the count in CL */
	switch (f->group) {
	case G_MUL:
		return f->nops == 1 ? 0x5 : 0; /* RAX, RDX */
	case G_DIV:
		return 0x5;
	case G_CMPXCHG:
		return 0x1;
	case G_CX8:
		return 0xf; /* RAX RCX RDX RBX */
	case G_SAHF:
	case G_MOVE:
		return 0x5;
	case G_STR:
	case G_STRCMP:
		return 0xc3; /* RAX RCX RSI RDI */
	case G_STACK:
		return 0x30; /* RSP RBP */
	case G_XLAT:
		return 0x9; /* RAX RBX */
	case G_BRANCH:
		return 0x12; /* RCX (LOOP, JrCXZ), RSP (CALL, RET) */
	default:
		return 0;
	}
}

/* ---- case generation ---- */

struct dec {
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
	bool ok;
};

static void decode(const struct diff_case *c, struct dec *d)
{
	ZydisDecoder dec;
	if (c->code16)
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_COMPAT_16, ZYDIS_STACK_WIDTH_16);
	else if (c->compat)
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_COMPAT_32, ZYDIS_STACK_WIDTH_32);
	else
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	d->ok = ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, c->code, c->len, &d->zi, d->zo));
}

/* Value of the shift/rotate count operand (the last visible one). */
static unsigned shift_count(const struct diff_case *c, const struct dec *d)
{
	unsigned n = d->zi.operand_count_visible;
	if (n < 2)
		return 1;
	const ZydisDecodedOperand *o = &d->zo[n - 1];
	if (o->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return (unsigned)(o->imm.value.u & 0xff);
	return (unsigned)(c->in.gpr[1] & 0xff); /* CL */
}

/*
 * The flags and results the SDM defines for this case. `count` is the
 * shift/rotate count before masking.
 */
static void defined_results(const struct form *f, struct diff_case *c, const struct dec *d, unsigned sz)
{
	unsigned bits = 8 * sz;
	unsigned cmask = sz == 8 ? 0x3f : 0x1f;
	unsigned n = shift_count(c, d) & cmask; /* for the shifts and rotates */
	uint64_t undef = 0;
	switch (f->group) {
	case G_LOGIC:
		/* AND/OR/XOR/TEST: "The OF and CF flags are cleared; the SF, ZF,
		 * and PF flags are set according to the result. The state of the
		 * AF flag is undefined." */
		undef = AF;
		break;
	case G_MUL:
		/* MUL/IMUL: "The SF, ZF, AF, and PF flags are undefined." */
		undef = SF | ZF | AF | PF;
		break;
	case G_DIV:
		/* DIV/IDIV: "The CF, OF, SF, ZF, AF, and PF flags are undefined." */
		undef = ARITH;
		break;
	case G_SHIFT:
	case G_SHXD:
		/* SAL/SAR/SHL/SHR: count masked to 5 (6 with REX.W) bits; 0
		 * leaves the flags alone. OF only for 1-bit shifts; AF undefined
		 * for a non-zero count; CF undefined for SHL/SHR when the count
		 * is >= the operand size.
		 * SHLD/SHRD: the same for OF and AF, and "If the count is greater
		 * than the operand size, the result is undefined" together with
		 * all the flags. */
		if (!n)
			break;
		undef = AF;
		if (n != 1)
			undef |= OF;
		if (f->group == G_SHIFT && n >= bits && d->zi.mnemonic != ZYDIS_MNEMONIC_SAR)
			undef |= CF;
		if (f->group == G_SHXD && n > bits) {
			undef = ARITH;
			unsigned id;
			bool hi8;
			if (d->zo[0].type == ZYDIS_OPERAND_TYPE_MEMORY)
				c->mem_undefined = true;
			else if (gpr_id(d->zo[0].reg.value, &id, &hi8))
				c->regs_undefined |= (uint16_t)(1u << id);
		}
		break;
	case G_ROT:
	case G_RCX:
		/* RCL/RCR/ROL/ROR: "If the masked count is 0, the flags are not
		 * affected. If the masked count is 1, then the OF flag is
		 * affected, otherwise (masked count is greater than 1) the OF
		 * flag is undefined. [...] The SF, ZF, AF, and PF flags are
		 * always unaffected." */
		if (n > 1)
			undef = OF;
		break;
	case G_BT:
		/* BT/BTS/BTR/BTC: "The ZF flag is unaffected. The OF, SF, AF,
		 * and PF flags are undefined." */
		undef = OF | SF | AF | PF;
		break;
	case G_BSF:
		/* BSF/BSR: "The CF, OF, SF, AF, and PF flags are undefined";
		 * with a zero source the destination is undefined (gen_case). */
		undef = CF | OF | SF | AF | PF;
		break;
	case G_CNT:
		/* TZCNT/LZCNT: "The OF, SF, PF and AF flags are undefined." */
		undef = OF | SF | PF | AF;
		break;
	case G_ANDN:
		/* ANDN: "SF and ZF are updated based on result. OF and CF flags
		 * are cleared. AF and PF flags are undefined." */
		undef = AF | PF;
		break;
	case G_BEXTR:
		/* BEXTR: "ZF is updated based on the result. AF, SF, and PF are
		 * undefined. All other flags are cleared." */
		undef = AF | SF | PF;
		break;
	case G_BLS:
		/* BLSI/BLSMSK/BLSR: "AF and PF are undefined." */
		undef = AF | PF;
		break;
	default:
		/* ADD..CMP, NEG, INC/DEC (CF unaffected), POPCNT, CMPXCHG*,
		 * XADD, SAHF, strings, and the instructions that affect no
		 * flags: every flag is defined. */
		break;
	}
	c->flags_defined = COMPARED & ~undef;
}

/* Value hooks: give each group's operands the values that matter to it. */
struct opvals {
	int reg_id[3];
	bool hi8[3];
	unsigned osz[3];
	bool is_mem[3];
	struct memop mem;
	bool has_mem;
};

static uint64_t op_get(const struct diff_case *c, const struct opvals *v, unsigned k)
{
	if (v->is_mem[k])
		return mem_get(c, v->mem.addr, v->osz[k]);
	if (v->reg_id[k] >= 0)
		return reg_get(c, (unsigned)v->reg_id[k], v->hi8[k], v->osz[k]);
	return 0;
}

static void op_set(struct diff_case *c, const struct opvals *v, unsigned k, uint64_t val)
{
	if (v->is_mem[k])
		mem_set(c, v->mem.addr, v->osz[k], val);
	else if (v->reg_id[k] >= 0)
		reg_set(c, (unsigned)v->reg_id[k], v->hi8[k], v->osz[k], val);
}

static void values_div(struct rng *r, struct diff_case *c, const struct form *f, const struct opvals *v)
{
	unsigned sz = f->sz;
	uint64_t m = mask_of(sz);
	uint64_t d = op_get(c, v, 0);
	bool sgn = f->mnem == ZYDIS_MNEMONIC_IDIV;
	uint64_t lo = value(r, sz), hi;
	switch (rng_below(r, 4)) {
	case 0:
	case 1: /* fits: high half is the sign (or zero) extension of the low */
		hi = sgn && (lo >> (8 * sz - 1)) ? m : 0;
		break;
	case 2: /* fits for DIV when below the divisor */
		hi = d ? rng_below(r, d) & m : 0;
		break;
	default:
		hi = value(r, sz);
	}
	if (sz == 1) {
		reg_set(c, 0, false, 2, (hi << 8) | lo);
	} else {
		reg_set(c, 0, false, sz, lo);
		reg_set(c, 2, false, sz, hi);
	}
}

/* String instructions: RSI/RDI into the window with room for RCX elements in
 * the DF direction; CMPS/SCAS get data that matches for a while. */
static void values_string(struct rng *r, struct diff_case *c, const struct form *f, uint64_t src_base)
{
	unsigned esz = f->sz;
	bool rep = f->prefixes != 0;
	uint64_t n = rep ? rng_below(r, 13) : 1;
	bool down = rng_below(r, 2);
	c->in.rflags = (c->in.rflags & ~(uint64_t)DF) | (down ? DF : 0);
	uint64_t span = (n ? n : 1) * esz;
	/* Source in the lower half, destination in the upper, or overlapping. */
	uint64_t lo_room = DIFF_WIN_SIZE / 2 - span;
	uint64_t s_start = DIFF_WIN_VA + rng_below(r, lo_room + 1);
	uint64_t d_start;
	bool movs = f->mnem == ZYDIS_MNEMONIC_MOVSB || f->mnem == ZYDIS_MNEMONIC_MOVSW ||
		    f->mnem == ZYDIS_MNEMONIC_MOVSD || f->mnem == ZYDIS_MNEMONIC_MOVSQ;
	if (movs && rng_below(r, 4) == 0) {
		/* overlapping moves: element-by-element semantics */
		int64_t delta = (int64_t)rng_below(r, 2 * esz + 1) - (int64_t)esz;
		d_start = s_start + (uint64_t)delta;
		if (d_start < DIFF_WIN_VA + 8)
			d_start = s_start;
	} else {
		d_start = DIFF_WIN_VA + DIFF_WIN_SIZE / 2 - esz * rng_below(r, 3) +
			  rng_below(r, DIFF_WIN_SIZE / 2 - span - 8);
	}
	uint64_t rsi = down ? s_start + span - esz : s_start;
	uint64_t rdi = down ? d_start + span - esz : d_start;
	/* 16-bit code: offsets from the data segments' base, 16-bit counts. */
	uint64_t amask = f->asz == 2 ? 0xffffull : f->asz == 4 ? 0xffffffffull : ~0ull;
	uint64_t dseg = f->code16 ? DIFF_DATA_VA : 0;
	uint64_t hi = rng_next(r) & ~amask; /* ignored above the address size */
	c->in.gpr[6] = ((rsi - src_base - dseg) & amask) | hi;
	c->in.gpr[7] = ((rdi - dseg) & amask) | (rng_below(r, 2) ? hi : 0);
	c->in.gpr[1] = rep ? (n | (rng_next(r) & ~amask)) : rng_next(r);
	if (f->group == G_STRCMP) {
		/* Equal runs so that REPE/REPNE stop at varying points. */
		uint64_t pat = value(r, esz);
		for (uint64_t k = 0; k < n + 1; k++) {
			uint64_t vs = rng_below(r, 4) ? pat : value(r, esz);
			uint64_t vd = rng_below(r, 4) ? vs : value(r, esz);
			uint64_t as = s_start + k * esz, ad = d_start + k * esz;
			if (as + esz <= DIFF_WIN_VA + DIFF_WIN_SIZE)
				mem_set(c, as, esz, vs);
			if (ad + esz <= DIFF_WIN_VA + DIFF_WIN_SIZE)
				mem_set(c, ad, esz, vd);
		}
		if (rng_below(r, 2))
			reg_set(c, 0, false, esz, pat);
	}
}

/*
 * The generator's own check: every explicit memory operand, as decoded with
 * the final register values, lies inside the compared window or at the tail
 * of the data pages (else the two sides would read memory outside them,
 * where their contents differ).
 */
static bool ea_in_window(const struct diff_case *c, const struct dec *d)
{
	for (unsigned k = 0; k < d->zi.operand_count_visible; k++) {
		const ZydisDecodedOperand *o = &d->zo[k];
		if (o->type != ZYDIS_OPERAND_TYPE_MEMORY || o->mem.type != ZYDIS_MEMOP_TYPE_MEM ||
		    d->zi.mnemonic == ZYDIS_MNEMONIC_NOP)
			continue;
		uint64_t ea = (uint64_t)(o->mem.disp.has_displacement ? o->mem.disp.value : 0);
		unsigned id;
		bool hi8;
		if (o->mem.base == ZYDIS_REGISTER_RIP)
			ea += DIFF_CODE_VA + d->zi.length;
		else if (gpr_id(o->mem.base, &id, &hi8))
			ea += c->in.gpr[id];
		if (gpr_id(o->mem.index, &id, &hi8))
			ea += c->in.gpr[id] * o->mem.scale;
		if (d->zi.address_width == 32)
			ea &= 0xffffffffull;
		else if (d->zi.address_width == 16)
			ea &= 0xffffull;
		if (o->mem.segment == ZYDIS_REGISTER_GS)
			ea += DIFF_GS_BASE;
		if (c->code16)
			ea += DIFF_DATA_VA;
		bool in_win = ea >= DIFF_WIN_VA && ea + o->size / 8 <= DIFF_WIN_VA + DIFF_WIN_SIZE;
		bool at_tail = ea >= DIFF_TAIL_VA && ea < DIFF_TAIL_VA + DIFF_TAIL_SIZE + 8;
		bool at_limit = c->code16 && ea >= DIFF_DATA_VA + 0x10000 - 16 && ea < DIFF_DATA_VA + 0x10000;
		if (!in_win && !at_tail && !at_limit) {
			fprintf(stderr, "diff: generator bug: %s: operand %u at 0x%llx is outside the window\n",
				c->form, k, (unsigned long long)ea);
			gen_bugs++;
			return false;
		}
	}
	return true;
}

/*
 * Stack instructions: RSP (and RBP for ENTER/LEAVE) inside the window with
 * room for what they push, pop and (ENTER) copy from the old frame; POPF
 * pops an image that keeps IF set and TF, AC, IOPL and NT clear, which user
 * mode on the host could not change or survive.
 */
static void values_stack(struct rng *r, struct diff_case *c, const struct form *f, const struct opvals *v,
			 const struct dec *d)
{
	uint64_t mid = DIFF_WIN_VA + DIFF_WIN_SIZE / 2, end = DIFF_WIN_VA + DIFF_WIN_SIZE;
	uint64_t dseg = f->code16 ? DIFF_DATA_VA : 0; /* SS base of 16-bit code */
	unsigned level = 0;
	if (d->zi.mnemonic == ZYDIS_MNEMONIC_ENTER)
		level = (unsigned)(d->zo[1].imm.value.u & 31);
	if (!(v->has_mem && v->mem.base == DIFF_RSP)) {
		uint64_t lo = DIFF_WIN_VA + 8 * (level + 2);
		if (lo < mid)
			lo = mid;
		c->in.gpr[DIFF_RSP] = lo + rng_below(r, end - 40 - lo) - dseg; /* room for POPA */
	}
	if (d->zi.mnemonic == ZYDIS_MNEMONIC_ENTER && level <= 1)
		c->in.gpr[5] = rng_next(r); /* not dereferenced: see what is written */
	else if (d->zi.mnemonic == ZYDIS_MNEMONIC_ENTER)
		c->in.gpr[5] = DIFF_WIN_VA + 8 * level + 8 + rng_below(r, mid - (DIFF_WIN_VA + 8 * level + 8) + 1) -
			       dseg;
	else if (d->zi.mnemonic == ZYDIS_MNEMONIC_LEAVE)
		c->in.gpr[5] = DIFF_WIN_VA + 8 + rng_below(r, DIFF_WIN_SIZE - 24) - dseg;
	if (d->zi.mnemonic == ZYDIS_MNEMONIC_POPF || d->zi.mnemonic == ZYDIS_MNEMONIC_POPFD ||
	    d->zi.mnemonic == ZYDIS_MNEMONIC_POPFQ) {
		uint64_t img = (rng_next(r) & (ARITH | DF | ID)) | DIFF_IF | 0x2;
		mem_set(c, c->in.gpr[DIFF_RSP] + dseg, f->sz, img);
	}
}

/*
 * Branches: indirect targets and return addresses point into the sled (or,
 * now and then, are not canonical: #GP); CALL and RET get a stack in the
 * window; LOOP/JrCXZ counts around 0 and 1, with junk above the address
 * size.
 */
static void values_branch(struct rng *r, struct diff_case *c, const struct form *f, const struct opvals *v,
			  const struct dec *d, uint64_t target)
{
	ZydisMnemonic m = d->zi.mnemonic;
	unsigned osz = f->sz;
	if (!f->compat && rng_below(r, 32) == 0 && (m == ZYDIS_MNEMONIC_JMP || m == ZYDIS_MNEMONIC_CALL ||
						      m == ZYDIS_MNEMONIC_RET) && d->zo[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
		target ^= 1ull << 60; /* not canonical */
	c->target = target;
	if (m == ZYDIS_MNEMONIC_CALL || m == ZYDIS_MNEMONIC_RET) {
		uint64_t mid = DIFF_WIN_VA + DIFF_WIN_SIZE / 2;
		c->in.gpr[DIFF_RSP] = mid + rng_below(r, DIFF_WIN_SIZE / 2 - 16);
		if (f->compat)
			c->in.gpr[DIFF_RSP] |= rng_next(r) & ~0xffffffffull;
	}
	if (m == ZYDIS_MNEMONIC_RET)
		mem_set(c, c->in.gpr[DIFF_RSP] & 0xffffffffull, osz, target);
	if (v->reg_id[0] >= 0)
		reg_set(c, (unsigned)v->reg_id[0], false, osz, target);
	else if (v->is_mem[0])
		mem_set(c, v->mem.addr, osz, target);
	if (m == ZYDIS_MNEMONIC_LOOP || m == ZYDIS_MNEMONIC_LOOPE || m == ZYDIS_MNEMONIC_LOOPNE ||
	    m == ZYDIS_MNEMONIC_JRCXZ || m == ZYDIS_MNEMONIC_JECXZ || m == ZYDIS_MNEMONIC_JCXZ) {
		uint64_t n = rng_below(r, 4) ? rng_below(r, 3) : rng_next(r);
		if (d->zi.address_width < 64)
			n = (n & 0xffffffffull) | (rng_next(r) & ~0xffffffffull);
		c->in.gpr[1] = n;
	}
}

bool gen_case(unsigned fi, struct rng *r, struct diff_case *c)
{
	const struct form *f = &forms[fi];
	memset(c, 0, sizeof(*c));
	c->form = f->name;
	c->compat = f->compat;
	c->code16 = f->code16;
	for (int k = 0; k < 16; k++)
		c->in.gpr[k] = rng_below(r, 4) ? rng_next(r) : value(r, 8);
	c->in.rflags = 0x2 | (rng_next(r) & ARITH) | (rng_below(r, 8) == 0 ? DF : 0) |
		       (rng_below(r, 2) ? ID : 0);
	for (unsigned k = 0; k < DIFF_WIN_SIZE; k++)
		c->mem[k] = (uint8_t)rng_next(r);

	struct opvals v;
	memset(&v, 0, sizeof(v));
	for (int k = 0; k < 3; k++)
		v.reg_id[k] = -1;
	uint32_t used = implicit_regs(f) | (f->compat ? 0xff00 : 0);
	int rel_op = -1;
	uint64_t target = 0;
	unsigned nregs = f->compat ? 8 : 16;
	ZydisEncoderRequest req;
	memset(&req, 0, sizeof(req));
	req.machine_mode = f->code16 ? ZYDIS_MACHINE_MODE_LONG_COMPAT_16 :
			   f->compat ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 :
				       ZYDIS_MACHINE_MODE_LONG_64;
	req.mnemonic = f->mnem;
	req.prefixes = f->prefixes;
	if (f->asz == 2)
		req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_16;
	else if (f->asz == 4)
		req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
	else if (f->asz == 8)
		req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_64;
	if (f->group == G_STACK)
		req.operand_size_hint = f->sz == 2 ? ZYDIS_OPERAND_SIZE_HINT_16 :
				       f->sz == 4 ? ZYDIS_OPERAND_SIZE_HINT_32 :
						    ZYDIS_OPERAND_SIZE_HINT_64;
	req.operand_count = f->nops;

	unsigned slack = f->group == G_BT || f->group == G_STACK ? 40 : 0;
	for (unsigned k = 0; k < f->nops; k++) {
		const struct opspec *o = &f->op[k];
		unsigned sz = o->sz ? o->sz : f->sz;
		ZydisEncoderOperand *eo = &req.operands[k];
		unsigned kind = o->k;
		v.osz[k] = sz;
		if (kind == K_RM)
			kind = rng_below(r, 2) ? K_R : K_M;
		switch (kind) {
		case K_R: {
			unsigned id;
			bool hi8 = sz == 1 && rng_below(r, 5) == 0;
			bool stack_user = f->group == G_STACK || f->group == G_BRANCH;
			if (rng_below(r, 8) == 0) {
				/* sometimes a register twice (never RSP where it
				 * addresses the stack) */
				do
					id = (unsigned)rng_below(r, nregs);
				while (stack_user && id == DIFF_RSP);
			} else {
				int p = pick_free(r, &used);
				if (p < 0)
					return false;
				id = (unsigned)p;
			}
			if (hi8 && id >= 4)
				hi8 = false;
			used |= 1u << id;
			v.reg_id[k] = (int)id;
			v.hi8[k] = hi8;
			eo->type = ZYDIS_OPERAND_TYPE_REGISTER;
			eo->reg.value = gpr_reg(id, sz, hi8);
			break;
		}
		case K_ACC:
			v.reg_id[k] = 0;
			eo->type = ZYDIS_OPERAND_TYPE_REGISTER;
			eo->reg.value = gpr_reg(0, sz, false);
			break;
		case K_CL:
			v.reg_id[k] = 1;
			eo->type = ZYDIS_OPERAND_TYPE_REGISTER;
			eo->reg.value = ZYDIS_REGISTER_CL;
			break;
		case K_M:
			v.is_mem[k] = true;
			v.has_mem = true;
			v.mem.sz = sz;
			break;
		case K_ONE:
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.u = 1;
			break;
		case K_I8S:
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.s = (int8_t)value(r, 1);
			break;
		case K_IZ: {
			unsigned isz = sz > 4 ? 4 : sz;
			uint64_t iv = value(r, isz);
			/* Keep it out of the imm8 range now and then so the
			 * full-width encodings are used. */
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.s = (int64_t)(isz == 4 ? (int64_t)(int32_t)iv :
					      isz == 2 ? (int64_t)(int16_t)iv :
							 (int64_t)(int8_t)iv);
			break;
		}
		case K_I8U:
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.u = f->group == G_SHIFT || f->group == G_ROT || f->group == G_RCX ||
						    f->group == G_SHXD ?
					    count_value(r, sz) :
					    (uint8_t)value(r, 1);
			break;
		case K_I16:
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.u = value(r, 2);
			break;
		case K_IMM:
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.u = value(r, sz);
			break;
		case K_REL8:
		case K_REL32:
			/* the displacement is set once the length is known */
			eo->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
			eo->imm.s = 0;
			req.branch_type = kind == K_REL8 ? ZYDIS_BRANCH_TYPE_SHORT : ZYDIS_BRANCH_TYPE_NEAR;
			req.branch_width = kind == K_REL8 ? ZYDIS_BRANCH_WIDTH_8 : ZYDIS_BRANCH_WIDTH_32;
			rel_op = (int)k;
			break;
		default:
			break;
		}
	}
	if (v.has_mem) {
		/* The memory operand registers come after the explicit ones. */
		unsigned k;
		for (k = 0; k < f->nops && !v.is_mem[k]; k++)
			;
		unsigned msz = v.osz[k];
		if (f->mnem == ZYDIS_MNEMONIC_CMPXCHG16B) {
			v.mem.addr = (mem_addr(r, 16, 16) & ~15ull) + (rng_below(r, 5) == 0 ? 8 * rng_below(r, 2) + rng_below(r, 8) : 0);
		} else if (f->mnem == ZYDIS_MNEMONIC_CMPXCHG8B) {
			v.mem.addr = mem_addr(r, 8, 8);
		} else {
			v.mem.addr = mem_addr(r, msz, slack);
		}
		/* 16-bit code: now and then an operand at the 64-KByte segment
		 * limit, straddling it (#GP(0), #SS(0) for BP-based) or just
		 * inside (#PF: nothing is mapped there). */
		if (f->code16 && !slack && rng_below(r, 32) == 0)
			v.mem.addr = DIFF_DATA_VA + 0x10000 - 1 - rng_below(r, msz);
		/* Now and then a segment prefix: GS adds its base (the same
		 * on both sides), the others are ignored in 64-bit mode. 16-bit
		 * code has DS, ES and SS based at DIFF_DATA_VA. */
		uint64_t segbase = f->code16 ? DIFF_DATA_VA : 0;
		switch (f->compat ? 15 : rng_below(r, 16)) {
		case 0:
		case 1:
			req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_GS;
			segbase = DIFF_GS_BASE;
			break;
		case 2:
			req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_ES;
			break;
		case 3:
			req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_SS;
			break;
		default:
			break;
		}
		v.mem.off = v.mem.addr - segbase;
		mem_shape(r, &v.mem, &used, f->compat, f->code16);
		mem_encode(&v.mem, &req.operands[k], msz);
		if (lockable(f->mnem) && k == 0 && rng_below(r, 4) == 0)
			req.prefixes |= ZYDIS_ATTRIB_HAS_LOCK;
		if (v.mem.rip || (v.mem.base < 0 && v.mem.index < 0)) {
			/* RIP-relative: disp from the end of the instruction; the
			 * length does not depend on a disp32's value. */
			req.operands[k].mem.displacement = v.mem.rip ? 0x10000 : (int64_t)v.mem.off;
			if (!encode(&req, c))
				return false;
			if (v.mem.rip)
				req.operands[k].mem.displacement =
					(int64_t)(v.mem.off - (DIFF_CODE_VA + c->len));
		}
	}

	/* A GS override for the source of MOVS/LODS/CMPS (the destination,
	 * ES:rDI, cannot be overridden: SDM Vol. 2B MOVS). */
	if ((f->group == G_STR || f->group == G_STRCMP) && !f->compat && rng_below(r, 8) == 0 &&
	    f->mnem != ZYDIS_MNEMONIC_STOSB && f->mnem != ZYDIS_MNEMONIC_STOSW && f->mnem != ZYDIS_MNEMONIC_STOSD &&
	    f->mnem != ZYDIS_MNEMONIC_STOSQ && f->mnem != ZYDIS_MNEMONIC_SCASB && f->mnem != ZYDIS_MNEMONIC_SCASW &&
	    f->mnem != ZYDIS_MNEMONIC_SCASD && f->mnem != ZYDIS_MNEMONIC_SCASQ)
		req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_GS;

	if (f->group == G_BRANCH) {
		/* The target: in the sled, now and then on the page before the
		 * code page (a #PF on the fetch). */
		target = DIFF_SLED_LO + rng_below(r, DIFF_SLED_HI - DIFF_SLED_LO);
		if (rng_below(r, 32) == 0)
			target = DIFF_CODE_VA - 1 - rng_below(r, 64);
		if (rel_op >= 0) {
			if (!encode(&req, c))
				return false;
			uint64_t next = DIFF_CODE_VA + c->len;
			int64_t rel = (int64_t)(target - next);
			if (f->op[rel_op].k == K_REL8 && (rel < -128 || rel > 127)) {
				/* forward into the sled, or (rarely) back onto the
				 * previous page */
				if (rng_below(r, 16))
					rel = (int64_t)(DIFF_SLED_LO - next) +
					      (int64_t)rng_below(r, 128 - (DIFF_SLED_LO - next));
				else
					rel = -128 + (int64_t)rng_below(r, 64);
				target = next + (uint64_t)rel;
			}
			req.operands[rel_op].imm.s = rel;
		}
		if (f->compat)
			target &= 0xffffffffull;
	}

	if (f->raw) {
		memcpy(c->code, f->raw, f->rawlen);
		c->len = f->rawlen;
	} else if (f->mnem == ZYDIS_MNEMONIC_LEA) {
		/* Zydis sizes LEA's address operand by the address, not by the
		 * destination. */
		bool ok = false;
		for (unsigned msz = 8; msz >= 2 && !ok; msz /= 2) {
			req.operands[1].mem.size = (uint16_t)msz;
			ok = encode(&req, c);
		}
		if (!ok)
			return false;
	} else if (!encode(&req, c)) {
		return false;
	}
	/* Now and then a LOCK prefix where it may not be legal (#UD). */
	if (!f->raw && !(req.prefixes & ZYDIS_ATTRIB_HAS_LOCK) && !v.mem.rip && c->len < 15 &&
	    rng_below(r, 32) == 0) {
		memmove(c->code + 1, c->code, c->len);
		c->code[0] = 0xf0;
		c->len++;
	}

	struct dec d;
	decode(c, &d);
	if (d.ok && f->raw) {
		/* Hand-written forms: operands as decoded. */
		for (unsigned k = 0; k < d.zi.operand_count_visible && k < 3; k++) {
			const ZydisDecodedOperand *o = &d.zo[k];
			v.osz[k] = o->size / 8;
			unsigned id;
			bool hi8;
			if (o->type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_id(o->reg.value, &id, &hi8)) {
				v.reg_id[k] = (int)id;
				v.hi8[k] = hi8;
			} else if (o->type == ZYDIS_OPERAND_TYPE_MEMORY && d.zi.mnemonic != ZYDIS_MNEMONIC_NOP &&
				   gpr_id(o->mem.base, &id, &hi8)) {
				v.is_mem[k] = true;
				v.has_mem = true;
				v.mem.base = (int)id;
				v.mem.index = -1;
				v.mem.asz = 8;
				v.mem.addr = mem_addr(r, v.osz[k], slack);
				v.mem.off = v.mem.addr;
			}
		}
	}

	/* Operand values. */
	if (v.has_mem)
		if (f->mnem != ZYDIS_MNEMONIC_LEA) /* LEA: any registers, no access */
			mem_bind(r, c, &v.mem);
	/* Now and then a non-canonical address (SDM Vol. 1 3.3.7.1): #GP(0),
	 * or #SS(0) for RSP/RBP-based (stack segment) references. */
	bool noncanonical = false;
	if (v.has_mem && !f->compat && v.mem.asz == 8 && v.mem.base >= 0 && f->mnem != ZYDIS_MNEMONIC_LEA &&
	    f->group != G_STACK && f->group != G_BRANCH && rng_below(r, 64) == 0) {
		c->in.gpr[v.mem.base] ^= 1ull << 62;
		noncanonical = true;
	}
	for (unsigned k = 0; k < 3; k++) {
		if (v.is_mem[k] || v.reg_id[k] >= 0) {
			bool addr_reg = !v.is_mem[k] && v.has_mem &&
					(v.reg_id[k] == v.mem.base || v.reg_id[k] == v.mem.index);
			if (!addr_reg)
				op_set(c, &v, k, value(r, v.osz[k]));
		}
	}
	/* Equal operands make CMP/SUB/SBB/CMPXCHG interesting. */
	if (f->nops >= 2 && rng_below(r, 8) == 0 && !v.is_mem[1] && v.reg_id[1] >= 0 &&
	    !(v.has_mem && (v.reg_id[1] == v.mem.base || v.reg_id[1] == v.mem.index)))
		op_set(c, &v, 1, op_get(c, &v, 0));

	unsigned sz = f->sz;
	switch (f->group) {
	case G_DIV:
		values_div(r, c, f, &v);
		break;
	case G_MUL:
		if (f->nops == 1)
			reg_set(c, 0, false, sz, value(r, sz));
		break;
	case G_SHIFT:
	case G_ROT:
	case G_RCX:
	case G_SHXD:
		if (f->nops && f->op[f->nops - 1].k == K_CL)
			reg_set(c, 1, false, 1, count_value(r, sz));
		break;
	case G_BT:
		if (v.is_mem[0] && v.reg_id[1] >= 0) {
			/* Register bit offsets address memory beyond the
			 * operand (signed): keep them inside the window. */
			int64_t off = (int64_t)rng_below(r, 8 * 64) - 8 * 32;
			reg_set(c, (unsigned)v.reg_id[1], false, v.osz[1], (uint64_t)off);
		}
		break;
	case G_CMPXCHG:
		reg_set(c, 0, false, sz, value(r, sz));
		if (rng_below(r, 5) < 2)
			reg_set(c, 0, false, sz, op_get(c, &v, 0));
		break;
	case G_CX8: {
		unsigned half = sz / 2;
		if (rng_below(r, 2)) {
			c->in.gpr[0] = mem_get(c, v.mem.addr, half) | (c->in.gpr[0] & ~mask_of(half));
			c->in.gpr[2] = mem_get(c, v.mem.addr + half, half) | (c->in.gpr[2] & ~mask_of(half));
		}
		break;
	}
	case G_BEXTR: {
		static const uint8_t edge[] = { 0, 1, 7, 8, 31, 32, 33, 63, 64, 65, 255 };
		uint64_t start = rng_below(r, 2) ? edge[rng_below(r, sizeof(edge))] : rng_below(r, 256);
		uint64_t len = rng_below(r, 2) ? edge[rng_below(r, sizeof(edge))] : rng_below(r, 256);
		reg_set(c, (unsigned)v.reg_id[2], false, sz, (rng_next(r) & ~0xffffull) | (len << 8) | start);
		break;
	}
	case G_STR:
	case G_STRCMP:
		values_string(r, c, f, (req.prefixes & ZYDIS_ATTRIB_HAS_SEGMENT_GS) ? DIFF_GS_BASE : 0);
		break;
	case G_STACK:
		if (d.ok)
			values_stack(r, c, f, &v, &d);
		break;
	case G_BRANCH:
		values_branch(r, c, f, &v, &d, target);
		break;
	case G_XLAT:
		/* XLAT: AL = [RBX + AL] (zero-extended AL, address-size sum). */
		c->in.gpr[3] = (DIFF_WIN_VA + rng_below(r, DIFF_WIN_SIZE - 256) - (f->code16 ? DIFF_DATA_VA : 0)) |
			       (f->asz == 4 ? rng_next(r) & ~0xffffffffull : 0);
		break;
	default:
		break;
	}

	if (d.ok && !noncanonical && !ea_in_window(c, &d))
		return false;
	if (!d.ok) {
		c->flags_defined = COMPARED;
		return true; /* an invalid encoding: both sides must raise #UD */
	}
	defined_results(f, c, &d, sz);
	if (f->group == G_BSF && op_get(c, &v, 1) == 0 && v.reg_id[0] >= 0)
		c->regs_undefined |= (uint16_t)(1u << v.reg_id[0]);
	if (f->raw == raw_bswap16)
		c->regs_undefined |= 1u << 1; /* "undefined result" (SDM BSWAP) */
	return true;
}
