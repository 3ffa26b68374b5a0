/*
 * Linear-address translation for the emu CPU: segmentation checks, the page
 * walk (Intel SDM Vol. 3A chapter 4: 32-bit, PAE and 4-level paging), access
 * rights (4.6), accessed/dirty flags (4.8), page-fault error codes (4.7), the
 * software TLB and the memory slow paths that turn MMIO and unbacked accesses
 * into VM exits.
 */
#include <errno.h>

#include "core/arch.h"
#include "core/devices/lapic.h"
#include "core/nested_hooks.h"
#include "emu.h"

/* ---- TLB ---- */

static void tlb_clear(struct emu_tlb *t)
{
	if (t->gen >= 2 && t->gen < 0xffe) {
		t->gen += 2;
		return;
	}
	for (unsigned i = 0; i < TLB_SIZE; i++) {
		t->r[i].tag = TLB_INVALID;
		t->w[i].tag = TLB_INVALID;
		t->x[i].tag = TLB_INVALID;
	}
	t->gen = 2;
}

void emu_tlb_flush_level(struct emu_cpu *c, unsigned level)
{
	unsigned lvl = level == 2;
	tlb_clear(&c->tlbs[lvl][0]);
	tlb_clear(&c->tlbs[lvl][1]);
	if (lvl == c->jmp_level)
		c->tlb_epoch = emu_new_epoch(c);
	else
		c->level_epoch[lvl] = emu_new_epoch(c);
}

void emu_tlb_flush(struct emu_cpu *c)
{
	/* tlb_max_shift only grows: the TLBs of both levels share it, and an
	 * INVLPG that drops more than required is allowed. */
	emu_tlb_flush_level(c, c->v->level);
}

/*
 * Invalidate the translations for the page containing la (INVLPG, and page
 * faults, SDM 3A 4.10.4.1). The TLB holds large pages as 4 KiB pieces; SDM
 * 4.10.2.3 requires INVLPG to drop all pieces of the page, so when large
 * pages were cached every entry in the aligned region of the largest cached
 * page size goes (invalidating more than required is allowed).
 */
void emu_flush_page(struct vcpu *v, uint64_t la)
{
	struct emu_cpu *c = emu_of(v);
	uint64_t size = 1ull << c->tlb_max_shift;
	uint64_t region = la & ~(size - 1);
	uint64_t pages = size >> PAGE_SHIFT;
	if (pages > TLB_SIZE)
		pages = TLB_SIZE;
	for (uint64_t k = 0; k < pages; k++) {
		unsigned idx = (unsigned)((region >> PAGE_SHIFT) + k) & (TLB_SIZE - 1);
		for (int t = 0; t < 2; t++) {
			struct emu_tlb *tl = &c->tlbs[v->level == 2][t];
			struct tlb_entry *e[3] = { &tl->r[idx], &tl->w[idx], &tl->x[idx] };
			for (int j = 0; j < 3; j++)
				if ((e[j]->tag & 0xfff) == tl->gen && (e[j]->tag & PAGE_MASK) - region < size)
					e[j]->tag = TLB_INVALID;
		}
	}
	c->tlb_epoch = emu_new_epoch(c);
}

void emu_tlb_protect_code(struct emu_vm *ev, struct vm *vm, uint64_t ram_page)
{
	(void)ev;
	uintptr_t host = (uintptr_t)(vm->ram.host + (ram_page << PAGE_SHIFT));
	for (uint32_t n = 0; n < vm->nvcpus; n++) {
		struct emu_cpu *c = emu_of(vm->vcpus[n]);
		if (!c)
			continue;
		for (int k = 0; k < 4; k++) {
			struct emu_tlb *t = &c->tlbs[k >> 1][k & 1];
			struct tlb_entry *w = t->w;
			for (unsigned i = 0; i < TLB_SIZE; i++)
				if ((w[i].tag & 0xfff) == t->gen && (w[i].tag & PAGE_MASK) + w[i].addend == host)
					w[i].tag = TLB_INVALID;
		}
	}
}

/* ---- page walk ---- */

