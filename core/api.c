/*
 * The public C API (include/tortuga/tortuga.h): thin, checked wrappers over
 * the VM. Nothing here is reachable from a guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tortuga/tortuga.h>

#include "cost_model.h"
#include "cpuid.h"
#include "devices/uart16550.h"
#include "kvm/kvm.h"
#include "loader.h"
#include "vm.h"

#include "tracing/trace.h"

#ifndef TORTUGA_VERSION
#define TORTUGA_VERSION "0.1.0"
#endif

#define MAX_IMAGE (1ull << 30)

static _Thread_local char last_error[256];

TORTUGA_API const char *tortuga_version(void)
{
	return TORTUGA_VERSION;
}

TORTUGA_API const char *tortuga_last_error(void)
{
	return last_error;
}

TORTUGA_API void tortuga_config_init(struct tortuga_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->backend = TORTUGA_BACKEND_EMU;
	cfg->mem_size = 128ull << 20;
	cfg->vcpus = 1;
	cfg->boot = TORTUGA_BOOT_DIRECT;
	cfg->serial_mode = TORTUGA_SERIAL_CAPTURE;
	cfg->serial_fd = -1;
	cfg->trace_ring_events = 1u << 16;
	cfg->serial_capture_max = 16ull << 20;
}

TORTUGA_API const char *tortuga_exit_reason_name(uint32_t reason)
{
	return trace_exit_reason_name(reason);
}

TORTUGA_API const char *tortuga_event_kind_name(uint32_t kind)
{
	return trace_event_kind_name(kind);
}

TORTUGA_API const char *tortuga_stop_reason_name(uint32_t reason)
{
	static const char *const names[] = {
		[TORTUGA_STOP_NONE] = "none",
		[TORTUGA_STOP_DEBUG_EXIT] = "debug-exit",
		[TORTUGA_STOP_TRIPLE_FAULT] = "triple-fault",
		[TORTUGA_STOP_INSN_LIMIT] = "insn-limit",
		[TORTUGA_STOP_HALTED] = "halted",
		[TORTUGA_STOP_ERROR] = "error",
		[TORTUGA_STOP_REQUESTED] = "requested",
	};
	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "unknown";
}

TORTUGA_API const char *const *tortuga_cpu_models(void)
{
	return cpu_model_names();
}

TORTUGA_API uint32_t tortuga_event_fields(const struct tortuga_field **fields)
{
	static const struct tortuga_field table[] = {
#define X(type, name, doc)                                                                         \
	{ #name, doc, (uint32_t)__builtin_offsetof(struct tortuga_event, name),                    \
	  (uint32_t)sizeof(((struct tortuga_event *)0)->name) },
		TORTUGA_EVENT_FIELDS(X)
#undef X
	};
	*fields = table;
	return sizeof(table) / sizeof(table[0]);
}

TORTUGA_API int tortuga_vm_create(const struct tortuga_config *cfg, tortuga_vm **out)
{
	if (!cfg || !out) {
		snprintf(last_error, sizeof(last_error), "tortuga_vm_create: NULL argument");
		return -EINVAL;
	}
	*out = NULL;
	struct vm *vm = NULL;
	int err = vm_create(cfg, &vm);
	if (err) {
		snprintf(last_error, sizeof(last_error), "%s", vm && vm->err[0] ? vm->err : strerror(-err));
		vm_destroy(vm);
		return err;
	}
	*out = (tortuga_vm *)vm;
	return 0;
}

TORTUGA_API void tortuga_vm_destroy(tortuga_vm *vm)
{
	vm_destroy((struct vm *)vm);
}

TORTUGA_API const char *tortuga_vm_error(tortuga_vm *vm)
{
	return vm ? ((struct vm *)vm)->err : last_error;
}

TORTUGA_API const char *tortuga_vm_backend(tortuga_vm *vm)
{
	const struct vm *v = (const struct vm *)vm;
	return v->be ? v->be->name : "none";
}

TORTUGA_API const char *tortuga_vm_backend_note(tortuga_vm *vm)
{
	return ((const struct vm *)vm)->backend_note;
}

TORTUGA_API int tortuga_backend_probe(uint32_t backend, char *msg, size_t len)
{
	char buf[256];
	int err = 0;
	buf[0] = 0;
	if (backend == TORTUGA_BACKEND_KVM || backend == TORTUGA_BACKEND_AUTO)
		err = kvm_probe(buf, sizeof(buf));
	else if (backend != TORTUGA_BACKEND_EMU) {
		snprintf(buf, sizeof(buf), "unknown backend %u", backend);
		err = -EINVAL;
	}
	if (backend == TORTUGA_BACKEND_AUTO)
		err = 0; /* auto always has emu to fall back on; msg says why */
	if (msg && len)
		snprintf(msg, len, "%s", buf);
	return err;
}

