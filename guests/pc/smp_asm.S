/*
 * The application-processor start-up path of the smp guest, as an OS does
 * it (SDM Vol. 3A 9.4.4 "MP Initialization Example"): a SIPI starts an AP
 * in real mode at ap_tramp_start (copied to AP_TRAMPOLINE, SIPI vector
 * AP_TRAMPOLINE >> 12); it loads the GDT, enters protected mode, then
 * IA-32e mode with the BSP's page tables, takes a stack and calls
 * ap_main(ordinal).
 */
#include "lib/long_mode.inc"

#define AP_TRAMPOLINE 0x8000
#define AP_STACK 16384

	.section .ap_tramp, "ax"
	.code16
	.globl ap_tramp_start, ap_tramp_end, ap_gdt_ptr
ap_tramp_start:
	cli
	cld
	xor %ax, %ax
	mov %ax, %ds
	lgdtl AP_TRAMPOLINE + (ap_gdt_ptr - ap_tramp_start)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x18, $ap_pm32
	.align 4
	.word 0
ap_gdt_ptr:
	.word 0
	.long 0
ap_tramp_end:

	.text
	.code32
ap_pm32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	enter_long_mode ap_64

	.code64
ap_64:
	mov $1, %eax
	lock xadd %eax, ap_started(%rip)
	mov %eax, %edi
	inc %eax
	shl $14, %rax
	mov $ap_stacks, %esp
	add %rax, %rsp
	call ap_main
1:	cli
	hlt
	jmp 1b

	.data
	.align 4
	.globl ap_started
ap_started: .long 0
	.bss
	.align 16
ap_stacks:
	.space AP_STACK * 64
	.section .note.GNU-stack, "", @progbits
