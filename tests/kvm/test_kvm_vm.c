/*
 * The kvm backend on a real /dev/kvm, one case per invocation (run by
 * kvm_tests.sh, which turns the exit status into TAP):
 *
 *   test_kvm_vm CASE GUESTS_DIR [--trace-bpf FILE]
 *                                   exit 0 pass, 77 skip (reason on stdout),
 *                                   1 fail (reasons on stderr)
 *
 * --trace-bpf FILE records KVM's tracepoints for this process through
 * tortuga's eBPF program while the case runs, as `tortuga run --trace-bpf`
 * does (the public API, tortuga_bpf_start()); kvm_tests.sh checks the file.
 * When eBPF cannot record here the case is skipped with the reason.
 * Cases:
 *   state       struct x86_state through KVM and back (SET then GET)
 *   entry-fail  a guest state the CPU refuses: KVM_EXIT_FAIL_ENTRY, an exit
 *               record, a clear error and a state dump, no hang
 *   smm         SMRAM in memslot address space 1, KVM_SMI, an SMI handler
 *               that does port I/O in SMM and returns with RSM
 *   kick        a stop requested from another thread ends KVM_RUN
 *   tpr         a MOV to CR8 that lowers the TPR: KVM_EXIT_SET_TPR, recorded
 *               as "TPR below threshold" after the MOV; CR8 reads back
 *   init        an INIT drops the interrupt and the exception KVM still
 *               holds for injection
 *   permission  a KVM device the user may not open: a clear message (needs
 *               no KVM; as root, checked in a child that drops to nobody)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tortuga/tortuga.h>
#include <tortuga/trace.h>

#include "core/boot.h"
#include "core/kvm/kvm.h"
#include "core/kvm/kvm_smm.h"

#include "../unit/check.h"

#define SKIP 77

static const char *guests;
static char skip_reason[400];

static tortuga_vm *new_vm(const char *guest, const char *cmdline)
{
	struct tortuga_config cfg;
	tortuga_config_init(&cfg);
	cfg.backend = TORTUGA_BACKEND_KVM;
	cfg.mem_size = 64ull << 20;
	tortuga_vm *vm = NULL;
	if (tortuga_vm_create(&cfg, &vm)) {
		snprintf(skip_reason, sizeof(skip_reason), "%s", tortuga_last_error());
		return NULL;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.elf", guests, guest);
	if (tortuga_vm_load_elf(vm, path, cmdline)) {
		fprintf(stderr, "load %s: %s\n", path, tortuga_vm_error(vm));
		check_failures++;
		tortuga_vm_destroy(vm);
		return NULL;
	}
	return vm;
}

static struct vcpu *vcpu0(tortuga_vm *vm)
{
	return ((struct vm *)vm)->vcpus[0];
}

static bool seg_eq(const struct x86_segment *a, const struct x86_segment *b)
{
	return a->sel == b->sel && a->base == b->base && a->limit == b->limit && a->ar == b->ar;
}

/* The fields the kvm backend transfers, compared one by one. */
static void check_state_eq(const struct x86_state *got, const struct x86_state *want)
{
	for (int i = 0; i < GPR_COUNT; i++)
		CHECK_EQ(got->gpr[i], want->gpr[i]);
	CHECK_EQ(got->rip, want->rip);
	CHECK_EQ(got->rflags, want->rflags);
	for (int i = 0; i < SEG_COUNT; i++)
		CHECK(seg_eq(&got->seg[i], &want->seg[i]));
	CHECK(seg_eq(&got->tr, &want->tr));
	CHECK_EQ(got->gdtr.base, want->gdtr.base);
	CHECK_EQ(got->gdtr.limit, want->gdtr.limit);
	CHECK_EQ(got->idtr.base, want->idtr.base);
	CHECK_EQ(got->idtr.limit, want->idtr.limit);
	CHECK_EQ(got->cr0, want->cr0);
	CHECK_EQ(got->cr2, want->cr2);
	CHECK_EQ(got->cr3, want->cr3);
	CHECK_EQ(got->cr4, want->cr4);
	CHECK_EQ(got->efer, want->efer);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(got->dr[i], want->dr[i]);
	CHECK_EQ(got->dr7, want->dr7);
	CHECK_EQ(got->star, want->star);
	CHECK_EQ(got->lstar, want->lstar);
	CHECK_EQ(got->cstar, want->cstar);
	CHECK_EQ(got->fmask, want->fmask);
	CHECK_EQ(got->kernel_gs_base, want->kernel_gs_base);
	CHECK_EQ(got->sysenter_cs, want->sysenter_cs);
	CHECK_EQ(got->sysenter_esp, want->sysenter_esp);
	CHECK_EQ(got->sysenter_eip, want->sysenter_eip);
	CHECK_EQ(got->pat, want->pat);
	CHECK_EQ(got->xcr0, want->xcr0);
	/* An interrupt shadow survives; which kind only on VMX: SVM keeps one
	 * INTERRUPT_SHADOW bit (AMD APM Vol. 2 15.21.5) and KVM reports it as
	 * both STI and MOV SS blocking. */
	CHECK_EQ((got->interruptibility & 3) != 0, (want->interruptibility & 3) != 0);
	/* x87 control/status, MXCSR, ST0-7, XMM0-15 of the FXSAVE image. */
	CHECK(!memcmp(got->fxsave, want->fxsave, 4));
	CHECK(!memcmp(got->fxsave + 24, want->fxsave + 24, 4));
	CHECK(!memcmp(got->fxsave + 32, want->fxsave + 32, 512 - 32 - 96));
}

