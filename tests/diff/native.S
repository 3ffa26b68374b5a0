/*
 * void diff_native_call(struct diff_regs *r, const void *code)
 *
 * Loads every GPR except RSP and RFLAGS from *r, calls code (the instruction
 * under test followed by RET), and stores the GPRs and RFLAGS back into *r.
 * struct diff_regs: gpr[16] in encoding order at 8*n, rflags at 128.
 * Only MOV, PUSH and POP run between POPFQ/the call and PUSHFQ: none of them
 * touches RFLAGS.
 */
	.text
	.globl	diff_native_call
	.type	diff_native_call, @function
diff_native_call:
	push	%rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	push	%rdi		/* 8(%rsp) after the next push: struct diff_regs * */
	push	%rsi		/* (%rsp): code */

	pushq	128(%rdi)
	popfq
	mov	0(%rdi), %rax
	mov	8(%rdi), %rcx
	mov	16(%rdi), %rdx
	mov	24(%rdi), %rbx
	mov	40(%rdi), %rbp
	mov	48(%rdi), %rsi
	mov	64(%rdi), %r8
	mov	72(%rdi), %r9
	mov	80(%rdi), %r10
	mov	88(%rdi), %r11
	mov	96(%rdi), %r12
	mov	104(%rdi), %r13
	mov	112(%rdi), %r14
	mov	120(%rdi), %r15
	mov	56(%rdi), %rdi
	call	*(%rsp)

	push	%rdi
	mov	16(%rsp), %rdi
	pushfq
	popq	128(%rdi)
	popq	56(%rdi)
	mov	%rax, 0(%rdi)
	mov	%rcx, 8(%rdi)
	mov	%rdx, 16(%rdi)
	mov	%rbx, 24(%rdi)
	mov	%rbp, 40(%rdi)
	mov	%rsi, 48(%rdi)
	mov	%r8, 64(%rdi)
	mov	%r9, 72(%rdi)
	mov	%r10, 80(%rdi)
	mov	%r11, 88(%rdi)
	mov	%r12, 96(%rdi)
	mov	%r13, 104(%rdi)
	mov	%r14, 112(%rdi)
	mov	%r15, 120(%rdi)

	add	$16, %rsp
	cld
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret
	.size	diff_native_call, .-diff_native_call

	.section .note.GNU-stack,"",@progbits
