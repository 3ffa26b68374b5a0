/*
 * Mode transitions for the modes guest (SDM Vol. 3A 10.9 "Mode Switching";
 * 10.8.5 "Initializing IA-32e Mode"; 10.8.5.4 leaving IA-32e mode):
 *
 *  pc_real_roundtrip(): 32-bit protected mode -> 16-bit protected mode
 *    (a 16-bit code segment, a 16-bit IDT) -> real mode (CR0.PE = 0, the
 *    IVT) -> back to 32-bit protected mode. The 16-bit code (rm_start ..
 *    rm_end) is copied to RM_BASE by the C side and runs with CS.base =
 *    RM_BASE in both 16-bit modes. Results go to the words at RM_RES.
 *
 *  pc_long_roundtrip(): 32-bit protected mode -> IA-32e compatibility mode
 *    (PAE, LME, PG) -> 64-bit mode (far JMP to an L = 1 segment) -> back to
 *    compatibility mode (far RET) -> legacy protected mode (PG = 0, then
 *    LME = 0). Exceptions in compatibility and 64-bit mode go through a
 *    64-bit IDT; results in the quadwords lm_res[].
 *
 * This file is assembled into an ELF32 image: the 64-bit code uses only
 * 32-bit absolute relocations (the image is below 2 GiB).
 */
#include "modes.h"

	.section .rm_blob, "ax"
	.code16
	.globl rm_start, rm_end
rm_start:
/* ---- 16-bit protected mode: CS = SEL_CODE16 (base RM_BASE) ---- */
pm16_entry:
	mov $SEL_DATA16, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $RM_STACK, %sp
	/* PUSH in a 16-bit segment moves SP by 2 (operand size 16). */
	mov %sp, %bx
	push %ax
	mov %sp, %cx
	pop %ax
	sub %cx, %bx
	mov %bx, R_PM16_PUSH
	lidt RM_IDT16_PTR
	sti
	int $0x31
pm16_int_next:
	cli
	movw $(pm16_ud_resume - rm_start), R_RESUME
pm16_ud:
	ud2
pm16_ud_resume:
	movw $(pm16_ud - rm_start), R_PM16_UD_WANT
	mov R_FAULT_IP, %ax
	mov %ax, R_PM16_UD_GOT
	/* To real mode: clear PE, then a far jump loads a real-mode CS. */
	mov %cr0, %eax
	and $~1, %eax
	mov %eax, %cr0
	ljmp $(RM_BASE >> 4), $(real_entry - rm_start)

/* ---- real mode: CS = RM_BASE >> 4 ---- */
real_entry:
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $RM_STACK, %sp
	lidt RM_IVT_PTR
	mov %cs, %ax
	mov %ax, R_RM_CS
	sti
	int $0x30
rm_int_next:
	cli
	movw $(rm_de_resume - rm_start), R_RESUME
rm_de:
	xor %bl, %bl
	div %bl
rm_de_resume:
	movw $(rm_de - rm_start + 2), R_RM_DE_WANT /* DIV is at rm_de + 2 */
	mov R_FAULT_IP, %ax
	mov %ax, R_RM_DE_GOT
	movw $(rm_ud_resume - rm_start), R_RESUME
rm_ud:
	ud2
rm_ud_resume:
	movw $(rm_ud - rm_start), R_RM_UD_WANT
	mov R_FAULT_IP, %ax
	mov %ax, R_RM_UD_GOT
	/* Real-mode addressing: ES = 0x1234, offset 0x10 is 0x12350. */
	mov $0x1234, %ax
	mov %ax, %es
	movw $0xbeef, %es:0x10
	xor %ax, %ax
	mov %ax, %es
	/* Back to protected mode: set PE and far-jump to the 32-bit segment. */
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $SEL_CODE32, $back32

