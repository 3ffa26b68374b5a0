/*
 * tortuga run: run one guest and exit with its status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

static tortuga_vm *running_vm;

static void on_signal(int sig)
{
	(void)sig;
	if (running_vm)
		tortuga_vm_request_stop(running_vm);
}

static void run_usage(FILE *f)
{
	fputs("usage: tortuga run [options] GUEST.elf [-- GUEST-ARGS...]\n"
	      "\n"
	      "Run GUEST.elf in a VM, on tortuga's software x86-64 CPU (emu) or on the\n"
	      "Linux KVM API (kvm). The process exits with the guest's debug-exit status\n"
	      "((V << 1) | 1 for a write of V to port 0xf4), or with 4 (triple fault),\n"
	      "6 (--max-insns reached), 8 (halted with nothing to wake it), 10 (tortuga\n"
	      "error), 12 (stopped by a signal), 2 (bad usage or guest image).\n"
	      "\n"
	      "options:\n"
	      "  --backend B        emu, kvm, or auto: kvm when /dev/kvm opens, else emu\n"
	      "                     (default auto, or $TORTUGA_BACKEND)\n"
	      "  --mem SIZE         guest RAM, e.g. 64M, 1G (default 128M)\n"
	      "  --boot PROTOCOL    direct (default): 64-bit entry, see bootinfo.h;\n"
	      "                     multiboot: Multiboot v1 kernel (ELF32/ELF64) in 32-bit mode\n"
	      "  --module 'FILE [ARGS]'  a Multiboot module; the whole string is its command\n"
	      "                     line (repeatable, in order)\n"
	      "  --smp N            N vCPUs (default 1): vCPU 0 runs, the others wait for\n"
	      "                     INIT/SIPI through their local APICs\n"
	      "  --cpu MODEL[,+F,-F]  CPU model (tortuga, nehalem) and CPUID features to\n"
	      "                     remove or add back (names from core/hw/cpuid_features.def)\n"
	      "  --clock modelled|host  what drives the TSC and timers: modelled cycles\n"
	      "                     (default, deterministic) or the host's clock\n"
	      "  --serial stdio|FILE  where the guest's serial console goes (default stdio)\n"
	      "  --max-insns N      stop after N guest instructions (k/M/G suffixes; emu only)\n"
	      "  --trace FILE       write every trace event to FILE (.csv: CSV, .json:\n"
	      "                     Perfetto, else binary) from the in-process ring\n"
	      "  --trace-bpf FILE   the same, recorded through eBPF (needs root; falls back\n"
	      "                     to the in-process ring, saying why); with the kvm\n"
	      "                     backend also KVM's in-kernel exits\n"
	      "  --stats FILE       write a JSON summary of the run to FILE\n"
	      "  --report           print the exits by reason when the guest stops\n"
	      "  --nested           give the guest VT-x so it can run its own guests: emu\n"
	      "                     models nested VMX (auto picks emu) and prints the exits\n"
	      "                     per level and the L0 exits per L2 exit at the end; kvm\n"
	      "                     offers the host KVM's nested VMX/SVM when it allows it\n"
	      "  --no-shadow-vmcs   with --nested: L1's VMREAD/VMWRITE always exit to L0\n"
	      "  --shadow-field FIELD=none|ro|rw  with --nested: shadow this VMCS field for L1\n"
	      "                     (name such as GUEST_RIP or encoding; default: KVM's set)\n"
	      "  --exit-cost REASON=CYCLES  cost model: cycles charged per exit of REASON\n"
	      "                     (a name such as CPUID or a number; repeatable; default 2000)\n"
	      "  -q, --quiet        no summary line on stderr\n"
	      "  -h, --help         show this help\n",
	      f);
}

enum {
	OPT_MEM = 256,
	OPT_BOOT,
	OPT_SERIAL,
	OPT_MAX_INSNS,
	OPT_TRACE,
	OPT_TRACE_BPF,
	OPT_STATS,
	OPT_REPORT,
	OPT_BACKEND,
	OPT_NESTED,
	OPT_NO_SHADOW_VMCS,
	OPT_EXIT_COST,
	OPT_SHADOW_FIELD,
	OPT_MODULE,
	OPT_SMP,
	OPT_CPU,
	OPT_CLOCK,
};

#define MAX_MODULES 32

static int parse_backend(const char *s, uint32_t *out)
{
	static const struct {
		const char *name;
		uint32_t backend;
	} names[] = {
		{ "emu", TORTUGA_BACKEND_EMU },
		{ "kvm", TORTUGA_BACKEND_KVM },
		{ "auto", TORTUGA_BACKEND_AUTO },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name)) {
			*out = names[i].backend;
			return 0;
		}
	return -1;
}

/* "GUEST_RIP=none" or "0x681e=ro": a VMCS field and a shadow mode. */
static int parse_shadow_field(const char *arg, uint64_t *enc, uint32_t *mode)
{
	const char *eq = strchr(arg, '=');
	char name[64];
	size_t len = eq ? (size_t)(eq - arg) : 0;
	if (!eq || !len || len >= sizeof(name))
		return -1;
	memcpy(name, arg, len);
	name[len] = 0;
	char *end;
	unsigned long long e = strtoull(name, &end, 0);
	if (*end) {
		int64_t byname = tortuga_vmcs_field_encoding(name);
		if (byname < 0)
			return -1;
		e = (uint64_t)byname;
	}
	static const char *const modes[] = { "none", "ro", "rw" };
	for (uint32_t m = 0; m < 3; m++)
		if (!strcmp(eq + 1, modes[m])) {
			*enc = e;
			*mode = m;
			return 0;
		}
	return -1;
}

