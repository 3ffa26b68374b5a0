/*
 * Task bodies for the tasks32 guest. A task resumes where it last switched
 * away, so each body is a loop that ends by switching back (SDM Vol. 3A 8.3).
 */
	.code32
	.text
	.globl task_a_body, df_task_body, gp_task_body

/* Task A: count, note its NT flag, then return by IRET (nested) or JMP. */
task_a_body:
	incl task_a_runs
	pushf
	pop task_a_flags
	str task_a_tr
	testl $0x4000, task_a_flags
	jz 1f
	iret
	jmp task_a_body
1:	ljmp $0x18, $0 /* back to the main task by JMP */
	jmp task_a_body

/* The double-fault task: the error code is on its stack; make the
 * interrupted task resume at df_resume, then return to it. */
df_task_body:
	pop df_error
	incl df_runs
	mov %esp, df_esp
	movl $df_resume, tss_main + 0x20 /* the back-linked TSS's EIP */
	iret
	jmp df_task_body

/* The #GP task: same, resuming at gp_resume. */
gp_task_body:
	pop gp_error
	incl gp_runs
	movl $gp_resume, tss_main + 0x20
	iret
	jmp gp_task_body

	.data
	.align 4
	.globl task_a_runs, task_a_flags, task_a_tr, df_error, df_runs, df_esp, gp_error, gp_runs
task_a_runs: .long 0
task_a_flags: .long 0
task_a_tr: .long 0
df_error: .long 0
df_runs: .long 0
df_esp: .long 0
gp_error: .long 0
gp_runs: .long 0
	.section .note.GNU-stack, "", @progbits
