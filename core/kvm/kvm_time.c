/*
 * Time on the kvm backend, and the signals that end KVM_RUN.
 *
 * A guest on KVM reads the host's TSC plus KVM's per-vCPU offset (tortuga
 * asks for no TSC scaling), so deterministic modelled time is an emu
 * property: on kvm, guest time is the host TSC (vcpu_now() = RDTSC - tsc0,
 * the same for every vCPU), the model's TSC rate is the host's
 * (KVM_GET_TSC_KHZ), and what the guest is told about it -- CPUID 15H/16H,
 * the boot information's tsc_hz -- is that rate, as are the APIC timer's and
 * the PIT's clocks in tortuga's user-space devices. v->s.tsc_offset relates
 * guest time to the guest's TSC (TSC = vcpu_now() + tsc_offset), for
 * IA32_TSC_DEADLINE.
 *
 * Each vCPU thread blocks KVM_KICK_SIGNAL, and KVM_SET_SIGNAL_MASK unblocks it
 * only inside KVM_RUN (api.rst 4.21): a kick sent at any time either ends a
 * KVM_RUN in progress (-EINTR) or stays pending and makes the next one return
 * at once, so none is lost; the thread then drains it. Kicks come from other
 * threads (an event for this vCPU, a stop request) and from a per-thread
 * POSIX timer armed at the vCPU's next timer deadline (v->poll_at): the host
 * timer interrupt that, on VT-x, would make the guest exit so that L0 can
 * fire its timers.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "kvm.h"

uint64_t kvm_clock(const struct vm *vm)
{
	return __rdtsc() - kvm_vm_of(vm)->tsc0;
}

uint64_t kvm_ticks_to_ns(const struct vm *vm, uint64_t ticks)
{
	return (uint64_t)((unsigned __int128)ticks * 1000000000u / vm->model.tsc_hz);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The host TSC rate measured against CLOCK_MONOTONIC over `ns`. */
static uint64_t tsc_calibrate(uint64_t ns)
{
	uint64_t t0 = mono_ns(), c0 = __rdtsc(), t1, c1;
	do {
		t1 = mono_ns();
		c1 = __rdtsc();
	} while (t1 - t0 < ns);
	return (uint64_t)((unsigned __int128)(c1 - c0) * 1000000000u / (t1 - t0));
}

int kvm_tsc_rate_init(struct vcpu *v)
{
	/* The guest's TSC rate: KVM's virtual_tsc_khz, the host's own rate
	 * unless someone set another (api.rst 4.56 KVM_GET_TSC_KHZ). */
	int khz = ioctl(kvm_vcpu_of(v)->fd, KVM_GET_TSC_KHZ, 0);
	v->vm->model.tsc_hz = khz > 0 ? (uint64_t)khz * 1000 : tsc_calibrate(20000000);
	return 0;
}

/*
 * Read KVM's TSC offset into v->s.tsc_offset. With KVM_VCPU_TSC_OFFSET
 * (api.rst 4.126, "KVM_VCPU_TSC_CTRL") it is exact: guest TSC = host TSC +
 * offset. Otherwise the guest's IA32_TSC is read between two host RDTSCs and
 * the offset taken at the later one: the smallest it can be, so that a
 * deadline tortuga computes is never early for the guest.
 */
int kvm_tsc_offset_pull(struct vcpu *v)
{
	struct kvm_vm_data *kv = kvm_vm_of(v->vm);
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	int64_t off;
	if (kv->tsc_offset_attr) {
		struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
					     .addr = (uint64_t)(uintptr_t)&off };
		if (ioctl(kc->fd, KVM_GET_DEVICE_ATTR, &a) == 0) {
			v->s.tsc_offset = (uint64_t)off + kv->tsc0;
			return 0;
		}
	}
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} b = { .hdr.nmsrs = 1, .e.index = MSR_IA32_TSC };
	(void)__rdtsc();
	int r = ioctl(kc->fd, KVM_GET_MSRS, &b);
	uint64_t h2 = __rdtsc();
	if (r != 1)
		return vm_error(v->vm, r < 0 ? -errno : -EIO, "kvm: cannot read the guest's TSC on vCPU %u", v->id);
	v->s.tsc_offset = b.e.data - h2 + kv->tsc0;
	return 0;
}

/* ---- the kick signal ---- */

static void drain(void)
{
	sigset_t k;
	sigemptyset(&k);
	sigaddset(&k, KVM_KICK_SIGNAL);
	struct timespec zero = { 0, 0 };
	while (sigtimedwait(&k, NULL, &zero) == KVM_KICK_SIGNAL)
		;
}

