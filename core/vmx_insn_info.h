/*
 * The VM-exit instruction-information field (Intel SDM Vol. 3C 28.2.5,
 * Tables 28-9 to 28-14). One layout for every instruction that reports a
 * memory or register operand through it (descriptor-table instructions, VMX
 * instructions, INVEPT/INVVPID/INVPCID): the backend encodes it when the
 * instruction exits, nested/ decodes it to find the operand (what an L1
 * hypervisor does with the same field when tortuga reflects the exit).
 *
 * Bits      content
 *  1:0      scaling (index * 1, 2, 4, 8)
 *  6:3      Reg1: register operand (VMREAD dest, VMWRITE source, LLDT/LTR...)
 *  9:7      address size: 0 16-bit, 1 32-bit, 2 64-bit
 *  10       operand is a register (VMREAD/VMWRITE, LLDT/LTR/SLDT/STR)
 *  11       operand size for LGDT/LIDT/SGDT/SIDT: 0 16-bit, 1 32-bit
 *  17:15    segment register (ES=0 ... GS=5)
 *  21:18    index register; bit 22: no index register
 *  26:23    base register; bit 27: no base register
 *  29:28    instruction identity (descriptor-table instructions)
 *  31:28    Reg2: the register operand of VMREAD/VMWRITE/INVEPT/INVVPID
 *
 * The exit qualification holds the displacement, sign-extended, or for
 * RIP-relative addressing the displacement plus the RIP of the next
 * instruction (SDM 28.2.1).
 */
#ifndef CORE_VMX_INSN_INFO_H
#define CORE_VMX_INSN_INFO_H

#include <stdint.h>

#define VMX_II_SCALE_SHIFT 0
#define VMX_II_REG1_SHIFT 3
#define VMX_II_ASIZE_SHIFT 7
#define VMX_II_REG_OPERAND (1u << 10)
#define VMX_II_OPSIZE32 (1u << 11)
#define VMX_II_SEG_SHIFT 15
#define VMX_II_INDEX_SHIFT 18
#define VMX_II_NO_INDEX (1u << 22)
#define VMX_II_BASE_SHIFT 23
#define VMX_II_NO_BASE (1u << 27)
#define VMX_II_IDENT_SHIFT 28
#define VMX_II_REG2_SHIFT 28

/* Address-size codes (bits 9:7). */
enum { VMX_II_ASIZE16 = 0, VMX_II_ASIZE32 = 1, VMX_II_ASIZE64 = 2 };

/* Identity codes of the descriptor-table instructions (bits 29:28). */
enum { VMX_II_SGDT = 0, VMX_II_SIDT = 1, VMX_II_LGDT = 2, VMX_II_LIDT = 3 };
enum { VMX_II_SLDT = 0, VMX_II_STR = 1, VMX_II_LLDT = 2, VMX_II_LTR = 3 };

/* The decoded form: what an exit handler needs to rebuild the operand. */
struct vmx_insn_operand {
	uint8_t is_reg; /* register operand (Reg1) rather than memory */
	uint8_t reg1, reg2;
	uint8_t scale; /* 1, 2, 4, 8 */
	uint8_t addr_bytes; /* 2, 4, 8 */
	uint8_t seg; /* x86.h SEG_* */
	int8_t base, index; /* GPR number, or -1 */
	uint8_t ident;
	uint8_t opsize32;
};

static inline uint32_t vmx_insn_info_encode(const struct vmx_insn_operand *o)
{
	uint32_t v = 0;
	unsigned sc = o->scale == 8 ? 3 : o->scale == 4 ? 2 : o->scale == 2 ? 1 : 0;
	unsigned as = o->addr_bytes == 8 ? VMX_II_ASIZE64 : o->addr_bytes == 4 ? VMX_II_ASIZE32 : VMX_II_ASIZE16;
	v |= (uint32_t)(o->reg1 & 15) << VMX_II_REG1_SHIFT;
	v |= (uint32_t)(o->reg2 & 15) << VMX_II_REG2_SHIFT;
	if (o->is_reg)
		return v | VMX_II_REG_OPERAND;
	v |= sc << VMX_II_SCALE_SHIFT;
	v |= as << VMX_II_ASIZE_SHIFT;
	v |= (uint32_t)(o->seg & 7) << VMX_II_SEG_SHIFT;
	v |= o->index >= 0 ? (uint32_t)o->index << VMX_II_INDEX_SHIFT : VMX_II_NO_INDEX;
	v |= o->base >= 0 ? (uint32_t)o->base << VMX_II_BASE_SHIFT : VMX_II_NO_BASE;
	v |= o->opsize32 ? VMX_II_OPSIZE32 : 0;
	return v;
}

/* The identity field shares bits 29:28 with Reg2; callers that use it
 * (descriptor-table instructions) OR it in separately. */
static inline uint32_t vmx_insn_info_ident(unsigned ident)
{
	return (uint32_t)(ident & 3) << VMX_II_IDENT_SHIFT;
}

static inline void vmx_insn_info_decode(uint32_t v, struct vmx_insn_operand *o)
{
	static const uint8_t addr_bytes[4] = { 2, 4, 8, 8 };
	o->is_reg = (v & VMX_II_REG_OPERAND) != 0;
	o->reg1 = (v >> VMX_II_REG1_SHIFT) & 15;
	o->reg2 = (v >> VMX_II_REG2_SHIFT) & 15;
	o->scale = (uint8_t)(1u << ((v >> VMX_II_SCALE_SHIFT) & 3));
	o->addr_bytes = addr_bytes[(v >> VMX_II_ASIZE_SHIFT) & 3];
	o->seg = (v >> VMX_II_SEG_SHIFT) & 7;
	o->index = (v & VMX_II_NO_INDEX) ? -1 : (int8_t)((v >> VMX_II_INDEX_SHIFT) & 15);
	o->base = (v & VMX_II_NO_BASE) ? -1 : (int8_t)((v >> VMX_II_BASE_SHIFT) & 15);
	o->ident = (v >> VMX_II_IDENT_SHIFT) & 3;
	o->opsize32 = (v & VMX_II_OPSIZE32) != 0;
}

#endif
