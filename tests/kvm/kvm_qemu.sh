#!/bin/bash
# Run tortuga's kvm-backend tests (or benchmarks) for real on a host without
# /dev/kvm: boot Debian's own kernel in QEMU with TCG and `-cpu max`, which
# emulates AMD SVM with nested paging, load kvm_amd there, and run the inner
# script against the /dev/kvm that appears. Results come back as TAP.
#
#   kvm_qemu.sh --build BUILD_DIR --inner SCRIPT [--data FILE]... [--emu-side] [--bench] [--keep]
#
#   --build   meson build directory (tortuga, libtortuga, guests, test_kvm_vm)
#   --inner   the POSIX sh script to run inside (tests/kvm/kvm_tests.sh, or
#             bench/kvm_bench.sh with --bench)
#   --data    a file the inner script reads, put next to it
#   --emu-side  run the inner script (kvm_tests.sh) on the host first with
#             KVM_EMU_ONLY, and give its results to the run inside as
#             KVM_EMU_CACHE: the emu half of every comparison is computed at
#             native speed
#   --bench   the inner script is a benchmark: its output is shown as TAP
#             comments and its status decides pass/fail
#
# How (each step cached under BUILD_DIR/kvm-qemu/):
#   1. qemu-system-x86_64: installed from Debian (qemu-system-x86) if missing
#      and we are root; the only reason to skip is that this fails.
#   2. the kernel: `apt-get download` of the package linux-image-amd64 depends
#      on, `dpkg-deb -x` (nothing is installed on the host), and the
#      uncompressed vmlinux from the bzImage's payload (Linux boot protocol
#      2.08+: payload_offset/payload_length at 0x248/0x24c of the setup
#      header), which QEMU boots through its PVH entry point in about half the
#      time of the bzImage.
#   3. an initramfs: busybox (static), tortuga and every shared library ldd
#      names, the guests, the test programs, and the modules irqbypass, ccp,
#      kvm, kvm-amd (Debian ships them uncompressed).
#   4. QEMU: the kernel console goes to a log file, the inner script's
#      output to a second serial port; a time limit ends a hung run.
set -uo pipefail

BUILD=
INNER=
DATA_FILES=()
BENCH=0
KEEP=0
EMU_SIDE=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--inner) INNER=$2; shift 2 ;;
	--data) DATA_FILES+=("$2"); shift 2 ;;
	--bench) BENCH=1; shift ;;
	--emu-side) EMU_SIDE=1; shift ;;
	--keep) KEEP=1; shift ;;
	*) echo "Bail out! kvm_qemu.sh: unknown argument $1"; exit 2 ;;
	esac
done
[[ -d $BUILD && -f $INNER ]] || { echo "Bail out! usage: kvm_qemu.sh --build DIR --inner SCRIPT"; exit 2; }
BUILD=$(cd "$BUILD" && pwd)
CACHE=$BUILD/kvm-qemu
mkdir -p "$CACHE"
MODULES=(virt/lib/irqbypass.ko drivers/crypto/ccp/ccp.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko)
QEMU_TIMEOUT=${KVM_QEMU_TIMEOUT:-900}
T0=$(date +%s.%N)

note() { echo "# kvm-qemu: $*"; }
bail() {
	echo "Bail out! kvm-qemu: $*"
	exit 1
}
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- 1. QEMU -------------------------------------------------------------------
if ! command -v qemu-system-x86_64 >/dev/null; then
	why="qemu-system-x86_64 is not installed and this is not root"
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		export DEBIAN_FRONTEND=noninteractive
		if out=$( { apt-get install -y -qq --no-install-recommends qemu-system-x86 ||
			{ apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-system-x86; }; } 2>&1); then
			why=
		else
			why="apt-get install qemu-system-x86 failed: $(tail -1 <<<"$out")"
		fi
	fi
	if ! command -v qemu-system-x86_64 >/dev/null; then
		echo "1..0 # SKIP QEMU cannot be installed: ${why:-qemu-system-x86_64 still missing}"
		exit 0
	fi
fi

# ---- 2. Debian's kernel ----------------------------------------------------------
# As root, apt would hand the download to its _apt user, which cannot write
# into the build directory.
apt_q() {
	if [[ $(id -u) -eq 0 ]]; then apt-get -q=2 -o APT::Sandbox::User=root "$@"; else apt-get -q=2 "$@"; fi
}
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1
}
PKG=$(kernel_package)
if [[ -z $PKG ]]; then
	apt_q update >/dev/null 2>&1
	PKG=$(kernel_package)
