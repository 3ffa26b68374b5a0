/*
 * Zydis -> struct emu_insn, and decoded blocks.
 *
 * Zydis decides lengths, prefixes, operand and address sizes and the legality
 * of LOCK/REX/VEX forms; tortuga keeps what the handlers need. Decode errors
 * become instructions that raise the architectural exception when executed
 * (#UD, or #GP for instructions longer than 15 bytes, SDM Vol. 2A 2.3.11).
 */
#include <errno.h>
#include <stdlib.h>

#include "emu.h"
#include "exec.h"
#include "ops.h"

static const struct {
	emu_fn fn;
	uint8_t flags;
} handler_table[ZYDIS_MNEMONIC_MAX_VALUE + 1] = {
#define X(mnem, fn_, fl) [ZYDIS_MNEMONIC_##mnem] = { .fn = fn_, .flags = fl },
#include "insn_table.def"
#undef X
};

emu_fn emu_handler_for(ZydisMnemonic m, uint8_t *flags)
{
	if ((unsigned)m > ZYDIS_MNEMONIC_MAX_VALUE || !handler_table[m].fn)
		return NULL;
	if (flags)
		*flags = handler_table[m].flags;
	return handler_table[m].fn;
}

int emu_decoders_init(struct emu_vm *ev)
{
	static const struct {
		ZydisMachineMode m;
		ZydisStackWidth w;
	} modes[MODE_COUNT] = {
		[MODE_REAL16] = { ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16 },
		[MODE_LEGACY16] = { ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16 },
		[MODE_LEGACY32] = { ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32 },
		[MODE_COMPAT16] = { ZYDIS_MACHINE_MODE_LONG_COMPAT_16, ZYDIS_STACK_WIDTH_16 },
		[MODE_COMPAT32] = { ZYDIS_MACHINE_MODE_LONG_COMPAT_32, ZYDIS_STACK_WIDTH_32 },
		[MODE_LONG64] = { ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64 },
	};
	for (int i = 0; i < MODE_COUNT; i++)
		if (ZYAN_FAILED(ZydisDecoderInit(&ev->dec[i], modes[i].m, modes[i].w)))
			return -1;
	return 0;
}

static uint8_t gpr_index(ZydisRegister r, uint8_t *hi8)
{
	*hi8 = 0;
	switch (r) {
	case ZYDIS_REGISTER_AH:
		*hi8 = 1;
		return GPR_RAX;
	case ZYDIS_REGISTER_CH:
		*hi8 = 1;
		return GPR_RCX;
	case ZYDIS_REGISTER_DH:
		*hi8 = 1;
		return GPR_RDX;
	case ZYDIS_REGISTER_BH:
		*hi8 = 1;
		return GPR_RBX;
	default:
		break;
	}
	ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
	return (uint8_t)(big - ZYDIS_REGISTER_RAX);
}

static bool is_gpr(ZydisRegister r)
{
	ZydisRegisterClass cl = ZydisRegisterGetClass(r);
	return cl == ZYDIS_REGCLASS_GPR8 || cl == ZYDIS_REGCLASS_GPR16 || cl == ZYDIS_REGCLASS_GPR32 ||
	       cl == ZYDIS_REGCLASS_GPR64;
}

static uint8_t addr_reg(ZydisRegister r)
{
	uint8_t hi8;
	if (r == ZYDIS_REGISTER_NONE)
		return EMU_REG_NONE;
	if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP || r == ZYDIS_REGISTER_IP)
		return EMU_REG_RIP;
	if (is_gpr(r))
		return gpr_index(r, &hi8);
	return EMU_REG_NONE;
}

