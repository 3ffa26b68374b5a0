/*
 * Exception capture for PC guests (include/pc/trap.h). The IDT format is
 * SDM Vol. 3A 6.11 (32-bit: 8-byte gates) and 6.14.1 (64-bit: 16-byte
 * gates with an IST field).
 */
#include <pc/trap.h>

struct ex_entry {
	ulong insn, resume;
};

extern const struct ex_entry __ex_table_start[], __ex_table_end[];
extern const ulong trap_stub_table[256];

volatile struct trap_record trap_last;
static trap_handler_fn handlers[256];

#ifdef __x86_64__
static uint64_t idt[256 * 2] __attribute__((aligned(16)));
#else
static uint64_t idt[256] __attribute__((aligned(16)));
#endif

void *trap_idt(void)
{
	return idt;
}

void trap_set_gate_target(unsigned v, uint16_t sel, ulong target)
{
	/* Keep bits 47:32 (IST, type, DPL, P); set the offset and selector. */
#ifdef __x86_64__
	uint64_t *g = &idt[2 * v];
	g[1] = (uint64_t)target >> 32;
#else
	uint64_t *g = &idt[v];
#endif
	*g = (*g & 0x0000ffff00000000ull) | (target & 0xffff) | ((uint64_t)sel << 16) |
	     ((uint64_t)((target >> 16) & 0xffff) << 48);
}

void trap_set_gate(unsigned v, unsigned type, unsigned dpl, unsigned ist)
{
#ifdef __x86_64__
	uint64_t *g = &idt[2 * v];
	*g = (*g & ~(0xffull << 32)) | ((uint64_t)(ist & 7) << 32) | ((uint64_t)type << 40) |
	     ((uint64_t)dpl << 45) | (1ull << 47);
#else
	(void)ist;
	uint64_t *g = &idt[v];
	*g = (*g & ~(0xffull << 40)) | ((uint64_t)type << 40) | ((uint64_t)dpl << 45) | (1ull << 47);
#endif
}

void trap_init(uint16_t cs)
{
	for (unsigned v = 0; v < 256; v++) {
		trap_set_gate_target(v, cs, trap_stub_table[v]);
		trap_set_gate(v, GATE_INT, 0, 0);
	}
	pc_lidt(idt, sizeof(idt) - 1);
}

void trap_set_handler(unsigned vector, trap_handler_fn fn)
{
	handlers[vector & 0xff] = fn;
}

void trap_dispatch(struct trap_frame *f);

void trap_dispatch(struct trap_frame *f)
{
	trap_last.vector = f->vector;
	trap_last.error = f->error;
	trap_last.ip = f->ip;
	trap_last.cs = f->cs;
	trap_last.flags = f->flags;
#ifdef __x86_64__
	trap_last.sp = f->sp;
	trap_last.ss = f->ss;
#else
	/* 32-bit frames hold SS:ESP only after a privilege change. */
	int priv = (f->cs & 3) != (get_cs() & 3);
	trap_last.sp = priv ? f->sp : 0;
	trap_last.ss = priv ? f->ss : 0;
#endif
	trap_last.cr2 = f->vector == 14 ? get_cr2() : 0;
	trap_last.count++;
	for (const struct ex_entry *e = __ex_table_start; e < __ex_table_end; e++) {
		if (e->insn == f->ip) {
			f->ip = e->resume;
			return;
		}
	}
	if (handlers[f->vector & 0xff]) {
		handlers[f->vector & 0xff](f);
		return;
	}
	printf("not ok - unexpected exception %lu, error 0x%lx at %lx:%lx (flags 0x%lx, cr2 0x%lx)\n",
	       (unsigned long)f->vector, (unsigned long)f->error, (unsigned long)f->cs,
	       (unsigned long)f->ip, (unsigned long)f->flags, (unsigned long)trap_last.cr2);
	guest_exit(0x7f);
}

void trap_snapshot(struct trap_record *out)
{
	out->vector = trap_last.vector;
	out->error = trap_last.error;
	out->ip = trap_last.ip;
	out->cs = trap_last.cs;
	out->flags = trap_last.flags;
	out->sp = trap_last.sp;
	out->ss = trap_last.ss;
	out->cr2 = trap_last.cr2;
	out->count = trap_last.count;
}

ulong trap_stub(unsigned v)
{
	return trap_stub_table[v & 0xff];
}

static int rec_matches(const struct trap_record *r, unsigned vector, long err, ulong ip)
{
	return r->vector == vector && (err < 0 || r->error == (ulong)err) && r->ip == ip;
}

/* RF in the pushed flags is a result of its own: 1 for a fault, 0 for a
 * trap or an interrupt (SDM 3A 18.3.1.1). Its own line, so that a CPU that
 * gets RF wrong (QEMU TCG leaves it clear for faults) fails it alone. The
 * line is there whenever rf >= 0 (a stable numbering); it fails when there
 * was not exactly one exception (one = 0). */
static void check_rf(const struct trap_record *r, int rf, int one)
{
	if (rf < 0)
		return;
	pc_check(one && !!(r->flags & X86_FL_RF) == rf, "  RF = %d in the pushed flags (SDM 3A 18.3.1.1)", rf);
}

static void rec_report(int n, const struct trap_record *r, unsigned vector, long err, ulong ip, int rf)
{
	printf("#   %d exception(s); last: vector %lu error 0x%lx ip 0x%lx flags 0x%lx; want vector %u "
	       "error 0x%lx ip 0x%lx rf %d\n",
	       n, (unsigned long)r->vector, (unsigned long)r->error, (unsigned long)r->ip, (unsigned long)r->flags,
	       vector, (unsigned long)err, (unsigned long)ip, rf);
}

void expect_rec(const char *what, const struct trap_record *r, unsigned vector, long err, ulong ip, int rf)
{
	int ok = rec_matches(r, vector, err, ip);
	pc_check(ok, "%s", what);
	if (!ok)
		rec_report(1, r, vector, err, ip, rf);
	check_rf(r, rf, 1);
}

void expect_trap(const char *what, unsigned before, unsigned vector, long err, ulong ip, int rf)
{
	struct trap_record r;
	trap_snapshot(&r);
	int n = (int)(r.count - before);
	int ok = n == 1 && rec_matches(&r, vector, err, ip);
	pc_check(ok, "%s", what);
	if (!ok)
		rec_report(n, &r, vector, err, ip, rf);
	check_rf(&r, rf, n == 1);
}

void expect_no_trap(const char *what, unsigned before)
{
	int n = (int)(trap_last.count - before);
	pc_check(n == 0, "%s", what);
	if (n)
		printf("#   unexpected exception: vector %lu error 0x%lx ip 0x%lx\n", (unsigned long)trap_last.vector,
		       (unsigned long)trap_last.error, (unsigned long)trap_last.ip);
}
