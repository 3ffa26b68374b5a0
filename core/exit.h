/*
 * VM exits at L0 (DESIGN.md "Exit-centric design").
 *
 * A backend turns every event that leaves the guest into a struct vm_exit with
 * the SDM's basic exit reason and qualification and calls vcpu_handle_exit().
 * That traces it, charges the cost model and dispatches through one table
 * indexed by exit reason, as KVM's vmx_handle_exit() does.
 *
 * Handlers complete what the instruction asked for and own RIP: an
 * instruction exit is retired by vcpu_skip_insn(); an exception to be
 * delivered is queued with vcpu_inject_exception().
 */
#ifndef CORE_EXIT_H
#define CORE_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#include <tortuga/event.h>

struct vcpu;

/* SDM 28.2.1, Table 28-3: exit qualification for control-register accesses. */
enum cr_access_type { CR_ACCESS_MOV_TO = 0, CR_ACCESS_MOV_FROM = 1, CR_ACCESS_CLTS = 2, CR_ACCESS_LMSW = 3 };

/* SDM 28.2.1, Table 28-5: exit qualification for I/O instructions. */
#define IO_QUAL(size, in, string, rep, port)                                                  \
	((uint64_t)((size) - 1) | ((uint64_t)(in) << 3) | ((uint64_t)(string) << 4) |           \
	 ((uint64_t)(rep) << 5) | ((uint64_t)(port) << 16))

/* SDM 24.9.2, Table 24-17: VM-exit interruption information. */
#define INTR_INFO_VALID (1u << 31)
#define INTR_INFO_HAS_ERROR (1u << 11)
#define INTR_TYPE_EXT_INTR (0u << 8)
#define INTR_TYPE_NMI (2u << 8)
#define INTR_TYPE_HW_EXCEPTION (3u << 8)
#define INTR_TYPE_SW_INTR (4u << 8)
#define INTR_TYPE_PRIV_SW_EXCEPTION (5u << 8)
#define INTR_TYPE_SW_EXCEPTION (6u << 8)
#define INTR_TYPE_OTHER (7u << 8) /* VM-entry injection only: pending MTF VM exit (25.8.3) */

/* vm_exit.flags */
#define VMEXIT_F_L1_EPT 0x1 /* EPT violation/misconfiguration in L1's EPT tables for L2 */

struct vm_exit {
	uint32_t reason; /* basic exit reason (tortuga/exit_reasons.def) */
	uint64_t qual; /* exit qualification */
	uint64_t gla, gpa; /* guest linear / physical address where defined */
	uint32_t insn_len; /* VM-exit instruction length */
	uint32_t insn_info; /* VM-exit instruction information */
	uint32_t intr_info, intr_error; /* exception / interrupt exits */
	/* IDT-vectoring information (SDM 28.2.4): the event being delivered
	 * when the exit happened, if any (INTR_INFO_VALID set). */
	uint32_t idt_vec_info, idt_vec_error;
	uint32_t flags; /* VMEXIT_F_* */
	uint64_t aux; /* traced as the event's aux (port, MSR, GPA, vector) */

	/* Details L0 needs to finish the work; filled by the backend. */
	union {
		struct {
			uint16_t port;
			uint8_t size; /* 1, 2, 4 */
			uint8_t in;
			uint32_t count; /* elements (string I/O), 1 otherwise */
			uint8_t *data; /* count * size bytes */
		} io;
		struct {
			uint64_t gpa;
			uint8_t size;
			uint8_t write;
			uint64_t *data;
		} mmio;
		struct {
			uint32_t index;
			uint64_t value; /* WRMSR input, RDMSR result */
		} msr;
		struct {
			uint8_t cr, type, gpr;
			uint64_t value; /* MOV to CR / LMSW source */
		} cr;
		struct {
			uint8_t dr, to_dr, gpr;
		} dr;
	};
};

/* Trace, account and handle an exit at L0. Returns 0, or a negative errno when
 * tortuga cannot continue (the VM is then stopped with TORTUGA_STOP_ERROR). */
int vcpu_handle_exit(struct vcpu *v, struct vm_exit *e);

/* Human-readable name of a basic exit reason ("reason-N" when unknown). */
const char *exit_reason_name(uint32_t reason, char buf[16]);

#endif
