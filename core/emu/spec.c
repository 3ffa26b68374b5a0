/*
 * Choosing each decoded instruction's exec handler (exec.h): a specialised
 * handler for the operand forms fast_*.c cover, emu_exec_generic() for the
 * rest, and the block's sentinel.
 *
 * Flag liveness. A backward pass over the block finds flag-setting
 * instructions whose arithmetic flags nothing can observe: every flag they
 * write is written again by a later instruction of the block before any
 * instruction reads it, and no instruction in between may fault, exit or be
 * anything but a specialised register-only form. Those get a handler that
 * skips recording the flags. At the end of the block every flag counts as
 * live (the next block may read it), and so does every flag before an
 * instruction that may fault (the handler would push RFLAGS) or that runs
 * generically (it may read any flag). "Writes" means what tortuga's own
 * handler for the form always overwrites, so that a run with these handlers
 * leaves exactly the flags a run without them would.
 */
#include "fast.h"
#include "ops.h"

/* What spec knows about one instruction form. */
struct form {
	emu_fn full; /* records its flags (or sets none) */
	emu_fn nf; /* skips recording its flags, or NULL */
	uint64_t reads, writes; /* arithmetic flags (RFLAGS_* bits) */
	bool may_fault; /* memory access, branch: anything that can fall back */
};

/* Flags read by condition code cc (SDM Vol. 1 Appendix B, Table B-1). */
static uint64_t cc_reads(unsigned cc)
{
	static const uint64_t r[8] = {
		RFLAGS_OF, RFLAGS_CF, RFLAGS_ZF, RFLAGS_CF | RFLAGS_ZF,
		RFLAGS_SF, RFLAGS_PF, RFLAGS_SF | RFLAGS_OF, RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF,
	};
	return r[(cc >> 1) & 7];
}

/* The size class of a general-purpose register operand, or -1. */
static int reg_sz(const struct emu_operand *o)
{
	if (o->kind != OPK_REG || o->hi8)
		return -1;
	switch (o->size) {
	case 8:
		return FS_8;
	case 4:
		return FS_4;
	case 2:
		return FS_2;
	case 1:
		return FS_1;
	default:
		return -1;
	}
}

static int size_class(unsigned size)
{
	return size == 8 ? FS_8 : size == 4 ? FS_4 : size == 2 ? FS_2 : size == 1 ? FS_1 : -1;
}

/* The form of a memory operand the fast paths handle (64-bit mode, 64-bit
 * address; enum fast_ea), or -1. */
static int mem_form(const struct emu_insn *i, const struct emu_operand *o, uint32_t mode)
{
	if (o->kind != OPK_MEM || mode != MODE_LONG64 || i->addrsize != 8)
		return -1;
	bool base = o->base < 16, index = o->index < 16;
	if ((!base && o->base != EMU_REG_NONE && o->base != EMU_REG_RIP) || (!index && o->index != EMU_REG_NONE))
		return -1;
	if (o->seg == SEG_FS || o->seg == SEG_GS)
		return EA_X;
	if (base)
		return index ? EA_BI : EA_B;
	return index && o->base == EMU_REG_NONE ? EA_I : EA_X;
}

static int alu_of(emu_fn fn)
{
	static const struct {
		emu_fn fn;
		int op;
	} map[] = {
		{ op_add, FA_ADD }, { op_or, FA_OR },	{ op_and, FA_AND },   { op_sub, FA_SUB },
		{ op_xor, FA_XOR }, { op_cmp, FA_CMP }, { op_test, FA_TEST },
	};
	for (unsigned k = 0; k < sizeof(map) / sizeof(map[0]); k++)
		if (map[k].fn == fn)
			return map[k].op;
	return -1;
}

