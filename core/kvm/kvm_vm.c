/*
 * The kvm backend's VM and vCPU lifecycle and its struct backend_ops
 * (api.rst 4.2 KVM_CREATE_VM, 4.7 KVM_CREATE_VCPU, 4.8 KVM_GET_VCPU_MMAP_SIZE,
 * 4.45 KVM_GET_SUPPORTED_CPUID, 4.3 KVM_GET_MSR_INDEX_LIST).
 *
 * No in-kernel interrupt controller is created: the platform's local APICs,
 * I/O APIC, 8259s and PIT are tortuga's own, in user space, the same on both
 * backends (core/devices/), so a guest's interrupts behave and trace alike
 * on emu and kvm. Without an irqchip KVM hands HLT to user space
 * (KVM_EXIT_HLT) and takes interrupts through KVM_INTERRUPT (kvm_events.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <x86intrin.h>

#include "core/devices/lapic.h"
#include "kvm.h"

/*
 * Three pages for the real-mode TSS and one for the EPT identity map that KVM
 * needs on VMX hosts without unrestricted guest (api.rst 4.40, 4.56): below
 * 4 GiB, in no memslot and no MMIO region. Where QEMU puts them, in the PCI
 * hole under the BIOS area.
 */
#define KVM_IDENTITY_MAP_GPA 0xfeffc000ull
#define KVM_TSS_GPA 0xfeffd000ull
#define KVM_PRIVATE_END 0xff000000ull

static int check_ext(void *ctx, long cap)
{
	return ioctl(*(int *)ctx, KVM_CHECK_EXTENSION, cap);
}

