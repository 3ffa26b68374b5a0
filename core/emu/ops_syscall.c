/*
 * Fast system calls (Intel SDM Vol. 2B SYSCALL, SYSRET, SYSENTER, SYSEXIT;
 * Vol. 3A 5.8.7 and 5.8.8) and STAC/CLAC (Vol. 2B; 4.6 SMAP). The segments
 * these instructions load come from MSRs, not descriptors: their hidden
 * state is fixed by the pseudocode, written once below.
 */
#include "core/cpuid.h"
#include "emu.h"
#include "ops.h"

/* Flat 4-GiB code and stack segments of the given DPL (the pseudocode's
 * "CS.Base := 0; CS.Limit := FFFFFH; CS.Type := 11; CS.S := 1; CS.DPL;
 * CS.P := 1; CS.L; CS.D; CS.G := 1" and the SS equivalents, type 3, B = 1). */
static void flat_cs(struct x86_segment *sg, uint16_t sel, unsigned dpl, bool l64)
{
	sg->sel = sel;
	sg->base = 0;
	sg->limit = 0xffffffff;
	sg->ar = 0xb | SEG_AR_S | (dpl << SEG_AR_DPL_SHIFT) | SEG_AR_P | SEG_AR_G | (l64 ? SEG_AR_L : SEG_AR_DB);
}

static void flat_ss(struct x86_segment *sg, uint16_t sel, unsigned dpl)
{
	sg->sel = sel;
	sg->base = 0;
	sg->limit = 0xffffffff;
	sg->ar = 0x3 | SEG_AR_S | (dpl << SEG_AR_DPL_SHIFT) | SEG_AR_P | SEG_AR_G | SEG_AR_DB;
}

static void finish(struct emu_cpu *c)
{
	emu_update_mode(c);
	emu_break(c);
}

/* SYSCALL: 64-bit mode only on Intel processors (#UD otherwise or with
 * IA32_EFER.SCE = 0). */
void op_syscall(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	struct x86_state *s = c->s;
	if (c->mode != MODE_LONG64 || !(s->efer & EFER_SCE))
		emu_raise_noerr(c, X86_UD);
	uint64_t flags = emu_flags(c);
	s->gpr[GPR_RCX] = c->next_rip;
	s->gpr[GPR_R11] = flags & ~RFLAGS_RF;
	uint16_t sel = (uint16_t)(s->star >> 32) & 0xfffc;
	flat_cs(&s->seg[SEG_CS], sel, 0, true);
	flat_ss(&s->seg[SEG_SS], (uint16_t)(sel + 8), 0);
	emu_set_flags(c, (flags & ~s->fmask & ~RFLAGS_RF) | RFLAGS_FIXED1);
	c->next_rip = s->lstar;
	finish(c);
}

/* SYSRET: back to CPL 3, 64-bit (REX.W) or compatibility mode. A
 * non-canonical RCX is #GP(0) at CPL 0 on Intel processors. */
void op_sysret(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	if (c->mode != MODE_LONG64 || !(s->efer & EFER_SCE))
		emu_raise_noerr(c, X86_UD);
	if (c->cpl != 0)
		emu_raise(c, X86_GP, 0);
	bool to64 = i->opsize == 8;
	uint64_t rip = to64 ? s->gpr[GPR_RCX] : (uint32_t)s->gpr[GPR_RCX];
	if (to64 && !arch_canonical_la(c, rip))
		emu_raise(c, X86_GP, 0);
	uint16_t base = (uint16_t)(s->star >> 48);
	flat_cs(&s->seg[SEG_CS], (uint16_t)((to64 ? base + 16 : base) | 3), 3, to64);
	flat_ss(&s->seg[SEG_SS], (uint16_t)((base + 8) | 3), 3);
	emu_set_flags(c, (s->gpr[GPR_R11] & 0x3c7fd7ull) | RFLAGS_FIXED1);
	c->next_rip = rip;
	finish(c);
}

/* SYSENTER: #GP(0) in real mode or with IA32_SYSENTER_CS[15:2] = 0. In
 * IA-32e mode the target is 64-bit code. */
void op_sysenter(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	struct x86_state *s = c->s;
	if (c->mode == MODE_REAL16 || !(s->sysenter_cs & 0xfffc))
		emu_raise(c, X86_GP, 0);
	bool ia32e = (s->efer & EFER_LMA) != 0;
	uint16_t sel = (uint16_t)s->sysenter_cs & 0xfffc;
	emu_set_flags(c, emu_flags(c) & ~(RFLAGS_VM | RFLAGS_IF | RFLAGS_RF));
	flat_cs(&s->seg[SEG_CS], sel, 0, ia32e);
	flat_ss(&s->seg[SEG_SS], (uint16_t)(sel + 8), 0);
	s->gpr[GPR_RSP] = ia32e ? s->sysenter_esp : (uint32_t)s->sysenter_esp;
	c->next_rip = ia32e ? s->sysenter_eip : (uint32_t)s->sysenter_eip;
	finish(c);
}

/* SYSEXIT: to CPL 3 at RDX/EDX with RSP = RCX/ECX; REX.W returns to 64-bit
 * code (CS = SYSENTER_CS + 32), otherwise to 32-bit code (+ 16). */
void op_sysexit(struct emu_cpu *c, const struct emu_insn *i)
{
	struct x86_state *s = c->s;
	if (c->mode == MODE_REAL16 || !(s->sysenter_cs & 0xfffc) || c->cpl != 0)
		emu_raise(c, X86_GP, 0);
	bool to64 = i->opsize == 8;
	uint64_t rip = to64 ? s->gpr[GPR_RDX] : (uint32_t)s->gpr[GPR_RDX];
	uint64_t rsp = to64 ? s->gpr[GPR_RCX] : (uint32_t)s->gpr[GPR_RCX];
	if (to64 && (!arch_canonical_la(c, rip) || !arch_canonical_la(c, rsp)))
		emu_raise(c, X86_GP, 0);
	uint16_t base = (uint16_t)s->sysenter_cs;
	flat_cs(&s->seg[SEG_CS], (uint16_t)((base + (to64 ? 32 : 16)) | 3), 3, to64);
	flat_ss(&s->seg[SEG_SS], (uint16_t)((base + (to64 ? 40 : 24)) | 3), 3);
	s->gpr[GPR_RSP] = rsp;
	c->next_rip = rip;
	finish(c);
}

/* STAC/CLAC: #UD without SMAP in CPUID or at CPL > 0. */
void op_stac(struct emu_cpu *c, const struct emu_insn *i)
{
	if (!cpu_has(&c->vm->model, CPUF_SMAP) || c->cpl != 0)
		emu_raise_noerr(c, X86_UD);
	uint64_t f = emu_flags(c);
	emu_set_flags(c, i->mnem == ZYDIS_MNEMONIC_STAC ? f | RFLAGS_AC : f & ~RFLAGS_AC);
}