static int case_state(void)
{
	tortuga_vm *vm = new_vm("hello", "");
	if (!vm)
		return check_failures ? 1 : SKIP;
	struct vcpu *v = vcpu0(vm);
	struct vm *m = (struct vm *)vm;
	/* 1: what the direct boot protocol set, read back from KVM. */
	struct x86_state want = v->s;
	memset(&v->s, 0xa5, offsetof(struct x86_state, fxsave));
	CHECK_EQ(m->be->sync_state(v), 0);
	check_state_eq(&v->s, &want);
	/* 2: every transferred field changed, pushed, wiped, read back. */
	for (int i = 0; i < GPR_COUNT; i++)
		v->s.gpr[i] = 0x0123456789abcdefull ^ ((uint64_t)i << 56);
	v->s.rip = 0x100123;
	v->s.rflags = 0x2 | RFLAGS_CF | RFLAGS_ZF | RFLAGS_DF;
	v->s.seg[SEG_FS].base = 0x7fff00001000ull;
	v->s.seg[SEG_GS].base = 0xffff800000002000ull;
	v->s.gdtr.limit = 0x2f;
	v->s.idtr.base = 0x5000;
	v->s.idtr.limit = 0xfff;
	v->s.cr2 = 0xdead000;
	v->s.star = 0x0023001000000000ull;
	v->s.lstar = 0xffffffff81000000ull;
	v->s.cstar = 0xffffffff81000100ull;
	v->s.fmask = 0x47700;
	v->s.kernel_gs_base = 0xffff888000000000ull;
	v->s.sysenter_cs = 0x10;
	v->s.sysenter_esp = 0x9000;
	v->s.sysenter_eip = 0x100200;
	v->s.pat = 0x0007010600070106ull; /* valid memory types only (SDM Vol. 3A 13.12.2) */
	for (int i = 0; i < 4; i++)
		v->s.dr[i] = 0x1000 * (uint64_t)(i + 1);
	v->s.dr7 = 0x400 | 0x3; /* L0, G0 */
	v->s.interruptibility = INTR_BLOCK_STI;
	v->s.fxsave[0] = 0x7f; /* FCW 0x037f */
	v->s.fxsave[1] = 0x03;
	for (int i = 32; i < 32 + 8 * 16; i += 16)
		memset(v->s.fxsave + i, 0x40 + i / 16, 10); /* ST0-7: 80-bit values */
	for (int i = 160; i < 160 + 16 * 16; i++)
		v->s.fxsave[i] = (uint8_t)(i * 7);
	want = v->s;
	m->be->state_changed(v, STATE_ALL);
	CHECK_EQ(m->stop_reason, TORTUGA_STOP_NONE);
	memset(&v->s, 0x5a, sizeof(v->s));
	CHECK_EQ(m->be->sync_state(v), 0);
	check_state_eq(&v->s, &want);
	tortuga_vm_destroy(vm);
	return check_failures ? 1 : 0;
}

