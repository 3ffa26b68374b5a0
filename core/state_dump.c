/*
 * A CPU state dump in the layout of QEMU's `info registers` (x86_cpu_dump_state()
 * and cpu_x86_dump_seg_cache() in QEMU's target/i386/cpu-dump.c), so that
 * people who read QEMU dumps read these:
 *  - 64-bit registers when CS is a 64-bit code segment, else 32-bit ones;
 *  - segment lines with the descriptor's second dword masked to bits 23:8
 *    (type, S, DPL, P, limit 19:16, AVL, L, D/B, G) and, in protected mode
 *    for present segments, a decoded description;
 *  - GDT/IDT/CR2/CR3 as 64-bit values in IA-32e mode, 32-bit otherwise.
 * Unusable segments (VMX access-rights bit 16) are shown not present, as
 * QEMU shows the segments KVM reports unusable.
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

/* The descriptor's high dword, bits 23:8, from the hidden segment state. */
static uint32_t qemu_flags(const struct x86_segment *s)
{
	uint32_t ar = s->ar & ~(s->ar & SEG_AR_UNUSABLE ? SEG_AR_P : 0);
	uint32_t raw_limit = (ar & SEG_AR_G) ? s->limit >> 12 : s->limit;
	return ((ar & 0xff) << 8) | (((raw_limit >> 16) & 0xf) << 16) | ((ar & 0xf000) << 8);
}

/* QEMU's sys_type_name[][]: system descriptor types outside / in IA-32e mode. */
static const char *const sys_type_name[2][16] = {
	{ "Reserved", "TSS16-avl", "LDT", "TSS16-busy", "CallGate16", "TaskGate", "IntGate16", "TrapGate16",
	  "Reserved", "TSS32-avl", "Reserved", "TSS32-busy", "CallGate32", "Reserved", "IntGate32",
	  "TrapGate32" },
	{ "<hiword>", "Reserved", "LDT", "Reserved", "Reserved", "Reserved", "Reserved", "Reserved", "Reserved",
	  "TSS64-avl", "Reserved", "TSS64-busy", "CallGate64", "Reserved", "IntGate64", "TrapGate64" },
};

static void seg_line(struct out *o, const struct x86_state *st, const char *name, const struct x86_segment *s,
		     bool cs64)
{
	uint32_t flags = qemu_flags(s);
	if (cs64)
		put(o, "%-3s=%04x %016" PRIx64 " %08x %08x", name, s->sel, s->base, s->limit, flags);
	else
		put(o, "%-3s=%04x %08x %08x %08x", name, s->sel, (uint32_t)s->base, s->limit, flags);
	uint32_t ar = flags >> 8;
	if (!(st->cr0 & CR0_PE) || !(ar & SEG_AR_P)) {
		put(o, "\n");
		return;
	}
	put(o, " DPL=%u ", (ar >> 5) & 3);
	if (ar & SEG_AR_S) {
		if (ar & SEG_AR_TYPE_CODE)
			put(o, "%s [%c%c", (s->ar & SEG_AR_L) ? "CS64" : (s->ar & SEG_AR_DB) ? "CS32" : "CS16",
			    (ar & SEG_AR_TYPE_DC) ? 'C' : '-', (ar & SEG_AR_TYPE_RW) ? 'R' : '-');
		else
			put(o, "%s [%c%c", ((s->ar & SEG_AR_DB) || (st->efer & EFER_LMA)) ? "DS  " : "DS16",
			    (ar & SEG_AR_TYPE_DC) ? 'E' : '-', (ar & SEG_AR_TYPE_RW) ? 'W' : '-');
		put(o, "%c]", (ar & SEG_AR_TYPE_ACCESSED) ? 'A' : '-');
	} else {
		put(o, "%s", sys_type_name[(st->efer & EFER_LMA) ? 1 : 0][ar & 0xf]);
	}
	put(o, "\n");
}