struct walk {
	uint64_t gpa;
	unsigned shift; /* page size of the translation */
	bool user, write, nx; /* effective U/S, R/W, XD over all levels */
	bool dirty; /* the leaf's D flag (after walk_commit() for a write) */
	/* The entries used, top level first, for the accessed/dirty update. */
	unsigned n;
	struct {
		uint8_t *host; /* NULL if the entry is not in RAM */
		uint64_t val;
		unsigned size;
	} ent[4];
	/* EPT for L2: the linear address walked, whether an EPT fault may exit
	 * (not for probes), whether one happened, and the EPT permissions of
	 * the final translation (EPT_R/W/X as NESTED_EPT_*; all without EPT). */
	uint64_t la;
	bool may_exit, ept_failed;
	unsigned ept_perms;
};

/* L2 runs under L1's EPT: its "physical" addresses are translated again. */
static inline bool ept_on(const struct emu_cpu *c)
{
	return c->v->level == 2 && vmx_proc2(c->v->ctls, VMX_PROC2_ENABLE_EPT);
}

/* An EPT violation or misconfiguration in L1's EPT: the VM exit (which L0
 * reflects to L1) replaces the access, and the instruction -- or the event
 * delivery -- is abandoned (SDM 29.3.3: EPT violations are fault-like). */
__attribute__((noreturn)) static void ept_exit(struct emu_cpu *c, struct vm_exit *e)
{
	if (c->delivering >= 0) {
		e->idt_vec_info = c->delivering_info;
		e->idt_vec_error = c->delivering_error;
	}
	vcpu_handle_exit(c->v, e);
	emu_abort(c);
}

/* Translate an L2-physical address through EPT for a walk: false (after
 * setting w->ept_failed) if a probe hit an EPT fault. */
static bool ept_walk_gpa(struct emu_cpu *c, struct walk *w, uint64_t *gpa, unsigned acc, bool final)
{
	uint64_t l1;
	unsigned perms;
	struct vm_exit e;
	if (nested_ept_translate(c->v, *gpa, acc, true, w->la, final, &l1, &perms, &e)) {
		*gpa = l1;
		if (final)
			w->ept_perms = perms;
		return true;
	}
	if (w->may_exit)
		ept_exit(c, &e);
	w->ept_failed = true;
	return false;
}

static uint64_t read_pte(struct emu_cpu *c, struct walk *w, uint64_t gpa, unsigned size, uint8_t **host)
{
	if (ept_on(c) && !ept_walk_gpa(c, w, &gpa, NESTED_EPT_R, false)) {
		*host = NULL;
		return 0; /* not present: the walk stops */
	}
	uint8_t *h = aspace_ram_ptr(&c->vm->as, gpa, size);
	*host = h;
	uint64_t v = 0;
	if (h)
		memcpy(&v, h, size);
	else
		aspace_read(&c->vm->as, gpa, &v, size);
	return v;
}

/* Set A (and D) in a paging-structure entry (SDM 4.8); entries outside RAM
 * are not written. */
static void set_ad(struct emu_cpu *c, uint8_t *host, uint64_t *pte, uint64_t bits, unsigned size)
{
	if ((*pte & bits) == bits || !host)
		return;
	*pte |= bits;
	memcpy(host, pte, size);
	ram_note_write(&c->vm->ram, host, size);
}

static void note_entry(struct walk *w, uint8_t *host, uint64_t val, unsigned size)
{
	w->ent[w->n].host = host;
	w->ent[w->n].val = val;
	w->ent[w->n].size = size;
	w->n++;
}

/*
 * Set A in every entry the walk used and D in the leaf for a write (SDM 4.8),
 * once the access is known to be allowed: D is set "whenever there is a write
 * to a linear address", and an access that faults writes nothing, as Bochs
 * does (it updates A/D only after its permission checks).
 */
static void walk_commit(struct emu_cpu *c, struct walk *w, bool is_write)
{
	for (unsigned k = 0; k < w->n; k++) {
		bool leaf = k == w->n - 1;
		set_ad(c, w->ent[k].host, &w->ent[k].val, PTE_A | (leaf && is_write ? PTE_D : 0), w->ent[k].size);
		if (leaf)
			w->dirty = (w->ent[k].val & PTE_D) != 0;
	}
}

/*
 * Walk the paging structures for la. Returns 0 and fills w, or a page-fault
 * error code with bit 31 set (so that 0 is never a valid fault result) whose
 * P and RSVD bits say why; the caller adds W/U/I.
 */
