/*
 * cpuid: print the CPUID leaves a kernel probes (SDM Vol. 2A CPUID) and
 * check their internal consistency; the host side compares them with the
 * configured CPU model. Also checks that CR4 bits follow the advertised
 * features (MOV to CR4 setting an unsupported bit is #GP, Vol. 2B MOV).
 */
#include <pc/trap.h>

static void leaf(uint32_t l, uint32_t s)
{
	uint32_t r[4];
	pc_cpuid(l, s, r);
	printf("cpuid %08x.%u: %08x %08x %08x %08x\n", l, s, r[0], r[1], r[2], r[3]);
}

static int cr4_accepts(ulong bit)
{
	unsigned n = trap_count();
	ulong v = get_cr4() | bit;
	__asm__ volatile("1: mov %0, %%cr4\n2:\n" EX_TRY("1b", "2b") : : "r"(v) : "memory");
	int ok = trap_count() == n;
	if (ok)
		set_cr4(get_cr4() & ~bit);
	return ok;
}

int pc_main(const struct mb_info *mbi)
{
	(void)mbi;
	trap_init(0x08);
	uint32_t r[4];
	pc_cpuid(0, 0, r);
	char vendor[13];
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	printf("vendor=%s max=%u\n", vendor, r[0]);
	for (uint32_t l = 0; l <= r[0]; l++)
		leaf(l, 0);
	pc_cpuid(0x80000000, 0, r);
	for (uint32_t l = 0x80000000; l <= r[0]; l++)
		leaf(l, 0);
	char brand[49];
	for (int k = 0; k < 3; k++)
		pc_cpuid(0x80000002 + (uint32_t)k, 0, (uint32_t *)(brand + 16 * k));
	brand[48] = 0;
	printf("brand=\"%s\"\n", brand);

	/* CR4 bits are settable exactly when CPUID advertises them. */
	uint32_t l1[4], l7[4];
	pc_cpuid(1, 0, l1);
	pc_cpuid(7, 0, l7);
	pc_check(cr4_accepts(X86_CR4_SMEP) == !!(l7[1] & (1u << 7)), "CR4.SMEP settable iff CPUID.7:EBX.SMEP");
	pc_check(cr4_accepts(X86_CR4_SMAP) == !!(l7[1] & (1u << 20)), "CR4.SMAP settable iff CPUID.7:EBX.SMAP");
	pc_check(cr4_accepts(X86_CR4_UMIP) == !!(l7[2] & (1u << 2)), "CR4.UMIP settable iff CPUID.7:ECX.UMIP");
	/* x2APIC mode is #GP without CPUID.1:ECX.x2APIC. */
	unsigned n = trap_count();
	uint64_t base = pc_rdmsr(0x1b);
	__asm__ volatile("1: wrmsr\n2:\n" EX_TRY("1b", "2b")
			 :
			 : "c"(0x1bu), "a"((uint32_t)base | (1u << 10)), "d"((uint32_t)(base >> 32))
			 : "memory");
	pc_check((trap_count() == n) == !!(l1[2] & (1u << 21)), "IA32_APIC_BASE.EXTD writable iff CPUID x2APIC");
	return pc_done();
}