int vcpu_dump_state(const struct vcpu *v, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	const struct x86_state *s = &v->s;
	bool cs64 = x86_64bit_mode(s);
	bool lma = (s->efer & EFER_LMA) != 0;
	uint64_t f = s->rflags;
	char fl[8] = { (f & RFLAGS_DF) ? 'D' : '-', (f & RFLAGS_OF) ? 'O' : '-', (f & RFLAGS_SF) ? 'S' : '-',
		       (f & RFLAGS_ZF) ? 'Z' : '-', (f & RFLAGS_AF) ? 'A' : '-', (f & RFLAGS_PF) ? 'P' : '-',
		       (f & RFLAGS_CF) ? 'C' : '-', 0 };
	unsigned cpl = (s->cr0 & CR0_PE) ? ((s->rflags & RFLAGS_VM) ? 3 : x86_cpl(s)) : 0;
	unsigned ii = (s->interruptibility & (INTR_BLOCK_STI | INTR_BLOCK_MOV_SS)) ? 1 : 0;
	/* QEMU's "halted" covers HLT and an AP waiting for its SIPI. */
	unsigned hlt = s->activity == ACT_HLT || s->activity == ACT_WAIT_SIPI;
	const uint64_t *r = s->gpr;
	if (cs64) {
		put(&o,
		    "RAX=%016" PRIx64 " RBX=%016" PRIx64 " RCX=%016" PRIx64 " RDX=%016" PRIx64 "\n"
		    "RSI=%016" PRIx64 " RDI=%016" PRIx64 " RBP=%016" PRIx64 " RSP=%016" PRIx64 "\n"
		    "R8 =%016" PRIx64 " R9 =%016" PRIx64 " R10=%016" PRIx64 " R11=%016" PRIx64 "\n"
		    "R12=%016" PRIx64 " R13=%016" PRIx64 " R14=%016" PRIx64 " R15=%016" PRIx64 "\n"
		    "RIP=%016" PRIx64 " RFL=%08x [%s] CPL=%u II=%u A20=1 SMM=0 HLT=%u\n",
		    r[GPR_RAX], r[GPR_RBX], r[GPR_RCX], r[GPR_RDX], r[GPR_RSI], r[GPR_RDI], r[GPR_RBP], r[GPR_RSP],
		    r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], s->rip, (uint32_t)f, fl, cpl, ii, hlt);
	} else {
		put(&o,
		    "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\n"
		    "ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n"
		    "EIP=%08x EFL=%08x [%s] CPL=%u II=%u A20=1 SMM=0 HLT=%u\n",
		    (uint32_t)r[GPR_RAX], (uint32_t)r[GPR_RBX], (uint32_t)r[GPR_RCX], (uint32_t)r[GPR_RDX],
		    (uint32_t)r[GPR_RSI], (uint32_t)r[GPR_RDI], (uint32_t)r[GPR_RBP], (uint32_t)r[GPR_RSP],
		    (uint32_t)s->rip, (uint32_t)f, fl, cpl, ii, hlt);
	}
	static const char *const segn[SEG_COUNT] = { "ES", "CS", "SS", "DS", "FS", "GS" };
	for (int k = 0; k < SEG_COUNT; k++)
		seg_line(&o, s, segn[k], &s->seg[k], cs64);
	seg_line(&o, s, "LDT", &s->ldtr, cs64);
	seg_line(&o, s, "TR", &s->tr, cs64);
	if (lma) {
		put(&o, "GDT=     %016" PRIx64 " %08x\n", s->gdtr.base, s->gdtr.limit);
		put(&o, "IDT=     %016" PRIx64 " %08x\n", s->idtr.base, s->idtr.limit);
		put(&o, "CR0=%08x CR2=%016" PRIx64 " CR3=%016" PRIx64 " CR4=%08x\n", (uint32_t)s->cr0, s->cr2, s->cr3,
		    (uint32_t)s->cr4);
	} else {
		put(&o, "GDT=     %08x %08x\n", (uint32_t)s->gdtr.base, s->gdtr.limit);
		put(&o, "IDT=     %08x %08x\n", (uint32_t)s->idtr.base, s->idtr.limit);
		put(&o, "CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n", (uint32_t)s->cr0, (uint32_t)s->cr2, (uint32_t)s->cr3,
		    (uint32_t)s->cr4);
	}
	for (int k = 0; k < 4; k++)
		put(&o, "DR%d=%016" PRIx64 " ", k, s->dr[k]);
	put(&o, "\nDR6=%016" PRIx64 " DR7=%016" PRIx64 "\n", s->dr6, s->dr7);
	put(&o, "EFER=%016" PRIx64 "\n", s->efer);
	return (int)o.pos;
}
