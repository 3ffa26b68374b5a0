/*
 * The x87 instructions, one stub per encoding, for core/emu/ops_x87.c,
 * which runs a guest's x87 instruction on the host FPU:
 *
 *     void stub(void *mem, void *fsave_image, uint64_t *rflags)
 *
 * loads the arithmetic flags from *rflags (FCMOVcc reads them), the x87
 * state from the 108-byte FNSAVE image (FRSTOR), runs the instruction --
 * its memory operand, if any, is [RDI] -- stores RFLAGS back (FCOMI sets
 * them) and the x87 state to the image (FNSAVE, which also reinitializes
 * the host FPU, as the SysV ABI wants it between calls). Nothing in a stub
 * waits for a pending x87 exception except the instruction itself, and
 * ops_x87.c raises #MF for the guest before running a waiting instruction
 * with one pending, so the host never takes #MF.
 *
 * Three tables of 16-byte stubs, indexed by the opcode D8-DF (k = opcode
 * - 0xD8) and the ModRM byte (SDM Vol. 2A Table A-7 to A-22, the x87
 * opcode maps):
 *   emu_x87_stubs_reg    k * 64 + (ModRM & 63): register forms (mod = 3)
 *   emu_x87_stubs_mem    k * 8 + ModRM.reg: memory forms, [RDI]
 *   emu_x87_stubs_mem16  the same with a 66H prefix: the 16-bit formats of
 *                        FLDENV, FNSTENV, FRSTOR and FNSAVE
 * The encodings are only ever the ones the decoder accepted as x87.
 */
	.macro STUB prefix, op, modrm
	.balign 16
	pushq	(%rdx)
	popfq
	frstor	(%rsi)
	.ifnb \prefix
	.byte	\prefix
	.endif
	.byte	\op, \modrm
	pushfq
	popq	(%rdx)
	fnsave	(%rsi)
	ret
	.endm

	.text
	.balign	16
	.globl	emu_x87_stubs_reg
	.hidden	emu_x87_stubs_reg
emu_x87_stubs_reg:
	.irp op, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf
	.set	m, 0xc0
	.rept	64
	STUB	, \op, m
	.set	m, m + 1
	.endr
	.endr

	.balign	16
	.globl	emu_x87_stubs_mem
	.hidden	emu_x87_stubs_mem
emu_x87_stubs_mem:
	.irp op, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf
	.set	r, 0
	.rept	8
	STUB	, \op, (r << 3) | 7
	.set	r, r + 1
	.endr
	.endr

	.balign	16
	.globl	emu_x87_stubs_mem16
	.hidden	emu_x87_stubs_mem16
emu_x87_stubs_mem16:
	.irp op, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf
	.set	r, 0
	.rept	8
	STUB	0x66, \op, (r << 3) | 7
	.set	r, r + 1
	.endr
	.endr

	.section .note.GNU-stack, "", @progbits
