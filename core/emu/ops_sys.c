/*
 * System instructions. Each handler follows its SDM Vol. 2 pseudocode order
 * and, for VMX non-root operation, SDM Vol. 3C 26.1.1: #UD and privilege
 * faults first, then the VM exit the running level's controls ask for
 * (26.1.2 unconditional, 26.1.3 conditional), then the instruction's own
 * checks (done by L0 when it exits, by arch_*() when it does not).
 */
#include "core/arch.h"
#include "core/nested_hooks.h"
#include "core/vmx_insn_info.h"
#include "emu.h"
#include "ops.h"
#include "seg.h"

static void need_cpl0(struct emu_cpu *c)
{
	if (c->cpl != 0)
		emu_raise(c, X86_GP, 0);
}

static void raise_arch(struct emu_cpu *c, int ret)
{
	if (ret != ARCH_OK)
		emu_raise(c, (unsigned)ARCH_VECTOR(ret), 0);
}

/* ---- unconditional exits ---- */

void op_cpuid(struct emu_cpu *c, const struct emu_insn *i)
{
	struct vm_exit e = { .reason = TORTUGA_EXIT_CPUID, .aux = (uint32_t)c->s->gpr[GPR_RAX] };
	emu_exit_insn(c, i, &e);
}

void op_invd(struct emu_cpu *c, const struct emu_insn *i)
{
	need_cpl0(c);
	struct vm_exit e = { .reason = TORTUGA_EXIT_INVD };
	emu_exit_insn(c, i, &e);
}

/* XSETBV: #UD without CR4.OSXSAVE, #GP at CPL > 0, then an unconditional exit. */
void op_xsetbv(struct emu_cpu *c, const struct emu_insn *i)
{
	if (!(c->s->cr4 & CR4_OSXSAVE))
		emu_raise_noerr(c, X86_UD);
	need_cpl0(c);
	struct vm_exit e = { .reason = TORTUGA_EXIT_XSETBV, .aux = (uint32_t)c->s->gpr[GPR_RCX] };
	emu_exit_insn(c, i, &e);
}

void op_xgetbv(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	if (!(c->s->cr4 & CR4_OSXSAVE))
		emu_raise_noerr(c, X86_UD);
	if ((uint32_t)c->s->gpr[GPR_RCX] != 0)
		emu_raise(c, X86_GP, 0);
	gpr_write(c, GPR_RAX, false, 4, (uint32_t)c->s->xcr0);
	gpr_write(c, GPR_RDX, false, 4, (uint32_t)(c->s->xcr0 >> 32));
}

/*
 * VMX instructions in VMX non-root operation (SDM Vol. 3C 26.1.2, 31.3): after
 * the #UD checks of their pseudocode that the processor's mode decides
 * (CR0.PE = 0, RFLAGS.VM = 1, compatibility mode), they exit -- except
 * VMREAD/VMWRITE that the VMCS-shadowing bitmaps let complete (31.3) and
 * VMFUNC, which is #UD unless "enable VM functions" is 1. The exit reports
 * the operands in the VM-exit instruction-information field and the
 * displacement in the qualification (28.2.1, 28.2.5), so that L0 -- and an
 * L1 the exit is reflected to -- can find them.
 */
static uint32_t vmx_reason(unsigned mnem)
{
	switch (mnem) {
	case ZYDIS_MNEMONIC_VMCALL:
		return TORTUGA_EXIT_VMCALL;
	case ZYDIS_MNEMONIC_VMCLEAR:
		return TORTUGA_EXIT_VMCLEAR;
	case ZYDIS_MNEMONIC_VMLAUNCH:
		return TORTUGA_EXIT_VMLAUNCH;
	case ZYDIS_MNEMONIC_VMPTRLD:
		return TORTUGA_EXIT_VMPTRLD;
	case ZYDIS_MNEMONIC_VMPTRST:
		return TORTUGA_EXIT_VMPTRST;
	case ZYDIS_MNEMONIC_VMREAD:
		return TORTUGA_EXIT_VMREAD;
	case ZYDIS_MNEMONIC_VMRESUME:
		return TORTUGA_EXIT_VMRESUME;
	case ZYDIS_MNEMONIC_VMWRITE:
		return TORTUGA_EXIT_VMWRITE;
	case ZYDIS_MNEMONIC_VMXOFF:
		return TORTUGA_EXIT_VMXOFF;
	case ZYDIS_MNEMONIC_VMXON:
		return TORTUGA_EXIT_VMXON;
	case ZYDIS_MNEMONIC_INVEPT:
		return TORTUGA_EXIT_INVEPT;
	case ZYDIS_MNEMONIC_INVVPID:
		return TORTUGA_EXIT_INVVPID;
	default:
		return TORTUGA_EXIT_VMFUNC;
	}
}

