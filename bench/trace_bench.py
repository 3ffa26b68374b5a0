#!/usr/bin/env python3
"""What tracing costs a guest workload, as ratios against peers measured in
the same run (README "Performance"):

  disabled probes  ioloop and cpuloop in this build (USDT probes compiled
                   in, nobody attached) vs a build with -Dusdt=false
  in-process ring  ioloop with --trace FILE vs without (the ring always
                   records; this adds the file)
  USDT + eBPF      ioloop with --trace-bpf FILE vs without (needs root)

ioloop makes n I/O exits (2 trace events each); cpuloop computes with no
exits. Both run on the emu backend.

    /usr/bin/python3 bench/trace_bench.py build [--runs 5]

The probe-less build is made in BUILD-nousdt (meson -Dusdt=false) if absent.
Time is the CPU time (user + system) of the whole `tortuga run` process,
median of --runs runs, the two configurations alternating run by run so
that drift on a shared machine hits both alike. (For the eBPF path this
leaves out the kernel's work in the uprobe handler of other CPUs: none, the
handler runs on the traced thread and is counted as its system time.)
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

SRC = pathlib.Path(__file__).resolve().parents[1]


def build_nousdt(build):
    other = pathlib.Path(str(build).rstrip("/") + "-nousdt")
    if not (other / "build.ninja").exists():
        subprocess.run(["meson", "setup", str(other), str(SRC), "-Dusdt=false", "-Dbpf=disabled",
                        "--buildtype=" + buildtype(build)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", str(other), "cli/tortuga"], check=True, stdout=subprocess.DEVNULL)
    return other


def buildtype(build):
    info = subprocess.run(["meson", "introspect", "--buildoptions", str(build)], capture_output=True,
                          text=True, check=True)
    return next(o["value"] for o in json.loads(info.stdout) if o["name"] == "buildtype")


def run(cli, guest, n, extra, tmp):
    """CPU time (user + system) of one run, in ns, and its trace events."""
    stats = os.path.join(tmp, "stats.json")
    p = subprocess.Popen([str(cli), "run", "-q", "--backend", "emu", "--stats", stats, *extra, str(guest),
                          "--", "n=%d" % n],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 1:
        sys.exit("%s %s failed (%d)" % (cli, guest, p.returncode))
    s = json.load(open(stats))
    return (ru.ru_utime + ru.ru_stime) * 1e9, s["trace_events"]


def compare(label, a, b, runs):
    """Median wall ns of two alternating configurations (cli, guest, n, extra)."""
    ta, tb, events = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            wa, events = run(*a, tmp)
            ta.append(wa)
            wb, _ = run(*b, tmp)
            tb.append(wb)
    ma, mb = statistics.median(ta), statistics.median(tb)
    na, nb = min(ta), min(tb)
    per = "%+7.1f (%+7.1f) ns/event, %d events" % ((na - nb) / events, (ma - mb) / events, events) \
        if events > 10000 else "%d events" % events
    print("%-36s %8.1f (%8.1f) %8.1f (%8.1f)  %.3f (%.3f)  %s"
          % (label, na / 1e6, ma / 1e6, nb / 1e6, mb / 1e6, na / nb, ma / mb, per))
    return ma, mb, events


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=str(SRC / "build"))
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--exits", type=int, default=200000)
    ap.add_argument("--loops", type=int, default=10, help="cpuloop iterations (~2.2M instructions each)")
    a = ap.parse_args()
    build = pathlib.Path(a.build).resolve()
    cli, plain = build / "cli" / "tortuga", build_nousdt(build) / "cli" / "tortuga"
    ioloop, cpuloop = build / "guests" / "ioloop.elf", build / "guests" / "cpuloop.elf"
    print("CPU ms, min (median) of %d runs" % a.runs)
    print("%-36s %19s %19s  %13s" % ("workload: A vs B", "A", "B", "ratio A/B"))
    compare("ioloop: probes in vs compiled out", (cli, ioloop, a.exits, []),
            (plain, ioloop, a.exits, []), a.runs)
    compare("cpuloop: probes in vs compiled out", (cli, cpuloop, a.loops, []),
            (plain, cpuloop, a.loops, []), a.runs)
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "t.bin")
        compare("ioloop: --trace FILE vs none", (cli, ioloop, a.exits, ["--trace", f]),
                (cli, ioloop, a.exits, []), a.runs)
        if os.geteuid() == 0:
            compare("ioloop: --trace-bpf FILE vs none", (cli, ioloop, a.exits // 10, ["--trace-bpf", f]),
                    (cli, ioloop, a.exits // 10, []), a.runs)
        else:
            print("ioloop: --trace-bpf: skipped (needs root)")


if __name__ == "__main__":
    main()
