/*
 * Multiboot v1 entry for 32-bit guests (Multiboot Specification 0.6.96):
 * the header (3.1.1), then the entry in 32-bit protected mode with paging
 * off, EAX = 0x2BADB002 and EBX = the information structure (3.2). Set a
 * stack, clear .bss, call pc_start(magic, info) and exit with its value.
 */
#include "mb_header.inc"

	.section .text.start, "ax"
	.code32
	.globl _start
	.type _start, @function
_start:
	mb_entry_prologue
	mov $pc_stack_top, %esp
	push %ebp
	push %esi
	call pc_start
	push %eax
	call guest_exit
1:	hlt
	jmp 1b
	.size _start, . - _start

	.section .bss
	.align 16
	.globl pc_stack_top
pc_stack:
	.space 16384
pc_stack_top:
	.section .note.GNU-stack, "", @progbits