TORTUGA_API int tortuga_vm_load_elf_mem(tortuga_vm *tvm, const void *image, size_t len, const char *cmdline)
{
	struct vm *vm = (struct vm *)tvm;
	if (!image)
		return vm_error(vm, -EINVAL, "no image");
	return loader_load_elf(vm, image, len, "image", cmdline);
}

/* Read a whole regular file (at most MAX_IMAGE bytes) into *out. */
static int read_whole_file(struct vm *vm, const char *path, char **out, size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vm_error(vm, -errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return vm_error(vm, -e, "%s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return vm_error(vm, -EINVAL, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > MAX_IMAGE) {
		close(fd);
		return vm_error(vm, -EFBIG, "%s: %lld bytes is larger than any file tortuga loads (1 GiB)", path,
				(long long)st.st_size);
	}
	size_t len = (size_t)st.st_size;
	char *buf = malloc(len ? len : 1);
	if (!buf) {
		close(fd);
		return vm_error(vm, -ENOMEM, "out of memory reading %s", path);
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			free(buf);
			close(fd);
			return vm_error(vm, -e, "%s: read failed: %s", path, strerror(e));
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*out_len = len;
	return 0;
}

TORTUGA_API int tortuga_vm_load_elf(tortuga_vm *tvm, const char *path, const char *cmdline)
{
	struct vm *vm = (struct vm *)tvm;
	char *buf;
	size_t len;
	int err = read_whole_file(vm, path, &buf, &len);
	if (err)
		return err;
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	err = loader_load_elf(vm, buf, len, name, cmdline);
	free(buf);
	return err;
}

TORTUGA_API int tortuga_vm_add_module(tortuga_vm *tvm, const char *path, const char *string)
{
	struct vm *vm = (struct vm *)tvm;
	char *buf;
	size_t len;
	int err = read_whole_file(vm, path, &buf, &len);
	if (err)
		return err;
	err = vm_add_module(vm, buf, len, string ? string : path);
	free(buf);
	return err;
}

static uint64_t total_exits(const struct vm *vm)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		n += vm->vcpus[i]->stats.exits;
	return n;
}

static uint64_t total_insns(const struct vm *vm)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		n += vm->vcpus[i]->stats.insns;
	return n;
}

TORTUGA_API int tortuga_vm_run(tortuga_vm *tvm, struct tortuga_result *res)
{
	struct vm *vm = (struct vm *)tvm;
	int err = vm_run(vm);
	if (res) {
		memset(res, 0, sizeof(*res));
		res->stop_reason = vm->stop_reason;
		res->exit_status = vm->exit_status;
		res->instructions = total_insns(vm);
		res->wall_ns = vm->wall_ns;
		res->exits = total_exits(vm);
		res->cycles = vm->nvcpus ? vm->vcpus[0]->cycles : 0;
		res->trace_dropped = trace_dropped(vm->trace);
	}
	return err;
}

TORTUGA_API void tortuga_vm_set_max_insns(tortuga_vm *tvm, uint64_t max_insns)
{
	struct vm *vm = (struct vm *)tvm;
	vm->cfg.max_insns = max_insns;
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		vm->vcpus[i]->insn_limit = max_insns;
}

