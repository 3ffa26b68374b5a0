/*
 * selftest-insn: the instructions compiled C and small kernels use, checked
 * from inside a guest against the Intel SDM (each result names its source:
 * Vol. 1 for flags, Vol. 2 for instructions, Vol. 3A for system state).
 *
 * Expected values are worked out by hand from the SDM's definitions (each
 * flag case lists the arithmetic), not taken from a run. The differential
 * suite (tests/diff) compares every ALU form with the host CPU; this guest
 * checks the forms as a guest meets them, including the system instructions
 * a host process cannot run: RDMSR/WRMSR, MOV CR, descriptor tables, INT n/
 * IRET, and code that rewrites itself.
 */
#include <guest/desc.h>
#include <guest/exc.h>
#include <guest/guest.h>
#include <guest/io.h>
#include <guest/paging.h>
#include <guest/tap.h>

/* ---- arithmetic flags, read with PUSHF (SDM Vol. 1 3.4.3.1, Appendix A) ---- */

#define CF RFLAGS_CF
#define PF RFLAGS_PF
#define AF RFLAGS_AF
#define ZF RFLAGS_ZF
#define SF RFLAGS_SF
#define OF RFLAGS_OF
#define ALL (CF | PF | AF | ZF | SF | OF)

/* Load RFLAGS from fin, run "insn src, dst" on the operand-size modifier mod
 * (b, w, k, q), and return RFLAGS after it; *res gets dst. */
#define ALU2(insn, mod, dst, src, fin, res)                                                        \
	({                                                                                         \
		uint64_t d_ = (dst), f_ = (fin);                                                   \
		__asm__ volatile("push %[f]\n\tpopfq\n\t" insn " %" mod "[s], %" mod "[d]\n\t"    \
				 "pushfq\n\tpop %[f]"                                              \
				 : [d] "+q"(d_), [f] "+r"(f_)                                      \
				 : [s] "q"((uint64_t)(src))                                        \
				 : "cc", "memory");                                                \
		*(res) = d_;                                                               \
		f_;                                                                        \
	})
#define ALU1(insn, mod, dst, fin, res)                                                             \
	({                                                                                         \
		uint64_t d_ = (dst), f_ = (fin);                                                   \
		__asm__ volatile("push %[f]\n\tpopfq\n\t" insn " %" mod "[d]\n\t"                 \
				 "pushfq\n\tpop %[f]"                                              \
				 : [d] "+q"(d_), [f] "+r"(f_)                                      \
				 :                                                                 \
				 : "cc", "memory");                                                \
		*(res) = d_;                                                               \
		f_;                                                                        \
	})

static void flags_case(const char *what, uint64_t res, uint64_t want_res, uint64_t flags, uint64_t mask,
		       uint64_t want_flags)
{
	char detail[96];
	snprintf(detail, sizeof(detail), "result 0x%lx flags 0x%lx; want 0x%lx 0x%lx", res, flags & mask, want_res,
		 want_flags);
	tap_ok_detail(res == want_res && (flags & mask) == want_flags, detail, "%s", what);
}