#define WALK_FAULT (1u << 31)

static uint32_t walk(struct emu_cpu *c, uint64_t la, struct walk *w)
{
	const struct x86_state *s = c->s;
	uint64_t rsvd_phys = ~0ull << c->vm->model.phys_bits;
	bool nxe = (s->efer & EFER_NXE) != 0;
	uint64_t nx_rsvd = nxe ? 0 : PTE_NX;
	w->user = w->write = true;
	w->nx = false;
	w->dirty = true;
	w->n = 0;

	w->shift = PAGE_SHIFT;
	if (!(s->cr0 & CR0_PG)) {
		w->gpa = la & 0xffffffffull;
		return 0;
	}

	if (!(s->cr4 & CR4_PAE)) {
		/* 32-bit paging (SDM 4.3). */
		uint8_t *h;
		uint64_t pde_a = (s->cr3 & 0xfffff000ull) | ((la >> 20) & 0xffc);
		uint64_t pde = read_pte(c, w, pde_a, 4, &h);
		if (!(pde & PTE_P))
			return WALK_FAULT;
		w->user &= (pde & PTE_U) != 0;
		w->write &= (pde & PTE_W) != 0;
		if ((pde & PTE_PS) && (s->cr4 & CR4_PSE)) {
			/* 4-MByte page; bits 20:13 hold PA bits 39:32 (PSE-36). */
			uint64_t hi = ((pde >> 13) & 0xff) << 32;
			if ((pde & (1ull << 21)) || (hi & rsvd_phys))
				return WALK_FAULT | PFEC_RSVD | PFEC_P;
			note_entry(w, h, pde, 4);
			w->dirty = (pde & PTE_D) != 0;
			w->shift = 22;
			w->gpa = (pde & 0xffc00000ull) | hi | (la & 0x3fffff);
			return 0;
		}
		note_entry(w, h, pde, 4);
		uint64_t pte_a = (pde & 0xfffff000ull) | ((la >> 10) & 0xffc);
		uint64_t pte = read_pte(c, w, pte_a, 4, &h);
		if (!(pte & PTE_P))
			return WALK_FAULT;
		w->user &= (pte & PTE_U) != 0;
		w->write &= (pte & PTE_W) != 0;
		note_entry(w, h, pte, 4);
		w->dirty = (pte & PTE_D) != 0;
		w->gpa = (pte & 0xfffff000ull) | (la & 0xfff);
		return 0;
	}

	uint64_t table;
	int level;
	if (s->efer & EFER_LMA) {
		table = s->cr3 & 0x000ffffffffff000ull;
		level = 4;
	} else {
		/* PAE paging (SDM 4.4): the PDPTE register selected by bits
		 * 31:30, loaded (and checked) when CR3 was (4.4.1). While L2
		 * runs under EPT the PDPTEs are guest-physical through EPT
		 * (SDM Vol. 3C 29.3.1): read them now, with the reserved-bit
		 * check of 4.4.1. */
		uint64_t pdpte = s->pdpte[(la >> 30) & 3];
		if (ept_on(c)) {
			uint8_t *h;
			pdpte = read_pte(c, w, (s->cr3 & 0xffffffe0ull) + ((la >> 30) & 3) * 8, 8, &h);
			if ((pdpte & PTE_P) && (pdpte & (rsvd_phys | 0x1e6ull | PTE_NX)))
				return WALK_FAULT | PFEC_RSVD | PFEC_P;
		}
		if (!(pdpte & PTE_P))
			return WALK_FAULT;
		table = pdpte & 0x000ffffffffff000ull;
		level = 2;
	}

	for (;; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);
		uint8_t *h;
		uint64_t ea = table + ((la >> shift) & 0x1ff) * 8;
		uint64_t e = read_pte(c, w, ea, 8, &h);
		if (!(e & PTE_P))
			return WALK_FAULT;
		uint64_t rsvd = (rsvd_phys & 0x000fffffffffffffull) | nx_rsvd;
		bool leaf = level == 1 || ((e & PTE_PS) && level <= 3);
		if (level == 4 && (e & PTE_PS))
			rsvd |= PTE_PS;
		if (level == 3 && (e & PTE_PS) && !cpu_has(&c->vm->model, CPUF_PDPE1GB))
			rsvd |= PTE_PS;
		if (leaf && level == 3)
			rsvd |= 0x3fffe000ull; /* 1-GByte page: bits 29:13 */
		if (leaf && level == 2)
			rsvd |= 0x1fe000ull; /* 2-MByte page: bits 20:13 */
		if (e & rsvd)
			return WALK_FAULT | PFEC_RSVD | PFEC_P;
		w->user &= (e & PTE_U) != 0;
		w->write &= (e & PTE_W) != 0;
		w->nx |= nxe && (e & PTE_NX);
		note_entry(w, h, e, 8);
		if (leaf) {
			w->dirty = (e & PTE_D) != 0;
			uint64_t off_mask = (1ull << shift) - 1;
			w->shift = shift;
			w->gpa = (e & 0x000ffffffffff000ull & ~off_mask) | (la & off_mask);
			return 0;
		}
		table = e & 0x000ffffffffff000ull;
	}
}

