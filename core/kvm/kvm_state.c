/*
 * Architectural state between struct x86_state and KVM (api.rst 4.11-4.13
 * KVM_GET/SET_REGS and SREGS, 4.18-4.19 MSRS, 4.22-4.23 FPU, 4.31-4.32
 * VCPU_EVENTS, 4.33-4.34 DEBUGREGS, 4.44-4.45 XCRS).
 *
 * Each layout that differs between the two is converted through one table:
 * segment access rights, the FXSAVE image, the MSRs that are state.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/fpu.h"
#include "kvm.h"

/*
 * Segment access rights in the VMX format (SDM Vol. 3C 24.4.1, Table 24-2):
 * bits 3:0 type, 4 S, 6:5 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable.
 * struct kvm_segment keeps each as a byte of its own.
 */
static const struct {
	uint8_t shift, width;
	uint8_t off; /* offset of the byte in struct kvm_segment */
} ar_fields[] = {
	{ 0, 4, offsetof(struct kvm_segment, type) },
	{ 4, 1, offsetof(struct kvm_segment, s) },
	{ 5, 2, offsetof(struct kvm_segment, dpl) },
	{ 7, 1, offsetof(struct kvm_segment, present) },
	{ 12, 1, offsetof(struct kvm_segment, avl) },
	{ 13, 1, offsetof(struct kvm_segment, l) },
	{ 14, 1, offsetof(struct kvm_segment, db) },
	{ 15, 1, offsetof(struct kvm_segment, g) },
	{ 16, 1, offsetof(struct kvm_segment, unusable) },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void kvm_seg_from_x86(struct kvm_segment *k, const struct x86_segment *s)
{
	memset(k, 0, sizeof(*k));
	k->base = s->base;
	k->limit = s->limit; /* both byte-granular */
	k->selector = s->sel;
	for (size_t i = 0; i < ARRAY_LEN(ar_fields); i++)
		((uint8_t *)k)[ar_fields[i].off] = (uint8_t)((s->ar >> ar_fields[i].shift) & ((1u << ar_fields[i].width) - 1));
}

void kvm_seg_to_x86(struct x86_segment *s, const struct kvm_segment *k)
{
	s->base = k->base;
	s->limit = k->limit;
	s->sel = k->selector;
	s->ar = 0;
	for (size_t i = 0; i < ARRAY_LEN(ar_fields); i++)
		s->ar |= ((uint32_t)((const uint8_t *)k)[ar_fields[i].off] & ((1u << ar_fields[i].width) - 1))
			 << ar_fields[i].shift;
}

/* struct kvm_regs holds the GPRs in the order rax, rbx, rcx, rdx, rsi, rdi,
 * rsp, rbp, r8-r15: not the encoding order of GPR_*. */
static const uint8_t regs_order[GPR_COUNT] = {
	GPR_RAX, GPR_RBX, GPR_RCX, GPR_RDX, GPR_RSI, GPR_RDI, GPR_RSP, GPR_RBP,
	GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14, GPR_R15,
};

void kvm_regs_from_x86(struct kvm_regs *r, const struct x86_state *s)
{
	__u64 *k = &r->rax;
	for (int i = 0; i < GPR_COUNT; i++)
		k[i] = s->gpr[regs_order[i]];
	r->rip = s->rip;
	r->rflags = s->rflags;
}

void kvm_regs_to_x86(struct x86_state *s, const struct kvm_regs *r)
{
	const __u64 *k = &r->rax;
	for (int i = 0; i < GPR_COUNT; i++)
		s->gpr[regs_order[i]] = k[i];
	s->rip = r->rip;
	s->rflags = r->rflags;
}

_Static_assert(offsetof(struct kvm_regs, r15) == offsetof(struct kvm_regs, rax) + 15 * 8,
	       "struct kvm_regs: 16 consecutive GPRs");

/* kvm_sregs segment order: cs, ds, es, fs, gs, ss. */
static const struct {
	uint8_t seg; /* SEG_* */
	uint16_t off;
} sregs_segs[] = {
	{ SEG_CS, offsetof(struct kvm_sregs, cs) }, { SEG_DS, offsetof(struct kvm_sregs, ds) },
	{ SEG_ES, offsetof(struct kvm_sregs, es) }, { SEG_FS, offsetof(struct kvm_sregs, fs) },
	{ SEG_GS, offsetof(struct kvm_sregs, gs) }, { SEG_SS, offsetof(struct kvm_sregs, ss) },
};

void kvm_sregs_from_x86(struct kvm_sregs *r, const struct x86_state *s)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < ARRAY_LEN(sregs_segs); i++)
		kvm_seg_from_x86((struct kvm_segment *)((uint8_t *)r + sregs_segs[i].off), &s->seg[sregs_segs[i].seg]);
	kvm_seg_from_x86(&r->tr, &s->tr);
	kvm_seg_from_x86(&r->ldt, &s->ldtr);
	r->gdt.base = s->gdtr.base;
	r->gdt.limit = s->gdtr.limit;
	r->idt.base = s->idtr.base;
	r->idt.limit = s->idtr.limit;
	r->cr0 = s->cr0;
	r->cr2 = s->cr2;
	r->cr3 = s->cr3;
	r->cr4 = s->cr4;
	r->cr8 = s->cr8;
	r->efer = s->efer;
	r->apic_base = s->apic_base;
}