/*
 * CS.L = 1 with CS.D = 1 in IA-32e mode: VMX checks it on VM entry (SDM Vol.
 * 3C 26.3.1.2, "If the guest will be in IA-32e mode and the L bit (bit 13)
 * in the access-rights field for CS is 1, the D bit (bit 14) must be 0"),
 * SVM on VMRUN (AMD APM Vol. 2 15.5.1, "EFER.LME, CR0.PG, CR4.PAE, CS.L, and
 * CS.D are all non-zero" is illegal). KVM_SET_SREGS does not check it.
 */
static int case_entry_fail(void)
{
	tortuga_vm *vm = new_vm("hello", "");
	if (!vm)
		return check_failures ? 1 : SKIP;
	struct vcpu *v = vcpu0(vm);
	v->s.seg[SEG_CS].ar |= SEG_AR_DB;
	((struct vm *)vm)->be->state_changed(v, STATE_SEGS);
	alarm(30);
	struct tortuga_result r;
	int err = tortuga_vm_run(vm, &r);
	alarm(0);
	if (err == 0 && r.stop_reason == TORTUGA_STOP_DEBUG_EXIT) {
		/* Not every KVM enters through VMX/SVM (PVM runs guests in ring 3
		 * with no entry checks); a strict run (KVM_STRICT) fails here. */
		snprintf(skip_reason, sizeof(skip_reason),
			 "this host's KVM ran the guest with CS.L = CS.D = 1: it makes no hardware VM-entry checks");
		tortuga_vm_destroy(vm);
		return SKIP;
	}
	CHECK(err < 0);
	CHECK_EQ(r.stop_reason, TORTUGA_STOP_ERROR);
	CHECK_EQ(r.exit_status, TORTUGA_STATUS_ERROR);
	const char *msg = tortuga_vm_error(vm);
	CHECK(strstr(msg, "KVM_EXIT_FAIL_ENTRY") != NULL);
	printf("error: %s\n", msg);
	/* The failed entry is an exit record, SDM basic reason 33. */
	CHECK_EQ(tortuga_vm_exit_count(vm, TORTUGA_EXIT_ENTRY_FAIL_GUEST_STATE) +
			 tortuga_vm_exit_count(vm, TORTUGA_EXIT_ENTRY_FAIL_MSR_LOADING),
		 1);
	char dump[4096];
	CHECK(tortuga_vm_dump_state(vm, 0, dump, sizeof(dump)) > 0);
	CHECK(strstr(dump, "RIP=") != NULL);
	CHECK(strstr(dump, "CS =0008") != NULL);
	fputs(dump, stdout);
	tortuga_vm_destroy(vm);
	return check_failures ? 1 : 0;
}

/*
 * SMM through KVM. SMBASE after reset is 30000H and the SMI handler starts at
 * SMBASE + 8000H in a real-mode-like state (SDM Vol. 3C 32.5.1, Table 32-4);
 * the save state is at the top of the 64 KiB SMRAM: on KVM's AMD64 layout
 * (AMD APM Vol. 2 10.2.3, Table 10-2) SMBASE at FF00H and the SMM revision
 * identifier at FEFCH, whose low word 0064H marks the AMD64 format.
 */
#define SMBASE 0x30000u
#define SMI_HANDLER (SMBASE + 0x8000u)
#define SAVE_SMBASE (SMBASE + 0xff00u)
#define SAVE_REVISION (SMBASE + 0xfefcu)
#define SMM_PORT 0x80

