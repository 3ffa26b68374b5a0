/*
 * Segment descriptors: reading them from the GDT/LDT (SDM Vol. 3A 3.4.2,
 * 3.5.1) and loading segment registers with the checks of the MOV/POP
 * (segment register) instructions (SDM Vol. 2B "MOV", "POP").
 */
#include "emu.h"
#include "seg.h"

void emu_seg_from_desc(struct x86_segment *sg, uint16_t sel, uint64_t lo, uint64_t hi)
{
	uint32_t limit = (uint32_t)((lo & 0xffff) | ((lo >> 32) & 0xf0000));
	uint32_t ar = (uint32_t)((lo >> 40) & 0xff) | (uint32_t)(((lo >> 52) & 0xf) << 12);
	if (ar & SEG_AR_G)
		limit = (limit << 12) | 0xfff;
	uint64_t base = ((lo >> 16) & 0xffffff) | (((lo >> 56) & 0xff) << 24);
	if (!(ar & SEG_AR_S))
		base |= (hi & 0xffffffffull) << 32; /* 16-byte system descriptors in IA-32e mode */
	sg->sel = sel;
	sg->base = base;
	sg->limit = limit;
	sg->ar = ar;
}

bool emu_read_descriptor(struct emu_cpu *c, uint16_t sel, uint64_t *lo, uint64_t *hi, bool wide)
{
	const struct x86_state *s = c->s;
	uint64_t base;
	uint32_t limit;
	if (sel & 4) {
		if (s->ldtr.ar & SEG_AR_UNUSABLE || !(s->ldtr.sel & ~3))
			return false;
		base = s->ldtr.base;
		limit = s->ldtr.limit;
	} else {
		base = s->gdtr.base;
		limit = s->gdtr.limit;
	}
	uint32_t off = sel & ~7u;
	if (off + (wide ? 15u : 7u) > limit)
		return false;
	if (c->mode != MODE_LONG64 && !(s->efer & EFER_LMA))
		base &= 0xffffffffull;
	*lo = emu_read_slow(c, base + off, 8, ACC_READ | ACC_IMPLICIT);
	*hi = wide ? emu_read_slow(c, base + off + 8, 8, ACC_READ | ACC_IMPLICIT) : 0;
	return true;
}

void emu_set_accessed(struct emu_cpu *c, uint16_t sel, uint64_t lo)
{
	if (lo & (1ull << 40))
		return;
	const struct x86_state *s = c->s;
	uint64_t base = (sel & 4) ? s->ldtr.base : s->gdtr.base;
	emu_write_slow(c, base + (sel & ~7u) + 5, 1, ((lo >> 40) & 0xff) | 1, ACC_WRITE | ACC_IMPLICIT);
}

void emu_real_seg(struct x86_segment *sg, uint16_t sel)
{
	sg->sel = sel;
	sg->base = (uint64_t)sel << 4;
	/* Real mode keeps the limit and attributes of the hidden part, except
	 * that the segment becomes usable (SDM 20.1.1). */
	sg->ar &= ~SEG_AR_UNUSABLE;
	if (!(sg->ar & SEG_AR_P))
		sg->ar = 0x93;
}

/*
 * Load DS, ES, FS, GS or SS in protected mode (SDM Vol. 2B MOV, "IF SS is
 * loaded" and "IF DS, ES, FS, or GS is loaded with non-NULL selector").
 */
void emu_load_seg(struct emu_cpu *c, unsigned seg, uint16_t sel)
{
	struct x86_state *s = c->s;
	struct x86_segment *sg = &s->seg[seg];
	if (c->mode == MODE_REAL16 || (s->rflags & RFLAGS_VM)) {
		emu_real_seg(sg, sel);
		emu_update_mode(c);
		return;
	}
	unsigned rpl = sel & 3, cpl = c->cpl;
	if (!(sel & ~3u)) {
		/* NULL selector: #GP(0) for SS, except in 64-bit mode at CPL < 3
		 * with RPL = CPL (SDM: "64-bit mode ... SS can be NULL"). */
		if (seg == SEG_SS && !(c->mode == MODE_LONG64 && cpl != 3 && rpl == cpl))
			emu_raise(c, X86_GP, 0);
		sg->sel = sel;
		sg->ar = SEG_AR_UNUSABLE | (seg == SEG_SS ? (cpl << SEG_AR_DPL_SHIFT) : 0);
		sg->base = 0;
		sg->limit = 0;
		emu_update_mode(c);
		return;
	}
	uint64_t lo, hi;
	if (!emu_read_descriptor(c, sel, &lo, &hi, false))
		emu_raise(c, X86_GP, sel & ~3u);
	uint32_t ar = (uint32_t)((lo >> 40) & 0xff);
	unsigned dpl = (ar >> 5) & 3;
	bool code = ar & SEG_AR_TYPE_CODE, rw = ar & SEG_AR_TYPE_RW;
	if (!(ar & SEG_AR_S))
		emu_raise(c, X86_GP, sel & ~3u);
	if (seg == SEG_SS) {
		if (code || !rw || rpl != cpl || dpl != cpl)
			emu_raise(c, X86_GP, sel & ~3u);
		if (!(ar & SEG_AR_P))
			emu_raise(c, X86_SS, sel & ~3u);
	} else {
		if (code && !rw)
			emu_raise(c, X86_GP, sel & ~3u);
		/* Data or non-conforming code: DPL >= max(CPL, RPL). */
		if ((!code || !(ar & SEG_AR_TYPE_DC)) && (rpl > dpl || cpl > dpl))
			emu_raise(c, X86_GP, sel & ~3u);
		if (!(ar & SEG_AR_P))
			emu_raise(c, X86_NP, sel & ~3u);
	}
	emu_set_accessed(c, sel, lo);
	emu_seg_from_desc(sg, sel, lo | (1ull << 40), hi);
	emu_update_mode(c);
}
