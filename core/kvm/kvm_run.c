/*
 * The kvm backend's run loop: KVM_RUN (api.rst 4.10), then each exit that
 * reaches user space goes through kvm_exit_decode() into the shared exit
 * dispatch (vcpu_handle_exit()), exactly as an emu exit does.
 *
 * State: with KVM_CAP_SYNC_REGS, KVM copies the registers, segment state and
 * events into kvm_run at every exit (api.rst 5, "kvm_valid_regs"), so v->s's
 * registers and sregs are current after every exit without an ioctl; the
 * rest (MSRs, FPU, debug registers, XCR0) is read by sync_state on demand.
 *
 * Each vCPU runs on a host thread of its own (core/vm_threads.c) and holds
 * the VM lock except inside KVM_RUN. KVM_RUN ends with -EINTR when the
 * thread is kicked (kvm_time.c): an event another vCPU made pending for
 * this one, a stop, or the host timer at the vCPU's next timer deadline.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/devices/lapic.h"
#include "core/intr.h"
#include "kvm.h"
#include "kvm_smm.h"

/* What KVM_CAP_SYNC_REGS copies at each exit when asked. */
static unsigned sync_parts(const struct kvm_vm_data *kv)
{
	unsigned p = 0;
	uint64_t m = (uint64_t)kv->caps.val[KCAP_SYNC_REGS];
	if (m & KVM_SYNC_X86_REGS)
		p |= KVM_PART_REGS;
	if (m & KVM_SYNC_X86_SREGS)
		p |= KVM_PART_SREGS;
	return p;
}

/* Registers and segment state at the exit: from kvm_run when KVM copied
 * them there, else through KVM_GET_REGS/SREGS. */
static int pull_exit_state(struct vcpu *v, struct kvm_regs *kr)
{
	struct kvm_vm_data *kv = kvm_vm_of(v->vm);
	struct kvm_run *run = kvm_vcpu_of(v)->run;
	unsigned synced = sync_parts(kv);
	int err = kvm_state_pull(v, (KVM_PART_REGS | KVM_PART_SREGS) & ~synced);
	if (err)
		return err;
	if (synced & KVM_PART_REGS)
		kvm_regs_to_x86(&v->s, &run->s.regs.regs);
	if (synced & KVM_PART_SREGS)
		kvm_sregs_to_x86(&v->s, &run->s.regs.sregs);
	kvm_regs_from_x86(kr, &v->s);
	return 0;
}

/* The code segment's default operand size, for decoding at RIP. */
static unsigned code_bits(const struct x86_state *s)
{
	if (x86_64bit_mode(s))
		return 64;
	if ((s->cr0 & CR0_PE) && !(s->rflags & RFLAGS_VM) && (s->seg[SEG_CS].ar & SEG_AR_DB))
		return 32;
	return 16;
}

