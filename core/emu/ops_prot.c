/*
 * Protected-mode instructions that inspect or adjust selectors (Intel SDM
 * Vol. 2A/2B: LAR, LSL, VERR, VERW, ARPL) and BOUND. LAR/LSL/VERR/VERW never
 * fault on a bad selector: they report through ZF.
 */
#include "emu.h"
#include "ops.h"
#include "seg.h"

/*
 * System-descriptor types LAR and LSL accept (SDM Vol. 2A LAR and LSL,
 * "Segment and Gate Types" tables; types from Vol. 3A 3.5 Table 3-2). In
 * IA-32e mode only the LDT, the 64-bit TSSes and (LAR) the 64-bit call gate
 * are valid.
 */
static const struct {
	uint8_t lar, lsl; /* valid outside IA-32e mode */
	uint8_t lar64, lsl64; /* valid in IA-32e mode */
} sys_type_ok[16] = {
	[0x1] = { 1, 1, 0, 0 }, /* 16-bit TSS (available) */
	[0x2] = { 1, 1, 1, 1 }, /* LDT */
	[0x3] = { 1, 1, 0, 0 }, /* 16-bit TSS (busy) */
	[0x4] = { 1, 0, 0, 0 }, /* 16-bit call gate */
	[0x5] = { 1, 0, 0, 0 }, /* task gate */
	[0x9] = { 1, 1, 1, 1 }, /* 32-bit / 64-bit TSS (available) */
	[0xb] = { 1, 1, 1, 1 }, /* 32-bit / 64-bit TSS (busy) */
	[0xc] = { 1, 0, 1, 0 }, /* 32-bit / 64-bit call gate */
};

static void set_zf(struct emu_cpu *c, bool zf)
{
	uint64_t f = emu_flags(c) & ~RFLAGS_ZF;
	emu_set_flags(c, f | (zf ? RFLAGS_ZF : 0));
}

/*
 * The common part of LAR, LSL, VERR, VERW: read the descriptor of sel and
 * apply the privilege rule (conforming code segments are exempt): false if
 * the selector is NULL, outside the table, or not visible at CPL/RPL.
 */
static bool visible_descriptor(struct emu_cpu *c, uint16_t sel, uint64_t *lo)
{
	uint64_t hi;
	if (!(sel & ~3u) || !emu_read_descriptor(c, sel, lo, &hi, false))
		return false;
	unsigned ar = (unsigned)(*lo >> 40) & 0xff;
	unsigned dpl = (ar >> 5) & 3;
	bool conforming = (ar & SEG_AR_S) && (ar & SEG_AR_TYPE_CODE) && (ar & SEG_AR_TYPE_DC);
	if (!conforming && (c->cpl > dpl || (sel & 3u) > dpl))
		return false;
	return true;
}

static void need_protected(struct emu_cpu *c)
{
	if (c->mode == MODE_REAL16)
		emu_raise_noerr(c, X86_UD);
}

/* LAR r, r/m16; LSL r, r/m16. */
void op_lar(struct emu_cpu *c, const struct emu_insn *i)
{
	need_protected(c);
	uint16_t sel = (uint16_t)emu_op_read(c, i, 1);
	bool lsl = i->mnem == ZYDIS_MNEMONIC_LSL;
	uint64_t lo;
	if (!visible_descriptor(c, sel, &lo)) {
		set_zf(c, false);
		return;
	}
	unsigned ar = (unsigned)(lo >> 40) & 0xff;
	if (!(ar & SEG_AR_S)) {
		bool ia32e = (c->s->efer & EFER_LMA) != 0;
		unsigned t = ar & 0xf;
		bool ok = lsl ? (ia32e ? sys_type_ok[t].lsl64 : sys_type_ok[t].lsl) :
				(ia32e ? sys_type_ok[t].lar64 : sys_type_ok[t].lar);
		if (!ok) {
			set_zf(c, false);
			return;
		}
	}
	uint64_t val;
	if (lsl) {
		uint32_t limit = (uint32_t)((lo & 0xffff) | ((lo >> 32) & 0xf0000));
		if (lo & (1ull << 55)) /* G */
			limit = (limit << 12) | 0xfff;
		val = limit;
	} else {
		/* The second doubleword with base and limit masked: bits 23:8. */
		val = (lo >> 32) & 0x00f0ff00u;
	}
	gpr_write(c, i->op[0].reg, false, i->op[0].size, val);
	set_zf(c, true);
}