TORTUGA_API void tortuga_vm_request_stop(tortuga_vm *tvm)
{
	struct vm *vm = (struct vm *)tvm;
	/* Async-signal-safe: the atomic flag (the run loop records why), then a
	 * kick for backends whose vCPUs do not poll it (kvm inside KVM_RUN). */
	atomic_store(&vm->stop_requested, 1);
	if (vm->be && vm->be->kick)
		for (uint32_t i = 0; i < vm->nvcpus; i++)
			vm->be->kick(vm->vcpus[i]);
}

TORTUGA_API size_t tortuga_vm_serial_read(tortuga_vm *tvm, uint64_t offset, char *buf, size_t len)
{
	struct vm *vm = (struct vm *)tvm;
	return uart16550_read_capture(vm->uart, offset, buf, len);
}

TORTUGA_API uint64_t tortuga_vm_serial_size(tortuga_vm *tvm)
{
	return uart16550_captured(((struct vm *)tvm)->uart);
}

TORTUGA_API int tortuga_vm_serial_write(tortuga_vm *tvm, const char *buf, size_t len)
{
	return (int)uart16550_receive(((struct vm *)tvm)->uart, buf, len);
}

TORTUGA_API int tortuga_vm_trace_read(tortuga_vm *tvm, struct tortuga_event *buf, uint32_t max)
{
	return (int)trace_read(((struct vm *)tvm)->trace, buf, max);
}

TORTUGA_API uint64_t tortuga_vm_trace_dropped(tortuga_vm *tvm)
{
	return trace_dropped(((struct vm *)tvm)->trace);
}

TORTUGA_API int tortuga_vm_trace_to_file(tortuga_vm *tvm, const char *path, const char *format)
{
	struct vm *vm = (struct vm *)tvm;
	enum trace_format fmt = trace_format_for_path(path);
	if (format && trace_format_parse(format, &fmt))
		return vm_error(vm, -EINVAL, "unknown trace format '%s' (use bin or csv)", format);
	FILE *f = fopen(path, "wb");
	if (!f)
		return vm_error(vm, -errno, "%s: %s", path, strerror(errno));
	int err = trace_add_file_sink(vm->trace, f, fmt);
	if (err)
		return vm_error(vm, err, "%s: cannot start the trace file", path);
	return 0;
}

TORTUGA_API uint64_t tortuga_vm_exit_count(tortuga_vm *tvm, uint32_t reason)
{
	struct vm *vm = (struct vm *)tvm;
	if (reason >= TORTUGA_EXIT_REASON_MAX)
		return 0;
	uint64_t n = 0;
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		n += vm->vcpus[i]->stats.exits_by_reason[reason];
	return n;
}

TORTUGA_API int tortuga_vm_level_stats(tortuga_vm *tvm, uint32_t level, struct tortuga_level_stats *out)
{
	struct vm *vm = (struct vm *)tvm;
	if (level < 1 || level >= VCPU_LEVELS)
		return vm_error(vm, -EINVAL, "no level %u (levels are 1 and 2)", level);
	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = vm->vcpus[i];
		vcpu_account_level(v);
		out->instructions += v->lstats[level].insns;
		out->exits += v->lstats[level].exits;
		out->reflected += v->lstats[level].reflected;
		out->caused_by_l2 += v->lstats[level].caused_by_l2;
		out->cycles += v->lstats[level].insns * COST_INSN_DEFAULT + v->lstats[level].exit_cycles;
	}
	return 0;
}

TORTUGA_API uint64_t tortuga_vm_level_exit_count(tortuga_vm *tvm, uint32_t level, uint32_t reason)
{
	struct vm *vm = (struct vm *)tvm;
	if (level < 1 || level >= VCPU_LEVELS || reason >= TORTUGA_EXIT_REASON_MAX)
		return 0;
	uint64_t n = 0;
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		n += vm->vcpus[i]->lstats[level].exits_by_reason[reason];
	return n;
}

