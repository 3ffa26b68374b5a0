/*
 * The kvm backend's pure parts, without /dev/kvm: capability checks, the
 * layouts converted between struct x86_state and KVM (expected values from
 * the SDM's tables, not from the code), the I/O instruction decoder, and the
 * mapping of synthetic KVM exits to SDM exit records.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/kvm/kvm.h"

#include "../unit/check.h"

/* ---- capabilities ---- */

static long missing_cap;

static int fake_check(void *ctx, long cap)
{
	(void)ctx;
	if (cap == missing_cap)
		return 0;
	return cap == KVM_CAP_MULTI_ADDRESS_SPACE ? 2 : 1;
}

static void test_caps(void)
{
	struct kvm_caps caps;
	char msg[256];
	missing_cap = -1;
	kvm_caps_query(fake_check, NULL, &caps);
	CHECK_EQ(kvm_caps_require(&caps, KVM_NEED_ALWAYS, msg, sizeof(msg)), 0);
	CHECK_EQ(caps.val[KCAP_MULTI_ADDRESS_SPACE], 2);

	missing_cap = KVM_CAP_IMMEDIATE_EXIT;
	kvm_caps_query(fake_check, NULL, &caps);
	CHECK_EQ(kvm_caps_require(&caps, KVM_NEED_ALWAYS, msg, sizeof(msg)), -ENOTSUP);
	CHECK(strstr(msg, "KVM_CAP_IMMEDIATE_EXIT") != NULL);
	CHECK(strchr(msg, '\n') == NULL);
	/* An optional capability missing is no error. */
	missing_cap = KVM_CAP_SYNC_REGS;
	kvm_caps_query(fake_check, NULL, &caps);
	CHECK_EQ(kvm_caps_require(&caps, KVM_NEED_ALWAYS, msg, sizeof(msg)), 0);
	/* SMM and nesting name their own capabilities. */
	missing_cap = KVM_CAP_X86_SMM;
	kvm_caps_query(fake_check, NULL, &caps);
	CHECK_EQ(kvm_caps_require(&caps, KVM_NEED_SMM, msg, sizeof(msg)), -ENOTSUP);
	CHECK(strstr(msg, "KVM_CAP_X86_SMM") != NULL);
	missing_cap = KVM_CAP_NESTED_STATE;
	kvm_caps_query(fake_check, NULL, &caps);
	CHECK_EQ(kvm_caps_require(&caps, KVM_NEED_NESTED, msg, sizeof(msg)), -ENOTSUP);
	CHECK(strstr(msg, "KVM_CAP_NESTED_STATE") != NULL);
}

/* ---- segment access rights: SDM Vol. 3C 24.4.1, Table 24-2 ---- */

static void test_segments(void)
{
	struct kvm_segment k;
	/* 64-bit code: type 1011b (execute/read, accessed), S, DPL 0, P, L, G. */
	struct x86_segment cs = { .sel = 0x08, .limit = 0xffffffff, .ar = 0xa09b, .base = 0 };
	kvm_seg_from_x86(&k, &cs);
	CHECK_EQ(k.type, 0xb);
	CHECK_EQ(k.s, 1);
	CHECK_EQ(k.dpl, 0);
	CHECK_EQ(k.present, 1);
	CHECK_EQ(k.l, 1);
	CHECK_EQ(k.db, 0);
	CHECK_EQ(k.g, 1);
	CHECK_EQ(k.avl, 0);
	CHECK_EQ(k.unusable, 0);
	CHECK_EQ(k.selector, 0x08);
	CHECK_EQ(k.limit, 0xffffffff);
	/* Ring-3 32-bit data, AVL: type 0011b, S, DPL 3, P, AVL, D/B, G. */
	struct x86_segment ds = { .sel = 0x23, .limit = 0xfffff, .ar = 0xd0f3, .base = 0x1000 };
	kvm_seg_from_x86(&k, &ds);
	CHECK_EQ(k.type, 0x3);
	CHECK_EQ(k.dpl, 3);
	CHECK_EQ(k.avl, 1);
	CHECK_EQ(k.db, 1);
	CHECK_EQ(k.l, 0);
	CHECK_EQ(k.base, 0x1000);
	/* Bit 16: segment unusable. */
	struct x86_segment nul = { .ar = 1u << 16 };
	kvm_seg_from_x86(&k, &nul);
	CHECK_EQ(k.unusable, 1);
	CHECK_EQ(k.present, 0);
	/* Every combination of the defined bits (7:0, 15:12, 16) survives. */
	unsigned bad = 0;
	for (uint32_t ar = 0; ar < (1u << 17); ar++) {
		if (ar & 0x0f00)
			continue; /* bits 11:8 are reserved */
		struct x86_segment a = { .sel = 0x10, .limit = 0x1234, .ar = ar, .base = 0xffff800000000000ull }, b;
		kvm_seg_from_x86(&k, &a);
		kvm_seg_to_x86(&b, &k);
		bad += b.ar != ar || b.sel != a.sel || b.limit != a.limit || b.base != a.base;
	}
	CHECK_EQ(bad, 0);
}

