/*
 * IDT entry stubs: one 16-byte stub per vector (so stub v is at
 * exc_stubs + 16 * v), each pushing a zero error code where the CPU pushes
 * none (SDM 3A 6.3.1) and the vector, then the common path that saves the
 * general-purpose registers as struct exc_frame (include/guest/exc.h), calls
 * exc_dispatch(frame) and returns with IRETQ (SDM 3A 6.14.2).
 */
#include <guest/exc.h>

	.text
	.globl exc_stubs
	.balign 16
exc_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec < 32) && ((EXC_ERROR_VECTORS >> (vec & 31)) & 1)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp exc_common
	.set vec, vec + 1
	.endr

exc_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	/* 22 quadwords on a stack the CPU aligned to 16 bytes: still aligned. */
	mov %rsp, %rdi
	cld
	call exc_dispatch
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

	.section .note.GNU-stack, "", @progbits
