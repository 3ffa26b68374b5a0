/*
 * The emu CPU against itself: random sequences of the differential suite's
 * 64-bit instruction forms (gen.c), with conditional jumps over some of them
 * and the whole sequence in a counted loop, run twice -- as whole decoded
 * blocks, the way guests run (specialised handlers that skip recording dead
 * flags, ALU + Jcc pairs fused into one handler, blocks chained through
 * their links, instructions counted per chain), and one instruction per
 * vm_run (blocks cut to one instruction: every flag recorded, nothing fused
 * or chained). Registers, RFLAGS, RIP, all four data pages (the code, the
 * loop counter and the window among them), how the vCPU stopped and how
 * many instructions retired must agree.
 *
 * The diff suite checks each instruction against the host CPU; this checks
 * that composing them into blocks changes nothing.
 *
 *   diff-blocks [--sequences N] [--length L] [--seed S]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen.h"

#define DEFAULT_SEQUENCES 20000
#define DEFAULT_LENGTH 8
#define LOOPS 3
/* Instructions of at most 15 bytes behind up to 5 MOVs and a Jcc: fits in DIFF_SEQ_SIZE. */
#define MAX_LENGTH 40u

static const char *const reg_names[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					   "r8",  "r9",	 "r10", "r11", "r12", "r13", "r14", "r15" };

/* A 64-bit form that does not branch (its case has no target). */
static bool usable(unsigned f)
{
	return !forms[f].compat && !forms[f].code16 && forms[f].group != G_BRANCH;
}

/* The GPR number (encoding order) of a general-purpose register, or -1. */
static int gpr_num(ZydisRegister reg)
{
	switch (ZydisRegisterGetClass(reg)) {
	case ZYDIS_REGCLASS_GPR8:
	case ZYDIS_REGCLASS_GPR16:
	case ZYDIS_REGCLASS_GPR32:
	case ZYDIS_REGCLASS_GPR64:
		return (int)(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg) - ZYDIS_REGISTER_RAX);
	default:
		return -1;
	}
}

/*
 * The GPRs that place case c's memory accesses: the base and index of its
 * memory operands, the implicit registers it reads (RSI/RDI of a string
 * instruction, RSP of PUSH/POP, ...), RCX under a REP prefix, and the bit
 * offset of BT/BTS/BTR/BTC on memory (SDM Vol. 2A "BT": it moves the
 * address). A bit per register.
 */
static uint16_t address_regs(const struct diff_case *c)
{
	ZydisDecoder dec;
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, c->code, c->len, &zi, zo)))
		return 0;
	bool bt = zi.mnemonic == ZYDIS_MNEMONIC_BT || zi.mnemonic == ZYDIS_MNEMONIC_BTS ||
		  zi.mnemonic == ZYDIS_MNEMONIC_BTR || zi.mnemonic == ZYDIS_MNEMONIC_BTC;
	uint16_t regs = 0;
	for (unsigned k = 0; k < zi.operand_count; k++) {
		int g[2] = { -1, -1 };
		if (bt && zo[k].type == ZYDIS_OPERAND_TYPE_REGISTER) {
			g[0] = gpr_num(zo[k].reg.value);
		} else if (zo[k].type == ZYDIS_OPERAND_TYPE_MEMORY) {
			g[0] = gpr_num(zo[k].mem.base);
			g[1] = gpr_num(zo[k].mem.index);
		} else if (zo[k].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			   zo[k].visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT &&
			   (zo[k].actions & ZYDIS_OPERAND_ACTION_MASK_READ)) {
			g[0] = gpr_num(zo[k].reg.value);
		}
		for (int j = 0; j < 2; j++)
			if (g[j] >= 0)
				regs |= (uint16_t)(1u << g[j]);
	}
	if (zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE))
		regs |= 1u << 1; /* RCX */
	return regs;
}

