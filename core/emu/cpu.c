/*
 * The emu backend's run loop and block cache.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/cost_model.h"
#include "emu.h"
#include "exec.h"
#include "task.h"

#define ARENA_SIZE (64u << 20)
#define HASH_BITS 16

/* ---- mode ---- */

void emu_update_mode(struct emu_cpu *c)
{
	struct x86_state *s = c->s;
	const struct x86_segment *cs = &s->seg[SEG_CS];
	uint32_t mode;
	if (!(s->cr0 & CR0_PE) || (s->rflags & RFLAGS_VM))
		mode = MODE_REAL16;
	else if (s->efer & EFER_LMA)
		mode = (cs->ar & SEG_AR_L) ? MODE_LONG64 : (cs->ar & SEG_AR_DB) ? MODE_COMPAT32 : MODE_COMPAT16;
	else
		mode = (cs->ar & SEG_AR_DB) ? MODE_LEGACY32 : MODE_LEGACY16;
	c->mode = mode;
	if (!(s->cr0 & CR0_PE))
		c->cpl = 0;
	else if (s->rflags & RFLAGS_VM)
		c->cpl = 3;
	else
		c->cpl = cs->sel & 3;
	c->tlb = &c->tlbs[c->v->level == 2][c->cpl == 3];
	c->ac_mask = (s->cr0 & CR0_AM) && c->cpl == 3 ? RFLAGS_AC : 0;
	switch (mode) {
	case MODE_LONG64:
		c->ip_mask = ~0ull;
		break;
	case MODE_COMPAT32:
	case MODE_LEGACY32:
		c->ip_mask = 0xffffffffull;
		break;
	default:
		c->ip_mask = 0xffffull;
	}
	for (int i = 0; i < SEG_COUNT; i++)
		c->seg_base[i] = (mode == MODE_LONG64 && i < SEG_FS) ? 0 : s->seg[i].base;
	/* The jump cache is keyed by CS.base + RIP under a mode: revalidate --
	 * except when only the level changed: each level keeps its cache, valid
	 * while its CPL is the one its entries were made at. */
	unsigned lvl = c->v->level == 2;
	if (lvl != c->jmp_level) {
		c->level_epoch[c->jmp_level] = c->tlb_epoch;
		c->jmp_level = lvl;
		c->tlb_epoch = c->level_epoch[lvl];
		if (c->level_cpl[lvl] != c->cpl || c->level_mode[lvl] != mode)
			c->tlb_epoch = emu_new_epoch(c);
	} else {
		c->tlb_epoch = emu_new_epoch(c);
	}
	c->level_cpl[lvl] = c->cpl;
	c->level_mode[lvl] = mode;
}

/* ---- block cache ---- */

static void cache_flush(struct vm *vm)
{
	struct emu_vm *ev = emu_vm_of(vm);
	memset(ev->hash, 0, (ev->hash_mask + 1) * sizeof(*ev->hash));
	ev->arena_used = 0;
	ev->flushes++;
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i] && vm->vcpus[i]->be) {
			struct emu_cpu *o = emu_of(vm->vcpus[i]);
			o->tlb_epoch = emu_new_epoch(o);
			o->level_epoch[0] = emu_new_epoch(o);
			o->level_epoch[1] = emu_new_epoch(o);
		}
}

static inline bool block_valid(const struct guest_ram *ram, const struct emu_block *b)
{
	if (ram->gen[b->page[0]] != b->gen[0])
		return false;
	return b->page[1] == ~0ull || ram->gen[b->page[1]] == b->gen[1];
}

static inline uint32_t hash_of(uint64_t gpa, uint32_t mode, uint32_t mask)
{
	uint64_t h = (gpa ^ ((uint64_t)mode << 60)) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 40) & mask;
}

static struct emu_block *lookup_slow(struct emu_cpu *c, uint64_t la)
{
	struct vm *vm = c->vm;
	struct emu_vm *ev = emu_vm_of(vm);
	uint64_t gpa = emu_translate(c, la, ACC_EXEC);
	uint8_t *host = aspace_ram_ptr(&vm->as, gpa, 1);
	if (!host) {
		vm_error(vm, -EFAULT, "guest executes from non-RAM physical address 0x%llx",
			 (unsigned long long)gpa);
		vm_stop(vm, TORTUGA_STOP_ERROR, TORTUGA_STATUS_ERROR);
		return NULL;
	}
	uint32_t h = hash_of(gpa, c->mode, ev->hash_mask);
	for (struct emu_block **pp = &ev->hash[h]; *pp;) {
		struct emu_block *b = *pp;
		if (!block_valid(&vm->ram, b)) {
			/* Generations only grow: a stale block never becomes valid
			 * again. Unlink it, or chains of rewritten code grow without
			 * bound (the jump cache validates its entries itself). */
			*pp = b->hnext;
			continue;
		}
		if (b->gpa == gpa && b->mode == c->mode)
			return b;
		pp = &b->hnext;
	}
	struct emu_block *b = emu_decode_block(c, la, host, gpa);
	if (!b && !vm_should_stop(vm)) {
		cache_flush(vm);
		b = emu_decode_block(c, la, host, gpa);
	}
	if (!b)
		return NULL;
	h = hash_of(gpa, c->mode, ev->hash_mask); /* unchanged; flush kept the mask */
	b->hnext = ev->hash[h];
	ev->hash[h] = b;
	return b;
}