static int case_smm(void)
{
	tortuga_vm *vm = new_vm("hello", "");
	if (!vm)
		return check_failures ? 1 : SKIP;
	struct vm *m = (struct vm *)vm;
	/* The SMM view: guest RAM as the normal view maps it, SMRAM open. */
	struct aspace smm;
	aspace_init(&smm, &m->ram);
	for (unsigned i = 0; i < m->as.n; i++)
		if (m->as.r[i].type == MEM_RAM)
			CHECK_EQ(aspace_add_ram(&smm, m->as.r[i].gpa, m->as.r[i].size,
						(uint64_t)(m->as.r[i].host - m->ram.host), "smm"),
				 0);
	int err = kvm_smm_set_view(m, &smm);
	if (err == -ENOTSUP) {
		snprintf(skip_reason, sizeof(skip_reason), "%s", m->err);
		tortuga_vm_destroy(vm);
		aspace_fini(&smm);
		return SKIP;
	}
	CHECK_EQ(err, 0);
	/* mov $0x53, %al; out %al, $0x80; rsm (SDM Vol. 2B OUT E6 ib; RSM 0F AA) */
	static const uint8_t handler[] = { 0xb0, 0x53, 0xe6, SMM_PORT, 0x0f, 0xaa };
	CHECK_EQ(tortuga_vm_write_phys(vm, SMI_HANDLER, handler, sizeof(handler)), 0);
	CHECK_EQ(kvm_smm_raise(m->vcpus[0]), 0);
	alarm(30);
	struct tortuga_result r;
	CHECK_EQ(tortuga_vm_run(vm, &r), 0);
	alarm(0);
	CHECK_EQ(r.stop_reason, TORTUGA_STOP_DEBUG_EXIT);
	CHECK_EQ(r.exit_status, 1);
	char out[256] = { 0 };
	tortuga_vm_serial_read(vm, 0, out, sizeof(out) - 1);
	CHECK(strstr(out, "Hello from a tortuga guest!") != NULL); /* RSM resumed it intact */
	CHECK(kvm_vcpu_smm_exits(m->vcpus[0]) >= 1);
	CHECK(!kvm_vcpu_in_smm(m->vcpus[0]));
	uint32_t smbase = 0, rev = 0;
	tortuga_vm_read_phys(vm, SAVE_SMBASE, &smbase, 4);
	tortuga_vm_read_phys(vm, SAVE_REVISION, &rev, 4);
	CHECK_EQ(smbase, SMBASE);
	CHECK_EQ(rev & 0xffff, 0x0064);
	/* The handler's OUT is an exit record like any other: port 80H,
	 * immediate form, at IP 8002H of the SMI handler. */
	struct tortuga_event ev[256];
	int n = tortuga_vm_trace_read(vm, ev, 256);
	bool seen = false;
	for (int i = 0; i < n; i++)
		if (ev[i].kind == TORTUGA_EV_EXIT && ev[i].reason == TORTUGA_EXIT_IO_INSTRUCTION && ev[i].aux == SMM_PORT)
			seen = ev[i].rip == 0x8002 && (ev[i].qual & (1u << 6));
	CHECK(seen);
	printf("SMI handled in SMM (%llu exit(s) in SMM), save-state revision 0x%x\n",
	       (unsigned long long)kvm_vcpu_smm_exits(m->vcpus[0]), rev);
	tortuga_vm_destroy(vm);
	aspace_fini(&smm);
	return check_failures ? 1 : 0;
}

/*
 * MOV to CR8 that lowers the TPR. Without an in-kernel local APIC, KVM
 * completes the MOV and exits with KVM_EXIT_SET_TPR; tortuga records it as
 * "TPR below threshold" (SDM Vol. 3C 29.1.2), trap-like: RIP after the MOV.
 * The guest then reads CR8 back and reports it through the debug-exit port.
 */
static int case_tpr(void)
{
	tortuga_vm *vm = new_vm("hello", "");
	if (!vm)
		return check_failures ? 1 : SKIP;
	static const uint8_t code[] = {
		0xb8, 0x09, 0x00, 0x00, 0x00, /* mov $9, %eax */
		0x44, 0x0f, 0x22, 0xc0, /* mov %rax, %cr8 */
		0x31, 0xc0, /* xor %eax, %eax */
		0x44, 0x0f, 0x22, 0xc0, /* mov %rax, %cr8: TPR 9 -> 0 */
		0x44, 0x0f, 0x20, 0xc0, /* mov %cr8, %rax */
		0x0c, 0x40, /* or $0x40, %al */
		0xe6, 0xf4, /* out %al, $0xf4: debug exit */
		0xf4, /* hlt */
	};
	const uint64_t after_lowering = 15;
	uint64_t entry = vcpu0(vm)->s.rip; /* identity-mapped (bootinfo.h) */
	CHECK_EQ(tortuga_vm_write_phys(vm, entry, code, sizeof(code)), 0);
	alarm(30);
	struct tortuga_result r;
	CHECK_EQ(tortuga_vm_run(vm, &r), 0);
	alarm(0);
	/* The architectural result: CR8 reads back 0 (SDM Vol. 3A 2.5). */
	CHECK_EQ(r.stop_reason, TORTUGA_STOP_DEBUG_EXIT);
	CHECK_EQ(r.exit_status, (0x40 << 1) | 1);
	struct tortuga_event ev[64];
	int n = tortuga_vm_trace_read(vm, ev, 64), tpr = 0;
	for (int i = 0; i < n; i++) {
		if (ev[i].kind != TORTUGA_EV_EXIT || ev[i].reason != TORTUGA_EXIT_TPR_BELOW_THRESHOLD)
			continue;
		tpr++;
		CHECK_EQ(ev[i].rip, entry + after_lowering);
		CHECK_EQ(ev[i].qual, 0);
	}
	if (!check_failures && tpr == 0) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "this host's KVM completed MOV to CR8 without KVM_EXIT_SET_TPR (guest saw CR8 = 0)");
		tortuga_vm_destroy(vm);
		return SKIP;
	}
	CHECK_EQ(tpr, 1);
	printf("KVM_EXIT_SET_TPR recorded as TPR below threshold at RIP 0x%llx\n",
	       (unsigned long long)(entry + after_lowering));
	tortuga_vm_destroy(vm);
	return check_failures ? 1 : 0;
}