/* Instruction information and qualification for an operand (28.2.5). */
static void emu_exit_operand_info(struct emu_cpu *c, const struct emu_insn *i, const struct emu_operand *rm,
			   unsigned reg2, struct vm_exit *e)
{
	struct vmx_insn_operand o = { .reg2 = (uint8_t)reg2, .base = -1, .index = -1 };
	if (rm && rm->kind == OPK_REG) {
		o.is_reg = 1;
		o.reg1 = rm->reg;
	} else if (rm && rm->kind == OPK_MEM) {
		o.addr_bytes = i->addrsize;
		o.seg = rm->seg;
		o.scale = rm->scale;
		o.opsize32 = i->opsize != 2;
		if (rm->base != EMU_REG_NONE && rm->base != EMU_REG_RIP)
			o.base = (int8_t)rm->base;
		if (rm->index != EMU_REG_NONE)
			o.index = (int8_t)rm->index;
		/* RIP-relative: the displacement plus the next instruction's RIP. */
		e->qual = (uint64_t)rm->disp + (rm->base == EMU_REG_RIP ? c->next_rip : 0);
	}
	e->insn_info |= vmx_insn_info_encode(&o);
}

static void vmx_result(struct emu_cpu *c, int res)
{
	uint64_t f = emu_flags(c) & ~RFLAGS_ARITH;
	if (res == VMX_SHADOW_FAIL_INVALID)
		f |= RFLAGS_CF;
	else if (res != VMX_SHADOW_OK)
		f |= RFLAGS_ZF;
	emu_set_flags(c, f);
}

/* VMREAD/VMWRITE satisfied by the shadow VMCS; false if they must exit. */
static bool vmx_shadow_access(struct emu_cpu *c, const struct emu_insn *i, bool write)
{
	const struct vmx_exec_controls *ctl = c->v->ctls;
	if (!vmx_proc2(ctl, VMX_PROC2_VMCS_SHADOWING))
		return false;
	/* The field register: VMREAD r/m, reg; VMWRITE reg, r/m. */
	const struct emu_operand *fr = &i->op[write ? 0 : 1];
	const struct emu_operand *rm = &i->op[write ? 1 : 0];
	uint64_t enc = c->s->gpr[fr->reg];
	if (c->mode != MODE_LONG64)
		enc = (uint32_t)enc;
	const uint8_t *bm = write ? ctl->vmwrite_bitmap : ctl->vmread_bitmap;
	/* Bits 63:15 set, or the bitmap bit set (or no bitmap): VM exit. */
	if ((enc >> 15) || !bm || (bm[(enc & 0x7fff) >> 3] & (1u << (enc & 7))))
		return false;
	if (c->cpl > 0)
		emu_raise(c, X86_GP, 0);
	unsigned size = c->mode == MODE_LONG64 ? 8 : 4;
	uint64_t val = 0;
	if (write) {
		/* The source is read before the field is checked (31.3 VMWRITE). */
		val = rm->kind == OPK_REG ? gpr_read(c, rm->reg, false, size) :
					    emu_read(c, rm->seg, emu_ea(c, i, rm), size);
		vmx_result(c, nested_shadow_vmcs_access(c->v, ctl->shadow_vmcs, enc, &val, true));
		return true;
	}
	int res = nested_shadow_vmcs_access(c->v, ctl->shadow_vmcs, enc, &val, false);
	if (res == VMX_SHADOW_OK) {
		if (rm->kind == OPK_REG)
			gpr_write(c, rm->reg, false, size, val);
		else
			emu_write(c, rm->seg, emu_ea(c, i, rm), size, val);
	}
	vmx_result(c, res);
	return true;
}

void op_vmx(struct emu_cpu *c, const struct emu_insn *i)
{
	uint32_t reason = vmx_reason(i->mnem);
	if (reason == TORTUGA_EXIT_VMFUNC) {
		/* VMFUNC: #UD unless "enable VM functions"; the CPU performs no
		 * function itself, so every VMFUNC then exits (L0 emulates). */
		if (!vmx_proc2(c->v->ctls, VMX_PROC2_ENABLE_VMFUNC))
			emu_raise_noerr(c, X86_UD);
	} else if (reason != TORTUGA_EXIT_VMCALL) {
		/* VMCALL exits in any mode; the others are #UD in real and
		 * virtual-8086 mode and in compatibility mode. */
		if (c->mode == MODE_REAL16 || ((c->s->efer & EFER_LMA) && c->mode != MODE_LONG64))
			emu_raise_noerr(c, X86_UD);
	}
	if ((reason == TORTUGA_EXIT_VMREAD || reason == TORTUGA_EXIT_VMWRITE) &&
	    vmx_shadow_access(c, i, reason == TORTUGA_EXIT_VMWRITE))
		return;
	struct vm_exit e = { .reason = reason };
	switch (reason) {
	case TORTUGA_EXIT_VMREAD:
		emu_exit_operand_info(c, i, &i->op[0], i->op[1].reg, &e);
		break;
	case TORTUGA_EXIT_VMWRITE:
		emu_exit_operand_info(c, i, &i->op[1], i->op[0].reg, &e);
		break;
	case TORTUGA_EXIT_INVEPT:
	case TORTUGA_EXIT_INVVPID:
		emu_exit_operand_info(c, i, &i->op[1], i->op[0].reg, &e);
		break;
	case TORTUGA_EXIT_VMCLEAR:
	case TORTUGA_EXIT_VMPTRLD:
	case TORTUGA_EXIT_VMPTRST:
	case TORTUGA_EXIT_VMXON:
		emu_exit_operand_info(c, i, &i->op[0], 0, &e);
		break;
	default:
		break;
	}
	e.aux = e.qual;
	emu_exit_insn(c, i, &e);
}

