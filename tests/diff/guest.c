/*
 * The tortuga side of the differential suite: one VM whose vCPU runs each
 * case as exactly one instruction (insn_limit) at DIFF_CODE_VA.
 *
 * The guest is a tiny ELF built here: a 64-bit IDT whose 32 exception gates
 * each point to a HLT stub of their own. A faulting case is delivered through
 * the IDT (SDM Vol. 3A 6.14) and halts in its vector's stub, so the vector
 * is read off RIP and RFLAGS at the fault off the interrupt stack frame.
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "core/fpu.h"
#include "core/loader.h"
#include "core/vm.h"
#include "tracing/trace.h"

#include "diff.h"

#define IMG_BASE 0x100000ull
#define IDT_VECTORS 32
#define STUBS (IMG_BASE + IDT_VECTORS * 16)
#define STUB_SIZE 4

static struct vm *vm;

/* ELF64 header, one PT_LOAD program header, then the image bytes. */
struct mini_elf {
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint8_t idt[IDT_VECTORS * 16];
	uint8_t stubs[IDT_VECTORS * STUB_SIZE];
	uint8_t tss[104];
};

#define TSS (STUBS + IDT_VECTORS * STUB_SIZE)

static void build_image(struct mini_elf *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->eh.e_ident, ELFMAG, SELFMAG);
	e->eh.e_ident[EI_CLASS] = ELFCLASS64;
	e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	e->eh.e_ident[EI_VERSION] = EV_CURRENT;
	e->eh.e_type = ET_EXEC;
	e->eh.e_machine = EM_X86_64;
	e->eh.e_version = EV_CURRENT;
	e->eh.e_entry = STUBS;
	e->eh.e_phoff = offsetof(struct mini_elf, ph);
	e->eh.e_ehsize = sizeof(Elf64_Ehdr);
	e->eh.e_phentsize = sizeof(Elf64_Phdr);
	e->eh.e_phnum = 1;
	e->ph.p_type = PT_LOAD;
	e->ph.p_flags = PF_R | PF_X;
	e->ph.p_offset = offsetof(struct mini_elf, idt);
	e->ph.p_vaddr = e->ph.p_paddr = IMG_BASE;
	e->ph.p_filesz = e->ph.p_memsz = sizeof(e->idt) + sizeof(e->stubs) + sizeof(e->tss);
	/* A case's RSP may be anything: exceptions switch to IST1 of a 64-bit
	 * TSS (SDM Vol. 3A 6.14.5, 8.7; IST1 at offset 0x24). */
	uint64_t ist1 = DIFF_STACK_VA;
	memcpy(&e->tss[0x24], &ist1, 8);
	e->ph.p_align = 16;
	for (unsigned v = 0; v < IDT_VECTORS; v++) {
		/* 64-bit interrupt gate (SDM Vol. 3A 6.14.1, Figure 6-8):
		 * offset 15:0, selector, IST 1, type 0xE with P=1 and DPL 0,
		 * offset 31:16, offset 63:32. Selector 0x08 is the direct boot
		 * protocol's 64-bit code segment. */
		uint64_t off = STUBS + v * STUB_SIZE;
		uint8_t *g = &e->idt[v * 16];
		g[0] = (uint8_t)off;
		g[1] = (uint8_t)(off >> 8);
		g[2] = 0x08;
		g[4] = 1;
		g[5] = 0x8e;
		g[6] = (uint8_t)(off >> 16);
		g[7] = (uint8_t)(off >> 24);
		e->stubs[v * STUB_SIZE] = 0xf4; /* HLT */
	}
}

/*
 * The guest's own 4-level page tables (SDM Vol. 3A 4.5) with 4-KByte pages
 * for exactly what the host has too (the code page and the data pages) plus
 * what delivering an exception reads or writes (the GDT page, the IDT/TSS
 * image, the exception stack). Any other access faults with #PF on both
 * sides, with the same CR2.
 */
#define PT_BASE 0x200000ull /* PML4, PDPT, PD, then one PT per 2-MByte region */