/*
 * One sequence in the data area `data` (DIFF_DATA_SIZE bytes, zero but for
 * the first case's window and tail): `len` instructions at DIFF_SEQ_VA, a
 * quarter of them behind a Jcc (rel8, random condition) that jumps over
 * them, then DEC dword [DIFF_SEQ_COUNTER] (LOOPS there) and JNZ back to the
 * start, then HLT. Before most instructions, MOV r64, imm64 loads the
 * registers that place its memory accesses with its case's values, so that
 * the sequence often runs to its end while the other registers and all
 * flags flow from one instruction to the next; in a quarter of the
 * sequences one instruction goes without them and likely faults (#PF, #GP)
 * mid-block. The first case gives the inputs. Returns the code length.
 */
static unsigned build(struct rng *r, unsigned len, uint8_t *data, struct diff_case *first)
{
	uint8_t *code = data + (DIFF_SEQ_VA - DIFF_DATA_VA);
	unsigned n = 0, at = 0;
	/* In a quarter of the sequences one instruction goes without its MOVs. */
	unsigned wild = rng_below(r, 4) == 0 ? (unsigned)rng_below(r, len) : len;
	memset(data, 0, DIFF_DATA_SIZE);
	while (n < len) {
		unsigned f = (unsigned)rng_below(r, nforms);
		struct diff_case c;
		if (!usable(f) || !gen_case(f, r, &c) || c.target)
			continue;
		if (n == 0)
			*first = c;
		uint8_t pre[16 * 10];
		unsigned npre = 0;
		uint16_t regs = n != wild ? address_regs(&c) : 0;
		for (unsigned g = 0; g < 16; g++) {
			if (!(regs & (1u << g)))
				continue;
			pre[npre++] = (uint8_t)(0x48 | (g >> 3)); /* REX.W, REX.B */
			pre[npre++] = (uint8_t)(0xb8 + (g & 7)); /* mov r64, imm64 */
			memcpy(pre + npre, &c.in.gpr[g], 8);
			npre += 8;
		}
		if (n > 0 && rng_below(r, 4) == 0) {
			code[at++] = (uint8_t)(0x70 + rng_below(r, 16)); /* Jcc rel8 over it */
			code[at++] = (uint8_t)(npre + c.len);
		}
		memcpy(code + at, pre, npre);
		at += npre;
		memcpy(code + at, c.code, c.len);
		at += c.len;
		n++;
	}
	/* dec dword [DIFF_SEQ_COUNTER] (ModRM 0x0c: /1 with SIB, no base, no index) */
	static const uint8_t dec[] = { 0xff, 0x0c, 0x25 };
	memcpy(code + at, dec, sizeof(dec));
	at += sizeof(dec);
	uint32_t counter = (uint32_t)DIFF_SEQ_COUNTER;
	memcpy(code + at, &counter, 4);
	at += 4;
	int32_t back = -(int32_t)(at + 6); /* jnz rel32 to offset 0 */
	code[at++] = 0x0f;
	code[at++] = 0x85;
	memcpy(code + at, &back, 4);
	at += 4;
	code[at++] = 0xf4; /* hlt */
	uint32_t loops = LOOPS;
	memcpy(data + (DIFF_SEQ_COUNTER - DIFF_DATA_VA), &loops, sizeof(loops));
	memcpy(data + (DIFF_WIN_VA - DIFF_DATA_VA), first->mem, DIFF_WIN_SIZE);
	memcpy(data + (DIFF_TAIL_VA - DIFF_DATA_VA), first->mem + DIFF_WIN_SIZE, DIFF_TAIL_SIZE);
	return at;
}

static bool same(const struct diff_seq_out *a, const struct diff_seq_out *b)
{
	return !memcmp(&a->r, &b->r, sizeof(a->r)) && a->rip == b->rip && a->stop == b->stop &&
	       a->insns == b->insns && !memcmp(a->data, b->data, sizeof(a->data));
}

