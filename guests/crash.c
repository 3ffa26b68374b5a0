/*
 * crash: guests that cannot go on, for the backends' bad-case tests. Each
 * must end in a clear stop, never a hang. Command line: mode=M with
 *   triple    UD2 with an empty IDT: #UD cannot be delivered (#GP, IDT limit
 *             0), nor can the resulting #DF: a triple fault, i.e. shutdown
 *             (SDM Vol. 3A 6.15, "Interrupt 8: Double Fault Exception").
 *   unmapped  jump to a guest-physical address with nothing behind it
 *             (in the PCI hole, identity-mapped by the boot page tables).
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
	} else {
		printf("crash: mode=triple|unmapped\n");
		return 1;
	}
	printf("crash: survived\n");
	return 2;
}