static int build_page_tables(void)
{
	static const uint64_t pages[][2] = {
		{ 0x1000, 1 }, /* the direct boot protocol's GDT */
		{ IMG_BASE, 1 },
		{ DIFF_CODE_VA, 1 },
		{ DIFF_DATA_VA, DIFF_DATA_SIZE / 4096 },
		{ DIFF_STACK_VA - 4096, 1 },
	};
	const uint64_t rw = PTE_P | PTE_W;
	uint64_t pml4 = PT_BASE, pdpt = PT_BASE + 0x1000, pd = PT_BASE + 0x2000;
	uint64_t next_pt = PT_BASE + 0x3000;
	uint64_t zero[512] = { 0 };
	for (uint64_t t = PT_BASE; t < PT_BASE + 0x8000; t += 0x1000)
		if (aspace_write(&vm->as, t, zero, sizeof(zero)))
			return -1;
	uint64_t e = pdpt | rw;
	aspace_write(&vm->as, pml4, &e, 8);
	e = pd | rw;
	aspace_write(&vm->as, pdpt, &e, 8);
	for (size_t k = 0; k < sizeof(pages) / sizeof(pages[0]); k++) {
		for (uint64_t p = 0; p < pages[k][1]; p++) {
			uint64_t va = pages[k][0] + p * 4096;
			uint64_t pde_addr = pd + ((va >> 21) & 511) * 8, pde = 0;
			aspace_read(&vm->as, pde_addr, &pde, 8);
			if (!(pde & PTE_P)) {
				pde = next_pt | rw;
				next_pt += 0x1000;
				aspace_write(&vm->as, pde_addr, &pde, 8);
			}
			uint64_t pte = va | rw;
			aspace_write(&vm->as, (pde & ~0xfffull) + ((va >> 12) & 511) * 8, &pte, 8);
		}
	}
	struct vcpu *v = vm->vcpus[0];
	v->s.cr3 = pml4;
	vm->be->state_changed(v, STATE_CRS | STATE_TLB);
	return 0;
}

int guest_init(void)
{
	struct tortuga_config cfg;
	tortuga_config_init(&cfg);
	cfg.mem_size = 16ull << 20;
	cfg.trace_ring_events = 256;
	cfg.flags = TORTUGA_CFG_TRACE_OVERWRITE;
	int err = vm_create(&cfg, &vm);
	if (err) {
		fprintf(stderr, "diff: cannot create the VM: %s\n", vm ? vm->err : "");
		return -1;
	}
	static struct mini_elf img;
	build_image(&img);
	err = loader_load_elf(vm, &img, sizeof(img), "diff-guest", NULL);
	if (err) {
		fprintf(stderr, "diff: cannot load the guest: %s\n", vm->err);
		return -1;
	}
	struct vcpu *v = vm->vcpus[0];
	v->s.idtr.base = IMG_BASE;
	v->s.idtr.limit = IDT_VECTORS * 16 - 1;
	v->s.tr.base = TSS;
	v->s.tr.limit = sizeof(img.tss) - 1;
	v->s.tr.ar = SEG_AR_P | SYS_TYPE_TSS_BUSY;
	v->s.seg[SEG_GS].base = DIFF_GS_BASE;
	/* XSAVE enabled for the x87 and SSE components, as on the host
	 * (whose XCR0 has more: the cases request only these two). */
	v->s.cr4 |= CR4_OSXSAVE;
	v->s.xcr0 = XFEATURE_X87 | XFEATURE_SSE;
	vm->be->state_changed(v, STATE_SEGS | STATE_CRS);
	if (build_page_tables())
		return -1;
	static uint8_t fixed[4096 - DIFF_CODE_FIXED];
	diff_code_fixed(fixed);
	aspace_write(&vm->as, DIFF_CODE_VA + DIFF_CODE_FIXED, fixed, sizeof(fixed));
	/* Unimplemented-instruction warnings are expected (#UD cases). */
	vm->warn_budget = 0;
	return 0;
}

void guest_fini(void)
{
	vm_destroy(vm);
	vm = NULL;
}

static bool has_error_code(int v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21;
}

static void seg(struct x86_segment *sg, uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar)
{
	sg->sel = sel;
	sg->base = base;
	sg->limit = limit;
	sg->ar = ar;
}

/*
 * The segments of the case's mode (VMX access-rights format): the direct
 * boot protocol's flat 64-bit or 32-bit code segment and flat data, or, for
 * 16-bit code, what native.c puts in its LDT: 16-bit code based at the code
 * page and 16-bit data based at the data pages, 64 KiB each. Selectors keep
 * RPL 0: the guest runs the case at CPL 0.
 */