/*
 * Access rights (SDM 4.6). Returns the PFEC_P-style fault code or 0.
 */
static bool access_ok(const struct emu_cpu *c, const struct walk *w, unsigned acc, bool user)
{
	const struct x86_state *s = c->s;
	unsigned kind = acc & 3;
	if (!(s->cr0 & CR0_PG))
		return true;
	if (user) {
		if (!w->user)
			return false;
		if (kind == ACC_WRITE && !w->write)
			return false;
		if (kind == ACC_EXEC && w->nx)
			return false;
		return true;
	}
	if (kind == ACC_EXEC) {
		if (w->nx)
			return false;
		if (w->user && (s->cr4 & CR4_SMEP))
			return false;
		return true;
	}
	/* Supervisor data access to a user page with SMAP (4.6.1). */
	if (w->user && (s->cr4 & CR4_SMAP) &&
	    ((acc & ACC_IMPLICIT) || !(c->s->rflags & RFLAGS_AC)))
		return false;
	if (kind == ACC_WRITE && !w->write && (s->cr0 & CR0_WP))
		return false;
	return true;
}

static uint32_t pfec_for(const struct emu_cpu *c, unsigned acc, bool user)
{
	uint32_t e = 0;
	if ((acc & 3) == ACC_WRITE)
		e |= PFEC_W;
	if (user)
		e |= PFEC_U;
	if ((acc & 3) == ACC_EXEC &&
	    ((c->s->cr4 & CR4_SMEP) || ((c->s->cr4 & CR4_PAE) && (c->s->efer & EFER_NXE))))
		e |= PFEC_I;
	return e;
}

/* Under EPT a TLB entry also needs the EPT permission; a write entry is
 * only cached from a write access, which set the EPT dirty flag (29.3.5). */
static void tlb_fill(struct emu_cpu *c, uint64_t la, const struct walk *w, bool user, unsigned acc)
{
	uint8_t *host = aspace_ram_ptr(&c->vm->as, w->gpa & PAGE_MASK, PAGE_SIZE);
	if (!host || lapic_mmio_claims(c->v->lapic, w->gpa))
		return;
	struct emu_tlb *t = c->tlb;
	uint64_t tag = emu_tlb_tag(t, la);
	uintptr_t addend = (uintptr_t)host - (uintptr_t)(la & PAGE_MASK);
	unsigned idx = (la >> 12) & (TLB_SIZE - 1);
	bool ept = ept_on(c);
	if (w->shift > c->tlb_max_shift)
		c->tlb_max_shift = w->shift;
	/* Supervisor access to a user page under SMAP depends on RFLAGS.AC,
	 * which changes without a TLB flush: never cache it. */
	if (!user && w->user && (c->s->cr4 & CR4_SMAP))
		return;
	if (access_ok(c, w, ACC_EXEC, user) && (w->ept_perms & NESTED_EPT_X))
		t->x[idx] = (struct tlb_entry){ tag, addend };
	/* Data accesses to a page with watched bytes must reach the slow path
	 * (debug.c). */
	if (unlikely(c->bp_data) && emu_debug_page_watched(c, la & PAGE_MASK))
		return;
	if (access_ok(c, w, ACC_READ, user) && (w->ept_perms & NESTED_EPT_R))
		t->r[idx] = (struct tlb_entry){ tag, addend };
	if (w->dirty && access_ok(c, w, ACC_WRITE, user) && (w->ept_perms & NESTED_EPT_W) &&
	    (!ept || (acc & 3) == ACC_WRITE) && !c->vm->ram.code[ram_page(&c->vm->ram, host)])
		t->w[idx] = (struct tlb_entry){ tag, addend };
}

