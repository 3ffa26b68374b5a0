/*
 * l1hv: a small but real L1 hypervisor. It enables VMX the way an OS
 * hypervisor does (CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL, the CR0/CR4 fixed
 * bits, VMXON), builds a VMCS for an L2 guest from the capability MSRs, and
 * runs one L2 payload, handling its exits like KVM or Xen would: read the
 * exit fields with VMREAD, emulate CPUID, I/O and HLT, advance the guest RIP
 * with VMWRITE, VMRESUME.
 *
 * Command line (tortuga run --nested l1hv.elf -- ARGS):
 *   l2=cpuid   L2 executes CPUID n times (default)
 *   l2=io      L2 writes and reads an I/O port L1 emulates, n times
 *   l2=vmcs    L2 is itself hypervisor-like: it VMREADs and VMWRITEs a VMCS
 *              field n times. With shadow=1 (default) L1 gives it a shadow
 *              VMCS (SDM 25.10) and the accesses never leave L2; with
 *              shadow=0 each one exits to L1, which emulates it
 *   l2=pagetouch  L2 writes and reads back n pages at L2-physical 3 GiB that
 *              L1's EPT does not map yet: each first touch is an EPT
 *              violation L1 handles by mapping a 4-KiB page (needs ept=1)
 *   l2=real    L2 runs in real mode (unrestricted guest, needs ept=1): a
 *              16-bit loop of n CPUIDs (n < 65536)
 *   l2=vmfunc  L2 switches between two EPTPs with VMFUNC (EPTP switching,
 *              performed by L0 without exiting to L1) and reads a page only
 *              the second maps, n times; then an invalid EPTP index exits
 *              to L1 (reason 59)
 *   l2=pf      L1 intercepts #PF (exception bitmap bit 14): L2 touches an
 *              unmapped address n times; L1 checks the exit qualification
 *              and that CR2 kept L2's value (SDM 26.2), then resumes L2 at a
 *              recovery address L2 passed in RBX
 *   l2=timer|ipi|inject|tpr|mtf  interrupts: L1's APIC timer and IPIs while
 *              L2 runs, interrupt and NMI injection with window exits, HLT in
 *              L2, the TPR shadow, the monitor trap flag (guests/l1hv_irq.c)
 *   n=N        iterations (default 1000)
 *   timer=T    arm the VMX-preemption timer with T (SDM 26.5.1; one tick per
 *              32 TSC cycles); on each timer exit L1 re-arms it
 *   baseline=1 L1 executes the CPUID loop (with l2=timer: takes its timer
 *              ticks) itself, without VMX: the single-level peer of l2=cpuid
 *              (bench/nested_cpuid.py) and of l2=timer (bench/nested_irq.py)
 *   ept=0|1    give L2 its own physical address space through EPT (default 1;
 *              an identity map with 1-GByte pages plus the pagetouch window)
 *   vpid=0|1   tag L2's TLB entries with a VPID (default 1); without it every
 *              VM entry and exit flushes the TLB (SDM 29.4.3)
 *   bad=ctl|host|guest|msr  break the VMCS on purpose to see VM entry fail:
 *              a control (VMfailValid 7), a host-state field (VMfailValid 8),
 *              a guest-state field (VM-entry failure exit 33), an MSR-load
 *              entry (exit 34); l1hv reports what it saw and exits with 3
 *
 * L2 runs L1's code in 64-bit mode on L1's identity page tables; it reports
 * completion with VMCALL. l1hv then prints the exits it handled by reason and
 * exits with status 0 (tortuga exits with 1); any failure exits with 2+.
 */
#include <guest/desc.h>
#include <guest/exc.h>
#include <guest/guest.h>
#include <guest/io.h>
#include <guest/vmx.h>

#include "l1hv.h"

#define PAGE 4096
#define L2_STACK_SIZE 16384
#define HOST_STACK_SIZE 16384

/* The device L1 emulates for the I/O payload: a 32-bit register. */
#define L1_DEV_PORT 0x7e0

/* The VMCS field the l2=vmcs payload works on, and its starting value. */
#define L2_VMCS_FIELD VMCS_GUEST_RIP
#define L2_VMCS_START 1000

/* VMCALL numbers of the L2 payloads. */
enum { HC_DONE = 1, HC_FAIL = 2 };

static uint8_t vmxon_region[PAGE] __attribute__((aligned(PAGE)));
static uint8_t vmcs_region[PAGE] __attribute__((aligned(PAGE)));
static uint8_t shadow_vmcs_region[PAGE] __attribute__((aligned(PAGE)));
static uint8_t vmread_bitmap[PAGE] __attribute__((aligned(PAGE)));
static uint8_t vmwrite_bitmap[PAGE] __attribute__((aligned(PAGE)));
static uint8_t io_bitmap_a[PAGE] __attribute__((aligned(PAGE)));
static uint8_t io_bitmap_b[PAGE] __attribute__((aligned(PAGE)));
static uint8_t msr_bitmap[PAGE] __attribute__((aligned(PAGE)));
static uint64_t msr_load_area[2] __attribute__((aligned(16)));
static uint8_t l2_stack[L2_STACK_SIZE] __attribute__((aligned(16)));

/* EPT (SDM 29.3.2): PML4 -> PDPT; PDPT entries 0-2 map 1-GByte pages 1:1,
 * entry 3 points to a page directory for the pagetouch window, whose page
 * tables L1 fills on EPT violations. */
