/*
 * The EPT page walk (Intel SDM Vol. 3C 29.3.2 translation, 29.3.3.1 EPT
 * misconfigurations, 29.3.3.2 EPT violations, 29.3.5 accessed and dirty
 * flags). Four levels (page-walk length 4), 2-MByte and 1-GByte pages,
 * execute-only entries when IA32_VMX_EPT_VPID_CAP[0] says so.
 */
#include "core/nested_hooks.h"
#include "ept.h"

/* An entry that is present in the EPT sense: any of bits 2:0 set. */
static bool present(uint64_t e)
{
	return (e & 7) != 0;
}

/*
 * 29.3.3.1: an EPT misconfiguration is a present entry with write without
 * read, execute-only without the capability, reserved bits set, or (in a
 * leaf) a reserved memory type (2, 3, 7).
 */
static bool misconfigured(const struct vmx_caps *caps, uint64_t e, unsigned level, bool leaf, uint64_t rsvd_phys)
{
	unsigned rwx = e & 7;
	if ((rwx & (EPT_R | EPT_W)) == EPT_W)
		return true;
	if (rwx == EPT_X && !(caps->ept_vpid & EPT_CAP_EXEC_ONLY))
		return true;
	if (e & rsvd_phys)
		return true;
	if (level == 4 && (e & 0xf8)) /* bits 7:3 of a PML4E */
		return true;
	if (!leaf && level < 4 && (e & 0x78)) /* bits 6:3 of a non-leaf entry */
		return true;
	if (leaf) {
		unsigned mt = (e >> 3) & 7;
		if (mt == 2 || mt == 3 || mt == 7)
			return true;
		if (level == 3 && (e & 0x3ffff000ull)) /* 1-GByte page: bits 29:12 */
			return true;
		if (level == 2 && (e & 0x1ff000ull)) /* 2-MByte page: bits 20:12 */
			return true;
	}
	return false;
}

enum ept_status ept_translate(const struct vmx_caps *caps, uint64_t eptp, unsigned phys_bits, uint64_t gpa,
			      unsigned acc, const struct ept_mem *mem, struct ept_walk *w)
{
	uint64_t rsvd_phys = (phys_bits < 52 ? ~0ull << phys_bits : 0) & 0x000fffffffffffffull;
	uint64_t table = eptp & EPTE_ADDR & ~rsvd_phys;
	uint64_t entry_pa[4];
	uint64_t entry[4];
	w->perms = EPT_R | EPT_W | EPT_X;
	w->pa = 0;
	w->leaf_level = 0;
	if (phys_bits < 64 && (gpa >> phys_bits))
		return EPT_VIOLATION; /* beyond MAXPHYADDR: no translation */
	for (unsigned level = 4, k = 0; level >= 1; level--, k++) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t pa = table + ((gpa >> shift) & 0x1ff) * 8;
		uint64_t e;
		if (!mem->read(mem->opaque, pa, &e))
			e = ~0ull;
		entry_pa[k] = pa;
		entry[k] = e;
		if (!present(e)) {
			w->perms = 0;
			return EPT_VIOLATION;
		}
		bool leaf = level == 1 || (e & EPTE_PS);
		if (level == 4 && (e & EPTE_PS))
			return EPT_MISCONFIG;
		if (level == 3 && (e & EPTE_PS) && !(caps->ept_vpid & EPT_CAP_1G))
			return EPT_MISCONFIG;
		if (level == 2 && (e & EPTE_PS) && !(caps->ept_vpid & EPT_CAP_2M))
			return EPT_MISCONFIG;
		if (misconfigured(caps, e, level, leaf, rsvd_phys))
			return EPT_MISCONFIG;
		w->perms &= e & 7;
		if (!leaf) {
			table = e & EPTE_ADDR;
			continue;
		}
		uint64_t off_mask = (1ull << shift) - 1;
		w->pa = (e & EPTE_ADDR & ~off_mask) | (gpa & off_mask);
		w->leaf_level = level;
		if ((acc & w->perms) != acc)
			return EPT_VIOLATION;
		if (eptp & EPTP_AD) {
			for (unsigned j = 0; j <= k; j++) {
				uint64_t want = entry[j] | EPTE_A | (j == k && (acc & EPT_W) ? EPTE_D : 0);
				if (want != entry[j] && mem->write)
					mem->write(mem->opaque, entry_pa[j], want);
			}
		}
		return EPT_OK;
	}
	return EPT_VIOLATION; /* not reached: level 1 is always a leaf */
}

/* ---- the running L2's EPT (core/nested_hooks.h) ---- */

static bool l1_read(void *opaque, uint64_t pa, uint64_t *val)
{
	struct vm *vm = opaque;
	uint8_t *h = aspace_ram_ptr(&vm->as, pa, 8);
	if (!h)
		return false;
	memcpy(val, h, 8);
	return true;
}

static void l1_write(void *opaque, uint64_t pa, uint64_t val)
{
	struct vm *vm = opaque;
	uint8_t *h = aspace_ram_ptr(&vm->as, pa, 8);
	if (!h)
		return;
	memcpy(h, &val, 8);
	ram_note_write(&vm->ram, h, 8);
}

bool nested_ept_translate(struct vcpu *v, uint64_t gpa, unsigned acc, bool has_la, uint64_t la, bool final,
			  uint64_t *l1pa, unsigned *perms, struct vm_exit *e)
{
	struct nested_vcpu *n = nested_of(v);
	const struct ept_mem mem = { .read = l1_read, .write = l1_write, .opaque = v->vm };
	struct ept_walk w;
	enum ept_status st = ept_translate(&n->caps, n->eptp, v->vm->model.phys_bits, gpa, acc, &mem, &w);
	if (st == EPT_OK) {
		*l1pa = w.pa;
		*perms = w.perms;
		return true;
	}
	memset(e, 0, sizeof(*e));
	e->gpa = gpa;
	e->aux = gpa;
	e->flags = VMEXIT_F_L1_EPT;
	if (st == EPT_MISCONFIG) {
		/* 28.2.1: the qualification of an EPT misconfiguration is
		 * undefined (0 here); the guest-physical address is recorded. */
		e->reason = TORTUGA_EXIT_EPT_MISCONFIG;
		return false;
	}
	e->reason = TORTUGA_EXIT_EPT_VIOLATION;
	e->qual = ept_violation_qual(acc, w.perms, has_la, final);
	e->gla = has_la ? la : 0;
	return false;
}
