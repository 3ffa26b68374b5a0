/*
 * Helpers shared by the x87, MMX and SSE instruction handlers: the
 * availability checks and vector operand access (sse.h).
 */
#include "sse.h"

/*
 * MMX instructions (SDM Vol. 3A 12.1, Vol. 1 9.5.1 and 9.6.3): #UD with
 * CR0.EM = 1 or without the feature, #NM with CR0.TS = 1, #MF while an
 * unmasked x87 exception is pending.
 */
void mmx_enter(struct emu_cpu *c, enum cpu_feature f)
{
	struct x86_state *s = c->s;
	if ((s->cr0 & CR0_EM) || !cpu_has(&c->vm->model, f))
		emu_raise_noerr(c, X86_UD);
	if (s->cr0 & CR0_TS)
		emu_raise_noerr(c, X86_NM);
	uint32_t fsw = fx_get(s->fxsave, FX_FSW, 2);
	if (fsw & FSW_ES)
		emu_raise_noerr(c, X86_MF);
}

void mmx_commit(struct emu_cpu *c)
{
	fpu_x87_set_top(c->s->fxsave, 0);
	fx_put(c->s->fxsave, FX_FTW, 1, 0xff);
}

void x87_enter(struct emu_cpu *c, enum x87_kind k)
{
	const struct x86_state *s = c->s;
	bool nm = k == X87_FWAIT ? (s->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS) :
				   (s->cr0 & (CR0_EM | CR0_TS)) != 0;
	if (nm)
		emu_raise_noerr(c, X86_NM);
	/* A pending exception is reported as #MF whatever CR0.NE says: tortuga
	 * has no FERR# pin for the PC's IRQ 13 (Vol. 1 8.7). */
	if (k != X87_NOWAIT && (fx_get(s->fxsave, FX_FSW, 2) & FSW_ES))
		emu_raise_noerr(c, X86_MF);
}

void sse_raise_xm(struct emu_cpu *c)
{
	emu_raise_noerr(c, (c->s->cr4 & CR4_OSXMMEXCPT) ? X86_XM : X86_UD);
}

uint64_t vec_mem_la(struct emu_cpu *c, const struct emu_insn *i, const struct emu_operand *o, unsigned size,
		    unsigned align, unsigned acc)
{
	uint64_t ea = emu_ea(c, i, o);
	if (align > 1 && ((c->seg_base[o->seg] + ea) & (align - 1)))
		emu_raise(c, X86_GP, 0);
	uint64_t la = emu_la(c, o->seg, ea, size, acc);
	/* The whole operand must be canonical, not just its first byte. */
	if (c->mode == MODE_LONG64 && !arch_canonical_la(c, la + size - 1))
		emu_raise(c, o->seg == SEG_SS ? X86_SS : X86_GP, 0);
	return la;
}

void vec_read_la(struct emu_cpu *c, uint64_t la, void *buf, unsigned size)
{
	uint8_t *p = buf;
	for (unsigned k = 0; k < size;) {
		unsigned n = size - k >= 8 ? 8 : size - k >= 4 ? 4 : size - k >= 2 ? 2 : 1;
		uint64_t v = emu_read_la(c, la + k, n);
		memcpy(p + k, &v, n);
		k += n;
	}
}

void vec_write_la(struct emu_cpu *c, uint64_t la, const void *buf, unsigned size)
{
	const uint8_t *p = buf;
	emu_probe_write(c, la, size);
	for (unsigned k = 0; k < size;) {
		unsigned n = size - k >= 8 ? 8 : size - k >= 4 ? 4 : size - k >= 2 ? 2 : 1;
		uint64_t v = 0;
		memcpy(&v, p + k, n);
		emu_write_la(c, la + k, n, v);
		k += n;
	}
}

static unsigned mem_align(const struct emu_operand *o, unsigned vf)
{
	return o->size == 16 && !(vf & VF_UNALIGNED) ? 16 : 1;
}

void vec_read(struct emu_cpu *c, const struct emu_insn *i, unsigned n, vec128 *v, unsigned vf)
{
	const struct emu_operand *o = &i->op[n];
	memset(v, 0, sizeof(*v));
	switch (o->kind) {
	case OPK_XMM:
		xmm_get(c, o->reg, v);
		break;
	case OPK_MMX:
		v->q[0] = mmx_get(c, o->reg);
		break;
	case OPK_REG:
		v->q[0] = gpr_read(c, o->reg, o->hi8, o->size);
		break;
	case OPK_MEM: {
		uint64_t la = vec_mem_la(c, i, o, o->size, mem_align(o, vf), ACC_READ);
		vec_read_la(c, la, v, o->size);
		break;
	}
	default:
		emu_unimplemented(c, i);
	}
}

void vec_write(struct emu_cpu *c, const struct emu_insn *i, unsigned n, const vec128 *v, unsigned vf)
{
	const struct emu_operand *o = &i->op[n];
	uint64_t la = 0;
	if (o->kind == OPK_MEM) {
		/* Every fault before the MMX transition. */
		la = vec_mem_la(c, i, o, o->size, mem_align(o, vf), ACC_WRITE);
		emu_probe_write(c, la, o->size);
	}
	vec_done(c, i);
	switch (o->kind) {
	case OPK_XMM:
		xmm_put(c, o->reg, v);
		break;
	case OPK_MMX:
		mmx_put(c, o->reg, v->q[0]);
		break;
	case OPK_REG:
		gpr_write(c, o->reg, o->hi8, o->size, v->q[0]);
		break;
	case OPK_MEM:
		vec_write_la(c, la, v, o->size);
		break;
	default:
		emu_unimplemented(c, i);
	}
}
