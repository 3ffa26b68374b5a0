/*
 * Who handles an L2 exit (nested/reflect.c), reason by reason and control by
 * control, against Intel SDM Vol. 3C 26.1.2 (unconditional exits), 26.1.3
 * (conditional, with bitmaps, masks and CR3 targets) and 26.2 (exceptions,
 * interrupts, triple fault, EPT).
 */
#include "core/state.h"
#include "core/x86.h"
#include "nested/reflect.h"

#include "check.h"

static struct vmx_exec_controls c12;
static uint8_t iob_a[4096], iob_b[4096], msrb[4096];

static struct vm_exit ex(uint32_t reason)
{
	return (struct vm_exit){ .reason = reason };
}

static bool l1(struct vm_exit e)
{
	return nested_l1_wants_exit(&c12, &e);
}

static void reset(void)
{
	memset(&c12, 0, sizeof(c12));
}

static void unconditional(void)
{
	check_test = __func__;
	reset();
	/* 26.1.2: these exit whatever the controls say. */
	const uint32_t always[] = { TORTUGA_EXIT_CPUID,   TORTUGA_EXIT_GETSEC,   TORTUGA_EXIT_INVD,
				    TORTUGA_EXIT_XSETBV,  TORTUGA_EXIT_VMCALL,   TORTUGA_EXIT_VMCLEAR,
				    TORTUGA_EXIT_VMLAUNCH, TORTUGA_EXIT_VMPTRLD, TORTUGA_EXIT_VMPTRST,
				    TORTUGA_EXIT_VMREAD,  TORTUGA_EXIT_VMRESUME, TORTUGA_EXIT_VMWRITE,
				    TORTUGA_EXIT_VMXOFF,  TORTUGA_EXIT_VMXON,    TORTUGA_EXIT_INVEPT,
				    TORTUGA_EXIT_INVVPID, TORTUGA_EXIT_TRIPLE_FAULT, TORTUGA_EXIT_TASK_SWITCH,
				    TORTUGA_EXIT_INIT_SIGNAL, TORTUGA_EXIT_SIPI,
				    /* 26.5.2: L1's MTF or its injected pending MTF exit */
				    TORTUGA_EXIT_MONITOR_TRAP_FLAG };
	for (size_t k = 0; k < sizeof(always) / sizeof(always[0]); k++) {
		CHECK(l1(ex(always[k])));
		CHECK(!nested_l0_wants_exit(&(struct vm_exit){ .reason = always[k] }));
	}
}