#define MAX_COST_OVERRIDES 32

/* "CPUID=1200" or "10=1200": a basic exit reason and a cycle count. */
static int parse_exit_cost(const char *arg, uint32_t *reason, uint32_t *cycles)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return -1;
	char name[64];
	size_t len = (size_t)(eq - arg);
	if (len >= sizeof(name))
		return -1;
	memcpy(name, arg, len);
	name[len] = 0;
	char *end;
	unsigned long r = strtoul(name, &end, 0);
	if (*end) {
		r = TORTUGA_EXIT_REASON_MAX;
		for (uint32_t k = 0; k < TORTUGA_EXIT_REASON_MAX; k++) {
			const char *n = tortuga_exit_reason_name(k);
			if (n && !strcasecmp(n, name))
				r = k;
		}
	}
	unsigned long c = strtoul(eq + 1, &end, 0);
	if (r >= TORTUGA_EXIT_REASON_MAX || !eq[1] || *end || c > UINT32_MAX)
		return -1;
	*reason = (uint32_t)r;
	*cycles = (uint32_t)c;
	return 0;
}

/* The guest command line: GUEST-ARGS joined by spaces. */
static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *s = calloc(1, len);
	if (!s)
		return NULL;
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

/* Ring drops matter only when something reads the ring (--trace): without
 * a reader the ring keeps what fits and nobody misses the rest. */
static void print_summary(tortuga_vm *vm, const struct tortuga_result *r, bool traced)
{
	double secs = (double)r->wall_ns / 1e9;
	double mips = r->wall_ns ? (double)r->instructions * 1e3 / (double)r->wall_ns : 0;
	if (!strcmp(tortuga_vm_backend(vm), "kvm"))
		/* KVM runs the guest natively and counts no instructions. */
		fprintf(stderr, "tortuga: %s (status %d) on kvm: %.3f s, %" PRIu64 " exits to user space",
			tortuga_stop_reason_name(r->stop_reason), r->exit_status, secs, r->exits);
	else
		fprintf(stderr,
			"tortuga: %s (status %d): %" PRIu64 " instructions in %.3f s (%.1f MIPS), %" PRIu64
			" exits",
			tortuga_stop_reason_name(r->stop_reason), r->exit_status, r->instructions, secs, mips,
			r->exits);
	if (r->trace_dropped && traced)
		fprintf(stderr, ", %" PRIu64 " trace events dropped", r->trace_dropped);
	fputc('\n', stderr);
}

/* Exits at L0 by basic reason, most frequent first. */
static void print_report(tortuga_vm *vm, const struct tortuga_result *r)
{
	struct {
		uint32_t reason;
		uint64_t n;
	} rows[TORTUGA_EXIT_REASON_MAX];
	int n = 0;
	for (uint32_t k = 0; k < TORTUGA_EXIT_REASON_MAX; k++) {
		uint64_t cnt = tortuga_vm_exit_count(vm, k);
		if (cnt)
			rows[n++] = (typeof(rows[0])){ k, cnt };
	}
	for (int a = 1; a < n; a++)
		for (int b = a; b > 0 && rows[b].n > rows[b - 1].n; b--) {
			typeof(rows[0]) t = rows[b];
			rows[b] = rows[b - 1];
			rows[b - 1] = t;
		}
	fprintf(stderr, "tortuga: exits handled at L0, by basic exit reason (Intel SDM App. C)\n");
	fprintf(stderr, "  %-3s %-28s %12s %8s\n", "#", "reason", "exits", "share");
	for (int k = 0; k < n; k++)
		fprintf(stderr, "  %-3u %-28s %12" PRIu64 " %7.2f%%\n", rows[k].reason,
			tortuga_exit_reason_name(rows[k].reason), rows[k].n,
			r->exits ? 100.0 * (double)rows[k].n / (double)r->exits : 0.0);
	fprintf(stderr, "  %-3s %-28s %12" PRIu64 "\n", "", "total", r->exits);
	if (r->instructions)
		fprintf(stderr, "  %.2f exits per 1000 guest instructions\n",
			1000.0 * (double)r->exits / (double)r->instructions);
}

