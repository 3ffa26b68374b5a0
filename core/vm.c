/*
 * VM lifecycle and the run loop. A VM owns the platform (RAM, address space,
 * port bus, devices, trace) and its vCPUs; the backend executes them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch.h"
#include "boot.h"
#include "cost_model.h"
#include "devices/lapic.h"
#include "intr.h"
#include "nested_hooks.h"
#include "platform.h"
#include "vm.h"

#include "kvm/kvm.h"
#include "tracing/trace.h"

#define VM_MIN_MEM (2ull << 20)
#define VM_MAX_MEM (256ull << 30)
#define VM_WARN_LINES 20

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int vm_error(struct vm *vm, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vm->err, sizeof(vm->err), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

void vm_guest_warn(struct vm *vm, const char *fmt, ...)
{
	if (vm->warn_budget == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("tortuga: guest: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (--vm->warn_budget == 0)
		fputs("tortuga: guest: further warnings suppressed\n", stderr);
}

void vm_stop(struct vm *vm, uint32_t reason, int32_t status)
{
	if (!vm->stop_reason) {
		vm->stop_reason = reason;
		vm->exit_status = status;
	}
	atomic_store(&vm->stop_requested, 1);
	if (vm->threaded)
		vm_wake_all(vm);
}

static void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	if (v->nested)
		nested_vcpu_fini(v);
	if (v->be && v->vm->be->vcpu_fini)
		v->vm->be->vcpu_fini(v);
	lapic_destroy(v);
	free(v->ctls);
	free(v);
}

static int vcpu_create(struct vm *vm, uint32_t id, struct vcpu **out)
{
	struct vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->id = id;
	v->level = 1;
	v->ctls = malloc(sizeof(*v->ctls));
	if (!v->ctls) {
		free(v);
		return -ENOMEM;
	}
	*v->ctls = vm->l0_ctls;
	v->slice_end = TIMER_NEVER;
	int err = lapic_create(v);
	if (err) {
		vcpu_destroy(v);
		return err;
	}
	boot_reset_vcpu(v);
	err = vm->be->vcpu_init(v);
	if (!err && (vm->cfg.flags & TORTUGA_CFG_NESTED))
		err = nested_vcpu_init(v);
	if (err) {
		vcpu_destroy(v);
		return err;
	}
	*out = v;
	return 0;
}

static int check_config(const struct tortuga_config *cfg, char *msg, size_t len)
{
	if (cfg->size < sizeof(uint32_t) * 2 || cfg->size > sizeof(struct tortuga_config)) {
		snprintf(msg, len, "config size %u is not one this library knows", cfg->size);
		return -EINVAL;
	}
	if (cfg->mem_size < VM_MIN_MEM || cfg->mem_size > VM_MAX_MEM) {
		snprintf(msg, len, "memory size %llu bytes is outside 2 MiB .. 256 GiB",
			 (unsigned long long)cfg->mem_size);
		return -EINVAL;
	}
	if (cfg->vcpus < 1 || cfg->vcpus > VM_MAX_VCPUS) {
		snprintf(msg, len, "%u vCPUs requested: between 1 and %d are supported", cfg->vcpus,
			 VM_MAX_VCPUS);
		return -EINVAL;
	}
	if (cfg->size >= offsetof(struct tortuga_config, clock) + sizeof(cfg->clock) &&
	    cfg->clock > TORTUGA_CLOCK_HOST) {
		snprintf(msg, len, "unknown clock %u (use modelled or host)", cfg->clock);
		return -EINVAL;
	}
	if (cfg->boot != TORTUGA_BOOT_DIRECT && cfg->boot != TORTUGA_BOOT_MULTIBOOT) {
		snprintf(msg, len, "unknown boot protocol %u (use direct or multiboot)", cfg->boot);
		return -EINVAL;
	}
	if ((cfg->flags & TORTUGA_CFG_NO_SHADOW_VMCS) && !(cfg->flags & TORTUGA_CFG_NESTED)) {
		snprintf(msg, len, "disabling VMCS shadowing needs nested VMX (TORTUGA_CFG_NESTED)");
		return -EINVAL;
	}
	if (cfg->backend > TORTUGA_BACKEND_AUTO) {
		snprintf(msg, len, "unknown backend %u", cfg->backend);
		return -EINVAL;
	}
	return 0;
}

/* What the kvm backend cannot do whatever the host; NULL if it can try. */
static const char *kvm_refuses(const struct tortuga_config *cfg)
{
	if (cfg->max_insns)
		return "an instruction limit (--max-insns) needs the emu backend: KVM does not count guest "
		       "instructions";
	return NULL;
}

static int emu_init(struct vm *vm)
{
	vm->be = &emu_backend_ops;
	return vm->be->vm_init(vm);
}

