/*
 * The 256 IDT entry stubs for PC guests, for 32-bit and 64-bit builds.
 * Vectors 8, 10-14, 17 and 21 push an error code (SDM Vol. 3A 6.13,
 * Table 6-1 "Error Code" column); the others push a 0 so that every frame
 * has one layout (struct trap_frame).
 */
	.text
#ifdef __x86_64__
	.code64
#define PTR .quad
#else
	.code32
#define PTR .long
#endif

	.macro stub vec
	.align 16
stub_\vec:
	.if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21)
	.else
	push $0
	.endif
	push $\vec
	jmp trap_common
	.endm

	.globl trap_stub_table
trap_stubs_start:
	.altmacro
	.set i, 0
	.rept 256
	stub %i
	.set i, i + 1
	.endr

	.macro stubaddr vec
	PTR stub_\vec
	.endm

	.section .rodata
	.align 8
trap_stub_table:
	.set i, 0
	.rept 256
	stubaddr %i
	.set i, i + 1
	.endr
	.text

trap_common:
#ifdef __x86_64__
	push %rax
	push %rcx
	push %rdx
	push %rbx
	push $0
	push %rbp
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	mov %rsp, %rbx
	and $-16, %rsp
	cld
	call trap_dispatch
	mov %rbx, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rbp
	add $8, %rsp
	pop %rbx
	pop %rdx
	pop %rcx
	pop %rax
	add $16, %rsp
	iretq
#else
	pusha
	mov %esp, %eax
	cld
	push %eax
	call trap_dispatch
	add $4, %esp
	popa
	add $8, %esp
	iret
#endif
	.section .note.GNU-stack, "", @progbits