void kvm_sregs_to_x86(struct x86_state *s, const struct kvm_sregs *r)
{
	for (size_t i = 0; i < ARRAY_LEN(sregs_segs); i++)
		kvm_seg_to_x86(&s->seg[sregs_segs[i].seg],
			       (const struct kvm_segment *)((const uint8_t *)r + sregs_segs[i].off));
	kvm_seg_to_x86(&s->tr, &r->tr);
	kvm_seg_to_x86(&s->ldtr, &r->ldt);
	s->gdtr.base = r->gdt.base;
	s->gdtr.limit = r->gdt.limit;
	s->idtr.base = r->idt.base;
	s->idtr.limit = r->idt.limit;
	s->cr0 = r->cr0;
	s->cr2 = r->cr2;
	s->cr3 = r->cr3;
	s->cr4 = r->cr4;
	s->cr8 = r->cr8;
	s->efer = r->efer;
	s->apic_base = r->apic_base;
}

/*
 * The FXSAVE image (core/hw/fxsave.def, SDM Vol. 1 10.5.1) against struct
 * kvm_fpu, which holds the same fields apart from MXCSR_MASK (read-only).
 */
#define FX_KVM_FIELDS(X)                                                                           \
	X(FCW, fcw) X(FSW, fsw) X(FTW, ftwx) X(FOP, last_opcode) X(FIP, last_ip) X(FDP, last_dp)     \
	X(MXCSR, mxcsr) X(ST0, fpr) X(XMM0, xmm)
#define FX_KVM_SAME_SIZE(name, field)                                                              \
	_Static_assert(sizeof(((struct kvm_fpu *)0)->field) == FX_LEN_##name, #name " vs kvm_fpu." #field);
FX_KVM_FIELDS(FX_KVM_SAME_SIZE)
#undef FX_KVM_SAME_SIZE
static const struct {
	uint16_t fx; /* offset in the FXSAVE image */
	uint16_t kvm; /* offset in struct kvm_fpu */
	uint16_t size;
} fxsave_map[] = {
#define FX_KVM(name, field) { FX_##name, offsetof(struct kvm_fpu, field), FX_LEN_##name },
	FX_KVM_FIELDS(FX_KVM)
#undef FX_KVM
};

void kvm_fpu_from_fxsave(struct kvm_fpu *f, const uint8_t fx[512])
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < ARRAY_LEN(fxsave_map); i++)
		memcpy((uint8_t *)f + fxsave_map[i].kvm, fx + fxsave_map[i].fx, fxsave_map[i].size);
}