/*
 * Backend selection (README "Backends"). emu and kvm are what they say;
 * auto is kvm when /dev/kvm opens and offers what tortuga needs, else emu,
 * and says why in vm->backend_note (the CLI prints it once).
 */
static int backend_init(struct vm *vm)
{
	const struct tortuga_config *cfg = &vm->cfg;
	char why[sizeof(vm->err)];
	if (cfg->backend == TORTUGA_BACKEND_EMU)
		return emu_init(vm);
	const char *no = kvm_refuses(cfg);
	if (cfg->backend == TORTUGA_BACKEND_KVM) {
		vm->be = &kvm_backend_ops;
		if (no)
			return vm_error(vm, -ENOTSUP, "%s", no);
		return vm->be->vm_init(vm);
	}
	if (no) {
		snprintf(why, sizeof(why), "%s", no);
	} else if (cfg->flags & TORTUGA_CFG_NESTED) {
		/* DESIGN.md: nested VMX is modelled in full only on the emu
		 * backend; the host's nested virtualization is --backend kvm. */
		snprintf(why, sizeof(why), "nested VMX is modelled on the emu backend (--backend kvm uses the "
					   "host's nested virtualization instead)");
	} else if (kvm_probe(why, sizeof(why)) == 0) {
		vm->be = &kvm_backend_ops;
		if (!vm->be->vm_init(vm))
			return 0;
		snprintf(why, sizeof(why), "%s", vm->err);
		vm->be->vm_fini(vm);
		vm->err[0] = 0;
		vm->backend_note[0] = 0;
	}
	vm->be = NULL;
	snprintf(vm->backend_note, sizeof(vm->backend_note), "not using the kvm backend: %.200s; using the emu backend",
		 why);
	int err = emu_init(vm);
	if (err) {
		char emu_why[sizeof(vm->err)];
		snprintf(emu_why, sizeof(emu_why), "%s", vm->err);
		vm_error(vm, err, "%.150s (and the kvm backend: %.90s)", emu_why, why);
	}
	return err;
}

int vm_create(const struct tortuga_config *ucfg, struct vm **out)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	/* Accept configs from older callers: missing fields keep defaults. */
	tortuga_config_init(&vm->cfg);
	memcpy(&vm->cfg, ucfg, ucfg->size <= sizeof(vm->cfg) ? ucfg->size : sizeof(vm->cfg));
	vm->cfg.size = sizeof(vm->cfg);
	vm->warn_budget = VM_WARN_LINES;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->wake, &ca);
	pthread_condattr_destroy(&ca);
	*out = vm;

	int err = check_config(ucfg, vm->err, sizeof(vm->err));
	if (err)
		return err;

	err = ram_init(&vm->ram, vm->cfg.mem_size);
	if (err)
		return vm_error(vm, err, "cannot allocate %llu bytes of guest RAM",
				(unsigned long long)vm->cfg.mem_size);
	aspace_init(&vm->as, &vm->ram);
	iobus_init(&vm->io);
	vm->trace = trace_create(vm->cfg.trace_ring_events,
				 (vm->cfg.flags & TORTUGA_CFG_TRACE_OVERWRITE) != 0);
	vm->io_bitmap = calloc(1, 8192);
	vm->msr_bitmap = calloc(1, 4096);
	if (!vm->trace || !vm->io_bitmap || !vm->msr_bitmap)
		return vm_error(vm, -ENOMEM, "out of memory");
	char model[sizeof(vm->cfg.cpu_model) + 1];
	memcpy(model, vm->cfg.cpu_model, sizeof(vm->cfg.cpu_model));
	model[sizeof(vm->cfg.cpu_model)] = 0;
	err = cpu_model_init(&vm->model, model);
	if (err == -ENOENT)
		return vm_error(vm, err, "unknown CPU model '%s' (known: tortuga, nehalem)", model);
	if (err)
		return vm_error(vm, err,
				"CPU model '%s': features are +NAME or -NAME from hw/cpuid_features.def, and only "
				"implemented ones can be added",
				model);
	/* Nested VMX: the guest sees VT-x (CPUID.1:ECX.VMX, SDM 24.6). */
	if (vm->cfg.flags & TORTUGA_CFG_NESTED)
		cpu_model_set(&vm->model, CPUF_VMX, true);
	vmx_policy_default_l0(&vm->l0_ctls, vm->io_bitmap, vm->msr_bitmap);
	cost_model_default(vm->exit_cost);

	err = platform_init(vm);
	if (err)
		return err;
	err = backend_init(vm);
	if (err)
		return vm->err[0] ? err :
				    vm_error(vm, err, "%s backend: cannot create the VM", vm->be ? vm->be->name : "no");
	vm->nvcpus = vm->cfg.vcpus;
	for (uint32_t i = 0; i < vm->nvcpus; i++) {
		err = vcpu_create(vm, i, &vm->vcpus[i]);
		if (err)
			return vm->err[0] ? err : vm_error(vm, err, "cannot create vCPU %u", i);
		vm->vcpus[i]->insn_limit = vm->cfg.max_insns;
	}
	platform_firmware_state(vm);
	vm->host_t0 = now_ns();
	return 0;
}

