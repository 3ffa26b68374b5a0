#!/bin/sh
# tortuga's kvm-backend tests, as TAP (https://testanything.org). POSIX sh:
# they run on a host with /dev/kvm (meson test kvm-host) and inside the
# busybox initramfs that kvm_qemu.sh boots in QEMU (meson test kvm-qemu).
#
# Environment:
#   TORTUGA_CLI          the tortuga command
#   TORTUGA_GUESTS       the directory of guest *.elf images
#   TORTUGA_TEST_KVM_VM  tests/kvm/test_kvm_vm
#   TORTUGA_CPU_PROBE    tests/kvm/cpu_probe (optional): printed as comments
#   KVM_EXPECT_NESTED    svm|vmx|none: what --nested must find (unset: any
#                        clear answer is accepted, as hosts differ)
#   KVM_STRICT           1: the host is a known KVM on VMX/SVM (kvm-qemu): cases
#                        that skip on unusual KVMs (no SMM, no VM-entry
#                        checks) must pass
#   KVM_ENV              the environment's name in tests/kvm/divergences.txt:
#                        qemu-tcg-svm (set by kvm_qemu.sh), pvm (detected:
#                        the kvm_pvm module), else hardware
#   KVM_TEST_DATA        where tap_compare.awk and divergences.txt are
#                        (default: this script's directory)
#   KVM_EMU_ONLY=DIR     run only the emu half of every comparison and keep
#                        its results in DIR (no TAP worth reading)
#   KVM_EMU_CACHE=DIR    take the emu half from DIR instead of running it:
#                        kvm_qemu.sh computes it on the host, where tortuga's
#                        software CPU runs about 30 times faster than inside
#                        QEMU TCG (the emu backend is deterministic)
#
# Backend-selection cases need no KVM. The others skip, with the reason,
# when the kvm backend cannot run here. No case can hang: every run has a
# time limit.
set -u
CLI=${TORTUGA_CLI:?set TORTUGA_CLI}
GUESTS=${TORTUGA_GUESTS:?set TORTUGA_GUESTS}
VMT=${TORTUGA_TEST_KVM_VM:?set TORTUGA_TEST_KVM_VM}
LIMIT=${KVM_TEST_LIMIT:-120} # seconds per tortuga run
DATA=${KVM_TEST_DATA:-$(dirname "$0")}
if [ -z "${KVM_ENV:-}" ]; then
	KVM_ENV=hardware
	[ -d /sys/module/kvm_pvm ] && KVM_ENV=pvm
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/tortuga-kvm.XXXXXX")
trap 'rm -rf "$T"' EXIT

# ---- KVM's nested and SMM tracepoints through eBPF (kvm_trace_nested.sh) ----
. "$DATA/kvm_trace_nested.sh"
# ---- end kvm_trace_nested.sh ----