/* One primary or secondary control bit decides the exit. */
static void control_bits(void)
{
	static const struct {
		uint32_t reason, proc, proc2, pin;
	} rows[] = {
		{ TORTUGA_EXIT_HLT, VMX_PROC_HLT_EXITING, 0, 0 },
		{ TORTUGA_EXIT_INVLPG, VMX_PROC_INVLPG_EXITING, 0, 0 },
		{ TORTUGA_EXIT_RDPMC, VMX_PROC_RDPMC_EXITING, 0, 0 },
		{ TORTUGA_EXIT_RDTSC, VMX_PROC_RDTSC_EXITING, 0, 0 },
		{ TORTUGA_EXIT_RDTSCP, VMX_PROC_RDTSC_EXITING, 0, 0 },
		{ TORTUGA_EXIT_DR_ACCESS, VMX_PROC_MOV_DR_EXITING, 0, 0 },
		{ TORTUGA_EXIT_MWAIT, VMX_PROC_MWAIT_EXITING, 0, 0 },
		{ TORTUGA_EXIT_MONITOR, VMX_PROC_MONITOR_EXITING, 0, 0 },
		{ TORTUGA_EXIT_PAUSE, VMX_PROC_PAUSE_EXITING, 0, 0 },
		{ TORTUGA_EXIT_PAUSE, 0, VMX_PROC2_PAUSE_LOOP_EXITING, 0 },
		{ TORTUGA_EXIT_INTERRUPT_WINDOW, VMX_PROC_INTR_WINDOW_EXITING, 0, 0 },
		{ TORTUGA_EXIT_NMI_WINDOW, VMX_PROC_NMI_WINDOW_EXITING, 0, 0 },
		{ TORTUGA_EXIT_TPR_BELOW_THRESHOLD, VMX_PROC_USE_TPR_SHADOW, 0, 0 },
		{ TORTUGA_EXIT_GDTR_IDTR_ACCESS, 0, VMX_PROC2_DESC_TABLE_EXITING, 0 },
		{ TORTUGA_EXIT_LDTR_TR_ACCESS, 0, VMX_PROC2_DESC_TABLE_EXITING, 0 },
		{ TORTUGA_EXIT_WBINVD, 0, VMX_PROC2_WBINVD_EXITING, 0 },
		{ TORTUGA_EXIT_RDRAND, 0, VMX_PROC2_RDRAND_EXITING, 0 },
		{ TORTUGA_EXIT_RDSEED, 0, VMX_PROC2_RDSEED_EXITING, 0 },
		{ TORTUGA_EXIT_EPT_VIOLATION, 0, VMX_PROC2_ENABLE_EPT, 0 },
		{ TORTUGA_EXIT_EPT_MISCONFIG, 0, VMX_PROC2_ENABLE_EPT, 0 },
		{ TORTUGA_EXIT_INVPCID, VMX_PROC_INVLPG_EXITING, VMX_PROC2_ENABLE_INVPCID, 0 },
		{ TORTUGA_EXIT_PREEMPTION_TIMER, 0, 0, VMX_PIN_PREEMPTION_TIMER },
		{ TORTUGA_EXIT_EXTERNAL_INTERRUPT, 0, 0, VMX_PIN_EXT_INTR_EXITING },
	};
	check_test = __func__;
	for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		reset();
		CHECK(!l1(ex(rows[k].reason)));
		c12.proc = rows[k].proc | (rows[k].proc2 ? VMX_PROC_SECONDARY_CONTROLS : 0);
		c12.proc2 = rows[k].proc2;
		c12.pin = rows[k].pin;
		if (!l1(ex(rows[k].reason))) {
			check_failures++;
			fprintf(stderr, "reason %u with its control: not reflected\n", rows[k].reason);
		}
		/* Secondary controls count only with "activate secondary controls". */
		if (rows[k].proc2) {
			c12.proc &= ~VMX_PROC_SECONDARY_CONTROLS;
			CHECK(!l1(ex(rows[k].reason)));
		}
	}
}

static void exceptions(void)
{
	check_test = __func__;
	reset();
	struct vm_exit e = { .reason = TORTUGA_EXIT_EXCEPTION_NMI,
			     .intr_info = INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | X86_UD };
	CHECK(!l1(e));
	c12.exception_bitmap = 1u << X86_UD;
	CHECK(l1(e));
	/* #BP from INT3 is a software exception: same bitmap (26.2). */
	e.intr_info = INTR_INFO_VALID | INTR_TYPE_SW_EXCEPTION | X86_BP;
	CHECK(!l1(e));
	c12.exception_bitmap |= 1u << X86_BP;
	CHECK(l1(e));
	/* #PF: bit 14 with error-code mask/match (25.6.3). */
	e.intr_info = INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_HAS_ERROR | X86_PF;
	e.intr_error = PFEC_W | PFEC_P;
	c12.exception_bitmap = 1u << X86_PF;
	c12.pf_ec_mask = PFEC_W;
	c12.pf_ec_match = PFEC_W;
	CHECK(l1(e)); /* write faults only */
	e.intr_error = PFEC_P;
	CHECK(!l1(e));
	c12.exception_bitmap = 0; /* bit clear: exits when they do not match */
	CHECK(l1(e));
	/* NMIs: NMI exiting; and they are L0's first (host NMIs). */
	e.intr_info = INTR_INFO_VALID | INTR_TYPE_NMI | X86_NMI;
	CHECK(!l1(e));
	c12.pin = VMX_PIN_NMI_EXITING;
	CHECK(l1(e));
	CHECK(nested_l0_wants_exit(&e));
	/* Machine checks are L0's. */
	e.intr_info = INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | X86_MC;
	CHECK(nested_l0_wants_exit(&e));
}