static void set_segments(struct x86_state *s, const struct diff_case *c)
{
	if (c->code16) {
		seg(&s->seg[SEG_CS], 0x04, DIFF_CODE_VA, 0xffff, 0x9b);
		for (int k = SEG_ES; k <= SEG_DS; k++)
			if (k != SEG_CS)
				seg(&s->seg[k], 0x0c, DIFF_DATA_VA, 0xffff, 0x93);
		return;
	}
	seg(&s->seg[SEG_CS], c->compat ? 0x18 : 0x08, 0, 0xffffffff, c->compat ? 0xc09b : 0xa09b);
	for (int k = SEG_ES; k <= SEG_DS; k++)
		if (k != SEG_CS)
			seg(&s->seg[k], 0x10, 0, 0xffffffff, 0xc093);
}

/* A case's segments, GPRs, x87/SSE state and flags into the vCPU. The FPU
 * state is loaded as FXRSTOR64 loads it on the host: everything but
 * MXCSR_MASK, which is the processor's. */
static void load_case_state(struct x86_state *s, const struct diff_case *c)
{
	set_segments(s, c);
	memcpy(s->gpr, c->in.gpr, sizeof(s->gpr));
	memcpy(s->fxsave, c->in.fx, FX_MXCSR_MASK);
	memcpy(s->fxsave + FX_ST0, c->in.fx + FX_ST0, FX_SIZE - FX_ST0);
	s->rflags = (c->in.rflags & DIFF_FLAGS) | DIFF_IF | RFLAGS_FIXED1;
}

void guest_run(const struct diff_case *c, struct diff_out *o)
{
	struct vcpu *v = vm->vcpus[0];
	struct x86_state *s = &v->s;
	uint8_t code[DIFF_CODE_MAX];
	diff_code_bytes(c, code);
	/* aspace_write notes the write, so decoded blocks of the old bytes die. */
	aspace_write(&vm->as, DIFF_CODE_VA, code, sizeof(code));
	aspace_write(&vm->as, DIFF_WIN_VA, c->mem, DIFF_WIN_SIZE);
	aspace_write(&vm->as, DIFF_TAIL_VA, c->mem + DIFF_WIN_SIZE, DIFF_TAIL_SIZE);

	load_case_state(s, c);
	s->rip = c->code16 ? 0 : DIFF_CODE_VA; /* an offset in CS */
	s->activity = ACT_ACTIVE;
	vm->be->state_changed(v, STATE_GPRS | STATE_FLAGS | STATE_SEGS);
	v->insn_limit = v->stats.insns + 1;
	vm->stop_reason = TORTUGA_STOP_NONE;
	vm_run(vm);

	memcpy(o->r.gpr, s->gpr, sizeof(o->r.gpr));
	memcpy(o->r.fx, s->fxsave, sizeof(o->r.fx));
	aspace_read(&vm->as, DIFF_WIN_VA, o->mem, DIFF_WIN_SIZE);
	aspace_read(&vm->as, DIFF_TAIL_VA, o->mem + DIFF_WIN_SIZE, DIFF_TAIL_SIZE);
	o->error = 0;
	o->cr2 = 0;
	uint64_t cs_base = c->code16 ? DIFF_CODE_VA : 0; /* RIP is an offset in CS */
	if (vm->stop_reason == TORTUGA_STOP_INSN_LIMIT) {
		o->fault = DIFF_NO_FAULT;
		o->r.rflags = s->rflags;
		o->rip = cs_base + s->rip;
		return;
	}
	uint64_t stub = s->rip - 1;
	if (vm->stop_reason != TORTUGA_STOP_HALTED || stub < STUBS ||
	    stub >= STUBS + IDT_VECTORS * STUB_SIZE || (stub - STUBS) % STUB_SIZE) {
		/* Neither one instruction nor one delivered fault. */
		o->fault = 100 + (int)vm->stop_reason;
		o->r.rflags = s->rflags;
		o->rip = s->rip;
		return;
	}
	o->fault = (int)((stub - STUBS) / STUB_SIZE);
	/* The 64-bit frame: [error code,] RIP, CS, RFLAGS, RSP, SS. */
	uint64_t frame[6], err = 0;
	uint64_t sp = s->gpr[GPR_RSP];
	if (has_error_code(o->fault)) {
		aspace_read(&vm->as, sp, &err, 8);
		sp += 8;
	}
	aspace_read(&vm->as, sp, frame, sizeof(frame));
	o->error = (uint32_t)(o->fault == 14 ? err & 3 : err);
	o->cr2 = o->fault == 14 ? s->cr2 : 0;
	o->rip = cs_base + frame[0];
	o->r.rflags = frame[2];
	o->r.gpr[GPR_RSP] = frame[3];
}