#define TOUCH_GPA 0xc0000000ull
#define TOUCH_POOL_PAGES 512
#define TOUCH_MAX_PAGES (512 * 8)
static uint64_t ept_pml4[512] __attribute__((aligned(PAGE)));
static uint64_t ept_pdpt[512] __attribute__((aligned(PAGE)));
static uint64_t ept_pd_touch[512] __attribute__((aligned(PAGE)));
static uint64_t ept_pt_pool[TOUCH_MAX_PAGES / 512][512] __attribute__((aligned(PAGE)));
static uint8_t touch_pool[TOUCH_POOL_PAGES][PAGE] __attribute__((aligned(PAGE)));
/* l2=vmfunc: a second EPT that also maps the first page of the pagetouch
 * window, to a page holding a marker; the EPTP list (SDM 25.6.14). */
static uint64_t ept_pml4_alt[512] __attribute__((aligned(PAGE)));
static uint64_t ept_pdpt_alt[512] __attribute__((aligned(PAGE)));
static uint64_t ept_pd_alt[512] __attribute__((aligned(PAGE)));
static uint64_t ept_pt_alt[512] __attribute__((aligned(PAGE)));
static uint64_t alt_page[512] __attribute__((aligned(PAGE)));
static uint64_t eptp_list[512] __attribute__((aligned(PAGE)));
#define VMFUNC_MARKER 0x5a5a5a5a12345678ull
/* l2=real: where the 16-bit code goes (real mode reaches the first MiB). */
#define REAL_CODE_PA 0x9000
#define EPT_RWX 7ull
#define EPT_WB (6ull << 3)
#define EPT_LEAF_PS (1ull << 7)
static uint8_t host_stack[HOST_STACK_SIZE] __attribute__((aligned(16)));

static struct {
	uint64_t exits[80];
	uint64_t cpuid_cache[8][4];
	uint64_t n;
	uint32_t dev_reg;
	const char *payload;
	int shadow; /* l2=vmcs: give L2 a shadow VMCS */
	int ept, vpid;
	uint64_t timer; /* timer=: VMX-preemption timer value, 0 = off */
	char bad[8]; /* bad=: the VMCS part to break */
	uint64_t touch_mapped; /* pagetouch: pages L1 mapped on EPT violations */
	uint64_t soft_field; /* l2=vmcs, shadow=0: L1's copy of L2's field */
} hv;

void fail(const char *what, uint64_t val)
{
	printf("l1hv: FAIL: %s (0x%lx)\n", what, val);
	guest_exit(2);
}

static void check(int vmx_result, const char *what)
{
	if (vmx_result == VMX_OK)
		return;
	uint64_t err = vmx_result == VMX_FAIL_VALID ? vmread(VMCS_VM_INSTRUCTION_ERROR) : ~0ull;
	fail(what, err);
}

void write_field(uint64_t field, uint64_t val)
{
	if (vmwrite(field, val) != VMX_OK)
		fail("VMWRITE", field);
}

/* ---- L2 payloads (they run in L2, in VMX non-root operation) ---- */

static void l2_cpuid(void)
{
	uint32_t r[4];
	for (uint64_t i = 0; i < hv.n; i++)
		cpuid(0, 0, r);
	/* CPUID.1:ECX.VMX is hidden from L2, as hypervisors do. */
	cpuid(1, 0, r);
	vmcall((r[2] & (1u << 5)) ? HC_FAIL : HC_DONE, 0);
}

static volatile uint32_t l2_io_src = 0xabcd1234, l2_io_dst;

static void l2_io(void)
{
	for (uint64_t i = 0; i < hv.n; i++) {
		outl(L1_DEV_PORT, (uint32_t)i * 3);
		if (inl(L1_DEV_PORT) != (uint32_t)i * 3 + 1)
			vmcall(HC_FAIL, i);
	}
	/* String I/O: L1 finds the memory operand through the guest-linear
	 * address and the instruction information of the exit. */
	const volatile uint32_t *src = &l2_io_src;
	volatile uint32_t *dst = &l2_io_dst;
	__asm__ volatile("outsl" : "+S"(src) : "d"((uint16_t)L1_DEV_PORT) : "memory");
	__asm__ volatile("insl" : "+D"(dst) : "d"((uint16_t)L1_DEV_PORT) : "memory");
	if (l2_io_dst != 0xabcd1234 + 1 || src != &l2_io_src + 1 || dst != &l2_io_dst + 1)
		vmcall(HC_FAIL, l2_io_dst);
	vmcall(HC_DONE, 0);
}

static void l2_vmcs(void)
{
	for (uint64_t i = 0; i < hv.n; i++) {
		uint64_t v = 0;
		if (vmread_checked(L2_VMCS_FIELD, &v) != VMX_OK || vmwrite(L2_VMCS_FIELD, v + 1) != VMX_OK)
			vmcall(HC_FAIL, i);
	}
	vmcall(HC_DONE, vmread(L2_VMCS_FIELD));
}

static void l2_vmfunc(void)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)TOUCH_GPA;
	for (uint64_t i = 0; i < hv.n; i++) {
		__asm__ volatile("vmfunc" : : "a"(0), "c"(1) : "memory"); /* EPTP list entry 1 */
		if (*p != VMFUNC_MARKER)
			vmcall(HC_FAIL, i);
		__asm__ volatile("vmfunc" : : "a"(0), "c"(0) : "memory");
	}
	__asm__ volatile("vmfunc" : : "a"(0), "c"(512) : "memory"); /* beyond the list: exits to L1 */
	vmcall(HC_DONE, 0);
}

#define PF_ADDR 0x8000000000ull /* PML4 entry 1: not present in L1's tables */
#define PF_CR2_MARK 0xc2c2c2c2ull