static struct vm_exit cr_exit(unsigned cr, unsigned type, uint64_t val)
{
	return (struct vm_exit){ .reason = TORTUGA_EXIT_CR_ACCESS,
				 .cr = { .cr = (uint8_t)cr, .type = (uint8_t)type, .value = val } };
}

static void control_registers(void)
{
	check_test = __func__;
	reset();
	/* MOV to CR0/CR4: a masked bit that differs from the shadow (26.1.3). */
	c12.cr0_mask = CR0_PG | CR0_TS;
	c12.cr0_shadow = CR0_PG;
	CHECK(!l1(cr_exit(0, CR_ACCESS_MOV_TO, CR0_PG | CR0_PE | CR0_MP)));
	CHECK(l1(cr_exit(0, CR_ACCESS_MOV_TO, CR0_PE)));
	c12.cr4_mask = CR4_VMXE;
	CHECK(l1(cr_exit(4, CR_ACCESS_MOV_TO, CR4_VMXE | CR4_PAE)));
	CHECK(!l1(cr_exit(4, CR_ACCESS_MOV_TO, CR4_PAE)));
	/* MOV to CR3: CR3-load exiting unless a CR3-target value matches. */
	CHECK(!l1(cr_exit(3, CR_ACCESS_MOV_TO, 0x5000)));
	c12.proc = VMX_PROC_CR3_LOAD_EXITING;
	CHECK(l1(cr_exit(3, CR_ACCESS_MOV_TO, 0x5000)));
	c12.cr3_target_count = 1;
	c12.cr3_target[0] = 0x5000;
	CHECK(!l1(cr_exit(3, CR_ACCESS_MOV_TO, 0x5000)));
	CHECK(l1(cr_exit(3, CR_ACCESS_MOV_TO, 0x6000)));
	/* MOV from CR3 / CR8, MOV to CR8. */
	CHECK(!l1(cr_exit(3, CR_ACCESS_MOV_FROM, 0)));
	c12.proc = VMX_PROC_CR3_STORE_EXITING | VMX_PROC_CR8_LOAD_EXITING;
	CHECK(l1(cr_exit(3, CR_ACCESS_MOV_FROM, 0)));
	CHECK(l1(cr_exit(8, CR_ACCESS_MOV_TO, 1)));
	CHECK(!l1(cr_exit(8, CR_ACCESS_MOV_FROM, 0)));
	c12.proc = VMX_PROC_CR8_STORE_EXITING;
	CHECK(l1(cr_exit(8, CR_ACCESS_MOV_FROM, 0)));
	/* CLTS: TS in both mask and shadow. */
	CHECK(!l1(cr_exit(0, CR_ACCESS_CLTS, 0)));
	c12.cr0_shadow |= CR0_TS;
	CHECK(l1(cr_exit(0, CR_ACCESS_CLTS, 0)));
	/* LMSW: a masked bit among PE/MP/EM/TS differing from the shadow. */
	c12.cr0_mask = CR0_MP;
	c12.cr0_shadow = 0;
	CHECK(l1(cr_exit(0, CR_ACCESS_LMSW, CR0_MP)));
	CHECK(!l1(cr_exit(0, CR_ACCESS_LMSW, CR0_EM)));
}