/*
 * The other pages the guest maps (build_page_tables), as the first
 * sequence found them: a sequence's stray store may land in any of them,
 * and each run starts from the same memory.
 */
static const uint64_t other_pages[] = { 0x1000, IMG_BASE, DIFF_CODE_VA, DIFF_STACK_VA - 4096 };
static uint8_t other_saved[sizeof(other_pages) / sizeof(other_pages[0])][4096];
static bool other_taken;

void guest_run_seq(const struct diff_case *c, const uint8_t *data, bool step, struct diff_seq_out *o)
{
	struct vcpu *v = vm->vcpus[0];
	struct x86_state *s = &v->s;
	for (size_t k = 0; k < sizeof(other_pages) / sizeof(other_pages[0]); k++) {
		if (other_taken)
			aspace_write(&vm->as, other_pages[k], other_saved[k], 4096);
		else
			aspace_read(&vm->as, other_pages[k], other_saved[k], 4096);
	}
	other_taken = true;
	aspace_write(&vm->as, DIFF_DATA_VA, data, DIFF_DATA_SIZE);
	load_case_state(s, c);
	s->rip = DIFF_SEQ_VA;
	s->activity = ACT_ACTIVE;
	vm->be->state_changed(v, STATE_GPRS | STATE_FLAGS | STATE_SEGS);
	uint64_t start = v->stats.insns, end = start + DIFF_SEQ_MAX_INSNS;
	do {
		v->insn_limit = step ? v->stats.insns + 1 : end;
		vm->stop_reason = TORTUGA_STOP_NONE;
		vm_run(vm);
	} while (step && vm->stop_reason == TORTUGA_STOP_INSN_LIMIT && v->stats.insns < end);
	memcpy(o->r.gpr, s->gpr, sizeof(o->r.gpr));
	o->r.rflags = s->rflags;
	o->rip = s->rip;
	o->stop = vm->stop_reason;
	o->insns = v->stats.insns - start;
	aspace_read(&vm->as, DIFF_DATA_VA, o->data, DIFF_DATA_SIZE);
}

/*
 * Not a differential case: an instruction the host runs but tortuga does
 * not implement (HADDPS, SSE3) must raise #UD in the guest and leave a
 * TORTUGA_EV_UNIMPLEMENTED trace event naming it (DESIGN.md, issue #2).
 */
int guest_check_unimplemented(void)
{
	struct tortuga_event ev[64];
	while (trace_read(vm->trace, ev, 64) > 0)
		;
	static struct diff_case c;
	static struct diff_out o;
	memset(&c, 0, sizeof(c));
	static const uint8_t haddps[] = { 0xf2, 0x0f, 0x7c, 0xc1 }; /* haddps xmm0, xmm1 */
	memcpy(c.code, haddps, sizeof(haddps));
	c.len = sizeof(haddps);
	c.in.gpr[GPR_RSP] = DIFF_WIN_VA + DIFF_WIN_SIZE / 2;
	guest_run(&c, &o);
	bool traced = false;
	uint32_t n;
	while ((n = trace_read(vm->trace, ev, 64)) > 0)
		for (uint32_t k = 0; k < n; k++)
			if (ev[k].kind == TORTUGA_EV_UNIMPLEMENTED && ev[k].reason == ZYDIS_MNEMONIC_HADDPS)
				traced = true;
	if (o.fault != 6 || !traced) {
		fprintf(stderr, "FAIL unimplemented HADDPS: fault %d (want #UD = 6), trace event %s\n", o.fault,
			traced ? "present" : "missing");
		return -1;
	}
	return 0;
}