static void test_flags(void)
{
	uint64_t r, f;
	/* 0x7fffffff + 1 = 0x80000000: signed overflow (OF), SF, carry out of
	 * bit 3 (AF), low byte 0x00 has even parity (PF). */
	f = ALU2("add", "k", 0x7fffffff, 1, 2, &r);
	flags_case("ADD r32: 0x7fffffff + 1 sets OF SF AF PF (SDM 2A ADD, Vol. 1 3.4.3.1)", r, 0x80000000, f, ALL,
		   OF | SF | AF | PF);
	f = ALU2("add", "q", ~0ull, 1, 2, &r);
	flags_case("ADD r64: -1 + 1 = 0 sets CF ZF AF PF (SDM 2A ADD)", r, 0, f, ALL, CF | ZF | AF | PF);
	f = ALU2("sub", "k", 0, 1, 2, &r);
	flags_case("SUB r32: 0 - 1 borrows: CF SF AF PF (SDM 2B SUB)", r, 0xffffffff, f, ALL, CF | SF | AF | PF);
	f = ALU2("sub", "b", 0x80, 1, 2, &r);
	flags_case("SUB r8: 0x80 - 1 = 0x7f overflows: OF AF (SDM 2B SUB)", r, 0x7f, f, ALL, OF | AF);
	f = ALU2("cmp", "q", 5, 5, 2, &r);
	flags_case("CMP r64: equal operands set ZF PF, keep dst (SDM 2A CMP)", r, 5, f, ALL, ZF | PF);
	f = ALU2("adc", "k", 0xffffffff, 0, 2 | CF, &r);
	flags_case("ADC r32: 0xffffffff + 0 + CF = 0: CF ZF AF PF (SDM 2A ADC)", r, 0, f, ALL, CF | ZF | AF | PF);
	f = ALU2("sbb", "b", 0, 0, 2 | CF, &r);
	flags_case("SBB r8: 0 - 0 - CF = 0xff: CF SF AF PF (SDM 2B SBB)", r, 0xff, f, ALL, CF | SF | AF | PF);
	/* Logic: CF = OF = 0, AF undefined (SDM 2A AND). */
	f = ALU2("and", "k", 0xf0f0, 0x0ff0, 2 | CF | OF, &r);
	flags_case("AND r32: clears CF OF; 0xf0 has even parity (SDM 2A AND)", r, 0xf0, f, ALL & ~AF, PF);
	f = ALU2("xor", "q", 0x1234, 0x1234, 2, &r);
	flags_case("XOR r64: x ^ x = 0 sets ZF PF (SDM 2B XOR)", r, 0, f, ALL & ~AF, ZF | PF);
	f = ALU2("or", "w", 0x8000, 0x0001, 2, &r);
	flags_case("OR r16: 0x8001 sets SF, 0x01 has odd parity (SDM 2B OR)", r, 0x8001, f, ALL & ~AF, SF);
	/* INC/DEC keep CF (SDM 2A INC, DEC). */
	f = ALU1("inc", "k", 0xffffffff, 2 | CF, &r);
	flags_case("INC r32: 0xffffffff + 1 = 0: ZF AF PF, CF kept (SDM 2A INC)", r, 0, f, ALL, CF | ZF | AF | PF);
	f = ALU1("dec", "b", 0x80, 2, &r);
	flags_case("DEC r8: 0x80 - 1 = 0x7f: OF AF, CF kept clear (SDM 2A DEC)", r, 0x7f, f, ALL, OF | AF);
	/* NEG: CF = (source != 0) (SDM 2B NEG). */
	f = ALU1("neg", "k", 0, 2 | CF, &r);
	flags_case("NEG r32: -0 = 0: ZF PF, CF clear (SDM 2B NEG)", r, 0, f, ALL, ZF | PF);
	f = ALU1("neg", "k", 1, 2, &r);
	flags_case("NEG r32: -1 = 0xffffffff: CF SF AF PF (SDM 2B NEG)", r, 0xffffffff, f, ALL, CF | SF | AF | PF);
	/* Shifts by 1 (SDM 2B SAL/SAR/SHL/SHR): CF = last bit out; OF = for SHL
	 * MSB(result) ^ CF, for SHR the original MSB, for SAR 0. AF undefined. */
	f = ALU1("shl", "k", 0x80000001, 2, &r);
	flags_case("SHL r32 by 1: 0x80000001 -> 2: CF OF (SDM 2B SHL)", r, 2, f, ALL & ~AF, CF | OF);
	f = ALU1("shr", "k", 0x80000001, 2, &r);
	flags_case("SHR r32 by 1: 0x80000001 -> 0x40000000: CF OF PF (SDM 2B SHR)", r, 0x40000000, f, ALL & ~AF,
		   CF | OF | PF);
	f = ALU1("sar", "b", 0x81, 2, &r);
	flags_case("SAR r8 by 1: 0x81 -> 0xc0: CF SF PF, OF clear (SDM 2B SAR)", r, 0xc0, f, ALL & ~AF, CF | SF | PF);
	/* Rotates by 1 change only CF and OF (SDM 2B RCL/RCR/ROL/ROR). */
	f = ALU1("rol", "b", 0x81, 2, &r);
	flags_case("ROL r8 by 1: 0x81 -> 0x03: CF = LSB, OF = MSB ^ CF (SDM 2B ROL)", r, 0x03, f, CF | OF, CF | OF);
	f = ALU1("ror", "b", 0x01, 2, &r);
	flags_case("ROR r8 by 1: 0x01 -> 0x80: CF = MSB, OF = MSB ^ MSB-1 (SDM 2B ROR)", r, 0x80, f, CF | OF,
		   CF | OF);
	f = ALU1("rcl", "b", 0x80, 2 | CF, &r);
	flags_case("RCL r8 by 1: 0x80 with CF -> 0x01, CF set (SDM 2B RCL)", r, 0x01, f, CF, CF);

	/* Multiply: CF = OF = 1 iff the upper half is significant (SDM 2B MUL, IMUL). */
	uint64_t lo = 1ull << 63, hi = 0, fl;
	__asm__ volatile("mulq %3\n\tpushfq\n\tpop %2" : "+a"(lo), "+d"(hi), "=r"(fl) : "r"(2ull) : "cc");
	flags_case("MUL r64: 2^63 * 2 = 2^64: RDX:RAX = 1:0, CF OF (SDM 2B MUL)", (hi << 32) | lo, 1ull << 32, fl,
		   CF | OF, CF | OF);
	int64_t p;
	__asm__ volatile("imul $-4, %3, %0\n\tpushfq\n\tpop %1" : "=r"(p), "=r"(fl) : "0"(0ll), "r"(3ll) : "cc");
	flags_case("IMUL r64, imm: 3 * -4 = -12 fits: CF OF clear (SDM 2B IMUL)", (uint64_t)p, (uint64_t)-12, fl,
		   CF | OF, 0);
	uint32_t p32;
	__asm__ volatile("imul %3, %0\n\tpushfq\n\tpop %1" : "=r"(p32), "=r"(fl) : "0"(0x40000000u), "r"(2u) : "cc");
	flags_case("IMUL r32: 0x40000000 * 2 overflows: CF OF (SDM 2B IMUL)", p32, 0x80000000u, fl, CF | OF, CF | OF);

	/* Divide: quotient truncated toward zero, remainder has the dividend's
	 * sign (SDM 2A IDIV). */
	int64_t q = -7, rem;
	__asm__ volatile("cqo\n\tidivq %2" : "+a"(q), "=&d"(rem) : "r"(2ll) : "cc");
	tap_ok(q == -3 && rem == -1, "IDIV r64: -7 / 2 = -3 rem -1 (SDM 2A IDIV) [got %ld %ld]", q, rem);

	/* Bit operations (SDM 2A BT/BTS/BSF, 2B POPCNT, LZCNT, TZCNT). */
	uint64_t bits = 0x20;
	__asm__ volatile("bt $5, %1\n\tpushfq\n\tpop %0" : "=r"(fl) : "r"(bits) : "cc");
	tap_ok(fl & CF, "BT r64, 5 of 0x20: CF = 1 (SDM 2A BT)");
	__asm__ volatile("bts $0, %0" : "+r"(bits) : : "cc");
	tap_eq(bits, 0x21, "BTS sets the bit (SDM 2A BTS)");
	uint64_t idx = 99;
	__asm__ volatile("bsf %2, %0\n\tpushfq\n\tpop %1" : "+r"(idx), "=r"(fl) : "r"(0x10ull) : "cc");
	tap_ok(idx == 4 && !(fl & ZF), "BSF 0x10 = 4, ZF clear (SDM 2A BSF)");
	__asm__ volatile("bsf %2, %0\n\tpushfq\n\tpop %1" : "+r"(idx), "=r"(fl) : "r"(0ull) : "cc");
	tap_ok(fl & ZF, "BSF of 0 sets ZF (SDM 2A BSF)");
	/* POPCNT, LZCNT and TZCNT exist where CPUID says so: without them
	 * POPCNT is #UD, and F3 0F BD / F3 0F BC run as BSR / BSF (SDM 2B
	 * POPCNT, 2A LZCNT, 2B TZCNT). */
	uint32_t c1[4], c7[4], c81[4];
	cpuid(1, 0, c1);
	cpuid(7, 0, c7);
	cpuid(0x80000001, 0, c81);
	uint64_t cnt;
	if (c1[2] & (1u << 23)) {
		__asm__ volatile("popcnt %2, %0\n\tpushfq\n\tpop %1" : "=r"(cnt), "=r"(fl) : "r"(0xff00ffull) : "cc");
		tap_ok(cnt == 16 && !(fl & ALL), "POPCNT 0xff00ff = 16, flags clear (SDM 2B POPCNT)");
	} else {
		tap_skip("CPUID reports no POPCNT", "POPCNT (SDM 2B POPCNT)");
	}
	if (c81[2] & (1u << 5)) {
		__asm__ volatile("lzcnt %1, %0" : "=r"(cnt) : "r"(0x00f0000000000000ull) : "cc");
		tap_eq(cnt, 8, "LZCNT r64 of 0x00f0... = 8 (SDM 2A LZCNT)");
	} else {
		tap_skip("CPUID reports no LZCNT", "LZCNT (SDM 2A LZCNT)");
	}
	if (c7[1] & (1u << 3)) {
		__asm__ volatile("tzcnt %2, %0\n\tpushfq\n\tpop %1" : "=r"(cnt), "=r"(fl) : "r"(0ull) : "cc");
		tap_ok(cnt == 64 && (fl & CF), "TZCNT r64 of 0 = 64 with CF (SDM 2B TZCNT)");
	} else {
		tap_skip("CPUID reports no BMI1", "TZCNT (SDM 2B TZCNT)");
	}

	/* Condition codes: signed vs unsigned after CMP -1, 1 (SDM 2B SETcc). */
	uint8_t lt, below;
	__asm__ volatile("cmp %3, %2\n\tsetl %0\n\tsetb %1" : "=q"(lt), "=q"(below) : "r"(-1ll), "r"(1ll) : "cc");
	tap_ok(lt == 1 && below == 0, "CMP -1, 1: SETL = 1 (signed), SETB = 0 (unsigned) (SDM 2B SETcc)");
	uint64_t cm = 1;
	__asm__ volatile("cmp $0, %1\n\tcmovz %2, %0" : "+r"(cm) : "r"(0ull), "r"(7ull) : "cc");
	tap_eq(cm, 7, "CMOVZ moves when ZF = 1 (SDM 2A CMOVcc)");
	uint32_t c32 = 0xdeadbeef;
	uint64_t c64 = ~0ull;
	__asm__ volatile("cmp $1, %1\n\tcmovz %2, %k0" : "+r"(c64) : "r"(0ull), "r"(c32) : "cc");
	tap_eq(c64, 0xffffffffull, "CMOVZ r32 not taken still zero-extends (SDM 2A CMOVcc, Vol. 1 3.4.1.1)");

	/* LAHF/SAHF (SDM 2A LAHF, 2B SAHF). */
	uint64_t ah = 0;
	__asm__ volatile("xor %%eax, %%eax\n\tstc\n\tlahf\n\tmov %%rax, %0" : "=r"(ah) : : "rax", "cc");
	tap_eq((ah >> 8) & 0xc7, ZF | PF | 2 | CF, "LAHF: AH = SF:ZF:0:AF:0:PF:1:CF (SDM 2A LAHF)");
}

