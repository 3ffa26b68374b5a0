/*
 * Guest entry for the direct boot protocol: RDI = struct tortuga_bootinfo *,
 * RSI = magic, RSP = a usable stack. Clear .bss, call main(bi), and report
 * main's return value through the debug-exit port.
 */
	.section .text.start, "ax"
	.globl _start
	.type _start, @function
_start:
	mov %rdi, %r12
	lea __bss_start(%rip), %rdi
	lea __bss_end(%rip), %rcx
	sub %rdi, %rcx
	xor %eax, %eax
	cld
	rep stosb
	and $-16, %rsp
	mov %r12, %rdi
	call guest_start
	mov %eax, %edi
	call guest_exit
1:	hlt
	jmp 1b
	.size _start, . - _start
	.section .note.GNU-stack, "", @progbits