/* ---- HLT, PAUSE ---- */

void op_hlt(struct emu_cpu *c, const struct emu_insn *i)
{
	need_cpl0(c);
	if (c->v->ctls->proc & VMX_PROC_HLT_EXITING) {
		struct vm_exit e = { .reason = TORTUGA_EXIT_HLT };
		emu_exit_insn(c, i, &e);
		return;
	}
	c->s->activity = ACT_HLT;
	emu_break(c);
}

/*
 * PAUSE exits with "PAUSE exiting"; with "PAUSE-loop exiting" (SDM 26.1.3)
 * it exits when PAUSEs no more than PLE_Gap cycles apart have spun for more
 * than PLE_Window cycles.
 */
void op_pause(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct vmx_exec_controls *ctl = c->v->ctls;
	bool exit = false;
	if (ctl->proc & VMX_PROC_PAUSE_EXITING) {
		exit = true;
	} else if (vmx_proc2(ctl, VMX_PROC2_PAUSE_LOOP_EXITING) && c->cpl == 0) {
		uint64_t now = c->v->cycles;
		if (now - c->ple_last > ctl->ple_gap)
			c->ple_first = now;
		c->ple_last = now;
		exit = now - c->ple_first > ctl->ple_window;
		if (exit)
			c->ple_first = now;
	}
	if (exit) {
		struct vm_exit e = { .reason = TORTUGA_EXIT_PAUSE };
		emu_exit_insn(c, i, &e);
	}
}

/* ---- port I/O ---- */

/*
 * I/O permission (SDM Vol. 1 19.5): in protected mode with CPL > IOPL (or in
 * virtual-8086 mode) every port of the access must be allowed by the TSS I/O
 * bitmap, else #GP(0) -- which has priority over the VM exit (26.1.1).
 */
void emu_io_check(struct emu_cpu *c, uint16_t port, unsigned size)
{
	const struct x86_state *s = c->s;
	if (!(s->cr0 & CR0_PE))
		return;
	unsigned iopl = (s->rflags >> 12) & 3;
	if (c->cpl <= iopl && !(s->rflags & RFLAGS_VM))
		return;
	unsigned type = s->tr.ar & 0xf;
	if (type != SYS_TYPE_TSS_AVAIL && type != SYS_TYPE_TSS_BUSY)
		emu_raise(c, X86_GP, 0);
	if (s->tr.limit < 0x67)
		emu_raise(c, X86_GP, 0);
	uint64_t base = emu_read_slow(c, s->tr.base + 0x66, 2, ACC_READ | ACC_IMPLICIT);
	uint64_t off = base + port / 8;
	if (off + 1 > s->tr.limit)
		emu_raise(c, X86_GP, 0);
	uint64_t bits = emu_read_slow(c, s->tr.base + off, 2, ACC_READ | ACC_IMPLICIT);
	if ((bits >> (port & 7)) & ((1u << size) - 1))
		emu_raise(c, X86_GP, 0);
}

/* Exit qualification bit 6: the port was an immediate operand. */
static bool io_imm_operand(const struct emu_insn *i)
{
	for (unsigned k = 0; k < i->nops; k++)
		if (i->op[k].kind == OPK_IMM)
			return true;
	return false;
}

/*
 * INS/OUTS exits also report the linear address of the first memory operand
 * (SDM 28.2.1, "guest-linear address") and, as IA32_VMX_BASIC[54] says, the
 * address size and segment in the instruction-information field (28.2.5,
 * Table 28-8): ES:(E/R)DI for INS, the (overridable) segment with (E/R)SI for
 * OUTS.
 */
static void io_string_exit_info(struct emu_cpu *c, const struct emu_insn *i, bool in, struct vm_exit *e)
{
	unsigned seg = in ? SEG_ES : SEG_DS;
	for (unsigned k = 0; k < i->nops; k++)
		if (i->op[k].kind == OPK_MEM)
			seg = i->op[k].seg;
	uint64_t off = c->s->gpr[in ? GPR_RDI : GPR_RSI] & size_mask(i->addrsize);
	e->gla = c->seg_base[seg] + off;
	if (c->mode != MODE_LONG64)
		e->gla &= 0xffffffffull;
	struct vmx_insn_operand o = { .addr_bytes = i->addrsize, .seg = (uint8_t)seg, .base = -1, .index = -1 };
	e->insn_info = vmx_insn_info_encode(&o) & ((7u << VMX_II_ASIZE_SHIFT) | (7u << VMX_II_SEG_SHIFT));
}

/* One I/O access: a VM exit when the controls ask for it, else straight to
 * the port bus. Returns false if L0 did not complete it. */