static struct form classify_alu(const struct emu_insn *i, uint32_t mode, int op)
{
	struct form f = { .writes = RFLAGS_ARITH };
	const struct emu_operand *d = &i->op[0], *s = &i->op[1];
	int sz = size_class(d->size), ea;
	if (i->nops != 2 || sz < 0 || (d->kind == OPK_REG && d->hi8) || (s->kind == OPK_REG && s->hi8))
		return (struct form){ 0 };
	if (d->kind == OPK_REG && s->kind == OPK_REG && s->size == d->size) {
		f.full = fast_alu_rr[op][sz][0];
		f.nf = fast_alu_rr[op][sz][1];
	} else if (d->kind == OPK_REG && s->kind == OPK_IMM) {
		f.full = fast_alu_ri[op][sz][0];
		f.nf = fast_alu_ri[op][sz][1];
	} else if (d->kind == OPK_REG && (ea = mem_form(i, s, mode)) >= 0 && s->size == d->size) {
		f.full = fast_alu_rm[op][sz][ea];
		f.may_fault = true;
	} else if ((ea = mem_form(i, d, mode)) >= 0 && s->kind == OPK_REG && s->size == d->size) {
		f.full = fast_alu_mr[op][sz][ea];
		f.may_fault = true;
	} else if ((ea = mem_form(i, d, mode)) >= 0 && s->kind == OPK_IMM) {
		f.full = fast_alu_mi[op][sz][ea];
		f.may_fault = true;
	} else {
		return (struct form){ 0 };
	}
	return f;
}

static struct form classify_mov(const struct emu_insn *i, uint32_t mode)
{
	struct form f = { 0 };
	const struct emu_operand *d = &i->op[0], *s = &i->op[1];
	int sz = size_class(d->size), ea;
	if (i->nops != 2 || sz < 0 || (d->kind == OPK_REG && d->hi8) || (s->kind == OPK_REG && s->hi8))
		return f;
	if (d->kind == OPK_REG && s->kind == OPK_REG && s->size == d->size)
		f.full = fast_mov_rr[sz];
	else if (d->kind == OPK_REG && s->kind == OPK_IMM)
		f.full = fast_mov_ri[sz];
	else if (d->kind == OPK_REG && (ea = mem_form(i, s, mode)) >= 0 && s->size == d->size)
		f.full = fast_mov_rm[sz][ea], f.may_fault = true;
	else if ((ea = mem_form(i, d, mode)) >= 0 && s->kind == OPK_REG && s->size == d->size)
		f.full = fast_mov_mr[sz][ea], f.may_fault = true;
	else if ((ea = mem_form(i, d, mode)) >= 0 && s->kind == OPK_IMM)
		f.full = fast_mov_mi[sz][ea], f.may_fault = true;
	return f;
}

static struct form classify_extend(const struct emu_insn *i, uint32_t mode, bool sx)
{
	struct form f = { 0 };
	const struct emu_operand *s = &i->op[1];
	int dsz = reg_sz(&i->op[0]), ea;
	if (i->nops != 2 || dsz < 0)
		return f;
	if (reg_sz(s) >= 0) {
		f.full = sx ? fast_movsx_rr : fast_movzx_rr;
	} else if ((dsz == FS_8 || dsz == FS_4) && (ea = mem_form(i, s, mode)) >= 0 &&
		   (s->size == 1 || s->size == 2 || s->size == 4)) {
		f.full = fast_extend_rm[sx][s->size == 1 ? 0 : s->size == 2 ? 1 : 2][dsz][ea];
		f.may_fault = true;
	}
	return f;
}

/* INC, DEC, NEG, NOT of a register. */
static struct form classify_unary(const struct emu_insn *i)
{
	struct form f = { 0 };
	int sz = reg_sz(&i->op[0]);
	if (i->nops != 1 || sz < 0)
		return f;
	if (i->fn == op_inc || i->fn == op_dec) {
		const emu_fn *t = i->fn == op_inc ? fast_inc_r[sz] : fast_dec_r[sz];
		f.full = t[0];
		f.nf = t[1];
		f.writes = RFLAGS_ARITH & ~RFLAGS_CF; /* CF is kept */
	} else if (i->fn == op_neg) {
		f.full = fast_neg_r[sz][0];
		f.nf = fast_neg_r[sz][1];
		f.writes = RFLAGS_ARITH;
	} else {
		f.full = fast_not_r[sz][0];
	}
	return f;
}

/* SHL/SHR/SAR r, imm with a masked count below the operand width. A masked
 * count of 0 changes no flag (and is a plain register write, which the
 * no-flags handler does); any other sets all six (AF cleared, op_shift). */