/* With --nested: what each level did, and how many L0 exits one L2 exit
 * cost (the L2 exit itself plus the exits L1 made while handling it). */
static void print_levels(tortuga_vm *vm)
{
	fprintf(stderr, "tortuga: nested: exits to L0 per level\n");
	fprintf(stderr, "  %-6s %14s %12s %12s %14s %16s\n", "level", "instructions", "exits", "reflected",
		"caused-by-L2", "model-cycles");
	for (uint32_t level = 1; level <= 2; level++) {
		struct tortuga_level_stats ls;
		if (tortuga_vm_level_stats(vm, level, &ls))
			return;
		fprintf(stderr, "  L%-5u %14" PRIu64 " %12" PRIu64 " %12" PRIu64 " %14" PRIu64 " %16" PRIu64 "\n",
			level, ls.instructions, ls.exits, ls.reflected, ls.caused_by_l2, ls.cycles);
	}
	fprintf(stderr, "  L0 exits per L2 exit: %.2f\n", tortuga_vm_l0_exits_per_l2_exit(vm));
}

/* One vCPU's state; with several, each after a "CPU#n" line as QEMU's
 * `info registers -a` does. */
static void dump_state(tortuga_vm *vm, uint32_t vcpus)
{
	char buf[4096];
	for (uint32_t k = 0; k < vcpus; k++) {
		if (vcpus > 1)
			fprintf(stderr, "CPU#%u\n", k);
		if (tortuga_vm_dump_state(vm, k, buf, sizeof(buf)) > 0)
			fputs(buf, stderr);
	}
}