static struct emu_block *lookup(struct emu_cpu *c)
{
	uint64_t la = c->seg_base[SEG_CS] + c->s->rip;
	struct emu_jmp_entry *je = &c->jmp[c->jmp_level][(la ^ (la >> JMP_CACHE_BITS)) & ((1u << JMP_CACHE_BITS) - 1)];
	if (likely(je->rip == la && je->epoch == c->tlb_epoch && je->b->mode == c->mode &&
		   block_valid(&c->vm->ram, je->b)))
		return je->b;
	if (c->mode != MODE_LONG64)
		la = emu_linear(c, SEG_CS, c->s->rip, 1, ACC_EXEC);
	else if (!arch_canonical_la(c, la))
		emu_raise(c, X86_GP, 0);
	struct emu_block *b = lookup_slow(c, la);
	if (b) {
		je->rip = c->seg_base[SEG_CS] + c->s->rip;
		je->epoch = c->tlb_epoch;
		je->b = b;
	}
	return b;
}

/* ---- execution ---- */

/* Instructions of a chain of blocks before the one executing have retired
 * architecturally but are counted only when the chain ends (exec.h). */
static uint64_t chain_pending(const struct emu_cpu *c)
{
	const struct emu_block *b = c->cur_block;
	return b ? c->chain_entered - b->n + (uint64_t)(c->cur - b->insn) : 0;
}

static uint64_t emu_cycles_now(struct vcpu *v)
{
	return v->cycles + chain_pending(emu_of(v)) * COST_INSN_DEFAULT;
}

/*
 * A block cut short -- by the instruction limit, the preemption timer, a
 * single step or an interrupt shadow -- runs as a copy of its first maxn
 * instructions, specialised again without flag liveness: an instruction
 * whose flags a later one would have overwritten must now record them.
 */
static const struct emu_block *cut_block(struct emu_cpu *c, const struct emu_block *b, uint32_t maxn)
{
	struct emu_block *t = c->trunc;
	memcpy(t, b, sizeof(*b));
	t->n = maxn;
	memcpy(t->insn, b->insn, maxn * sizeof(b->insn[0]));
	emu_spec_block(t->insn, maxn, b->mode, false);
	return t;
}

/*
 * Run up to maxn instructions of b as threaded code (exec.h), and after it,
 * through the links, the blocks that follow while they fit in whole in the
 * `left` instructions before the preemption timer or the instruction limit
 * and before the next guest timer or time slice is due (v->poll_at).
 */
static void run_block(struct emu_cpu *c, const struct emu_block *b, uint32_t maxn, uint64_t left)
{
	struct vcpu *v = c->v;
	if (unlikely(maxn < b->n)) {
		b = cut_block(c, b, maxn);
		left = 0;
	}
	uint64_t poll = (v->poll_at - v->cycles) / COST_INSN_DEFAULT;
	if (poll < left)
		left = poll;
	c->chain_entered = b->n;
	c->chain_end = left > b->n ? left : b->n;
	c->chain_depth = 0;
	c->brk = false;
	c->cur_block = b;
	c->cur = b->insn;
	c->block_rip = c->s->rip;
	b->insn[0].exec(c, b->insn);
	/* Everything entered retired, but for the rest of a block that broke
	 * after its instruction cur. */
	uint64_t n = c->chain_entered;
	if (c->brk)
		n -= c->cur_block->n - (uint64_t)(c->cur - c->cur_block->insn) - 1;
	emu_retire(c, n);
	c->brk = false;
	c->cur_block = NULL;
}

static void deliver_injected(struct emu_cpu *c)
{
	struct vcpu *v = c->v;
	struct vcpu_event ev = v->inject;
	v->inject.valid = false;
	emu_deliver(c, ev.vector, ev.type, ev.has_error, ev.error, c->s->rip + ev.insn_len);
}