void kvm_fpu_to_fxsave(uint8_t fx[512], const struct kvm_fpu *f)
{
	for (size_t i = 0; i < ARRAY_LEN(fxsave_map); i++)
		memcpy(fx + fxsave_map[i].fx, (const uint8_t *)f + fxsave_map[i].kvm, fxsave_map[i].size);
}

/*
 * Interruptibility state (SDM Vol. 3C 24.4.2, Table 24-3): bit 0 blocking
 * by STI, bit 1 blocking by MOV SS. KVM's interrupt.shadow uses its own bits.
 */
static const struct {
	uint32_t intr;
	uint8_t shadow;
} shadow_map[] = {
	{ INTR_BLOCK_STI, KVM_X86_SHADOW_INT_STI },
	{ INTR_BLOCK_MOV_SS, KVM_X86_SHADOW_INT_MOV_SS },
};

uint8_t kvm_shadow_from_intr(uint32_t interruptibility)
{
	uint8_t sh = 0;
	for (size_t i = 0; i < ARRAY_LEN(shadow_map); i++)
		if (interruptibility & shadow_map[i].intr)
			sh |= shadow_map[i].shadow;
	return sh;
}

uint32_t kvm_shadow_to_intr(uint8_t shadow)
{
	uint32_t in = 0;
	for (size_t i = 0; i < ARRAY_LEN(shadow_map); i++)
		if (shadow & shadow_map[i].shadow)
			in |= shadow_map[i].intr;
	return in;
}

/*
 * MSRs that are architectural state kept in struct x86_state (the rest of
 * hw/msr.def is computed, constant, or held elsewhere: EFER and APIC base in
 * the sregs, FS/GS base in the segments, the TSC by KVM itself).
 */
static const struct {
	uint32_t index;
	uint16_t off;
	const char *name;
} msr_map[] = {
#define M(name, field) { MSR_##name, offsetof(struct x86_state, field), #name }
	M(IA32_SYSENTER_CS, sysenter_cs),
	M(IA32_SYSENTER_ESP, sysenter_esp),
	M(IA32_SYSENTER_EIP, sysenter_eip),
	M(IA32_STAR, star),
	M(IA32_LSTAR, lstar),
	M(IA32_CSTAR, cstar),
	M(IA32_FMASK, fmask),
	M(IA32_KERNEL_GS_BASE, kernel_gs_base),
	M(IA32_PAT, pat),
	M(IA32_TSC_AUX, tsc_aux),
	M(IA32_MISC_ENABLE, misc_enable),
	M(IA32_SPEC_CTRL, spec_ctrl),
	M(IA32_MTRR_DEF_TYPE, mtrr_def_type),
	M(IA32_FEATURE_CONTROL, feature_control),
#undef M
};
_Static_assert(ARRAY_LEN(msr_map) <= KVM_MAX_SYNC_MSRS, "KVM_MAX_SYNC_MSRS too small");

static uint64_t *msr_field(struct x86_state *s, unsigned i)
{
	return (uint64_t *)((uint8_t *)s + msr_map[i].off);
}

struct msr_buf {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[KVM_MAX_SYNC_MSRS];
};

static int vcpu_ioctl(struct vcpu *v, unsigned long req, void *arg, const char *what)
{
	if (ioctl(kvm_vcpu_of(v)->fd, req, arg) < 0)
		return vm_error(v->vm, -errno, "kvm: %s failed on vCPU %u: %s", what, v->id, strerror(errno));
	return 0;
}

static bool msr_listed(const struct kvm_vm_data *kv, uint32_t index)
{
	for (uint32_t i = 0; i < kv->nmsr_index; i++)
		if (kv->msr_index[i] == index)
			return true;
	return false;
}

/*
 * The MSRs to transfer: those of msr_map that KVM lists
 * (KVM_GET_MSR_INDEX_LIST) and accepts for this vCPU. A listed MSR that
 * KVM_SET_MSRS refuses at its reset value (e.g. IA32_TSC_AUX without RDTSCP
 * in CPUID) is left to KVM; one refused at another value is an error.
 */