int cli_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "backend", required_argument, NULL, OPT_BACKEND },
		{ "nested", no_argument, NULL, OPT_NESTED },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "boot", required_argument, NULL, OPT_BOOT },
		{ "module", required_argument, NULL, OPT_MODULE },
		{ "smp", required_argument, NULL, OPT_SMP },
		{ "cpu", required_argument, NULL, OPT_CPU },
		{ "clock", required_argument, NULL, OPT_CLOCK },
		{ "serial", required_argument, NULL, OPT_SERIAL },
		{ "max-insns", required_argument, NULL, OPT_MAX_INSNS },
		{ "trace", required_argument, NULL, OPT_TRACE },
		{ "trace-bpf", required_argument, NULL, OPT_TRACE_BPF },
		{ "stats", required_argument, NULL, OPT_STATS },
		{ "report", no_argument, NULL, OPT_REPORT },
		{ "no-shadow-vmcs", no_argument, NULL, OPT_NO_SHADOW_VMCS },
		{ "exit-cost", required_argument, NULL, OPT_EXIT_COST },
		{ "shadow-field", required_argument, NULL, OPT_SHADOW_FIELD },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tortuga_config cfg;
	tortuga_config_init(&cfg);
	/* `tortuga run` defaults to auto; the library (and so the Python
	 * harness) to emu, which behaves the same on every host. */
	cfg.backend = TORTUGA_BACKEND_AUTO;
	const char *env_backend = getenv("TORTUGA_BACKEND");
	if (env_backend && *env_backend && parse_backend(env_backend, &cfg.backend)) {
		cli_error("TORTUGA_BACKEND: unknown backend '%s' (emu, kvm or auto)", env_backend);
		return TORTUGA_STATUS_USAGE;
	}
	const char *serial = "stdio", *trace = NULL, *stats = NULL, *trace_bpf = NULL;
	struct tortuga_bpf *bpf = NULL;
	const char *modules[MAX_MODULES];
	int nmodules = 0;
	bool quiet = false, report = false, nested = false, no_shadow = false;
	struct {
		uint32_t reason, cycles;
	} costs[MAX_COST_OVERRIDES];
	unsigned ncosts = 0;
	struct {
		uint64_t enc;
		uint32_t mode;
	} shadows[MAX_COST_OVERRIDES];
	unsigned nshadows = 0;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_BACKEND:
			if (parse_backend(optarg, &cfg.backend)) {
				cli_error("--backend: unknown backend '%s' (emu, kvm or auto)", optarg);
				return TORTUGA_STATUS_USAGE;
			}
			break;
		case OPT_MEM:
			if (cli_parse_size(optarg, &cfg.mem_size)) {
				cli_error("--mem: '%s' is not a size (try 64M or 1G)", optarg);
				return TORTUGA_STATUS_USAGE;
			}
			break;
		case OPT_BOOT:
			if (!strcmp(optarg, "direct")) {
				cfg.boot = TORTUGA_BOOT_DIRECT;
			} else if (!strcmp(optarg, "multiboot")) {
				cfg.boot = TORTUGA_BOOT_MULTIBOOT;
			} else {
				cli_error("--boot: unknown protocol '%s' (supported: direct, multiboot)", optarg);
				return TORTUGA_STATUS_USAGE;
			}
			break;
		case OPT_SMP: {
			uint64_t n;
			if (cli_parse_count(optarg, &n) || n < 1 || n > 64) {
				cli_error("--smp: '%s' is not a vCPU count from 1 to 64", optarg);
				return TORTUGA_STATUS_USAGE;
			}
			cfg.vcpus = (uint32_t)n;
			break;
		}
		case OPT_CPU:
			if (strlen(optarg) >= sizeof(cfg.cpu_model)) {
				cli_error("--cpu: '%s' is too long", optarg);
				return TORTUGA_STATUS_USAGE;
			}
			snprintf(cfg.cpu_model, sizeof(cfg.cpu_model), "%s", optarg);
			break;
		case OPT_CLOCK:
			if (!strcmp(optarg, "modelled")) {
				cfg.clock = TORTUGA_CLOCK_MODELLED;
			} else if (!strcmp(optarg, "host")) {
				cfg.clock = TORTUGA_CLOCK_HOST;
			} else {
				cli_error("--clock: '%s' is not modelled or host", optarg);
				return TORTUGA_STATUS_USAGE;
			}
			break;
		case OPT_MODULE:
			if (nmodules == MAX_MODULES) {
				cli_error("--module: at most %d modules", MAX_MODULES);
				return TORTUGA_STATUS_USAGE;
			}
			modules[nmodules++] = optarg;
			break;
		case OPT_SERIAL:
			serial = optarg;
			break;
		case OPT_MAX_INSNS:
			if (cli_parse_count(optarg, &cfg.max_insns) || !cfg.max_insns) {
				cli_error("--max-insns: '%s' is not a positive count", optarg);
				return TORTUGA_STATUS_USAGE;
			}
			break;
		case OPT_TRACE:
			trace = optarg;
			break;
		case OPT_TRACE_BPF:
			trace_bpf = optarg;
			break;
		case OPT_STATS:
			stats = optarg;
			break;
		case OPT_REPORT:
			report = true;
			break;
		case OPT_NESTED:
			nested = true;
			break;
		case OPT_NO_SHADOW_VMCS:
			no_shadow = true;
			break;
		case OPT_SHADOW_FIELD:
			if (nshadows == MAX_COST_OVERRIDES ||
			    parse_shadow_field(optarg, &shadows[nshadows].enc, &shadows[nshadows].mode)) {
				cli_error("--shadow-field: '%s' is not FIELD=none|ro|rw (e.g. GUEST_RIP=none)", optarg);
				return TORTUGA_STATUS_USAGE;
			}
			nshadows++;
			break;
		case OPT_EXIT_COST:
			if (ncosts == MAX_COST_OVERRIDES ||
			    parse_exit_cost(optarg, &costs[ncosts].reason, &costs[ncosts].cycles)) {
				cli_error("--exit-cost: '%s' is not REASON=CYCLES (e.g. CPUID=1200)", optarg);
				return TORTUGA_STATUS_USAGE;
			}
			ncosts++;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		case ':':
			cli_error("option '%s' needs a value", argv[optind - 1]);
			return TORTUGA_STATUS_USAGE;
		default:
			cli_error("unknown option '%s' (try: tortuga run --help)", argv[optind - 1]);
			return TORTUGA_STATUS_USAGE;
		}
	}
	if (optind >= argc) {
		cli_error("no guest given (usage: tortuga run [options] GUEST.elf)");
		return TORTUGA_STATUS_USAGE;
	}
	const char *guest = argv[optind++];
	if (nmodules && cfg.boot != TORTUGA_BOOT_MULTIBOOT) {
		cli_error("--module needs --boot multiboot");
		return TORTUGA_STATUS_USAGE;
	}
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	else if (optind < argc) {
		cli_error("unexpected argument '%s': guest arguments go after '--'", argv[optind]);
		return TORTUGA_STATUS_USAGE;
	}
	if ((no_shadow || nshadows) && !nested) {
		cli_error("%s needs --nested", no_shadow ? "--no-shadow-vmcs" : "--shadow-field");
		return TORTUGA_STATUS_USAGE;
	}
	if (nested)
		cfg.flags |= TORTUGA_CFG_NESTED;
	if (no_shadow)
		cfg.flags |= TORTUGA_CFG_NO_SHADOW_VMCS;
	char *cmdline = join_args(argc - optind, argv + optind);

	int serial_fd = -1;
	if (!strcmp(serial, "stdio")) {
		serial_fd = STDOUT_FILENO;
	} else {
		serial_fd = open(serial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (serial_fd < 0) {
			cli_error("--serial: %s: %s", serial, strerror(errno));
			free(cmdline);
			return TORTUGA_STATUS_USAGE;
		}
	}
	cfg.serial_mode = TORTUGA_SERIAL_FD;
	cfg.serial_fd = serial_fd;

	int status = TORTUGA_STATUS_USAGE;
	tortuga_vm *vm = NULL;
	int err = tortuga_vm_create(&cfg, &vm);
	if (err) {
		cli_error("%s", tortuga_last_error());
		goto out;
	}
	const char *note = tortuga_vm_backend_note(vm);
	if (note[0] && !quiet)
		cli_error("%s", note);
	for (int m = 0; m < nmodules; m++) {
		/* The module's file is the first word of its string. */
		char path[4096];
		size_t pl = strcspn(modules[m], " ");
		if (pl >= sizeof(path)) {
			cli_error("--module: path too long");
			goto out;
		}
		memcpy(path, modules[m], pl);
		path[pl] = 0;
		if (tortuga_vm_add_module(vm, path, modules[m])) {
			cli_error("--module: %s", tortuga_vm_error(vm));
			goto out;
		}
	}
	if (tortuga_vm_load_elf(vm, guest, cmdline)) {
		cli_error("%s", tortuga_vm_error(vm));
		goto out;
	}
	for (unsigned k = 0; k < ncosts; k++)
		tortuga_vm_set_exit_cost(vm, costs[k].reason, costs[k].cycles);
	for (unsigned k = 0; k < nshadows; k++)
		if (tortuga_vm_set_vmcs_shadow(vm, shadows[k].enc, shadows[k].mode)) {
			cli_error("--shadow-field: %s", tortuga_vm_error(vm));
			goto out;
		}
	if (trace && tortuga_vm_trace_to_file(vm, trace, NULL)) {
		cli_error("--trace: %s", tortuga_vm_error(vm));
		goto out;
	}
	if (trace_bpf)
		bpf = cli_bpf_begin(vm, trace_bpf);
	running_vm = vm;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct tortuga_result res;
	err = tortuga_vm_run(vm, &res);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	running_vm = NULL;
	status = res.exit_status;
	if (cli_bpf_end(bpf, trace_bpf, quiet) && status == 0)
		status = TORTUGA_STATUS_ERROR;
	if (err || res.stop_reason == TORTUGA_STOP_ERROR) {
		cli_error("%s", tortuga_vm_error(vm));
		dump_state(vm, cfg.vcpus);
		status = TORTUGA_STATUS_ERROR;
	} else if (res.stop_reason == TORTUGA_STOP_TRIPLE_FAULT) {
		cli_error("guest triple-faulted (shutdown); CPU state:");
		dump_state(vm, cfg.vcpus);
	} else if (res.stop_reason == TORTUGA_STOP_INSN_LIMIT && !quiet) {
		cli_error("instruction limit reached; CPU state:");
		dump_state(vm, cfg.vcpus);
	} else if (res.stop_reason == TORTUGA_STOP_HALTED) {
		cli_error("guest halted with nothing that could wake it");
	}
	if (stats && tortuga_vm_write_stats(vm, stats)) {
		cli_error("--stats: %s", tortuga_vm_error(vm));
		if (status == 0)
			status = TORTUGA_STATUS_ERROR;
	}
	if (report)
		print_report(vm, &res);
	if (nested)
		print_levels(vm);
	if (!quiet)
		print_summary(vm, &res, trace != NULL);
out:
	tortuga_vm_destroy(vm);
	free(cmdline);
	if (serial_fd > STDERR_FILENO)
		close(serial_fd);
	return status;
}