static void conv_operand(const ZydisDecodedOperand *zo, struct emu_operand *o)
{
	memset(o, 0, sizeof(*o));
	o->size = (uint8_t)(zo->size / 8);
	switch (zo->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER: {
		ZydisRegister r = zo->reg.value;
		ZydisRegisterClass cl = ZydisRegisterGetClass(r);
		if (is_gpr(r)) {
			o->kind = OPK_REG;
			o->reg = gpr_index(r, &o->hi8);
		} else if (cl == ZYDIS_REGCLASS_SEGMENT) {
			o->kind = OPK_SEG;
			o->reg = (uint8_t)(r - ZYDIS_REGISTER_ES);
		} else if (cl == ZYDIS_REGCLASS_CONTROL) {
			o->kind = OPK_CR;
			o->reg = (uint8_t)(r - ZYDIS_REGISTER_CR0);
		} else if (cl == ZYDIS_REGCLASS_DEBUG) {
			o->kind = OPK_DR;
			o->reg = (uint8_t)(r - ZYDIS_REGISTER_DR0);
		} else if (cl == ZYDIS_REGCLASS_XMM) {
			o->kind = OPK_XMM;
			o->reg = (uint8_t)(r - ZYDIS_REGISTER_XMM0);
		} else if (cl == ZYDIS_REGCLASS_MMX) {
			o->kind = OPK_MMX;
			o->reg = (uint8_t)(r - ZYDIS_REGISTER_MM0);
		} else if (cl == ZYDIS_REGCLASS_X87) {
			o->kind = OPK_ST;
			o->reg = (uint8_t)(r - ZYDIS_REGISTER_ST0);
		} else {
			o->kind = OPK_OTHER;
			o->reg = (uint8_t)ZydisRegisterGetId(r);
		}
		break;
	}
	case ZYDIS_OPERAND_TYPE_MEMORY:
		o->kind = OPK_MEM;
		o->seg = zo->mem.segment == ZYDIS_REGISTER_NONE ?
				 SEG_DS :
				 (uint8_t)(zo->mem.segment - ZYDIS_REGISTER_ES);
		o->base = addr_reg(zo->mem.base);
		o->index = addr_reg(zo->mem.index);
		o->scale = zo->mem.scale ? zo->mem.scale : 1;
		o->disp = zo->mem.disp.has_displacement ? zo->mem.disp.value : 0;
		break;
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		if (zo->imm.is_relative) {
			o->kind = OPK_REL;
			o->disp = zo->imm.value.s;
		} else {
			o->kind = OPK_IMM;
			o->disp = zo->imm.is_signed ? zo->imm.value.s : (int64_t)zo->imm.value.u;
		}
		break;
	case ZYDIS_OPERAND_TYPE_POINTER:
		o->kind = OPK_PTR;
		o->disp = zo->ptr.offset;
		o->reg = 0;
		break;
	default:
		o->kind = OPK_NONE;
	}
}

/* An instruction tortuga does not implement: #UD and a trace event. */
void op_unimplemented(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_unimplemented(c, i);
}

/* Handlers for instructions Zydis could not decode. */
static void op_decode_ud(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	emu_raise_noerr(c, X86_UD);
}

static void op_decode_too_long(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	emu_raise(c, X86_GP, 0);
}

/* Forms that share a mnemonic but need another handler. */
static emu_fn refine_form(const ZydisDecodedInstruction *zi, const struct emu_insn *in, emu_fn fn,
			  uint8_t *fl)
{
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_MOV:
		for (unsigned k = 0; k < in->nops; k++) {
			if (in->op[k].kind == OPK_CR) {
				*fl |= EI_END;
				return op_mov_cr;
			}
			if (in->op[k].kind == OPK_DR) {
				*fl |= EI_END;
				return op_mov_dr;
			}
		}
		if (in->op[0].kind == OPK_SEG)
			*fl |= EI_END; /* may change mode, and MOV SS blocks interrupts */
		return fn;
	case ZYDIS_MNEMONIC_POP:
		if (in->op[0].kind == OPK_SEG)
			*fl |= EI_END;
		return fn;
	case ZYDIS_MNEMONIC_JMP:
		return zi->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR ? op_jmp_far : fn;
	case ZYDIS_MNEMONIC_CALL:
		return zi->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR ? op_call_far : fn;
	case ZYDIS_MNEMONIC_RET:
		return zi->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR ? op_retf : fn;
	case ZYDIS_MNEMONIC_MOVSD:
		/* The string forms live in the one-byte map; 0F-map forms are SSE2. */
		return zi->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT ? fn : op_movsd_sse;
	case ZYDIS_MNEMONIC_CMPSD:
		return zi->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT ? fn : op_cmpsd_sse;
	default:
		return fn;
	}
}