/*
 * The guest must get to run between host timer interrupts. Where an exit
 * round trip costs more than the guest's timer period (a 20-us periodic
 * APIC timer under QEMU TCG, whose emulated VMRUN costs about 100 us), a
 * timer armed at every deadline would end each KVM_RUN before the guest
 * executed anything. KVM's own APIC timer cannot starve the guest that way
 * (its interrupts are injected as the guest enters); tortuga's host timer
 * keeps the guest running for at least kc->quantum_ns: it doubles while
 * KVM_RUN keeps ending with nothing but kicks, and halves at each real exit.
 * The timer interrupts it delays are pending in the IRR by then (a periodic
 * timer's coalesce there, as on hardware).
 */
#define QUANTUM_MIN_NS 10000ull
#define QUANTUM_MAX_NS 10000000ull

void kvm_kick_drain(struct vcpu *v)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	drain();
	/* The timer may be what fired: arm it again for whatever is next. */
	kc->timer_armed = TIMER_NEVER;
	if (++kc->kick_streak >= 2) {
		kc->quantum_ns = kc->quantum_ns < QUANTUM_MIN_NS ? QUANTUM_MIN_NS : kc->quantum_ns * 2;
		if (kc->quantum_ns > QUANTUM_MAX_NS)
			kc->quantum_ns = QUANTUM_MAX_NS;
	}
}

void kvm_guest_progressed(struct vcpu *v)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	kc->kick_streak = 0;
	kc->quantum_ns /= 2;
	if (kc->quantum_ns < QUANTUM_MIN_NS)
		kc->quantum_ns = 0;
}

int kvm_thread_init(struct vcpu *v)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	sigset_t k;
	sigemptyset(&k);
	sigaddset(&k, KVM_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &k, &kc->saved_mask);
	/* Inside KVM_RUN: the thread's mask without the kick signal. The kernel's
	 * sigset is 8 bytes on x86-64 (what KVM_SET_SIGNAL_MASK requires). */
	sigset_t in_run = kc->saved_mask;
	sigdelset(&in_run, KVM_KICK_SIGNAL);
	struct {
		struct kvm_signal_mask hdr;
		uint8_t set[8];
	} m = { .hdr.len = 8 };
	memcpy(m.set, &in_run, 8);
	if (ioctl(kc->fd, KVM_SET_SIGNAL_MASK, &m) < 0) {
		int e = errno;
		pthread_sigmask(SIG_SETMASK, &kc->saved_mask, NULL);
		return vm_error(v->vm, -e, "kvm: KVM_SET_SIGNAL_MASK failed on vCPU %u: %s", v->id, strerror(e));
	}
	pid_t tid = (pid_t)syscall(SYS_gettid);
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = KVM_KICK_SIGNAL };
	sev._sigev_un._tid = tid; /* sigev_notify_thread_id (sigevent(7)) */
	if (timer_create(CLOCK_MONOTONIC, &sev, &kc->timer) < 0) {
		int e = errno;
		pthread_sigmask(SIG_SETMASK, &kc->saved_mask, NULL);
		return vm_error(v->vm, -e, "cannot create a host timer for vCPU %u: %s", v->id, strerror(e));
	}
	kc->timer_armed = TIMER_NEVER;
	__atomic_store_n(&kc->tid, tid, __ATOMIC_SEQ_CST);
	return 0;
}

void kvm_thread_fini(struct vcpu *v)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	if (!__atomic_load_n(&kc->tid, __ATOMIC_SEQ_CST))
		return;
	__atomic_store_n(&kc->tid, 0, __ATOMIC_SEQ_CST);
	timer_delete(kc->timer);
	drain();
	pthread_sigmask(SIG_SETMASK, &kc->saved_mask, NULL);
}

void kvm_vcpu_kick(struct vcpu *v)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	if (!kc)
		return;
	/* Async-signal-safe (a stop request from a signal handler). tgkill with
	 * the kernel's thread id, not pthread_kill: a thread that just ended
	 * gets ESRCH instead of undefined behaviour. */
	pid_t tid = __atomic_load_n(&kc->tid, __ATOMIC_SEQ_CST);
	if (tid)
		syscall(SYS_tgkill, getpid(), tid, KVM_KICK_SIGNAL);
}

void kvm_timer_arm(struct vcpu *v, uint64_t deadline)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	if (deadline == kc->timer_armed)
		return;
	kc->timer_armed = deadline;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	if (deadline != TIMER_NEVER) {
		uint64_t now = vcpu_now(v);
		uint64_t ns = deadline > now ? kvm_ticks_to_ns(v->vm, deadline - now) : 0;
		if (ns < kc->quantum_ns)
			ns = kc->quantum_ns;
		if (ns == 0)
			ns = 1; /* it_value 0 would disarm */
		its.it_value.tv_sec = (time_t)(ns / 1000000000u);
		its.it_value.tv_nsec = (long)(ns % 1000000000u);
	}
	timer_settime(kc->timer, 0, &its, NULL);
}