/* VERR / VERW r/m16 (SDM Vol. 2B VERR/VERW). */
void op_verr(struct emu_cpu *c, const struct emu_insn *i)
{
	need_protected(c);
	uint16_t sel = (uint16_t)emu_op_read(c, i, 0);
	uint64_t lo;
	bool ok = visible_descriptor(c, sel, &lo);
	unsigned ar = (unsigned)(lo >> 40) & 0xff;
	if (ok && !(ar & SEG_AR_S))
		ok = false;
	if (ok && i->mnem == ZYDIS_MNEMONIC_VERW)
		ok = !(ar & SEG_AR_TYPE_CODE) && (ar & SEG_AR_TYPE_RW);
	else if (ok)
		ok = !(ar & SEG_AR_TYPE_CODE) || (ar & SEG_AR_TYPE_RW);
	set_zf(c, ok);
}

/* ARPL r/m16, r16 (not in 64-bit mode, where 63 /r is MOVSXD). */
void op_arpl(struct emu_cpu *c, const struct emu_insn *i)
{
	need_protected(c);
	uint16_t dst = (uint16_t)emu_op_read(c, i, 0);
	uint16_t src = (uint16_t)emu_op_read(c, i, 1);
	if ((dst & 3) < (src & 3)) {
		emu_op_write(c, i, 0, (dst & ~3u) | (src & 3u));
		set_zf(c, true);
	} else {
		set_zf(c, false);
	}
}

/* BOUND r, m16&16 / m32&32 (not in 64-bit mode): #BR when the index is
 * outside [lower, upper], signed (SDM Vol. 2A BOUND). */
void op_bound(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_operand *m = &i->op[1];
	unsigned sz = i->opsize;
	uint64_t ea = emu_ea(c, i, m);
	int64_t lower = (int64_t)sign_extend(emu_read(c, m->seg, ea, sz), sz);
	int64_t upper = (int64_t)sign_extend(emu_read(c, m->seg, (ea + sz) & size_mask(i->addrsize), sz), sz);
	int64_t idx = (int64_t)sign_extend(gpr_read(c, i->op[0].reg, false, sz), sz);
	if (idx < lower || idx > upper)
		emu_raise_noerr(c, X86_BR);
}

/* LDS/LES/LFS/LGS/LSS r, m16:16/32/64: the offset, then the selector above
 * it; the segment load (with its checks) happens before the register
 * write, so a fault leaves the register alone (SDM Vol. 2A LDS/LES/...). */
void op_lxs(struct emu_cpu *c, const struct emu_insn *i)
{
	static const struct {
		uint16_t mnem;
		uint8_t seg;
	} map[] = {
		{ ZYDIS_MNEMONIC_LDS, SEG_DS }, { ZYDIS_MNEMONIC_LES, SEG_ES }, { ZYDIS_MNEMONIC_LFS, SEG_FS },
		{ ZYDIS_MNEMONIC_LGS, SEG_GS }, { ZYDIS_MNEMONIC_LSS, SEG_SS },
	};
	unsigned seg = SEG_DS;
	for (unsigned k = 0; k < sizeof(map) / sizeof(map[0]); k++)
		if (map[k].mnem == i->mnem)
			seg = map[k].seg;
	const struct emu_operand *m = &i->op[1];
	if (m->kind != OPK_MEM)
		emu_raise_noerr(c, X86_UD);
	unsigned sz = i->opsize;
	uint64_t ea = emu_ea(c, i, m);
	uint64_t off = emu_read(c, m->seg, ea, sz);
	uint16_t sel = (uint16_t)emu_read(c, m->seg, (ea + sz) & size_mask(i->addrsize), 2);
	emu_load_seg(c, seg, sel);
	gpr_write(c, i->op[0].reg, false, sz, off);
}