bool emu_io_access(struct emu_cpu *c, const struct emu_insn *i, uint16_t port, unsigned size, bool in,
		   bool string, bool rep, uint32_t count)
{
	if (!vmx_exit_on_io(c->v->ctls, port, size)) {
		uint8_t *p = c->io_buf;
		for (uint32_t k = 0; k < count; k++, p += size) {
			uint32_t v;
			if (in) {
				v = iobus_read(&c->vm->io, port, size);
				memcpy(p, &v, size);
			} else {
				v = 0;
				memcpy(&v, p, size);
				iobus_write(&c->vm->io, port, size, v);
			}
		}
		return true;
	}
	struct vm_exit e = {
		.reason = TORTUGA_EXIT_IO_INSTRUCTION,
		.qual = IO_QUAL(size, in, string, rep, port) | (io_imm_operand(i) ? 1u << 6 : 0),
		.insn_len = i->len,
		.aux = port,
		.io = { .port = port, .size = (uint8_t)size, .in = in, .count = count, .data = c->io_buf },
	};
	if (string)
		io_string_exit_info(c, i, in, &e);
	c->io_done = false;
	vcpu_handle_exit(c->v, &e);
	emu_break(c);
	return c->io_done;
}

void op_in(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->op[0].size;
	uint16_t port = (uint16_t)emu_op_read(c, i, 1);
	emu_io_check(c, port, size);
	if (emu_io_access(c, i, port, size, true, false, false, 1)) {
		uint32_t v = 0;
		memcpy(&v, c->io_buf, size);
		gpr_write(c, GPR_RAX, false, size, v);
	} else {
		c->next_rip = c->s->rip;
	}
}

void op_out(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->op[1].size;
	uint16_t port = (uint16_t)emu_op_read(c, i, 0);
	emu_io_check(c, port, size);
	uint32_t v = (uint32_t)c->s->gpr[GPR_RAX];
	memcpy(c->io_buf, &v, size);
	if (!emu_io_access(c, i, port, size, false, false, false, 1))
		c->next_rip = c->s->rip;
}

/* ---- MSRs, TSC ---- */

void op_rdmsr(struct emu_cpu *c, const struct emu_insn *i)
{
	need_cpl0(c);
	uint32_t msr = (uint32_t)c->s->gpr[GPR_RCX];
	if (vmx_exit_on_msr(c->v->ctls, msr, false)) {
		struct vm_exit e = { .reason = TORTUGA_EXIT_RDMSR, .aux = msr, .msr = { .index = msr } };
		emu_exit_insn(c, i, &e);
		return;
	}
	uint64_t v;
	raise_arch(c, arch_read_msr(c->v, msr, &v));
	gpr_write(c, GPR_RAX, false, 4, (uint32_t)v);
	gpr_write(c, GPR_RDX, false, 4, (uint32_t)(v >> 32));
}

void op_wrmsr(struct emu_cpu *c, const struct emu_insn *i)
{
	need_cpl0(c);
	struct x86_state *s = c->s;
	uint32_t msr = (uint32_t)s->gpr[GPR_RCX];
	uint64_t v = (uint32_t)s->gpr[GPR_RAX] | (s->gpr[GPR_RDX] << 32);
	if (vmx_exit_on_msr(c->v->ctls, msr, true)) {
		struct vm_exit e = {
			.reason = TORTUGA_EXIT_WRMSR, .aux = msr, .msr = { .index = msr, .value = v },
		};
		emu_exit_insn(c, i, &e);
		return;
	}
	raise_arch(c, arch_write_msr(c->v, msr, v));
	emu_break(c);
}

static void tsc_check(struct emu_cpu *c)
{
	if ((c->s->cr4 & CR4_TSD) && c->cpl != 0 && (c->s->cr0 & CR0_PE))
		emu_raise(c, X86_GP, 0);
}

void op_rdtsc(struct emu_cpu *c, const struct emu_insn *i)
{
	tsc_check(c);
	if (c->v->ctls->proc & VMX_PROC_RDTSC_EXITING) {
		struct vm_exit e = { .reason = TORTUGA_EXIT_RDTSC };
		emu_exit_insn(c, i, &e);
		return;
	}
	uint64_t t = vcpu_tsc(c->v);
	gpr_write(c, GPR_RAX, false, 4, (uint32_t)t);
	gpr_write(c, GPR_RDX, false, 4, (uint32_t)(t >> 32));
}

/* RDTSCP is #UD in VMX non-root operation unless "enable RDTSCP" is 1
 * (SDM 25.3), and needs CPUID.80000001H:EDX.RDTSCP. */
void op_rdtscp(struct emu_cpu *c, const struct emu_insn *i)
{
	if (!cpu_has(&c->vm->model, CPUF_RDTSCP) || !vmx_proc2(c->v->ctls, VMX_PROC2_ENABLE_RDTSCP))
		emu_raise_noerr(c, X86_UD);
	tsc_check(c);
	if (c->v->ctls->proc & VMX_PROC_RDTSC_EXITING) {
		struct vm_exit e = { .reason = TORTUGA_EXIT_RDTSCP };
		emu_exit_insn(c, i, &e);
		return;
	}
	uint64_t t = vcpu_tsc(c->v);
	gpr_write(c, GPR_RAX, false, 4, (uint32_t)t);
	gpr_write(c, GPR_RDX, false, 4, (uint32_t)(t >> 32));
	gpr_write(c, GPR_RCX, false, 4, (uint32_t)c->s->tsc_aux);
}