TORTUGA_API int tortuga_vm_set_exit_cost(tortuga_vm *tvm, uint32_t reason, uint32_t cycles)
{
	struct vm *vm = (struct vm *)tvm;
	if (reason >= TORTUGA_EXIT_REASON_MAX)
		return vm_error(vm, -EINVAL, "no exit reason %u", reason);
	vm->exit_cost[reason] = cycles;
	return 0;
}

TORTUGA_API uint32_t tortuga_vm_exit_cost(tortuga_vm *tvm, uint32_t reason)
{
	struct vm *vm = (struct vm *)tvm;
	return reason < TORTUGA_EXIT_REASON_MAX ? vm->exit_cost[reason] : 0;
}

TORTUGA_API double tortuga_vm_l0_exits_per_l2_exit(tortuga_vm *tvm)
{
	struct tortuga_level_stats l1, l2;
	if (tortuga_vm_level_stats(tvm, 1, &l1) || tortuga_vm_level_stats(tvm, 2, &l2) || !l2.exits)
		return 0.0;
	return (double)(l2.exits + l1.caused_by_l2) / (double)l2.exits;
}

/* {"name": count, ...} of the exits of a level (0: all levels). */
static void write_exits_by_reason(tortuga_vm *tvm, uint32_t level, FILE *f, const char *indent)
{
	fputc('{', f);
	bool first = true;
	for (uint32_t r = 0; r < TORTUGA_EXIT_REASON_MAX; r++) {
		uint64_t n = level ? tortuga_vm_level_exit_count(tvm, level, r) : tortuga_vm_exit_count(tvm, r);
		if (!n)
			continue;
		const char *name = trace_exit_reason_name(r);
		fprintf(f, "%s\n%s  \"%s\": %" PRIu64, first ? "" : ",", indent, name ? name : "unknown", n);
		first = false;
	}
	fprintf(f, "%s%s}", first ? "" : "\n", first ? "" : indent);
}

static void write_level_stats(struct vm *vm, FILE *f)
{
	tortuga_vm *tvm = (tortuga_vm *)vm;
	fprintf(f, "  \"levels\": {");
	for (uint32_t level = 1; level < VCPU_LEVELS; level++) {
		struct tortuga_level_stats ls;
		tortuga_vm_level_stats(tvm, level, &ls);
		fprintf(f, "%s\n    \"%u\": {\n", level > 1 ? "," : "", level);
		fprintf(f, "      \"instructions\": %" PRIu64 ",\n", ls.instructions);
		fprintf(f, "      \"exits\": %" PRIu64 ",\n", ls.exits);
		fprintf(f, "      \"reflected\": %" PRIu64 ",\n", ls.reflected);
		fprintf(f, "      \"caused_by_l2\": %" PRIu64 ",\n", ls.caused_by_l2);
		fprintf(f, "      \"cycles\": %" PRIu64 ",\n", ls.cycles);
		fprintf(f, "      \"exits_by_reason\": ");
		write_exits_by_reason(tvm, level, f, "      ");
		fprintf(f, "\n    }");
	}
	fprintf(f, "\n  },\n");
	fprintf(f, "  \"l0_exits_per_l2_exit\": %.3f,\n", tortuga_vm_l0_exits_per_l2_exit(tvm));
}

