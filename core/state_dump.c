/*
 * A CPU state dump in the layout of QEMU's `info registers` (x86_cpu_dump_state
 * in target/i386/cpu-dump.c), so that people who read QEMU dumps read these.
 */
#include <inttypes.h>
#include <stdio.h>

#include "vm.h"

struct out {
	char *buf;
	size_t len, pos;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->pos < o->len ? o->len - o->pos : 0;
	int n = vsnprintf(o->buf ? o->buf + o->pos : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

/* QEMU prints the descriptor's high dword with base and limit masked out:
 * type at bits 8-11, S 12, DPL 13-14, P 15, AVL 20, L 21, D/B 22, G 23. */
static uint32_t qemu_flags(uint32_t ar)
{
	return ((ar & 0xff) << 8) | ((ar & 0xf000) << 8);
}

static void seg_line(struct out *o, const char *name, const struct x86_segment *s)
{
	put(o, "%s =%04x %016" PRIx64 " %08x %08x", name, s->sel, s->base, s->limit, qemu_flags(s->ar));
	if (s->ar & SEG_AR_UNUSABLE) {
		put(o, " (unusable)\n");
		return;
	}
	unsigned dpl = (s->ar >> 5) & 3;
	if (s->ar & SEG_AR_S) {
		if (s->ar & SEG_AR_TYPE_CODE)
			put(o, " DPL=%u %s [%c%c%c]\n", dpl, (s->ar & SEG_AR_L) ? "CS64" : (s->ar & SEG_AR_DB) ? "CS32" : "CS16",
			    (s->ar & SEG_AR_TYPE_DC) ? 'C' : '-', (s->ar & SEG_AR_TYPE_RW) ? 'R' : '-',
			    (s->ar & SEG_AR_TYPE_ACCESSED) ? 'A' : '-');
		else
			put(o, " DPL=%u %s [%c%c%c]\n", dpl, (s->ar & SEG_AR_DB) ? "DS  " : "DS16",
			    (s->ar & SEG_AR_TYPE_DC) ? 'E' : '-', (s->ar & SEG_AR_TYPE_RW) ? 'W' : '-',
			    (s->ar & SEG_AR_TYPE_ACCESSED) ? 'A' : '-');
	} else {
		static const char *const sys[16] = {
			[2] = "LDT", [9] = "TSS64-avl", [11] = "TSS64-busy", [12] = "CallGate64",
			[14] = "IntGate64", [15] = "TrapGate64",
		};
		const char *n = sys[s->ar & 0xf];
		put(o, " DPL=%u %s\n", dpl, n ? n : "Reserved");
	}
}

int vcpu_dump_state(const struct vcpu *v, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	const struct x86_state *s = &v->s;
	static const char *const names[16] = { "RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
					       "R8 ", "R9 ", "R10", "R11", "R12", "R13", "R14", "R15" };
	static const int order[16] = { GPR_RAX, GPR_RBX, GPR_RCX, GPR_RDX, GPR_RSI, GPR_RDI, GPR_RBP, GPR_RSP,
				       8, 9, 10, 11, 12, 13, 14, 15 };
	for (int k = 0; k < 16; k++)
		put(&o, "%s=%016" PRIx64 "%c", names[order[k]], s->gpr[order[k]], (k % 4 == 3) ? '\n' : ' ');
	uint64_t f = s->rflags;
	put(&o, "RIP=%016" PRIx64 " RFL=%08" PRIx64 " [%c%c%c%c%c%c%c] CPL=%u II=%u A20=1 SMM=0 HLT=%u\n",
	    s->rip, f, (f & RFLAGS_DF) ? 'D' : '-', (f & RFLAGS_OF) ? 'O' : '-', (f & RFLAGS_SF) ? 'S' : '-',
	    (f & RFLAGS_ZF) ? 'Z' : '-', (f & RFLAGS_AF) ? 'A' : '-', (f & RFLAGS_PF) ? 'P' : '-',
	    (f & RFLAGS_CF) ? 'C' : '-', x86_cpl(s), (s->interruptibility & 3) ? 1u : 0u,
	    s->activity == ACT_HLT ? 1u : 0u);
	static const char *const segn[SEG_COUNT] = { "ES", "CS", "SS", "DS", "FS", "GS" };
	for (int k = 0; k < SEG_COUNT; k++)
		seg_line(&o, segn[k], &s->seg[k]);
	put(&o, "LDT=%04x %016" PRIx64 " %08x %08x\n", s->ldtr.sel, s->ldtr.base, s->ldtr.limit, qemu_flags(s->ldtr.ar));
	seg_line(&o, "TR ", &s->tr);
	put(&o, "GDT=     %016" PRIx64 " %08x\n", s->gdtr.base, s->gdtr.limit);
	put(&o, "IDT=     %016" PRIx64 " %08x\n", s->idtr.base, s->idtr.limit);
	put(&o, "CR0=%08" PRIx64 " CR2=%016" PRIx64 " CR3=%016" PRIx64 " CR4=%08" PRIx64 "\n", s->cr0, s->cr2,
	    s->cr3, s->cr4);
	put(&o, "DR0=%016" PRIx64 " DR1=%016" PRIx64 " DR2=%016" PRIx64 " DR3=%016" PRIx64 "\n", s->dr[0], s->dr[1],
	    s->dr[2], s->dr[3]);
	put(&o, "DR6=%016" PRIx64 " DR7=%016" PRIx64 "\n", s->dr6, s->dr7);
	put(&o, "EFER=%016" PRIx64 "\n", s->efer);
	return (int)o.pos;
}
