/*
 * svmhv: a small L1 hypervisor for AMD SVM, the peer of l1hv (VMX). It runs
 * on the kvm backend with --nested on an AMD host, where the host's KVM
 * offers nested SVM (tortuga's own nested virtualization is VMX-only), and
 * gives KVM's nested tracepoints (kvm_nested_vmenter, kvm_nested_vmexit,
 * kvm_nested_vmexit_inject) a known workload.
 *
 * It enables SVM as an OS hypervisor does (CPUID Fn8000_0001_ECX.SVM,
 * VM_CR.SVMDIS clear, EFER.SVME, VM_HSAVE_PA: AMD APM Vol. 2 15.4, 15.30),
 * builds a VMCB for an L2 that runs L1's own code in 64-bit mode on L1's
 * page tables (no nested paging), intercepting CPUID, HLT, VMMCALL,
 * shutdown and every exception, and loops VMRUN. L2 (svmhv_asm.S) executes
 * CPUID n times, VMMCALL, then HLT. L1 answers each CPUID itself and moves
 * L2's RIP past it (next_rip with NRIPS, else the instruction's length).
 *
 * Command line: n=N (default 1000).
 *
 * Exit value (tortuga exits with (value << 1) | 1):
 *   0  every exit was the expected one: n CPUIDs, VMMCALL, HLT, and L2
 *      saw each CPUID answered by L1
 *   2  no SVM (CPUID or VM_CR.SVMDIS): the line says which
 *   3  VMRUN failed (VMEXIT_INVALID: a VMCB consistency check, 15.5.1)
 *   4  an unexpected exit (exception in L2, shutdown, another code)
 *   5  the exits came but their counts or L2's sum are wrong
 */
#include <guest/guest.h>
#include <guest/io.h>
#include <guest/svm.h>

#include "svmhv.h"

enum { SVMHV_OK = 0, SVMHV_NO_SVM = 2, SVMHV_VMRUN_FAILED = 3, SVMHV_UNEXPECTED = 4, SVMHV_WRONG = 5 };

#define PAGE 4096
#define L2_STACK_SIZE 16384
/* Instruction lengths without NRIPS: CPUID 0F A2, VMMCALL 0F 01 D9 (APM
 * Vol. 3, CPUID and VMMCALL). */
#define CPUID_LEN 2
#define VMMCALL_LEN 3

static struct vmcb vmcb;
static uint8_t hsave[PAGE] __attribute__((aligned(PAGE)));
static uint8_t l2_stack[L2_STACK_SIZE] __attribute__((aligned(16)));
static struct svm_gprs l2;

struct dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* A segment as the state save area holds it, from L1's GDT descriptor
 * (APM Vol. 2 4.8: base 15:0 in bits 31:16, 23:16 in 39:32, 31:24 in
 * 63:56; limit 15:0 and 19:16 in 51:48, scaled by G; attrib as in
 * struct vmcb_seg). A null selector gives an unusable segment (attrib 0). */
static struct vmcb_seg seg_from_gdt(uint16_t sel, uint64_t gdt_base)
{
	struct vmcb_seg s = { .sel = sel };
	if (!(sel & ~7u))
		return s;
	uint64_t d = *(const volatile uint64_t *)(gdt_base + (sel & ~7u));
	s.attrib = (uint16_t)(((d >> 40) & 0xff) | (((d >> 52) & 0xf) << 8));
	s.limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	if (d & (1ull << 55))
		s.limit = (s.limit << 12) | 0xfff;
	s.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	return s;
}