/* Handlers for both 16-bit modes: the frame is IP, CS, FLAGS (words). */
	.macro int_record base
	push %bp
	mov %sp, %bp
	push %ax
	mov 2(%bp), %ax
	mov %ax, \base + RI_IP
	mov 4(%bp), %ax
	mov %ax, \base + RI_CS
	mov 6(%bp), %ax
	mov %ax, \base + RI_FL
	pushf
	pop %ax
	mov %ax, \base + RI_FL_IN
	lea 2(%bp), %ax
	mov %ax, \base + RI_SP
	incw \base + RI_COUNT
	pop %ax
	pop %bp
	iret
	.endm
int16_record:
	int_record R_INT16
intrm_record:
	int_record R_INTRM
fault_resume:
	push %bp
	mov %sp, %bp
	push %ax
	mov 2(%bp), %ax
	mov %ax, R_FAULT_IP
	mov R_RESUME, %ax
	mov %ax, 2(%bp)
	incw R_FAULT_COUNT
	pop %ax
	pop %bp
	iret
rm_end:

	.globl rm_int16_off, rm_intrm_off, rm_fault_off
	.set rm_int16_off, int16_record - rm_start
	.set rm_intrm_off, intrm_record - rm_start
	.set rm_fault_off, fault_resume - rm_start
	.globl rm_pm16_int_next, rm_rm_int_next
	.set rm_pm16_int_next, pm16_int_next - rm_start
	.set rm_rm_int_next, rm_int_next - rm_start

/* ---- 32-bit side ---- */
	.text
	.code32
	.globl pc_real_roundtrip
pc_real_roundtrip:
	pushal
	mov %esp, saved_esp
	sidt saved_idt
	ljmp $SEL_CODE16, $(pm16_entry - rm_start)
back32:
	mov $SEL_DATA32, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov saved_esp, %esp
	lidt saved_idt
	popal
	ret

	.globl pc_long_roundtrip
pc_long_roundtrip:
	pushal
	mov %esp, saved_esp
	sidt saved_idt
	mov %cr4, %eax
	or $0x20, %eax /* PAE */
	mov %eax, %cr4
	mov lm_cr3, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax /* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax /* PG: IA-32e mode, compatibility submode */
	mov %eax, %cr0
	rdmsr
	mov %eax, lm_res + 8 * LM_EFER_COMPAT
	lidt lm_idt_ptr
	mov %esp, lm_res + 8 * LM_RSP_BEFORE_INT
	int $0x32
	mov lm_res + 8 * LM_INT_CS, %eax
	mov %eax, lm_res + 8 * LM_INT_CS_COMPAT
	mov lm_res + 8 * LM_INT_FRAME, %eax
	mov %eax, lm_res + 8 * LM_INT_FRAME_COMPAT
	mov lm_res + 8 * LM_INT_RSP, %eax
	mov %eax, lm_res + 8 * LM_INT_RSP_COMPAT
	movl $compat_ud_resume, lm_resume
compat_ud:
	ud2
compat_ud_resume:
	movl $compat_ud, lm_res + 8 * LM_COMPAT_UD_WANT
	mov lm_res + 8 * LM_FAULT_RIP, %eax
	mov %eax, lm_res + 8 * LM_COMPAT_UD_GOT
	ljmp $SEL_CODE64, $entry64

	.code64
entry64:
	mov %esp, %esp /* RSP's upper half after the switch: zero it */
	mov %cs, %eax
	mov %rax, lm_res + 8 * LM_CS64(%rip)
	/* A non-canonical data address: #GP(0). */
	movl $gp_resume, lm_resume(%rip)
	mov $1, %ebx
	shl $63, %rbx
gp_insn:
	mov (%rbx), %rax
gp_resume:
	movl $gp_insn, lm_res + 8 * LM_GP_WANT(%rip)
	mov lm_res + 8 * LM_FAULT_RIP(%rip), %rax
	mov %rax, lm_res + 8 * LM_GP_GOT(%rip)
	mov lm_res + 8 * LM_FAULT_ERR(%rip), %rax
	mov %rax, lm_res + 8 * LM_GP_ERR(%rip)
	/* A non-canonical stack reference (RBP base): #SS(0). */
	movl $ss_resume, lm_resume(%rip)
	push %rbp
	mov %rbx, %rbp
