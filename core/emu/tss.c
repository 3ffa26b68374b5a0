/*
 * Privilege-level stack switching through the TSS, shared by interrupt and
 * exception delivery (SDM Vol. 3A 6.12.1, 6.14.4, 6.14.5) and far calls
 * through call gates (5.8.5, 5.8.5.1), and pushes onto a stack segment with
 * its limit checks (5.3).
 *
 * TSS layouts (8.2.1 Figure 8-2, 8.6 Figure 8-3 for the 16-bit TSS, 8.7
 * Figure 8-11 for the 64-bit TSS): where the stack pointer and stack
 * segment for privilege level n live.
 */
#include "emu.h"
#include "seg.h"
#include "tss.h"

static const struct {
	uint8_t sp_off, sp_step, sp_size, ss_off; /* SPn at sp_off + sp_step * n; SSn at ss_off + sp_step * n */
} tss_stack_field[2] = {
	[0] = { 2, 4, 2, 4 }, /* 16-bit TSS: SP0 at 2, SS0 at 4 */
	[1] = { 4, 8, 4, 8 }, /* 32-bit TSS: ESP0 at 4, SS0 at 8 */
};

void emu_tss_stack32(struct emu_cpu *c, unsigned new_cpl, uint32_t ext, struct x86_segment *ss, uint64_t *esp)
{
	const struct x86_state *s = c->s;
	unsigned ttype = s->tr.ar & 0xf;
	int wide = ttype == SYS_TYPE_TSS_AVAIL || ttype == SYS_TYPE_TSS_BUSY;
	uint32_t off = tss_stack_field[wide].sp_off + tss_stack_field[wide].sp_step * new_cpl;
	uint32_t ss_off = tss_stack_field[wide].ss_off + tss_stack_field[wide].sp_step * new_cpl;
	if (ss_off + 1 > s->tr.limit)
		emu_raise(c, X86_TS, (s->tr.sel & ~3u) | ext);
	*esp = emu_read_slow(c, s->tr.base + off, tss_stack_field[wide].sp_size, ACC_READ | ACC_IMPLICIT);
	uint16_t sel = (uint16_t)emu_read_slow(c, s->tr.base + ss_off, 2, ACC_READ | ACC_IMPLICIT);
	/* The new SS: NULL is #TS(EXT); otherwise every check is #TS(SS),
	 * except "not present", #SS(SS) (SDM 6.15 "Interrupt 10", CALL). */
	if (!(sel & ~3u))
		emu_raise(c, X86_TS, ext);
	uint64_t lo, hi;
	if (!emu_read_descriptor(c, sel, &lo, &hi, false))
		emu_raise(c, X86_TS, (sel & ~3u) | ext);
	emu_seg_from_desc(ss, sel, lo, 0);
	if ((sel & 3u) != new_cpl || ((ss->ar >> 5) & 3) != new_cpl || !(ss->ar & SEG_AR_S) ||
	    (ss->ar & SEG_AR_TYPE_CODE) || !(ss->ar & SEG_AR_TYPE_RW))
		emu_raise(c, X86_TS, (sel & ~3u) | ext);
	if (!(ss->ar & SEG_AR_P))
		emu_raise(c, X86_SS, (sel & ~3u) | ext);
	emu_set_accessed(c, sel, lo);
	ss->ar |= SEG_AR_TYPE_ACCESSED;
}

uint64_t emu_tss_rsp64(struct emu_cpu *c, unsigned new_cpl, unsigned ist, uint32_t ext)
{
	const struct x86_state *s = c->s;
	/* RSPn at 4 + 8n, ISTn at 0x24 + 8(n - 1). */
	uint32_t off = ist ? 0x24 + 8 * (ist - 1) : 4 + 8 * new_cpl;
	if (off + 7 > s->tr.limit)
		emu_raise(c, X86_TS, (s->tr.sel & ~3u) | ext);
	return emu_read_slow(c, s->tr.base + off, 8, ACC_READ | ACC_IMPLICIT);
}

void emu_stack_push(struct emu_cpu *c, const struct x86_segment *ss, uint64_t *sp, unsigned size, uint64_t val,
		    unsigned acc, uint32_t fault_err)
{
	if (c->s->efer & EFER_LMA && (ss->ar & SEG_AR_UNUSABLE || c->mode == MODE_LONG64 || size == 8)) {
		/* IA-32e mode 64-bit stacks: canonical, no limit. */
		uint64_t nsp = *sp - size;
		if (!arch_canonical_la(c, nsp))
			emu_raise(c, X86_SS, fault_err);
		emu_write_slow(c, nsp, size, val, acc);
		*sp = nsp;
		return;
	}
	uint64_t mask = (ss->ar & SEG_AR_DB) ? 0xffffffffull : 0xffffull;
	uint64_t nsp = (*sp - size) & mask;
	uint64_t last = nsp + size - 1;
	bool expand_down = !(ss->ar & SEG_AR_TYPE_CODE) && (ss->ar & SEG_AR_TYPE_DC);
	if (expand_down ? (nsp <= ss->limit || last > mask) : (last > ss->limit))
		emu_raise(c, X86_SS, fault_err);
	emu_write_slow(c, (ss->base + nsp) & 0xffffffffull, size, val, acc);
	*sp = nsp;
}
