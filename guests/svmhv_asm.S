/*
 * svmhv's world switch and L2 code (see svmhv.h).
 *
 * VMRUN (AMD APM Vol. 2 15.5.1) saves the host's RAX, RSP and RIP (among
 * others) to the VM_HSAVE_PA area and #VMEXIT (15.6) restores them; every
 * other general-purpose register keeps L2's value across #VMEXIT, so this
 * code swaps them by hand, as every SVM hypervisor does. GIF is cleared
 * around VMRUN and set again after #VMEXIT (15.17: #VMEXIT clears GIF).
 */
#include "svmhv.h"

	.text
	.code64
	.globl svm_run, svmhv_l2

svm_run: /* rdi = VMCB physical address, rsi = struct svm_gprs * */
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	push %rsi
	mov %rdi, %rax
	clgi
	mov GPR_RBX(%rsi), %rbx
	mov GPR_RCX(%rsi), %rcx
	mov GPR_RDX(%rsi), %rdx
	mov GPR_RDI(%rsi), %rdi
	mov GPR_RBP(%rsi), %rbp
	mov GPR_R8(%rsi), %r8
	mov GPR_R9(%rsi), %r9
	mov GPR_R10(%rsi), %r10
	mov GPR_R11(%rsi), %r11
	mov GPR_R12(%rsi), %r12
	mov GPR_R13(%rsi), %r13
	mov GPR_R14(%rsi), %r14
	mov GPR_R15(%rsi), %r15
	mov GPR_RSI(%rsi), %rsi
	vmrun %rax
	/* #VMEXIT: RAX, RSP and RIP are L1's again. */
	push %rsi
	mov 8(%rsp), %rsi
	mov %rbx, GPR_RBX(%rsi)
	mov %rcx, GPR_RCX(%rsi)
	mov %rdx, GPR_RDX(%rsi)
	mov %rdi, GPR_RDI(%rsi)
	mov %rbp, GPR_RBP(%rsi)
	mov %r8, GPR_R8(%rsi)
	mov %r9, GPR_R9(%rsi)
	mov %r10, GPR_R10(%rsi)
	mov %r11, GPR_R11(%rsi)
	mov %r12, GPR_R12(%rsi)
	mov %r13, GPR_R13(%rsi)
	mov %r14, GPR_R14(%rsi)
	mov %r15, GPR_R15(%rsi)
	popq GPR_RSI(%rsi)
	add $8, %rsp
	stgi
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

svmhv_l2: /* rdi = number of CPUIDs */
	xor %r8d, %r8d
1:	test %rdi, %rdi
	jz 2f
	mov $SVMHV_LEAF, %eax
	xor %ecx, %ecx
	cpuid
	add %rax, %r8
	dec %rdi
	jmp 1b
2:	mov %r8, %rax
	vmmcall
	hlt
	ud2 /* L1 never resumes L2 after HLT */
	.section .note.GNU-stack, "", @progbits
