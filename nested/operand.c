/*
 * The operands of an exiting VMX instruction, rebuilt from what the exit
 * reports -- the VM-exit instruction-information field and the displacement
 * in the exit qualification (Intel SDM Vol. 3C 28.2.1, 28.2.5) -- exactly as
 * an L1 hypervisor must do with the same fields (KVM's get_vmx_mem_address()).
 *
 * Segmentation faults follow the instructions' "Protected Mode Exceptions"
 * and "64-Bit Mode Exceptions" (SDM Vol. 2 / 3C 31.3): #GP(0), or #SS(0) for
 * SS-relative operands, for non-canonical addresses in 64-bit mode, unusable
 * segments, limit violations and writes to read-only or code segments.
 */
#include "core/arch.h"
#include "core/x86.h"
#include "operand.h"

static uint64_t addr_mask(unsigned bytes)
{
	return bytes >= 8 ? ~0ull : (1ull << (8 * bytes)) - 1;
}

int nested_operand_la(struct vcpu *v, const struct vm_exit *e, unsigned len, bool write, uint64_t *la)
{
	const struct x86_state *s = &v->s;
	struct vmx_insn_operand o;
	vmx_insn_info_decode(e->insn_info, &o);
	uint64_t ea = e->qual;
	if (o.base >= 0)
		ea += s->gpr[o.base];
	if (o.index >= 0)
		ea += s->gpr[o.index] * o.scale;
	ea &= addr_mask(o.addr_bytes);
	unsigned fault = o.seg == SEG_SS ? X86_SS : X86_GP;
	const struct x86_segment *sg = &s->seg[o.seg < SEG_COUNT ? o.seg : SEG_DS];

	if (x86_64bit_mode(s)) {
		/* 64-bit mode: only FS and GS have a base; the address must be
		 * canonical (SDM 3.3.7.1). */
		uint64_t base = (o.seg == SEG_FS || o.seg == SEG_GS) ? sg->base : 0;
		*la = base + ea;
		if (!arch_canonical(v, *la) || !arch_canonical(v, *la + len - 1))
			return ARCH_FAULT(fault);
		return ARCH_OK;
	}
	/* Protected mode (SDM 5.3, 5.4): usable segment, type, limit. */
	if (sg->ar & SEG_AR_UNUSABLE)
		return ARCH_FAULT(fault);
	unsigned type = sg->ar & SEG_AR_TYPE_MASK;
	if (write && ((type & SEG_AR_TYPE_CODE) || !(type & SEG_AR_TYPE_RW)))
		return ARCH_FAULT(fault);
	if (!write && (type & SEG_AR_TYPE_CODE) && !(type & SEG_AR_TYPE_RW))
		return ARCH_FAULT(fault);
	uint64_t last = ea + len - 1;
	if (!(type & SEG_AR_TYPE_CODE) && (type & SEG_AR_TYPE_DC)) {
		uint64_t upper = (sg->ar & SEG_AR_DB) ? 0xffffffffull : 0xffffull;
		if (ea <= sg->limit || last > upper)
			return ARCH_FAULT(fault);
	} else if (last > sg->limit) {
		return ARCH_FAULT(fault);
	}
	*la = (sg->base + ea) & 0xffffffffull;
	return ARCH_OK;
}

/* Inject a fault from an operand access: #PF carries its error code and
 * CR2 (set by vcpu_access_linear), segment faults error code 0. */
static bool inject(struct vcpu *v, int ret, uint32_t error)
{
	if (ret == ARCH_OK)
		return true;
	unsigned vec = ARCH_VECTOR(ret);
	vcpu_inject_exception(v, (uint8_t)vec, vec == X86_PF || vec == X86_GP || vec == X86_SS, error);
	return false;
}

bool nested_operand_read(struct vcpu *v, const struct vm_exit *e, void *buf, unsigned len)
{
	uint64_t la;
	int ret = nested_operand_la(v, e, len, false, &la);
	uint32_t err = 0;
	if (ret == ARCH_OK)
		ret = vcpu_access_linear(v, la, buf, len, false, &err);
	return inject(v, ret, err);
}

bool nested_operand_write(struct vcpu *v, const struct vm_exit *e, const void *buf, unsigned len)
{
	uint64_t la;
	int ret = nested_operand_la(v, e, len, true, &la);
	uint32_t err = 0;
	if (ret == ARCH_OK)
		ret = vcpu_access_linear(v, la, (void *)buf, len, true, &err);
	return inject(v, ret, err);
}

/* Register operands: outside 64-bit mode VMX instructions use 32 bits
 * (SDM 31.3 VMREAD/VMWRITE, INVEPT: "outside IA-32e mode ... 32 bits"). */
uint64_t nested_reg_read(const struct vcpu *v, unsigned reg)
{
	uint64_t val = v->s.gpr[reg & 15];
	return x86_64bit_mode(&v->s) ? val : (uint32_t)val;
}

void nested_reg_write(struct vcpu *v, unsigned reg, uint64_t val)
{
	v->s.gpr[reg & 15] = x86_64bit_mode(&v->s) ? val : (uint32_t)val;
}
