/*
 * virtcheck: which hardware virtualization the guest is offered, as CPUID
 * reports it: VMX (CPUID.01H:ECX[5], Intel SDM Vol. 2A Table 3-10) or SVM
 * (CPUID Fn8000_0001_ECX[2], AMD APM Vol. 3 E.4.2). Exit value: 0 none,
 * 1 VMX, 2 SVM. With SVM it also sets EFER.SVME (APM Vol. 2 15.4), which
 * #GPs (here: a triple fault, no IDT) unless SVM is really there.
 */
#include <guest/guest.h>
#include <guest/io.h>

#define MSR_EFER 0xc0000080u
#define EFER_SVME (1ull << 12)

int main(const struct tortuga_bootinfo *bi)
{
	(void)bi;
	uint32_t r[4];
	cpuid(1, 0, r);
	if (r[2] & (1u << 5)) {
		printf("virtcheck: VMX\n");
		return 1;
	}
	cpuid(0x80000000u, 0, r);
	if (r[0] >= 0x80000001u) {
		cpuid(0x80000001u, 0, r);
		if (r[2] & (1u << 2)) {
			wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
			cpuid(0x8000000au, 0, r);
			printf("virtcheck: SVM (EFER.SVME set, revision %u, %u ASIDs)\n", r[0] & 0xff, r[1]);
			return 2;
		}
	}
	printf("virtcheck: none\n");
	return 0;
}