TORTUGA_API int tortuga_vm_write_stats(tortuga_vm *tvm, const char *path)
{
	struct vm *vm = (struct vm *)tvm;
	FILE *f = fopen(path, "w");
	if (!f)
		return vm_error(vm, -errno, "%s: %s", path, strerror(errno));
	uint64_t insns = total_insns(vm);
	fprintf(f, "{\n");
	fprintf(f, "  \"tortuga_version\": \"%s\",\n", TORTUGA_VERSION);
	fprintf(f, "  \"backend\": \"%s\",\n", vm->be->name);
	fprintf(f, "  \"stop_reason\": \"%s\",\n", tortuga_stop_reason_name(vm->stop_reason));
	fprintf(f, "  \"exit_status\": %d,\n", vm->exit_status);
	fprintf(f, "  \"instructions\": %" PRIu64 ",\n", insns);
	fprintf(f, "  \"wall_ns\": %" PRIu64 ",\n", vm->wall_ns);
	fprintf(f, "  \"mips\": %.3f,\n", vm->wall_ns ? (double)insns * 1e3 / (double)vm->wall_ns : 0.0);
	fprintf(f, "  \"cycles\": %" PRIu64 ",\n", vm->nvcpus ? vm->vcpus[0]->cycles : 0);
	fprintf(f, "  \"exits\": %" PRIu64 ",\n", total_exits(vm));
	fprintf(f, "  \"exits_by_reason\": ");
	write_exits_by_reason(tvm, 0, f, "  ");
	fprintf(f, ",\n");
	if (vm->cfg.flags & TORTUGA_CFG_NESTED)
		write_level_stats(vm, f);
	fprintf(f, "  \"trace_events\": %" PRIu64 ",\n", trace_emitted(vm->trace));
	fprintf(f, "  \"trace_dropped\": %" PRIu64 ",\n", trace_dropped(vm->trace));
	fprintf(f, "  \"serial_bytes\": %" PRIu64 "\n", uart16550_captured(vm->uart));
	fprintf(f, "}\n");
	int err = ferror(f) ? -EIO : 0;
	if (fclose(f) && !err)
		err = -errno;
	if (err)
		return vm_error(vm, err, "%s: write failed", path);
	return 0;
}

TORTUGA_API int tortuga_vm_dump_state(tortuga_vm *tvm, uint32_t vcpu, char *buf, size_t len)
{
	struct vm *vm = (struct vm *)tvm;
	if (vcpu >= vm->nvcpus)
		return vm_error(vm, -EINVAL, "no vCPU %u", vcpu);
	if (vm->be->sync_state)
		vm->be->sync_state(vm->vcpus[vcpu]);
	return vcpu_dump_state(vm->vcpus[vcpu], buf, len);
}

TORTUGA_API int tortuga_vm_read_phys(tortuga_vm *tvm, uint64_t gpa, void *buf, size_t len)
{
	struct vm *vm = (struct vm *)tvm;
	return aspace_read(&vm->as, gpa, buf, len);
}

TORTUGA_API int tortuga_vm_write_phys(tortuga_vm *tvm, uint64_t gpa, const void *buf, size_t len)
{
	struct vm *vm = (struct vm *)tvm;
	return aspace_write(&vm->as, gpa, buf, len);
}

TORTUGA_API int tortuga_vm_get_reg(tortuga_vm *tvm, uint32_t vcpu, uint32_t reg, uint64_t *val)
{
	struct vm *vm = (struct vm *)tvm;
	if (vcpu >= vm->nvcpus || reg >= TORTUGA_REG_COUNT)
		return vm_error(vm, -EINVAL, "bad vCPU %u or register %u", vcpu, reg);
	struct vcpu *v = vm->vcpus[vcpu];
	if (vm->be->sync_state)
		vm->be->sync_state(v);
	const struct x86_state *s = &v->s;
	if (reg < 16) {
		*val = s->gpr[reg];
		return 0;
	}
	switch (reg) {
	case TORTUGA_REG_RIP:
		*val = s->rip;
		break;
	case TORTUGA_REG_RFLAGS:
		*val = s->rflags;
		break;
	case TORTUGA_REG_CR0:
		*val = s->cr0;
		break;
	case TORTUGA_REG_CR2:
		*val = s->cr2;
		break;
	case TORTUGA_REG_CR3:
		*val = s->cr3;
		break;
	case TORTUGA_REG_CR4:
		*val = s->cr4;
		break;
	default:
		*val = s->efer;
	}
	return 0;
}
