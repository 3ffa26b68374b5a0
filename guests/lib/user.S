/*
 * CPL-3 excursions (include/guest/desc.h).
 *
 * user_enter(fn, arg, user_rsp): save the callee-saved registers, point the
 * TSS's RSP0 just below them (the stack the CPU switches to when an
 * interrupt or exception leaves CPL 3, SDM 3A 6.14.4 and 8.7), and IRETQ to
 * fn at CPL 3 with arg in RDI and user_return_tramp as its return address.
 * The trampoline executes INT USER_RETURN_VECTOR; exc_dispatch() answers it
 * by returning to user_resume at CPL 0 on the saved stack, with fn's result
 * still in RAX.
 */
#include <guest/desc.h>

	.text
	.globl user_enter
	.type user_enter, @function
user_enter:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, user_kernel_rsp(%rip)
	mov %rsp, guest_tss+4(%rip)
	sub $8, %rdx
	lea user_return_tramp(%rip), %rax
	mov %rax, (%rdx)
	pushq $SEL_UDATA
	push %rdx
	pushfq
	pushq $SEL_UCODE
	push %rdi
	mov %rsi, %rdi
	iretq
	.size user_enter, . - user_enter

	.globl user_return_tramp
user_return_tramp:
	int $USER_RETURN_VECTOR
	ud2

	.globl user_resume
user_resume:
	mov $SEL_KDATA, %ecx
	mov %ecx, %ds
	mov %ecx, %es
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

	.section .note.GNU-stack, "", @progbits