/*
 * Linear to (L1-)physical. may_exit: an EPT fault becomes its VM exit and
 * abandons the instruction; without it (probes) translate just fails.
 */
static bool translate(struct emu_cpu *c, uint64_t la, unsigned acc, uint64_t *gpa, uint32_t *pfec, bool may_exit)
{
	bool user = c->cpl == 3 && !(acc & (ACC_IMPLICIT | ACC_SUPER));
	struct walk w = { .la = la, .may_exit = may_exit, .ept_perms = NESTED_EPT_R | NESTED_EPT_W | NESTED_EPT_X };
	uint32_t f = walk(c, la, &w);
	if (w.ept_failed) {
		*pfec = 0;
		return false;
	}
	if (f) {
		*pfec = (f & ~WALK_FAULT) | pfec_for(c, acc, user);
		return false;
	}
	if (!access_ok(c, &w, acc, user)) {
		*pfec = PFEC_P | pfec_for(c, acc, user);
		return false;
	}
	/* Under EPT the final guest-physical access is translated (and may
	 * fault) before the walk's accessed/dirty updates are committed. */
	if (ept_on(c)) {
		unsigned kind = acc & 3;
		unsigned eacc = kind == ACC_WRITE ? NESTED_EPT_W : kind == ACC_EXEC ? NESTED_EPT_X : NESTED_EPT_R;
		if (!ept_walk_gpa(c, &w, &w.gpa, eacc, true)) {
			*pfec = 0;
			return false;
		}
	}
	walk_commit(c, &w, (acc & 3) == ACC_WRITE);
	/* Fill only the TLB of the current privilege class, and never from
	 * implicit accesses (their rights differ, e.g. under SMAP). */
	if (!(acc & ACC_IMPLICIT) && user == (c->cpl == 3))
		tlb_fill(c, la, &w, user, acc);
	*gpa = w.gpa;
	return true;
}

uint64_t emu_translate(struct emu_cpu *c, uint64_t la, unsigned acc)
{
	uint64_t gpa;
	uint32_t pfec;
	if (!translate(c, la, acc, &gpa, &pfec, true)) {
		/* A page fault invalidates the TLB entries for the page
		 * (SDM 3A 4.10.4.1), so that a retry walks the tables again. */
		emu_flush_page(c->v, la);
		c->exc_cr2 = la;
		emu_raise(c, X86_PF, pfec);
	}
	return gpa;
}

bool emu_translate_probe(struct emu_cpu *c, uint64_t la, unsigned acc, uint64_t *gpa)
{
	uint32_t pfec;
	return translate(c, la, acc, gpa, &pfec, false);
}

/* ---- segmentation (SDM Vol. 3A 5.3 limit checking, 5.4 type checking) ---- */

__attribute__((noreturn)) static void seg_fault(struct emu_cpu *c, unsigned seg)
{
	emu_raise(c, seg == SEG_SS ? X86_SS : X86_GP, 0);
}

/*
 * Alignment check (SDM 3A 6.15 "Interrupt 17", Table 6-7): with CR0.AM and
 * RFLAGS.AC at CPL 3, a data access to a word, doubleword or quadword that is
 * not naturally aligned raises #AC(0). Supervisor-mode and implicit
 * accesses (event delivery, descriptor tables) are not checked.
 */
static void check_alignment(struct emu_cpu *c, uint64_t la, unsigned size, unsigned acc)
{
	if ((acc & 3) == ACC_EXEC || (acc & (ACC_IMPLICIT | ACC_SUPER)))
		return;
	if ((size == 2 || size == 4 || size == 8) && (la & (size - 1)))
		emu_raise(c, X86_AC, 0);
}