n=0
pass() {
	n=$((n + 1))
	echo "ok $n - $1"
}
fail() {
	n=$((n + 1))
	echo "not ok $n - $1"
	shift
	# The findings that failed it first (tap_compare.awk's "FAIL:"), then
	# the start of each file.
	for f in "$@"; do
		[ -f "$f" ] && grep '^# FAIL: ' "$f" | head -20 | sed 's/^/# /'
	done
	for f in "$@"; do
		[ -f "$f" ] && sed -n '1,40s/^/# /p' "$f"
	done
	return 0
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
# check NAME CONDITION-STATUS [files to show on failure]
check() {
	name=$1
	st=$2
	shift 2
	if [ "$st" -eq 0 ]; then pass "$name"; else fail "$name" "$@"; fi
}

# trun TAG [env assignments --] tortuga-run-args...: stdout, stderr and the
# status land in $T/TAG.{out,err,rc}.
trun() {
	rt=$1
	shift
	timeout "$LIMIT" "$CLI" run "$@" >"$T/$rt.out" 2>"$T/$rt.err"
	echo $? >"$T/$rt.rc"
}
rc() { cat "$T/$1.rc"; }
has() { grep -q -- "$2" "$T/$1.err"; }

# The two halves of a comparison. erun TAG args: on the emu backend, with
# TAG's stdout, stderr, status and any file $T/TAG.* the run writes (cached,
# see KVM_EMU_ONLY and KVM_EMU_CACHE); krun TAG args: on the kvm backend.
EMU_ONLY=${KVM_EMU_ONLY:-}
erun() {
	et=$1
	shift
	if [ -n "${KVM_EMU_CACHE:-}" ] && [ -f "$KVM_EMU_CACHE/$et.rc" ]; then
		cp "$KVM_EMU_CACHE/$et".* "$T/"
		return
	fi
	trun "$et" --backend emu "$@"
	[ -z "$EMU_ONLY" ] || cp "$T/$et".* "$EMU_ONLY/"
}
krun() {
	[ -n "$EMU_ONLY" ] && return
	kt=$1
	shift
	trun "$kt" -q --backend kvm "$@"
}

# ---- backend selection: no KVM needed ----------------------------------------
if [ -z "$EMU_ONLY" ]; then

NOKVM="$T/no-such-kvm"
TORTUGA_KVM_DEVICE=$NOKVM trun auto-fallback "$GUESTS/hello.elf"
st=1
[ "$(rc auto-fallback)" = 1 ] && grep -q "Hello from a tortuga guest" "$T/auto-fallback.out" &&
	[ "$(grep -c 'not using the kvm backend' "$T/auto-fallback.err")" = 1 ] &&
	has auto-fallback "$NOKVM does not exist" && has auto-fallback "using the emu backend" && st=0
check "auto without a KVM device falls back to emu and says so once" $st "$T/auto-fallback.err"

TORTUGA_KVM_DEVICE=$NOKVM trun kvm-nodev --backend kvm "$GUESTS/hello.elf"
st=1
[ "$(rc kvm-nodev)" = 2 ] && [ "$(wc -l <"$T/kvm-nodev.err")" -eq 1 ] && has kvm-nodev "$NOKVM does not exist" &&
	[ ! -s "$T/kvm-nodev.out" ] && st=0
check "--backend kvm without a KVM device: one-line error" $st "$T/kvm-nodev.err"

TORTUGA_KVM_DEVICE=/dev/null trun kvm-notkvm --backend kvm "$GUESTS/hello.elf"
st=1
[ "$(rc kvm-notkvm)" = 2 ] && has kvm-notkvm "KVM_GET_API_VERSION" && st=0
check "--backend kvm on a device that is not KVM: says so" $st "$T/kvm-notkvm.err"

"$VMT" permission "$GUESTS" >"$T/perm.out" 2>&1
case $? in
0) pass "a KVM device without permission: says so" ;;
77) skip "a KVM device without permission: says so" "$(head -1 "$T/perm.out")" ;;
*) fail "a KVM device without permission: says so" "$T/perm.out" ;;
esac

TORTUGA_KVM_DEVICE=$NOKVM trun kvm-maxinsns --backend kvm --max-insns 1000 "$GUESTS/hello.elf"
st=1
[ "$(rc kvm-maxinsns)" = 2 ] && has kvm-maxinsns "max-insns" && has kvm-maxinsns "emu backend" && st=0
check "--backend kvm refuses --max-insns, naming the emu backend" $st "$T/kvm-maxinsns.err"

trun bogus --backend bogus "$GUESTS/hello.elf"
st=1
[ "$(rc bogus)" = 2 ] && has bogus "unknown backend" && st=0
check "--backend bogus is a usage error" $st "$T/bogus.err"

TORTUGA_BACKEND=emu trun env-emu "$GUESTS/hello.elf"
st=1
[ "$(rc env-emu)" = 1 ] && has env-emu "instructions in" && st=0
check "TORTUGA_BACKEND=emu selects the emu backend" $st "$T/env-emu.err"

# ---- on KVM ------------------------------------------------------------------

