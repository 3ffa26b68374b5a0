#!/usr/bin/env python3
"""Guest instructions per second on the cpuloop guest, and the slowdown
against the same kernels run natively (bench/cpuloop-native) in the same run.

    ./dev bench                      # build, then run this with defaults
    bench/cpuloop_bench.py --build build [--iterations N] [--repeat K] [--json FILE]

Reports, for the median of K runs: tortuga's MIPS (guest instructions
retired / wall time, as `tortuga run --stats` measures them), the native
wall time, and the ratio tortuga / native. The guest's and the native
checksums must agree (the kernels are the same C code), else this exits 1.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile


def run_tortuga(cli, guest, iterations):
    with tempfile.TemporaryDirectory() as tmp:
        stats = pathlib.Path(tmp) / "stats.json"
        p = subprocess.run([str(cli), "run", "-q", "--stats", str(stats), str(guest), "--",
                            "n=%d" % iterations], capture_output=True, text=True)
        if p.returncode != 1:  # debug-exit with value 0: (0 << 1) | 1
            sys.exit("cpuloop failed under tortuga (status %d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
        s = json.loads(stats.read_text())
    checksum = next(line.split("checksum ")[1].split(",")[0] for line in p.stdout.splitlines()
                    if "checksum" in line)
    return s["instructions"], s["wall_ns"], checksum


def run_native(native, iterations):
    p = subprocess.run([str(native), str(iterations)], capture_output=True, text=True)
    if p.returncode:
        sys.exit("cpuloop-native failed (status %d): %s" % (p.returncode, p.stderr))
    r = json.loads(p.stdout)
    return r["wall_ns"], r["checksum"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("TORTUGA_BUILD", "build"), type=pathlib.Path)
    ap.add_argument("--iterations", type=int, default=120, help="cpuloop n= (default 120)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, the median counts (default 3)")
    ap.add_argument("--json", type=pathlib.Path, help="also write the results here")
    a = ap.parse_args()

    cli = a.build / "cli" / "tortuga"
    guest = a.build / "guests" / "cpuloop.elf"
    native = a.build / "bench" / "cpuloop-native"
    for f in (cli, guest, native):
        if not f.exists():
            sys.exit("%s is missing: build first (./dev build)" % f)

    t_runs, n_runs = [], []
    for _ in range(a.repeat):
        t_runs.append(run_tortuga(cli, guest, a.iterations))
        n_runs.append(run_native(native, a.iterations))
    insns = t_runs[0][0]
    t_ns = statistics.median(r[1] for r in t_runs)
    n_ns = statistics.median(r[0] for r in n_runs)
    sums = {r[2] for r in t_runs} | {r[1] for r in n_runs}
    res = {
        "benchmark": "cpuloop",
        "iterations": a.iterations,
        "guest_instructions": insns,
        "tortuga_wall_ns": int(t_ns),
        "tortuga_mips": insns / t_ns * 1e3,
        "native_wall_ns": int(n_ns),
        "slowdown_vs_native": t_ns / n_ns,
        "checksums_agree": len(sums) == 1,
    }
    print("cpuloop, n=%d, median of %d runs" % (a.iterations, a.repeat))
    print("  guest instructions  %14d" % insns)
    print("  tortuga (emu)       %11.3f s   %8.1f MIPS" % (t_ns / 1e9, res["tortuga_mips"]))
    print("  native (same code)  %11.3f s" % (n_ns / 1e9))
    print("  slowdown vs native  %11.1f x" % res["slowdown_vs_native"])
    print("  checksums           %14s" % ("agree" if res["checksums_agree"] else "DIFFER: %s" % sorted(sums)))
    if a.json:
        a.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0 if res["checksums_agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
