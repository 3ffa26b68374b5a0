/*
 * 4-level paging helpers (include/guest/paging.h; SDM Vol. 3A 4.5).
 */
#include <guest/guest.h>
#include <guest/io.h>
#include <guest/paging.h>
#include <guest/tap.h>

#define POOL_PAGES 96

static uint8_t pool[POOL_PAGES][4096] __attribute__((aligned(4096)));
static unsigned pool_used;

void *pt_alloc_page(void)
{
	if (pool_used == POOL_PAGES)
		tap_bail("paging: out of page-table pages (%u)", POOL_PAGES);
	void *p = pool[pool_used++];
	memset(p, 0, 4096);
	return p;
}

static unsigned level_shift(unsigned level)
{
	return 12 + 9 * (level - 1);
}

void pt_flush_all(void)
{
	write_cr3(read_cr3());
}

/* Replace the large-page leaf *e (at level) by a table of 512 leaves one
 * level down that map the same range with the same attributes (SDM 4.5:
 * a 2-MByte PDE or 1-GByte PDPTE holds the PAT bit at 12, a PTE at 7). */
static void split(uint64_t *e, unsigned level)
{
	uint64_t *t = pt_alloc_page();
	unsigned child = level_shift(level - 1);
	uint64_t base = *e & PT_ADDR_MASK & ~((1ull << level_shift(level)) - 1);
	uint64_t attrs = *e & ~PT_ADDR_MASK & ~PTE_PS;
	for (uint64_t i = 0; i < 512; i++)
		t[i] = (base + (i << child)) | attrs | (level - 1 > 1 ? PTE_PS : 0);
	*e = (uint64_t)(uintptr_t)t | PTE_P | PTE_W | PTE_U;
	pt_flush_all();
}

uint64_t *pt_entry(uint64_t va, unsigned level, bool create)
{
	uint64_t *t = (uint64_t *)(uintptr_t)(read_cr3() & PT_ADDR_MASK);
	for (unsigned l = 4;; l--) {
		uint64_t *e = &t[(va >> level_shift(l)) & 511];
		if (l == level)
			return e;
		if (!(*e & PTE_P)) {
			if (!create)
				return NULL;
			*e = (uint64_t)(uintptr_t)pt_alloc_page() | PTE_P | PTE_W | PTE_U;
		} else if ((*e & PTE_PS) && l <= 3) {
			if (!create)
				return NULL;
			split(e, l);
		}
		t = (uint64_t *)(uintptr_t)(*e & PT_ADDR_MASK);
	}
}

uint64_t *pt_leaf(uint64_t va, unsigned *shift)
{
	uint64_t *t = (uint64_t *)(uintptr_t)(read_cr3() & PT_ADDR_MASK);
	for (unsigned l = 4;; l--) {
		uint64_t *e = &t[(va >> level_shift(l)) & 511];
		if (!(*e & PTE_P))
			return NULL;
		if (l == 1 || ((*e & PTE_PS) && l <= 3)) {
			if (shift)
				*shift = level_shift(l);
			return e;
		}
		t = (uint64_t *)(uintptr_t)(*e & PT_ADDR_MASK);
	}
}

void pt_map(uint64_t va, uint64_t pa, unsigned shift, uint64_t flags)
{
	unsigned level = (shift - 12) / 9 + 1;
	uint64_t *e = pt_entry(va, level, true);
	*e = (pa & PT_ADDR_MASK & ~((1ull << shift) - 1)) | flags | (level > 1 ? PTE_PS : 0);
	invlpg((void *)(uintptr_t)va);
}

void pt_unmap(uint64_t va)
{
	uint64_t *e = pt_leaf(va, NULL);
	if (e)
		*e = 0;
	invlpg((void *)(uintptr_t)va);
}

void pt_update_range(uint64_t start, uint64_t end, uint64_t set, uint64_t clear)
{
	uint64_t va = start;
	while (va < end) {
		unsigned shift;
		uint64_t *leaf = pt_leaf(va, &shift);
		if (!leaf)
			tap_bail("paging: 0x%lx is not mapped", va);
		*leaf = (*leaf | set) & ~clear;
		for (unsigned l = 4; l > (shift - 12) / 9 + 1; l--)
			*pt_entry(va, l, false) |= set;
		va = (va & ~((1ull << shift) - 1)) + (1ull << shift);
	}
	pt_flush_all();
}