uint64_t emu_linear(struct emu_cpu *c, unsigned seg, uint64_t off, unsigned size, unsigned acc)
{
	if (unlikely(c->s->rflags & c->ac_mask))
		check_alignment(c, c->seg_base[seg] + off, size, acc);
	if (c->mode == MODE_LONG64) {
		uint64_t la = c->seg_base[seg] + off;
		unsigned bits = c->vm->model.virt_bits;
		if ((uint64_t)((int64_t)(la << (64 - bits)) >> (64 - bits)) != la)
			seg_fault(c, seg);
		return la;
	}
	const struct x86_segment *sg = &c->s->seg[seg];
	if (c->mode != MODE_REAL16 && !(c->s->rflags & RFLAGS_VM)) {
		if (sg->ar & SEG_AR_UNUSABLE)
			seg_fault(c, seg);
		unsigned type = sg->ar & SEG_AR_TYPE_MASK;
		unsigned kind = acc & 3;
		if (kind == ACC_WRITE && ((type & SEG_AR_TYPE_CODE) || !(type & SEG_AR_TYPE_RW)))
			seg_fault(c, seg);
		if (kind == ACC_READ && (type & SEG_AR_TYPE_CODE) && !(type & SEG_AR_TYPE_RW) &&
		    seg != SEG_CS)
			seg_fault(c, seg);
	}
	uint64_t last = off + size - 1;
	unsigned type = sg->ar & SEG_AR_TYPE_MASK;
	if (!(type & SEG_AR_TYPE_CODE) && (type & SEG_AR_TYPE_DC) && (sg->ar & SEG_AR_S)) {
		/* Expand-down: valid offsets are limit+1 .. 0xffff or 0xffffffff. */
		uint64_t upper = (sg->ar & SEG_AR_DB) ? 0xffffffffull : 0xffffull;
		if (off <= sg->limit || last > upper)
			seg_fault(c, seg);
	} else if (last > sg->limit) {
		seg_fault(c, seg);
	}
	return (c->seg_base[seg] + off) & 0xffffffffull;
}

/* ---- slow paths ---- */

static uint64_t mmio_exit(struct emu_cpu *c, uint64_t la, uint64_t gpa, unsigned size, bool write,
			  uint64_t val, bool mapped)
{
	uint64_t data = val;
	struct vm_exit e = {
		.reason = mapped ? TORTUGA_EXIT_EPT_MISCONFIG : TORTUGA_EXIT_EPT_VIOLATION,
		/* EPT violation qualification (SDM 28.2.1 Table 28-7): bit 0 read,
		 * bit 1 write, bit 7 linear address valid, bit 8 translation. */
		.qual = mapped ? 0 : ((write ? 2u : 1u) | (1u << 7) | (1u << 8)),
		.gla = la,
		.gpa = gpa,
		.aux = gpa,
		.mmio = { .gpa = gpa, .size = (uint8_t)size, .write = write, .data = &data },
	};
	vcpu_handle_exit(c->v, &e);
	/* L0 may have queued an event: deliver it after this instruction. */
	emu_break(c);
	return data & size_mask(size);
}

static uint64_t read_page(struct emu_cpu *c, uint64_t la, unsigned size, unsigned acc)
{
	uint64_t gpa = emu_translate(c, la, acc);
	if (lapic_mmio_claims(c->v->lapic, gpa))
		return mmio_exit(c, la, gpa, size, false, 0, true);
	uint8_t *h = aspace_ram_ptr(&c->vm->as, gpa, size);
	if (h) {
		uint64_t v = 0;
		memcpy(&v, h, size);
		return v;
	}
	const struct mem_region *r = aspace_find(&c->vm->as, gpa);
	return mmio_exit(c, la, gpa, size, false, 0, r != NULL);
}

/* Data breakpoints watch explicit accesses; event delivery and descriptor
 * table accesses are not checked. */
static inline void debug_access(struct emu_cpu *c, uint64_t la, unsigned size, unsigned acc)
{
	if (unlikely(c->bp_data) && !(acc & (ACC_IMPLICIT | ACC_SUPER)) && (acc & 3) != ACC_EXEC)
		emu_debug_data_access(c, la, size, (acc & 3) == ACC_WRITE);
}

