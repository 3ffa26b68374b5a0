/*
 * EPT for L2 (Intel SDM Vol. 3C 29.3): L1's extended page tables translate
 * L2-physical addresses to L1-physical ones. The walk is a function of the
 * EPTP, the capabilities and a memory accessor, so tests drive it directly.
 */
#ifndef NESTED_EPT_H
#define NESTED_EPT_H

#include <stdbool.h>
#include <stdint.h>

#include "nested.h"

/* Access kinds and permission bits: EPT entry bits 0 (read), 1 (write),
 * 2 (execute); also the layout of exit-qualification bits 2:0 and 5:3. */
#define EPT_R 1u
#define EPT_W 2u
#define EPT_X 4u

/* EPT entry bits (SDM 29.3.2, Tables 29-1 to 29-6). */
#define EPTE_PS (1ull << 7)
#define EPTE_A (1ull << 8)
#define EPTE_D (1ull << 9)
#define EPTE_ADDR 0x000ffffffffff000ull
/* EPTP (SDM 25.6.11). */
#define EPTP_AD (1ull << 6)

enum ept_status { EPT_OK = 0, EPT_VIOLATION, EPT_MISCONFIG };

struct ept_mem {
	/* Read an 8-byte entry of L1 memory; false if there is no RAM (the
	 * bus then returns all ones). */
	bool (*read)(void *opaque, uint64_t pa, uint64_t *val);
	/* Set A/D bits in an entry (only entries read from RAM). */
	void (*write)(void *opaque, uint64_t pa, uint64_t val);
	void *opaque;
};

struct ept_walk {
	uint64_t pa; /* the L1-physical address */
	unsigned perms; /* EPT_R|W|X: AND of the entries used (also on a violation) */
	unsigned leaf_level; /* 1: 4 KiB, 2: 2 MiB, 3: 1 GiB page */
};

/*
 * Translate gpa for an access of kind acc (EPT_R, EPT_W or EPT_X). With EPT
 * A/D flags enabled in the EPTP, a successful walk sets A in every entry used
 * and D in the leaf for writes (29.3.5). paging_write: the access is to a
 * guest paging-structure entry and counts as a write when A/D are enabled.
 */
enum ept_status ept_translate(const struct vmx_caps *caps, uint64_t eptp, unsigned phys_bits, uint64_t gpa,
			      unsigned acc, const struct ept_mem *mem, struct ept_walk *w);

/* Exit qualification of an EPT violation (SDM 28.2.1, Table 28-7). */
#define EPT_QUAL_GLA_VALID (1ull << 7)
#define EPT_QUAL_FINAL (1ull << 8)
static inline uint64_t ept_violation_qual(unsigned acc, unsigned perms, bool has_la, bool final)
{
	return (uint64_t)acc | ((uint64_t)perms << 3) | (has_la ? EPT_QUAL_GLA_VALID : 0) |
	       (has_la && final ? EPT_QUAL_FINAL : 0);
}

#endif
