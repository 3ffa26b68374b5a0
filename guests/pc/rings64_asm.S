/*
 * Ring transitions for the rings64 guest (64-bit mode):
 *  - pc_run_user64(fn, rsp, rflags, cs): IRETQ to CPL 3 (SDM Vol. 2A IRET,
 *    IA-32e mode return); pc_resume_kernel64() comes back from a handler.
 *  - syscall_entry: the IA32_LSTAR target (SDM Vol. 2B SYSCALL): records the
 *    state SYSCALL produced and returns with SYSRET (64-bit, or to
 *    compatibility mode when syscall_to32 is set).
 *  - gate64_entry: the ring-0 target of a 64-bit call gate (SDM Vol. 3A
 *    5.8.3.1, Figure 5-14 "Stack switch"): records its stack, LRETQ back.
 *  - user32_syscall / user32_report: 32-bit code run at CPL 3 in
 *    compatibility mode.
 */
	.text
	.code64
	.globl pc_run_user64, pc_resume_kernel64, syscall_entry, gate64_entry

pc_run_user64: /* rdi = fn, rsi = rsp, rdx = rflags, rcx = cs */
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, kernel_saved_rsp(%rip)
	pushq $0x23 /* SS: user data, RPL 3 */
	push %rsi
	push %rdx
	push %rcx
	push %rdi
	mov $0x23, %eax /* compatibility-mode user code needs a usable DS */
	mov %eax, %ds
	mov %eax, %es
	iretq

pc_resume_kernel64:
	mov $0x10, %eax
	mov %eax, %ss
	mov %eax, %ds
	mov %eax, %es
	mov kernel_saved_rsp(%rip), %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

syscall_entry:
	mov %rcx, sc_rcx(%rip)
	mov %r11, sc_r11(%rip)
	mov %rsp, sc_rsp(%rip)
	mov %cs, %eax
	mov %rax, sc_cs(%rip)
	mov %ss, %eax
	mov %rax, sc_ss(%rip)
	pushf
	pop %rax
	mov %rax, sc_flags(%rip)
	cmpb $0, syscall_to32(%rip)
	jne 1f
	sysretq
1:	mov sc_ret32(%rip), %ecx
	sysretl

gate64_entry:
	mov %rsp, g64_rsp(%rip)
	mov %ss, %eax
	mov %rax, g64_ss(%rip)
	mov %cs, %eax
	mov %rax, g64_cs(%rip)
	mov (%rsp), %rax
	mov %rax, g64_frame(%rip)
	mov 8(%rsp), %rax
	mov %rax, g64_frame + 8(%rip)
	mov 16(%rsp), %rax
	mov %rax, g64_frame + 16(%rip)
	mov 24(%rsp), %rax
	mov %rax, g64_frame + 24(%rip)
	lretq

	.code32
	.globl user32_syscall, user32_syscall_insn, user32_report
/* Compatibility mode at CPL 3: SYSCALL is #UD here on Intel processors. */
user32_syscall:
user32_syscall_insn:
	syscall
	.pushsection ex_table, "a"
	.quad user32_syscall_insn, 1f
	.popsection
1:	xor %eax, %eax
	int $0x80
/* Reached by SYSRETL: record CS and exit. */
user32_report:
	mov %cs, %eax
	mov %eax, u32_cs
	xor %eax, %eax
	int $0x80

	.data
	.align 8
	.globl kernel_saved_rsp, sc_rcx, sc_r11, sc_rsp, sc_cs, sc_ss, sc_flags, syscall_to32, sc_ret32
	.globl g64_rsp, g64_ss, g64_cs, g64_frame, u32_cs
kernel_saved_rsp: .quad 0
sc_rcx: .quad 0
sc_r11: .quad 0
sc_rsp: .quad 0
sc_cs: .quad 0
sc_ss: .quad 0
sc_flags: .quad 0
sc_ret32: .quad 0
g64_rsp: .quad 0
g64_ss: .quad 0
g64_cs: .quad 0
g64_frame: .quad 0, 0, 0, 0
u32_cs: .quad 0
syscall_to32: .byte 0
	.section .note.GNU-stack, "", @progbits
