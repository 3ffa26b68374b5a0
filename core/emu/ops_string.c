/*
 * String instructions with REP prefixes (Intel SDM Vol. 2 MOVS, STOS, LODS,
 * CMPS, SCAS, INS, OUTS, and "REP/REPE/REPZ/REPNE/REPNZ").
 *
 * A REP instruction runs in chunks of at most REP_CHUNK iterations; when
 * iterations remain it is executed again (RIP not advanced), which is where
 * interrupts and VM exits can intervene, as on hardware. Registers are
 * updated per completed iteration, so a fault leaves them consistent.
 */
#include "emu.h"
#include "ops.h"

#define REP_CHUNK 4096u

struct str_ctx {
	unsigned asz; /* address size */
	unsigned esz; /* element size */
	uint64_t amask;
	int64_t step; /* +esz or -esz */
	unsigned src_seg;
	bool rep;
};

static void str_init(struct emu_cpu *c, const struct emu_insn *i, struct str_ctx *x)
{
	x->asz = i->addrsize;
	x->amask = size_mask(x->asz);
	x->esz = 0;
	x->src_seg = SEG_DS;
	for (unsigned k = 0; k < i->nops; k++) {
		const struct emu_operand *o = &i->op[k];
		if (o->kind == OPK_MEM) {
			x->esz = o->size;
			if (o->base == GPR_RSI)
				x->src_seg = o->seg;
		} else if (o->kind == OPK_REG && !x->esz) {
			x->esz = o->size;
		}
	}
	if (!x->esz)
		x->esz = i->opsize;
	x->step = (c->s->rflags & RFLAGS_DF) ? -(int64_t)x->esz : (int64_t)x->esz;
	x->rep = (i->flags & (EI_REP | EI_REPNE)) != 0;
}

static uint64_t reg_get(struct emu_cpu *c, unsigned r, const struct str_ctx *x)
{
	return c->s->gpr[r] & x->amask;
}

static void reg_set(struct emu_cpu *c, unsigned r, const struct str_ctx *x, uint64_t v)
{
	gpr_write(c, r, false, x->asz, v);
}

static void reg_step(struct emu_cpu *c, unsigned r, const struct str_ctx *x, uint64_t n)
{
	reg_set(c, r, x, reg_get(c, r, x) + (uint64_t)x->step * n);
}

/* How many iterations to run now; 0 means a REP with a zero count. */
static uint64_t str_count(struct emu_cpu *c, const struct str_ctx *x)
{
	if (!x->rep)
		return 1;
	uint64_t n = reg_get(c, GPR_RCX, x);
	return n < REP_CHUNK ? n : REP_CHUNK;
}

/* After a chunk: repeat the instruction if the count is not exhausted. */
static void str_finish(struct emu_cpu *c, const struct str_ctx *x, bool stop)
{
	if (!x->rep || stop || reg_get(c, GPR_RCX, x) == 0)
		return;
	c->next_rip = c->s->rip;
	c->v->stats.insns--; /* one instruction, however many chunks */
	emu_break(c);
}

/*
 * Host pointer for up to `n` elements at seg:off moving forward within one
 * page, or NULL when the fast path does not apply (a TLB miss, MMIO, DF = 1,
 * a segment with limits to check). Returns the number of elements in *n.
 */
static uint8_t *str_span(struct emu_cpu *c, unsigned seg, uint64_t off, const struct str_ctx *x,
			 bool write, uint64_t *n)
{
	if (x->step < 0 || c->mode != MODE_LONG64)
		return NULL;
	uint64_t la = emu_la(c, seg, off, x->esz, write ? ACC_WRITE : ACC_READ);
	const struct tlb_entry *e = write ? &c->tlb->w[(la >> 12) & (TLB_SIZE - 1)] :
					    &c->tlb->r[(la >> 12) & (TLB_SIZE - 1)];
	if (e->tag != emu_tlb_tag(c->tlb, la))
		return NULL;
	uint64_t room = (4096 - (la & 0xfff)) / x->esz;
	if (room < *n)
		*n = room;
	/* Offsets wrap at the address size: keep the span below the wrap. */
	uint64_t left = (x->amask - off) / x->esz + 1;
	if (left < *n)
		*n = left;
	return *n ? (uint8_t *)(uintptr_t)(la + e->addend) : NULL;
}

void op_movs(struct emu_cpu *c, const struct emu_insn *i)
{
	struct str_ctx x;
	str_init(c, i, &x);
	uint64_t n = str_count(c, &x);
	while (n) {
		uint64_t src = reg_get(c, GPR_RSI, &x), dst = reg_get(c, GPR_RDI, &x);
		uint64_t k = n;
		uint8_t *ps = str_span(c, x.src_seg, src, &x, false, &k);
		uint8_t *pd = ps ? str_span(c, SEG_ES, dst, &x, true, &k) : NULL;
		if (ps && pd && k) {
			memmove(pd, ps, k * x.esz);
		} else {
			k = 1;
			uint64_t v = emu_read(c, x.src_seg, src, x.esz);
			emu_write(c, SEG_ES, dst, x.esz, v);
		}
		reg_step(c, GPR_RSI, &x, k);
		reg_step(c, GPR_RDI, &x, k);
		if (x.rep)
			reg_set(c, GPR_RCX, &x, reg_get(c, GPR_RCX, &x) - k);
		n -= k;
		if (c->brk)
			break; /* wrote code or MMIO: let the run loop look */
	}
	str_finish(c, &x, false);
}

