/*
 * Guest-physical address spaces (DESIGN.md "Guest memory").
 *
 * A VM has one block of host memory for its RAM (so that the kvm backend can
 * hand the same pages to KVM as memslots) and address spaces that map it: the
 * normal view and the SMM view. An address space is a sorted array of
 * non-overlapping regions (RAM, ROM, MMIO with device callbacks).
 *
 * Every guest-controlled access goes through aspace_*() and is bounds-checked:
 * no guest value makes tortuga touch host memory outside the RAM block.
 *
 * Self-modifying code: the emu CPU marks the RAM pages it has decoded
 * instructions from (ram_mark_code()); a write to such a page through any path
 * (CPU, device, DMA, loader) bumps the page's generation, which invalidates the
 * decoded blocks from it.
 */
#ifndef CORE_MEMORY_H
#define CORE_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))

struct guest_ram {
	uint8_t *host;
	uint64_t size; /* bytes, a multiple of PAGE_SIZE */
	uint8_t *code; /* per page: non-zero if decoded code came from it */
	uint32_t *gen; /* per page: bumped on writes to code pages */
	uint64_t code_gen; /* bumped with any page's gen: all decoded code as one */
};

int ram_init(struct guest_ram *ram, uint64_t size);
void ram_fini(struct guest_ram *ram);

static inline uint64_t ram_page(const struct guest_ram *ram, const uint8_t *host)
{
	return (uint64_t)(host - ram->host) >> PAGE_SHIFT;
}

/* Called for every write of host-RAM bytes [host, host+len) that did not go
 * through the emu's fast path; cheap when the pages hold no code. */
void ram_note_write(struct guest_ram *ram, const uint8_t *host, size_t len);
/* The emu decoded code from this page. */
void ram_mark_code(struct guest_ram *ram, uint64_t page);

enum mem_type { MEM_RAM, MEM_MMIO };

struct mmio_ops {
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
	void (*write)(void *opaque, uint64_t offset, unsigned size, uint64_t val);
};

struct mem_region {
	uint64_t gpa, size;
	enum mem_type type;
	uint8_t *host; /* RAM: host address of gpa */
	const struct mmio_ops *ops; /* MMIO */
	void *opaque;
	const char *name;
};

struct aspace {
	struct guest_ram *ram;
	struct mem_region *r;
	unsigned n, cap;
};

void aspace_init(struct aspace *as, struct guest_ram *ram);
void aspace_fini(struct aspace *as);
/* Map RAM bytes [ram_off, ram_off+size) at gpa. -EEXIST on overlap. */
int aspace_add_ram(struct aspace *as, uint64_t gpa, uint64_t size, uint64_t ram_off, const char *name);
int aspace_add_mmio(struct aspace *as, uint64_t gpa, uint64_t size, const struct mmio_ops *ops,
		    void *opaque, const char *name);
int aspace_remove(struct aspace *as, uint64_t gpa);

/* The region containing gpa, or NULL. */
const struct mem_region *aspace_find(const struct aspace *as, uint64_t gpa);

/*
 * Host pointer to [gpa, gpa+len) if it lies within one RAM region, else NULL.
 * Writing through it must be followed by ram_note_write().
 */
uint8_t *aspace_ram_ptr(const struct aspace *as, uint64_t gpa, uint64_t len);

/*
 * Copy to/from guest-physical memory, crossing regions; MMIO is dispatched to
 * the device. Returns 0 or -EFAULT if any byte is unmapped (reads of unmapped
 * bytes return 0xff, writes to them are dropped, as on a PC bus).
 */
int aspace_read(const struct aspace *as, uint64_t gpa, void *buf, size_t len);
int aspace_write(const struct aspace *as, uint64_t gpa, const void *buf, size_t len);

#endif