static void l2_pf(void)
{
	for (uint64_t i = 0; i < hv.n; i++) {
		write_cr2(PF_CR2_MARK + i);
		/* The load faults; L1 resumes at 1: (its address in RBX). */
		__asm__ volatile("lea 1f(%%rip), %%rbx\n\t"
				 "mov (%0), %%rax\n"
				 "1:"
				 :
				 : "r"(PF_ADDR + i * 8)
				 : "rax", "rbx", "memory");
		if (read_cr2() != PF_CR2_MARK + i)
			vmcall(HC_FAIL, i);
	}
	vmcall(HC_DONE, 0);
}

static void l2_pagetouch(void)
{
	for (uint64_t i = 0; i < hv.n; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(TOUCH_GPA + i * PAGE);
		*p = i * 7 + 1;
		if (*p != i * 7 + 1)
			vmcall(HC_FAIL, i);
	}
	vmcall(HC_DONE, 0);
}

/* ---- VMX setup ---- */

static uint64_t cap_msr(uint32_t plain, uint32_t true_msr, uint64_t basic)
{
	return rdmsr((basic & (1ull << 55)) ? true_msr : plain);
}

static void enable_vmx(void)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 5)))
		fail("CPUID.1:ECX.VMX is 0 (run tortuga with --nested)", r[2]);
	/* IA32_FEATURE_CONTROL: lock it with VMX outside SMX if firmware did
	 * not (SDM 24.7). */
	uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
	if (!(fc & 1))
		wrmsr(MSR_IA32_FEATURE_CONTROL, fc | 1 | 4);
	else if (!(fc & 4))
		fail("IA32_FEATURE_CONTROL locked without VMX", fc);
	/* CR0/CR4 as VMX operation requires (SDM 24.8). */
	write_cr0((read_cr0() | rdmsr(MSR_IA32_VMX_CR0_FIXED0)) & rdmsr(MSR_IA32_VMX_CR0_FIXED1));
	write_cr4((read_cr4() | rdmsr(MSR_IA32_VMX_CR4_FIXED0)) & rdmsr(MSR_IA32_VMX_CR4_FIXED1));
	uint32_t rev = (uint32_t)rdmsr(MSR_IA32_VMX_BASIC) & 0x7fffffffu;
	*(uint32_t *)vmxon_region = rev;
	*(uint32_t *)vmcs_region = rev;
	check(vmxon((uint64_t)(uintptr_t)vmxon_region), "VMXON");
	check(vmclear((uint64_t)(uintptr_t)vmcs_region), "VMCLEAR");
	check(vmptrld((uint64_t)(uintptr_t)vmcs_region), "VMPTRLD");
	uint64_t cur = 0;
	check(vmptrst(&cur), "VMPTRST");
	if (cur != (uint64_t)(uintptr_t)vmcs_region)
		fail("VMPTRST", cur);
	/* Base + index * scale + displacement operands: L0 rebuilds them from
	 * the VM-exit instruction information (SDM 28.2.5). */
	uint64_t slots[6] = { 0 };
	__asm__ volatile("vmptrst 8(%0,%1,8)" : : "r"(slots), "r"(1ull) : "memory", "cc");
	__asm__ volatile("vmwrite %0, %1" : : "r"(0x1234ull), "r"((uint64_t)VMCS_GUEST_RSP) : "cc");
	__asm__ volatile("vmread %1, 0x18(%0,%2,4)" : : "r"(slots), "r"((uint64_t)VMCS_GUEST_RSP), "r"(2ull)
			 : "memory", "cc");
	if (slots[2] != cur || slots[4] != 0x1234)
		fail("VMX memory operands with an index register", slots[2]);
	if (hv.shadow) {
		/* A shadow VMCS: revision with bit 31 set (SDM 25.2), made
		 * current only to initialise the field L2 will use. */
		*(uint32_t *)shadow_vmcs_region = rev | (1u << 31);
		check(vmclear((uint64_t)(uintptr_t)shadow_vmcs_region), "VMCLEAR shadow");
		check(vmptrld((uint64_t)(uintptr_t)shadow_vmcs_region), "VMPTRLD shadow");
		write_field(L2_VMCS_FIELD, L2_VMCS_START);
		check(vmptrld((uint64_t)(uintptr_t)vmcs_region), "VMPTRLD");
	}
	hv.soft_field = L2_VMCS_START;
}

extern void l1_vmexit_entry(void);

static uint64_t sidt_base(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr;
	__asm__ volatile("sidt %0" : "=m"(idtr));
	return idtr.base;
}

static uint64_t read_sel(int which)
{
	uint16_t s = 0;
	switch (which) {
	case 0:
		__asm__ volatile("mov %%cs, %0" : "=r"(s));
		break;
	default:
		__asm__ volatile("mov %%ss, %0" : "=r"(s));
		break;
	}
	return s;
}

/* l2=real: mov si, n; L: xor ax, ax; cpuid; dec si; jnz L;
 * mov eax, HC_DONE; vmcall; hlt (16-bit code, SI because CPUID writes CX). */
static void setup_real_code(void)
{
	uint8_t code[] = { 0xbe, (uint8_t)hv.n, (uint8_t)(hv.n >> 8), 0x31, 0xc0, 0x0f, 0xa2, 0x4e, 0x75, 0xf9,
			   0x66, 0xb8, HC_DONE, 0, 0, 0, 0x0f, 0x01, 0xc1, 0xf4 };
	memcpy((void *)(uintptr_t)REAL_CODE_PA, code, sizeof(code));
}

