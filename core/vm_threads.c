/*
 * Threaded runs: one host thread per vCPU, for backends whose vCPUs execute
 * on real hardware (kvm). As in QEMU and kvmtool, the vCPUs' guest code runs
 * concurrently and everything else -- exit handling, devices, interrupt
 * controllers, timers, the trace -- runs under one VM lock (vm->lock), so
 * that the platform code written for the deterministic single-threaded emu
 * run needs no locks of its own. A vCPU's thread holds the lock except
 * while its guest runs (backend vcpu_run drops it around KVM_RUN) and while
 * it sleeps in HLT or wait-for-SIPI.
 *
 * Cross-vCPU events (IPIs, I/O APIC and 8259 interrupts, INIT/SIPI, an
 * earlier platform timer deadline) are made pending under the lock and the
 * target is notified (vcpu_notify()): a sleeping thread through vm->wake,
 * a running guest through the backend's kick (a signal that ends KVM_RUN).
 * A notified vCPU looks again at what is pending before it next enters its
 * guest, so no event is lost between the check and KVM_RUN.
 *
 * Time is host time: an idle vCPU sleeps until the next deadline of the
 * timers its thread serves (core/timer.h); the VM stops as "halted" only
 * when every vCPU is idle, none was notified, and no timer is armed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "devices/lapic.h"
#include "intr.h"
#include "vm.h"

/* An idle vCPU thread looks at the stop flag at least this often: a stop
 * requested from a signal handler cannot signal a condition variable. */
#define IDLE_POLL_NS 50000000ull

/* The vCPU this host thread runs (NULL on other threads). */
static __thread struct vcpu *self;

void vm_lock(struct vm *vm)
{
	if (vm->threaded)
		pthread_mutex_lock(&vm->lock);
}

void vm_unlock(struct vm *vm)
{
	if (vm->threaded)
		pthread_mutex_unlock(&vm->lock);
}

void vcpu_release(struct vcpu *v)
{
	v->vm->cur = NULL;
	vm_unlock(v->vm);
}

void vcpu_acquire(struct vcpu *v)
{
	vm_lock(v->vm);
	v->vm->cur = v;
}

void vcpu_notify(struct vcpu *v)
{
	struct vm *vm = v->vm;
	if (!vm->threaded || v == self)
		return;
	v->notified = true;
	pthread_cond_broadcast(&vm->wake);
	if (vm->be->kick)
		vm->be->kick(v);
}

void vm_notify_extint(struct vm *vm)
{
	if (!vm->threaded)
		return;
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		if (lapic_accepts_extint(vm->vcpus[i]->lapic))
			vcpu_notify(vm->vcpus[i]);
}

void vm_wake_all(struct vm *vm)
{
	pthread_cond_broadcast(&vm->wake);
	if (vm->be->kick)
		for (uint32_t i = 0; i < vm->nvcpus; i++)
			if (vm->vcpus[i] != self)
				vm->be->kick(vm->vcpus[i]);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Nothing can ever wake any vCPU: every thread sleeps, none was notified
 * since it looked, and no timer is armed. */
static bool vm_halted(const struct vm *vm)
{
	if (vm->idle < vm->nvcpus)
		return false;
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i]->notified)
			return false;
	return vm_next_wakeup(vm) == TIMER_NEVER;
}

/* Sleep (lock released) until the next deadline v's thread serves, a
 * notification, or IDLE_POLL_NS. */
static void idle_wait(struct vm *vm, struct vcpu *v, uint64_t deadline)
{
	uint64_t ns = IDLE_POLL_NS;
	if (deadline != TIMER_NEVER) {
		uint64_t now = vcpu_now(v);
		uint64_t d = deadline > now ? vm_ticks_to_ns(vm, deadline - now) : 0;
		if (d < ns)
			ns = d;
	}
	uint64_t at = mono_ns() + ns;
	struct timespec ts = { (time_t)(at / 1000000000u), (long)(at % 1000000000u) };
	vm->cur = NULL;
	pthread_cond_timedwait(&vm->wake, &vm->lock, &ts);
	vm->cur = v;
}

/* One vCPU's thread: run it until the VM stops. */
static int vcpu_loop(struct vcpu *v)
{
	struct vm *vm = v->vm;
	int err = vm->be->thread_init ? vm->be->thread_init(v) : 0;
	self = v;
	vcpu_acquire(v);
	if (err) {
		vm_stop(vm, TORTUGA_STOP_ERROR, TORTUGA_STATUS_ERROR);
		goto out;
	}
	while (!vm_should_stop(vm)) {
		v->notified = false;
		if (vcpu_wake(v)) {
			vcpu_inject_pending(v);
			vcpu_update_poll(v);
			err = vm->be->vcpu_run(v);
			if (err) {
				if (!vm->err[0])
					vm_error(vm, err, "vCPU %u: %s backend failed", v->id, vm->be->name);
				vm_stop(vm, TORTUGA_STOP_ERROR, TORTUGA_STATUS_ERROR);
				break;
			}
			continue;
		}
		/* HLT or wait-for-SIPI: fire what is due, else sleep. */
		uint64_t d = vm_next_deadline(vm, v);
		if (d <= vcpu_now(v)) {
			vm_timers_run(vm, v, vcpu_now(v));
			continue;
		}
		vm->idle++;
		if (vm_halted(vm)) {
			vm_stop(vm, TORTUGA_STOP_HALTED, TORTUGA_STATUS_HALTED);
		} else {
			idle_wait(vm, v, d);
		}
		vm->idle--;
	}
out:
	self = NULL;
	vcpu_release(v);
	if (vm->be->thread_fini)
		vm->be->thread_fini(v);
	return err;
}

static void *vcpu_thread(void *arg)
{
	vcpu_loop(arg);
	return NULL;
}

int vm_run_threaded(struct vm *vm)
{
	pthread_t th[VM_MAX_VCPUS];
	uint32_t started = 1;
	vm->idle = 0;
	vm->threaded = true;
	/* vCPU 0 runs on the caller's thread, the others on threads of their
	 * own (started under the lock so that none runs before all exist). */
	pthread_mutex_lock(&vm->lock);
	for (; started < vm->nvcpus; started++) {
		int e = pthread_create(&th[started], NULL, vcpu_thread, vm->vcpus[started]);
		if (e) {
			vm_error(vm, -e, "cannot start a host thread for vCPU %u: %s", started, strerror(e));
			vm_stop(vm, TORTUGA_STOP_ERROR, TORTUGA_STATUS_ERROR);
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	int err = vcpu_loop(vm->vcpus[0]);
	for (uint32_t i = 1; i < started; i++)
		pthread_join(th[i], NULL);
	vm->threaded = false;
	if (!err && vm->stop_reason == TORTUGA_STOP_ERROR)
		err = -EIO;
	return err;
}