void op_rdpmc(struct emu_cpu *c, const struct emu_insn *i)
{
	if (!(c->s->cr4 & CR4_PCE) && c->cpl != 0 && (c->s->cr0 & CR0_PE))
		emu_raise(c, X86_GP, 0);
	if (c->v->ctls->proc & VMX_PROC_RDPMC_EXITING) {
		struct vm_exit e = { .reason = TORTUGA_EXIT_RDPMC };
		emu_exit_insn(c, i, &e);
		return;
	}
	emu_raise(c, X86_GP, 0); /* no performance counters */
}

void op_monitor_mwait(struct emu_cpu *c, const struct emu_insn *i)
{
	bool mwait = i->mnem == ZYDIS_MNEMONIC_MWAIT;
	need_cpl0(c);
	uint32_t bit = mwait ? VMX_PROC_MWAIT_EXITING : VMX_PROC_MONITOR_EXITING;
	if (c->v->ctls->proc & bit) {
		struct vm_exit e = { .reason = mwait ? TORTUGA_EXIT_MWAIT : TORTUGA_EXIT_MONITOR };
		emu_exit_insn(c, i, &e);
		return;
	}
	emu_raise_noerr(c, X86_UD); /* not in the CPU model */
}

/* ---- control and debug registers ---- */

/* SDM 28.2.1 Table 28-3: CR number, access type, LMSW operand type, GPR,
 * LMSW source data. */
static uint64_t cr_qual(unsigned cr, unsigned type, unsigned gpr, bool lmsw_mem, uint16_t lmsw_src)
{
	return cr | (type << 4) | ((uint64_t)lmsw_mem << 6) | ((uint64_t)gpr << 8) |
	       ((uint64_t)lmsw_src << 16);
}

static void cr_exit(struct emu_cpu *c, const struct emu_insn *i, unsigned cr, unsigned type,
		    unsigned gpr, uint64_t value)
{
	struct vm_exit e = {
		.reason = TORTUGA_EXIT_CR_ACCESS,
		.qual = cr_qual(cr, type, gpr, false, 0),
		.aux = cr,
		.cr = { .cr = (uint8_t)cr, .type = (uint8_t)type, .gpr = (uint8_t)gpr, .value = value },
	};
	emu_exit_insn(c, i, &e);
}

void op_mov_cr(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct vmx_exec_controls *ctl = c->v->ctls;
	bool to_cr = i->op[0].kind == OPK_CR;
	unsigned cr = to_cr ? i->op[0].reg : i->op[1].reg;
	unsigned gpr = to_cr ? i->op[1].reg : i->op[0].reg;
	if (cr != 0 && cr != 2 && cr != 3 && cr != 4 && cr != 8)
		emu_raise_noerr(c, X86_UD);
	need_cpl0(c);
	struct x86_state *s = c->s;
	unsigned sz = c->mode == MODE_LONG64 ? 8 : 4;
	if (!to_cr) {
		uint64_t v;
		switch (cr) {
		case 0:
			v = arch_read_cr0(c->v);
			break;
		case 2:
			v = s->cr2;
			break;
		case 3:
			if (ctl->proc & VMX_PROC_CR3_STORE_EXITING) {
				cr_exit(c, i, 3, CR_ACCESS_MOV_FROM, gpr, 0);
				return;
			}
			v = s->cr3;
			break;
		case 4:
			v = arch_read_cr4(c->v);
			break;
		default:
			if (ctl->proc & VMX_PROC_CR8_STORE_EXITING) {
				cr_exit(c, i, 8, CR_ACCESS_MOV_FROM, gpr, 0);
				return;
			}
			v = arch_read_cr8(c->v);
		}
		gpr_write(c, gpr, false, sz, v);
		return;
	}
	uint64_t v = s->gpr[gpr] & size_mask(sz);
	int ret;
	switch (cr) {
	case 0:
		if (vmx_exit_on_cr0_write(ctl, v)) {
			cr_exit(c, i, 0, CR_ACCESS_MOV_TO, gpr, v);
			return;
		}
		ret = arch_write_cr0(c->v, v);
		break;
	case 2:
		s->cr2 = v;
		ret = ARCH_OK;
		break;
	case 3:
		if (vmx_exit_on_cr3_write(ctl, v)) {
			cr_exit(c, i, 3, CR_ACCESS_MOV_TO, gpr, v);
			return;
		}
		ret = arch_write_cr3(c->v, v);
		break;
	case 4:
		if (vmx_exit_on_cr4_write(ctl, v)) {
			cr_exit(c, i, 4, CR_ACCESS_MOV_TO, gpr, v);
			return;
		}
		ret = arch_write_cr4(c->v, v);
		break;
	default:
		if (ctl->proc & VMX_PROC_CR8_LOAD_EXITING) {
			cr_exit(c, i, 8, CR_ACCESS_MOV_TO, gpr, v);
			return;
		}
		ret = arch_write_cr8(c->v, v);
		raise_arch(c, ret);
		/* With the TPR shadow, lowering VTPR[7:4] below the TPR threshold
		 * is a trap-like VM exit after the instruction (SDM 26.1.3,
		 * 30.1.2). */
		if ((ctl->proc & VMX_PROC_USE_TPR_SHADOW) && v < (ctl->tpr_threshold & 0xf)) {
			c->s->rip = c->next_rip;
			c->s->interruptibility &= ~(INTR_BLOCK_STI | INTR_BLOCK_MOV_SS);
			struct vm_exit e = { .reason = TORTUGA_EXIT_TPR_BELOW_THRESHOLD };
			vcpu_handle_exit(c->v, &e);
			c->next_rip = c->s->rip;
		}
	}
	raise_arch(c, ret);
	emu_break(c);
}

