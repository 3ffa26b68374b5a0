#include <errno.h>
#include <time.h>

#include "timer.h"
#include "vm.h"

/* With the host clock the backend cannot know in advance when a deadline
 * passes; it polls every HOST_POLL_CYCLES modelled cycles. */
#define HOST_POLL_CYCLES 4096u

int vm_timer_register(struct vm *vm, struct vm_timer *t)
{
	if (vm->ntimers == VM_MAX_TIMERS)
		return -ENOSPC;
	t->deadline = TIMER_NEVER;
	t->vm = vm;
	vm->timers[vm->ntimers++] = t;
	return 0;
}

/* Which vCPU's thread fires t: its owner; a platform timer, any vCPU that
 * gets there first, or vCPU 0 in a threaded run (one thread, so that a
 * periodic platform timer does not interrupt every vCPU). */
static bool serves(const struct vm *vm, const struct vm_timer *t, const struct vcpu *v)
{
	if (t->owner)
		return t->owner == v;
	return !vm->threaded || v->id == 0;
}

void vm_timer_arm(struct vm_timer *t, uint64_t deadline)
{
	uint64_t was = t->deadline;
	t->deadline = deadline;
	struct vm *vm = t->vm;
	if (vm && vm->threaded && deadline < was)
		vcpu_notify(t->owner ? t->owner : vm->vcpus[0]);
}

static uint64_t host_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t vcpu_now(const struct vcpu *v)
{
	const struct vm *vm = v->vm;
	if (vm->be && vm->be->clock)
		return vm->be->clock(vm);
	if (vm->cfg.clock != TORTUGA_CLOCK_HOST) {
		/* Modelled cycles up to the running instruction: the backend
		 * may not have retired the current block into v->cycles yet. */
		if (vm->be && vm->be->cycles_now)
			return vm->be->cycles_now((struct vcpu *)v);
		return v->cycles;
	}
	/* Host nanoseconds scaled to the TSC rate. */
	unsigned __int128 t = (unsigned __int128)(host_ns() - vm->host_t0) * vm->model.tsc_hz;
	return (uint64_t)(t / 1000000000u);
}

uint64_t vm_now(struct vm *vm)
{
	if (vm->cur) {
		uint64_t t = vcpu_now(vm->cur);
		if (t > vm->platform_clock)
			vm->platform_clock = t;
	}
	return vm->platform_clock;
}

uint64_t vm_next_deadline(const struct vm *vm, const struct vcpu *v)
{
	uint64_t d = TIMER_NEVER;
	for (unsigned i = 0; i < vm->ntimers; i++) {
		const struct vm_timer *t = vm->timers[i];
		if (serves(vm, t, v) && t->deadline < d)
			d = t->deadline;
	}
	return d;
}

uint64_t vm_next_wakeup(const struct vm *vm)
{
	uint64_t d = TIMER_NEVER;
	for (unsigned i = 0; i < vm->ntimers; i++)
		if (vm->timers[i]->deadline < d)
			d = vm->timers[i]->deadline;
	return d;
}

uint64_t vm_ticks_to_ns(const struct vm *vm, uint64_t ticks)
{
	if (vm->be && vm->be->ticks_to_ns)
		return vm->be->ticks_to_ns(vm, ticks);
	return (uint64_t)((unsigned __int128)ticks * 1000000000u / vm->model.tsc_hz);
}

bool vm_timers_run(struct vm *vm, struct vcpu *v, uint64_t now)
{
	bool fired = false;
	if (now > vm->platform_clock)
		vm->platform_clock = now;
	/* A timer's callback may re-arm it (periodic) or arm another; loop
	 * until nothing is due. Deadlines only move forward, so this ends. */
	for (bool again = true; again;) {
		again = false;
		for (unsigned i = 0; i < vm->ntimers; i++) {
			struct vm_timer *t = vm->timers[i];
			if (!serves(vm, t, v) || t->deadline > now)
				continue;
			uint64_t was = t->deadline;
			t->deadline = TIMER_NEVER;
			t->fire(t->opaque, was);
			fired = again = true;
		}
	}
	return fired;
}

void vcpu_update_poll(struct vcpu *v)
{
	uint64_t at = v->slice_end;
	if (v->kick) {
		v->poll_at = 0;
		return;
	}
	/* An instruction-count exit: cycles grow at least as fast as retired
	 * instructions, so the poll comes no later than the deadline (and,
	 * ahead of the backend's window checks, with the SDM's priority). */
	if (v->timer_armed && v->timer_relative) {
		v->poll_at = 0; /* anchor it at the next boundary */
		return;
	}
	if (v->timer_armed) {
		uint64_t left = v->timer_deadline > v->stats.insns ? v->timer_deadline - v->stats.insns : 0;
		if (v->cycles + left < at)
			at = v->cycles + left;
	}
	if (v->vm->cfg.clock == TORTUGA_CLOCK_HOST && !v->vm->be->clock) {
		uint64_t p = v->cycles + HOST_POLL_CYCLES;
		if (p < at)
			at = p;
	} else {
		uint64_t d = vm_next_deadline(v->vm, v);
		if (d < at)
			at = d;
	}
	v->poll_at = at;
}

bool vcpu_poll(struct vcpu *v)
{
	uint64_t now = vcpu_now(v);
	if (v->timer_relative) {
		v->timer_anchor = v->stats.insns;
		v->timer_deadline += v->timer_anchor;
		v->timer_relative = false;
	}
	bool timers_due = vm_next_deadline(v->vm, v) <= now;
	/* A kick waits until the event being injected is delivered (the
	 * backend delivers it before it polls again). */
	bool kick = v->kick && !v->inject.valid;
	if (timers_due || kick) {
		/* A host interrupt: VT-x exits with "external interrupt"
		 * (pin-based external-interrupt exiting, SDM Vol. 3C 26.2); with
		 * "acknowledge interrupt on exit" the vector is the host's local
		 * timer vector (Linux LOCAL_TIMER_VECTOR, 0xec) or, for a kick,
		 * its reschedule IPI. The handler fires the due timers; the
		 * exit's end injects or reflects what is pending. */
		uint32_t vec = timers_due ? HOST_TIMER_VECTOR : HOST_KICK_VECTOR;
		struct vm_exit e = {
			.reason = TORTUGA_EXIT_EXTERNAL_INTERRUPT,
			.intr_info = INTR_INFO_VALID | INTR_TYPE_EXT_INTR | vec,
			.aux = vec,
		};
		v->kick = false;
		vcpu_handle_exit(v, &e);
	} else if (v->timer_armed && v->stats.insns >= v->timer_deadline) {
		/* VMX-preemption timer (SDM 26.5.1) or monitor trap flag
		 * (26.5.2): an exit at this instruction boundary. */
		struct vm_exit e = { .reason = v->timer_reason };
		v->timer_armed = false;
		vcpu_handle_exit(v, &e);
	}
	vcpu_update_poll(v);
	return v->cycles >= v->slice_end;
}