/* l2=vmfunc: the second EPT and the EPTP list. */
static uint64_t setup_ept_alt(uint64_t eptp)
{
	ept_pml4_alt[0] = (uint64_t)(uintptr_t)ept_pdpt_alt | EPT_RWX;
	for (int g = 0; g < 3; g++)
		ept_pdpt_alt[g] = ept_pdpt[g];
	ept_pdpt_alt[3] = (uint64_t)(uintptr_t)ept_pd_alt | EPT_RWX;
	ept_pd_alt[0] = (uint64_t)(uintptr_t)ept_pt_alt | EPT_RWX;
	alt_page[0] = VMFUNC_MARKER;
	ept_pt_alt[0] = (uint64_t)(uintptr_t)alt_page | EPT_RWX | EPT_WB;
	eptp_list[0] = eptp;
	eptp_list[1] = (uint64_t)(uintptr_t)ept_pml4_alt | (3ull << 3) | 6;
	return (uint64_t)(uintptr_t)eptp_list;
}

/* The EPT for L2: identity below 3 GiB, the pagetouch window empty. */
static uint64_t setup_ept(void)
{
	uint64_t cap = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
	/* Page-walk length 4 (bit 6), WB (14), 1-GByte pages (17), INVEPT (20). */
	uint64_t need = (1ull << 6) | (1ull << 14) | (1ull << 17) | (1ull << 20);
	if ((cap & need) != need)
		fail("EPT capabilities", cap);
	ept_pml4[0] = (uint64_t)(uintptr_t)ept_pdpt | EPT_RWX;
	for (uint64_t g = 0; g < 3; g++)
		ept_pdpt[g] = (g << 30) | EPT_RWX | EPT_WB | EPT_LEAF_PS;
	ept_pdpt[3] = (uint64_t)(uintptr_t)ept_pd_touch | EPT_RWX;
	return (uint64_t)(uintptr_t)ept_pml4 | (3ull << 3) | 6; /* 4 levels, WB */
}

/* An EPT violation in the pagetouch window: map the 4-KiB page (a page
 * table per 2 MiB, allocated on first use) and let L2 retry. */
static void handle_ept_violation(void)
{
	uint64_t gpa = vmread(VMCS_GUEST_PHYSICAL_ADDRESS);
	uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
	uint64_t page = (gpa - TOUCH_GPA) / PAGE;
	if (gpa < TOUCH_GPA || page >= TOUCH_MAX_PAGES || (q & (7u << 3)))
		fail("EPT violation outside the pagetouch window", gpa);
	uint64_t *pde = &ept_pd_touch[page / 512];
	uint64_t *pt = ept_pt_pool[page / 512];
	if (!(*pde & EPT_RWX))
		*pde = (uint64_t)(uintptr_t)pt | EPT_RWX;
	pt[page % 512] = (uint64_t)(uintptr_t)touch_pool[page % TOUCH_POOL_PAGES] | EPT_RWX | EPT_WB;
	hv.touch_mapped++;
	/* Not-present to present needs no INVEPT (SDM 29.4.3.1): no
	 * translation was cached for it. */
}

