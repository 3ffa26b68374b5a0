/*
 * Hardware task switches (task.c).
 */
#ifndef CORE_EMU_TASK_H
#define CORE_EMU_TASK_H

#include <stdbool.h>
#include <stdint.h>

struct emu_cpu;
struct vcpu;
struct vm_exit;

/* The source of a task switch: exit qualification bits 31:30 (SDM Vol. 3C
 * 28.2.1 Table 28-2). */
enum task_switch_source {
	TASK_SWITCH_CALL = 0,
	TASK_SWITCH_IRET = 1,
	TASK_SWITCH_JMP = 2,
	TASK_SWITCH_GATE = 3, /* a task gate in the IDT */
};

/* Exit to L0 for a task switch to the TSS `sel`; if L0 lets it happen,
 * perform it. next_eip is saved in the old TSS; an event delivered through
 * a task gate passes its vector and error code. */
void emu_task_switch_exit(struct emu_cpu *c, uint16_t sel, unsigned source, uint64_t next_eip, int vector,
			  bool has_error, uint32_t error);
/* The backend's task_switch operation: L0 emulates the switch. */
void emu_task_switch_allow(struct vcpu *v, const struct vm_exit *e);

#endif