/* ---- registers: struct kvm_regs names them; x86_state indexes by encoding ---- */

static void test_regs(void)
{
	struct x86_state s;
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < GPR_COUNT; i++)
		s.gpr[i] = 0x1000 + (uint64_t)i; /* SDM Vol. 2A Table 2-2: 0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP ... */
	s.rip = 0x100000;
	s.rflags = 0x202;
	struct kvm_regs r;
	kvm_regs_from_x86(&r, &s);
	CHECK_EQ(r.rax, 0x1000);
	CHECK_EQ(r.rcx, 0x1001);
	CHECK_EQ(r.rdx, 0x1002);
	CHECK_EQ(r.rbx, 0x1003);
	CHECK_EQ(r.rsp, 0x1004);
	CHECK_EQ(r.rbp, 0x1005);
	CHECK_EQ(r.rsi, 0x1006);
	CHECK_EQ(r.rdi, 0x1007);
	CHECK_EQ(r.r8, 0x1008);
	CHECK_EQ(r.r15, 0x100f);
	CHECK_EQ(r.rip, 0x100000);
	CHECK_EQ(r.rflags, 0x202);
	struct x86_state t;
	memset(&t, 0, sizeof(t));
	kvm_regs_to_x86(&t, &r);
	CHECK(!memcmp(t.gpr, s.gpr, sizeof(s.gpr)));
}

/* ---- FXSAVE image: SDM Vol. 1 10.5.1, Table 10-2 ---- */

static void test_fpu(void)
{
	uint8_t fx[512] = { 0 };
	fx[0] = 0x7f; /* FCW = 0x037f (bytes 1:0) */
	fx[1] = 0x03;
	fx[2] = 0x00; /* FSW = 0x3800 (bytes 3:2) */
	fx[3] = 0x38;
	fx[4] = 0x80; /* abridged FTW (byte 4) */
	fx[6] = 0x2d; /* FOP (bytes 7:6) */
	fx[8] = 0x11; /* FIP (bytes 15:8) */
	fx[16] = 0x22; /* FDP (bytes 23:16) */
	fx[24] = 0x80; /* MXCSR = 0x1f80 (bytes 27:24) */
	fx[25] = 0x1f;
	fx[32] = 0xa0; /* ST0 (bytes 41:32) */
	fx[32 + 7 * 16 + 9] = 0xa7; /* last byte of ST7 */
	fx[160] = 0xb0; /* XMM0 (bytes 175:160) */
	fx[160 + 15 * 16 + 15] = 0xbf; /* last byte of XMM15 */
	struct kvm_fpu f;
	kvm_fpu_from_fxsave(&f, fx);
	CHECK_EQ(f.fcw, 0x037f);
	CHECK_EQ(f.fsw, 0x3800);
	CHECK_EQ(f.ftwx, 0x80);
	CHECK_EQ(f.last_opcode, 0x2d);
	CHECK_EQ(f.last_ip, 0x11);
	CHECK_EQ(f.last_dp, 0x22);
	CHECK_EQ(f.mxcsr, 0x1f80);
	CHECK_EQ(f.fpr[0][0], 0xa0);
	CHECK_EQ(f.fpr[7][9], 0xa7);
	CHECK_EQ(f.xmm[0][0], 0xb0);
	CHECK_EQ(f.xmm[15][15], 0xbf);
	uint8_t back[512] = { 0 };
	kvm_fpu_to_fxsave(back, &f);
	CHECK(!memcmp(back, fx, sizeof(fx)));
}

