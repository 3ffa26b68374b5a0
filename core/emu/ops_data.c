/*
 * Data movement and bit instructions (Intel SDM Vol. 2): MOV and its
 * extending forms, LEA, XCHG, CMPXCHG(8B/16B), XADD, PUSH/POP, the
 * sign-extension family, CMOVcc/SETcc, BSWAP/MOVBE, LAHF/SAHF, BT*,
 * BSF/BSR, TZCNT/LZCNT/POPCNT.
 */
#include "emu.h"
#include "ops.h"
#include "seg.h"

void op_mov(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_operand *d = &i->op[0];
	if (i->op[1].kind == OPK_SEG) {
		/* MOV r/m, Sreg: a 16-bit store to memory, zero-extended into a
		 * register of the operand size. */
		uint64_t sel = c->s->seg[i->op[1].reg].sel;
		if (d->kind == OPK_MEM)
			emu_write(c, d->seg, emu_ea(c, i, d), 2, sel);
		else
			gpr_write(c, d->reg, false, d->size, sel);
		return;
	}
	if (d->kind == OPK_SEG) {
		uint16_t sel = (uint16_t)emu_op_read(c, i, 1);
		if (d->reg == SEG_CS)
			emu_raise_noerr(c, X86_UD);
		emu_load_seg(c, d->reg, sel);
		if (d->reg == SEG_SS)
			c->s->interruptibility |= INTR_BLOCK_MOV_SS;
		emu_break(c);
		return;
	}
	uint64_t v = emu_op_read(c, i, 1);
	if (d->kind == OPK_REG)
		gpr_write(c, d->reg, d->hi8, d->size, v);
	else
		emu_write(c, d->seg, emu_ea(c, i, d), d->size, v);
}

void op_movzx(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t v = emu_op_read(c, i, 1) & size_mask(i->op[1].size);
	gpr_write(c, i->op[0].reg, false, i->op[0].size, v);
}

void op_movsx(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t v = sign_extend(emu_op_read(c, i, 1), i->op[1].size);
	gpr_write(c, i->op[0].reg, false, i->op[0].size, v);
}

void op_lea(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t ea = emu_ea(c, i, &i->op[1]);
	gpr_write(c, i->op[0].reg, false, i->op[0].size, ea);
}

void op_nop(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)c;
	(void)i;
}

/* XCHG: with a memory operand it is locked; single-threaded here, so the
 * order of checks (write probe first) is what matters. */
void op_xchg(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_operand *a = &i->op[0], *b = &i->op[1];
	unsigned sz = a->size;
	if (a->kind == OPK_MEM || b->kind == OPK_MEM) {
		unsigned mi = a->kind == OPK_MEM ? 0 : 1;
		const struct emu_operand *r = &i->op[1 - mi];
		uint64_t la = emu_op_la(c, i, mi, ACC_WRITE);
		uint64_t mv = emu_read_la(c, la, sz);
		emu_write_la(c, la, sz, gpr_read(c, r->reg, r->hi8, sz));
		gpr_write(c, r->reg, r->hi8, sz, mv);
		return;
	}
	uint64_t va = gpr_read(c, a->reg, a->hi8, sz), vb = gpr_read(c, b->reg, b->hi8, sz);
	gpr_write(c, a->reg, a->hi8, sz, vb);
	gpr_write(c, b->reg, b->hi8, sz, va);
}

/*
 * CMPXCHG: compare the accumulator with dst; equal: dst = src, else the
 * accumulator = dst. Flags as CMP accumulator, dst. The destination is always
 * written (with its own value when unequal), so it is probed for writing.
 */