int kvm_state_init_msrs(struct vcpu *v)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	const struct kvm_vm_data *kv = kvm_vm_of(v->vm);
	kc->nmsrs = 0;
	for (unsigned i = 0; i < ARRAY_LEN(msr_map); i++) {
		if (!msr_listed(kv, msr_map[i].index))
			continue;
		struct msr_buf b = { .hdr.nmsrs = 1 };
		b.e[0].index = msr_map[i].index;
		b.e[0].data = *msr_field(&v->s, i);
		int r = ioctl(kc->fd, KVM_SET_MSRS, &b);
		if (r == 1) {
			kc->msrs[kc->nmsrs++] = i;
			continue;
		}
		if (r < 0)
			return vm_error(v->vm, -errno, "kvm: KVM_SET_MSRS failed: %s", strerror(errno));
		if (b.e[0].data != 0)
			return vm_error(v->vm, -EINVAL, "kvm: the host's KVM refuses MSR %s = 0x%llx", msr_map[i].name,
					(unsigned long long)b.e[0].data);
	}
	return 0;
}

static int push_msrs(struct vcpu *v)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	struct msr_buf b = { .hdr.nmsrs = kc->nmsrs };
	for (uint32_t i = 0; i < kc->nmsrs; i++) {
		b.e[i].index = msr_map[kc->msrs[i]].index;
		b.e[i].data = *msr_field(&v->s, kc->msrs[i]);
	}
	int r = ioctl(kc->fd, KVM_SET_MSRS, &b);
	if (r < 0)
		return vm_error(v->vm, -errno, "kvm: KVM_SET_MSRS failed: %s", strerror(errno));
	if ((uint32_t)r != kc->nmsrs)
		return vm_error(v->vm, -EINVAL, "kvm: the host's KVM refuses MSR %s = 0x%llx", msr_map[kc->msrs[r]].name,
				(unsigned long long)b.e[r].data);
	return 0;
}

static int pull_msrs(struct vcpu *v)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	struct msr_buf b = { .hdr.nmsrs = kc->nmsrs };
	for (uint32_t i = 0; i < kc->nmsrs; i++)
		b.e[i].index = msr_map[kc->msrs[i]].index;
	int r = ioctl(kc->fd, KVM_GET_MSRS, &b);
	if (r < 0)
		return vm_error(v->vm, -errno, "kvm: KVM_GET_MSRS failed: %s", strerror(errno));
	for (int i = 0; i < r; i++)
		*msr_field(&v->s, kc->msrs[i]) = b.e[i].data;
	return 0;
}

/*
 * x87/SSE state through the XSAVE area when KVM offers it: its legacy region
 * is the FXSAVE image (SDM Vol. 1 13.4.1), and KVM fills components in their
 * init state with their init values, which KVM_GET_FPU does not reliably do
 * (MXCSR reads as 0 on some hosts). XSTATE_BV (the first 8 bytes of the XSAVE
 * header at byte 512, 13.4.2) bits 0 and 1 make XRSTOR load the x87 and SSE
 * state instead of initializing it (13.8.1). MXCSR_MASK (bytes 31:28) is
 * read-only and stays KVM's.
 */

static int push_fpu(struct vcpu *v)
{
	if (!kvm_vm_of(v->vm)->caps.val[KCAP_XSAVE]) {
		struct kvm_fpu f;
		kvm_fpu_from_fxsave(&f, v->s.fxsave);
		return vcpu_ioctl(v, KVM_SET_FPU, &f, "KVM_SET_FPU");
	}
	struct kvm_xsave x;
	int err = vcpu_ioctl(v, KVM_GET_XSAVE, &x, "KVM_GET_XSAVE");
	if (err)
		return err;
	uint8_t *area = (uint8_t *)x.region;
	memcpy(area, v->s.fxsave, FX_MXCSR_MASK);
	memcpy(area + FX_ST0, v->s.fxsave + FX_ST0, FX_SIZE - FX_ST0);
	uint64_t bv;
	memcpy(&bv, area + XSAVE_HEADER, 8);
	bv |= XFEATURE_X87 | XFEATURE_SSE;
	memcpy(area + XSAVE_HEADER, &bv, 8);
	return vcpu_ioctl(v, KVM_SET_XSAVE, &x, "KVM_SET_XSAVE");
}