static struct form classify_shift(const struct emu_insn *i)
{
	struct form f = { 0 };
	int sz = reg_sz(&i->op[0]);
	int op = i->mnem == ZYDIS_MNEMONIC_SHL ? FSH_SHL :
		 i->mnem == ZYDIS_MNEMONIC_SHR ? FSH_SHR :
		 i->mnem == ZYDIS_MNEMONIC_SAR ? FSH_SAR :
						 -1;
	if (i->nops != 2 || sz < 0 || op < 0 || i->op[1].kind != OPK_IMM)
		return f;
	unsigned n = (unsigned)i->op[1].disp & (i->op[0].size == 8 ? 0x3f : 0x1f);
	if (n >= 8u * i->op[0].size)
		return f;
	f.nf = fast_shift_ri[op][sz][1];
	f.full = n ? fast_shift_ri[op][sz][0] : f.nf;
	f.writes = n ? RFLAGS_ARITH : 0;
	return f;
}

/* IMUL r, r and IMUL r, r, imm (op_imul sets all six flags). */
static struct form classify_imul(const struct emu_insn *i)
{
	struct form f = { 0 };
	int sz = reg_sz(&i->op[0]);
	if (sz < 0 || sz == FS_1 || reg_sz(&i->op[1]) < 0)
		return f;
	const emu_fn *t;
	if (i->nops == 2)
		t = fast_imul_rr[sz];
	else if (i->nops == 3 && i->op[2].kind == OPK_IMM)
		t = fast_imul_rri[sz];
	else
		return f;
	f.full = t[0];
	f.nf = t[1];
	f.writes = RFLAGS_ARITH;
	return f;
}

static struct form classify(const struct emu_insn *i, uint32_t mode)
{
	struct form f = { 0 };
	emu_fn fn = i->fn;
	int op = alu_of(fn);
	if (op >= 0)
		return classify_alu(i, mode, op);
	if (fn == op_mov)
		return classify_mov(i, mode);
	if (fn == op_movzx || fn == op_movsx)
		return classify_extend(i, mode, fn == op_movsx);
	if (fn == op_lea) {
		int sz = reg_sz(&i->op[0]), ea = mem_form(i, &i->op[1], MODE_LONG64);
		if (sz >= 0 && ea >= 0)
			f.full = fast_lea[sz][ea];
		return f;
	}
	if (fn == op_nop) {
		f.full = fast_nop;
		return f;
	}
	if (fn == op_inc || fn == op_dec || fn == op_neg || fn == op_not)
		return classify_unary(i);
	if (fn == op_shift)
		return classify_shift(i);
	if (fn == op_imul)
		return classify_imul(i);
	if (fn == op_cmovcc && i->nops == 2 && reg_sz(&i->op[0]) >= 0 && reg_sz(&i->op[1]) >= 0) {
		f.full = fast_cmov_rr[i->cc];
		f.reads = cc_reads(i->cc);
		return f;
	}
	if (fn == op_setcc && i->nops == 1 && reg_sz(&i->op[0]) == FS_1) {
		f.full = fast_setcc_r[i->cc];
		f.reads = cc_reads(i->cc);
		return f;
	}
	/* Control transfers and the stack: 64-bit mode, 64-bit operands. */
	if (mode != MODE_LONG64 || i->opsize != 8)
		return f;
	f.may_fault = true;
	if (fn == op_jcc && i->op[0].kind == OPK_REL) {
		f.full = fast_jcc[i->cc];
		f.reads = cc_reads(i->cc);
	} else if (fn == op_jmp && i->op[0].kind == OPK_REL) {
		f.full = fast_jmp_rel;
	} else if (fn == op_call && i->op[0].kind == OPK_REL) {
		f.full = fast_call_rel;
	} else if (fn == op_ret && i->nops == 0) {
		f.full = fast_ret;
	} else if (fn == op_push && i->nops == 1 && reg_sz(&i->op[0]) == FS_8) {
		f.full = fast_push_r;
	} else if (fn == op_pop && i->nops == 1 && reg_sz(&i->op[0]) == FS_8) {
		f.full = fast_pop_r;
	}
	return f;
}

/*
 * An ALU instruction on registers (or INC/DEC) followed by the block's
 * final Jcc becomes one handler (fast_alu_jcc) when the Jcc's condition
 * comes straight from the operation (fast_fusable). Only in whole blocks: a
 * block cut short could end between the two.
 */
static emu_fn fuse_jcc(const struct emu_insn *i, const struct emu_insn *j)
{
	if (j->exec != fast_jcc[j->cc])
		return NULL;
	int sz = reg_sz(&i->op[0]);
	if (sz != FS_8 && sz != FS_4)
		return NULL;
	int op = alu_of(i->fn);
	if (op >= 0 && i->nops == 2 && (i->op[1].kind == OPK_IMM || reg_sz(&i->op[1]) == sz) &&
	    fast_fusable(fast_alu_lf(op), j->cc))
		return fast_alu_jcc[op][i->op[1].kind == OPK_IMM][sz][j->cc];
	if ((i->fn == op_inc || i->fn == op_dec) && i->nops == 1 && fast_fusable(LF_INC, j->cc))
		return fast_incdec_jcc[i->fn == op_dec][sz][CFS_ANY][j->cc];
	return NULL;
}