static void io_and_msr_bitmaps(void)
{
	check_test = __func__;
	reset();
	struct vm_exit e = { .reason = TORTUGA_EXIT_IO_INSTRUCTION, .io = { .port = 0x9000, .size = 2 } };
	CHECK(!l1(e));
	c12.proc = VMX_PROC_UNCOND_IO_EXITING;
	CHECK(l1(e));
	/* "use I/O bitmaps" overrides; bitmap B (8000H-FFFFH) is its own page. */
	c12.proc = VMX_PROC_USE_IO_BITMAPS;
	c12.io_bitmap = iob_a;
	c12.io_bitmap_b = iob_b;
	memset(iob_a, 0, sizeof(iob_a));
	memset(iob_b, 0, sizeof(iob_b));
	CHECK(!l1(e));
	iob_b[(0x9001 - 0x8000) / 8] |= 1u << (0x9001 % 8);
	CHECK(l1(e)); /* the word access touches 9001H */
	e.io.size = 1;
	CHECK(!l1(e));
	/* A bitmap that is not in RAM reads as all ones. */
	c12.io_bitmap = c12.io_bitmap_b = NULL;
	CHECK(l1(e));

	struct vm_exit m = { .reason = TORTUGA_EXIT_WRMSR, .msr = { .index = 0xc0000080 } };
	reset();
	CHECK(l1(m)); /* no MSR bitmaps: every RDMSR/WRMSR exits */
	c12.proc = VMX_PROC_USE_MSR_BITMAPS;
	c12.msr_bitmap = msrb;
	memset(msrb, 0, sizeof(msrb));
	CHECK(!l1(m));
	msrb[3072 + 0x80 / 8] |= 1; /* write bitmap for high MSRs */
	CHECK(l1(m));
	m.reason = TORTUGA_EXIT_RDMSR;
	CHECK(!l1(m));
	m.msr.index = 0x40000000; /* outside both ranges */
	CHECK(l1(m));
}

/* L0 keeps what is its own: its MMIO and unbacked memory, behind L1's EPT
 * or not; faults in L1's EPT tables are L1's. */
static void ept_ownership(void)
{
	check_test = __func__;
	struct vm_exit e = { .reason = TORTUGA_EXIT_EPT_VIOLATION };
	CHECK(nested_l0_wants_exit(&e));
	e.flags = VMEXIT_F_L1_EPT;
	CHECK(!nested_l0_wants_exit(&e));
	e.reason = TORTUGA_EXIT_EPT_MISCONFIG;
	CHECK(!nested_l0_wants_exit(&e));
	CHECK(nested_l0_wants_exit(&(struct vm_exit){ .reason = TORTUGA_EXIT_EXTERNAL_INTERRUPT }));
}

/* ---- events for the vCPU while L2 runs (nested_l2_event) ---- */

/* L2 running with IF = 1 and no blocking; nothing pending. */
static struct l2_event_state ev_base(void)
{
	return (struct l2_event_state){ .rflags = RFLAGS_FIXED1 | RFLAGS_IF };
}

static bool exits_with(struct l2_event_action a, uint16_t reason)
{
	return a.kind == L2EV_EXIT && a.reason == reason;
}

/* 26.2 and 26.4.1: with "external-interrupt exiting" an interrupt is a VM
 * exit whatever RFLAGS.IF, STI or MOV SS say; without it L0 delivers it
 * when L2 can take it (Vol. 3A 6.8.1, 6.8.3), else waits for its window. */