#define READ_SEL(reg)                                                 \
	({                                                            \
		uint16_t v_;                                          \
		__asm__ volatile("mov %%" #reg ", %0" : "=r"(v_)); \
		v_;                                                   \
	})

/* L2 gets L1's own environment: its segments, descriptor tables, control
 * registers and EFER (which has SVME set, as VMRUN requires), CPL 0,
 * interrupts off. */
static void vmcb_init(uint64_t n)
{
	struct dtr gdtr, idtr;
	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	__asm__ volatile("sidt %0" : "=m"(idtr));
	/* FS, GS, TR, LDTR and the syscall MSRs are what VMLOAD would load
	 * (15.5.2): VMSAVE records L1's into the VMCB. */
	__asm__ volatile("vmsave %%rax" : : "a"((uint64_t)&vmcb) : "memory");
	vmcb.intercept_exc = 0xffffffffu;
	vmcb.intercept_misc1 = SVM_INTERCEPT1_CPUID | SVM_INTERCEPT1_HLT | SVM_INTERCEPT1_SHUTDOWN;
	vmcb.intercept_misc2 = SVM_INTERCEPT2_VMRUN | SVM_INTERCEPT2_VMMCALL;
	vmcb.guest_asid = 1; /* ASID 0 is the host's: VMRUN fails with it (15.5.1) */
	vmcb.vintr = SVM_VINTR_MASKING;
	vmcb.es = seg_from_gdt(READ_SEL(es), gdtr.base);
	vmcb.cs = seg_from_gdt(READ_SEL(cs), gdtr.base);
	vmcb.ss = seg_from_gdt(READ_SEL(ss), gdtr.base);
	vmcb.ds = seg_from_gdt(READ_SEL(ds), gdtr.base);
	vmcb.gdtr.limit = gdtr.limit;
	vmcb.gdtr.base = gdtr.base;
	vmcb.idtr.limit = idtr.limit;
	vmcb.idtr.base = idtr.base;
	vmcb.cpl = 0;
	vmcb.efer = rdmsr(MSR_EFER);
	vmcb.cr0 = read_cr0();
	vmcb.cr3 = read_cr3();
	vmcb.cr4 = read_cr4();
	vmcb.dr6 = 0xffff0ff0; /* reset values (APM Vol. 2 13.1.1.5, 13.1.1.6) */
	vmcb.dr7 = 0x400;
	vmcb.rflags = 0x2;
	vmcb.rip = (uint64_t)svmhv_l2;
	vmcb.rsp = (uint64_t)(l2_stack + L2_STACK_SIZE);
	vmcb.g_pat = rdmsr(0x277); /* IA32_PAT; used only with nested paging */
	l2.rdi = n;
}

int main(const struct tortuga_bootinfo *bi)
{
	uint64_t n = parse_u64(cmdline_get(bi, "n"), 1000);
	uint32_t r[4];

	cpuid(0x80000000u, 0, r);
	uint32_t max_ext = r[0];
	cpuid(0x80000001u, 0, r);
	if (max_ext < 0x80000001u || !(r[2] & CPUID_80000001_ECX_SVM)) {
		printf("svmhv: no SVM: CPUID Fn8000_0001_ECX.SVM is 0 (needs --nested on the kvm backend of an "
		       "AMD host whose kvm_amd has nested=1)\n");
		return SVMHV_NO_SVM;
	}
	if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS) {
		printf("svmhv: no SVM: VM_CR.SVMDIS is set (APM Vol. 2 15.30.1)\n");
		return SVMHV_NO_SVM;
	}
	cpuid(CPUID_SVM_LEAF, 0, r);
	int nrips = (r[3] & CPUID_SVM_EDX_NRIPS) != 0;
	printf("svmhv: SVM revision %u, %u ASIDs, NRIPS %s\n", r[0] & 0xff, r[1], nrips ? "yes" : "no");

	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, (uint64_t)hsave);
	vmcb_init(n);
	printf("svmhv: running L2 (n=%lu)\n", (unsigned long)n);

	uint64_t vmruns = 0, cpuids = 0, vmmcalls = 0, sum = 0;
	for (;;) {
		svm_run((uint64_t)&vmcb, &l2);
		vmruns++;
		uint64_t code = vmcb.exitcode;
		if (code == SVM_EXIT_CPUID) {
			uint32_t leaf = (uint32_t)vmcb.rax, sub = (uint32_t)l2.rcx;
			if (leaf == SVMHV_LEAF) {
				r[0] = (uint32_t)++cpuids;
				r[1] = r[2] = r[3] = 0;
			} else {
				cpuid(leaf, sub, r);
			}
			vmcb.rax = r[0];
			l2.rbx = r[1];
			l2.rcx = r[2];
			l2.rdx = r[3];
			vmcb.rip = nrips ? vmcb.next_rip : vmcb.rip + CPUID_LEN;
		} else if (code == SVM_EXIT_VMMCALL) {
			vmmcalls++;
			sum = vmcb.rax;
			vmcb.rip = nrips ? vmcb.next_rip : vmcb.rip + VMMCALL_LEN;
		} else if (code == SVM_EXIT_HLT) {
			break;
		} else if ((uint32_t)code == 0xffffffffu) {
			/* VMEXIT_INVALID is -1; the exit-code table holds its low 16 bits. */
			printf("svmhv: FAIL: VMRUN refused the VMCB: VMEXIT_INVALID (APM Vol. 2 15.5.1)\n");
			return SVMHV_VMRUN_FAILED;
		} else if (code >= SVM_EXIT_EXCP && code <= SVM_EXIT_EXCP_LAST) {
			printf("svmhv: FAIL: exception %lu in L2 at RIP 0x%lx (EXITINFO1 0x%lx, EXITINFO2 0x%lx)\n",
			       (unsigned long)(code - SVM_EXIT_EXCP), (unsigned long)vmcb.rip,
			       (unsigned long)vmcb.exitinfo1, (unsigned long)vmcb.exitinfo2);
			return SVMHV_UNEXPECTED;
		} else {
			printf("svmhv: FAIL: unexpected exit code 0x%lx at L2 RIP 0x%lx (EXITINFO1 0x%lx)\n",
			       (unsigned long)code, (unsigned long)vmcb.rip, (unsigned long)vmcb.exitinfo1);
			return SVMHV_UNEXPECTED;
		}
	}
	printf("svmhv: %lu VMRUNs; L2 exits: %lu CPUID, %lu VMMCALL, 1 HLT; L2's sum %lu\n",
	       (unsigned long)vmruns, (unsigned long)cpuids, (unsigned long)vmmcalls, (unsigned long)sum);
	/* L2 added up the answers 1, 2, ..., n. */
	if (cpuids != n || vmmcalls != 1 || vmruns != n + 2 || sum != n * (n + 1) / 2) {
		printf("svmhv: FAIL: expected %lu CPUID exits, 1 VMMCALL, %lu VMRUNs, sum %lu\n",
		       (unsigned long)n, (unsigned long)(n + 2), (unsigned long)(n * (n + 1) / 2));
		return SVMHV_WRONG;
	}
	printf("svmhv: ok\n");
	return SVMHV_OK;
}
