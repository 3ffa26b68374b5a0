/*
 * Support for tortuga's PC-platform guests (guests/pc): Multiboot start-up
 * in 32-bit or 64-bit code, TAP-style checks over the serial console, CPU
 * register access that compiles for both widths, and exception capture
 * with fix-up tables. The same sources build with -m32 and -m64.
 *
 * A guest defines `int pc_main(const struct mb_info *mbi)`; the number of
 * failed checks it returns is written to the debug-exit port.
 */
#ifndef PC_PC_H
#define PC_PC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <guest/guest.h>
#include <tortuga/multiboot.h>

typedef unsigned long ulong; /* the native register width */

int pc_main(const struct mb_info *mbi);

/* The Multiboot magic (EAX) the guest was entered with. */
extern uint32_t pc_boot_magic;

/* "key=value" in the Multiboot command line, or NULL (static copy). */
const char *pc_cmdline_get(const struct mb_info *mbi, const char *key);

/* ---- checks (TAP-like lines: "ok N - what" / "not ok N - what") ---- */
void pc_check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* n results that cannot run here (a feature CPUID does not report), as
 * TAP "# SKIP" lines: the numbering stays the same on every CPU, so that
 * the runs on two backends compare result by result. */
void pc_skip(int n, const char *why);
/* Check a == b; prints both on failure. */
void pc_check_eq(uint64_t got, uint64_t want, const char *what);
/* Failed checks so far. */
int pc_failures(void);
/* Print the summary line and the TAP plan ("1..N"), and return the number
 * of failures. */
int pc_done(void);
/* The TSC rate CPUID leaf 15H reports (SDM Vol. 2A CPUID: ECX * EBX / EAX),
 * or 0 when the CPU does not enumerate it. */
uint64_t pc_tsc_hz(void);

/* ---- registers ---- */
#define PC_CR(n)                                                                    \
	static inline ulong get_cr##n(void)                                         \
	{                                                                           \
		ulong v;                                                            \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                   \
		return v;                                                           \
	}                                                                           \
	static inline void set_cr##n(ulong v)                                       \
	{                                                                           \
		__asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");          \
	}
PC_CR(0)
PC_CR(2)
PC_CR(3)
PC_CR(4)
#undef PC_CR

static inline ulong get_flags(void)
{
	ulong f;
	__asm__ volatile("pushf; pop %0" : "=r"(f));
	return f;
}

static inline void set_flags(ulong f)
{
	__asm__ volatile("push %0; popf" : : "r"(f) : "memory", "cc");
}

static inline uint16_t get_cs(void)
{
	uint16_t v;
	__asm__ volatile("mov %%cs, %0" : "=r"(v));
	return v;
}

static inline uint16_t get_ss(void)
{
	uint16_t v;
	__asm__ volatile("mov %%ss, %0" : "=r"(v));
	return v;
}

static inline void set_ds_es(uint16_t sel)
{
	__asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"(sel) : "memory");
}

static inline void set_ss(uint16_t sel)
{
	__asm__ volatile("mov %0, %%ss" : : "r"(sel) : "memory");
}

static inline uint64_t pc_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void pc_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void pc_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static inline uint64_t pc_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void pc_lgdt(const void *base, uint16_t limit)
{
	struct {
		uint16_t limit;
		ulong base;
	} __attribute__((packed)) d = { limit, (ulong)base };
	__asm__ volatile("lgdt %0" : : "m"(d) : "memory");
}

static inline void pc_lidt(const void *base, uint16_t limit)
{
	struct {
		uint16_t limit;
		ulong base;
	} __attribute__((packed)) d = { limit, (ulong)base };
	__asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

static inline void pc_ltr(uint16_t sel)
{
	__asm__ volatile("ltr %0" : : "r"(sel) : "memory");
}

static inline void pc_invlpg(const volatile void *p)
{
	__asm__ volatile("invlpg (%0)" : : "r"(p) : "memory");
}

#define X86_CR0_PE (1ul << 0)
#define X86_CR0_TS (1ul << 3)
#define X86_CR0_WP (1ul << 16)
#define X86_CR0_AM (1ul << 18)
#define X86_CR0_PG (1ul << 31)
#define X86_CR4_PSE (1ul << 4)
#define X86_CR4_PAE (1ul << 5)
#define X86_CR4_PGE (1ul << 7)
#define X86_CR4_UMIP (1ul << 11)
#define X86_CR4_PCIDE (1ul << 17)
#define X86_CR4_SMEP (1ul << 20)
#define X86_CR4_SMAP (1ul << 21)
#define X86_FL_TF (1ul << 8)
#define X86_FL_IF (1ul << 9)
#define X86_FL_IOPL3 (3ul << 12)
#define X86_FL_NT (1ul << 14)
#define X86_FL_RF (1ul << 16)
#define X86_FL_AC (1ul << 18)
#define MSR_EFER 0xc0000080u
#define EFER_SCE (1u << 0)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define EFER_NXE (1u << 11)

#endif