static bool translate(struct vcpu *v, uint64_t la, uint64_t *gpa)
{
	struct kvm_translation t = { .linear_address = la };
	if (ioctl(kvm_vcpu_of(v)->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
		return false;
	*gpa = t.physical_address;
	return true;
}

/*
 * Copy guest code at linear address la (KVM_TRANSLATE, api.rst 4.38). The
 * translation of the last page is remembered while CR3 stays the same (a loop
 * doing port I/O exits at the same place); the bytes are read every time.
 * Returns how many bytes could be read.
 */
static size_t read_code(struct vcpu *v, const struct aspace *as, uint64_t la, uint8_t *buf, size_t n)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	size_t got = 0;
	while (got < n) {
		uint64_t a = la + got, page = a & PAGE_MASK;
		if (!kc->code_valid || kc->code_la != page || kc->code_cr3 != v->s.cr3) {
			kc->code_valid = translate(v, page, &kc->code_gpa);
			kc->code_la = page;
			kc->code_cr3 = v->s.cr3;
			if (!kc->code_valid)
				break;
		}
		size_t chunk = PAGE_SIZE - (a & (PAGE_SIZE - 1));
		if (chunk > n - got)
			chunk = n - got;
		if (aspace_read(as, kc->code_gpa + (a & (PAGE_SIZE - 1)), buf + got, chunk))
			break;
		got += chunk;
	}
	return got;
}

#define INSN_MAX 15 /* SDM Vol. 2A 2.3.11: instructions are at most 15 bytes */

/*
 * Where the instruction behind an exit starts. KVM reports RIP at the
 * instruction (its fast PIO path, arch/x86/kvm/x86.c kvm_fast_pio()) or
 * after it (when its instruction emulator completed an OUT before exiting,
 * as PVM-style KVMs do); which one depends on the host's KVM. The record
 * names the instruction's own RIP, as on the emu backend: the bytes at RIP
 * are tried first, then an instruction of 1..15 bytes ending at RIP.
 */
static uint64_t locate_io(struct vcpu *v, const struct aspace *as, struct kvm_io_insn *io)
{
	const struct kvm_run *run = kvm_vcpu_of(v)->run;
	const struct x86_state *s = &v->s;
	unsigned bits = code_bits(s);
	uint64_t la = (bits == 64 ? 0 : s->seg[SEG_CS].base) + s->rip;
	uint8_t buf[2 * INSN_MAX];
	size_t after = read_code(v, as, la, buf + INSN_MAX, INSN_MAX);
	kvm_io_insn_decode(buf + INSN_MAX, after, bits, io);
	if (kvm_io_insn_matches(io, run))
		return s->rip;
	if (la >= INSN_MAX && read_code(v, as, la - INSN_MAX, buf, INSN_MAX) == INSN_MAX) {
		for (unsigned k = 1; k <= INSN_MAX; k++) {
			struct kvm_io_insn c;
			kvm_io_insn_decode(buf + INSN_MAX - k, k, bits, &c);
			if (c.len == k && kvm_io_insn_matches(&c, run)) {
				*io = c;
				return s->rip - k;
			}
		}
	}
	memset(io, 0, sizeof(*io));
	return s->rip;
}

/* KVM retires HLT before KVM_EXIT_HLT (kvm_emulate_halt()); a KVM that
 * does not leaves RIP at the F4 byte (SDM Vol. 2A HLT). */
static bool hlt_retired(struct vcpu *v, const struct aspace *as)
{
	const struct x86_state *s = &v->s;
	uint64_t la = (code_bits(s) == 64 ? 0 : s->seg[SEG_CS].base) + s->rip;
	uint8_t b[2] = { 0, 0 };
	if (la == 0 || read_code(v, as, la - 1, b, 2) < 1)
		return true;
	return !(b[0] != 0xf4 && b[1] == 0xf4);
}

/*
 * An RDMSR/WRMSR that KVM handed to user space. KVM completes the instruction
 * at the next KVM_RUN from kvm_run.msr (api.rst 5, KVM_EXIT_X86_RDMSR): the
 * value read, or error = 1 for #GP(0). MSRs of tortuga's platform (the local
 * APIC's) are answered by its exit handlers as on the emu backend; any other
 * MSR reaches user space only because KVM refuses it (#GP,
 * KVM_MSR_EXIT_REASON_INVAL): KVM's verdict stands, and the handler's answer
 * and side effects are undone.
 */
static int handle_msr(struct vcpu *v, struct vm_exit *e)
{
	struct kvm_run *run = kvm_vcpu_of(v)->run;
	bool platform = kvm_msr_is_platform(e->msr.index);
	uint64_t apic_base = v->s.apic_base;
	int err = 0;
	if (!platform) {
		struct x86_state saved = v->s;
		err = vcpu_handle_exit(v, e);
		v->s = saved;
		run->msr.error = 1;
	} else {
		/* IA32_TSC_DEADLINE compares with the guest's TSC, which KVM
		 * offsets (and the guest may have written). */
		err = kvm_tsc_offset_pull(v);
		if (!err)
			err = vcpu_handle_exit(v, e);
		run->msr.error = 0;
		run->msr.data = e->msr.value;
	}
	if (v->inject.valid && ((uint32_t)v->inject.type << 8) == INTR_TYPE_HW_EXCEPTION) {
		run->msr.error = 1; /* the handler's #GP */
		v->inject.valid = false;
	}
	if (!err && v->s.apic_base != apic_base)
		err = kvm_state_push_apic_base(v);
	return err;
}

/* Handle one exit (v->s is the state at the exit, at_exit its registers);
 * 0 to continue, or a negative errno with vm->err set. */
static int handle_exit(struct vcpu *v, const struct kvm_regs *at_exit)
{
	struct vm *vm = v->vm;
	struct kvm_vm_data *kv = kvm_vm_of(vm);
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	struct kvm_run *run = kc->run;
	int err;
	bool smm = (run->flags & KVM_RUN_X86_SMM) != 0;
	if (smm)
		kc->smm_exits++;
	const struct aspace *as = kvm_smm_view_for(vm, smm);

	struct kvm_io_insn io;
	uint64_t insn_rip = v->s.rip;
	if (run->exit_reason == KVM_EXIT_IO)
		insn_rip = locate_io(v, as, &io);
	struct vm_exit e;
	uint64_t mmio_val;
	char msg[sizeof(vm->err)];
	enum kvm_exit_action act = kvm_exit_decode(run, kv->run_size, as, run->exit_reason == KVM_EXIT_IO ? &io : NULL,
						   &e, &mmio_val, msg, sizeof(msg));
	if (act == KVM_ACT_RESUME)
		return 0;
	if (act == KVM_ACT_FAIL)
		return vm_error(vm, -EIO, "%s", msg);

	/* The record carries the exiting instruction's RIP. HLT: the handler
	 * retires it, so step back over it if KVM already did. I/O, MMIO and
	 * MSRs: KVM finishes the instruction itself at the next KVM_RUN; the
	 * registers go back to what KVM has. */
	if (run->exit_reason == KVM_EXIT_HLT && hlt_retired(v, as))
		v->s.rip -= e.insn_len;
	v->s.rip = run->exit_reason == KVM_EXIT_IO ? insn_rip : v->s.rip;
	bool msr = run->exit_reason == KVM_EXIT_X86_RDMSR || run->exit_reason == KVM_EXIT_X86_WRMSR;
	kc->io_pending = run->exit_reason == KVM_EXIT_IO || run->exit_reason == KVM_EXIT_MMIO || msr;
	/* The local APIC page is a device of the vCPU, not a region of the
	 * address space: as on emu, its accesses are EPT misconfigurations
	 * (SDM Vol. 3C 29.3.3.1), and its timer may compare with the TSC. */
	bool lapic = e.reason == TORTUGA_EXIT_EPT_VIOLATION && lapic_mmio_claims(v->lapic, e.mmio.gpa);
	if (lapic) {
		e.reason = TORTUGA_EXIT_EPT_MISCONFIG;
		e.qual = 0;
		err = kvm_tsc_offset_pull(v);
		if (err)
			return err;
	}
	err = msr ? handle_msr(v, &e) : vcpu_handle_exit(v, &e);
	if (kc->io_pending)
		kvm_regs_to_x86(&v->s, at_exit);
	if (run->exit_reason == KVM_EXIT_MMIO && !e.mmio.write)
		memcpy(run->mmio.data, &mmio_val, e.mmio.size);
	if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		return vm_error(vm, -EIO, "%s", msg); /* more precise than "unexpected exit" */
	if (err)
		return err;
	/* A handler that changed registers (beyond what KVM completes itself:
	 * RIP and RAX of an I/O or MMIO instruction) hands them back. */
	struct kvm_regs now;
	kvm_regs_from_x86(&now, &v->s);
	if (memcmp(&now, at_exit, sizeof(now)))
		return kvm_state_push(v, KVM_PART_REGS);
	return 0;
}

/*
 * Run the vCPU until it stops, halts, or an INIT or the VM's stop needs its
 * thread. Called with the VM lock held (core/vm_threads.c); the lock is let
 * go only around KVM_RUN.
 */
int kvm_vcpu_run(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	struct kvm_run *run = kc->run;
	int err = 0;

	if (v->insn_limit)
		return vm_error(vm, -ENOTSUP, "an instruction limit needs the emu backend: KVM does not count guest "
				"instructions");
	while (!err && !vm_should_stop(vm) && v->s.activity == ACT_ACTIVE && !v->init_pending) {
		/* A timer due now: the host timer would have interrupted the
		 * guest (an EXTERNAL_INTERRUPT exit, core/timer.c). */
		if (v->poll_at <= vcpu_now(v)) {
			vcpu_poll(v);
			continue;
		}
		err = kvm_events_before_entry(v);
		if (err)
			break;
		kvm_timer_arm(v, v->poll_at);
		vcpu_release(v);
		int r = ioctl(kc->fd, KVM_RUN, 0);
		int e = errno;
		vcpu_acquire(v);
		v->cycles = kvm_clock(vm);
		kc->io_pending = false; /* KVM_RUN completes a pending I/O first */
		if (r < 0 && e != EINTR && e != EAGAIN) {
			err = vm_error(vm, -e, "kvm: KVM_RUN failed on vCPU %u: %s", v->id, strerror(e));
			break;
		}
		struct kvm_regs at_exit;
		err = pull_exit_state(v, &at_exit);
		if (err)
			break;
		kvm_events_after_exit(v);
		if (r < 0) {
			/* A kick: an event another vCPU made pending for this one
			 * (look at what to inject), a stop, or the host timer (the
			 * loop's top fires it). */
			kvm_kick_drain(v);
			vcpu_inject_pending(v);
			vcpu_update_poll(v);
			continue;
		}
		kvm_guest_progressed(v);
		err = handle_exit(v, &at_exit);
	}
	/* Let KVM finish the last I/O instruction (store IN data, advance RIP)
	 * without running further: api.rst 5, "immediate_exit". */
	if (kc->io_pending && !err) {
		run->immediate_exit = 1;
		if (ioctl(kc->fd, KVM_RUN, 0) == 0 || errno == EINTR)
			kc->io_pending = false;
		run->immediate_exit = 0;
		kvm_kick_drain(v);
	}
	return err;
}