/* ---- interruptibility: SDM Vol. 3C Table 24-3 (bit 0 STI, bit 1 MOV SS) ---- */

static void test_shadow(void)
{
	CHECK_EQ(kvm_shadow_from_intr(1u << 0), KVM_X86_SHADOW_INT_STI);
	CHECK_EQ(kvm_shadow_from_intr(1u << 1), KVM_X86_SHADOW_INT_MOV_SS);
	CHECK_EQ(kvm_shadow_from_intr(1u << 3), 0); /* NMI blocking is not a shadow */
	CHECK_EQ(kvm_shadow_to_intr(KVM_X86_SHADOW_INT_STI | KVM_X86_SHADOW_INT_MOV_SS), 3);
}

/* ---- I/O instructions: SDM Vol. 2B IN, OUT, INS, OUTS ---- */

static struct kvm_io_insn dec(unsigned bits, const char *hex)
{
	uint8_t b[16];
	size_t n = 0;
	for (const char *p = hex; *p && n < sizeof(b); p += 2, p += *p == ' ')
		b[n++] = (uint8_t)strtoul((char[3]){ p[0], p[1], 0 }, NULL, 16);
	struct kvm_io_insn io;
	kvm_io_insn_decode(b, n, bits, &io);
	return io;
}

static void test_io_decode(void)
{
	struct kvm_io_insn io = dec(64, "e6 80"); /* OUT imm8, AL */
	CHECK(io.valid && io.imm && !io.in && !io.string && io.size == 1 && io.port == 0x80 && io.len == 2);
	io = dec(64, "e5 60"); /* IN EAX, imm8 */
	CHECK(io.valid && io.imm && io.in && io.size == 4 && io.port == 0x60);
	io = dec(64, "ee"); /* OUT DX, AL */
	CHECK(io.valid && !io.imm && !io.in && io.size == 1 && io.len == 1);
	io = dec(64, "66 ef"); /* OUT DX, AX */
	CHECK(io.valid && io.size == 2 && io.len == 2);
	io = dec(64, "ed"); /* IN EAX, DX */
	CHECK(io.valid && io.in && io.size == 4);
	io = dec(64, "f3 6c"); /* REP INSB */
	CHECK(io.valid && io.string && io.rep && io.in && io.size == 1);
	io = dec(64, "f3 66 6f"); /* REP OUTSW */
	CHECK(io.valid && io.string && io.rep && !io.in && io.size == 2 && io.len == 3);
	io = dec(64, "6e"); /* OUTSB, no REP */
	CHECK(io.valid && io.string && !io.rep);
	io = dec(16, "ef"); /* 16-bit code: OUT DX, AX */
	CHECK(io.valid && io.size == 2);
	io = dec(16, "66 ef"); /* 16-bit code with 66: OUT DX, EAX */
	CHECK(io.valid && io.size == 4);
	io = dec(32, "ef");
	CHECK(io.valid && io.size == 4);
	io = dec(64, "90"); /* NOP */
	CHECK(!io.valid);
	io = dec(64, "0f 01 d8"); /* VMRUN: same 2nd byte range, another map */
	CHECK(!io.valid);
}

/* ---- exits ---- */

#define RUN_SIZE 8192

static struct kvm_run *new_run(uint32_t reason)
{
	struct kvm_run *r = calloc(1, RUN_SIZE);
	r->exit_reason = reason;
	return r;
}

static enum kvm_exit_action decode(struct kvm_run *r, const struct aspace *as, const struct kvm_io_insn *io,
				   struct vm_exit *e, uint64_t *val, char *msg)
{
	return kvm_exit_decode(r, RUN_SIZE, as, io, e, val, msg, 256);
}