static void fill_insn(struct emu_insn *in, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	memset(in, 0, sizeof(*in));
	in->len = zi->length;
	in->opsize = zi->operand_width / 8;
	in->addrsize = zi->address_width / 8;
	in->mnem = (uint16_t)zi->mnemonic;
	in->opcode = zi->opcode;
	in->map = (uint8_t)zi->opcode_map;
	/* String instructions and XLAT have only hidden operands, but their
	 * memory operands carry the segment (a prefix may override DS for the
	 * source, SDM Vol. 1 3.7.5 and Vol. 2B MOVS/XLAT): keep those. */
	unsigned nops = zi->operand_count_visible;
	if (!nops && (zi->meta.category == ZYDIS_CATEGORY_STRINGOP ||
		      zi->meta.category == ZYDIS_CATEGORY_IOSTRINGOP || zi->mnemonic == ZYDIS_MNEMONIC_XLAT))
		nops = zi->operand_count;
	in->nops = (uint8_t)(nops < 3 ? nops : 3);
	for (unsigned k = 0; k < in->nops; k++) {
		conv_operand(&zo[k], &in->op[k]);
		if (zo[k].type == ZYDIS_OPERAND_TYPE_POINTER)
			in->sel = zo[k].ptr.segment;
	}
	if (zi->attributes & ZYDIS_ATTRIB_HAS_LOCK)
		in->flags |= EI_LOCK;
	if (zi->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPZ))
		in->flags |= EI_REP;
	if (zi->attributes & (ZYDIS_ATTRIB_HAS_REPNE | ZYDIS_ATTRIB_HAS_REPNZ))
		in->flags |= EI_REPNE;
	/* Condition codes: the low nibble of the Jcc/SETcc/CMOVcc opcode; for
	 * the x87 escapes D8-DF, the ModRM byte (ops_x87.c runs the encoding). */
	in->cc = zi->opcode & 0xf;
	if (zi->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && zi->opcode >= 0xd8 && zi->opcode <= 0xdf)
		in->cc = (uint8_t)(zi->raw.modrm.mod << 6 | zi->raw.modrm.reg << 3 | zi->raw.modrm.rm);

	uint8_t fl = 0;
	emu_fn fn = emu_handler_for(zi->mnemonic, &fl);
	fn = refine_form(zi, in, fn, &fl);
	in->fn = fn ? fn : op_unimplemented;
	in->flags |= fl;
	if (!fn)
		in->flags |= EI_END;
}

/* A block of n instructions and the sentinel after them (exec.h). */
static struct emu_block *block_alloc(struct emu_cpu *c, unsigned n)
{
	struct emu_vm *ev = emu_vm_of(c->vm);
	size_t sz = sizeof(struct emu_block) + (n + 1) * sizeof(struct emu_insn);
	sz = (sz + 15) & ~(size_t)15;
	if (ev->arena_used + sz > ev->arena_size)
		return NULL;
	struct emu_block *b = (struct emu_block *)(ev->arena + ev->arena_used);
	ev->arena_used += sz;
	return b;
}

/*
 * Decoding reads code bytes straight from the RAM page of the block's first
 * instruction. An instruction that straddles into the next page needs that
 * page translated too: for the block's first instruction a fault there is the
 * instruction's fault (#PF with CR2 in the next page); for a later one the
 * block simply ends before it, so the fault is raised when it is reached.
 */
static uint8_t *next_page(struct emu_cpu *c, uint64_t la_next, bool may_fault, uint64_t *page)
{
	uint64_t gpa;
	if (may_fault)
		gpa = emu_translate(c, la_next, ACC_EXEC);
	else if (!emu_translate_probe(c, la_next, ACC_EXEC, &gpa))
		return NULL;
	uint8_t *h = aspace_ram_ptr(&c->vm->as, gpa & PAGE_MASK, PAGE_SIZE);
	if (h)
		*page = ram_page(&c->vm->ram, h);
	return h;
}

