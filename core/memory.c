#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "memory.h"

int ram_init(struct guest_ram *ram, uint64_t size)
{
	memset(ram, 0, sizeof(*ram));
	size = (size + PAGE_SIZE - 1) & PAGE_MASK;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	uint64_t pages = size >> PAGE_SHIFT;
	ram->code = calloc(pages, 1);
	ram->gen = calloc(pages, sizeof(*ram->gen));
	if (!ram->code || !ram->gen) {
		munmap(p, size);
		free(ram->code);
		free(ram->gen);
		return -ENOMEM;
	}
	ram->host = p;
	ram->size = size;
	return 0;
}

void ram_fini(struct guest_ram *ram)
{
	if (ram->host)
		munmap(ram->host, ram->size);
	free(ram->code);
	free(ram->gen);
	memset(ram, 0, sizeof(*ram));
}

void ram_note_write(struct guest_ram *ram, const uint8_t *host, size_t len)
{
	if (!len)
		return;
	uint64_t first = ram_page(ram, host);
	uint64_t last = ram_page(ram, host + len - 1);
	for (uint64_t p = first; p <= last; p++) {
		if (ram->code[p]) {
			ram->code[p] = 0;
			ram->gen[p]++;
			ram->code_gen++;
		}
	}
}

void ram_mark_code(struct guest_ram *ram, uint64_t page)
{
	ram->code[page] = 1;
}

void aspace_init(struct aspace *as, struct guest_ram *ram)
{
	memset(as, 0, sizeof(*as));
	as->ram = ram;
}

void aspace_fini(struct aspace *as)
{
	free(as->r);
	as->r = NULL;
	as->n = as->cap = 0;
}

static int aspace_insert(struct aspace *as, const struct mem_region *nr)
{
	if (!nr->size || nr->gpa + nr->size < nr->gpa)
		return -EINVAL;
	unsigned i = 0;
	while (i < as->n && as->r[i].gpa < nr->gpa)
		i++;
	if (i > 0 && as->r[i - 1].gpa + as->r[i - 1].size > nr->gpa)
		return -EEXIST;
	if (i < as->n && nr->gpa + nr->size > as->r[i].gpa)
		return -EEXIST;
	if (as->n == as->cap) {
		unsigned cap = as->cap ? as->cap * 2 : 8;
		struct mem_region *r = realloc(as->r, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		as->r = r;
		as->cap = cap;
	}
	memmove(&as->r[i + 1], &as->r[i], (as->n - i) * sizeof(*as->r));
	as->r[i] = *nr;
	as->n++;
	return 0;
}

int aspace_add_ram(struct aspace *as, uint64_t gpa, uint64_t size, uint64_t ram_off, const char *name)
{
	if (ram_off > as->ram->size || size > as->ram->size - ram_off)
		return -EINVAL;
	struct mem_region r = {
		.gpa = gpa, .size = size, .type = MEM_RAM, .host = as->ram->host + ram_off, .name = name,
	};
	return aspace_insert(as, &r);
}

int aspace_add_mmio(struct aspace *as, uint64_t gpa, uint64_t size, const struct mmio_ops *ops,
		    void *opaque, const char *name)
{
	struct mem_region r = {
		.gpa = gpa, .size = size, .type = MEM_MMIO, .ops = ops, .opaque = opaque, .name = name,
	};
	return aspace_insert(as, &r);
}

int aspace_remove(struct aspace *as, uint64_t gpa)
{
	for (unsigned i = 0; i < as->n; i++) {
		if (as->r[i].gpa == gpa) {
			memmove(&as->r[i], &as->r[i + 1], (as->n - i - 1) * sizeof(*as->r));
			as->n--;
			return 0;
		}
	}
	return -ENOENT;
}

const struct mem_region *aspace_find(const struct aspace *as, uint64_t gpa)
{
	unsigned lo = 0, hi = as->n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct mem_region *r = &as->r[mid];
		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

uint8_t *aspace_ram_ptr(const struct aspace *as, uint64_t gpa, uint64_t len)
{
	const struct mem_region *r = aspace_find(as, gpa);
	if (!r || r->type == MEM_MMIO)
		return NULL;
	uint64_t off = gpa - r->gpa;
	if (len > r->size - off)
		return NULL;
	return r->host + off;
}

/* MMIO in naturally aligned pieces of at most 8 bytes. */
static void mmio_access(const struct mem_region *r, uint64_t off, uint8_t *buf, size_t len, bool write)
{
	while (len) {
		unsigned sz = 8;
		while (sz > len || (off & (sz - 1)))
			sz >>= 1;
		if (write) {
			uint64_t v = 0;
			memcpy(&v, buf, sz);
			if (r->ops->write)
				r->ops->write(r->opaque, off, sz, v);
		} else {
			uint64_t v = r->ops->read ? r->ops->read(r->opaque, off, sz) : ~0ull;
			memcpy(buf, &v, sz);
		}
		off += sz;
		buf += sz;
		len -= sz;
	}
}

static int aspace_access(const struct aspace *as, uint64_t gpa, uint8_t *buf, size_t len, bool write)
{
	int ret = 0;
	while (len) {
		const struct mem_region *r = aspace_find(as, gpa);
		size_t chunk;
		if (!r) {
			/* Up to the next region or the end of the request. */
			chunk = len;
			for (unsigned i = 0; i < as->n; i++)
				if (as->r[i].gpa > gpa && as->r[i].gpa - gpa < chunk)
					chunk = (size_t)(as->r[i].gpa - gpa);
			if (!write)
				memset(buf, 0xff, chunk);
			ret = -EFAULT;
		} else {
			uint64_t off = gpa - r->gpa;
			chunk = len;
			if (chunk > r->size - off)
				chunk = (size_t)(r->size - off);
			if (r->type == MEM_MMIO) {
				mmio_access(r, off, buf, chunk, write);
			} else if (write) {
				memcpy(r->host + off, buf, chunk);
				ram_note_write(as->ram, r->host + off, chunk);
			} else {
				memcpy(buf, r->host + off, chunk);
			}
		}
		gpa += chunk;
		buf += chunk;
		len -= chunk;
	}
	return ret;
}

int aspace_read(const struct aspace *as, uint64_t gpa, void *buf, size_t len)
{
	return aspace_access(as, gpa, buf, len, false);
}

int aspace_write(const struct aspace *as, uint64_t gpa, const void *buf, size_t len)
{
	return aspace_access(as, gpa, (uint8_t *)buf, len, true);
}