void op_clts(struct emu_cpu *c, const struct emu_insn *i)
{
	need_cpl0(c);
	if (vmx_exit_on_clts(c->v->ctls)) {
		cr_exit(c, i, 0, CR_ACCESS_CLTS, 0, 0);
		return;
	}
	raise_arch(c, arch_write_cr0(c->v, c->s->cr0 & ~CR0_TS));
}

/* LMSW loads CR0[3:0]; it can set PE but not clear it. */
void op_lmsw(struct emu_cpu *c, const struct emu_insn *i)
{
	need_cpl0(c);
	uint16_t src = (uint16_t)emu_op_read(c, i, 0);
	if (vmx_exit_on_lmsw(c->v->ctls, c->s->cr0, src)) {
		struct vm_exit e = {
			.reason = TORTUGA_EXIT_CR_ACCESS,
			.qual = cr_qual(0, CR_ACCESS_LMSW, 0, i->op[0].kind == OPK_MEM, src),
			.cr = { .cr = 0, .type = CR_ACCESS_LMSW, .value = src },
		};
		emu_exit_insn(c, i, &e);
		return;
	}
	uint64_t cr0 = (c->s->cr0 & ~0xeull) | (src & 0xe) | ((c->s->cr0 | src) & CR0_PE);
	raise_arch(c, arch_write_cr0(c->v, cr0));
	emu_break(c);
}

void op_smsw(struct emu_cpu *c, const struct emu_insn *i)
{
	if ((c->s->cr4 & CR4_UMIP) && c->cpl != 0)
		emu_raise(c, X86_GP, 0);
	uint64_t v = arch_read_cr0(c->v);
	if (i->op[0].kind == OPK_MEM)
		emu_write(c, i->op[0].seg, emu_ea(c, i, &i->op[0]), 2, v & 0xffff);
	else
		gpr_write(c, i->op[0].reg, false, i->op[0].size, v);
}

void op_mov_dr(struct emu_cpu *c, const struct emu_insn *i)
{
	bool to_dr = i->op[0].kind == OPK_DR;
	unsigned dr = to_dr ? i->op[0].reg : i->op[1].reg;
	unsigned gpr = to_dr ? i->op[1].reg : i->op[0].reg;
	if (dr > 7 || ((dr == 4 || dr == 5) && (c->s->cr4 & CR4_DE)))
		emu_raise_noerr(c, X86_UD);
	need_cpl0(c);
	if (c->v->ctls->proc & VMX_PROC_MOV_DR_EXITING) {
		/* SDM 28.2.1 Table 28-4: DR number, direction (1 = MOV from DR), GPR. */
		struct vm_exit e = {
			.reason = TORTUGA_EXIT_DR_ACCESS,
			.qual = dr | ((uint64_t)!to_dr << 4) | ((uint64_t)gpr << 8),
			.aux = dr,
			.dr = { .dr = (uint8_t)dr, .to_dr = to_dr, .gpr = (uint8_t)gpr },
		};
		emu_exit_insn(c, i, &e);
		return;
	}
	if (to_dr)
		raise_arch(c, arch_write_dr(c->v, dr, c->s->gpr[gpr]));
	else
		c->s->gpr[gpr] = arch_read_dr(c->v, dr);
}

/* ---- descriptor tables ---- */

/* Exits 46/47 report the operand and which instruction it was (SDM 28.2.5,
 * Tables 28-9 and 28-10: the identity in bits 29:28). */
static void desc_table_exit(struct emu_cpu *c, const struct emu_insn *i, bool gdtr_idtr)
{
	struct vm_exit e = {
		.reason = gdtr_idtr ? TORTUGA_EXIT_GDTR_IDTR_ACCESS : TORTUGA_EXIT_LDTR_TR_ACCESS,
		.aux = i->mnem,
	};
	unsigned ident;
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_SGDT:
	case ZYDIS_MNEMONIC_SLDT:
		ident = VMX_II_SGDT; /* = VMX_II_SLDT */
		break;
	case ZYDIS_MNEMONIC_SIDT:
	case ZYDIS_MNEMONIC_STR:
		ident = VMX_II_SIDT; /* = VMX_II_STR */
		break;
	case ZYDIS_MNEMONIC_LGDT:
	case ZYDIS_MNEMONIC_LLDT:
		ident = VMX_II_LGDT; /* = VMX_II_LLDT */
		break;
	default:
		ident = VMX_II_LIDT; /* = VMX_II_LTR */
		break;
	}
	emu_exit_operand_info(c, i, &i->op[0], 0, &e);
	e.insn_info |= vmx_insn_info_ident(ident);
	emu_exit_insn(c, i, &e);
}