static void test_exit_io(void)
{
	struct vm_exit e;
	uint64_t val;
	char msg[256];
	struct aspace as;
	aspace_init(&as, NULL);

	/* outl %eax, $0xf4 */
	struct kvm_run *r = new_run(KVM_EXIT_IO);
	r->io.direction = KVM_EXIT_IO_OUT;
	r->io.size = 4;
	r->io.port = 0xf4;
	r->io.count = 1;
	r->io.data_offset = 4096;
	memcpy((uint8_t *)r + 4096, "\x05\0\0\0", 4);
	struct kvm_io_insn io = dec(64, "e7 f4");
	CHECK(kvm_io_insn_matches(&io, r));
	CHECK_EQ(decode(r, &as, &io, &e, &val, msg), KVM_ACT_HANDLE);
	CHECK_EQ(e.reason, 30); /* SDM App. C: I/O instruction */
	/* Table 28-5: size-1 in 2:0, IN in 3, string 4, REP 5, immediate 6, port 31:16 */
	CHECK_EQ(e.qual, 3u | (1u << 6) | (0xf4u << 16));
	CHECK_EQ(e.aux, 0xf4);
	CHECK_EQ(e.io.count, 1);
	CHECK(e.io.data == (uint8_t *)r + 4096);
	CHECK_EQ(e.insn_len, 2);

	/* inb %dx, %al at 0x3fd */
	r->io.direction = KVM_EXIT_IO_IN;
	r->io.size = 1;
	r->io.port = 0x3fd;
	io = dec(64, "ec");
	CHECK(kvm_io_insn_matches(&io, r));
	CHECK_EQ(decode(r, &as, &io, &e, &val, msg), KVM_ACT_HANDLE);
	CHECK_EQ(e.qual, (1u << 3) | (0x3fdu << 16));

	/* rep insw, 5 elements */
	r->io.size = 2;
	r->io.count = 5;
	io = dec(64, "f3 66 6d");
	CHECK(kvm_io_insn_matches(&io, r));
	CHECK_EQ(decode(r, &as, &io, &e, &val, msg), KVM_ACT_HANDLE);
	CHECK_EQ(e.qual, 1u | (1u << 3) | (1u << 4) | (1u << 5) | (0x3fdu << 16));
	CHECK_EQ(e.io.count, 5);
	/* A plain IN cannot be the instruction behind a 5-element exit. */
	io = dec(64, "ed");
	CHECK(!kvm_io_insn_matches(&io, r));

	/* A data area outside kvm_run is refused, not followed. */
	r->io.data_offset = RUN_SIZE - 4;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_FAIL);
	CHECK(strstr(msg, "KVM_EXIT_IO") != NULL);
	free(r);
}

static uint64_t dev_read(void *o, uint64_t off, unsigned size)
{
	(void)o;
	(void)off;
	(void)size;
	return 0;
}

static void dev_write(void *o, uint64_t off, unsigned size, uint64_t v)
{
	(void)o;
	(void)off;
	(void)size;
	(void)v;
}

static const struct mmio_ops dev_ops = { dev_read, dev_write };

static void test_exit_mmio(void)
{
	struct vm_exit e;
	uint64_t val;
	char msg[256];
	struct aspace as;
	aspace_init(&as, NULL);
	CHECK_EQ(aspace_add_mmio(&as, 0xfed00000, 0x1000, &dev_ops, NULL, "dev"), 0);

	struct kvm_run *r = new_run(KVM_EXIT_MMIO);
	r->mmio.phys_addr = 0xfed00010;
	r->mmio.len = 4;
	r->mmio.is_write = 1;
	memcpy(r->mmio.data, "\x78\x56\x34\x12", 4);
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_HANDLE);
	CHECK_EQ(e.reason, 49); /* EPT misconfiguration: a device's MMIO */
	CHECK_EQ(e.qual, 0);
	CHECK_EQ(e.aux, 0xfed00010);
	CHECK_EQ(val, 0x12345678);
	CHECK(e.mmio.data == &val && e.mmio.write && e.mmio.size == 4);

	/* Nothing at the GPA: EPT violation, Table 28-7 bit 0 (read). */
	r->mmio.phys_addr = 0xd0000000;
	r->mmio.is_write = 0;
	r->mmio.len = 8;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_HANDLE);
	CHECK_EQ(e.reason, 48);
	CHECK_EQ(e.qual, 1);
	CHECK_EQ(e.gpa, 0xd0000000);

	r->mmio.len = 9;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_FAIL);
	free(r);
	aspace_fini(&as);
}