static void setup_vmcs(void (*payload)(void))
{
	uint64_t basic = rdmsr(MSR_IA32_VMX_BASIC);
	uint32_t pin = vmx_adjust_ctl(hv.timer ? VMX_PIN_PREEMPTION_TIMER : 0,
				      cap_msr(MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_TRUE_PINBASED_CTLS, basic));
	if (hv.timer && !(pin & VMX_PIN_PREEMPTION_TIMER))
		fail("no VMX-preemption timer", pin);
	uint32_t proc = vmx_adjust_ctl(VMX_PROC_HLT_EXITING | VMX_PROC_USE_IO_BITMAPS | VMX_PROC_USE_MSR_BITMAPS,
				       cap_msr(MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS, basic));
	uint32_t exit = vmx_adjust_ctl(VMX_EXIT_HOST_ADDR_SPACE_SIZE,
				       cap_msr(MSR_IA32_VMX_EXIT_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS, basic));
	int real = !strcmp(hv.payload, "real");
	uint32_t entry = vmx_adjust_ctl(real ? 0 : VMX_ENTRY_IA32E_MODE_GUEST,
					cap_msr(MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_TRUE_ENTRY_CTLS, basic));
	write_field(VMCS_PIN_BASED_VM_EXEC_CONTROL, pin);
	write_field(VMCS_CPU_BASED_VM_EXEC_CONTROL, proc);
	write_field(VMCS_VM_EXIT_CONTROLS, exit);
	write_field(VMCS_VM_ENTRY_CONTROLS, entry);
	write_field(VMCS_EXCEPTION_BITMAP, !strcmp(hv.payload, "pf") ? 1u << 14 : 0);
	write_field(VMCS_VMX_PREEMPTION_TIMER_VALUE, hv.timer);
	/* L1 owns CR4.VMXE: L2 reads it as 0. */
	write_field(VMCS_CR0_GUEST_HOST_MASK, 0);
	write_field(VMCS_CR4_GUEST_HOST_MASK, 1ull << 13);
	write_field(VMCS_CR4_READ_SHADOW, read_cr4() & ~(1ull << 13));
	/* I/O: only the emulated device's port exits; MSRs never do. */
	io_bitmap_a[L1_DEV_PORT / 8] |= (uint8_t)(1u << (L1_DEV_PORT % 8));
	write_field(VMCS_IO_BITMAP_A, (uint64_t)(uintptr_t)io_bitmap_a);
	write_field(VMCS_IO_BITMAP_B, (uint64_t)(uintptr_t)io_bitmap_b);
	write_field(VMCS_MSR_BITMAP, (uint64_t)(uintptr_t)msr_bitmap);
	write_field(VMCS_VMCS_LINK_POINTER, ~0ull);
	uint32_t proc2 = 0;
	if (hv.ept) {
		uint64_t eptp = setup_ept();
		write_field(VMCS_EPT_POINTER, eptp);
		proc2 |= VMX_PROC2_ENABLE_EPT;
		if (!strcmp(hv.payload, "vmfunc")) {
			/* VM functions (SDM 25.6.14): function 0, EPTP switching. */
			if (!(rdmsr(MSR_IA32_VMX_VMFUNC) & 1))
				fail("EPTP switching not supported", 0);
			proc2 |= VMX_PROC2_ENABLE_VMFUNC;
			write_field(VMCS_VM_FUNCTION_CONTROL, 1);
			write_field(VMCS_EPTP_LIST_ADDRESS, setup_ept_alt(eptp));
		}
		if (real)
			proc2 |= VMX_PROC2_UNRESTRICTED_GUEST;
	}
	if (hv.vpid) {
		write_field(VMCS_VIRTUAL_PROCESSOR_ID, 1);
		proc2 |= VMX_PROC2_ENABLE_VPID;
	}
	if (hv.shadow) {
		/* VMCS shadowing for L2 (SDM 25.10): L2's VMREAD/VMWRITE of the
		 * field go to the shadow VMCS; every other field exits. */
		uint64_t cap2 = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2);
		if (!((cap2 >> 32) & VMX_PROC2_VMCS_SHADOWING))
			fail("VMCS shadowing not supported", cap2);
		proc2 |= VMX_PROC2_VMCS_SHADOWING;
		memset(vmread_bitmap, 0xff, PAGE);
		memset(vmwrite_bitmap, 0xff, PAGE);
		vmread_bitmap[(L2_VMCS_FIELD & 0x7fff) / 8] &= (uint8_t) ~(1u << (L2_VMCS_FIELD % 8));
		vmwrite_bitmap[(L2_VMCS_FIELD & 0x7fff) / 8] &= (uint8_t) ~(1u << (L2_VMCS_FIELD % 8));
		write_field(VMCS_VMREAD_BITMAP, (uint64_t)(uintptr_t)vmread_bitmap);
		write_field(VMCS_VMWRITE_BITMAP, (uint64_t)(uintptr_t)vmwrite_bitmap);
		write_field(VMCS_VMCS_LINK_POINTER, (uint64_t)(uintptr_t)shadow_vmcs_region);
	}
	if (proc2) {
		uint64_t cap2 = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2);
		if (proc2 & ~(uint32_t)(cap2 >> 32))
			fail("secondary controls not supported", proc2);
		write_field(VMCS_CPU_BASED_VM_EXEC_CONTROL, proc | VMX_PROC_SECONDARY_CONTROLS);
		write_field(VMCS_SECONDARY_VM_EXEC_CONTROL, proc2);
	}

	/* Host state: L1 as it runs now; exits land in l1_vmexit_entry. */
	uint64_t cr0 = read_cr0(), cr3 = read_cr3(), cr4 = read_cr4();
	write_field(VMCS_HOST_CR0, cr0);
	write_field(VMCS_HOST_CR3, cr3);
	write_field(VMCS_HOST_CR4, cr4);
	write_field(VMCS_HOST_CS_SELECTOR, read_sel(0));
	write_field(VMCS_HOST_SS_SELECTOR, read_sel(1));
	write_field(VMCS_HOST_DS_SELECTOR, SEL_KDATA);
	write_field(VMCS_HOST_ES_SELECTOR, SEL_KDATA);
	write_field(VMCS_HOST_FS_SELECTOR, SEL_KDATA);
	write_field(VMCS_HOST_GS_SELECTOR, SEL_KDATA);
	write_field(VMCS_HOST_TR_SELECTOR, SEL_TSS);
	write_field(VMCS_HOST_TR_BASE, (uint64_t)(uintptr_t)&guest_tss);
	write_field(VMCS_HOST_GDTR_BASE, (uint64_t)(uintptr_t)guest_gdt);
	write_field(VMCS_HOST_IDTR_BASE, sidt_base()); /* exc_init()'s IDT */
	write_field(VMCS_HOST_FS_BASE, 0);
	write_field(VMCS_HOST_GS_BASE, 0);
	write_field(VMCS_HOST_RSP, (uint64_t)(uintptr_t)(host_stack + HOST_STACK_SIZE));
	write_field(VMCS_HOST_RIP, (uint64_t)(uintptr_t)l1_vmexit_entry);

	/* Guest state: a 64-bit L2 on the same flat segments and paging. */
	write_field(VMCS_GUEST_CR0, cr0);
	write_field(VMCS_GUEST_CR3, cr3);
	write_field(VMCS_GUEST_CR4, cr4);
	write_field(VMCS_GUEST_DR7, 0x400);
	static const struct {
		uint64_t sel, ar;
	} segs[6] = { { SEL_KDATA, 0xc093 }, { SEL_KCODE, 0xa09b }, { SEL_KDATA, 0xc093 },
		      { SEL_KDATA, 0xc093 }, { SEL_KDATA, 0xc093 }, { SEL_KDATA, 0xc093 } };
	for (int i = 0; i < 6; i++) {
		write_field(VMCS_GUEST_ES_SELECTOR + 2 * i, segs[i].sel);
		write_field(VMCS_GUEST_ES_BASE + 2 * i, 0);
		write_field(VMCS_GUEST_ES_LIMIT + 2 * i, 0xffffffff);
		write_field(VMCS_GUEST_ES_AR_BYTES + 2 * i, segs[i].ar);
	}
	write_field(VMCS_GUEST_LDTR_SELECTOR, 0);
	write_field(VMCS_GUEST_LDTR_AR_BYTES, 1u << 16); /* unusable */
	write_field(VMCS_GUEST_TR_SELECTOR, SEL_TSS);
	write_field(VMCS_GUEST_TR_BASE, (uint64_t)(uintptr_t)&guest_tss);
	write_field(VMCS_GUEST_TR_LIMIT, sizeof(guest_tss) - 1);
	write_field(VMCS_GUEST_TR_AR_BYTES, 0x8b); /* busy 64-bit TSS, present */
	write_field(VMCS_GUEST_GDTR_BASE, (uint64_t)(uintptr_t)guest_gdt);
	write_field(VMCS_GUEST_GDTR_LIMIT, SEL_BEYOND_GDT - 1);
	write_field(VMCS_GUEST_IDTR_BASE, 0);
	write_field(VMCS_GUEST_IDTR_LIMIT, 0);
	write_field(VMCS_GUEST_RSP, (uint64_t)(uintptr_t)(l2_stack + L2_STACK_SIZE - 8));
	write_field(VMCS_GUEST_RIP, (uint64_t)(uintptr_t)payload);
	write_field(VMCS_GUEST_RFLAGS, 0x2);
	write_field(VMCS_GUEST_ACTIVITY_STATE, 0);
	write_field(VMCS_GUEST_INTERRUPTIBILITY_INFO, 0);
	if (real) {
		/* Unrestricted guest (SDM 25.6.2): CR0.PE = PG = 0, real-mode
		 * segments (base = selector * 16, 64-KiB limits), CR0.NE and
		 * CR4.VMXE still as IA32_VMX_CR0/CR4_FIXED0 require. */
		setup_real_code();
		write_field(VMCS_GUEST_CR0, (1ull << 5) | (1ull << 4)); /* NE, ET */
		write_field(VMCS_GUEST_CR3, 0);
		write_field(VMCS_GUEST_CR4, 1ull << 13);
		for (int i = 0; i < 6; i++) {
			write_field(VMCS_GUEST_ES_SELECTOR + 2 * i, 0);
			write_field(VMCS_GUEST_ES_LIMIT + 2 * i, 0xffff);
			write_field(VMCS_GUEST_ES_AR_BYTES + 2 * i, i == 1 ? 0x9b : 0x93);
		}
		write_field(VMCS_GUEST_TR_SELECTOR, 0);
		write_field(VMCS_GUEST_TR_BASE, 0);
		write_field(VMCS_GUEST_TR_LIMIT, 0xffff);
		write_field(VMCS_GUEST_GDTR_BASE, 0);
		write_field(VMCS_GUEST_GDTR_LIMIT, 0xffff);
		write_field(VMCS_GUEST_IDTR_LIMIT, 0xffff);
		write_field(VMCS_GUEST_RIP, REAL_CODE_PA);
		write_field(VMCS_GUEST_RSP, 0x8000);
	}

	if (irq_active())
		irq_setup_vmcs();

	/* bad=: one broken field of each class (SDM 27.2, 27.3, 27.4). */
	if (!strcmp(hv.bad, "ctl")) {
		write_field(VMCS_CR3_TARGET_COUNT, 5);
	} else if (!strcmp(hv.bad, "host")) {
		write_field(VMCS_HOST_CR0, cr0 & ~(1ull << 5)); /* NE */
	} else if (!strcmp(hv.bad, "guest")) {
		write_field(VMCS_GUEST_CR0, cr0 & ~(1ull << 5));
	} else if (!strcmp(hv.bad, "msr")) {
		msr_load_area[0] = 0xc0000100; /* IA32_FS_BASE may not be loaded this way */
		msr_load_area[1] = 0;
		write_field(VMCS_VM_ENTRY_MSR_LOAD_ADDR, (uint64_t)(uintptr_t)msr_load_area);
		write_field(VMCS_VM_ENTRY_MSR_LOAD_COUNT, 1);
	}
}