void op_cmpxchg(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_operand *d = &i->op[0];
	unsigned sz = d->size;
	uint64_t m = size_mask(sz);
	uint64_t src = emu_op_read(c, i, 1) & m;
	uint64_t acc = c->s->gpr[GPR_RAX] & m;
	uint64_t dst, la = 0;
	if (d->kind == OPK_MEM) {
		la = emu_op_la(c, i, 0, ACC_WRITE);
		dst = emu_read_la(c, la, sz);
	} else {
		dst = gpr_read(c, d->reg, d->hi8, sz);
	}
	lf_set(c, LF_SUB, sz, acc, dst, acc - dst);
	if (acc == dst) {
		if (d->kind == OPK_MEM)
			emu_write_la(c, la, sz, src);
		else
			gpr_write(c, d->reg, d->hi8, sz, src);
	} else {
		if (d->kind == OPK_MEM)
			emu_write_la(c, la, sz, dst);
		gpr_write(c, GPR_RAX, false, sz, dst);
	}
}

/* CMPXCHG8B/16B: EDX:EAX (RDX:RAX) against m64 (m128); ZF reports equality,
 * other flags unaffected. CMPXCHG16B needs a 16-byte aligned operand (#GP). */
void op_cmpxchgnb(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	unsigned half = i->op[0].size / 2; /* 4 or 8 */
	uint64_t ea = emu_ea(c, i, &i->op[0]);
	if (half == 8 && (ea & 15))
		emu_raise(c, X86_GP, 0);
	uint64_t la = emu_la(c, i->op[0].seg, ea, 2 * half, ACC_WRITE);
	emu_probe_write(c, la, 2 * half);
	uint64_t lo = emu_read_la(c, la, half), hi = emu_read_la(c, la + half, half);
	uint64_t m = size_mask(half);
	uint64_t f = emu_flags(c) & ~RFLAGS_ZF;
	if (lo == (s->gpr[GPR_RAX] & m) && hi == (s->gpr[GPR_RDX] & m)) {
		emu_write_la(c, la, half, s->gpr[GPR_RBX] & m);
		emu_write_la(c, la + half, half, s->gpr[GPR_RCX] & m);
		f |= RFLAGS_ZF;
	} else {
		emu_write_la(c, la, half, lo);
		emu_write_la(c, la + half, half, hi);
		gpr_write(c, GPR_RAX, false, half, lo);
		gpr_write(c, GPR_RDX, false, half, hi);
	}
	emu_set_flags(c, f);
}

/* XADD: tmp = dst + src; src = dst; dst = tmp; flags as ADD. */
void op_xadd(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_operand *d = &i->op[0], *r = &i->op[1];
	unsigned sz = d->size;
	uint64_t m = size_mask(sz);
	uint64_t src = gpr_read(c, r->reg, r->hi8, sz);
	uint64_t dst, la = 0;
	if (d->kind == OPK_MEM) {
		la = emu_op_la(c, i, 0, ACC_WRITE);
		dst = emu_read_la(c, la, sz);
	} else {
		dst = gpr_read(c, d->reg, d->hi8, sz);
	}
	uint64_t res = (dst + src) & m;
	gpr_write(c, r->reg, r->hi8, sz, dst);
	if (d->kind == OPK_MEM)
		emu_write_la(c, la, sz, res);
	else
		gpr_write(c, d->reg, d->hi8, sz, res);
	lf_set(c, LF_ADD, sz, dst, src, res);
}

void op_push(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_operand *o = &i->op[0];
	unsigned sz = i->opsize;
	uint64_t v;
	if (o->kind == OPK_SEG)
		v = c->s->seg[o->reg].sel;
	else
		v = emu_op_read(c, i, 0);
	emu_push(c, sz, v & size_mask(sz));
}

