/*
 * Ring transitions for the rings32 guest (32-bit protected mode):
 *  - pc_run_user(fn, esp): IRET to CPL 3 at fn with the given stack (SDM
 *    Vol. 2A IRET "RETURN-TO-OUTER-PRIVILEGE-LEVEL"); pc_resume_kernel()
 *    (called from a ring-0 handler) comes back to pc_run_user's caller.
 *  - gate_entry: the ring-0 target of a call gate with 2 parameters
 *    (SDM Vol. 3A 5.8.5 Figure 5-13): records its stack and returns with
 *    RET 8, which releases the parameters on both stacks.
 *  - sysenter_entry: the SYSENTER target; returns with SYSEXIT.
 */
	.code32
	.text

	.globl pc_run_user
pc_run_user:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, kernel_saved_esp
	mov 20(%esp), %eax /* fn */
	mov 24(%esp), %ecx /* user stack */
	mov 28(%esp), %edx /* user EFLAGS */
	push $0x23 /* SS: user data, RPL 3 */
	push %ecx
	push %edx
	push $0x1b /* CS: user code, RPL 3 */
	push %eax
	mov $0x23, %ax
	mov %ax, %ds
	mov %ax, %es
	mov user_fs, %ax
	mov %ax, %fs
	iret

	.globl pc_resume_kernel
pc_resume_kernel:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %fs
	mov %ax, %gs
	mov %ax, %ss
	mov kernel_saved_esp, %esp
	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret

	.globl gate_entry
gate_entry:
	mov %esp, gate_esp
	mov %ss, gate_ss
	mov %cs, gate_cs
	mov 8(%esp), %eax /* second parameter (pushed first by the caller) */
	mov %eax, gate_param + 4
	mov 12(%esp), %eax
	mov %eax, gate_param
	mov 16(%esp), %eax /* caller's ESP */
	mov %eax, gate_caller_esp
	mov 20(%esp), %eax /* caller's SS */
	mov %eax, gate_caller_ss
	mov gate_param, %eax
	add gate_param + 4, %eax
	lret $8

	.globl sysenter_entry
sysenter_entry:
	mov %esp, sysenter_esp_seen
	mov %cs, sysenter_cs_seen
	mov %ss, sysenter_ss_seen
	pushf
	pop sysenter_flags_seen
	mov sysenter_ret_eip, %edx
	mov sysenter_ret_esp, %ecx
	sysexit

	.data
	.globl kernel_saved_esp, user_fs, gate_esp, gate_ss, gate_cs, gate_param, gate_caller_esp, gate_caller_ss
	.globl sysenter_esp_seen, sysenter_cs_seen, sysenter_ss_seen, sysenter_flags_seen, sysenter_ret_eip, sysenter_ret_esp
	.align 4
kernel_saved_esp: .long 0
user_fs: .long 0x23
gate_esp: .long 0
gate_ss: .long 0
gate_cs: .long 0
gate_param: .long 0, 0
gate_caller_esp: .long 0
gate_caller_ss: .long 0
sysenter_esp_seen: .long 0
sysenter_cs_seen: .long 0
sysenter_ss_seen: .long 0
sysenter_flags_seen: .long 0
sysenter_ret_eip: .long 0
sysenter_ret_esp: .long 0
	.section .note.GNU-stack, "", @progbits