/* ---- exit handling ---- */

void skip_instruction(void)
{
	uint64_t rip = vmread(VMCS_GUEST_RIP);
	write_field(VMCS_GUEST_RIP, rip + vmread(VMCS_VM_EXIT_INSTRUCTION_LEN));
}

static void handle_cpuid(struct regs *r)
{
	uint32_t leaf = (uint32_t)r->rax;
	const uint64_t *v = leaf < 8 ? hv.cpuid_cache[leaf] : (const uint64_t[4]){ 0, 0, 0, 0 };
	r->rax = v[0];
	r->rbx = v[1];
	r->rcx = v[2];
	r->rdx = v[3];
}

/* Exit qualification for I/O instructions (SDM Table 28-5); for INS/OUTS
 * the guest-linear address and, with IA32_VMX_BASIC[54], the instruction
 * information (address size bits 9:7, segment bits 17:15) locate the data.
 * L2's linear addresses are L1's here (same page tables, identity EPT). */
static void handle_io(struct regs *r)
{
	uint64_t q = vmread(VMCS_EXIT_QUALIFICATION);
	unsigned size = (unsigned)(q & 7) + 1, in = (q >> 3) & 1, port = (unsigned)(q >> 16);
	if (port != L1_DEV_PORT || size != 4 || (q & (1u << 5)))
		fail("unexpected I/O exit", q);
	if (q & (1u << 4)) {
		uint64_t gla = vmread(VMCS_GUEST_LINEAR_ADDRESS), info = vmread(VMCS_VMX_INSTRUCTION_INFO);
		unsigned seg = (unsigned)(info >> 15) & 7, asize = (unsigned)(info >> 7) & 7;
		if (gla != (in ? r->rdi : r->rsi) || seg != (in ? 0 : 3) || asize != 2)
			fail("INS/OUTS exit information", info);
		volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)gla;
		if (in) {
			*p = hv.dev_reg + 1;
			r->rdi += 4;
		} else {
			hv.dev_reg = *p;
			r->rsi += 4;
		}
		return;
	}
	if (in)
		r->rax = (r->rax & ~0xffffffffull) | (uint32_t)(hv.dev_reg + 1);
	else
		hv.dev_reg = (uint32_t)r->rax;
}