void op_pop(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_operand *o = &i->op[0];
	unsigned sz = i->opsize;
	struct x86_state *s = c->s;
	if (o->kind == OPK_SEG) {
		uint64_t old_rsp = s->gpr[GPR_RSP];
		uint16_t sel = (uint16_t)emu_pop(c, sz);
		/* If the load faults, RSP must be unchanged. */
		uint64_t new_rsp = s->gpr[GPR_RSP];
		s->gpr[GPR_RSP] = old_rsp;
		emu_load_seg(c, o->reg, sel);
		s->gpr[GPR_RSP] = new_rsp;
		if (o->reg == SEG_SS)
			s->interruptibility |= INTR_BLOCK_MOV_SS;
		emu_break(c);
		return;
	}
	if (o->kind == OPK_REG) {
		uint64_t v = emu_pop(c, sz);
		gpr_write(c, o->reg, o->hi8, sz, v);
		return;
	}
	/* POP m: the address is computed after RSP is incremented (SDM POP). */
	uint64_t old_rsp = s->gpr[GPR_RSP];
	uint64_t v = emu_pop(c, sz);
	uint64_t ea = emu_ea(c, i, o);
	uint64_t la = emu_la(c, o->seg, ea, sz, ACC_WRITE);
	uint64_t new_rsp = s->gpr[GPR_RSP];
	s->gpr[GPR_RSP] = old_rsp;
	emu_probe_write(c, la, sz);
	s->gpr[GPR_RSP] = new_rsp;
	emu_write_la(c, la, sz, v);
}

/*
 * PUSHA/PUSHAD (SDM Vol. 2B): push AX, CX, DX, BX, the original SP, BP, SI,
 * DI at the operand size; #UD in 64-bit mode (the decoder refuses it there).
 * Every slot is checked before the first write, so a fault leaves memory and
 * registers as they were.
 */
void op_pusha(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	unsigned sz = i->opsize, ss = emu_stack_size(c);
	uint64_t sm = size_mask(ss), sp = s->gpr[GPR_RSP];
	uint64_t la[8];
	for (unsigned k = 0; k < 8; k++) {
		la[k] = emu_la(c, SEG_SS, (sp - (k + 1) * sz) & sm, sz, ACC_WRITE);
		emu_probe_write(c, la[k], sz);
	}
	for (unsigned k = 0; k < 8; k++) /* GPR order: rAX rCX rDX rBX rSP rBP rSI rDI */
		emu_write_la(c, la[k], sz, s->gpr[k] & size_mask(sz));
	uint64_t nsp = (sp - 8 * sz) & sm;
	s->gpr[GPR_RSP] = ss == 4 ? (uint32_t)nsp : (sp & ~0xffffull) | (nsp & 0xffff);
}

/*
 * POPA/POPAD: pop DI, SI, BP, skip the saved SP, then BX, DX, CX, AX
 * (SDM Vol. 2B). All eight slots are read before any register changes.
 */
void op_popa(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	unsigned sz = i->opsize, ss = emu_stack_size(c);
	uint64_t sm = size_mask(ss), sp = s->gpr[GPR_RSP];
	uint64_t v[8];
	for (unsigned k = 0; k < 8; k++)
		v[k] = emu_read(c, SEG_SS, (sp + k * sz) & sm, sz);
	for (unsigned k = 0; k < 8; k++) {
		unsigned reg = 7 - k; /* rDI first */
		if (reg != GPR_RSP)
			gpr_write(c, reg, false, sz, v[k]);
	}
	uint64_t nsp = (sp + 8 * sz) & sm;
	s->gpr[GPR_RSP] = ss == 4 ? (uint32_t)nsp : (sp & ~0xffffull) | (nsp & 0xffff);
}

/* CBW/CWDE/CDQE: sign-extend the low half of the accumulator into it. */
void op_cbw(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sz = i->opsize;
	uint64_t v = sign_extend(c->s->gpr[GPR_RAX], sz / 2);
	gpr_write(c, GPR_RAX, false, sz, v);
}

/* CWD/CDQ/CQO: the accumulator's sign into DX/EDX/RDX. */
void op_cwd(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sz = i->opsize;
	uint64_t v = sign_extend(c->s->gpr[GPR_RAX], sz);
	gpr_write(c, GPR_RDX, false, sz, (int64_t)v < 0 ? ~0ull : 0);
}

