/*
 * void diff_native_call(struct diff_regs *r, const void *code)
 *
 * Loads the x87/SSE state (FXRSTOR64), all 16 GPRs (RSP included) and
 * RFLAGS from *r and jumps to code: the instruction under test followed by
 * "jmp [rip+0]" to diff_native_return, which stores the GPRs, RFLAGS and the
 * x87/SSE state (FXSAVE64) back into *r and returns to the caller on the
 * caller's stack, with a clean x87 state and MXCSR for the C code.
 * struct diff_regs: gpr[16] in encoding order at 8*n, rflags at 128, the
 * FXSAVE64 image at 144. Between POPFQ and PUSHFQ only MOV and JMP run:
 * neither touches RFLAGS (nor the x87/SSE state). Faults are signals
 * (native.c), taken on an alternate stack because RSP belongs to the case.
 */
	.bss
	.balign	8
saved_rsp:	.quad	0
saved_regs:	.quad	0
saved_rdi:	.quad	0
code_ptr:	.quad	0
	.section .rodata
	.balign	4
mxcsr_default:	.long	0x1f80
	.bss
	.globl	diff_native_taken
diff_native_taken:	.byte	0

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
	mov	%rdi, saved_regs(%rip)
	mov	%rsi, code_ptr(%rip)
	mov	%rsp, saved_rsp(%rip)

	fxrstor64	144(%rdi)
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
	mov	32(%rdi), %rsp
	mov	56(%rdi), %rdi
	jmp	*code_ptr(%rip)
	.size	diff_native_call, .-diff_native_call

	/* Branch cases: the landing sled ends here (MOV leaves RFLAGS alone). */
	.globl	diff_native_return_taken
	.type	diff_native_return_taken, @function
diff_native_return_taken:
	movb	$1, diff_native_taken(%rip)
	.size	diff_native_return_taken, .-diff_native_return_taken
	/* fall through */

	.globl	diff_native_return
	.type	diff_native_return, @function
diff_native_return:
	mov	%rdi, saved_rdi(%rip)
	mov	saved_regs(%rip), %rdi
	mov	%rsp, 32(%rdi)
	mov	saved_rsp(%rip), %rsp
	pushfq
	popq	128(%rdi)
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
	mov	saved_rdi(%rip), %rax
	mov	%rax, 56(%rdi)
	fxsave64	144(%rdi)
	fninit
	ldmxcsr	mxcsr_default(%rip)

	/* The C ABI wants DF clear; AC (which a POPF case may set) would
	 * make unaligned accesses fault. */
	pushq	$0x202
	popfq
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret
	.size	diff_native_return, .-diff_native_return

	.section .note.GNU-stack,"",@progbits