/*
 * INIT abandons the event being delivered (SDM Vol. 3A 6.9, Table 6-2: INIT
 * before NMIs and interrupts; 11.4.7.3: the ISR of the acknowledged
 * interrupt is cleared). An interrupt handed to KVM by KVM_INTERRUPT, or an
 * exception KVM holds, must not survive it: after the SIPI KVM would
 * deliver it through the real-mode IVT.
 */
static int case_init(void)
{
	tortuga_vm *vm = new_vm("hello", "");
	if (!vm)
		return check_failures ? 1 : SKIP;
	struct vcpu *v = vcpu0(vm);
	int fd = kvm_vcpu_of(v)->fd;
	struct kvm_interrupt irq = { .irq = 0x56 };
	CHECK_EQ(ioctl(fd, KVM_INTERRUPT, &irq), 0);
	struct kvm_vcpu_events ev;
	CHECK_EQ(ioctl(fd, KVM_GET_VCPU_EVENTS, &ev), 0);
	CHECK(ev.interrupt.injected && ev.interrupt.nr == 0x56);
	boot_init_vcpu(v);
	CHECK_EQ(ioctl(fd, KVM_GET_VCPU_EVENTS, &ev), 0);
	CHECK(!ev.interrupt.injected);
	/* An exception (#GP(0)) KVM was about to deliver. */
	ev.exception.injected = 1;
	ev.exception.nr = 13;
	ev.exception.has_error_code = 1;
	ev.exception.error_code = 0;
	ev.flags = 0;
	CHECK_EQ(ioctl(fd, KVM_SET_VCPU_EVENTS, &ev), 0);
	CHECK_EQ(ioctl(fd, KVM_GET_VCPU_EVENTS, &ev), 0);
	CHECK(ev.exception.injected && ev.exception.nr == 13);
	boot_init_vcpu(v);
	CHECK_EQ(ioctl(fd, KVM_GET_VCPU_EVENTS, &ev), 0);
	CHECK(!ev.exception.injected && !ev.exception.pending);
	CHECK_EQ(((struct vm *)vm)->stop_reason, TORTUGA_STOP_NONE);
	tortuga_vm_destroy(vm);
	return check_failures ? 1 : 0;
}

static void *run_thread(void *arg)
{
	static struct tortuga_result r;
	tortuga_vm_run(arg, &r);
	return &r;
}

static int case_kick(void)
{
	tortuga_vm *vm = new_vm("busyloop", "n=0xffffffffffff");
	if (!vm)
		return check_failures ? 1 : SKIP;
	alarm(30); /* a failed kick must fail the test, not hang it */
	pthread_t t;
	pthread_create(&t, NULL, run_thread, vm);
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	tortuga_vm_request_stop(vm);
	void *res;
	pthread_join(t, &res);
	alarm(0);
	CHECK_EQ(((struct tortuga_result *)res)->stop_reason, TORTUGA_STOP_REQUESTED);
	tortuga_vm_destroy(vm);
	return check_failures ? 1 : 0;
}

static int probe_denied(const char *path)
{
	setenv("TORTUGA_KVM_DEVICE", path, 1);
	char msg[256];
	int err = tortuga_backend_probe(TORTUGA_BACKEND_KVM, msg, sizeof(msg));
	printf("%s\n", msg);
	CHECK_EQ(err, -EACCES);
	CHECK(strstr(msg, "permission denied") != NULL);
	CHECK(strstr(msg, path) != NULL);
	return check_failures ? 1 : 0;
}