/* CMOVcc: in 64-bit mode a 32-bit destination is zero-extended even when
 * the condition is false (SDM CMOVcc "Operation"). The source is read
 * (and may fault) either way. */
void op_cmovcc(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t v = emu_op_read(c, i, 1);
	const struct emu_operand *d = &i->op[0];
	if (emu_cc(c, i->cc))
		gpr_write(c, d->reg, false, d->size, v);
	else if (d->size == 4)
		gpr_write(c, d->reg, false, 4, c->s->gpr[d->reg]);
}

void op_setcc(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_op_write(c, i, 0, emu_cc(c, i->cc));
}

void op_bswap(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_operand *d = &i->op[0];
	uint64_t v = c->s->gpr[d->reg];
	if (d->size == 8)
		v = __builtin_bswap64(v);
	else if (d->size == 4)
		v = __builtin_bswap32((uint32_t)v);
	else
		v = 0; /* 16-bit BSWAP is undefined; Intel and AMD give 0 */
	gpr_write(c, d->reg, false, d->size, v);
}

static uint64_t bswap_n(uint64_t v, unsigned sz)
{
	switch (sz) {
	case 2:
		return __builtin_bswap16((uint16_t)v);
	case 4:
		return __builtin_bswap32((uint32_t)v);
	default:
		return __builtin_bswap64(v);
	}
}

void op_movbe(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t v = emu_op_read(c, i, 1);
	emu_op_write(c, i, 0, bswap_n(v, i->op[0].size));
}

/*
 * XLAT: AL = [seg:rBX + ZeroExtend(AL)], the sum taken at the address size
 * (SDM Vol. 2B XLAT/XLATB). The segment (DS unless overridden) comes from
 * the hidden memory operand decode.c keeps.
 */
void op_xlat(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned seg = i->nops && i->op[0].kind == OPK_MEM ? i->op[0].seg : SEG_DS;
	uint64_t ea = (c->s->gpr[GPR_RBX] + (c->s->gpr[GPR_RAX] & 0xff)) & size_mask(i->addrsize);
	gpr_write(c, GPR_RAX, false, 1, emu_read(c, seg, ea, 1));
}

/* LAHF/SAHF: SF ZF 0 AF 0 PF 1 CF <-> AH (SDM Vol. 2A). */
void op_lahf(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	uint64_t f = emu_flags(c) & 0xd5;
	gpr_write(c, GPR_RAX, true, 1, f | 2);
}

void op_sahf(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	uint64_t ah = (c->s->gpr[GPR_RAX] >> 8) & 0xd5;
	emu_set_flags(c, (emu_flags(c) & ~0xd5ull) | ah);
}

/* ---- bit instructions ---- */

/*
 * BT/BTS/BTR/BTC: CF = the selected bit. With a register bit offset and a
 * memory operand the offset is signed and may address beyond the operand
 * (SDM Vol. 2A "BT": BitBase + (BitOffset DIV 8)). ZF is unaffected; OF, SF,
 * AF, PF undefined (left as they were).
 */
