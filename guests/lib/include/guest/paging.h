/*
 * 4-level paging helpers for self-test guests (SDM Vol. 3A 4.5). They edit
 * the page tables the direct boot protocol builds (an identity map of RAM,
 * include/tortuga/bootinfo.h); new paging structures come from a pool of
 * identity-mapped pages in the guest's .bss, so their physical and linear
 * addresses are equal.
 *
 * Entry bits are the PTE_* names of core/x86.h (SDM 3A Tables 4-15 to 4-20).
 */
#ifndef GUEST_PAGING_H
#define GUEST_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "core/x86.h"

#define PT_4K 12u
#define PT_2M 21u
#define PT_1G 30u

#define PT_ADDR_MASK 0x000ffffffffff000ull

/* A zeroed, identity-mapped 4 KiB page; tap_bail()s when the pool is empty. */
void *pt_alloc_page(void);

/*
 * Entry that maps va at level (4 = PML4E, 3 = PDPTE, 2 = PDE, 1 = PTE). With
 * create, missing tables are added (P|W|U, so the leaf decides the access
 * rights) and larger pages in the way are split into equivalent smaller
 * ones. Without create, NULL if the walk does not reach that level.
 */
uint64_t *pt_entry(uint64_t va, unsigned level, bool create);

/* The leaf entry that maps va and its page size shift; NULL if unmapped. */
uint64_t *pt_leaf(uint64_t va, unsigned *shift);

/* Map the page of size 1 << shift at va to pa with flags (PTE_*; PTE_P is
 * not implied, so a not-present entry can be built) and invalidate va. */
void pt_map(uint64_t va, uint64_t pa, unsigned shift, uint64_t flags);

/* Clear the leaf that maps va and invalidate va. */
void pt_unmap(uint64_t va);

/* Set bits in the leaves covering [start, end) and in every entry above
 * them (U/S and R/W apply only when set at every level, SDM 4.6), clear
 * bits in the leaves only, then flush the TLB. */
void pt_update_range(uint64_t start, uint64_t end, uint64_t set, uint64_t clear);

/* Full TLB flush by reloading CR3 (SDM 4.10.4.1). */
void pt_flush_all(void);

#endif