static int case_permission(void)
{
	char path[] = "/tmp/tortuga-kvm-perm.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		snprintf(skip_reason, sizeof(skip_reason), "mkstemp: %s", strerror(errno));
		return SKIP;
	}
	close(fd);
	chmod(path, 0600);
	int rc;
	if (geteuid() != 0) {
		chmod(path, 0);
		rc = probe_denied(path);
	} else {
		/* root opens anything: check as nobody (65534). */
		pid_t pid = fork();
		if (pid == 0) {
			if (setgid(65534) || setuid(65534))
				_exit(SKIP);
			fflush(stdout);
			_exit(probe_denied(path));
		}
		int ws = 0;
		waitpid(pid, &ws, 0);
		rc = WIFEXITED(ws) ? WEXITSTATUS(ws) : 1;
		if (rc == SKIP)
			snprintf(skip_reason, sizeof(skip_reason), "cannot drop root privileges to test permissions");
	}
	unlink(path);
	return rc;
}

/* Only KVM's tracepoints: the cases drive the VM through internal calls, and
 * this program links libtortuga's objects in, not the library that holds
 * the tortuga:event probe. */
static tortuga_bpf *bpf_begin(const char *path)
{
	struct tortuga_bpf_opts o;
	tortuga_bpf_opts_init(&o);
	o.flags = TORTUGA_BPF_NO_USDT;
	tortuga_bpf *b = NULL;
	if (tortuga_bpf_start(path, &o, &b)) {
		snprintf(skip_reason, sizeof(skip_reason), "--trace-bpf: eBPF unavailable: %s", tortuga_trace_error());
		return NULL;
	}
	struct tortuga_bpf_stats st;
	tortuga_bpf_stats(b, &st);
	if (!st.kvm_attached) {
		snprintf(skip_reason, sizeof(skip_reason), "--trace-bpf: KVM tracepoints not attached: %s", st.kvm_note);
		tortuga_bpf_stop(b, NULL);
		return NULL;
	}
	return b;
}

/* Stop recording; a skipped case stays skipped (its reason is the first
 * line of stdout). */
static int bpf_end(tortuga_bpf *b, int rc)
{
	struct tortuga_bpf_stats st;
	if (tortuga_bpf_stop(b, &st)) {
		fprintf(stderr, "--trace-bpf: %s\n", tortuga_trace_error());
		return 1;
	}
	if (rc == SKIP)
		return rc;
	printf("--trace-bpf: %llu events from %u KVM tracepoints, %llu lost\n", (unsigned long long)st.kvm_events,
	       st.kvm_attached, (unsigned long long)st.lost);
	return st.lost ? 1 : rc;
}

int main(int argc, char **argv)
{
	if (argc != 3 && !(argc == 5 && !strcmp(argv[3], "--trace-bpf"))) {
		fprintf(stderr, "usage: test_kvm_vm state|entry-fail|smm|kick|tpr|init|permission GUESTS_DIR "
				"[--trace-bpf FILE]\n");
		return 2;
	}
	guests = argv[2];
	const char *trace_bpf = argc == 5 ? argv[4] : NULL;
	if (!strcmp(argv[1], "permission")) {
		int rc = case_permission();
		if (rc == SKIP)
			printf("%s\n", skip_reason);
		return rc;
	}
	char why[256];
	if (tortuga_backend_probe(TORTUGA_BACKEND_KVM, why, sizeof(why))) {
		printf("%s\n", why);
		return SKIP;
	}
	static const struct {
		const char *name;
		int (*fn)(void);
	} cases[] = {
		{ "state", case_state },
		{ "entry-fail", case_entry_fail },
		{ "smm", case_smm },
		{ "kick", case_kick },
		{ "tpr", case_tpr },
		{ "init", case_init },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(argv[1], cases[i].name))
			continue;
		check_test = cases[i].name;
		tortuga_bpf *b = NULL;
		if (trace_bpf && !(b = bpf_begin(trace_bpf))) {
			printf("%s\n", skip_reason);
			return SKIP;
		}
		int rc = cases[i].fn();
		if (b)
			rc = bpf_end(b, rc);
		if (rc == SKIP)
			printf("%s\n", skip_reason);
		return rc;
	}
	fprintf(stderr, "unknown case %s\n", argv[1]);
	return 2;
}
