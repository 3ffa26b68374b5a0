/*
 * crash: bad cases for the backends' tests. Each must end in a clear stop,
 * never a hang. Command line: mode=M with
 *   triple    UD2 with an empty IDT: #UD cannot be delivered (#GP, IDT limit
 *             0), nor can the resulting #DF: a triple fault, i.e. shutdown
 *             (SDM Vol. 3A 6.15, "Interrupt 8: Double Fault Exception").
 *   unmapped  jump to a guest-physical address with nothing behind it
 *             (in the PCI hole, identity-mapped by the boot page tables).
 *   halt      CLI; HLT: halted with nothing that could wake it (SDM Vol. 2A
 *             HLT: only an interrupt, NMI, SMI or INIT resumes).
 *   hole      read and write that unmapped address as data: reads return all
 *             ones, writes vanish, as on a PC bus; the guest goes on.
 */
#include <guest/guest.h>

#define UNMAPPED_GPA 0xd0000000ul

int main(const struct tortuga_bootinfo *bi)
{
	const char *mode = cmdline_get(bi, "mode");
	if (mode && !strcmp(mode, "triple")) {
		printf("crash: UD2 with an empty IDT\n");
		struct {
			uint16_t limit;
			uint64_t base;
		} __attribute__((packed)) idtr = { 0, 0 };
		__asm__ volatile("lidt %0\n\tud2" : : "m"(idtr));
	} else if (mode && !strcmp(mode, "unmapped")) {
		printf("crash: jumping to unmapped 0x%lx\n", UNMAPPED_GPA);
		((void (*)(void))UNMAPPED_GPA)();
	} else if (mode && !strcmp(mode, "halt")) {
		printf("crash: CLI; HLT\n");
		__asm__ volatile("cli\n\thlt");
	} else if (mode && !strcmp(mode, "hole")) {
		volatile uint64_t *p = (volatile uint64_t *)UNMAPPED_GPA;
		volatile uint8_t *b = (volatile uint8_t *)UNMAPPED_GPA + 0x11;
		uint64_t q = *p;
		uint8_t c = *b;
		*p = 0x1122334455667788ull;
		printf("crash: read 0x%lx and 0x%x from the hole, wrote it, read 0x%lx\n", q, c, *p);
		return 0;
	} else {
		printf("crash: mode=triple|unmapped|halt|hole\n");
		return 1;
	}
	printf("crash: survived\n");
	return 2;
}
