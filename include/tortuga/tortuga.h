/*
 * tortuga public C API.
 *
 * This is the only header the `tortuga` command and the Python harness use.
 * It is ctypes-friendly on purpose: opaque handles, fixed-width integers, no
 * bitfields, no varargs, no callbacks in structs. Every function that can fail
 * returns 0 or a positive count on success and a negative errno on failure; the
 * VM keeps a one-line explanation (tortuga_vm_error()) that says what to do.
 */
#ifndef TORTUGA_TORTUGA_H
#define TORTUGA_TORTUGA_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TORTUGA_API __attribute__((visibility("default")))

/* An opaque virtual machine. */
typedef struct tortuga_vm tortuga_vm;

enum tortuga_backend {
	TORTUGA_BACKEND_EMU = 0, /* tortuga's software x86-64 CPU (default) */
	TORTUGA_BACKEND_KVM = 1, /* the Linux KVM API (/dev/kvm) */
	TORTUGA_BACKEND_AUTO = 2, /* kvm when /dev/kvm opens, else emu */
};

enum tortuga_boot {
	TORTUGA_BOOT_DIRECT = 0, /* 64-bit entry, identity paging (DESIGN.md) */
	TORTUGA_BOOT_MULTIBOOT = 1, /* Multiboot v1, 32-bit protected mode */
};

enum tortuga_clock {
	TORTUGA_CLOCK_MODELLED = 0, /* guest time = modelled cycles: deterministic */
	TORTUGA_CLOCK_HOST = 1, /* guest time follows the host's monotonic clock */
};

enum tortuga_serial_mode {
	TORTUGA_SERIAL_CAPTURE = 0, /* keep output in memory only */
	TORTUGA_SERIAL_FD = 1, /* also write every byte to serial_fd */
};

/*
 * VM configuration. Initialise with tortuga_config_init() and change fields;
 * `size` lets old callers keep working when fields are appended.
 */
struct tortuga_config {
	uint32_t size; /* sizeof(struct tortuga_config) */
	uint32_t backend; /* enum tortuga_backend */
	uint64_t mem_size; /* guest RAM in bytes (default 128 MiB) */
	uint32_t vcpus; /* number of vCPUs (default 1) */
	uint32_t boot; /* enum tortuga_boot */
	uint64_t max_insns; /* stop after this many guest instructions; 0: no limit */
	uint32_t serial_mode; /* enum tortuga_serial_mode */
	int32_t serial_fd; /* with TORTUGA_SERIAL_FD */
	uint32_t trace_ring_events; /* in-process ring capacity (rounded up to 2^n) */
	uint32_t flags; /* TORTUGA_CFG_* */
	uint64_t serial_capture_max; /* bytes of serial output kept in memory */
	uint32_t clock; /* enum tortuga_clock: what drives the TSC and timers */
	uint32_t reserved0; /* 0 */
	char cpu_model[32]; /* CPU model name (tortuga_cpu_models()); "" = default */
};

#define TORTUGA_CFG_TRACE_OVERWRITE 0x1 /* ring keeps newest events when full */
/* Offer hardware virtualization to the guest (CPUID VMX/SVM): on emu,
 * tortuga's virtual VT-x (nested/: VMX instructions, VMX capability MSRs) so
 * that it can run its own guests; on kvm, the host KVM's own nested VMX/SVM
 * when it allows it. */
#define TORTUGA_CFG_NESTED 0x2
/* With TORTUGA_CFG_NESTED: do not use VMCS shadowing for L1's VMREAD/VMWRITE
 * (L0 policy; every VMREAD/VMWRITE then exits to L0). */
#define TORTUGA_CFG_NO_SHADOW_VMCS 0x4

/* Why a run stopped. */
enum tortuga_stop_reason {
	TORTUGA_STOP_NONE = 0,
	TORTUGA_STOP_DEBUG_EXIT = 1, /* guest wrote the debug-exit port */
	TORTUGA_STOP_TRIPLE_FAULT = 2, /* shutdown: the VM is dead */
	TORTUGA_STOP_INSN_LIMIT = 3, /* max_insns reached */
	TORTUGA_STOP_HALTED = 4, /* HLT with nothing that could ever wake it */
	TORTUGA_STOP_ERROR = 5, /* tortuga could not continue (see tortuga_vm_error) */
	TORTUGA_STOP_REQUESTED = 6, /* tortuga_vm_request_stop() */
};

/*
 * Process exit statuses of `tortuga run` for stops other than the guest's
 * debug-exit write (whose status is (V << 1) | 1, always odd).
 */
#define TORTUGA_STATUS_USAGE 2
#define TORTUGA_STATUS_TRIPLE_FAULT 4
#define TORTUGA_STATUS_INSN_LIMIT 6
#define TORTUGA_STATUS_HALTED 8
#define TORTUGA_STATUS_ERROR 10
#define TORTUGA_STATUS_STOPPED 12 /* tortuga_vm_request_stop() (e.g. Ctrl-C) */

