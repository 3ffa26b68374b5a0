/*
 * The kvm backend's run loop: KVM_RUN (api.rst 4.10), then each exit that
 * reaches user space goes through kvm_exit_decode() into the shared exit
 * dispatch (vcpu_handle_exit()), exactly as an emu exit does.
 *
 * State: with KVM_CAP_SYNC_REGS, KVM copies the registers, segment state and
 * events into kvm_run at every exit (api.rst 5, "kvm_valid_regs"), so v->s's
 * registers and sregs are current after every exit without an ioctl; the
 * rest (MSRs, FPU, debug registers, XCR0) is read by sync_state on demand.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <x86intrin.h>

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

/* Handle one exit; 0 to continue, or a negative errno with vm->err set. */
static int handle_exit(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_vm_data *kv = kvm_vm_of(vm);
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	struct kvm_run *run = kc->run;
	struct kvm_regs at_exit;
	int err = pull_exit_state(v, &at_exit);
	if (err)
		return err;
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
	 * retires it, so step back over it if KVM already did. I/O and MMIO: KVM
	 * finishes the instruction itself; RIP goes back to what KVM has. */
	if (run->exit_reason == KVM_EXIT_HLT && hlt_retired(v, as))
		v->s.rip -= e.insn_len;
	v->s.rip = run->exit_reason == KVM_EXIT_IO ? insn_rip : v->s.rip;
	kc->io_pending = run->exit_reason == KVM_EXIT_IO || run->exit_reason == KVM_EXIT_MMIO;
	err = vcpu_handle_exit(v, &e);
	if (kc->io_pending)
		v->s.rip = at_exit.rip;
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
	if (memcmp(&now, &at_exit, sizeof(now)))
		return kvm_state_push(v, KVM_PART_REGS);
	return 0;
}

static void set_in_run(struct kvm_vcpu_data *kc, int on)
{
	__atomic_store_n(&kc->in_run, on, __ATOMIC_SEQ_CST);
}

int kvm_vcpu_run(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_vm_data *kv = kvm_vm_of(vm);
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	struct kvm_run *run = kc->run;
	int err = 0;

	if (v->insn_limit)
		return vm_error(vm, -ENOTSUP, "an instruction limit needs the emu backend: KVM does not count guest "
				"instructions");
	/* A kick from an earlier run is spent; a stop requested since is seen
	 * by the loop condition below (the kick sets the flag first). */
	__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	kc->thread = pthread_self();
	while (!vm_should_stop(vm) && v->s.activity == ACT_ACTIVE) {
		if (v->inject.valid && (err = kvm_state_push(v, KVM_PART_EVENTS)))
			break;
		/* Interrupt-window exiting, as core/intr.c asked for it. */
		run->request_interrupt_window = (v->ctls->proc & VMX_PROC_INTR_WINDOW_EXITING) != 0;
		set_in_run(kc, 1);
		int r = ioctl(kc->fd, KVM_RUN, 0);
		set_in_run(kc, 0);
		v->cycles = __rdtsc() - kv->tsc0;
		kc->io_pending = false; /* KVM_RUN completes a pending I/O first */
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			err = vm_error(vm, -errno, "kvm: KVM_RUN failed on vCPU %u: %s", v->id, strerror(errno));
			break;
		}
		err = handle_exit(v);
		if (err)
			break;
	}
	/* Let KVM finish the last I/O instruction (store IN data, advance RIP)
	 * without running further: api.rst 5, "immediate_exit". */
	if (kc->io_pending && !err) {
		__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (ioctl(kc->fd, KVM_RUN, 0) == 0 || errno == EINTR)
			kc->io_pending = false;
	}
	return err;
}

void kvm_vcpu_kick(struct vcpu *v)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	if (!kc || !kc->run)
		return;
	/* Async-signal-safe. Dekker-style with kvm_vcpu_run(): either the vCPU
	 * thread sees immediate_exit when KVM_RUN starts, or we see in_run and
	 * interrupt the ioctl with a signal. */
	__atomic_store_n(&kc->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&kc->in_run, __ATOMIC_SEQ_CST) && !pthread_equal(pthread_self(), kc->thread))
		pthread_kill(kc->thread, KVM_KICK_SIGNAL);
}