void op_bt(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_operand *d = &i->op[0];
	unsigned sz = d->size, bits = 8 * sz;
	uint64_t off = emu_op_read(c, i, 1);
	bool write = i->mnem != ZYDIS_MNEMONIC_BT;
	uint64_t val, la = 0;
	unsigned bit;
	if (d->kind == OPK_REG) {
		bit = (unsigned)(off & (bits - 1));
		val = gpr_read(c, d->reg, false, sz);
	} else {
		uint64_t ea = emu_ea(c, i, d);
		if (i->op[1].kind == OPK_REG) {
			int64_t so = (int64_t)sign_extend(off, i->op[1].size);
			int64_t words = so >> (sz == 8 ? 6 : sz == 4 ? 5 : 4);
			ea += (uint64_t)(words * (int64_t)sz);
			if (i->addrsize == 4)
				ea = (uint32_t)ea;
			else if (i->addrsize == 2)
				ea = (uint16_t)ea;
		}
		bit = (unsigned)(off & (bits - 1));
		la = emu_la(c, d->seg, ea, sz, write ? ACC_WRITE : ACC_READ);
		if (write)
			emu_probe_write(c, la, sz);
		val = emu_read_la(c, la, sz);
	}
	bool cf = (val >> bit) & 1;
	uint64_t nv = val;
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_BTS:
		nv |= 1ull << bit;
		break;
	case ZYDIS_MNEMONIC_BTR:
		nv &= ~(1ull << bit);
		break;
	case ZYDIS_MNEMONIC_BTC:
		nv ^= 1ull << bit;
		break;
	default:
		break;
	}
	if (write) {
		if (d->kind == OPK_REG)
			gpr_write(c, d->reg, false, sz, nv);
		else
			emu_write_la(c, la, sz, nv);
	}
	uint64_t f = emu_flags(c) & ~RFLAGS_CF;
	emu_set_flags(c, f | (cf ? RFLAGS_CF : 0));
}

/* BSF/BSR: ZF = (source == 0), and then the destination is left unchanged;
 * CF, OF, SF, AF, PF undefined (left as they were). */
void op_bsf(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sz = i->op[0].size;
	uint64_t src = emu_op_read(c, i, 1) & size_mask(sz);
	uint64_t f = emu_flags(c) & ~RFLAGS_ZF;
	if (!src) {
		emu_set_flags(c, f | RFLAGS_ZF);
		return;
	}
	unsigned r = i->mnem == ZYDIS_MNEMONIC_BSF ? (unsigned)__builtin_ctzll(src) :
						     63u - (unsigned)__builtin_clzll(src);
	gpr_write(c, i->op[0].reg, false, sz, r);
	emu_set_flags(c, f);
}

/* TZCNT/LZCNT: CF = (source == 0), ZF = (result == 0); OF, SF, AF, PF
 * undefined (cleared here). */
void op_tzcnt(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sz = i->op[0].size, bits = 8 * sz;
	uint64_t src = emu_op_read(c, i, 1) & size_mask(sz);
	unsigned r;
	if (!src)
		r = bits;
	else if (i->mnem == ZYDIS_MNEMONIC_TZCNT)
		r = (unsigned)__builtin_ctzll(src);
	else
		r = (unsigned)__builtin_clzll(src) - (64 - bits);
	gpr_write(c, i->op[0].reg, false, sz, r);
	uint64_t f = emu_flags(c) & ~RFLAGS_ARITH;
	if (!src)
		f |= RFLAGS_CF;
	if (!r)
		f |= RFLAGS_ZF;
	emu_set_flags(c, f);
}

/* POPCNT: ZF = (source == 0); CF, OF, SF, AF, PF cleared. */
void op_popcnt(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sz = i->op[0].size;
	uint64_t src = emu_op_read(c, i, 1) & size_mask(sz);
	gpr_write(c, i->op[0].reg, false, sz, (uint64_t)__builtin_popcountll(src));
	uint64_t f = emu_flags(c) & ~RFLAGS_ARITH;
	if (!src)
		f |= RFLAGS_ZF;
	emu_set_flags(c, f);
}

/* ---- BMI1 (SDM Vol. 2A ANDN, BEXTR, BLSI, BLSMSK, BLSR) ---- */

/*
 * VEX-encoded general-purpose instructions raise #UD in real-address and
 * virtual-8086 mode (SDM Vol. 2A 2.8, exception class 13); VEX.L = 1 is
 * refused by the decoder.
 */
static void vex_gpr_check(struct emu_cpu *c)
{
	if (c->mode == MODE_REAL16)
		emu_raise_noerr(c, X86_UD);
}