static int pull_fpu(struct vcpu *v)
{
	if (!kvm_vm_of(v->vm)->caps.val[KCAP_XSAVE]) {
		struct kvm_fpu f;
		int err = vcpu_ioctl(v, KVM_GET_FPU, &f, "KVM_GET_FPU");
		if (!err)
			kvm_fpu_to_fxsave(v->s.fxsave, &f);
		return err;
	}
	struct kvm_xsave x;
	int err = vcpu_ioctl(v, KVM_GET_XSAVE, &x, "KVM_GET_XSAVE");
	if (!err)
		memcpy(v->s.fxsave, x.region, FX_SIZE);
	return err;
}

/* The interruptibility and NMI-blocking state of v->s (SDM Vol. 3C Table
 * 24-3), for a state tortuga sets as a whole (reset, INIT, SIPI, boot).
 * Pending events go through kvm_events_before_entry().
 *
 * An interrupt or exception KVM still holds for injection (handed over by
 * KVM_INTERRUPT or an exception queued before a kick ended KVM_RUN) is
 * dropped, as core/intr.c drops v->inject on INIT: INIT comes before
 * them at the instruction boundary (SDM Vol. 3A 6.9, Table 6-2) and
 * clears the ISR bit of the acknowledged interrupt (11.4.7.3). Left in
 * KVM, it would be delivered after the SIPI, through the real-mode IVT.
 * A held NMI stays, as v->nmi_pending does. */
static int push_events(struct vcpu *v)
{
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	struct kvm_vcpu_events ev;
	int err = vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &ev, "KVM_GET_VCPU_EVENTS");
	if (err)
		return err;
	ev.interrupt.injected = 0;
	ev.interrupt.nr = 0;
	ev.exception.injected = 0;
	ev.exception.pending = 0;
	ev.exception.has_error_code = 0;
	ev.exception.nr = 0;
	ev.exception.error_code = 0;
	ev.interrupt.shadow = kvm_shadow_from_intr(v->s.interruptibility);
	ev.nmi.masked = (v->s.interruptibility & INTR_BLOCK_NMI) != 0;
	ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
	err = vcpu_ioctl(v, KVM_SET_VCPU_EVENTS, &ev, "KVM_SET_VCPU_EVENTS");
	if (!err)
		kc->events = ev;
	return err;
}

int kvm_state_push_apic_base(struct vcpu *v)
{
	struct msr_buf b = { .hdr.nmsrs = 1 };
	b.e[0].index = MSR_IA32_APIC_BASE;
	b.e[0].data = v->s.apic_base;
	int r = ioctl(kvm_vcpu_of(v)->fd, KVM_SET_MSRS, &b);
	if (r != 1)
		return vm_error(v->vm, r < 0 ? -errno : -EINVAL, "kvm: KVM refuses IA32_APIC_BASE = 0x%llx on vCPU %u",
				(unsigned long long)v->s.apic_base, v->id);
	return 0;
}

