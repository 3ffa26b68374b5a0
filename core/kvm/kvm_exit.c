/*
 * KVM exits as tortuga exit records. KVM handles most VM exits in the kernel
 * (api.rst 5, "The kvm_run structure"); the few that reach user space map to
 * the Intel SDM basic exit reason (Vol. 3D Appendix C) that VT-x hardware
 * would have reported for the same event, so that emu and kvm traces share
 * one schema and one dispatch table (core/exit.c):
 *
 *   KVM_EXIT_IO         30 I/O instruction, qualification per Table 28-5
 *   KVM_EXIT_MMIO       49 EPT misconfiguration (a device's MMIO: KVM marks
 *                          MMIO SPTEs misconfigured so they exit there), or
 *                       48 EPT violation (no memory or device at the GPA)
 *   KVM_EXIT_HLT        12 HLT
 *   KVM_EXIT_SHUTDOWN    2 triple fault
 *   KVM_EXIT_FAIL_ENTRY 33 VM-entry failure due to invalid guest state (or
 *                          34/41 when VMX reports those), qualification =
 *                          KVM's hardware_entry_failure_reason
 *   KVM_EXIT_SET_TPR    43 TPR below threshold (the guest lowered CR8)
 *   KVM_EXIT_X86_RDMSR  31 RDMSR, KVM_EXIT_X86_WRMSR 32 WRMSR: MSRs of
 *                          tortuga's platform (the local APIC's), which
 *                          KVM hands to user space (kvm_vm.c)
 *
 * KVM's own failures (INTERNAL_ERROR, SYSTEM_EVENT, anything unexpected) are
 * not hardware exits: they stop the VM with a message and no exit record.
 */
#include <Zydis/Zydis.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kvm.h"

void kvm_io_insn_decode(const uint8_t *bytes, size_t n, unsigned bits, struct kvm_io_insn *out)
{
	memset(out, 0, sizeof(*out));
	ZydisDecoder dec;
	ZydisMachineMode mode = bits == 64 ? ZYDIS_MACHINE_MODE_LONG_64 :
				bits == 32 ? ZYDIS_MACHINE_MODE_LEGACY_32 :
					     ZYDIS_MACHINE_MODE_LEGACY_16;
	ZydisStackWidth sw = bits == 64 ? ZYDIS_STACK_WIDTH_64 : bits == 32 ? ZYDIS_STACK_WIDTH_32 : ZYDIS_STACK_WIDTH_16;
	if (ZYAN_FAILED(ZydisDecoderInit(&dec, mode, sw)))
		return;
	ZydisDecodedInstruction zi;
	if (ZYAN_FAILED(ZydisDecoderDecodeInstruction(&dec, NULL, bytes, n, &zi)))
		return;
	/* SDM Vol. 2B IN (E4/E5 imm8, EC/ED DX), OUT (E6/E7 imm8, EE/EF DX),
	 * INS (6C/6D), OUTS (6E/6F); the even opcodes move a byte. */
	if (zi.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT)
		return;
	uint8_t op = zi.opcode;
	if (op >= 0xe4 && op <= 0xe7) {
		out->imm = true;
		out->port = (uint8_t)zi.raw.imm[0].value.u;
		out->in = op <= 0xe5;
	} else if (op >= 0xec && op <= 0xef) {
		out->in = op <= 0xed;
	} else if (op >= 0x6c && op <= 0x6f) {
		out->string = true;
		out->in = op <= 0x6d;
		out->rep = (zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)) != 0;
	} else {
		return;
	}
	out->size = (op & 1) ? (zi.operand_width == 16 ? 2 : 4) : 1;
	out->len = zi.length;
	out->valid = true;
}

bool kvm_io_insn_matches(const struct kvm_io_insn *io, const struct kvm_run *run)
{
	return io->valid && io->in == (run->io.direction == KVM_EXIT_IO_IN) && io->size == run->io.size &&
	       (!io->imm || io->port == run->io.port) && (io->string || run->io.count == 1);
}