/* What tortuga_vm_run() reports. */
struct tortuga_result {
	uint32_t stop_reason; /* enum tortuga_stop_reason */
	int32_t exit_status; /* the status `tortuga run` exits with */
	uint64_t instructions; /* guest instructions retired, all vCPUs */
	uint64_t wall_ns; /* host wall time of the run */
	uint64_t exits; /* VM exits at L0, all reasons */
	uint64_t cycles; /* modelled guest cycles (vCPU 0) */
	uint64_t trace_dropped; /* events the ring could not keep */
};

/* ---- library ---- */
TORTUGA_API const char *tortuga_version(void);
TORTUGA_API void tortuga_config_init(struct tortuga_config *cfg);
/* The last error of a call that had no VM to attach it to (create). */
TORTUGA_API const char *tortuga_last_error(void);
/* Name of a basic exit reason (Intel SDM Vol. 3D, App. C), or NULL. */
TORTUGA_API const char *tortuga_exit_reason_name(uint32_t reason);
/* Short name of an event kind, or NULL. */
TORTUGA_API const char *tortuga_event_kind_name(uint32_t kind);
/* The CPU models a config may name, NULL-terminated. */
TORTUGA_API const char *const *tortuga_cpu_models(void);
/* Name of a VMCS field encoding ("GUEST_RIP", "TSC_OFFSET_HIGH"; Intel SDM
 * Vol. 3D App. B), or NULL. */
TORTUGA_API const char *tortuga_vmcs_field_name(uint64_t encoding);
/* Encoding of a VMCS field by name, or -1. */
TORTUGA_API int64_t tortuga_vmcs_field_encoding(const char *name);
/* Description of a VM-instruction error number (SDM Vol. 3C 31.4), or NULL. */
TORTUGA_API const char *tortuga_vmx_error_name(uint32_t number);
/* Name of a stop reason, never NULL. */
TORTUGA_API const char *tortuga_stop_reason_name(uint32_t reason);

/* Describes one field of struct tortuga_event (for bindings). */
struct tortuga_field {
	const char *name;
	const char *doc;
	uint32_t offset;
	uint32_t size;
};
/* Returns the number of fields and points *fields at a static table. */
TORTUGA_API uint32_t tortuga_event_fields(const struct tortuga_field **fields);

/* Can this host run the backend (enum tortuga_backend)? 0, or a negative
 * errno and a one-line reason in msg ("/dev/kvm does not exist: ..."). */
TORTUGA_API int tortuga_backend_probe(uint32_t backend, char *msg, size_t len);

/* ---- VM lifecycle ---- */
TORTUGA_API int tortuga_vm_create(const struct tortuga_config *cfg, tortuga_vm **out);
TORTUGA_API void tortuga_vm_destroy(tortuga_vm *vm);
/* One-line description of the VM's last error ("" if none). */
TORTUGA_API const char *tortuga_vm_error(tortuga_vm *vm);
/* The backend the VM runs on: "emu" or "kvm". */
TORTUGA_API const char *tortuga_vm_backend(tortuga_vm *vm);
/* Why the backend is the one it is, or what it leaves out (auto fell back to
 * emu, KVM lacks a CPU-model feature, what --nested exposes); "" if nothing. */
TORTUGA_API const char *tortuga_vm_backend_note(tortuga_vm *vm);

/* Load an ELF guest from a file / from memory. cmdline may be NULL. */
TORTUGA_API int tortuga_vm_load_elf(tortuga_vm *vm, const char *path, const char *cmdline);
TORTUGA_API int tortuga_vm_load_elf_mem(tortuga_vm *vm, const void *image, size_t len,
					const char *cmdline);
/* Multiboot only, before loading: add a boot module (Multiboot 3.3 "mods")
 * read from path; string is what the kernel sees as the module's command
 * line (NULL: the path). Modules are placed in the order they are added. */
TORTUGA_API int tortuga_vm_add_module(tortuga_vm *vm, const char *path, const char *string);

/* Run until the guest stops. May be called again after TORTUGA_STOP_INSN_LIMIT
 * with a larger limit set by tortuga_vm_set_max_insns(). */
TORTUGA_API int tortuga_vm_run(tortuga_vm *vm, struct tortuga_result *res);
TORTUGA_API void tortuga_vm_set_max_insns(tortuga_vm *vm, uint64_t max_insns);
/* Safe to call from a signal handler or another thread. */
TORTUGA_API void tortuga_vm_request_stop(tortuga_vm *vm);

/* ---- output ---- */
/* Copy up to len bytes of captured serial output starting at offset; returns
 * the number copied. tortuga_vm_serial_size() gives the total captured. */
TORTUGA_API size_t tortuga_vm_serial_read(tortuga_vm *vm, uint64_t offset, char *buf, size_t len);
TORTUGA_API uint64_t tortuga_vm_serial_size(tortuga_vm *vm);

/* Feed bytes to the guest's serial receiver. */
TORTUGA_API int tortuga_vm_serial_write(tortuga_vm *vm, const char *buf, size_t len);