int kvm_state_push(struct vcpu *v, unsigned parts)
{
	struct kvm_vm_data *kv = kvm_vm_of(v->vm);
	struct x86_state *s = &v->s;
	int err = 0;
	/* SREGS before REGS: the mode (CR0, EFER, CS) decides how KVM treats RIP. */
	if (parts & KVM_PART_SREGS) {
		struct kvm_sregs sr;
		kvm_sregs_from_x86(&sr, s);
		err = vcpu_ioctl(v, KVM_SET_SREGS, &sr, "KVM_SET_SREGS");
		/* Without an in-kernel local APIC, KVM_RUN loads CR8 from
		 * kvm_run.cr8 on every entry (api.rst 5, "cr8"): keep it equal,
		 * or the next entry would undo the CR8 just set
		 * (kvm_events_before_entry() keeps it equal to the TPR). */
		if (!err)
			kvm_vcpu_of(v)->run->cr8 = s->cr8;
	}
	if (!err && (parts & KVM_PART_REGS)) {
		struct kvm_regs r;
		kvm_regs_from_x86(&r, s);
		err = vcpu_ioctl(v, KVM_SET_REGS, &r, "KVM_SET_REGS");
	}
	if (!err && (parts & KVM_PART_MSRS))
		err = push_msrs(v);
	if (!err && (parts & KVM_PART_FPU))
		err = push_fpu(v);
	if (!err && (parts & KVM_PART_DEBUG)) {
		struct kvm_debugregs d = { .dr6 = s->dr6, .dr7 = s->dr7 };
		memcpy(d.db, s->dr, sizeof(d.db));
		err = vcpu_ioctl(v, KVM_SET_DEBUGREGS, &d, "KVM_SET_DEBUGREGS");
	}
	if (!err && (parts & KVM_PART_XCRS) && kv->caps.val[KCAP_XCRS]) {
		struct kvm_xcrs x = { .nr_xcrs = 1 };
		x.xcrs[0].xcr = 0;
		x.xcrs[0].value = s->xcr0;
		err = vcpu_ioctl(v, KVM_SET_XCRS, &x, "KVM_SET_XCRS");
	}
	if (!err && (parts & KVM_PART_EVENTS))
		err = push_events(v);
	return err;
}

int kvm_state_pull(struct vcpu *v, unsigned parts)
{
	struct kvm_vm_data *kv = kvm_vm_of(v->vm);
	struct kvm_vcpu_data *kc = kvm_vcpu_of(v);
	struct x86_state *s = &v->s;
	int err = 0;
	if (parts & KVM_PART_REGS) {
		struct kvm_regs r;
		err = vcpu_ioctl(v, KVM_GET_REGS, &r, "KVM_GET_REGS");
		if (!err)
			kvm_regs_to_x86(s, &r);
	}
	if (!err && (parts & KVM_PART_SREGS)) {
		struct kvm_sregs sr;
		err = vcpu_ioctl(v, KVM_GET_SREGS, &sr, "KVM_GET_SREGS");
		if (!err)
			kvm_sregs_to_x86(s, &sr);
	}
	if (!err && (parts & KVM_PART_MSRS))
		err = pull_msrs(v);
	if (!err && (parts & KVM_PART_FPU))
		err = pull_fpu(v);
	if (!err && (parts & KVM_PART_DEBUG)) {
		struct kvm_debugregs d;
		err = vcpu_ioctl(v, KVM_GET_DEBUGREGS, &d, "KVM_GET_DEBUGREGS");
		if (!err) {
			memcpy(s->dr, d.db, sizeof(s->dr));
			s->dr6 = d.dr6;
			s->dr7 = d.dr7;
		}
	}
	if (!err && (parts & KVM_PART_XCRS) && kv->caps.val[KCAP_XCRS]) {
		struct kvm_xcrs x;
		err = vcpu_ioctl(v, KVM_GET_XCRS, &x, "KVM_GET_XCRS");
		for (uint32_t i = 0; !err && i < x.nr_xcrs && i < KVM_MAX_XCRS; i++)
			if (x.xcrs[i].xcr == 0)
				s->xcr0 = x.xcrs[i].value;
	}
	if (!err && (parts & KVM_PART_EVENTS)) {
		err = vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &kc->events, "KVM_GET_VCPU_EVENTS");
		if (!err) {
			s->interruptibility = kvm_shadow_to_intr(kc->events.interrupt.shadow) |
					      (kc->events.nmi.masked ? INTR_BLOCK_NMI : 0) |
					      (kc->events.smi.smm ? INTR_BLOCK_SMI : 0);
		}
	}
	return err;
}