static enum kvm_exit_action fail(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static enum kvm_exit_action fail(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return KVM_ACT_FAIL;
}

static enum kvm_exit_action decode_io(struct kvm_run *run, size_t run_size, const struct kvm_io_insn *io,
				      struct vm_exit *e, char *msg, size_t len)
{
	unsigned size = run->io.size;
	uint64_t bytes = (uint64_t)size * run->io.count;
	if ((size != 1 && size != 2 && size != 4) || run->io.count == 0 || run->io.data_offset > run_size ||
	    bytes > run_size - run->io.data_offset)
		return fail(msg, len, "kvm: KVM_EXIT_IO with an impossible data area (size %u, count %u, offset %llu)",
			    size, run->io.count, (unsigned long long)run->io.data_offset);
	bool in = run->io.direction == KVM_EXIT_IO_IN;
	bool string = io && io->valid ? io->string : run->io.count > 1;
	bool rep = io && io->valid ? io->rep : run->io.count > 1;
	e->reason = TORTUGA_EXIT_IO_INSTRUCTION;
	/* SDM Vol. 3C 28.2.1, Table 28-5: size-1, direction, string, REP,
	 * operand encoding (bit 6: 1 = immediate), port. */
	e->qual = IO_QUAL(size, in, string, rep, run->io.port) | (io && io->valid && io->imm ? 1u << 6 : 0);
	e->insn_len = io && io->valid ? io->len : 0;
	e->aux = run->io.port;
	e->io.port = run->io.port;
	e->io.size = (uint8_t)size;
	e->io.in = in;
	e->io.count = run->io.count;
	e->io.data = (uint8_t *)run + run->io.data_offset;
	return KVM_ACT_HANDLE;
}

static enum kvm_exit_action decode_mmio(struct kvm_run *run, const struct aspace *as, struct vm_exit *e,
					uint64_t *val, char *msg, size_t len)
{
	unsigned size = run->mmio.len;
	if (size == 0 || size > 8)
		return fail(msg, len, "kvm: KVM_EXIT_MMIO of %u bytes at 0x%llx", size,
			    (unsigned long long)run->mmio.phys_addr);
	uint64_t gpa = run->mmio.phys_addr;
	const struct mem_region *r = aspace_find(as, gpa);
	bool device = r && r->type == MEM_MMIO;
	*val = 0;
	if (run->mmio.is_write)
		memcpy(val, run->mmio.data, size);
	e->reason = device ? TORTUGA_EXIT_EPT_MISCONFIG : TORTUGA_EXIT_EPT_VIOLATION;
	/* EPT violation qualification (SDM Vol. 3C 28.2.1, Table 28-7): bit 0
	 * data read, bit 1 data write. KVM does not report the linear address,
	 * so bit 7 (GLA valid) stays 0. An EPT misconfiguration has none. */
	e->qual = device ? 0 : (run->mmio.is_write ? 2u : 1u);
	e->gpa = gpa;
	e->aux = gpa;
	e->mmio.gpa = gpa;
	e->mmio.size = (uint8_t)size;
	e->mmio.write = run->mmio.is_write;
	e->mmio.data = val;
	return KVM_ACT_HANDLE;
}

/*
 * KVM_EXIT_FAIL_ENTRY's hardware_entry_failure_reason is the VMX exit reason
 * (bit 31 set: VM-entry failure, SDM Vol. 3C 27.8) on Intel hosts, and
 * SVM_EXIT_ERR (-1, "VMEXIT_INVALID", AMD APM Vol. 2 15.5.1) on AMD hosts.
 */
static uint32_t entry_fail_reason(uint64_t hw)
{
	uint32_t basic = (uint32_t)hw & 0xffff;
	if (hw >> 32 == 0 && (hw & (1ull << 31)) &&
	    (basic == TORTUGA_EXIT_ENTRY_FAIL_GUEST_STATE || basic == TORTUGA_EXIT_ENTRY_FAIL_MSR_LOADING ||
	     basic == TORTUGA_EXIT_ENTRY_FAIL_MACHINE_CHECK))
		return basic;
	return TORTUGA_EXIT_ENTRY_FAIL_GUEST_STATE;
}

static const char *internal_suberror(uint32_t s)
{
	switch (s) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "KVM could not emulate an instruction";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "an exception occurred while delivering another (simultaneous exceptions)";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "an exit occurred while delivering an event";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "the CPU reported an exit reason KVM does not handle";
	default:
		return "unknown suberror";
	}
}

static const char *system_event_name(uint32_t t)
{
	switch (t) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		return "shutdown";
	case KVM_SYSTEM_EVENT_RESET:
		return "reset";
	case KVM_SYSTEM_EVENT_CRASH:
		return "crash";
	default:
		return "unknown";
	}
}

static enum kvm_exit_action decode_internal(struct kvm_run *run, char *msg, size_t len)
{
	int pos = snprintf(msg, len, "kvm: KVM_EXIT_INTERNAL_ERROR, suberror %u: %s", run->internal.suberror,
			   internal_suberror(run->internal.suberror));
	uint32_t nd = run->internal.ndata;
	if (nd > sizeof(run->internal.data) / sizeof(run->internal.data[0]))
		nd = sizeof(run->internal.data) / sizeof(run->internal.data[0]);
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
	    run->emulation_failure.ndata >= 3) {
		unsigned n = run->emulation_failure.insn_size;
		if (n > sizeof(run->emulation_failure.insn_bytes))
			n = sizeof(run->emulation_failure.insn_bytes);
		pos += snprintf(msg + pos, (size_t)pos < len ? len - (size_t)pos : 0, "; instruction bytes");
		for (unsigned i = 0; i < n && (size_t)pos < len; i++)
			pos += snprintf(msg + pos, len - (size_t)pos, " %02x", run->emulation_failure.insn_bytes[i]);
		return KVM_ACT_FAIL;
	}
	if (nd && (size_t)pos < len)
		pos += snprintf(msg + pos, len - (size_t)pos, "; data");
	for (uint32_t i = 0; i < nd && (size_t)pos < len; i++)
		pos += snprintf(msg + pos, len - (size_t)pos, " 0x%llx", (unsigned long long)run->internal.data[i]);
	return KVM_ACT_FAIL;
}