uint64_t emu_read_slow(struct emu_cpu *c, uint64_t la, unsigned size, unsigned acc)
{
	debug_access(c, la, size, acc);
	unsigned first = 4096 - (unsigned)(la & 0xfff);
	if (first >= size)
		return read_page(c, la, size, acc);
	/* Crosses a page boundary: two accesses, low part first. */
	uint64_t lo = 0, hi = 0;
	for (unsigned k = 0; k < first; k++)
		lo |= read_page(c, la + k, 1, acc) << (8 * k);
	for (unsigned k = 0; k < size - first; k++)
		hi |= read_page(c, la + first + k, 1, acc) << (8 * k);
	return lo | (hi << (8 * first));
}

static void write_page(struct emu_cpu *c, uint64_t la, uint64_t gpa, unsigned size, uint64_t val)
{
	if (lapic_mmio_claims(c->v->lapic, gpa)) {
		mmio_exit(c, la, gpa, size, true, val, true);
		return;
	}
	uint8_t *h = aspace_ram_ptr(&c->vm->as, gpa, size);
	if (h) {
		memcpy(h, &val, size);
		uint64_t page = ram_page(&c->vm->ram, h);
		if (c->vm->ram.code[page] || c->vm->ram.code[ram_page(&c->vm->ram, h + size - 1)]) {
			ram_note_write(&c->vm->ram, h, size);
			c->brk = true; /* the running block may have been rewritten */
		}
		return;
	}
	const struct mem_region *r = aspace_find(&c->vm->as, gpa);
	mmio_exit(c, la, gpa, size, true, val, r != NULL);
}

void emu_write_slow(struct emu_cpu *c, uint64_t la, unsigned size, uint64_t val, unsigned acc)
{
	debug_access(c, la, size, acc);
	unsigned first = 4096 - (unsigned)(la & 0xfff);
	if (first >= size) {
		write_page(c, la, emu_translate(c, la, acc), size, val);
		return;
	}
	/* Translate both pages before writing either (no partial writes). */
	uint64_t g0 = emu_translate(c, la, acc);
	uint64_t g1 = emu_translate(c, la + first, acc);
	for (unsigned k = 0; k < first; k++)
		write_page(c, la + k, g0 + k, 1, val >> (8 * k));
	for (unsigned k = 0; k < size - first; k++)
		write_page(c, la + first + k, g1 + k, 1, val >> (8 * (first + k)));
}

void emu_probe_write(struct emu_cpu *c, uint64_t la, unsigned size)
{
	struct tlb_entry *e = &c->tlb->w[(la >> 12) & (TLB_SIZE - 1)];
	if (e->tag == emu_tlb_tag(c->tlb, la) && (la & 0xfff) + size <= 4096)
		return;
	emu_translate(c, la, ACC_WRITE);
	if ((la & 0xfff) + size > 4096)
		emu_translate(c, (la & PAGE_MASK) + PAGE_SIZE, ACC_WRITE);
}

/*
 * Linear-memory access for exit handlers (backend_ops.access_linear): the
 * translation the running level's instruction would get, at its CPL, with
 * its page-fault error code on failure. Every page is translated before any
 * byte is written, so a fault never leaves a partial write.
 */
int emu_access_linear(struct vcpu *v, uint64_t la, void *buf, unsigned len, bool write, uint32_t *error)
{
	struct emu_cpu *c = emu_of(v);
	unsigned acc = write ? ACC_WRITE : ACC_READ;
	uint64_t gpa[2];
	unsigned first = 4096 - (unsigned)(la & 0xfff);
	if (first > len)
		first = len;
	unsigned pages = first < len ? 2 : 1;
	for (unsigned k = 0; k < pages; k++) {
		uint64_t a = k ? (la & PAGE_MASK) + PAGE_SIZE : la;
		/* Exit handlers run at level 1, which has no EPT of L1's: the
		 * translation cannot fail on EPT. */
		if (!translate(c, a, acc, &gpa[k], error, false)) {
			c->s->cr2 = a;
			return ARCH_FAULT(X86_PF);
		}
	}
	uint8_t *p = buf;
	const struct aspace *as = &c->vm->as;
	if (write) {
		aspace_write(as, gpa[0], p, first);
		if (pages > 1)
			aspace_write(as, gpa[1], p + first, len - first);
	} else {
		aspace_read(as, gpa[0], p, first);
		if (pages > 1)
			aspace_read(as, gpa[1], p + first, len - first);
	}
	return 0;
}