static int emu_vcpu_run(struct vcpu *v)
{
	struct emu_cpu *c = emu_of(v);
	struct x86_state *s = c->s;
	struct vm *vm = v->vm;

	if (setjmp(c->jb)) {
		/* A fault unwound an instruction, a decode or a delivery. */
		emu_retire(c, chain_pending(c));
		c->cur_block = NULL;
		c->brk = false;
		c->bp_hit = 0; /* the faulting instruction did not complete */
		/* exc_vector < 0: emu_abort() after a VM exit took the instruction's place. */
		if (c->exc_vector >= 0)
			emu_handle_fault(c, (unsigned)c->exc_vector, c->exc_has_error, c->exc_error);
	}
	while (!vm_should_stop(vm) && s->activity == ACT_ACTIVE) {
		/* Instructions before the preemption timer or the instruction
		 * limit, at most EMU_CHAIN_MAX: a chain of blocks stays within
		 * them (exec.h "Chaining"). */
		uint64_t left = EMU_CHAIN_MAX;
		uint32_t shadow = s->interruptibility & (INTR_BLOCK_STI | INTR_BLOCK_MOV_SS);
		if (!shadow && v->inject.valid) {
			deliver_injected(c);
			continue;
		}
		/* Guest timers and the time slice (core/timer.h). */
		if (unlikely(v->cycles >= v->poll_at)) {
			if (vcpu_poll(v))
				break;
			continue;
		}
		/* Interrupt-window and NMI-window exiting (SDM Vol. 3C 26.2,
		 * 27.7.5, 27.7.6): exit as soon as the guest can take the event
		 * L0 holds; NMI-window exits first (Vol. 3A Table 6-2 with 26.2). */
		uint32_t win = v->ctls->proc & (VMX_PROC_INTR_WINDOW_EXITING | VMX_PROC_NMI_WINDOW_EXITING);
		if (unlikely(win)) {
			uint32_t reason = 0;
			if ((win & VMX_PROC_NMI_WINDOW_EXITING) &&
			    !(s->interruptibility & (INTR_BLOCK_NMI | INTR_BLOCK_MOV_SS)))
				reason = TORTUGA_EXIT_NMI_WINDOW;
			else if ((win & VMX_PROC_INTR_WINDOW_EXITING) && (s->rflags & RFLAGS_IF) && !shadow)
				reason = TORTUGA_EXIT_INTERRUPT_WINDOW;
			if (reason) {
				struct vm_exit e = { .reason = reason };
				vcpu_handle_exit(v, &e);
				continue;
			}
		}
		if (unlikely(v->timer_armed)) {
			/* VMX-preemption timer (SDM 26.5.1): exits at an instruction
			 * boundary once it counted down to zero. */
			if (v->stats.insns >= v->timer_deadline) {
				struct vm_exit e = { .reason = v->timer_reason };
				v->timer_armed = false;
				vcpu_handle_exit(v, &e);
				continue;
			}
			if (v->timer_deadline - v->stats.insns < left)
				left = v->timer_deadline - v->stats.insns;
		}
		if (v->insn_limit) {
			if (v->stats.insns >= v->insn_limit) {
				vm_stop(vm, TORTUGA_STOP_INSN_LIMIT, TORTUGA_STATUS_INSN_LIMIT);
				break;
			}
			if (v->insn_limit - v->stats.insns < left)
				left = v->insn_limit - v->stats.insns;
		}
		uint32_t maxn = left < EMU_BLOCK_MAX ? (uint32_t)left : EMU_BLOCK_MAX;
		/* RF is cleared at the start of the next instruction, after the
		 * instruction-breakpoint check it suppresses (SDM 3A 18.3.1.1).
		 * Only IRET sets it, and IRET ends its block. */
		bool rf = (s->rflags & RFLAGS_RF) != 0;
		s->rflags &= ~RFLAGS_RF;
		if (unlikely((s->dr7 | c->dr_seen[4]) & 0xff)) {
			/* Breakpoints are checked block by block: no chains. */
			left = 0;
			emu_debug_sync(c);
			if (c->bp_exec) {
				maxn = 1;
				/* A fault before the instruction, pushed with RF = 0;
				 * MOV SS blocking holds it off (SDM 3A 6.8.3). */
				if (!rf && !(shadow & INTR_BLOCK_MOV_SS) &&
				    emu_debug_exec_hit(c, c->seg_base[SEG_CS] + s->rip)) {
					emu_handle_fault(c, X86_DB, false, 0);
					continue;
				}
			}
		}
		bool tf = (s->rflags & RFLAGS_TF) != 0;
		if (shadow || tf) {
			maxn = 1;
			left = 0;
		}
		if (unlikely(vm->ram.code_gen != c->code_gen_seen)) {
			/* Decoded code was written (the writes that do so end
			 * their block): links may lead to stale blocks. */
			c->code_gen_seen = vm->ram.code_gen;
			c->tlb_epoch = emu_new_epoch(c);
			c->level_epoch[!c->jmp_level] = emu_new_epoch(c);
		}
		const struct emu_block *b = lookup(c);
		if (!b)
			break;
		if (c->stale_link) {
			/* The block a chain stopped before: remember it. */
			if (c->stale_link_flushes == emu_vm_of(vm)->flushes)
				*c->stale_link = (struct emu_link){ s->rip, c->tlb_epoch, b };
			c->stale_link = NULL;
		}
		run_block(c, b, maxn, left);
		if (shadow)
			s->interruptibility &= ~shadow;
		/* One #DB trap after the instruction for single-step (BS, SDM
		 * 18.3.1.4) and data breakpoints (B0-B3, 18.3.1.2), except right
		 * after MOV SS/POP SS, which inhibit debug exceptions up to the
		 * boundary after the next instruction (SDM 3A 6.8.3). */
		uint8_t hit = c->bp_hit;
		c->bp_hit = 0;
		if ((tf || hit) && !(s->interruptibility & INTR_BLOCK_MOV_SS)) {
			s->dr6 |= hit | (tf ? 1ull << 14 : 0);
			emu_handle_fault(c, X86_DB, false, 0);
		}
	}
	return 0;
}