fi
[[ -n $PKG ]] || bail "apt-cache cannot resolve linux-image-amd64 (no Debian package lists?)"
KDIR=$CACHE/$PKG
if [[ ! -f $KDIR/ready ]]; then
	rm -rf "$KDIR"
	mkdir -p "$KDIR/deb"
	(cd "$KDIR/deb" && apt_q download "$PKG" >/dev/null 2>"$KDIR/download.log") ||
		bail "apt-get download $PKG failed: $(tail -1 "$KDIR/download.log")"
	dpkg-deb -x "$KDIR"/deb/*.deb "$KDIR/x" || bail "dpkg-deb -x failed on $(ls "$KDIR"/deb)"
	rm -rf "$KDIR/deb"
	BZ=$(ls "$KDIR"/x/boot/vmlinuz-* | head -1)
	# The setup header (Documentation/arch/x86/boot.rst): setup_sects at
	# 0x1f1, payload_offset/length at 0x248/0x24c, relative to the start of
	# the protected-mode code at (setup_sects + 1) * 512.
	/usr/bin/python3 - "$BZ" "$KDIR/vmlinux" <<-'PY' || cp "$BZ" "$KDIR/vmlinux"
		import bz2, gzip, lzma, struct, sys
		d = open(sys.argv[1], "rb").read()
		if d[0x202:0x206] != b"HdrS" or struct.unpack_from("<H", d, 0x206)[0] < 0x208:
		    sys.exit("not a bzImage with boot protocol 2.08+")
		pm = ((d[0x1f1] or 4) + 1) * 512
		off, ln = struct.unpack_from("<II", d, 0x248)
		p = d[pm + off:pm + off + ln]
		if p[:6] == b"\xfd7zXZ\x00":
		    out = lzma.LZMADecompressor().decompress(p)
		elif p[:2] == b"\x1f\x8b":
		    out = gzip.decompress(p)
		elif p[:3] == b"BZh":
		    out = bz2.decompress(p)
		else:
		    sys.exit("payload compression %r not handled: booting the bzImage" % p[:4])
		if out[:4] != b"\x7fELF":
		    sys.exit("payload is not an ELF image")
		open(sys.argv[2], "wb").write(out)
	PY
	touch "$KDIR/ready"
fi
KVER=$(ls "$KDIR/x/lib/modules" | head -1)
for m in "${MODULES[@]}"; do
	[[ -f $KDIR/x/lib/modules/$KVER/kernel/$m ]] || bail "$PKG has no uncompressed $m"
done

# ---- 3. the initramfs ------------------------------------------------------------
BUSYBOX=$(command -v busybox || true)
[[ -n $BUSYBOX ]] || bail "busybox is not installed (Debian package busybox-static)"
ROOT=$CACHE/root
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp,modules,tortuga/lib,tortuga/guests/pc}

# copy_with_libs FILE DEST: FILE to DEST, and the shared libraries it needs
# (system ones at their own path, the build's own in /tortuga/lib).
copy_with_libs() {
	install -m 0755 "$1" "$2"
	ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
		[[ -f $lib ]] || continue
		case $lib in
		"$BUILD"/*) dest=$ROOT/tortuga/lib/$(basename "$lib") ;;
		*) dest=$ROOT$lib ;;
		esac
		[[ -f $dest ]] && continue
		mkdir -p "$(dirname "$dest")"
		cp -L "$lib" "$dest"
	done
}
copy_with_libs "$BUSYBOX" "$ROOT/bin/busybox"
copy_with_libs "$BUILD/cli/tortuga" "$ROOT/tortuga/tortuga"
copy_with_libs "$BUILD/tests/kvm/test_kvm_vm" "$ROOT/tortuga/test_kvm_vm"
[[ -x $BUILD/tests/kvm/cpu_probe ]] && copy_with_libs "$BUILD/tests/kvm/cpu_probe" "$ROOT/tortuga/cpu_probe"
cp "$BUILD"/guests/*.elf "$ROOT/tortuga/guests/"
# The Multiboot PC-platform guests (guests/pc/), the 64-bit ones in both
# forms tortuga boots (NAME.elf: ELF32 carrying 64-bit code; NAME-elf64.elf).
cp "$BUILD"/guests/pc/*.elf "$ROOT/tortuga/guests/pc/"
cp "$INNER" "$ROOT/tortuga/inner.sh"
for f in "${DATA_FILES[@]}"; do
	cp "$f" "$ROOT/tortuga/" || bail "cannot copy $f"
done
# The emu half of the comparisons, run here on the host (the emu backend is
# deterministic; inside QEMU TCG it would run about 30 times slower).
EMU_CACHE=
if [[ $EMU_SIDE -eq 1 ]]; then
	mkdir -p "$ROOT/tortuga/emu"
	TORTUGA_CLI=$BUILD/cli/tortuga TORTUGA_GUESTS=$BUILD/guests TORTUGA_TEST_KVM_VM=$BUILD/tests/kvm/test_kvm_vm \
		KVM_EMU_ONLY=$ROOT/tortuga/emu KVM_TEST_DATA=$(dirname "${DATA_FILES[0]:-$INNER}") \
		sh "$INNER" >"$CACHE/emu-side.log" 2>&1 || bail "the emu side failed on the host: $(tail -1 "$CACHE/emu-side.log")"
	EMU_CACHE="KVM_EMU_CACHE=/tortuga/emu"
	note "emu side of the comparisons: $(ls "$ROOT/tortuga/emu" | grep -c '\.rc$') runs on the host, $(elapsed) s"
fi
for m in "${MODULES[@]}"; do
	cp "$KDIR/x/lib/modules/$KVER/kernel/$m" "$ROOT/modules/"
done

cat >"$ROOT/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin LD_LIBRARY_PATH=/tortuga/lib TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
# KVM's tracepoints (kvm:kvm_exit ...) and BTF, for eBPF recording
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
for m in irqbypass ccp kvm kvm-amd; do
	insmod /modules/\$m.ko || echo "kvm-qemu: insmod \$m failed" >&2
done
out=/dev/ttyS1
stty -F \$out raw -echo 2>/dev/null
{
	echo "# kvm-qemu: guest kernel \$(uname -r), \$(grep -c ^processor /proc/cpuinfo) vCPU(s), /dev/kvm \$(test -c /dev/kvm && echo present || echo missing), kvm_amd nested=\$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null || echo -)"
	TORTUGA_CLI=/tortuga/tortuga TORTUGA_GUESTS=/tortuga/guests TORTUGA_TEST_KVM_VM=/tortuga/test_kvm_vm \\
		TORTUGA_CPU_PROBE=/tortuga/cpu_probe \\
		KVM_STRICT=1 KVM_EXPECT_NESTED=svm KVM_ENV=qemu-tcg-svm $EMU_CACHE sh /tortuga/inner.sh
	echo "# kvm-qemu: inner status \$?"
	echo "KVM-QEMU-DONE"
} >\$out 2>&1
sync
poweroff -f
EOF
chmod +x "$ROOT/init"
INITRD=$CACHE/initramfs.cpio.gz
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1 >"$INITRD") || bail "cannot build the initramfs"
[[ $KEEP -eq 1 ]] || rm -rf "$ROOT"
note "kernel $PKG ($KVER), initramfs $(($(stat -c %s "$INITRD") / 1024)) KiB, ready after $(elapsed) s"

# ---- 4. boot -------------------------------------------------------------------
CONSOLE=$CACHE/console.log
RESULTS=$CACHE/results.txt
rm -f "$CONSOLE" "$RESULTS"
timeout "$QEMU_TIMEOUT" qemu-system-x86_64 \
	-accel tcg -cpu max -smp 1 -m 1024 \
	-nodefaults -display none -no-reboot \
	-kernel "$KDIR/vmlinux" -initrd "$INITRD" \
	-append "console=ttyS0 quiet panic=-1 oops=panic" \
	-serial "file:$CONSOLE" -serial "file:$RESULTS" </dev/null >"$CACHE/qemu.log" 2>&1
qst=$?
tr -d '\r' <"$RESULTS" 2>/dev/null >"$RESULTS.txt"
if ! grep -q '^KVM-QEMU-DONE$' "$RESULTS.txt"; then
	sed 's/^/# /' "$RESULTS.txt"
	[[ $qst -eq 124 ]] && why="QEMU still running after ${QEMU_TIMEOUT} s" || why="QEMU exited with status $qst"
	echo "# --- console (last 30 lines) ---"
	tail -30 "$CONSOLE" 2>/dev/null | tr -d '\r' | sed 's/^/# /'
	tail -5 "$CACHE/qemu.log" | sed 's/^/# qemu: /'
	bail "the inner run did not finish: $why"
fi
if [[ $BENCH -eq 1 ]]; then
	grep -v '^KVM-QEMU-DONE$' "$RESULTS.txt" | sed 's/^\([^#]\)/# \1/'
	st=$(sed -n 's/^# kvm-qemu: inner status //p' "$RESULTS.txt")
	[[ $st == 0 ]] && echo "ok 1 - benchmarks inside QEMU TCG" || echo "not ok 1 - benchmarks inside QEMU TCG (status $st)"
	echo "1..1"
else
	grep -v '^KVM-QEMU-DONE$' "$RESULTS.txt"
fi
note "wall time $(elapsed) s"