enum kvm_exit_action kvm_exit_decode(struct kvm_run *run, size_t run_size, const struct aspace *as,
				     const struct kvm_io_insn *io, struct vm_exit *e, uint64_t *mmio_val,
				     char *msg, size_t len)
{
	memset(e, 0, sizeof(*e));
	msg[0] = 0;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return decode_io(run, run_size, io, e, msg, len);
	case KVM_EXIT_MMIO:
		return decode_mmio(run, as, e, mmio_val, msg, len);
	case KVM_EXIT_HLT:
		/* KVM retired the HLT before exiting (kvm_emulate_halt()); the run
		 * loop steps RIP back by insn_len so that the record's RIP is the
		 * HLT's, and the handler retires it again. */
		e->reason = TORTUGA_EXIT_HLT;
		e->insn_len = 1;
		return KVM_ACT_HANDLE;
	case KVM_EXIT_SHUTDOWN:
		e->reason = TORTUGA_EXIT_TRIPLE_FAULT;
		return KVM_ACT_HANDLE;
	case KVM_EXIT_FAIL_ENTRY:
		e->reason = entry_fail_reason(run->fail_entry.hardware_entry_failure_reason);
		e->qual = run->fail_entry.hardware_entry_failure_reason;
		e->aux = run->fail_entry.cpu;
		snprintf(msg, len,
			 "kvm: KVM_EXIT_FAIL_ENTRY: the CPU refused to enter the guest (hardware entry failure reason "
			 "0x%llx on host CPU %u): the guest state is invalid for VM entry",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason, run->fail_entry.cpu);
		return KVM_ACT_HANDLE;
	case KVM_EXIT_SET_TPR:
		/*
		 * Without an in-kernel local APIC, KVM intercepts MOV to CR8,
		 * completes it (the new TPR, or #GP(0) for bits 63:4 set: SDM
		 * Vol. 3A 2.5, 11.8.6.1) and, when the TPR went down, exits so
		 * that user space can deliver an interrupt the lower priority
		 * now lets through (arch/x86/kvm/vmx/vmx.c handle_cr(),
		 * svm/svm.c cr8_write_interception()). On VT-x that is what
		 * "TPR below threshold" reports (SDM Vol. 3C 29.1.2): a
		 * trap-like exit, RIP already after the MOV, qualification 0.
		 */
		e->reason = TORTUGA_EXIT_TPR_BELOW_THRESHOLD;
		return KVM_ACT_HANDLE;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		/* SDM Vol. 3C 26.1.3: RDMSR/WRMSR exit when the MSR bitmaps say
		 * so; ECX is the MSR (qualification 0), EDX:EAX the value written.
		 * Both instructions are two bytes (0F 32, 0F 30; SDM Vol. 2B). */
		e->reason = run->exit_reason == KVM_EXIT_X86_RDMSR ? TORTUGA_EXIT_RDMSR : TORTUGA_EXIT_WRMSR;
		e->insn_len = 2;
		e->aux = run->msr.index;
		e->msr.index = run->msr.index;
		e->msr.value = run->exit_reason == KVM_EXIT_X86_WRMSR ? run->msr.data : 0;
		return KVM_ACT_HANDLE;
	case KVM_EXIT_INTR:
		return KVM_ACT_RESUME;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		/* Requested through run->request_interrupt_window when core/intr.c
		 * asked for interrupt-window exiting: VT-x's exit reason 7. */
		e->reason = TORTUGA_EXIT_INTERRUPT_WINDOW;
		return KVM_ACT_HANDLE;
	case KVM_EXIT_UNKNOWN:
		return fail(msg, len, "kvm: KVM_EXIT_UNKNOWN: the CPU reported an exit KVM does not handle (hardware "
			    "exit reason 0x%llx)", (unsigned long long)run->hw.hardware_exit_reason);
	case KVM_EXIT_EXCEPTION:
		/* KVM hands up an exception it intercepted and cannot deal with,
		 * e.g. #AC from a split-locked access when the host's split-lock
		 * detection is fatal (arch/x86/kvm/vmx/vmx.c handle_exception_nmi()). */
		return fail(msg, len, "kvm: KVM_EXIT_EXCEPTION: the host's KVM refused to handle exception %u (error code "
			    "0x%x) of the guest", run->ex.exception, run->ex.error_code);
	case KVM_EXIT_INTERNAL_ERROR:
		return decode_internal(run, msg, len);
	case KVM_EXIT_SYSTEM_EVENT:
		return fail(msg, len, "kvm: KVM_EXIT_SYSTEM_EVENT: the guest requested a system %s (type %u), which "
			    "tortuga's platform does not model", system_event_name(run->system_event.type),
			    run->system_event.type);
	default: {
		const char *n = kvm_exit_name(run->exit_reason);
		/* The others come only from features tortuga does not enable
		 * (guest debugging, user-space MSRs, hypercall exits, a split
		 * IRQ chip, the dirty ring, bus-lock and notify exits, ...). */
		return fail(msg, len, "kvm: unexpected exit %s (%u) from KVM_RUN: tortuga enables no KVM feature that "
			    "produces it", n ? n : "KVM_EXIT_?", run->exit_reason);
	}
	}
}