/* ---- trace and statistics ---- */
/* Take up to max events out of the in-process ring; returns how many. */
TORTUGA_API int tortuga_vm_trace_read(tortuga_vm *vm, struct tortuga_event *buf, uint32_t max);
/* Events lost because the ring was full. */
TORTUGA_API uint64_t tortuga_vm_trace_dropped(tortuga_vm *vm);
/* Stream every event to a file while the VM runs (format "bin" or "csv"). */
TORTUGA_API int tortuga_vm_trace_to_file(tortuga_vm *vm, const char *path, const char *format);
/* Exits at L0 with the given basic reason since creation. */
TORTUGA_API uint64_t tortuga_vm_exit_count(tortuga_vm *vm, uint32_t reason);
/*
 * Per-level statistics (level 1: the guest tortuga runs; level 2: the guests
 * it runs with VMLAUNCH/VMRESUME). Exits are exits of that level to tortuga.
 */
struct tortuga_level_stats {
	uint64_t instructions; /* retired while the level ran */
	uint64_t exits; /* exits of the level to L0 */
	uint64_t reflected; /* level 2: exits L0 passed on to L1 as VM exits */
	uint64_t caused_by_l2; /* level 1: exits made while handling a reflected L2 exit */
	uint64_t cycles; /* cost model: its instructions plus the cost of its exits */
};
TORTUGA_API int tortuga_vm_level_stats(tortuga_vm *vm, uint32_t level, struct tortuga_level_stats *out);
/* Exits of a level (1 or 2) to L0 with the given basic reason. */
TORTUGA_API uint64_t tortuga_vm_level_exit_count(tortuga_vm *vm, uint32_t level, uint32_t reason);
/*
 * L0 exits per L2 exit: (exits of L2 + exits of L1 caused while handling
 * reflected L2 exits) / exits of L2; 0 if L2 never exited.
 */
TORTUGA_API double tortuga_vm_l0_exits_per_l2_exit(tortuga_vm *vm);

/*
 * The cost model (DESIGN.md "Exit-centric design"): modelled cycles charged
 * for each VM exit at L0, by basic exit reason. The default for every reason
 * is the one published figure tortuga cites (2,000 cycles, SplitX, WIOV
 * 2011); set measured values per reason before running.
 */
TORTUGA_API int tortuga_vm_set_exit_cost(tortuga_vm *vm, uint32_t reason, uint32_t cycles);
TORTUGA_API uint32_t tortuga_vm_exit_cost(tortuga_vm *vm, uint32_t reason);

/*
 * VMCS shadowing as L0 policy (nested VMs): whether L1's VMREAD/VMWRITE of a
 * field complete without an exit to L0. mode: 0 exits (not shadowed), 1
 * VMREAD only, 2 VMREAD and VMWRITE. The default is KVM's shadow set
 * (arch/x86/kvm/vmx/vmcs_shadow_fields.h).
 */
TORTUGA_API int tortuga_vm_set_vmcs_shadow(tortuga_vm *vm, uint64_t encoding, uint32_t mode);

/* Write the JSON run summary (`tortuga run --stats`) to path. */
TORTUGA_API int tortuga_vm_write_stats(tortuga_vm *vm, const char *path);
/* Write a CPU state dump of a vCPU (QEMU `info registers` style) to buf. */
TORTUGA_API int tortuga_vm_dump_state(tortuga_vm *vm, uint32_t vcpu, char *buf, size_t len);

/* Read/write guest-physical memory (bounds-checked). */
TORTUGA_API int tortuga_vm_read_phys(tortuga_vm *vm, uint64_t gpa, void *buf, size_t len);
TORTUGA_API int tortuga_vm_write_phys(tortuga_vm *vm, uint64_t gpa, const void *buf, size_t len);

/* General-purpose register access by name index (enum tortuga_reg). */
enum tortuga_reg {
	TORTUGA_REG_RAX, TORTUGA_REG_RCX, TORTUGA_REG_RDX, TORTUGA_REG_RBX,
	TORTUGA_REG_RSP, TORTUGA_REG_RBP, TORTUGA_REG_RSI, TORTUGA_REG_RDI,
	TORTUGA_REG_R8, TORTUGA_REG_R9, TORTUGA_REG_R10, TORTUGA_REG_R11,
	TORTUGA_REG_R12, TORTUGA_REG_R13, TORTUGA_REG_R14, TORTUGA_REG_R15,
	TORTUGA_REG_RIP, TORTUGA_REG_RFLAGS,
	TORTUGA_REG_CR0, TORTUGA_REG_CR2, TORTUGA_REG_CR3, TORTUGA_REG_CR4,
	TORTUGA_REG_EFER,
	TORTUGA_REG_COUNT
};
TORTUGA_API int tortuga_vm_get_reg(tortuga_vm *vm, uint32_t vcpu, uint32_t reg, uint64_t *val);

#ifdef __cplusplus
}
#endif
#endif