struct emu_block *emu_decode_block(struct emu_cpu *c, uint64_t la, uint8_t *host, uint64_t gpa)
{
	struct emu_vm *ev = emu_vm_of(c->vm);
	const ZydisDecoder *dec = &ev->dec[c->mode];
	struct emu_insn tmp[EMU_BLOCK_MAX];
	uint64_t pages[2] = { ram_page(&c->vm->ram, host), ~0ull };
	uint8_t *page_base = host - (la & 0xfff);
	unsigned n = 0;
	unsigned pos = (unsigned)(la & 0xfff);

	while (n < EMU_BLOCK_MAX && pos < 4096) {
		ZydisDecodedInstruction zi;
		ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
		unsigned avail = 4096 - pos;
		uint8_t buf[2 * ZYDIS_MAX_INSTRUCTION_LENGTH];
		const uint8_t *src = page_base + pos;
		size_t len = avail < ZYDIS_MAX_INSTRUCTION_LENGTH ? avail : ZYDIS_MAX_INSTRUCTION_LENGTH;
		ZyanStatus st = ZydisDecoderDecodeFull(dec, src, len, &zi, zo);
		bool crosses = false;
		if (st == ZYDIS_STATUS_NO_MORE_DATA && avail < ZYDIS_MAX_INSTRUCTION_LENGTH) {
			uint64_t p1 = ~0ull;
			uint8_t *h1 = next_page(c, (la & PAGE_MASK) + PAGE_SIZE, n == 0, &p1);
			if (!h1) {
				if (n > 0)
					break;
				vm_error(c->vm, -EFAULT, "guest executes from non-RAM memory at 0x%llx",
					 (unsigned long long)((la & PAGE_MASK) + PAGE_SIZE));
				vm_stop(c->vm, TORTUGA_STOP_ERROR, TORTUGA_STATUS_ERROR);
				return NULL;
			}
			memcpy(buf, src, avail);
			memcpy(buf + avail, h1, ZYDIS_MAX_INSTRUCTION_LENGTH);
			st = ZydisDecoderDecodeFull(dec, buf, avail + ZYDIS_MAX_INSTRUCTION_LENGTH, &zi, zo);
			crosses = true;
			pages[1] = p1;
		}
		struct emu_insn *in = &tmp[n++];
		if (ZYAN_FAILED(st)) {
			memset(in, 0, sizeof(*in));
			in->off = (uint16_t)(pos - (unsigned)(la & 0xfff));
			in->len = 1;
			in->fn = st == ZYDIS_STATUS_INSTRUCTION_TOO_LONG ? op_decode_too_long :
									   op_decode_ud;
			in->flags = EI_END;
			if (crosses && pos + 1 <= 4096)
				pages[1] = ~0ull;
			break;
		}
		if (crosses && pos + zi.length <= 4096)
			pages[1] = ~0ull; /* needed the bytes only to find the length */
		fill_insn(in, &zi, zo);
		in->off = (uint16_t)(pos - (unsigned)(la & 0xfff));
		pos += zi.length;
		if ((in->flags & EI_END) || pos >= 4096)
			break;
	}

	struct emu_block *b = block_alloc(c, n);
	if (!b)
		return NULL;
	b->gpa = gpa;
	b->mode = c->mode;
	b->n = n;
	for (int k = 0; k < 2; k++) {
		b->page[k] = pages[k];
		if (pages[k] != ~0ull) {
			b->gen[k] = c->vm->ram.gen[pages[k]];
			if (!c->vm->ram.code[pages[k]]) {
				ram_mark_code(&c->vm->ram, pages[k]);
				emu_tlb_protect_code(ev, c->vm, pages[k]);
			}
		}
	}
	memcpy(b->insn, tmp, n * sizeof(tmp[0]));
	emu_spec_block(b->insn, n, b->mode, true);
	memset(b->link, 0, sizeof(b->link));
	ev->blocks_decoded++;
	return b;
}