/* ---- string instructions (SDM 2B MOVS/STOS/CMPS/SCAS/LODS, REP) ---- */

static uint8_t sbuf[2][256];

static void test_strings(void)
{
	for (int k = 0; k < 256; k++)
		sbuf[0][k] = (uint8_t)k;
	memset(sbuf[1], 0, 256);
	uint64_t si = (uint64_t)(uintptr_t)sbuf[0], di = (uint64_t)(uintptr_t)sbuf[1], cx = 100;
	__asm__ volatile("cld\n\trep movsb" : "+S"(si), "+D"(di), "+c"(cx) : : "memory");
	tap_ok(!memcmp(sbuf[0], sbuf[1], 100) && sbuf[1][100] == 0, "REP MOVSB copies RCX bytes forward (SDM 2B MOVS)");
	tap_ok(cx == 0 && si == (uint64_t)(uintptr_t)sbuf[0] + 100 && di == (uint64_t)(uintptr_t)sbuf[1] + 100,
	       "REP MOVSB: RCX = 0, RSI/RDI advanced (SDM 2B REP)");

	/* DF = 1: backwards, quadwords (memmove of an overlapping range). */
	uint64_t q[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	si = (uint64_t)(uintptr_t)&q[5];
	di = (uint64_t)(uintptr_t)&q[7];
	cx = 6;
	__asm__ volatile("std\n\trep movsq\n\tcld" : "+S"(si), "+D"(di), "+c"(cx) : : "memory");
	tap_ok(q[0] == 1 && q[1] == 2 && q[2] == 1 && q[3] == 2 && q[7] == 6 && q[6] == 5,
	       "REP MOVSQ with DF = 1 copies downwards (SDM 2B MOVS, Vol. 1 3.4.3.2)");
	tap_ok(si == (uint64_t)(uintptr_t)&q[5] - 48 && di == (uint64_t)(uintptr_t)&q[7] - 48,
	       "REP MOVSQ with DF = 1: RSI/RDI decremented by 8 per element (SDM 2B MOVS)");

	uint64_t fill[4] = { 0 };
	di = (uint64_t)(uintptr_t)fill;
	cx = 3;
	__asm__ volatile("rep stosq" : "+D"(di), "+c"(cx) : "a"(0x1111222233334444ull) : "memory");
	tap_ok(fill[0] == 0x1111222233334444ull && fill[2] == fill[0] && fill[3] == 0, "REP STOSQ stores RAX RCX times (SDM 2B STOS)");

	di = (uint64_t)(uintptr_t)fill;
	cx = 0;
	__asm__ volatile("rep stosq" : "+D"(di), "+c"(cx) : "a"(0ull) : "memory");
	tap_ok(fill[0] == 0x1111222233334444ull && di == (uint64_t)(uintptr_t)fill, "REP with RCX = 0 does nothing (SDM 2B REP)");

	/* REPE CMPSB stops after the first difference (SDM 2B CMPS, REP). */
	memcpy(sbuf[1], sbuf[0], 32);
	sbuf[1][5] = 0xff;
	si = (uint64_t)(uintptr_t)sbuf[0];
	di = (uint64_t)(uintptr_t)sbuf[1];
	cx = 32;
	uint64_t fl;
	__asm__ volatile("repe cmpsb\n\tpushfq\n\tpop %3" : "+S"(si), "+D"(di), "+c"(cx), "=r"(fl) : : "memory", "cc");
	tap_ok(cx == 32 - 6 && si == (uint64_t)(uintptr_t)sbuf[0] + 6 && !(fl & ZF),
	       "REPE CMPSB stops after the mismatch at index 5: RCX = 26, ZF = 0 (SDM 2B REP)");
	tap_ok(fl & CF, "REPE CMPSB: 5 - 0xff borrows, CF = 1 (SDM 2A CMPS)");

	/* REPNE SCASB finds a byte (SDM 2B SCAS). */
	di = (uint64_t)(uintptr_t)sbuf[0];
	cx = 256;
	__asm__ volatile("repne scasb\n\tpushfq\n\tpop %2" : "+D"(di), "+c"(cx), "=r"(fl) : "a"(0x42) : "memory", "cc");
	tap_ok(di == (uint64_t)(uintptr_t)sbuf[0] + 0x43 && cx == 256 - 0x43 && (fl & ZF),
	       "REPNE SCASB finds 0x42: RDI one past it, ZF = 1 (SDM 2B SCAS)");

	uint64_t al = 0;
	si = (uint64_t)(uintptr_t)&sbuf[0][10];
	__asm__ volatile("std\n\tlodsb\n\tcld" : "+a"(al), "+S"(si) : : "memory");
	tap_ok((al & 0xff) == 10 && si == (uint64_t)(uintptr_t)&sbuf[0][9], "LODSB with DF = 1 (SDM 2A LODS)");
}

/* A REP STOSB that runs into a not-present page faults with the registers
 * of the completed iterations and resumes after the handler maps the page
 * (SDM 2B REP: "the registers ... reflect the progress"; SDM 3A 6.5 faults). */
#define STR_VA 0x0000008000000000ull
static uint64_t *rep_frames[2];
static volatile uint64_t rep_fault_rcx, rep_fault_rdi;

static bool rep_fixup(struct exc_frame *f)
{
	if (exc_last.cr2 != STR_VA + 4096)
		return false;
	rep_fault_rcx = f->rcx;
	rep_fault_rdi = f->rdi;
	pt_map(STR_VA + 4096, (uint64_t)(uintptr_t)rep_frames[1], PT_4K, PTE_P | PTE_W);
	return true; /* retry the instruction */
}

static void test_rep_fault(void)
{
	rep_frames[0] = pt_alloc_page();
	rep_frames[1] = pt_alloc_page();
	pt_map(STR_VA, (uint64_t)(uintptr_t)rep_frames[0], PT_4K, PTE_P | PTE_W);
	exc_set_handler(X86_PF, rep_fixup);
	uint64_t before = exc_count[X86_PF];
	uint64_t di = STR_VA + 4000, cx = 200;
	__asm__ volatile("rep stosb" : "+D"(di), "+c"(cx) : "a"(0x77) : "memory");
	exc_set_handler(X86_PF, NULL);
	tap_eq(exc_count[X86_PF] - before, 1, "REP STOSB into a not-present page: one #PF (SDM 2B REP)");
	tap_ok(rep_fault_rcx == 104 && rep_fault_rdi == STR_VA + 4096,
	       "... RCX/RDI at the fault reflect the 96 completed stores (SDM 2B REP) [RCX %lu RDI 0x%lx]",
	       rep_fault_rcx, rep_fault_rdi);
	uint8_t *p0 = (uint8_t *)rep_frames[0], *p1 = (uint8_t *)rep_frames[1];
	tap_ok(cx == 0 && di == STR_VA + 4200 && p0[4000] == 0x77 && p0[4095] == 0x77 && p1[0] == 0x77 &&
		       p1[103] == 0x77 && p1[104] == 0,
	       "... and completes after the handler mapped the page (SDM 3A 6.5)");
}

/* ---- CALL/RET/ENTER/LEAVE (SDM 2A CALL, 2B RET, ENTER, LEAVE) ---- */

/* ENTER changes RBP, which C code may use: probes in plain assembly.
 * enter_probe(o): o = RBP, RSP before ENTER 32,0; after it; after LEAVE.
 * enter2_probe(o, rbp): ENTER 16,2 with RBP = rbp; o = [RBP], [RBP-8],
 * [RBP-16], RBP, RSP after it. */
void enter_probe(uint64_t *o);
void enter2_probe(uint64_t *o, uint64_t rbp);
__asm__(".text\n"
	"enter_probe:\n"
	"	push %rbp\n"
	"	mov %rbp, 0(%rdi)\n"
	"	mov %rsp, 8(%rdi)\n"
	"	enter $32, $0\n"
	"	mov %rbp, 16(%rdi)\n"
	"	mov %rsp, 24(%rdi)\n"
	"	leave\n"
	"	mov %rbp, 32(%rdi)\n"
	"	mov %rsp, 40(%rdi)\n"
	"	pop %rbp\n"
	"	ret\n"
	"enter2_probe:\n"
	"	push %rbp\n"
	"	mov %rsi, %rbp\n"
	"	enter $16, $2\n"
	"	mov (%rbp), %rax\n"
	"	mov %rax, 0(%rdi)\n"
	"	mov -8(%rbp), %rax\n"
	"	mov %rax, 8(%rdi)\n"
	"	mov -16(%rbp), %rax\n"
	"	mov %rax, 16(%rdi)\n"
	"	mov %rbp, 24(%rdi)\n"
	"	mov %rsp, 32(%rdi)\n"
	"	leave\n"
	"	pop %rbp\n"
	"	ret\n");

static void test_calls(void)
{
	uint64_t rsp0, rsp1, ret_addr, v;
	(void)ret_addr;
	__asm__ volatile("mov %%rsp, %0\n\t"
			 "call 1f\n\t"
			 "jmp 2f\n"
			 "1: mov (%%rsp), %2\n\t"
			 "mov %%rsp, %1\n\t"
			 "ret\n"
			 "2:"
			 : "=&r"(rsp0), "=&r"(rsp1), "=&r"(ret_addr)
			 :
			 : "memory");
	tap_eq(rsp0 - rsp1, 8, "CALL pushes 8 bytes in 64-bit mode (SDM 2A CALL)");

	__asm__ volatile("push $0x1111\n\tpush $0x2222\n\t"
			 "call 1f\n\t"
			 "jmp 2f\n"
			 "1: ret $16\n"
			 "2: mov %%rsp, %0"
			 : "=r"(v)
			 :
			 : "memory");
	uint64_t now;
	__asm__ volatile("mov %%rsp, %0" : "=r"(now));
	tap_eq(v, now, "RET imm16 releases the pushed arguments (SDM 2B RET)");

	uint64_t fn_addr;
	__asm__ volatile("lea 1f(%%rip), %%rax\n\t"
			 "call *%%rax\n\t"
			 "jmp 2f\n"
			 "1: mov $42, %%eax\n\tret\n"
			 "2: mov %%rax, %0"
			 : "=r"(fn_addr)
			 :
			 : "rax", "memory");
	tap_eq(fn_addr, 42, "CALL through a register (SDM 2A CALL)");

	/* ENTER 32, 0 then LEAVE (SDM 2A ENTER, LEAVE). */
	uint64_t o[6];
	enter_probe(o);
	tap_ok(o[2] == o[1] - 8 && o[3] == o[1] - 8 - 32, "ENTER 32, 0: RBP = frame, RSP = frame - 32 (SDM 2A ENTER)");
	tap_ok(o[4] == o[0] && o[5] == o[1], "LEAVE restores RBP and RSP (SDM 2A LEAVE)");

	/* ENTER 16, 2: the old RBP, one display entry copied from the outer
	 * frame ([RBP - 8] there), the new frame pointer (SDM 2A ENTER). */
	uint64_t fake[4] = { 0, 0, 0xabcd, 0 };
	uint64_t n[5];
	enter2_probe(n, (uint64_t)(uintptr_t)&fake[3]);
	tap_ok(n[0] == (uint64_t)(uintptr_t)&fake[3] && n[1] == 0xabcd && n[2] == n[3] && n[4] == n[3] - 16 - 16,
	       "ENTER 16, 2: old RBP, the outer display entry, the new frame pointer (SDM 2A ENTER)");
}

/* ---- CMPXCHG/XADD/LOCK (SDM 2A CMPXCHG, CMPXCHG8B/16B, 2B XADD, XCHG) ---- */

static void test_atomics(void)
{
	uint64_t m = 5, rax = 5, fl;
	__asm__ volatile("lock cmpxchgq %3, %0\n\tpushfq\n\tpop %2" : "+m"(m), "+a"(rax), "=r"(fl) : "r"(9ull) : "cc");
	tap_ok(m == 9 && rax == 5 && (fl & ZF), "LOCK CMPXCHG, equal: stores the source, ZF = 1 (SDM 2A CMPXCHG)");
	rax = 1;
	__asm__ volatile("lock cmpxchgq %3, %0\n\tpushfq\n\tpop %2" : "+m"(m), "+a"(rax), "=r"(fl) : "r"(7ull) : "cc");
	tap_ok(m == 9 && rax == 9 && !(fl & ZF), "LOCK CMPXCHG, different: loads RAX, ZF = 0 (SDM 2A CMPXCHG)");
	uint32_t m32 = 3, e32 = 3;
	__asm__ volatile("cmpxchgl %2, %0" : "+m"(m32), "+a"(e32) : "r"(4u) : "cc");
	tap_eq(m32, 4, "CMPXCHG r/m32 without LOCK (SDM 2A CMPXCHG)");

	uint64_t x = 10, add = 5;
	__asm__ volatile("lock xaddq %1, %0" : "+m"(x), "+r"(add) : : "cc");
	tap_ok(x == 15 && add == 10, "LOCK XADD: memory = sum, register = old value (SDM 2B XADD)");
	uint64_t sw = 1, reg = 2;
	__asm__ volatile("xchgq %1, %0" : "+m"(sw), "+r"(reg) : : "memory");
	tap_ok(sw == 2 && reg == 1, "XCHG with memory (SDM 2B XCHG)");
	uint64_t ctr = 0;
	__asm__ volatile("lock incq %0\n\tlock addq $2, %0\n\tlock orq $0x100, %0" : "+m"(ctr) : : "cc");
	tap_eq(ctr, 0x103, "LOCK INC/ADD/OR on memory (SDM 2A LOCK)");

	uint64_t m8 = 0x1111111122222222ull;
	uint32_t a = 0x22222222, d = 0x11111111;
	__asm__ volatile("lock cmpxchg8b %0\n\tpushfq\n\tpop %3"
			 : "+m"(m8), "+a"(a), "+d"(d), "=r"(fl)
			 : "b"(0x44444444u), "c"(0x33333333u)
			 : "cc");
	tap_ok(m8 == 0x3333333344444444ull && (fl & ZF), "LOCK CMPXCHG8B, equal: stores ECX:EBX (SDM 2A CMPXCHG8B)");

	static uint64_t m16[4] __attribute__((aligned(16))) = { 1, 2, 0, 0 };
	uint64_t lo = 1, hi = 2;
	__asm__ volatile("lock cmpxchg16b %0\n\tpushfq\n\tpop %3"
			 : "+m"(m16[0]), "+a"(lo), "+d"(hi), "=r"(fl)
			 : "b"(7ull), "c"(8ull)
			 : "cc", "memory");
	tap_ok(m16[0] == 7 && m16[1] == 8 && (fl & ZF), "LOCK CMPXCHG16B, equal: stores RCX:RBX (SDM 2A CMPXCHG16B)");
	lo = 0;
	hi = 0;
	__asm__ volatile("lock cmpxchg16b %0\n\tpushfq\n\tpop %3"
			 : "+m"(m16[0]), "+a"(lo), "+d"(hi), "=r"(fl)
			 : "b"(1ull), "c"(1ull)
			 : "cc", "memory");
	tap_ok(lo == 7 && hi == 8 && !(fl & ZF) && m16[0] == 7, "LOCK CMPXCHG16B, different: loads RDX:RAX (SDM 2A CMPXCHG16B)");
	exc_reset();
	__asm__ volatile(EXC_SAFE("lock cmpxchg16b (%0)") : : "r"(&m16[1]), "a"(0ull), "d"(0ull), "b"(0ull), "c"(0ull)
			 : "cc", "memory");
	tap_ok(exc_last.vector == X86_GP && exc_last.error == 0,
	       "CMPXCHG16B on a misaligned operand: #GP(0) (SDM 2A CMPXCHG16B)");
}

/* ---- CPUID, RDTSC (SDM 2A CPUID, 2B RDTSC/RDTSCP) ---- */

static void test_cpuid_tsc(void)
{
	uint32_t r[4], r1[4];
	cpuid(0, 0, r);
	uint32_t max = r[0];
	char vendor[13];
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	tap_ok(max >= 7, "CPUID.0: maximum basic leaf %u >= 7 (SDM 2A CPUID)", max);
	tap_ok(strlen(vendor) == 12, "CPUID.0: vendor \"%s\" in EBX, EDX, ECX (SDM 2A CPUID)", vendor);
	cpuid(1, 0, r);
	tap_ok((r[3] & (1u << 4)) && (r[3] & (1u << 5)), "CPUID.1: EDX reports TSC and MSR (used below)");
	tap_eq((r[1] >> 24) & 0xff, 0, "CPUID.1: EBX[31:24] initial APIC ID of vCPU 0 (SDM 2A CPUID)");
	tap_eq((r[2] >> 27) & 1, (read_cr4() & CR4_OSXSAVE) ? 1 : 0, "CPUID.1: ECX.OSXSAVE mirrors CR4.OSXSAVE (SDM 2A CPUID)");
	/* A basic leaf above the maximum returns the highest basic leaf. */
	cpuid(max, 0, r1);
	cpuid(max + 0x100, 0, r);
	tap_ok(!memcmp(r, r1, sizeof(r)), "CPUID above the maximum basic leaf returns the highest one (SDM 2A CPUID)");
	cpuid(0x80000000, 0, r);
	tap_ok(r[0] >= 0x80000008, "CPUID.80000000H: extended leaves up to 0x%x >= 0x80000008 (SDM 2A CPUID)", r[0]);
	uint64_t rbx = ~0ull, rcx_hi;
	__asm__ volatile("mov $-1, %%rcx\n\tcpuid\n\tmov %%rcx, %1" : "+b"(rbx), "=r"(rcx_hi) : "a"(0) : "rdx");
	tap_ok(!(rbx >> 32) && !(rcx_hi >> 32), "CPUID clears bits 63:32 of RBX, RCX (SDM 2A CPUID)");

	uint64_t t1 = rdtsc();
	volatile uint64_t spin = 0;
	for (int k = 0; k < 1000; k++)
		spin += (uint64_t)k;
	uint64_t t2 = rdtsc();
	uint64_t t3 = rdtsc();
	tap_ok(t2 > t1 && t3 > t2, "RDTSC increases monotonically (SDM 2B RDTSC, 3A 18.17)");
	uint64_t hi_rdx;
	__asm__ volatile("mov $-1, %%rdx\n\trdtsc\n\tmov %%rdx, %0" : "=r"(hi_rdx) : : "rax", "rdx");
	tap_ok(!(hi_rdx >> 32), "RDTSC clears bits 63:32 of RDX (SDM 2B RDTSC)");
	cpuid(0x80000001, 0, r);
	if (r[3] & (1u << 27)) {
		wrmsr(MSR_IA32_TSC_AUX, 0x1234);
		uint32_t aux;
		__asm__ volatile("rdtscp" : "=c"(aux) : : "rax", "rdx");
		tap_eq(aux, 0x1234, "RDTSCP returns IA32_TSC_AUX in ECX (SDM 2B RDTSCP)");
	} else {
		tap_skip("CPUID reports no RDTSCP", "RDTSCP (SDM 2B RDTSCP)");
	}
}

/* ---- what CPUID advertises must work (SDM 2A CPUID, Tables 3-10, 3-11) ---- */

/* Run one advertised instruction; a #UD or a wrong result fails (todo: a
 * known bug, reported as TAP TODO). */
static void advertised_todo(bool present, const char *feature, const char *insn, int vec, bool ok,
			    const char *todo)
{
	if (!present)
		tap_skip("not advertised", "%s: %s (SDM 2A CPUID)", feature, insn);
	else if (todo)
		tap_todo(vec < 0 && ok, todo, "CPUID advertises %s: %s works (SDM 2A %s) [vector %d]", feature, insn,
			 insn, vec);
	else
		tap_ok(vec < 0 && ok, "CPUID advertises %s: %s works (SDM 2A %s) [vector %d]", feature, insn, insn, vec);
}

static void advertised(bool present, const char *feature, const char *insn, int vec, bool ok)
{
	advertised_todo(present, feature, insn, vec, ok, NULL);
}

/* The CPU model (core/cpuid.c) advertises BMI1 for TZCNT, but the other
 * BMI1 instructions have no handler yet. */
#define BMI1_TODO "ANDN/BEXTR/BLSI/BLSMSK/BLSR not implemented yet (core/emu/insn_table.def)"


static void test_advertised(void)
{
	uint32_t r1[4], r7[4];
	cpuid(1, 0, r1);
	cpuid(7, 0, r7);
	uint64_t d = 0, v;

	exc_reset();
	uint64_t be = 0x1122334455667788ull;
	__asm__ volatile(EXC_SAFE("movbe %1, %0") : "+r"(d) : "m"(be) : "memory");
	advertised(r1[2] & (1u << 22), "MOVBE", "MOVBE", exc_last.vector, d == 0x8877665544332211ull);

	exc_reset();
	__asm__ volatile(EXC_SAFE("clflush %0") : : "m"(be) : "memory");
	advertised(r1[3] & (1u << 19), "CLFSH", "CLFLUSH", exc_last.vector, true);

	int e = exc_rdmsr_safe(MSR_IA32_PAT, &v);
	advertised(r1[3] & (1u << 16), "PAT", "RDMSR IA32_PAT", e, true);

	/* BMI1 (SDM 2A ANDN, BEXTR, BLSI, BLSMSK, BLSR). */
	bool bmi1 = r7[1] & (1u << 3);
	exc_reset();
	d = 0;
	__asm__ volatile(EXC_SAFE("andn %2, %1, %0") : "+r"(d) : "r"(0xff00ull), "r"(0x0ff0ull) : "cc", "memory");
	advertised_todo(bmi1, "BMI1", "ANDN", exc_last.vector, d == 0x00f0, BMI1_TODO);
	exc_reset();
	d = 0;
	__asm__ volatile(EXC_SAFE("bextr %2, %1, %0") : "+r"(d) : "r"(0xabcd00ull), "r"(0x0808ull) : "cc", "memory");
	advertised_todo(bmi1, "BMI1", "BEXTR", exc_last.vector, d == 0xcd, BMI1_TODO);
	exc_reset();
	d = 0;
	__asm__ volatile(EXC_SAFE("blsi %1, %0") : "+r"(d) : "r"(0x68ull) : "cc", "memory");
	advertised_todo(bmi1, "BMI1", "BLSI", exc_last.vector, d == 0x08, BMI1_TODO);
	exc_reset();
	d = 0;
	__asm__ volatile(EXC_SAFE("blsmsk %1, %0") : "+r"(d) : "r"(0x68ull) : "cc", "memory");
	advertised_todo(bmi1, "BMI1", "BLSMSK", exc_last.vector, d == 0x0f, BMI1_TODO);
	exc_reset();
	d = 0;
	__asm__ volatile(EXC_SAFE("blsr %1, %0") : "+r"(d) : "r"(0x68ull) : "cc", "memory");
	advertised_todo(bmi1, "BMI1", "BLSR", exc_last.vector, d == 0x60, BMI1_TODO);
}

/* ---- MSRs (SDM 2B RDMSR/WRMSR, Vol. 4) ---- */

static void test_msrs(void)
{
	wrmsr(MSR_IA32_SYSENTER_ESP, 0xffff800012345678ull);
	tap_eq(rdmsr(MSR_IA32_SYSENTER_ESP), 0xffff800012345678ull, "WRMSR/RDMSR IA32_SYSENTER_ESP round trip (SDM 2B WRMSR)");
	wrmsr(MSR_IA32_LSTAR, 0xffffffff81000000ull);
	tap_eq(rdmsr(MSR_IA32_LSTAR), 0xffffffff81000000ull, "WRMSR/RDMSR IA32_LSTAR round trip (SDM 2B WRMSR)");
	tap_eq((uint64_t)exc_wrmsr_safe(MSR_IA32_LSTAR, 0x0000800000000000ull), X86_GP,
	       "WRMSR IA32_LSTAR with a non-canonical address: #GP (SDM 2B WRMSR)");
	uint64_t v;
	tap_eq((uint64_t)exc_rdmsr_safe(0x4b564d99, &v), X86_GP, "RDMSR of an unimplemented MSR: #GP(0) (SDM 2B RDMSR)");
	tap_eq((uint64_t)exc_wrmsr_safe(0x4b564d99, 0), X86_GP, "WRMSR of an unimplemented MSR: #GP(0) (SDM 2B WRMSR)");

	/* FS base through the MSR (SDM 3A 3.4.4): an FS-relative read. */
	static uint64_t fs_data[2] = { 0, 0x600dcafe };
	wrmsr(MSR_IA32_FS_BASE, (uint64_t)(uintptr_t)fs_data);
	uint64_t got;
	__asm__ volatile("mov %%fs:8, %0" : "=r"(got));
	tap_eq(got, 0x600dcafe, "IA32_FS_BASE sets the FS base used by FS: references (SDM 3A 3.4.4)");
	wrmsr(MSR_IA32_FS_BASE, 0);
	/* SWAPGS exchanges GS.base and IA32_KERNEL_GS_BASE (SDM 2B SWAPGS). */
	wrmsr(MSR_IA32_GS_BASE, 0x1000);
	wrmsr(MSR_IA32_KERNEL_GS_BASE, 0x2000);
	__asm__ volatile("swapgs" ::: "memory");
	tap_ok(rdmsr(MSR_IA32_GS_BASE) == 0x2000 && rdmsr(MSR_IA32_KERNEL_GS_BASE) == 0x1000,
	       "SWAPGS exchanges GS base and IA32_KERNEL_GS_BASE (SDM 2B SWAPGS)");
	wrmsr(MSR_IA32_GS_BASE, 0);
	wrmsr(MSR_IA32_KERNEL_GS_BASE, 0);

	/* Writing IA32_TSC sets the counter (SDM 3A 18.17). */
	wrmsr(MSR_IA32_TSC, 1ull << 40);
	uint64_t t = rdtsc();
	tap_ok(t >= (1ull << 40) && t < (1ull << 40) + (1ull << 32), "WRMSR IA32_TSC sets the TSC (SDM 3A 18.17)");
}

/* ---- control registers (SDM 2B MOV CR, CLTS; 3A 2.5) ---- */

static void test_crs(void)
{
	uint64_t cr0 = read_cr0();
	tap_ok((cr0 & (CR0_PE | CR0_PG | CR0_ET)) == (CR0_PE | CR0_PG | CR0_ET),
	       "CR0 has PE, PG and ET as the boot protocol set them (SDM 3A 2.5)");
	write_cr0(cr0 | CR0_TS);
	tap_ok(read_cr0() & CR0_TS, "MOV to CR0 sets TS (SDM 3A 2.5)");
	__asm__ volatile("clts" ::: "memory");
	tap_ok(!(read_cr0() & CR0_TS), "CLTS clears CR0.TS (SDM 2A CLTS)");
	write_cr0(cr0 & ~CR0_ET);
	tap_ok(read_cr0() & CR0_ET, "CR0.ET is fixed at 1 (SDM 3A 2.5)");
	write_cr2(0x1234abcd);
	tap_eq(read_cr2(), 0x1234abcd, "MOV to/from CR2 (SDM 2B MOV CR)");
	tap_eq(read_cr3() & PT_ADDR_MASK, TORTUGA_BOOT_PML4, "CR3 holds the boot PML4 (include/tortuga/bootinfo.h)");
	uint64_t cr4 = read_cr4();
	write_cr4(cr4 | CR4_TSD);
	tap_ok(read_cr4() & CR4_TSD, "MOV to CR4 sets TSD (SDM 3A 2.5)");
	write_cr4(cr4);
	uint64_t cr8;
	__asm__ volatile("mov %1, %%cr8\n\tmov %%cr8, %0" : "=r"(cr8) : "r"(9ull));
	tap_eq(cr8, 9, "MOV to/from CR8 (TPR) (SDM 3A 2.5)");
	__asm__ volatile("mov %0, %%cr8" : : "r"(0ull));
	exc_reset();
	__asm__ volatile(EXC_SAFE("mov %0, %%cr8") : : "r"(16ull) : "memory");
	tap_eq((uint64_t)exc_last.vector, X86_GP, "MOV to CR8 with bits 63:4 set: #GP(0) (SDM 3A 2.5)");
}

/* ---- descriptor tables (SDM 2A LGDT/LIDT, 2B SGDT/SIDT, LTR, STR, SMSW) ---- */

struct dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static void test_desc_tables(void)
{
	struct dtr g, i2, saved;
	__asm__ volatile("sgdt %0" : "=m"(g));
	tap_ok(g.base == (uint64_t)(uintptr_t)guest_gdt && g.limit == SEL_BEYOND_GDT - 1,
	       "SGDT stores what LGDT loaded (SDM 2B SGDT)");
	__asm__ volatile("sidt %0" : "=m"(saved));
	struct dtr test = { 0x1ff, 0xffff800000001000ull };
	__asm__ volatile("lidt %1\n\tsidt %0\n\tlidt %2" : "=m"(i2) : "m"(test), "m"(saved));
	tap_ok(i2.base == test.base && i2.limit == test.limit, "LIDT/SIDT round trip with a 64-bit base (SDM 2A LIDT)");
	exc_reset();
	struct dtr bad = { 0xfff, 0x8000000000000000ull };
	__asm__ volatile(EXC_SAFE("lgdt %0") : : "m"(bad) : "memory");
	int lgdt_vec = exc_last.vector;
	/* A CPU that loaded the bad base anyway must not keep it: every
	 * later segment load and exception would read the GDT there. */
	__asm__ volatile("lgdt %0" : : "m"(g) : "memory");
	tap_eq((uint64_t)lgdt_vec, X86_GP, "LGDT with a non-canonical base: #GP(0) (SDM 2A LGDT)");

	uint16_t tr = 0;
	__asm__ volatile("str %0" : "=r"(tr));
	tap_eq(tr, SEL_TSS, "STR returns the selector LTR loaded (SDM 2B STR)");
	tap_eq((guest_gdt[SEL_TSS / 8] >> 40) & 0xf, 0xb, "LTR marked the TSS descriptor busy (SDM 2A LTR)");
	exc_reset();
	__asm__ volatile(EXC_SAFE("ltr %w0") : : "r"(SEL_TSS) : "memory");
	tap_ok(exc_last.vector == X86_GP && exc_last.error == SEL_TSS, "LTR of a busy TSS: #GP(selector) (SDM 2A LTR)");
	/* Loading a segment register sets the descriptor's accessed bit
	 * (SDM 3A 3.4.5.1). */
	tap_eq((guest_gdt[SEL_TEST_UNACCESSED / 8] >> 40) & 1, 0, "test descriptor starts with A = 0");
	__asm__ volatile("mov %0, %%es\n\tmov %1, %%es" : : "r"((uint32_t)SEL_TEST_UNACCESSED), "r"((uint32_t)SEL_KDATA));
	tap_eq((guest_gdt[SEL_TEST_UNACCESSED / 8] >> 40) & 1, 1, "MOV ES sets the descriptor's accessed bit (SDM 3A 3.4.5.1)");
	uint16_t ldt = 0xffff;
	__asm__ volatile("sldt %0" : "=r"(ldt));
	tap_eq(ldt, 0, "SLDT: no LDT loaded (SDM 2B SLDT)");

	uint8_t msw[4] = { 0xee, 0xee, 0xee, 0xee };
	__asm__ volatile("smsw %0" : "=m"(*(uint16_t *)msw));
	tap_ok((uint64_t)(msw[0] | (msw[1] << 8)) == (read_cr0() & 0xffff) && msw[2] == 0xee,
	       "SMSW m16 stores CR0[15:0] and nothing more (SDM 2B SMSW)");
	uint64_t msw_reg = 0;
	__asm__ volatile("smsw %k0" : "=r"(msw_reg));
	tap_eq(msw_reg & 0xffff, read_cr0() & 0xffff, "SMSW r32: low 16 bits are CR0[15:0] (SDM 2B SMSW)");
}

/* ---- PUSHF/POPF, CLI/STI (SDM 2B PUSHF, POPF, CLI, STI) ---- */

static uint64_t u_popf_iopl_if(uint64_t arg)
{
	(void)arg;
	uint64_t f;
	__asm__ volatile("pushfq\n\torq $0x3200, (%%rsp)\n\tpopfq\n\tpushfq\n\tpop %0" : "=r"(f) : : "cc");
	return f;
}

static void test_flags_regs(void)
{
	uint64_t f;
	__asm__ volatile("pushfq\n\tpop %0" : "=r"(f));
	tap_ok((f & 2) && !(f & ((1 << 3) | (1 << 5) | (1 << 15))), "PUSHF: bit 1 is 1, bits 3, 5, 15 are 0 (SDM Vol. 1 3.4.3)");
	__asm__ volatile("pushfq\n\torq $0x240400, (%%rsp)\n\tpopfq\n\tpushfq\n\tpop %0" : "=r"(f) : : "cc");
	tap_ok((f & (RFLAGS_DF | RFLAGS_AC | RFLAGS_ID)) == (RFLAGS_DF | RFLAGS_AC | RFLAGS_ID),
	       "POPF at CPL 0 sets DF, AC, ID (SDM 2B POPF)");
	__asm__ volatile("pushfq\n\tandq $~0x240400, (%%rsp)\n\tpopfq\n\tpushfq\n\tpop %0" : "=r"(f) : : "cc");
	tap_ok(!(f & (RFLAGS_DF | RFLAGS_AC | RFLAGS_ID)), "POPF clears DF, AC, ID (SDM 2B POPF)");
	__asm__ volatile("pushfq\n\torq $0x30000, (%%rsp)\n\tpopfq\n\tpushfq\n\tpop %0" : "=r"(f) : : "cc");
	tap_ok(!(f & (RFLAGS_VM | RFLAGS_RF)), "POPF does not set VM or RF; PUSHF stores them as 0 (SDM 2B POPF, PUSHF)");
	__asm__ volatile("pushfq\n\torq $0x3000, (%%rsp)\n\tpopfq\n\tpushfq\n\tpop %0" : "=r"(f) : : "cc");
	tap_eq(f & RFLAGS_IOPL, RFLAGS_IOPL, "POPF at CPL 0 changes IOPL (SDM 2B POPF)");
	__asm__ volatile("pushfq\n\tandq $~0x3000, (%%rsp)\n\tpopfq" : : : "cc");
	uint64_t uf = user_call(u_popf_iopl_if, 0);
	tap_ok(!(uf & RFLAGS_IOPL) && !(uf & RFLAGS_IF), "POPF at CPL 3 (IOPL 0) changes neither IOPL nor IF, no fault (SDM 2B POPF)");

	cli();
	tap_ok(!(read_rflags() & RFLAGS_IF), "CLI clears IF (SDM 2A CLI)");
	sti();
	tap_ok(read_rflags() & RFLAGS_IF, "STI sets IF (SDM 2B STI)");
	cli();
}

/* ---- INT n / IRET (SDM 2A INT n, IRET) ---- */

static bool int50_handler(struct exc_frame *f)
{
	f->rax = f->rax * 3; /* visible to the interrupted code after IRET */
	f->rflags |= RFLAGS_CF;
	return true;
}

static uint64_t u_data_selectors(uint64_t arg)
{
	(void)arg;
	uint16_t ds, es, fs, gs;
	__asm__ volatile("mov %%ds, %0\n\tmov %%es, %1\n\tmov %%fs, %2\n\tmov %%gs, %3"
			 : "=r"(ds), "=r"(es), "=r"(fs), "=r"(gs));
	return ds | (uint64_t)es << 16 | (uint64_t)fs << 32 | (uint64_t)gs << 48;
}

static void test_int_iret(void)
{
	/* IRET to an outer privilege level loads NULL into ES, FS, GS and DS
	 * when they hold data segments more privileged than the new CPL
	 * (SDM 2A IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL). */
	tap_eq(user_call(u_data_selectors, 0), 0, "IRETQ to CPL 3 nulls DS, ES, FS, GS holding DPL-0 data (SDM 2A IRET)");

	exc_set_handler(0x50, int50_handler);
	uint64_t v = 14, fl;
	__asm__ volatile("clc\n\tint $0x50\n\tpushfq\n\tpop %1" : "+a"(v), "=r"(fl) : : "cc", "memory");
	exc_set_handler(0x50, NULL);
	tap_ok(v == 42 && (fl & CF), "INT 0x50: the handler's frame edits come back through IRETQ (SDM 2A IRET)");

	/* IRETQ to a hand-built frame: RIP, CS, RFLAGS, RSP, SS (SDM 2A IRET). */
	uint64_t got_flags, got_rsp, want_rsp;
	__asm__ volatile("mov %%rsp, %%rcx\n\t"
			 "sub $64, %%rcx\n\t"
			 "mov %%rcx, %2\n\t"
			 "mov %%rsp, %%rdx\n\t"
			 "pushq %3\n\t"
			 "pushq %%rcx\n\t"
			 "pushq $0x403\n\t" /* CF | DF, bit 1 */
			 "pushq %4\n\t"
			 "lea 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "iretq\n"
			 "1: pushfq\n\tpop %0\n\t"
			 "mov %%rsp, %1\n\t"
			 "mov %%rdx, %%rsp\n\t"
			 "cld"
			 : "=&r"(got_flags), "=&r"(got_rsp), "=&m"(want_rsp)
			 : "i"(SEL_KDATA), "i"(SEL_KCODE)
			 : "rax", "rcx", "rdx", "memory", "cc");
	tap_ok((got_flags & (CF | RFLAGS_DF)) == (CF | RFLAGS_DF), "IRETQ loads RFLAGS from the frame (SDM 2A IRET)");
	tap_eq(got_rsp, want_rsp, "IRETQ in 64-bit mode pops RSP and SS too (SDM 2A IRET)");
}

/* ---- self-modifying code (SDM 3A 11.6) ---- */

static uint8_t code_buf[4096] __attribute__((aligned(4096)));

static uint32_t run_code(void)
{
	return ((uint32_t(*)(void))(uintptr_t)code_buf)();
}

static void test_smc(void)
{
	/* mov $imm32, %eax; ret */
	static const uint8_t prog[] = { 0xb8, 1, 0, 0, 0, 0xc3 };
	memcpy(code_buf, prog, sizeof(prog));
	tap_eq(run_code(), 1, "code written to memory runs (SDM 3A 11.6)");
	code_buf[1] = 2;
	tap_eq(run_code(), 2, "rewritten code runs in its new form: the decoded copy is dropped (SDM 3A 11.6)");

	/* A write to the next instruction of the running straight-line code. */
	uint32_t v;
	__asm__ volatile("movb $0x22, 1f+1(%%rip)\n"
			 "1: movb $0x11, %%al\n\t"
			 "movzbl %%al, %0"
			 : "=r"(v)
			 :
			 : "rax", "memory");
	tap_eq(v, 0x22, "a store into the next instruction takes effect before it executes (SDM 3A 11.6)");

	/* Through another linear address of the same physical page: the
	 * decoded-code cache is keyed by physical address (SDM 3A 11.6). */
	uint64_t alias = 0x0000008000200000ull;
	pt_map(alias, (uint64_t)(uintptr_t)code_buf, PT_4K, PTE_P | PTE_W);
	tap_eq(run_code(), 2, "code runs before the write through an alias");
	*(volatile uint8_t *)(uintptr_t)(alias + 1) = 3;
	tap_eq(run_code(), 3, "a write through another linear address reaches the code (SDM 3A 11.6)");

	/* REP STOSB over code (string stores are writes like any other). */
	uint64_t di = (uint64_t)(uintptr_t)(code_buf + 1), cx = 1;
	__asm__ volatile("rep stosb" : "+D"(di), "+c"(cx) : "a"(4) : "memory");
	tap_eq(run_code(), 4, "REP STOSB into code reaches the code (SDM 3A 11.6)");
}

int main(const struct tortuga_bootinfo *bi)
{
	(void)bi;
	exc_init();
	test_flags();
	test_strings();
	test_rep_fault();
	test_calls();
	test_atomics();
	test_cpuid_tsc();
	test_advertised();
	test_msrs();
	test_crs();
	test_desc_tables();
	test_flags_regs();
	test_int_iret();
	test_smc();
	return tap_done();
}
