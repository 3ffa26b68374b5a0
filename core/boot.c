#include <errno.h>
#include <string.h>

#include <tortuga/bootinfo.h>

#include "arch.h"
#include "boot.h"
#include "fpu.h"
#include "platform.h"
#include "vm.h"

static void set_seg(struct x86_segment *s, uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar)
{
	s->sel = sel;
	s->base = base;
	s->limit = limit;
	s->ar = ar;
}

/*
 * SDM Vol. 3A "Processor State After Reset" (Table "IA-32 and Intel 64
 * Processor States Following Power-up, Reset, or INIT"): real mode at
 * F000:FFF0 with CS.base FFFF0000, EDX = the CPUID.1 signature.
 */
void boot_reset_vcpu(struct vcpu *v)
{
	struct x86_state *s = &v->s;
	const struct cpu_model *m = &v->vm->model;
	memset(s, 0, sizeof(*s));
	s->rip = 0xfff0;
	s->rflags = RFLAGS_FIXED1;
	s->cr0 = CR0_CD | CR0_NW | CR0_ET;
	set_seg(&s->seg[SEG_CS], 0xf000, 0xffff0000, 0xffff, 0x9b);
	for (int i = 0; i < SEG_COUNT; i++)
		if (i != SEG_CS)
			set_seg(&s->seg[i], 0, 0, 0xffff, 0x93);
	s->gdtr.limit = s->idtr.limit = 0xffff;
	set_seg(&s->ldtr, 0, 0, 0xffff, 0x82);
	set_seg(&s->tr, 0, 0, 0xffff, 0x8b);
	s->dr6 = DR6_FIXED1;
	s->dr7 = DR7_FIXED1;
	s->pat = 0x0007040600070406ull;
	s->xcr0 = 1;
	s->apic_base = 0xfee00000ull | (1ull << 11) | (v->id == 0 ? (1ull << 8) : 0);
	s->activity = v->id == 0 ? ACT_ACTIVE : ACT_WAIT_SIPI;
	uint32_t sig[4];
	struct cpuid_ctx ctx = { .apic_id = v->id, .vcpus = 1, .apic_enabled = true };
	cpuid_query(m, &ctx, 1, 0, sig);
	s->gpr[GPR_RDX] = sig[0];
	fpu_reset(s->fxsave);
	v->ctls->cr0_shadow = s->cr0;
	v->ctls->cr4_shadow = s->cr4;
}

/*
 * INIT (SDM Vol. 3A Table 10-1, "INIT" column): like RESET, except that
 * the x87/SSE state, the TSC and the MSRs other than IA32_EFER keep their
 * values. The bootstrap processor then runs from the reset vector; an
 * application processor waits for a SIPI (9.4.2).
 */
void boot_init_vcpu(struct vcpu *v)
{
	struct x86_state keep = v->s;
	boot_reset_vcpu(v);
	struct x86_state *s = &v->s;
	memcpy(s->fxsave, keep.fxsave, sizeof(s->fxsave));
	s->xcr0 = keep.xcr0;
	s->tsc_offset = keep.tsc_offset;
	s->star = keep.star;
	s->lstar = keep.lstar;
	s->cstar = keep.cstar;
	s->fmask = keep.fmask;
	s->kernel_gs_base = keep.kernel_gs_base;
	s->sysenter_cs = keep.sysenter_cs;
	s->sysenter_esp = keep.sysenter_esp;
	s->sysenter_eip = keep.sysenter_eip;
	s->pat = keep.pat;
	s->tsc_aux = keep.tsc_aux;
	s->apic_base = keep.apic_base;
	s->misc_enable = keep.misc_enable;
	s->feature_control = keep.feature_control;
	s->spec_ctrl = keep.spec_ctrl;
	s->mtrr_def_type = keep.mtrr_def_type;
	s->activity = (s->apic_base & (1ull << 8)) ? ACT_ACTIVE : ACT_WAIT_SIPI;
	if (v->vm->be->state_changed)
		v->vm->be->state_changed(v, STATE_ALL);
}

/* A SIPI with vector VV starts the processor in real mode at VV00:0000,
 * i.e. physical address VV000H (SDM Vol. 3A 9.4.4.1). */
void boot_sipi_vcpu(struct vcpu *v, uint8_t vector)
{
	struct x86_state *s = &v->s;
	set_seg(&s->seg[SEG_CS], (uint16_t)(vector << 8), (uint64_t)vector << 12, 0xffff, 0x9b);
	s->rip = 0;
	s->activity = ACT_ACTIVE;
	if (v->vm->be->state_changed)
		v->vm->be->state_changed(v, STATE_ALL);
}

/* GDT descriptors (SDM Vol. 3A 3.4.5): flat 64-bit code, data, 32-bit code. */
static const uint64_t boot_gdt[] = {
	0,
	0x00af9b000000ffffull, /* 0x08: code, L=1, DPL 0 */
	0x00cf93000000ffffull, /* 0x10: data, 4 GiB, DPL 0 */
	0x00cf9b000000ffffull, /* 0x18: code, 32-bit, DPL 0 */
};

#define GDT_CODE64 0x08
#define GDT_DATA 0x10

static int write_phys(struct vm *vm, uint64_t gpa, const void *p, size_t n)
{
	return aspace_write(&vm->as, gpa, p, n);
}

/*
 * Identity paging (SDM Vol. 3A 4.5): the low TORTUGA_BOOT_IDENTITY_GB GiB with
 * 2 MiB pages, RAM above that with 1 GiB pages; everything supervisor,
 * writable, executable.
 */