static bool desc_exiting(struct emu_cpu *c)
{
	return vmx_proc2(c->v->ctls, VMX_PROC2_DESC_TABLE_EXITING);
}

/* LGDT/LIDT: m16&32 (m16&24 with a 16-bit operand) or m16&64 in 64-bit mode. */
void op_lgdt(struct emu_cpu *c, const struct emu_insn *i)
{
	need_cpl0(c);
	if (desc_exiting(c)) {
		desc_table_exit(c, i, true);
		return;
	}
	const struct emu_operand *o = &i->op[0];
	uint64_t ea = emu_ea(c, i, o);
	uint16_t limit = (uint16_t)emu_read(c, o->seg, ea, 2);
	unsigned bsz = c->mode == MODE_LONG64 ? 8 : 4;
	uint64_t base = emu_read(c, o->seg, (ea + 2) & size_mask(i->addrsize), bsz);
	if (c->mode != MODE_LONG64 && i->opsize == 2)
		base &= 0xffffff;
	if (c->mode == MODE_LONG64 && !arch_canonical_la(c, base))
		emu_raise(c, X86_GP, 0);
	struct x86_dtable *t = i->mnem == ZYDIS_MNEMONIC_LGDT ? &c->s->gdtr : &c->s->idtr;
	t->base = base;
	t->limit = limit;
}

void op_sgdt(struct emu_cpu *c, const struct emu_insn *i)
{
	if ((c->s->cr4 & CR4_UMIP) && c->cpl != 0)
		emu_raise(c, X86_GP, 0);
	if (desc_exiting(c)) {
		desc_table_exit(c, i, true);
		return;
	}
	const struct emu_operand *o = &i->op[0];
	const struct x86_dtable *t = i->mnem == ZYDIS_MNEMONIC_SGDT ? &c->s->gdtr : &c->s->idtr;
	uint64_t ea = emu_ea(c, i, o);
	unsigned bsz = c->mode == MODE_LONG64 ? 8 : 4;
	uint64_t la = emu_la(c, o->seg, ea, 2 + bsz, ACC_WRITE);
	emu_probe_write(c, la, 2 + bsz);
	emu_write(c, o->seg, ea, 2, t->limit);
	emu_write(c, o->seg, (ea + 2) & size_mask(i->addrsize), bsz, t->base);
}

/* LLDT: a NULL selector makes LDTR unusable; otherwise an LDT descriptor
 * from the GDT (16 bytes in IA-32e mode). */
void op_lldt(struct emu_cpu *c, const struct emu_insn *i)
{
	if (c->mode == MODE_REAL16)
		emu_raise_noerr(c, X86_UD);
	need_cpl0(c);
	if (desc_exiting(c)) {
		desc_table_exit(c, i, false);
		return;
	}
	uint16_t sel = (uint16_t)emu_op_read(c, i, 0);
	struct x86_state *s = c->s;
	if (!(sel & ~3u)) {
		s->ldtr.sel = sel;
		s->ldtr.ar = SEG_AR_UNUSABLE;
		return;
	}
	if (sel & 4)
		emu_raise(c, X86_GP, sel & ~3u);
	uint64_t lo, hi;
	bool wide = (s->efer & EFER_LMA) != 0;
	if (!emu_read_descriptor(c, sel, &lo, &hi, wide))
		emu_raise(c, X86_GP, sel & ~3u);
	if (((lo >> 40) & 0x1f) != SYS_TYPE_LDT)
		emu_raise(c, X86_GP, sel & ~3u);
	if (!(lo & (1ull << 47)))
		emu_raise(c, X86_NP, sel & ~3u);
	emu_seg_from_desc(&s->ldtr, sel, lo, hi);
}

/* LTR: an available TSS descriptor from the GDT, marked busy (SDM LTR). */
void op_ltr(struct emu_cpu *c, const struct emu_insn *i)
{
	if (c->mode == MODE_REAL16)
		emu_raise_noerr(c, X86_UD);
	need_cpl0(c);
	if (desc_exiting(c)) {
		desc_table_exit(c, i, false);
		return;
	}
	uint16_t sel = (uint16_t)emu_op_read(c, i, 0);
	struct x86_state *s = c->s;
	if (!(sel & ~3u) || (sel & 4))
		emu_raise(c, X86_GP, sel & ~3u);
	uint64_t lo, hi;
	bool wide = (s->efer & EFER_LMA) != 0;
	if (!emu_read_descriptor(c, sel, &lo, &hi, wide))
		emu_raise(c, X86_GP, sel & ~3u);
	unsigned type = (lo >> 40) & 0x1f;
	/* Available 32-bit/64-bit TSS (9); 16-bit TSS (1) outside IA-32e mode. */
	if (type != SYS_TYPE_TSS_AVAIL && (wide || type != 1))
		emu_raise(c, X86_GP, sel & ~3u);
	if (!(lo & (1ull << 47)))
		emu_raise(c, X86_NP, sel & ~3u);
	emu_write_slow(c, s->gdtr.base + (sel & ~7u) + 5, 1, ((lo >> 40) & 0xff) | 2,
		       ACC_WRITE | ACC_IMPLICIT);
	emu_seg_from_desc(&s->tr, sel, lo | (2ull << 40), hi);
}