/*
 * The CF an INC/DEC keeps, from the record of the instruction before it
 * (fast.h, enum fast_cfsrc): a forward pass over the chosen handlers finds,
 * for each INC/DEC that records its flags, the last handler that wrote the
 * record, if only flag-less specialised forms that cannot fall back ran
 * since, and gives it the handler specialised for that source. In a whole
 * block, a logic operation whose record only such an INC/DEC would read
 * (nothing in between reads a flag) need not record it at all: the INC/DEC
 * takes CF = 0 and overwrites the rest.
 */
static void spec_cf_sources(struct emu_insn *insn, unsigned n, uint32_t mode, bool whole)
{
	enum fast_cfsrc src = CFS_ANY; /* what left the record before insn[k] */
	struct emu_insn *prod = NULL; /* the instruction that left it, if src != CFS_ANY */
	bool read = false; /* whether an instruction since prod read a flag */
	for (unsigned k = 0; k < n; k++) {
		struct emu_insn *i = &insn[k];
		if (i->exec == emu_exec_generic) {
			src = CFS_ANY;
			continue;
		}
		struct form f = classify(i, mode);
		int op = alu_of(i->fn);
		if ((i->fn == op_inc || i->fn == op_dec) && f.full) {
			int dec = i->fn == op_dec, sz = reg_sz(&i->op[0]);
			const emu_fn *jt = k + 1 < n && (sz == FS_8 || sz == FS_4) ?
						   fast_incdec_jcc[dec][sz][CFS_ANY] : NULL;
			if (i->exec == f.full)
				i->exec = fast_incdec_cf[dec][sz][src];
			else if (jt && i->exec == jt[insn[k + 1].cc])
				i->exec = fast_incdec_jcc[dec][sz][src][insn[k + 1].cc];
			else
				i = NULL; /* the no-flags handler: the record is older */
			if (i && whole && src == CFS_LOGIC && !read) {
				struct form pf = classify(prod, mode);
				if (pf.nf)
					prod->exec = pf.nf;
			}
			src = i ? CFS_INCDEC : CFS_ANY;
			prod = i;
			read = false;
			continue;
		}
		if (op >= 0 && !f.may_fault && i->exec == f.full) {
			enum lf_op lf = fast_alu_lf(op);
			src = lf == LF_ADD ? CFS_ADD : lf == LF_SUB ? CFS_SUB : CFS_LOGIC;
			prod = i;
			read = false;
		} else if (!(f.full && !f.may_fault && !f.writes)) {
			src = CFS_ANY;
		} else {
			read |= f.reads != 0;
		}
	}
}

void emu_spec_block(struct emu_insn *insn, unsigned n, uint32_t mode, bool whole)
{
	uint64_t live = RFLAGS_ARITH; /* after the instruction being looked at */
	for (unsigned k = n; k-- > 0;) {
		struct emu_insn *i = &insn[k];
		struct form f = classify(i, mode);
		if (!f.full) {
			i->exec = emu_exec_generic;
			live = RFLAGS_ARITH;
			continue;
		}
		bool dead = whole && f.nf && !(live & f.writes);
		i->exec = dead ? f.nf : f.full;
		emu_fn fused = whole && k == n - 2 && !dead ? fuse_jcc(i, &insn[k + 1]) : NULL;
		if (fused)
			i->exec = fused;
		if (f.may_fault || i->exec == emu_exec_generic)
			live = RFLAGS_ARITH;
		else
			live = (live & ~f.writes) | f.reads;
	}
	spec_cf_sources(insn, n, mode, whole);
	struct emu_insn *end = &insn[n];
	memset(end, 0, sizeof(*end));
	const struct emu_insn *last = &insn[n - 1];
	end->off = (uint16_t)(last->off + last->len);
	if (!whole || (last->exec == emu_exec_generic && (last->flags & EI_END)))
		end->exec = emu_exec_end;
	else
		end->exec = (last->flags & EI_END) ? emu_exec_chain : emu_exec_chain_seq;
}