/* Write a BMI1 result and its flags: SF and ZF from the result unless the
 * instruction says otherwise, CF as given, OF cleared; AF and PF are
 * undefined (cleared here). */
static void bmi_finish(struct emu_cpu *c, const struct emu_insn *i, uint64_t res, uint64_t f)
{
	unsigned sz = i->op[0].size;
	gpr_write(c, i->op[0].reg, false, sz, res);
	emu_set_flags(c, (emu_flags(c) & ~RFLAGS_ARITH) | f);
}

static uint64_t zf_sf(uint64_t res, unsigned sz)
{
	uint64_t f = 0;
	if (!(res & size_mask(sz)))
		f |= RFLAGS_ZF;
	if ((res >> (8 * sz - 1)) & 1)
		f |= RFLAGS_SF;
	return f;
}

/* ANDN: DEST = NOT SRC1 AND SRC2; SF, ZF from the result, OF = CF = 0. */
void op_andn(struct emu_cpu *c, const struct emu_insn *i)
{
	vex_gpr_check(c);
	unsigned sz = i->op[0].size;
	uint64_t res = ~emu_op_read(c, i, 1) & emu_op_read(c, i, 2) & size_mask(sz);
	bmi_finish(c, i, res, zf_sf(res, sz));
}

/*
 * BEXTR: START = SRC2[7:0], LEN = SRC2[15:8]; DEST = SRC1[START+LEN-1:START]
 * zero-extended, where bits beyond the operand read as 0. ZF from the result,
 * CF = OF = 0, SF undefined (cleared).
 */
void op_bextr(struct emu_cpu *c, const struct emu_insn *i)
{
	vex_gpr_check(c);
	unsigned sz = i->op[0].size, bits = 8 * sz;
	uint64_t src = emu_op_read(c, i, 1) & size_mask(sz);
	uint64_t ctl = emu_op_read(c, i, 2);
	unsigned start = (unsigned)(ctl & 0xff), len = (unsigned)((ctl >> 8) & 0xff);
	uint64_t res = start >= bits ? 0 : src >> start;
	if (len < 64)
		res &= (1ull << len) - 1;
	bmi_finish(c, i, res, res ? 0 : RFLAGS_ZF);
}

/* BLSI: DEST = (-SRC) AND SRC; ZF, SF from the result, CF = (SRC != 0). */
void op_blsi(struct emu_cpu *c, const struct emu_insn *i)
{
	vex_gpr_check(c);
	unsigned sz = i->op[0].size;
	uint64_t src = emu_op_read(c, i, 1) & size_mask(sz);
	uint64_t res = (0 - src) & src;
	bmi_finish(c, i, res, zf_sf(res, sz) | (src ? RFLAGS_CF : 0));
}

/* BLSMSK: DEST = (SRC - 1) XOR SRC; SF from the result, ZF = 0,
 * CF = (SRC == 0). */
void op_blsmsk(struct emu_cpu *c, const struct emu_insn *i)
{
	vex_gpr_check(c);
	unsigned sz = i->op[0].size;
	uint64_t src = emu_op_read(c, i, 1) & size_mask(sz);
	uint64_t res = ((src - 1) ^ src) & size_mask(sz);
	bmi_finish(c, i, res, (zf_sf(res, sz) & RFLAGS_SF) | (src ? 0 : RFLAGS_CF));
}

/* BLSR: DEST = (SRC - 1) AND SRC; ZF, SF from the result, CF = (SRC == 0). */
void op_blsr(struct emu_cpu *c, const struct emu_insn *i)
{
	vex_gpr_check(c);
	unsigned sz = i->op[0].size;
	uint64_t src = emu_op_read(c, i, 1) & size_mask(sz);
	uint64_t res = ((src - 1) & src) & size_mask(sz);
	bmi_finish(c, i, res, zf_sf(res, sz) | (src ? 0 : RFLAGS_CF));
}
