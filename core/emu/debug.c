/*
 * Hardware breakpoints of the emu CPU: DR0-DR3 with DR7 (Intel SDM Vol. 3A
 * 18.2, 18.3.1).
 *
 *  - Instruction breakpoints (R/W = 00) are faults, checked before an
 *    instruction starts unless RFLAGS.RF is set; while one is enabled the
 *    run loop executes one instruction per step (cpu.c).
 *  - Data breakpoints (R/W = 01 writes, 11 reads or writes) are traps after
 *    the instruction that accessed the watched bytes. Pages holding watched
 *    bytes are kept out of the software TLB, so every access to them takes the
 *    slow path in mmu.c, which reports hits here.
 *  - I/O breakpoints (R/W = 10, with CR4.DE) and general detect (DR7.GD) are
 *    not modelled; enabling them logs a line once.
 * Any change of DR0-DR3 or DR7 is noticed at the next block boundary (MOV DR
 * ends its block) and flushes the TLB.
 */
#include "emu.h"

#define DR7_RW(d, i) (((d) >> (16 + 4 * (i))) & 3)
#define DR7_LEN(d, i) (((d) >> (18 + 4 * (i))) & 3)
#define DR7_ENABLED(d, i) (((d) >> (2 * (i))) & 3)
#define DR7_GD (1ull << 13)

/* Bytes watched by breakpoint i: LEN 00, 01, 11, 10 = 1, 2, 4, 8 (SDM 18.2.5). */
static uint64_t bp_len(uint64_t dr7, unsigned i)
{
	static const uint8_t len[4] = { 1, 2, 8, 4 };
	return len[DR7_LEN(dr7, i)];
}

void emu_debug_sync(struct emu_cpu *c)
{
	const struct x86_state *s = c->s;
	if (s->dr7 == c->dr_seen[4] && !memcmp(s->dr, c->dr_seen, sizeof(s->dr)))
		return;
	memcpy(c->dr_seen, s->dr, sizeof(s->dr));
	c->dr_seen[4] = s->dr7;
	c->bp_exec = c->bp_data = 0;
	for (unsigned i = 0; i < 4; i++) {
		if (!DR7_ENABLED(s->dr7, i))
			continue;
		switch (DR7_RW(s->dr7, i)) {
		case 0:
			c->bp_exec |= 1u << i;
			break;
		case 1:
		case 3:
			c->bp_data |= 1u << i;
			break;
		default:
			vm_guest_warn(c->vm, "I/O breakpoint in DR%u is not implemented", i);
		}
	}
	if (s->dr7 & DR7_GD)
		vm_guest_warn(c->vm, "DR7.GD (general detect) is not implemented");
	/* Watched pages must leave the TLB; the jump cache follows the epoch. */
	emu_tlb_flush(c);
}

bool emu_debug_exec_hit(struct emu_cpu *c, uint64_t la)
{
	uint8_t hit = 0;
	for (unsigned i = 0; i < 4; i++)
		if ((c->bp_exec >> i & 1) && c->s->dr[i] == la)
			hit |= 1u << i;
	/* B0-B3 report the breakpoints that matched (SDM 18.2.3). */
	c->s->dr6 |= hit;
	return hit != 0;
}

static bool overlaps(uint64_t la, uint64_t size, uint64_t start, uint64_t len)
{
	return la < start + len && start < la + size;
}

void emu_debug_data_access(struct emu_cpu *c, uint64_t la, unsigned size, bool write)
{
	const struct x86_state *s = c->s;
	for (unsigned i = 0; i < 4; i++) {
		if (!(c->bp_data >> i & 1) || (!write && DR7_RW(s->dr7, i) == 1))
			continue;
		uint64_t len = bp_len(s->dr7, i);
		if (overlaps(la, size, s->dr[i] & ~(len - 1), len)) {
			c->bp_hit |= 1u << i;
			emu_break(c); /* the trap follows this instruction */
		}
	}
}

bool emu_debug_page_watched(const struct emu_cpu *c, uint64_t page_la)
{
	for (unsigned i = 0; i < 4; i++) {
		if (!(c->bp_data >> i & 1))
			continue;
		uint64_t len = bp_len(c->s->dr7, i);
		if (overlaps(page_la, PAGE_SIZE, c->s->dr[i] & ~(len - 1), len))
			return true;
	}
	return false;
}