void op_sldt(struct emu_cpu *c, const struct emu_insn *i)
{
	if (c->mode == MODE_REAL16)
		emu_raise_noerr(c, X86_UD);
	if ((c->s->cr4 & CR4_UMIP) && c->cpl != 0)
		emu_raise(c, X86_GP, 0);
	if (desc_exiting(c)) {
		desc_table_exit(c, i, false);
		return;
	}
	uint16_t sel = i->mnem == ZYDIS_MNEMONIC_SLDT ? c->s->ldtr.sel : c->s->tr.sel;
	if (i->op[0].kind == OPK_MEM)
		emu_write(c, i->op[0].seg, emu_ea(c, i, &i->op[0]), 2, sel);
	else
		gpr_write(c, i->op[0].reg, false, i->op[0].size, sel);
}

/* ---- TLB ---- */

void op_invlpg(struct emu_cpu *c, const struct emu_insn *i)
{
	need_cpl0(c);
	const struct emu_operand *o = &i->op[0];
	uint64_t la = c->seg_base[o->seg] + emu_ea(c, i, o);
	if (c->mode != MODE_LONG64)
		la &= 0xffffffffull;
	if (c->v->ctls->proc & VMX_PROC_INVLPG_EXITING) {
		struct vm_exit e = { .reason = TORTUGA_EXIT_INVLPG, .qual = la, .aux = la };
		emu_exit_insn(c, i, &e);
		return;
	}
	emu_flush_page(c->v, la);
	emu_break(c);
}

void op_wbinvd(struct emu_cpu *c, const struct emu_insn *i)
{
	need_cpl0(c);
	if (vmx_proc2(c->v->ctls, VMX_PROC2_WBINVD_EXITING)) {
		struct vm_exit e = { .reason = TORTUGA_EXIT_WBINVD };
		emu_exit_insn(c, i, &e);
	}
}

/* CLFLUSH faults like a byte read of its operand (SDM CLFLUSH); no caches
 * are modelled. PREFETCHh never faults. Fences order nothing here. */
void op_clflush(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)emu_read(c, i->op[0].seg, emu_ea(c, i, &i->op[0]), 1);
}

/* ---- flags ---- */

static void if_check(struct emu_cpu *c)
{
	if ((c->s->cr0 & CR0_PE) && c->cpl > ((c->s->rflags >> 12) & 3))
		emu_raise(c, X86_GP, 0);
}

void op_cli(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	if_check(c);
	c->s->rflags &= ~RFLAGS_IF;
}

/* STI: interrupts stay blocked until after the next instruction if IF was 0
 * (SDM STI, "interrupt shadow"). */
void op_sti(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	if_check(c);
	if (!(c->s->rflags & RFLAGS_IF))
		c->s->interruptibility |= INTR_BLOCK_STI;
	c->s->rflags |= RFLAGS_IF;
	emu_break(c);
}

void op_clc(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t f = emu_flags(c) & ~RFLAGS_CF;
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_STC:
		f |= RFLAGS_CF;
		break;
	case ZYDIS_MNEMONIC_CMC:
		f |= (c->s->rflags & RFLAGS_CF) ^ RFLAGS_CF;
		break;
	default:
		break;
	}
	emu_set_flags(c, f);
}

void op_cld(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->mnem == ZYDIS_MNEMONIC_STD)
		c->s->rflags |= RFLAGS_DF;
	else
		c->s->rflags &= ~RFLAGS_DF;
}

/* PUSHF: the image has VM and RF cleared (SDM PUSHF). */
void op_pushf(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t f = emu_flags(c) & ~(RFLAGS_VM | RFLAGS_RF);
	emu_push(c, i->opsize, f & size_mask(i->opsize));
}

void op_popf(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t img = emu_pop(c, i->opsize);
	uint64_t old = emu_flags(c);
	uint64_t nf = emu_flags_merge(c, old, img, i->opsize, false);
	emu_set_flags(c, nf);
	emu_break(c); /* TF or IF may have changed */
}

/* ---- 64-bit mode ---- */

void op_swapgs(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	if (c->mode != MODE_LONG64)
		emu_raise_noerr(c, X86_UD);
	need_cpl0(c);
	struct x86_state *s = c->s;
	uint64_t t = s->seg[SEG_GS].base;
	s->seg[SEG_GS].base = s->kernel_gs_base;
	s->kernel_gs_base = t;
	c->seg_base[SEG_GS] = s->seg[SEG_GS].base;
}

void op_ud(struct emu_cpu *c, const struct emu_insn *i)
{
	(void)i;
	emu_raise_noerr(c, X86_UD);
}