static void external_interrupts(void)
{
	check_test = __func__;
	struct l2_event_state s = ev_base();
	CHECK_EQ(nested_l2_event(&s).kind, L2EV_NONE);
	s.intr_pending = true;
	s.pin = VMX_PIN_EXT_INTR_EXITING;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_EXTERNAL_INTERRUPT));
	s.rflags = RFLAGS_FIXED1;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_EXTERNAL_INTERRUPT));
	s.interruptibility = INTR_BLOCK_MOV_SS;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_EXTERNAL_INTERRUPT));
	s.halted = true;
	s.interruptibility = 0;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_EXTERNAL_INTERRUPT)); /* wakes HLT */
	CHECK(!nested_l2_event(&s).intr_window);

	s = ev_base();
	s.intr_pending = true;
	struct l2_event_action a = nested_l2_event(&s);
	CHECK_EQ(a.kind, L2EV_INJECT_INTR);
	CHECK(!a.intr_window);
	s.rflags = RFLAGS_FIXED1; /* IF = 0 */
	a = nested_l2_event(&s);
	CHECK_EQ(a.kind, L2EV_NONE);
	CHECK(a.intr_window);
	s.rflags |= RFLAGS_IF;
	s.interruptibility = INTR_BLOCK_STI;
	a = nested_l2_event(&s);
	CHECK_EQ(a.kind, L2EV_NONE);
	CHECK(a.intr_window);
	s.interruptibility = INTR_BLOCK_MOV_SS;
	CHECK_EQ(nested_l2_event(&s).kind, L2EV_NONE);
	/* HLT resumes on an interrupt only with IF = 1 (Vol. 2B HLT). */
	s.interruptibility = 0;
	s.halted = true;
	CHECK_EQ(nested_l2_event(&s).kind, L2EV_INJECT_INTR);
	s.rflags = RFLAGS_FIXED1;
	CHECK_EQ(nested_l2_event(&s).kind, L2EV_NONE);
}

/* 26.2: "NMI exiting"; 27.7.1: without "virtual NMIs" blocking by NMI holds
 * NMIs off while L2 runs, with them bit 3 is virtual-NMI blocking, which
 * real NMIs ignore. Without NMI exiting, NMI blocking and MOV SS hold the
 * delivery off (Vol. 3A 6.7.1, 6.8.3). */
static void nmis(void)
{
	check_test = __func__;
	struct l2_event_state s = ev_base();
	s.nmi_pending = true;
	s.pin = VMX_PIN_NMI_EXITING;
	/* Basic exit reason 0: an exit, not "nothing". */
	struct l2_event_action a = nested_l2_event(&s);
	CHECK_EQ(a.kind, L2EV_EXIT);
	CHECK_EQ(a.reason, TORTUGA_EXIT_EXCEPTION_NMI);
	s.rflags = RFLAGS_FIXED1;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_EXCEPTION_NMI));
	s.interruptibility = INTR_BLOCK_NMI;
	CHECK_EQ(nested_l2_event(&s).kind, L2EV_NONE);
	CHECK(!nested_l2_event(&s).nmi_window); /* only a VM exit ends that blocking */
	s.pin |= VMX_PIN_VIRTUAL_NMIS;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_EXCEPTION_NMI));

	s = ev_base();
	s.nmi_pending = true;
	s.rflags = RFLAGS_FIXED1; /* IF does not mask NMIs */
	CHECK_EQ(nested_l2_event(&s).kind, L2EV_INJECT_NMI);
	s.interruptibility = INTR_BLOCK_NMI;
	a = nested_l2_event(&s);
	CHECK_EQ(a.kind, L2EV_NONE);
	CHECK(a.nmi_window);
	s.interruptibility = INTR_BLOCK_MOV_SS;
	CHECK_EQ(nested_l2_event(&s).kind, L2EV_NONE);
	s.interruptibility = 0;
	s.halted = true;
	CHECK_EQ(nested_l2_event(&s).kind, L2EV_INJECT_NMI); /* an NMI wakes HLT */
}

/* Vol. 3A Table 6-2 with 3C 26.2, 26.5: INIT, then MTF / preemption timer,
 * NMI-window exits, NMIs, interrupt-window exits, interrupts; one event
 * delivered per entry (27.6). */
