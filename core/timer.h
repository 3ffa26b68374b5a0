/*
 * Guest time and timers.
 *
 * Guest time is counted in TSC ticks before the TSC offset (the model's
 * tsc_hz, 1 GHz by default). With the default modelled clock a vCPU's time
 * is its modelled cycles (retired instructions and exit costs), so a run is
 * deterministic; with the host clock it is host time since the VM was
 * created. Each vCPU has its own time; the platform (PIT, HPET, ...) uses a
 * monotonic clock that follows the vCPU that runs.
 *
 * A backend with a clock of its own (kvm: the host TSC, which its guests
 * read) replaces both: guest time is then that clock for every vCPU.
 *
 * A timer fires when the time passes its deadline: a per-vCPU timer (the
 * local APIC's) against its vCPU's time, a platform timer against whichever
 * vCPU gets there first (in a threaded run: vCPU 0, whose thread serves the
 * platform's timers). While a vCPU runs, the backend polls at v->poll_at
 * (kvm: a host timer signals the vCPU's thread then) and leaves the guest
 * with an EXTERNAL_INTERRUPT exit (the host timer interrupt that would
 * preempt it on VT-x) whose handler fires them.
 */
#ifndef CORE_TIMER_H
#define CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vcpu;

#define TIMER_NEVER UINT64_MAX

struct vm_timer {
	uint64_t deadline; /* guest time; TIMER_NEVER when disarmed */
	void (*fire)(void *opaque, uint64_t now);
	void *opaque;
	struct vcpu *owner; /* NULL: a platform timer */
	const char *name;
	struct vm *vm; /* set by vm_timer_register() */
};

/* The VM keeps a pointer; t must outlive the VM's run. */
int vm_timer_register(struct vm *vm, struct vm_timer *t);
/* In a threaded run, a deadline moved earlier from another vCPU's thread
 * notifies the thread that serves the timer. */
void vm_timer_arm(struct vm_timer *t, uint64_t deadline);
static inline void vm_timer_disarm(struct vm_timer *t)
{
	t->deadline = TIMER_NEVER;
}

/* The vCPU's guest time (TSC = this + the TSC offset). */
uint64_t vcpu_now(const struct vcpu *v);
/* The platform clock: monotonic, follows the running vCPU. */
uint64_t vm_now(struct vm *vm);
/* The earliest deadline among the timers v's thread serves: its own and
 * the platform's (threaded: the platform's only on vCPU 0). */
uint64_t vm_next_deadline(const struct vm *vm, const struct vcpu *v);
/* The earliest deadline of any timer; TIMER_NEVER: nothing can ever fire. */
uint64_t vm_next_wakeup(const struct vm *vm);
/* Host nanoseconds for `ticks` of guest time. */
uint64_t vm_ticks_to_ns(const struct vm *vm, uint64_t ticks);
/* Fire every timer of v and of the platform that is due at `now`; returns
 * true if one fired. */
bool vm_timers_run(struct vm *vm, struct vcpu *v, uint64_t now);
/* Recompute v->poll_at (after timers were armed or the slice changed). */
void vcpu_update_poll(struct vcpu *v);
/* The backend reached v->poll_at: fire due timers through an
 * EXTERNAL_INTERRUPT exit if any are due; returns true when the vCPU must
 * stop running (end of its time slice). */
bool vcpu_poll(struct vcpu *v);

#endif
