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

#include "core/loader.h"
#include "core/vm.h"

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
};

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
	e->ph.p_filesz = e->ph.p_memsz = sizeof(e->idt) + sizeof(e->stubs);
	e->ph.p_align = 16;
	for (unsigned v = 0; v < IDT_VECTORS; v++) {
		/* 64-bit interrupt gate (SDM Vol. 3A 6.14.1, Figure 6-8):
		 * offset 15:0, selector, IST, type 0xE with P=1 and DPL 0,
		 * offset 31:16, offset 63:32. Selector 0x08 is the direct boot
		 * protocol's 64-bit code segment. */
		uint64_t off = STUBS + v * STUB_SIZE;
		uint8_t *g = &e->idt[v * 16];
		g[0] = (uint8_t)off;
		g[1] = (uint8_t)(off >> 8);
		g[2] = 0x08;
		g[5] = 0x8e;
		g[6] = (uint8_t)(off >> 16);
		g[7] = (uint8_t)(off >> 24);
		e->stubs[v * STUB_SIZE] = 0xf4; /* HLT */
	}
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
	vm->be->state_changed(v, STATE_SEGS);
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

void guest_run(const struct diff_case *c, struct diff_out *o)
{
	struct vcpu *v = vm->vcpus[0];
	struct x86_state *s = &v->s;
	uint8_t code[sizeof(c->code) + 1];
	memcpy(code, c->code, c->len);
	code[c->len] = 0xc3; /* RET, as on the host (never reached) */
	/* aspace_write notes the write, so decoded blocks of the old bytes die. */
	aspace_write(&vm->as, DIFF_CODE_VA, code, c->len + 1u);
	aspace_write(&vm->as, DIFF_WIN_VA, c->mem, DIFF_WIN_SIZE);

	memcpy(s->gpr, c->in.gpr, sizeof(s->gpr));
	s->gpr[DIFF_RSP] = DIFF_STACK_VA;
	s->rflags = (c->in.rflags & 0xcd5) | RFLAGS_FIXED1;
	s->rip = DIFF_CODE_VA;
	s->activity = ACT_ACTIVE;
	vm->be->state_changed(v, STATE_GPRS | STATE_FLAGS);
	v->insn_limit = v->stats.insns + 1;
	vm->stop_reason = TORTUGA_STOP_NONE;
	vm_run(vm);

	memcpy(o->r.gpr, s->gpr, sizeof(o->r.gpr));
	o->r.gpr[DIFF_RSP] = c->in.gpr[DIFF_RSP];
	aspace_read(&vm->as, DIFF_WIN_VA, o->mem, DIFF_WIN_SIZE);
	if (vm->stop_reason == TORTUGA_STOP_INSN_LIMIT) {
		o->fault = DIFF_NO_FAULT;
		o->r.rflags = s->rflags;
		o->rip = s->rip;
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
	uint64_t frame[6];
	uint64_t sp = s->gpr[GPR_RSP] + (has_error_code(o->fault) ? 8 : 0);
	aspace_read(&vm->as, sp, frame, sizeof(frame));
	o->rip = frame[0];
	o->r.rflags = frame[2];
}