static void report(const uint8_t *code, unsigned len, const struct diff_case *in, const struct diff_seq_out *w,
		   const struct diff_seq_out *s, uint64_t seed, unsigned idx)
{
	fprintf(stderr, "FAIL sequence %u (seed %" PRIu64 "):\n", idx, seed);
	ZydisDisassembledInstruction d;
	for (unsigned at = 0; at < len;) {
		if (ZYAN_FAILED(ZydisDisassembleATT(ZYDIS_MACHINE_MODE_LONG_64, DIFF_SEQ_VA + at, code + at,
						    len - at, &d))) {
			fprintf(stderr, "  %04x  (undecodable)\n", at);
			break;
		}
		fprintf(stderr, "  %04x  %s\n", at, d.text);
		at += d.info.length;
	}
	fprintf(stderr, "  %-6s %-18s %-18s %-18s\n", "", "input", "whole blocks", "one by one");
	for (int k = 0; k < 16; k++)
		fprintf(stderr, "  %-6s %016" PRIx64 "   %016" PRIx64 "   %016" PRIx64 "%s\n", reg_names[k],
			in->in.gpr[k], w->r.gpr[k], s->r.gpr[k], w->r.gpr[k] != s->r.gpr[k] ? "  <--" : "");
	fprintf(stderr, "  %-6s %016" PRIx64 "   %016" PRIx64 "   %016" PRIx64 "\n", "rflags", in->in.rflags,
		w->r.rflags, s->r.rflags);
	fprintf(stderr, "  %-6s %-18s %016" PRIx64 "   %016" PRIx64 "\n", "rip", "", w->rip, s->rip);
	fprintf(stderr, "  stop %u / %u, retired %" PRIu64 " / %" PRIu64 "\n", w->stop, s->stop, w->insns,
		s->insns);
	unsigned shown = 0;
	for (unsigned k = 0; k < DIFF_DATA_SIZE && shown < 16; k++)
		if (w->data[k] != s->data[k]) {
			fprintf(stderr, "  mem 0x%llx: %02x / %02x\n", (unsigned long long)(DIFF_DATA_VA + k), w->data[k],
				s->data[k]);
			shown++;
		}
}

int main(int argc, char **argv)
{
	unsigned sequences = DEFAULT_SEQUENCES, length = DEFAULT_LENGTH;
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
	for (int k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--sequences") && k + 1 < argc)
			sequences = (unsigned)strtoul(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "--length") && k + 1 < argc)
			length = (unsigned)strtoul(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "--seed") && k + 1 < argc)
			seed = strtoull(argv[++k], NULL, 0);
		else {
			fprintf(stderr, "usage: diff-blocks [--sequences N] [--length L] [--seed S]\n");
			return 2;
		}
	}
	if (length < 1 || length > MAX_LENGTH) {
		fprintf(stderr, "diff-blocks: --length must be 1..%u\n", MAX_LENGTH);
		return 2;
	}
	forms_build();
	if (guest_init())
		return 1;
	struct rng r;
	rng_seed(&r, seed);
	static uint8_t data[DIFF_DATA_SIZE];
	const uint8_t *code = data + (DIFF_SEQ_VA - DIFF_DATA_VA);
	static struct diff_seq_out whole, step;
	unsigned failed = 0, halted = 0, faulted = 0, idx;
	uint64_t retired = 0;
	for (idx = 0; idx < sequences && failed < 5; idx++) {
		struct diff_case in;
		unsigned len = build(&r, length, data, &in);
		guest_run_seq(&in, data, false, &whole);
		guest_run_seq(&in, data, true, &step);
		if (!same(&whole, &step)) {
			report(code, len, &in, &whole, &step, seed, idx);
			failed++;
		}
		retired += whole.insns;
		if (whole.rip == DIFF_SEQ_VA + len)
			halted++;
		else
			faulted++;
	}
	guest_fini();
	printf("diff-blocks: %u sequences of %u instructions, seed %" PRIu64 ": %" PRIu64
	       " instructions retired; %u ran to the end, %u stopped at a fault; %s\n",
	       idx, length, seed, retired, halted, faulted, failed ? "FAILED" : "all agree");
	return failed ? 1 : 0;
}