int vm_add_module(struct vm *vm, const void *data, size_t len, const char *string)
{
	if (vm->image.loaded)
		return vm_error(vm, -EBUSY, "modules must be added before the guest is loaded");
	if (vm->cfg.boot != TORTUGA_BOOT_MULTIBOOT)
		return vm_error(vm, -EINVAL, "modules need the multiboot boot protocol");
	if (vm->nmodules == VM_MAX_MODULES)
		return vm_error(vm, -E2BIG, "more than %d modules", VM_MAX_MODULES);
	if (len > 0xffffffffull)
		return vm_error(vm, -EFBIG, "module '%s' is larger than 4 GiB", string);
	struct vm_module *m = &vm->modules[vm->nmodules];
	m->data = malloc(len ? len : 1);
	m->string = strdup(string ? string : "");
	if (!m->data || !m->string) {
		free(m->data);
		free(m->string);
		return vm_error(vm, -ENOMEM, "out of memory for module '%s'", string);
	}
	memcpy(m->data, data, len);
	m->len = len;
	vm->nmodules++;
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	for (uint32_t i = 0; i < vm->nmodules; i++) {
		free(vm->modules[i].data);
		free(vm->modules[i].string);
	}
	for (uint32_t i = 0; i < VM_MAX_VCPUS; i++)
		vcpu_destroy(vm->vcpus[i]);
	if (vm->be && vm->be->vm_fini)
		vm->be->vm_fini(vm);
	platform_fini(vm);
	trace_destroy(vm->trace);
	iobus_fini(&vm->io);
	aspace_fini(&vm->as);
	ram_fini(&vm->ram);
	free(vm->io_bitmap);
	free(vm->msr_bitmap);
	pthread_cond_destroy(&vm->wake);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

static bool stop_is_final(uint32_t reason)
{
	return reason == TORTUGA_STOP_DEBUG_EXIT || reason == TORTUGA_STOP_TRIPLE_FAULT ||
	       reason == TORTUGA_STOP_ERROR || reason == TORTUGA_STOP_HALTED;
}

/*
 * Let an idle (halted or waiting) vCPU's time pass up to `until`, firing the
 * timers due on the way (its local APIC timer, the platform's). Returns
 * true if that woke it; its time is then when it woke.
 */
static bool idle_until(struct vm *vm, struct vcpu *v, uint64_t until)
{
	for (;;) {
		uint64_t d = vm_next_deadline(vm, v);
		if (d > until)
			d = until;
		if (vm->cfg.clock == TORTUGA_CLOCK_HOST) {
			uint64_t now = vcpu_now(v);
			if (d > now) {
				uint64_t ns = vm_ticks_to_ns(vm, d - now);
				struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
				nanosleep(&ts, NULL);
			}
		} else if (d > v->cycles) {
			v->cycles = d; /* halted time passes */
		}
		vm->cur = v;
		vm_timers_run(vm, v, vcpu_now(v));
		vm->cur = NULL;
		if (vcpu_wake(v))
			return true;
		if (d >= until || vm_should_stop(vm))
			return false;
	}
}

/* Run v until `end` (its time) or until it cannot run. */
static int run_vcpu(struct vm *vm, struct vcpu *v, uint64_t end, bool *ran)
{
	while (!vm_should_stop(vm)) {
		if (!vcpu_wake(v) && (end == TIMER_NEVER || !idle_until(vm, v, end)))
			return 0;
		*ran = true;
		v->slice_end = end;
		vm->cur = v;
		vcpu_inject_pending(v);
		vcpu_update_poll(v);
		int err = vm->be->vcpu_run(v);
		vm->cur = NULL;
		if (err)
			return err;
		if (v->cycles >= end)
			return 0;
	}
	return 0;
}

int vm_run(struct vm *vm)
{
	if (!vm->image.loaded)
		return vm_error(vm, -ENOEXEC, "no guest loaded: load an ELF image before running");
	if (stop_is_final(vm->stop_reason))
		return 0;
	vm->stop_reason = TORTUGA_STOP_NONE;
	vm->exit_status = 0;
	atomic_store(&vm->stop_requested, 0);

	uint64_t t0 = now_ns();
	int err = 0;
	if (vm->be->threaded) {
		err = vm_run_threaded(vm);
		goto done;
	}
	/*
	 * Deterministic scheduling: the vCPUs run one after another in rounds;
	 * with several vCPUs each round is VM_TIME_SLICE modelled cycles of
	 * every vCPU's time. When every vCPU is idle, time jumps to the next
	 * timer deadline; with no deadline the VM can never wake and stops.
	 */
	uint64_t slice = vm->nvcpus > 1 ? VM_TIME_SLICE : 0;
	while (!vm_should_stop(vm) && !err) {
		uint64_t end = TIMER_NEVER;
		if (slice) {
			uint64_t lo = TIMER_NEVER;
			for (uint32_t i = 0; i < vm->nvcpus; i++)
				if (vm->vcpus[i]->cycles < lo)
					lo = vm->vcpus[i]->cycles;
			end = lo + slice;
		}
		bool ran = false;
		for (uint32_t i = 0; i < vm->nvcpus && !vm_should_stop(vm) && !err; i++) {
			err = run_vcpu(vm, vm->vcpus[i], end, &ran);
			if (err && !vm->err[0])
				vm_error(vm, err, "vCPU %u: %s backend failed", i, vm->be->name);
		}
		if (err) {
			vm_stop(vm, TORTUGA_STOP_ERROR, TORTUGA_STATUS_ERROR);
			break;
		}
		if (ran || vm_should_stop(vm))
			continue;
		/* Every vCPU is idle: time jumps to the next timer deadline. */
		uint64_t d = vm_next_wakeup(vm);
		if (d == TIMER_NEVER) {
			vm_stop(vm, TORTUGA_STOP_HALTED, TORTUGA_STATUS_HALTED);
			break;
		}
		for (uint32_t i = 0; i < vm->nvcpus && !vm_should_stop(vm); i++)
			idle_until(vm, vm->vcpus[i], d);
	}
done:
	vm->wall_ns += now_ns() - t0;
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		vcpu_account_level(vm->vcpus[i]);
	if (!vm->stop_reason)
		vm_stop(vm, TORTUGA_STOP_REQUESTED, TORTUGA_STATUS_STOPPED);
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		if (vm->be->sync_state)
			vm->be->sync_state(vm->vcpus[i]);
	vcpu_trace(vm->vcpus[0], TORTUGA_EV_STOP, (uint16_t)vm->stop_reason,
		   (uint64_t)(int64_t)vm->exit_status, 0, 0);
	int ferr = trace_flush(vm->trace);
	if (ferr && !err)
		err = vm_error(vm, ferr, "cannot write the trace file");
	return err;
}

/* ---- vCPU helpers ---- */

void vcpu_skip_insn(struct vcpu *v, const struct vm_exit *e)
{
	v->s.rip += e->insn_len;
	if (!x86_64bit_mode(&v->s))
		v->s.rip &= 0xffffffffull;
	/* Retiring an instruction ends STI/MOV SS blocking (SDM 26.1.2 note). */
	v->s.interruptibility &= ~(INTR_BLOCK_STI | INTR_BLOCK_MOV_SS);
}

void vcpu_state_changed(struct vcpu *v, unsigned what)
{
	if (v->vm->be->state_changed)
		v->vm->be->state_changed(v, what);
}

void vcpu_account_level(struct vcpu *v)
{
	v->lstats[v->level].insns += v->stats.insns - v->level_insns_mark;
	v->level_insns_mark = v->stats.insns;
}

void vcpu_set_level(struct vcpu *v, uint8_t level)
{
	vcpu_account_level(v);
	v->level = level;
}

int vcpu_access_linear(struct vcpu *v, uint64_t la, void *buf, unsigned len, bool write,
		       uint32_t *error)
{
	*error = 0;
	if (!v->vm->be->access_linear)
		return ARCH_FAULT(X86_UD);
	return v->vm->be->access_linear(v, la, buf, len, write, error);
}

void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error)
{
	v->inject = (struct vcpu_event){
		.valid = true,
		.vector = vector,
		.type = INTR_TYPE_HW_EXCEPTION >> 8,
		.has_error = has_error,
		.error = error,
	};
}

uint64_t vcpu_trace(struct vcpu *v, uint8_t kind, uint16_t reason, uint64_t qual, uint64_t aux,
		    uint64_t parent)
{
	struct tortuga_event ev = {
		.cycles = v->vm->be->cycles_now ? v->vm->be->cycles_now(v) : v->cycles,
		.qual = qual,
		.rip = v->s.rip,
		.aux = aux,
		.parent = parent ? parent : v->cur_exit_seq ? v->cur_exit_seq : v->nested_parent,
		.reason = reason,
		.vcpu = (uint16_t)v->id,
		.kind = kind,
		.level = v->level,
		.handler = 0,
	};
	return trace_emit(v->vm->trace, &ev);
}
