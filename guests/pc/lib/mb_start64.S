/*
 * Multiboot v1 entry for 64-bit guests: the header (Multiboot 0.6.96
 * 3.1.1), then from the 32-bit entry state (3.2) into IA-32e mode the way
 * the SDM describes it (Vol. 3A 10.8.5 "Initializing IA-32e Mode"): PAE page
 * tables identity-mapping the low 4 GiB with 2-MiB pages, CR4.PAE, CR3,
 * IA32_EFER.LME (and NXE), then CR0.PG, and a far jump to a 64-bit code
 * segment. Calls pc_start(magic, info) in 64-bit mode and exits with its
 * value. The image is ELF64; the build also converts it to ELF32 (which
 * QEMU's -kernel requires), the "ELF32 carrying 64-bit code" case.
 */
#include "mb_header.inc"
#include "long_mode.inc"

	.section .text.start, "ax"
	.code32
	.globl _start
	.type _start, @function
_start:
	mb_entry_prologue

	/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2-MiB pages. */
	movl $(pc_pdpt + 3), pc_pml4
	mov $pc_pdpt, %edi
	mov $(pc_pd + 3), %eax
	mov $4, %ecx
1:	mov %eax, (%edi)
	add $8, %edi
	add $4096, %eax
	loop 1b
	mov $pc_pd, %edi
	mov $0x83, %eax /* P, W, PS */
	xor %edx, %edx
	mov $2048, %ecx
2:	mov %eax, (%edi)
	mov %edx, 4(%edi)
	add $8, %edi
	add $0x200000, %eax
	adc $0, %edx
	loop 2b

	lgdt pc_gdt64_ptr
	enter_long_mode 1f

	.code64
1:	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $pc_stack_top, %rsp
	mov %esi, %edi
	mov %ebp, %esi
	call pc_start
	mov %eax, %edi
	call guest_exit
2:	hlt
	jmp 2b
	.size _start, . - _start

	.section .rodata
	.align 16
	.globl pc_gdt64
pc_gdt64:
	.quad 0
	.quad 0x00af9b000000ffff /* 0x08: 64-bit code, DPL 0 */
	.quad 0x00cf93000000ffff /* 0x10: data, DPL 0 */
	.quad 0x00cf9b000000ffff /* 0x18: 32-bit code, DPL 0 */
pc_gdt64_end:
	.align 4
	.word 0
pc_gdt64_ptr:
	.word pc_gdt64_end - pc_gdt64 - 1
	.long pc_gdt64

	.section .bss
	.align 4096
	.globl pc_pml4, pc_pdpt, pc_pd
pc_pml4:
	.space 4096
pc_pdpt:
	.space 4096
pc_pd:
	.space 4 * 4096
	.align 16
	.globl pc_stack_top
pc_stack:
	.space 16384
pc_stack_top:
	.section .note.GNU-stack, "", @progbits
