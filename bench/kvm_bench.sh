#!/bin/sh
# Backends compared in the same environment: the exit round trip (the ioloop
# guest: port writes, each an exit to L0 and back) and the speed of a tight
# loop with no exits (busyloop: add/xor/dec/jnz), on emu and on kvm. POSIX
# sh: runs on a host with /dev/kvm (meson benchmark kvm-host) and inside QEMU
# TCG through tests/kvm/kvm_qemu.sh --bench (meson benchmark kvm-qemu).
#
# Each figure is a difference of two runs (n=N minus n=0), so VM creation,
# boot and the guest's serial output drop out; the best of KVM_BENCH_REPS
# runs counts. The loop's N grows tenfold from 100000 until the difference
# is at least KVM_BENCH_MIN_MS, as the backends differ by orders of
# magnitude. Ratios are kvm / emu: for cost, below 1 means kvm is cheaper.
#
# Environment: TORTUGA_CLI, TORTUGA_GUESTS; KVM_BENCH_IO_N (20000),
# KVM_BENCH_MIN_MS (500), KVM_BENCH_REPS (3).
set -u
CLI=${TORTUGA_CLI:?set TORTUGA_CLI}
GUESTS=${TORTUGA_GUESTS:?set TORTUGA_GUESTS}
IO_N=${KVM_BENCH_IO_N:-20000}
MIN_NS=$((${KVM_BENCH_MIN_MS:-500} * 1000000))
REPS=${KVM_BENCH_REPS:-3}
T=$(mktemp -d "${TMPDIR:-/tmp}/tortuga-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT

# field FILE KEY: a number from the --stats JSON
field() { sed -n "s/^ *\"$2\": \\([0-9.]*\\),*$/\\1/p" "$1" | head -1; }
io_exits() { grep '"IO_INSTRUCTION"' "$1" | tr -dc 0-9; }

# best BACKEND GUEST N: "wall_ns io_exits" of the fastest of REPS runs
best() {
	b=
	r=0
	while [ $r -lt "$REPS" ]; do
		timeout 600 "$CLI" run -q --backend "$1" --stats "$T/s.json" "$GUESTS/$2.elf" -- "n=$3" >/dev/null 2>"$T/err" ||
			[ $? -eq 1 ] || { echo "bench: $1 $2 n=$3 failed: $(cat "$T/err")" >&2; exit 1; }
		w=$(field "$T/s.json" wall_ns)
		if [ -z "$b" ] || [ "$w" -lt "${b% *}" ]; then b="$w $(io_exits "$T/s.json")"; fi
		r=$((r + 1))
	done
	echo "$b"
}

"$CLI" run -q --backend kvm "$GUESTS/hello.elf" >/dev/null 2>"$T/err"
if [ $? -ne 1 ]; then
	echo "bench: the kvm backend cannot run here: $(sed 's/^tortuga: //' "$T/err")" >&2
	exit 77
fi

for b in emu kvm; do
	set -- $(best $b ioloop 0)
	io0=$1 ex0=$2
	set -- $(best $b ioloop "$IO_N")
	io1=$1 ex1=$2
	set -- $(best $b busyloop 0)
	lp0=$1
	ln=100000
	while :; do
		set -- $(best $b busyloop $ln)
		lp1=$1
		[ $((lp1 - lp0)) -ge $MIN_NS ] || [ $ln -ge 10000000000 ] && break
		ln=$((ln * 10))
	done
	awk -v b=$b -v t0="$io0" -v t1="$io1" -v e0="$ex0" -v e1="$ex1" -v l0="$lp0" -v l1="$lp1" -v n="$ln" 'BEGIN {
		printf "%s %.1f %.1f %d %d\n", b, (t1 - t0) / (e1 - e0), 4 * n * 1000 / (l1 - l0), e1 - e0, n
	}' >"$T/$b"
done
read -r _ emu_exit emu_mips exits emu_n <"$T/emu"
read -r _ kvm_exit kvm_mips _ kvm_n <"$T/kvm"
awk -v ae="$emu_exit" -v be="$kvm_exit" -v n="$exits" -v am="$emu_mips" -v bm="$kvm_mips" -v le="$emu_n" -v lk="$kvm_n" 'BEGIN {
	printf "%-40s %10s %10s %8s\n", "benchmark", "emu", "kvm", "kvm/emu"
	printf "%-40s %10.1f %10.1f %8.2f\n", sprintf("exit round trip, ns (%d I/O exits)", n), ae, be, be / ae
	printf "%-40s %10.1f %10.1f %8.2f\n", "busyloop, MIPS", am, bm, bm / am
	printf "(busyloop: %.1fM instructions on emu, %.1fM on kvm)\n", 4 * le / 1e6, 4 * lk / 1e6
}'