trun probe -q --backend kvm "$GUESTS/hello.elf"
if [ "$(rc probe)" != 1 ]; then
	why=$(head -1 "$T/probe.err" | sed 's/^tortuga: //')
	for c in "differential: every guest" "differential: selftest-exceptions" "differential: selftest-insn" \
		"differential: selftest-paging" "differential: the PC-platform guests" "trace schema: hello" \
		"trace schema: HLT" "trace schema: MMIO" "eBPF records KVM's in-kernel exits" "stats" "triple fault" \
		"internal error" "entry failure" "state through KVM" "SMM" "stop from another thread" "MOV to CR8" "INIT drops" \
		"stop by a signal" "--nested"; do
		skip "kvm: $c" "kvm backend unavailable: ${why:-status $(rc probe)}"
	done
	trace_nested_skip "kvm backend unavailable: ${why:-status $(rc probe)}" # kvm_trace_nested.sh
	echo "1..$n"
	exit 0
fi
fi

# Differential: every shipped guest that does not need tortuga's nested VMX
# (by convention their names contain vmx or nested) prints the same serial
# output and exits with the same status on kvm as on emu. Variants give a
# few guests the arguments that make them interesting.
# Output lines may be left out of the comparison only where divergences.txt
# records why ("ENV GUEST KEY,... lines": a line "PREFIX.KEY VALUE" is not
# compared); the pass line says how many.
ignored_keys() {
	awk -v env="$KVM_ENV" -v guest="$1" '/^[^ \t#]/ && ($1 == env || $1 == "any") && $2 == guest && $4 == "lines" {
		gsub(",", "|", $3); printf "%s%s", (n++ ? "|" : ""), $3 }' "$DATA/divergences.txt"
}
diff_case() {
	tag=$1
	shift
	erun "$tag.emu" "$@"
	krun "$tag.kvm" "$@"
	[ -n "$EMU_ONLY" ] && return
	ign=
	keys=$(ignored_keys "${tag#d-}")
	if [ -n "$keys" ]; then
		pat="^[^ ]*\.($keys) "
		for side in emu kvm; do
			grep -Ev "$pat" "$T/$tag.$side.out" >"$T/$tag.$side.cmpd"
		done
		ign=", $(grep -Ec "$pat" "$T/$tag.emu.out") lines not compared (divergences.txt: ${tag#d-} $keys)"
	else
		cp "$T/$tag.emu.out" "$T/$tag.emu.cmpd"
		cp "$T/$tag.kvm.out" "$T/$tag.kvm.cmpd"
	fi
	if [ "$(rc "$tag.emu")" = "$(rc "$tag.kvm")" ] && cmp -s "$T/$tag.emu.cmpd" "$T/$tag.kvm.cmpd"; then
		pass "differential: $* (status $(rc "$tag.emu")$ign)"
	else
		echo "emu status $(rc "$tag.emu"), kvm status $(rc "$tag.kvm")" >"$T/$tag.why"
		diff "$T/$tag.emu.cmpd" "$T/$tag.kvm.cmpd" >>"$T/$tag.why"
		fail "differential: $*" "$T/$tag.why" "$T/$tag.kvm.err"
	fi
}
for g in "$GUESTS"/*.elf; do
	case $(basename "$g") in
	*vmx* | *nested* | l1hv*) continue ;; # need tortuga's nested VMX
	svmhv*) continue ;; # needs the host KVM's nested SVM (kvm_trace_nested.sh)
	# The self-tests are compared result by result below.
	selftest-*) continue ;;
	# SSE arithmetic: not in the instruction emulator PVM runs guests with
	# (divergences.txt, pvm selftest-fpu).
	fpkernels.elf)
		# (The emu half, which kvm_qemu.sh --emu-side runs on the host
		# whatever that host's KVM is, still runs it.)
		if [ "$KVM_ENV" = pvm ] && [ -z "$EMU_ONLY" ]; then
			skip "differential: $g" "PVM emulates every guest instruction, and KVM's emulator has no SSE arithmetic"
			continue
		fi
		;;
	esac
	# Tagged by name, not by position: the emu half may come from another
	# run (KVM_EMU_CACHE) whose list of skipped guests differs.
	tag=d-$(basename "$g" .elf)
	case $(basename "$g") in
	cpuloop.elf) diff_case "$tag" "$g" -- n=1 ;;
	*) diff_case "$tag" "$g" ;;
	esac
done
diff_case v1 "$GUESTS/hello.elf" -- exit=21 two words
diff_case v2 "$GUESTS/crash.elf" -- mode=triple
diff_case v3 "$GUESTS/crash.elf" -- mode=unmapped
diff_case v6 "$GUESTS/crash.elf" -- mode=halt
diff_case v7 "$GUESTS/crash.elf" -- mode=hole
diff_case v4 "$GUESTS/ioloop.elf" -- n=5000
diff_case v5 "$GUESTS/busyloop.elf" -- n=1000000

# The self-test guests report numbered results that cite the SDM; the kvm run
# must agree with the emu run result by result (ok / not ok, plan, exit
# status), except where tests/kvm/divergences.txt records, with the reason,
# that this environment deviates from the SDM (tap_compare.awk).
if [ -x "${TORTUGA_CPU_PROBE:-}" ] && [ -z "$EMU_ONLY" ]; then
	echo "# cpu_probe, in user space on this environment's CPU (evidence for divergences.txt):"
	timeout 10 "$TORTUGA_CPU_PROBE" 2>&1 | sed 's/^/#   /'
fi
# tap_case NAME TABLE-NAME GUEST-ARGS...: run on both backends, compare with
# tap_compare.awk under TABLE-NAME in divergences.txt; $T/NAME.cmp holds why.
tap_case() {
	tn=$1
	tg=$2
	shift 2
	erun "$tn.emu" "$@"
	krun "$tn.kvm" "$@"
	[ -n "$EMU_ONLY" ] && return 0
	# QEMU TCG's VMRUN drops the guest's interrupt shadow (divergences.txt,
	# "lost wake-up"): now and then a guest waiting with STI; HLT takes its
	# interrupt before the HLT and halts for good. Up to two retries for a
	# kvm run that halted (8) or ran out of time (12: stopped by timeout's
	# signal; 124), said in the comparison's notes.
	retried=
	for try in 2 3; do
		case $KVM_ENV/$(rc "$tn.kvm") in
		qemu-tcg-svm/8 | qemu-tcg-svm/12 | qemu-tcg-svm/124) ;;
		*) break ;;
		esac
		retried="$retried# kvm run $try: run $((try - 1)) ended with status $(rc "$tn.kvm") after $(grep -c '^ok' "$T/$tn.kvm.out") ok results (QEMU's lost wake-up)
"
		krun "$tn.kvm" "$@"
	done
	awk -f "$DATA/tap_compare.awk" -v env="$KVM_ENV" -v guest="$tg" -v table="$DATA/divergences.txt" \
		-v emu="$T/$tn.emu.out" -v kvm="$T/$tn.kvm.out" -v emu_rc="$(rc "$tn.emu")" \
		-v kvm_rc="$(rc "$tn.kvm")" >"$T/$tn.cmp"
	tst=$?
	printf '%s' "$retried" >>"$T/$tn.cmp"
	[ $tst -eq 0 ] || grep '^tortuga: ' "$T/$tn.kvm.err" | head -2 | sed 's/^/# kvm: /' >>"$T/$tn.cmp"
	return $tst
}
for g in "$GUESTS"/selftest-*.elf; do
	sg=$(basename "$g" .elf)
	tap_case "$sg" "$sg" "$g"
	st=$?
	[ -n "$EMU_ONLY" ] && continue
	check "differential: $sg on $KVM_ENV agrees with emu result by result" $st "$T/$sg.cmp"
	[ $st -ne 0 ] || cat "$T/$sg.cmp"
done

# The PC-platform guests (guests/pc/, Multiboot kernels: every CPU mode, the
# interrupt controllers and timers, SMP, fw_cfg and PCI) are self-tests too,
# compared the same way: every one, in both forms the 64-bit ones ship in
# (NAME.elf, ELF32 carrying 64-bit code, and NAME-elf64.elf: one entry in
# divergences.txt serves both); smp on 2 and 4 vCPUs (its results differ in
# number). mbinfo and platform also print what they found for the host to
# check (the Multiboot information, fw_cfg, PCI IDs): those lines must be
# the same bytes on both backends when the kvm run completes.
data_lines() { grep -v -e '^ok [0-9]' -e '^not ok' -e '^#' -e '^1\.\.' "$1"; }
pc_case() {
	pc=$1
	shift
	tap_case "$pc" "$(echo "$pc" | sed 's/-elf64//')" --boot multiboot "$@"
	st=$?
	[ -n "$EMU_ONLY" ] && return
	what="differential: $pc (PC platform) on $KVM_ENV agrees with emu result by result"
	case $pc in
	mbinfo* | platform*)
		if grep -q '^1\.\.' "$T/$pc.kvm.out"; then
			data_lines "$T/$pc.emu.out" >"$T/$pc.emu.data"
			data_lines "$T/$pc.kvm.out" >"$T/$pc.kvm.data"
			if ! cmp -s "$T/$pc.emu.data" "$T/$pc.kvm.data"; then
				st=1
				diff "$T/$pc.emu.data" "$T/$pc.kvm.data" | sed 's/^/# /' >>"$T/$pc.cmp"
			fi
			what="$what, and its data lines byte for byte ($(wc -l <"$T/$pc.kvm.data"))"
		fi
		;;
	esac
	check "$what" $st "$T/$pc.cmp"
	[ $st -ne 0 ] || cat "$T/$pc.cmp"
}
for g in "$GUESTS"/pc/*.elf; do
	pg=$(basename "$g" .elf)
	case $pg in
	smp | smp-*)
		for c in 2 4; do
			pc_case "$pg-$c" --smp $c "$g"
		done
		;;
	# The benchmark kernels print a checksum, not TAP: compared as the
	# other guests are, on a short run.
	cpuloop-mb* | busyloop-mb*) diff_case "d-$pg" --boot multiboot "$g" -- n=1 ;;
	*) pc_case "$pg" "$g" ;;
	esac
done

# One trace schema: the exits that reach L0 on both backends carry the same
# reason, qualification (SDM Table 28-5 for I/O), RIP and detail (port, GPA).
# KVM reports no guest-linear address for MMIO, so for EPT exits only the
# reason and the GPA are compared (emu also sets Table 28-7's GLA bits), and
# their RIP, which KVM reports before or after the access depending on how it
# emulated it.
exits() { awk -F, 'NR == 1 { print; next } $14 == "exit" { if ($8 == 48 || $8 == 49) print $8, $6, $15; else print $8, $4, $5, $6, $15 }' "$1"; }
trace_case() {
	name=$1
	min=$2
	shift 2
	trn=$((trn + 1))
	trt=tr$trn
	erun "$trt.emu" -q --trace "$T/$trt.emu.csv" "$@"
	krun "$trt.kvm" --trace "$T/$trt.kvm.csv" "$@"
	[ -n "$EMU_ONLY" ] && return
	exits "$T/$trt.emu.csv" >"$T/emu.exits"
	exits "$T/$trt.kvm.csv" >"$T/kvm.exits"
	st=1
	[ "$(wc -l <"$T/kvm.exits")" -gt "$min" ] && cmp -s "$T/emu.exits" "$T/kvm.exits" && st=0
	[ $st -eq 0 ] || diff "$T/emu.exits" "$T/kvm.exits" >"$T/tr.why"
	check "kvm: trace schema: $name: exits equal emu's ($(($(wc -l <"$T/kvm.exits") - 1)))" $st "$T/tr.why"
}
trn=0
trace_case "hello (I/O)" 100 "$GUESTS/hello.elf"
trace_case "HLT" 10 "$GUESTS/crash.elf" -- mode=halt
trace_case "MMIO to nothing (EPT violation)" 10 "$GUESTS/crash.elf" -- mode=hole

erun st.emu -q --stats "$T/st.emu.json" "$GUESTS/ioloop.elf" -- n=2000
# The emu half of every comparison is done (KVM_EMU_ONLY ends here).
[ -n "$EMU_ONLY" ] && exit 0
krun st.kvm --stats "$T/st.kvm.json" "$GUESTS/ioloop.elf" -- n=2000
io_exits() { grep '"IO_INSTRUCTION"' "$1" | tr -dc 0-9; }
st=1
grep -q '"backend": "kvm"' "$T/st.kvm.json" && [ -n "$(io_exits "$T/st.kvm.json")" ] &&
	[ "$(io_exits "$T/st.kvm.json")" = "$(io_exits "$T/st.emu.json")" ] && [ "$(io_exits "$T/st.kvm.json")" -gt 2000 ] && st=0
check "kvm: stats: ioloop's I/O exits equal emu's ($(io_exits "$T/st.kvm.json"))" $st "$T/st.kvm.json"

# eBPF (tracing/tortuga.bpf.c): on the kvm backend --trace-bpf records both
# tortuga's own events (the tortuga:event probe) and the exits KVM handles
# in the kernel (KVM's tracepoints; flags bit 0, TORTUGA_EVF_KVM). Every I/O
# instruction of hello exits to the kernel first (VMX reason 30, or SVM
# IOIO, AMD APM Vol. 2 Table C-1) and then reaches tortuga in user space, so
# the kernel's I/O exits are at least tortuga's, and name hello's ports (the
# UART at 0x3f8-0x3ff, debug-exit at 0xf4) in qualification bits 31:16 (SDM
# Vol. 3C Table 28-5; SVM EXITINFO1, APM Vol. 2 15.10.2); each kernel exit
# that ended has an entry naming it as parent.
trun bpf -q --backend kvm --trace-bpf "$T/bpf.csv" "$GUESTS/hello.elf"
bpf_counts() {
	awk -F, 'NR > 1 && $14 == "exit" && ($15 == "IO_INSTRUCTION" || $15 == "IOIO") { if ($13 % 2) k++; else u++
			port = int($4 / 65536) % 65536; if ($13 % 2 && port != 244 && (port < 1016 || port > 1023)) k = -1000000 }
		NR > 1 && $13 % 2 && $14 == "exit" { ex[$1] = 1 }
		NR > 1 && $13 % 2 && $14 == "entry" && ($7 in ex) { paired++ }
		END { printf "%d %d %d\n", k, u, paired }' "$1"
}
if has bpf "eBPF unavailable" || has bpf "without eBPF support"; then
	skip "kvm: eBPF records KVM's in-kernel exits" "$(sed -n 's/^tortuga: --trace-bpf: //p' "$T/bpf.err" | cut -d';' -f1)"
else
	set -- $(bpf_counts "$T/bpf.csv")
	kio=$1 uio=$2 paired=$3
	st=1
	[ "$(rc bpf)" = 1 ] && [ "$uio" -gt 100 ] && [ "$kio" -ge "$uio" ] && [ "$paired" -ge "$uio" ] && st=0
	if [ $st -ne 0 ] && [ "$kio" = 0 ] && [ "${KVM_STRICT:-0}" != 1 ] && [ "$uio" -gt 100 ]; then
		skip "kvm: eBPF records KVM's in-kernel exits" "kvm:kvm_exit never fired: this host's KVM emulates the guest (PVM?)"
	else
		echo "kernel I/O exits $kio, tortuga's $uio, kernel entries paired $paired, status $(rc bpf)" >"$T/bpf.why"
		check "kvm: eBPF records KVM's in-kernel exits ($kio kernel, $uio user-space I/O exits)" $st "$T/bpf.why" "$T/bpf.err"
	fi
fi

# ---- KVM's nested and SMM tracepoints through eBPF (kvm_trace_nested.sh) ----
trace_nested_cases
# ---- end kvm_trace_nested.sh ----

trun triple --backend kvm "$GUESTS/crash.elf" -- mode=triple
st=1
# The dump is QEMU's layout: RIP= in 64-bit code, EIP= otherwise.
[ "$(rc triple)" = 4 ] && has triple "triple-faulted" && has triple "IP=" && has triple "CR0=" && st=0
check "kvm: triple fault (KVM_EXIT_SHUTDOWN): status 4, message, state dump" $st "$T/triple.err"

trun internal --backend kvm "$GUESTS/crash.elf" -- mode=unmapped
st=1
[ "$(rc internal)" = 10 ] && has internal "KVM_EXIT_INTERNAL_ERROR" && has internal "RIP=00000000d0000000" && st=0
check "kvm: internal error (fetch from unmapped memory): status 10, message, state dump" $st "$T/internal.err"

vmcase() {
	name=$1
	case=$2
	expect_skip_fails=${3:-0}
	timeout "$LIMIT" "$VMT" "$case" "$GUESTS" >"$T/$case.out" 2>&1
	st=$?
	if [ $st -eq 77 ] && [ "$expect_skip_fails" != 1 ]; then
		skip "kvm: $name" "$(head -1 "$T/$case.out")"
	else
		check "kvm: $name" $st "$T/$case.out"
	fi
}
vmcase "entry failure (KVM_EXIT_FAIL_ENTRY): exit record, message, state dump" entry-fail "${KVM_STRICT:-0}"
vmcase "state through KVM and back (regs, sregs, MSRs, FPU, debug, events)" state
vmcase "SMM: SMRAM in address space 1, KVM_SMI, handler, RSM" smm "${KVM_STRICT:-0}"
vmcase "stop from another thread ends KVM_RUN" kick
vmcase "INIT drops the interrupt and exception KVM holds for injection" init
vmcase "MOV to CR8 lowering the TPR (KVM_EXIT_SET_TPR): TPR below threshold, CR8 reads back" tpr "${KVM_STRICT:-0}"

# Ctrl-C: SIGINT reaches KVM_RUN, tortuga stops with status 12.
"$CLI" run -q --backend kvm "$GUESTS/busyloop.elf" -- n=0xffffffffffff >/dev/null 2>"$T/sig.err" &
pid=$!
sleep 1
kill -INT $pid
k=0
while kill -0 $pid 2>/dev/null && [ $k -lt 100 ]; do
	sleep 0.1
	k=$((k + 1))
done
if kill -0 $pid 2>/dev/null; then
	kill -9 $pid
	echo "still running 10 s after SIGINT" >>"$T/sig.err"
fi
wait $pid
st=$?
[ $st -eq 12 ] && st=0 || echo "status $st" >>"$T/sig.err"
check "kvm: stop by a signal (SIGINT): status 12" $st "$T/sig.err"

# --nested: the host KVM's VMX/SVM, or a clear reason why not.
trun nest0 -q --backend kvm "$GUESTS/virtcheck.elf"
trun nest1 --backend kvm --nested "$GUESTS/virtcheck.elf"
got=unclear
case $(rc nest1) in
3) has nest1 "nested VMX" && got=vmx ;;
5) has nest1 "nested SVM" && grep -q "EFER.SVME set" "$T/nest1.out" && got=svm ;;
2) has nest1 "--nested on the kvm backend: " && got=none ;;
esac
st=1
[ "$(rc nest0)" = 1 ] && [ $got != unclear ] && { [ -z "${KVM_EXPECT_NESTED:-}" ] || [ "$got" = "$KVM_EXPECT_NESTED" ]; } && st=0
check "kvm: --nested: $got$([ $got = none ] && sed -n 's/^tortuga: --nested on the kvm backend: / (/p' "$T/nest1.err" | sed 's/$/)/')" \
	$st "$T/nest1.err" "$T/nest1.out"

echo "1..$n"