static int build_page_tables(struct vm *vm, uint64_t *cr3)
{
	const uint64_t pml4 = TORTUGA_BOOT_PML4;
	const uint64_t pdpt = pml4 + PAGE_SIZE;
	const uint64_t pd = pdpt + PAGE_SIZE;
	const uint64_t flags = PTE_P | PTE_W;
	uint64_t top = vm->ram.size > PLATFORM_PCI_HOLE_START ?
			       PLATFORM_HIGH_RAM_START + (vm->ram.size - PLATFORM_PCI_HOLE_START) :
			       vm->ram.size;
	uint64_t gbs = (top + (1ull << 30) - 1) >> 30;
	if (gbs < TORTUGA_BOOT_IDENTITY_GB)
		gbs = TORTUGA_BOOT_IDENTITY_GB;
	if (gbs > 512)
		return -E2BIG;
	if (pd + TORTUGA_BOOT_IDENTITY_GB * PAGE_SIZE > TORTUGA_BOOT_STACK_TOP - 0x10000)
		return -E2BIG;

	uint64_t e = pdpt | flags;
	int err = write_phys(vm, pml4, &e, 8);
	for (uint64_t g = 0; g < gbs && !err; g++) {
		if (g < TORTUGA_BOOT_IDENTITY_GB) {
			e = (pd + g * PAGE_SIZE) | flags;
			for (uint64_t i = 0; i < 512 && !err; i++) {
				uint64_t pde = ((g << 30) + (i << 21)) | flags | PTE_PS;
				err = write_phys(vm, pd + g * PAGE_SIZE + i * 8, &pde, 8);
			}
		} else {
			e = (g << 30) | flags | PTE_PS;
		}
		if (!err)
			err = write_phys(vm, pdpt + g * 8, &e, 8);
	}
	*cr3 = pml4;
	return err;
}

int boot_direct(struct vm *vm, uint64_t entry, const char *cmdline)
{
	struct vcpu *v = vm->vcpus[0];
	struct x86_state *s = &v->s;
	if (vm->ram.size < TORTUGA_BOOT_RESERVED_END)
		return vm_error(vm, -ENOMEM, "guest RAM is smaller than the 1 MiB boot area");

	/* Clear the boot area so guests see the same bytes on every run. */
	uint8_t *low = aspace_ram_ptr(&vm->as, 0, TORTUGA_BOOT_RESERVED_END);
	if (!low)
		return vm_error(vm, -EFAULT, "boot area is not RAM");
	memset(low, 0, TORTUGA_BOOT_RESERVED_END);
	ram_note_write(&vm->ram, low, TORTUGA_BOOT_RESERVED_END);

	size_t clen = cmdline ? strlen(cmdline) : 0;
	if (clen >= TORTUGA_BOOT_CMDLINE_MAX)
		return vm_error(vm, -E2BIG, "guest command line is %zu bytes; the limit is %llu", clen,
				TORTUGA_BOOT_CMDLINE_MAX - 1);
	int err = write_phys(vm, TORTUGA_BOOT_GDT, boot_gdt, sizeof(boot_gdt));
	if (!err && clen)
		err = write_phys(vm, TORTUGA_BOOT_CMDLINE, cmdline, clen);

	struct tortuga_bootinfo bi = {
		.magic = TORTUGA_BOOT_MAGIC,
		.version = 1,
		.vcpus = vm->nvcpus,
		.mem_size = vm->ram.size,
		.cmdline = TORTUGA_BOOT_CMDLINE,
		.cmdline_len = clen,
		.image_start = vm->image.start,
		.image_end = vm->image.end,
		.tsc_hz = vm->model.tsc_hz,
	};
	if (!err)
		err = write_phys(vm, TORTUGA_BOOT_BOOTINFO, &bi, sizeof(bi));
	uint64_t cr3 = 0;
	if (!err)
		err = build_page_tables(vm, &cr3);
	if (err)
		return vm_error(vm, err, "cannot build the direct-boot structures");

	s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	/* As firmware leaves it for an SSE-using OS (Vol. 3A 13.1.3, 13.1.4):
	 * FXSAVE/FXRSTOR and SSE enabled with #XM reporting, the x87 FPU
	 * initialised (FNINIT), MXCSR at its reset value. */
	s->cr4 = (CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT) & arch_cr4_supported(v);
	fpu_x87_init(s->fxsave);
	s->cr3 = cr3;
	s->efer = EFER_LME | EFER_LMA | EFER_NXE;
	s->rflags = RFLAGS_FIXED1;
	s->rip = entry;
	s->gpr[GPR_RSP] = TORTUGA_BOOT_STACK_TOP;
	s->gpr[GPR_RDI] = TORTUGA_BOOT_BOOTINFO;
	s->gpr[GPR_RSI] = TORTUGA_BOOT_MAGIC;
	s->gpr[GPR_RDX] = 0;
	s->gdtr.base = TORTUGA_BOOT_GDT;
	s->gdtr.limit = sizeof(boot_gdt) - 1;
	s->idtr.base = 0;
	s->idtr.limit = 0;
	set_seg(&s->seg[SEG_CS], GDT_CODE64, 0, 0xffffffff, 0xa09b);
	for (int i = 0; i < SEG_COUNT; i++)
		if (i != SEG_CS)
			set_seg(&s->seg[i], GDT_DATA, 0, 0xffffffff, 0xc093);
	s->activity = ACT_ACTIVE;
	v->ctls->cr0_shadow = s->cr0;
	v->ctls->cr4_shadow = s->cr4;
	if (vm->be->state_changed)
		vm->be->state_changed(v, STATE_ALL);
	return 0;
}