void op_stos(struct emu_cpu *c, const struct emu_insn *i)
{
	struct str_ctx x;
	str_init(c, i, &x);
	uint64_t v = c->s->gpr[GPR_RAX] & size_mask(x.esz);
	uint64_t n = str_count(c, &x);
	while (n) {
		uint64_t dst = reg_get(c, GPR_RDI, &x);
		uint64_t k = n;
		uint8_t *pd = str_span(c, SEG_ES, dst, &x, true, &k);
		if (pd && k) {
			if (x.esz == 1) {
				memset(pd, (int)v, k);
			} else {
				for (uint64_t j = 0; j < k; j++)
					memcpy(pd + j * x.esz, &v, x.esz);
			}
		} else {
			k = 1;
			emu_write(c, SEG_ES, dst, x.esz, v);
		}
		reg_step(c, GPR_RDI, &x, k);
		if (x.rep)
			reg_set(c, GPR_RCX, &x, reg_get(c, GPR_RCX, &x) - k);
		n -= k;
		if (c->brk)
			break;
	}
	str_finish(c, &x, false);
}

void op_lods(struct emu_cpu *c, const struct emu_insn *i)
{
	struct str_ctx x;
	str_init(c, i, &x);
	uint64_t n = str_count(c, &x);
	for (; n; n--) {
		uint64_t v = emu_read(c, x.src_seg, reg_get(c, GPR_RSI, &x), x.esz);
		gpr_write(c, GPR_RAX, false, x.esz, v);
		reg_step(c, GPR_RSI, &x, 1);
		if (x.rep)
			reg_set(c, GPR_RCX, &x, reg_get(c, GPR_RCX, &x) - 1);
	}
	str_finish(c, &x, false);
}

/* CMPS compares [RSI] - [RDI]; SCAS compares the accumulator - [RDI]. REPE
 * stops when ZF = 0, REPNE when ZF = 1. */
static void cmp_scan(struct emu_cpu *c, const struct emu_insn *i, bool scas)
{
	struct str_ctx x;
	str_init(c, i, &x);
	uint64_t n = str_count(c, &x);
	bool stop = false;
	uint64_t m = size_mask(x.esz);
	for (; n && !stop; n--) {
		uint64_t a, b;
		if (scas) {
			a = c->s->gpr[GPR_RAX] & m;
		} else {
			a = emu_read(c, x.src_seg, reg_get(c, GPR_RSI, &x), x.esz);
		}
		b = emu_read(c, SEG_ES, reg_get(c, GPR_RDI, &x), x.esz);
		lf_set(c, LF_SUB, x.esz, a, b, a - b);
		if (!scas)
			reg_step(c, GPR_RSI, &x, 1);
		reg_step(c, GPR_RDI, &x, 1);
		if (x.rep) {
			reg_set(c, GPR_RCX, &x, reg_get(c, GPR_RCX, &x) - 1);
			bool zf = ((a - b) & m) == 0;
			stop = (i->flags & EI_REPNE) ? zf : !zf;
		}
	}
	str_finish(c, &x, stop);
}

void op_cmps(struct emu_cpu *c, const struct emu_insn *i)
{
	cmp_scan(c, i, false);
}

void op_scas(struct emu_cpu *c, const struct emu_insn *i)
{
	cmp_scan(c, i, true);
}

/*
 * INS/OUTS go through the same I/O exit as IN/OUT: one exit per chunk, the
 * data in c->io_buf. The memory side is checked before the exit, so a fault
 * never follows a device access.
 */
static void io_string(struct emu_cpu *c, const struct emu_insn *i, bool in)
{
	struct str_ctx x;
	str_init(c, i, &x);
	uint16_t port = (uint16_t)c->s->gpr[GPR_RDX];
	uint64_t n = str_count(c, &x);
	if (n > sizeof(c->io_buf) / x.esz)
		n = sizeof(c->io_buf) / x.esz;
	if (!n)
		return;
	emu_io_check(c, port, x.esz);
	unsigned ptr = in ? GPR_RDI : GPR_RSI;
	unsigned seg = in ? SEG_ES : x.src_seg;
	uint64_t base = reg_get(c, ptr, &x);
	for (uint64_t k = 0; k < n; k++) {
		uint64_t off = (base + (uint64_t)x.step * k) & x.amask;
		uint64_t la = emu_la(c, seg, off, x.esz, in ? ACC_WRITE : ACC_READ);
		if (in)
			emu_probe_write(c, la, x.esz);
		else {
			uint64_t v = emu_read_la(c, la, x.esz);
			memcpy(c->io_buf + k * x.esz, &v, x.esz);
		}
	}
	if (!emu_io_access(c, i, port, x.esz, in, true, x.rep, (uint32_t)n)) {
		c->next_rip = c->s->rip;
		return;
	}
	if (in) {
		for (uint64_t k = 0; k < n; k++) {
			uint64_t v = 0;
			memcpy(&v, c->io_buf + k * x.esz, x.esz);
			emu_write(c, SEG_ES, (base + (uint64_t)x.step * k) & x.amask, x.esz, v);
		}
	}
	reg_step(c, ptr, &x, n);
	if (x.rep)
		reg_set(c, GPR_RCX, &x, reg_get(c, GPR_RCX, &x) - n);
	str_finish(c, &x, false);
}

void op_ins(struct emu_cpu *c, const struct emu_insn *i)
{
	io_string(c, i, true);
}

void op_outs(struct emu_cpu *c, const struct emu_insn *i)
{
	io_string(c, i, false);
}