static void priorities(void)
{
	check_test = __func__;
	struct l2_event_state s = ev_base();
	s.pin = VMX_PIN_EXT_INTR_EXITING | VMX_PIN_NMI_EXITING | VMX_PIN_VIRTUAL_NMIS;
	s.intr_pending = s.nmi_pending = true;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_EXCEPTION_NMI));
	s.halted = true;
	s.timer_due = TORTUGA_EXIT_PREEMPTION_TIMER;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_PREEMPTION_TIMER));
	s.init_pending = true;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_INIT_SIGNAL)); /* 26.2: INIT always exits */

	/* L1's own window exits outrank the event L0 would act on. */
	s = ev_base();
	s.pin = VMX_PIN_EXT_INTR_EXITING | VMX_PIN_NMI_EXITING | VMX_PIN_VIRTUAL_NMIS;
	s.proc = VMX_PROC_INTR_WINDOW_EXITING;
	s.intr_pending = true;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_INTERRUPT_WINDOW));
	s.nmi_pending = true;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_EXCEPTION_NMI));
	s.proc |= VMX_PROC_NMI_WINDOW_EXITING;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_NMI_WINDOW));
	s.interruptibility = INTR_BLOCK_NMI; /* virtual-NMI blocking: that window is shut */
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_EXCEPTION_NMI));
	s.pin = 0; /* L0 delivers them: the interrupt window outranks the interrupt */
	s.nmi_pending = false;
	s.interruptibility = 0;
	s.proc = VMX_PROC_INTR_WINDOW_EXITING;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_INTERRUPT_WINDOW));
	/* Nothing pending: L1's window exits are the CPU's own business at
	 * L2's next instruction boundary. */
	s.intr_pending = false;
	CHECK_EQ(nested_l2_event(&s).kind, L2EV_NONE);
	/* A halted L2 has no boundary: the window exits wake it from HLT "as
	 * an external interrupt would" / "as an NMI would" (26.2; after VM
	 * entry into HLT, 27.7.5, 27.7.6), when their window is open. */
	s.halted = true;
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_INTERRUPT_WINDOW));
	s.rflags = RFLAGS_FIXED1; /* HLT with IF = 0: the interrupt window is shut */
	CHECK_EQ(nested_l2_event(&s).kind, L2EV_NONE);
	s.pin = VMX_PIN_NMI_EXITING | VMX_PIN_VIRTUAL_NMIS; /* NMI-window exiting needs virtual NMIs (27.2.1.1) */
	s.proc |= VMX_PROC_NMI_WINDOW_EXITING; /* the NMI window does not depend on IF */
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_NMI_WINDOW));
	s.interruptibility = INTR_BLOCK_NMI; /* virtual-NMI blocking shuts it */
	CHECK_EQ(nested_l2_event(&s).kind, L2EV_NONE);
	s.rflags |= RFLAGS_IF; /* the interrupt window is open again */
	CHECK(exits_with(nested_l2_event(&s), TORTUGA_EXIT_INTERRUPT_WINDOW));

	/* One event per VM entry: the NMI goes in, the interrupt waits. */
	s = ev_base();
	s.intr_pending = s.nmi_pending = true;
	struct l2_event_action a = nested_l2_event(&s);
	CHECK_EQ(a.kind, L2EV_INJECT_NMI);
	CHECK(a.intr_window && !a.nmi_window);
}

/* 27.6: an event injected at VM entry is delivered first; exits for events
 * pending then come at the boundary after its delivery, and nothing else
 * is injected on top of it. */
static void after_injection(void)
{
	check_test = __func__;
	struct l2_event_state s = ev_base();
	s.inject_pending = true;
	s.pin = VMX_PIN_EXT_INTR_EXITING;
	s.intr_pending = true;
	struct l2_event_action a = nested_l2_event(&s);
	CHECK(exits_with(a, TORTUGA_EXIT_EXTERNAL_INTERRUPT));
	CHECK(a.after_delivery);
	s.pin = 0;
	a = nested_l2_event(&s);
	CHECK_EQ(a.kind, L2EV_NONE);
	CHECK(a.intr_window);
	s.inject_pending = false;
	CHECK(!nested_l2_event(&s).after_delivery);
}

TEST_MAIN(unconditional, control_bits, exceptions, control_registers, io_and_msr_bitmaps, ept_ownership,
	  external_interrupts, nmis, priorities, after_injection)