/* ---- backend interface ---- */

static void emu_state_changed(struct vcpu *v, unsigned what)
{
	struct emu_cpu *c = emu_of(v);
	if (!c)
		return;
	if (what & STATE_FLAGS)
		c->lf.op = LF_NONE;
	if (what & (STATE_CRS | STATE_SEGS | STATE_FLAGS))
		emu_update_mode(c);
	if (what & STATE_TLB)
		emu_tlb_flush(c);
	if (what & STATE_TLB_L2)
		emu_tlb_flush_level(c, 2);
	emu_break(c);
}

static void emu_complete_io(struct vcpu *v, const struct vm_exit *e)
{
	(void)e;
	emu_of(v)->io_done = true;
}

static int emu_sync_state(struct vcpu *v)
{
	struct emu_cpu *c = emu_of(v);
	if (c)
		emu_flags(c);
	return 0;
}

static int emu_vcpu_init(struct vcpu *v)
{
	struct emu_cpu *c;
	if (posix_memalign((void **)&c, 64, sizeof(*c)))
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->s = &v->s;
	c->v = v;
	c->vm = v->vm;
	c->delivering = -1;
	c->canon_shift = 64u - v->vm->model.virt_bits;
	c->trunc = malloc(sizeof(struct emu_block) + (EMU_BLOCK_MAX + 1) * sizeof(struct emu_insn));
	if (!c->trunc) {
		free(c);
		return -ENOMEM;
	}
	v->be = c;
	emu_tlb_flush_level(c, 1);
	emu_tlb_flush_level(c, 2);
	emu_update_mode(c);
	return 0;
}

static void emu_vcpu_fini(struct vcpu *v)
{
	struct emu_cpu *c = v->be;
	if (c)
		free(c->trunc);
	free(v->be);
	v->be = NULL;
}

static int emu_vm_init(struct vm *vm)
{
	struct emu_vm *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	vm->be_data = ev;
	if (emu_decoders_init(ev))
		return vm_error(vm, -EINVAL, "cannot initialise the Zydis decoder");
	ev->hash_mask = (1u << HASH_BITS) - 1;
	ev->hash = calloc(ev->hash_mask + 1, sizeof(*ev->hash));
	ev->arena = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0);
	if (!ev->hash || ev->arena == MAP_FAILED) {
		if (ev->arena == MAP_FAILED)
			ev->arena = NULL;
		return vm_error(vm, -ENOMEM, "out of memory for the decoded-block cache");
	}
	ev->arena_size = ARENA_SIZE;
	return 0;
}

static void emu_vm_fini(struct vm *vm)
{
	struct emu_vm *ev = emu_vm_of(vm);
	if (!ev)
		return;
	if (ev->arena)
		munmap(ev->arena, ev->arena_size);
	free(ev->hash);
	free(ev);
	vm->be_data = NULL;
}

const struct backend_ops emu_backend_ops = {
	.name = "emu",
	.vm_init = emu_vm_init,
	.vm_fini = emu_vm_fini,
	.vcpu_init = emu_vcpu_init,
	.vcpu_fini = emu_vcpu_fini,
	.vcpu_run = emu_vcpu_run,
	.state_changed = emu_state_changed,
	.complete_io = emu_complete_io,
	.task_switch = emu_task_switch_allow,
	.flush_page = emu_flush_page,
	.sync_state = emu_sync_state,
	.cycles_now = emu_cycles_now,
	.access_linear = emu_access_linear,
};