static void test_exit_other(void)
{
	struct vm_exit e;
	uint64_t val;
	char msg[256];
	struct aspace as;
	aspace_init(&as, NULL);

	struct kvm_run *r = new_run(KVM_EXIT_HLT);
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_HANDLE);
	CHECK_EQ(e.reason, 12);
	CHECK_EQ(e.insn_len, 1); /* HLT is F4 */

	r->exit_reason = KVM_EXIT_SHUTDOWN;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_HANDLE);
	CHECK_EQ(e.reason, 2); /* triple fault */

	/* VMX: bit 31 + basic reason 33 (SDM Vol. 3C 27.8). */
	r->exit_reason = KVM_EXIT_FAIL_ENTRY;
	r->fail_entry.hardware_entry_failure_reason = 0x80000021;
	r->fail_entry.cpu = 3;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_HANDLE);
	CHECK_EQ(e.reason, 33);
	CHECK_EQ(e.qual, 0x80000021);
	CHECK(strstr(msg, "KVM_EXIT_FAIL_ENTRY") && strstr(msg, "0x80000021") && strstr(msg, "CPU 3"));
	/* VMX: MSR loading (34). */
	r->fail_entry.hardware_entry_failure_reason = 0x80000022;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_HANDLE);
	CHECK_EQ(e.reason, 34);
	/* SVM: VMEXIT_INVALID (-1), invalid guest state (AMD APM Vol. 2 15.5.1). */
	r->fail_entry.hardware_entry_failure_reason = ~0ull;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_HANDLE);
	CHECK_EQ(e.reason, 33);

	r->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	r->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	r->internal.ndata = 2;
	r->internal.data[0] = 0xabc;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_FAIL);
	CHECK(strstr(msg, "KVM_EXIT_INTERNAL_ERROR") && strstr(msg, "suberror 1") && strstr(msg, "0xabc"));
	r->internal.ndata = 1000; /* bounded by the array, not trusted */
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_FAIL);

	r->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	r->system_event.type = KVM_SYSTEM_EVENT_RESET;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_FAIL);
	CHECK(strstr(msg, "KVM_EXIT_SYSTEM_EVENT") && strstr(msg, "reset"));

	r->exit_reason = KVM_EXIT_INTR;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_RESUME);

	/* The guest lowered CR8 with no in-kernel APIC: "TPR below threshold"
	 * (SDM Vol. 3C 29.1.2), trap-like, so no instruction length and no
	 * qualification. */
	r->exit_reason = KVM_EXIT_SET_TPR;
	e.insn_len = 7;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_HANDLE);
	CHECK_EQ(e.reason, 43);
	CHECK_EQ(e.qual, 0);
	CHECK_EQ(e.insn_len, 0);

	r->exit_reason = KVM_EXIT_UNKNOWN;
	r->hw.hardware_exit_reason = 0x7b;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_FAIL);
	CHECK(strstr(msg, "KVM_EXIT_UNKNOWN") && strstr(msg, "0x7b"));
	r->exit_reason = KVM_EXIT_EXCEPTION;
	r->ex.exception = 17;
	r->ex.error_code = 0;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_FAIL);
	CHECK(strstr(msg, "KVM_EXIT_EXCEPTION") && strstr(msg, "exception 17"));

	r->exit_reason = KVM_EXIT_DEBUG;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_FAIL);
	CHECK(strstr(msg, "KVM_EXIT_DEBUG") && strstr(msg, "enables no KVM feature"));
	r->exit_reason = 9999;
	CHECK_EQ(decode(r, &as, NULL, &e, &val, msg), KVM_ACT_FAIL);
	CHECK(strstr(msg, "9999") != NULL);
	free(r);
	CHECK_STR(kvm_exit_name(KVM_EXIT_IO), "KVM_EXIT_IO");
	CHECK(kvm_exit_name(9999) == NULL);
}

TEST_MAIN(test_caps, test_segments, test_regs, test_fpu, test_shadow, test_io_decode, test_exit_io, test_exit_mmio,
	  test_exit_other)