ss_insn:
	mov (%rbp), %rax
ss_resume:
	pop %rbp
	movl $ss_insn, lm_res + 8 * LM_SS_WANT(%rip)
	mov lm_res + 8 * LM_FAULT_RIP(%rip), %rax
	mov %rax, lm_res + 8 * LM_SS_GOT(%rip)
	mov lm_res + 8 * LM_FAULT_ERR(%rip), %rax
	mov %rax, lm_res + 8 * LM_SS_ERR(%rip)
	int $0x32
	/* Back to compatibility mode with a far return. */
	pushq $SEL_CODE32
	mov $back_compat, %eax
	push %rax
	lretq

	.code32
back_compat:
	mov %cs, %eax
	mov %eax, lm_res + 8 * LM_CS_BACK
	mov %cr0, %eax
	and $0x7fffffff, %eax /* PG = 0 leaves IA-32e mode (LMA = 0) */
	mov %eax, %cr0
	mov $0xc0000080, %ecx
	rdmsr
	mov %eax, lm_res + 8 * LM_EFER_AFTER
	and $~0x100, %eax
	wrmsr
	mov %cr4, %eax
	and $~0x20, %eax
	mov %eax, %cr4
	mov saved_esp, %esp
	lidt saved_idt
	popal
	ret

/* 64-bit handlers: frame = [error,] RIP, CS, RFLAGS, RSP, SS. */
	.code64
	.globl lm_int_handler, lm_fault_handler, lm_fault_err_handler
lm_int_handler:
	push %rax
	mov 8(%rsp), %rax
	mov %rax, lm_res + 8 * LM_INT_RIP(%rip)
	mov 16(%rsp), %rax
	mov %rax, lm_res + 8 * LM_INT_CS(%rip)
	mov 32(%rsp), %rax
	mov %rax, lm_res + 8 * LM_INT_RSP(%rip)
	mov 40(%rsp), %rax
	mov %rax, lm_res + 8 * LM_INT_SS(%rip)
	lea 8(%rsp), %rax
	mov %rax, lm_res + 8 * LM_INT_FRAME(%rip)
	incq lm_res + 8 * LM_INT_COUNT(%rip)
	pop %rax
	iretq
lm_fault_handler:
	push %rax
	movq $0, lm_res + 8 * LM_FAULT_ERR(%rip)
	mov 8(%rsp), %rax
	mov %rax, lm_res + 8 * LM_FAULT_RIP(%rip)
	mov 24(%rsp), %rax
	mov %rax, lm_res + 8 * LM_FAULT_FLAGS(%rip)
	mov lm_resume(%rip), %eax
	mov %rax, 8(%rsp)
	incq lm_res + 8 * LM_FAULT_COUNT(%rip)
	pop %rax
	iretq
lm_fault_err_handler:
	push %rax
	mov 8(%rsp), %rax
	mov %rax, lm_res + 8 * LM_FAULT_ERR(%rip)
	mov 16(%rsp), %rax
	mov %rax, lm_res + 8 * LM_FAULT_RIP(%rip)
	mov 32(%rsp), %rax
	mov %rax, lm_res + 8 * LM_FAULT_FLAGS(%rip)
	mov lm_resume(%rip), %eax
	mov %rax, 16(%rsp)
	incq lm_res + 8 * LM_FAULT_COUNT(%rip)
	pop %rax
	add $8, %rsp
	iretq

	.data
	.align 8
	.globl lm_res, lm_cr3, lm_idt_ptr, lm_resume
saved_esp: .long 0
	.align 8
saved_idt: .quad 0
lm_cr3: .long 0
lm_resume: .long 0
	.align 8
lm_idt_ptr: .word 0
	.long 0
	.align 8
lm_res: .space 8 * LM_RES_COUNT
	.section .note.GNU-stack, "", @progbits
