#!/usr/bin/env python3
"""tortuga's software CPU against QEMU TCG on the same Multiboot images, in
the same run, and the cpuloop kernels run natively (README "Performance").

    ./dev bench                      # build, then run this with defaults
    bench/cpuloop_bench.py --build build [--iterations N] [--busy-iterations N]
                           [--repeat K] [--no-qemu] [--json FILE]

Workloads, each one image that both emulators boot unchanged:
  cpuloop    guests/pc/cpuloop-mb.elf: integer kernels in C at -O2 (a sieve,
             a quicksort, CRC-32, a hash table), n=N iterations
  busyloop   guests/pc/busyloop-mb.elf: the tight add/xor/dec/jnz loop,
             4 instructions per iteration, n=N iterations

Method. Each emulator runs the image with n=N and with n=0; the CPU time
(user + system, getrusage of the child) of the whole process for n=0
(start-up, the boot path, the exit) is subtracted from the one for n=N, so
what is left is the time the n iterations took. CPU time rather than wall
time, because other jobs on a shared machine disturb it less; both peers are
single-threaded while they compute, so on an idle machine the two agree. The
guest instructions of those iterations are counted by tortuga (instructions
retired with n=N minus with n=0, `tortuga run --stats`); the program is
deterministic, so QEMU executes the same instructions and the two MIPS figures
share one numerator -- their ratio is the ratio of the times. (A REP string
instruction counts once per chunk of up to 4096 iterations in tortuga.) Both
print the same checksum, or this exits 1. Peak memory is the maximum resident
set size of the process (getrusage of the child) for the n=N run; both get
128 MiB of guest RAM. Timings are medians of K runs, the emulators alternating
run by run.

cpuloop also runs natively (bench/cpuloop-native, the same kernels built with
the guests' code generation flags), for the slowdown against the hardware.
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

CHECKSUM = re.compile(r"(?:cpuloop|busyloop): \d+ iterations, checksum (?:0x)?([0-9a-f]{16})")
MEM = "128M"


def run_child(cmd):
    """Run cmd; returns (exit status, output, CPU ns, peak RSS in KiB)."""
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:
            p.kill()
            raise
        out.seek(0)
        text = out.read().decode(errors="replace")
    return os.waitstatus_to_exitcode(status), text, int((ru.ru_utime + ru.ru_stime) * 1e9), ru.ru_maxrss


def checksum_of(text, who):
    m = CHECKSUM.search(text)
    if not m:
        sys.exit("%s printed no checksum:\n%s" % (who, text[-2000:]))
    return m.group(1)


class Tortuga:
    name = "tortuga (emu)"

    def __init__(self, cli):
        self.cli = cli

    def run(self, image, n):
        with tempfile.TemporaryDirectory() as tmp:
            stats = pathlib.Path(tmp) / "stats.json"
            cmd = [str(self.cli), "run", "--backend", "emu", "--boot", "multiboot", "--mem", MEM, "-q",
                   "--stats", str(stats), str(image), "--", "n=%d" % n]
            st, out, ns, rss = run_child(cmd)
            if st != 1:  # debug-exit with value 0: (0 << 1) | 1
                sys.exit("%s failed under tortuga (status %d):\n%s" % (image.name, st, out[-2000:]))
            insns = json.loads(stats.read_text())["instructions"]
        return dict(ns=ns, rss=rss, insns=insns, sum=checksum_of(out, "tortuga"))


class Qemu:
    name = "QEMU TCG"

    def __init__(self, exe):
        self.exe = exe

    def run(self, image, n):
        cmd = [self.exe, "-accel", "tcg", "-kernel", str(image), "-append", "n=%d" % n, "-m", MEM,
               "-nodefaults", "-display", "none", "-monitor", "none", "-serial", "stdio",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-no-reboot"]
        st, out, ns, rss = run_child(cmd)
        if st != 1:
            sys.exit("%s failed under QEMU (status %d):\n%s" % (image.name, st, out[-2000:]))
        return dict(ns=ns, rss=rss, sum=checksum_of(out, "QEMU"))


def measure(peers, image, n, repeat):
    """Per peer: median CPU ns of n=N and of n=0 runs, peak RSS, checksums."""
    res = {p.name: dict(full=[], zero=[], rss=0, sums=set()) for p in peers}
    insns = None
    for _ in range(repeat):
        for p in peers:
            r = res[p.name]
            full, zero = p.run(image, n), p.run(image, 0)
            r["full"].append(full["ns"])
            r["zero"].append(zero["ns"])
            r["rss"] = max(r["rss"], full["rss"])
            r["sums"].add(full["sum"])
            if "insns" in full:
                insns = full["insns"] - zero["insns"]
    out = {}
    for name, r in res.items():
        ns = statistics.median(r["full"]) - statistics.median(r["zero"])
        out[name] = dict(cpu_ns=int(ns), startup_ns=int(statistics.median(r["zero"])),
                         peak_rss_kib=r["rss"], checksums=sorted(r["sums"]))
    for o in out.values():
        o["mips"] = insns / o["cpu_ns"] * 1e3 if o["cpu_ns"] > 0 else float("nan")
    return insns, out


def run_native(native, iterations):
    p = subprocess.run([str(native), str(iterations)], capture_output=True, text=True)
    if p.returncode:
        sys.exit("cpuloop-native failed (status %d): %s" % (p.returncode, p.stderr))
    r = json.loads(p.stdout)
    return r["wall_ns"], r["checksum"][2:]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("TORTUGA_BUILD", "build"), type=pathlib.Path)
    ap.add_argument("--iterations", type=int, default=400, help="cpuloop n= (default 400)")
    ap.add_argument("--busy-iterations", type=int, default=500_000_000, help="busyloop n= (default 5e8)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, the median counts (default 3)")
    ap.add_argument("--no-qemu", action="store_true", help="tortuga (and native) only")
    ap.add_argument("--json", type=pathlib.Path, help="also write the results here")
    a = ap.parse_args()

    cli = a.build / "cli" / "tortuga"
    images = {"cpuloop": a.build / "guests" / "pc" / "cpuloop-mb.elf",
              "busyloop": a.build / "guests" / "pc" / "busyloop-mb.elf"}
    native = a.build / "bench" / "cpuloop-native"
    for f in [cli, native] + list(images.values()):
        if not f.exists():
            sys.exit("%s is missing: build first (./dev build)" % f)
    peers = [Tortuga(cli)]
    qemu = None if a.no_qemu else shutil.which("qemu-system-x86_64")
    if qemu:
        peers.append(Qemu(qemu))
    elif not a.no_qemu:
        print("qemu-system-x86_64 is not installed (Debian package qemu-system-x86): no QEMU peer")

    results = {}
    ok = True
    for wl, n in (("cpuloop", a.iterations), ("busyloop", a.busy_iterations)):
        insns, out = measure(peers, images[wl], n, a.repeat)
        sums = set().union(*(o["checksums"] for o in out.values()))
        entry = dict(iterations=n, guest_instructions=insns, peers=out)
        print("%s, n=%d: %d guest instructions, median of %d runs" % (wl, n, insns, a.repeat))
        print("  %-16s %10s %10s %12s %14s" % ("", "CPU time", "MIPS", "start-up", "peak memory"))
        for name, o in out.items():
            print("  %-16s %8.3f s %10.1f %9.1f ms %10.1f MiB" % (name, o["cpu_ns"] / 1e9, o["mips"],
                                                                o["startup_ns"] / 1e6, o["peak_rss_kib"] / 1024))
        if qemu:
            t, q = out[peers[0].name], out[peers[1].name]
            entry["ratio_vs_qemu"] = t["mips"] / q["mips"]
            print("  tortuga / QEMU   %10.3f x (guest instructions per second)" % entry["ratio_vs_qemu"])
            print("  peak memory      %10.2f x (tortuga / QEMU)" % (t["peak_rss_kib"] / q["peak_rss_kib"]))
        if wl == "cpuloop":
            runs = [run_native(native, n) for _ in range(a.repeat)]
            n_ns = statistics.median(r[0] for r in runs)
            sums |= {r[1] for r in runs}
            entry["native_wall_ns"] = int(n_ns)
            entry["slowdown_vs_native"] = out[peers[0].name]["cpu_ns"] / n_ns
            print("  native (same C)  %8.3f s   tortuga is %.1fx slower" % (n_ns / 1e9, entry["slowdown_vs_native"]))
        entry["checksums_agree"] = len(sums) == 1
        print("  checksums        %10s" % ("agree" if len(sums) == 1 else "DIFFER: %s" % sorted(sums)))
        ok &= len(sums) == 1
        results[wl] = entry
    if a.json:
        a.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