/* KVM_GET_SUPPORTED_CPUID wants a buffer large enough, else E2BIG. */
static int get_supported_cpuid(struct vm *vm, struct kvm_vm_data *kv)
{
	for (uint32_t n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return vm_error(vm, -ENOMEM, "out of memory");
		c->nent = n;
		if (ioctl(kv->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			kv->supported = c;
			return 0;
		}
		int e = errno;
		free(c);
		if (e != E2BIG)
			return vm_error(vm, -e, "kvm: KVM_GET_SUPPORTED_CPUID failed: %s", strerror(e));
	}
	return vm_error(vm, -E2BIG, "kvm: KVM_GET_SUPPORTED_CPUID returns more than 4096 entries");
}

/* KVM_GET_MSR_INDEX_LIST: with nmsrs too small it fails with E2BIG and
 * stores the number needed. */
static int get_msr_index(struct vm *vm, struct kvm_vm_data *kv)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	if (ioctl(kv->sys_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return vm_error(vm, -errno, "kvm: KVM_GET_MSR_INDEX_LIST failed: %s", strerror(errno));
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + (probe.nmsrs + 1) * sizeof(uint32_t));
	if (!l)
		return vm_error(vm, -ENOMEM, "out of memory");
	l->nmsrs = probe.nmsrs;
	if (ioctl(kv->sys_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		free(l);
		return vm_error(vm, -errno, "kvm: KVM_GET_MSR_INDEX_LIST failed: %s", strerror(errno));
	}
	kv->nmsr_index = l->nmsrs;
	kv->msr_index = malloc((l->nmsrs + 1) * sizeof(uint32_t));
	if (kv->msr_index)
		memcpy(kv->msr_index, l->indices, l->nmsrs * sizeof(uint32_t));
	free(l);
	return kv->msr_index ? 0 : vm_error(vm, -ENOMEM, "out of memory");
}

static int set_private_pages(struct vm *vm, struct kvm_vm_data *kv)
{
	for (uint64_t a = KVM_IDENTITY_MAP_GPA; a < KVM_PRIVATE_END; a += PAGE_SIZE)
		if (aspace_find(&vm->as, a))
			return vm_error(vm, -EEXIST, "kvm: the platform maps 0x%llx, where KVM keeps its private pages",
					(unsigned long long)a);
	if (kv->caps.val[KCAP_SET_IDENTITY_MAP_ADDR]) {
		uint64_t a = KVM_IDENTITY_MAP_GPA;
		if (ioctl(kv->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &a) < 0)
			return vm_error(vm, -errno, "kvm: KVM_SET_IDENTITY_MAP_ADDR failed: %s", strerror(errno));
	}
	if (kv->caps.val[KCAP_SET_TSS_ADDR] && ioctl(kv->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_GPA) < 0)
		return vm_error(vm, -errno, "kvm: KVM_SET_TSS_ADDR failed: %s", strerror(errno));
	return 0;
}

/*
 * The MSRs of tortuga's local APIC reach user space (api.rst
 * KVM_CAP_X86_USER_SPACE_MSR, KVM_X86_SET_MSR_FILTER): KVM without a local
 * APIC of its own refuses the x2APIC MSRs 0x800-0x8ff (#GP), and MSR
 * filters cannot name them, so refused accesses go to user space
 * (KVM_MSR_EXIT_REASON_INVAL); IA32_APIC_BASE and IA32_TSC_DEADLINE, which
 * KVM would answer itself, are denied by the filter
 * (KVM_MSR_EXIT_REASON_FILTER). Without both capabilities the guest does not
 * see x2APIC and the TSC-deadline timer (kvm_cpuid.c).
 */
static int platform_msrs_init(struct vm *vm, struct kvm_vm_data *kv)
{
	if (!kv->caps.val[KCAP_X86_USER_SPACE_MSR] || !kv->caps.val[KCAP_X86_MSR_FILTER])
		return 0;
	struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_USER_SPACE_MSR,
				      .args = { KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_FILTER } };
	if (ioctl(kv->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return vm_error(vm, -errno, "kvm: KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR) failed: %s", strerror(errno));
	/* One MSR per range, its bit clear: denied, for reads and writes. */
	static const uint32_t denied[] = { MSR_IA32_APIC_BASE, MSR_TSC_DEADLINE };
	static uint8_t deny_bitmap[1];
	struct kvm_msr_filter f = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };
	for (unsigned i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		f.ranges[i] = (struct kvm_msr_filter_range){ .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
							     .nmsrs = 1, .base = denied[i], .bitmap = deny_bitmap };
	if (ioctl(kv->vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0)
		return vm_error(vm, -errno, "kvm: KVM_X86_SET_MSR_FILTER failed: %s", strerror(errno));
	kv->platform_msrs = true;
	return 0;
}

static void kick_handler(int sig)
{
	(void)sig;
}

/* Install a handler for the kick signal unless the application has its
 * own: vCPU threads block it outside KVM_RUN (kvm_time.c), but a kick that
 * arrives after a thread let go of it must not end the process. */
static void install_kick_handler(void)
{
	struct sigaction old;
	if (sigaction(KVM_KICK_SIGNAL, NULL, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO)) {
		struct sigaction sa = { .sa_handler = kick_handler, .sa_flags = SA_RESTART };
		sigemptyset(&sa.sa_mask);
		sigaction(KVM_KICK_SIGNAL, &sa, NULL);
	}
}

static int kvm_vm_init(struct vm *vm)
{
	struct kvm_vm_data *kv = calloc(1, sizeof(*kv));
	if (!kv)
		return vm_error(vm, -ENOMEM, "out of memory");
	kv->sys_fd = kv->vm_fd = -1;
	vm->be_data = kv;
	char msg[sizeof(vm->err)];
	kv->sys_fd = kvm_open_device(msg, sizeof(msg));
	if (kv->sys_fd < 0)
		return vm_error(vm, kv->sys_fd, "%s", msg);
	kv->vm_fd = ioctl(kv->sys_fd, KVM_CREATE_VM, 0);
	if (kv->vm_fd < 0)
		return vm_error(vm, -errno, "kvm: KVM_CREATE_VM failed: %s", strerror(errno));
	/* Capabilities can differ per VM: ask the VM when KVM allows it. */
	int *fdp = ioctl(kv->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_CHECK_EXTENSION_VM) > 0 ? &kv->vm_fd : &kv->sys_fd;
	kvm_caps_query(check_ext, fdp, &kv->caps);
	int err = kvm_caps_require(&kv->caps, KVM_NEED_ALWAYS, msg, sizeof(msg));
	if (err)
		return vm_error(vm, err, "%s", msg);
	int sz = ioctl(kv->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return vm_error(vm, -EINVAL, "kvm: KVM_GET_VCPU_MMAP_SIZE returned %d", sz);
	kv->run_size = (size_t)sz;
	err = get_supported_cpuid(vm, kv);
	if (!err)
		err = get_msr_index(vm, kv);
	if (!err)
		err = set_private_pages(vm, kv);
	if (!err)
		err = kvm_mem_sync(vm, 0, &vm->as);
	if (err)
		return err;
	err = platform_msrs_init(vm, kv);
	if (err)
		return err;
	if (vm->cfg.flags & TORTUGA_CFG_NESTED) {
		kv->nested = kvm_nested_probe(vm, msg, sizeof(msg));
		if (kv->nested == KVM_NESTED_NONE)
			return vm_error(vm, -ENOTSUP, "--nested on the kvm backend: %s", msg);
	}
	install_kick_handler();
	kv->tsc0 = __rdtsc();
	return 0;
}

static void kvm_vm_fini(struct vm *vm)
{
	struct kvm_vm_data *kv = kvm_vm_of(vm);
	if (!kv)
		return;
	if (kv->vm_fd >= 0)
		close(kv->vm_fd);
	if (kv->sys_fd >= 0)
		close(kv->sys_fd);
	free(kv->supported);
	free(kv->msr_index);
	free(kv);
	vm->be_data = NULL;
}

static void kvm_vcpu_fini(struct vcpu *v)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	if (!kc)
		return;
	if (kc->run)
		munmap(kc->run, kvm_vm_of(v->vm)->run_size);
	if (kc->fd >= 0)
		close(kc->fd);
	free(kc);
	v->be = NULL;
}

static int kvm_vcpu_init(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_vm_data *kv = kvm_vm_of(vm);
	struct kvm_vcpu_data *kc = calloc(1, sizeof(*kc));
	if (!kc)
		return vm_error(vm, -ENOMEM, "out of memory");
	kc->fd = -1;
	v->be = kc;
	kc->fd = ioctl(kv->vm_fd, KVM_CREATE_VCPU, (unsigned long)v->id);
	if (kc->fd < 0)
		return vm_error(vm, -errno, "kvm: KVM_CREATE_VCPU %u failed: %s", v->id, strerror(errno));
	void *run = mmap(NULL, kv->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, kc->fd, 0);
	if (run == MAP_FAILED)
		return vm_error(vm, -errno, "kvm: cannot map kvm_run of vCPU %u: %s", v->id, strerror(errno));
	kc->run = run;
	uint64_t sync = (uint64_t)kv->caps.val[KCAP_SYNC_REGS] & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS);
	kc->run->kvm_valid_regs = sync;
	int err = 0;
	if (v->id == 0) {
		/* Before CPUID, which reports the rate (leaf 15H). */
		err = kvm_tsc_rate_init(v);
		struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET };
		kv->tsc_offset_attr = kv->caps.val[KCAP_VCPU_ATTRIBUTES] && ioctl(kc->fd, KVM_HAS_DEVICE_ATTR, &a) == 0;
	}
	if (!err)
		err = kvm_cpuid_setup(v);
	if (!err)
		err = kvm_nested_vcpu_setup(v);
	if (!err)
		err = kvm_state_init_msrs(v);
	if (!err)
		err = kvm_state_push(v, KVM_PART_ALL);
	if (!err)
		err = kvm_tsc_offset_pull(v);
	return err;
}

static unsigned parts_of(unsigned what)
{
	if (what == STATE_ALL)
		return KVM_PART_ALL;
	unsigned p = 0;
	if (what & (STATE_GPRS | STATE_FLAGS))
		p |= KVM_PART_REGS;
	if (what & (STATE_SEGS | STATE_CRS | STATE_TLB))
		p |= KVM_PART_SREGS;
	return p;
}

/* Core code changed v->s (a boot protocol, an exit handler): hand it to KVM
 * now. An error stops the VM at the next run. */
static void kvm_state_changed(struct vcpu *v, unsigned what)
{
	if (!v->be)
		return;
	if (kvm_state_push(v, parts_of(what)))
		vm_stop(v->vm, TORTUGA_STOP_ERROR, TORTUGA_STATUS_ERROR);
}

/* KVM stores IN data and advances RIP itself when KVM_RUN next starts
 * (api.rst 5, KVM_EXIT_IO): the data is already in kvm_run. */
static void kvm_complete_io(struct vcpu *v, const struct vm_exit *e)
{
	(void)v;
	(void)e;
}

/* KVM's MMU handles INVLPG; user space caches no translations but the
 * code-page translation of the I/O decoder, keyed by CR3. */
static void kvm_flush_page(struct vcpu *v, uint64_t la)
{
	(void)la;
	if (v->be)
		kvm_vcpu_of(v)->code_valid = false;
}

static int kvm_sync_state(struct vcpu *v)
{
	if (!v->be)
		return 0;
	return kvm_state_pull(v, KVM_PART_ALL);
}

const struct backend_ops kvm_backend_ops = {
	.name = "kvm",
	.vm_init = kvm_vm_init,
	.vm_fini = kvm_vm_fini,
	.vcpu_init = kvm_vcpu_init,
	.vcpu_fini = kvm_vcpu_fini,
	.vcpu_run = kvm_vcpu_run,
	.state_changed = kvm_state_changed,
	.complete_io = kvm_complete_io,
	.flush_page = kvm_flush_page,
	.sync_state = kvm_sync_state,
	.kick = kvm_vcpu_kick,
	.threaded = true,
	.clock = kvm_clock,
	.ticks_to_ns = kvm_ticks_to_ns,
	.thread_init = kvm_thread_init,
	.thread_fini = kvm_thread_fini,
};