/* The register a VMX instruction-information field names (SDM Table 28-14). */
static uint64_t *gpr_of(struct regs *r, unsigned idx)
{
	static const unsigned char slot[16] = { 0, 1, 2, 3, 255, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
	if (slot[idx & 15] == 255)
		fail("VMREAD/VMWRITE with RSP", idx);
	return &((uint64_t *)r)[slot[idx & 15]];
}

/* L2 executed VMREAD/VMWRITE and it exited: emulate it on L1's software
 * copy of the one field L2 uses, as a nested hypervisor without shadow
 * VMCS support must (register operands only). */
static void handle_vmcs_access(struct regs *r, int write)
{
	uint64_t info = vmread(VMCS_VMX_INSTRUCTION_INFO);
	if (!(info & (1u << 10)))
		fail("VMREAD/VMWRITE with a memory operand", info);
	uint64_t field = *gpr_of(r, (unsigned)(info >> 28) & 15);
	uint64_t *reg = gpr_of(r, (unsigned)(info >> 3) & 15);
	uint64_t rflags = vmread(VMCS_GUEST_RFLAGS) & ~0x8d5ull; /* VMsucceed */
	if (field != L2_VMCS_FIELD) {
		rflags |= 0x40; /* VMfailValid(12): ZF */
	} else if (write) {
		hv.soft_field = *reg;
	} else {
		*reg = hv.soft_field;
	}
	write_field(VMCS_GUEST_RFLAGS, rflags);
}

/* What L2 left in its VMCS field: in the shadow VMCS, or L1's copy. */
static uint64_t l2_field_value(void)
{
	if (!hv.shadow)
		return hv.soft_field;
	check(vmptrld((uint64_t)(uintptr_t)shadow_vmcs_region), "VMPTRLD shadow");
	uint64_t v = vmread(L2_VMCS_FIELD);
	check(vmptrld((uint64_t)(uintptr_t)vmcs_region), "VMPTRLD");
	return v;
}

void report(void)
{
	printf("l1hv: L2 payload '%s' done, n=%lu; exits handled by L1:\n", hv.payload, hv.n);
	for (unsigned k = 0; k < 80; k++)
		if (hv.exits[k])
			printf("  reason %2u: %lu\n", k, hv.exits[k]);
}

/* Called by l1_vmexit_entry with L2's registers; returning resumes L2. */
void l1_handle_exit(struct regs *r);
void l1_handle_exit(struct regs *r)
{
	uint32_t reason = (uint32_t)vmread(VMCS_VM_EXIT_REASON);
	if (reason & (1u << 31)) {
		/* A VM-entry failure (SDM 27.8): L1 resumes at its host RIP. */
		printf("l1hv: VM-entry failure: exit reason %u, qualification %lu\n", reason & 0xffff,
		       vmread(VMCS_EXIT_QUALIFICATION));
		guest_exit(hv.bad[0] ? 3 : 2);
	}
	reason &= 0xffff;
	if (reason < 80)
		hv.exits[reason]++;
	if (irq_active()) {
		irq_handle_exit(reason, r);
		return;
	}
	switch (reason) {
	case EXIT_CPUID:
		handle_cpuid(r);
		break;
	case EXIT_IO_INSTRUCTION:
		handle_io(r);
		break;
	case EXIT_EPT_VIOLATION:
		handle_ept_violation();
		return; /* fault-like: L2 retries the access */
	case EXIT_EXCEPTION_NMI: {
		/* l2=pf: a #PF (vector 14, hardware exception, error code valid).
		 * The qualification is the address; CR2 still holds L2's value. */
		uint64_t info = vmread(VMCS_VM_EXIT_INTR_INFO), q = vmread(VMCS_EXIT_QUALIFICATION);
		if ((info & 0x80000fffu) != (0x80000000u | (3u << 8) | (1u << 11) | 14) || (q >> 12) != (PF_ADDR >> 12) ||
		    (read_cr2() & ~0xffffull) != (PF_CR2_MARK & ~0xffffull))
			fail("#PF exit information", info);
		write_field(VMCS_GUEST_RIP, r->rbx);
		return;
	}
	case EXIT_VMFUNC:
		/* A VM function L0 could not perform (invalid EPTP index): skip it. */
		break;
	case EXIT_PREEMPTION_TIMER:
		/* The timer counted down to 0 (trap-like: nothing to skip); re-arm. */
		write_field(VMCS_VMX_PREEMPTION_TIMER_VALUE, hv.timer);
		return;
	case EXIT_VMREAD:
	case EXIT_VMWRITE:
		handle_vmcs_access(r, reason == EXIT_VMWRITE);
		break;
	case EXIT_VMCALL:
		if (r->rax != HC_DONE)
			fail("L2 payload failed", r->rbx);
		if (!strcmp(hv.payload, "vmcs")) {
			uint64_t want = L2_VMCS_START + hv.n, got = l2_field_value();
			if (got != want || r->rbx != want)
				fail("L2's VMCS field", got);
			printf("l1hv: L2's VMCS field is %lu as expected (%s)\n", got,
			       hv.shadow ? "shadow VMCS" : "emulated by L1");
		}
		if (!strcmp(hv.payload, "pagetouch")) {
			if (hv.touch_mapped != hv.n)
				fail("pages mapped on EPT violations", hv.touch_mapped);
			printf("l1hv: mapped %lu pages on EPT violations\n", hv.touch_mapped);
		}
		report();
		guest_exit(0);
	case EXIT_HLT:
		fail("L2 halted", vmread(VMCS_GUEST_RIP));
	default:
		printf("l1hv: exit qualification 0x%lx at L2 rip 0x%lx\n", vmread(VMCS_EXIT_QUALIFICATION),
		       vmread(VMCS_GUEST_RIP));
		fail("unexpected exit reason", reason);
	}
	skip_instruction();
}

void l1_vmresume_failed(void);
void l1_vmresume_failed(void)
{
	check(VMX_FAIL_VALID, "VMRESUME");
	fail("VMRESUME", 0);
}

/* VM exits arrive here with L2's general registers; save them for the C
 * handler, restore them, resume L2. */
__asm__(".text\n"
	".globl l1_vmexit_entry\n"
	"l1_vmexit_entry:\n"
	"  push %r15\n push %r14\n push %r13\n push %r12\n push %r11\n push %r10\n push %r9\n push %r8\n"
	"  push %rdi\n push %rsi\n push %rbp\n push %rbx\n push %rdx\n push %rcx\n push %rax\n"
	"  mov %rsp, %rdi\n"
	"  sub $8, %rsp\n"
	"  call l1_handle_exit\n"
	"  add $8, %rsp\n"
	"  pop %rax\n pop %rcx\n pop %rdx\n pop %rbx\n pop %rbp\n pop %rsi\n pop %rdi\n"
	"  pop %r8\n pop %r9\n pop %r10\n pop %r11\n pop %r12\n pop %r13\n pop %r14\n pop %r15\n"
	"  vmresume\n"
	"  call l1_vmresume_failed\n");

int main(const struct tortuga_bootinfo *bi)
{
	/* cmdline_get() returns a static copy: take the payload name first. */
	const char *name = cmdline_get(bi, "l2");
	void (*payload)(void) = l2_cpuid;
	hv.payload = "cpuid";
	if (name && !strcmp(name, "io")) {
		payload = l2_io;
		hv.payload = "io";
	} else if (name && !strcmp(name, "vmcs")) {
		payload = l2_vmcs;
		hv.payload = "vmcs";
	} else if (name && !strcmp(name, "pagetouch")) {
		payload = l2_pagetouch;
		hv.payload = "pagetouch";
	} else if (name && !strcmp(name, "vmfunc")) {
		payload = l2_vmfunc;
		hv.payload = "vmfunc";
	} else if (name && !strcmp(name, "pf")) {
		payload = l2_pf;
		hv.payload = "pf";
	} else if (name && !strcmp(name, "real")) {
		payload = NULL; /* 16-bit code, copied by setup_vmcs() */
		hv.payload = "real";
	} else if (name && strcmp(name, "cpuid")) {
		hv.payload = irq_select(name, bi, &payload);
		if (!hv.payload)
			fail("unknown payload (l2=cpuid|io|vmcs|pagetouch|vmfunc|real|pf|timer|ipi|inject|tpr|mtf)", 0);
	}
	hv.n = parse_u64(cmdline_get(bi, "n"), 1000);
	hv.shadow = !strcmp(hv.payload, "vmcs") && parse_u64(cmdline_get(bi, "shadow"), 1) != 0;
	const char *bad = cmdline_get(bi, "bad");
	if (bad)
		for (unsigned k = 0; k + 1 < sizeof(hv.bad) && bad[k]; k++)
			hv.bad[k] = bad[k];
	hv.ept = parse_u64(cmdline_get(bi, "ept"), 1) != 0;
	hv.vpid = parse_u64(cmdline_get(bi, "vpid"), 1) != 0;
	hv.timer = parse_u64(cmdline_get(bi, "timer"), 0);
	if (!strcmp(hv.payload, "pagetouch") && (!hv.ept || hv.n > TOUCH_MAX_PAGES))
		fail("pagetouch needs ept=1 and n <= 4096", hv.n);
	if ((!strcmp(hv.payload, "vmfunc") || !strcmp(hv.payload, "real")) && !hv.ept)
		fail("this payload needs ept=1", 0);
	if (!strcmp(hv.payload, "real") && hv.n > 0xffff)
		fail("l2=real needs n < 65536", hv.n);
	for (uint32_t leaf = 0; leaf < 8; leaf++) {
		uint32_t v[4];
		cpuid(leaf, 0, v);
		for (int k = 0; k < 4; k++)
			hv.cpuid_cache[leaf][k] = v[k];
	}
	hv.cpuid_cache[1][2] &= ~(1u << 5); /* no VMX for L2 */
	if (parse_u64(cmdline_get(bi, "baseline"), 0) && irq_active())
		irq_baseline();
	if (parse_u64(cmdline_get(bi, "baseline"), 0)) {
		uint32_t r[4];
		for (uint64_t i = 0; i < hv.n; i++)
			cpuid(0, 0, r);
		printf("l1hv: baseline: %lu CPUIDs in L1\n", hv.n);
		return 0;
	}
	printf("l1hv: L1 hypervisor starting payload '%s' (n=%lu)\n", hv.payload, hv.n);
	/* The library's GDT with a 64-bit TSS (VM exits need a non-null host
	 * TR, SDM 27.2.3) and its IDT, which catches L1's exceptions. */
	exc_init();
	enable_vmx();
	setup_vmcs(payload);
	uint8_t cf, zf;
	__asm__ volatile("vmlaunch; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : : "cc", "memory");
	if (hv.bad[0] && VMX_RESULT(cf, zf) == VMX_FAIL_VALID) {
		printf("l1hv: VMLAUNCH failed: VM-instruction error %lu\n", vmread(VMCS_VM_INSTRUCTION_ERROR));
		guest_exit(3);
	}
	check(VMX_RESULT(cf, zf), "VMLAUNCH");
	fail("VMLAUNCH returned", 0);
}
