#!/usr/bin/env python3
"""Start-up: how long creating a VM and loading a guest takes (the issue's
"creating a VM and loading a guest takes milliseconds"), and a whole run of
a guest that exits at once, against QEMU TCG booting the same Multiboot
kernel (-kernel), measured in the same run (README "Performance").

  in-process   tortuga_vm_create + tortuga_vm_load_elf + destroy, through
               the Python harness, for a few configurations
  process      `tortuga run --backend emu` of the mbinfo guest vs
               `qemu-system-x86_64 -accel tcg -kernel` of the same file
               (skipped when QEMU is not installed)

    /usr/bin/python3 bench/startup_bench.py build [--runs 20]

Times are wall-clock medians of --runs runs; the two process peers
alternate run by run.
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

SRC = pathlib.Path(__file__).resolve().parents[1]


def in_process(build, runs):
    os.environ.setdefault("TORTUGA_LIB", str(build / "libtortuga.so"))
    sys.path.insert(0, str(SRC / "python"))
    import tortuga  # noqa: E402

    guests = build / "guests"
    cases = [
        ("direct, hello, 128 MiB, 1 vCPU", dict(mem="128M"), guests / "hello.elf"),
        ("multiboot, mbinfo, 128 MiB, 1 vCPU", dict(mem="128M", boot="multiboot"), guests / "pc" / "mbinfo.elf"),
        ("multiboot, smp, 1 GiB, 8 vCPUs", dict(mem="1G", boot="multiboot", vcpus=8), guests / "pc" / "smp.elf"),
        ("direct, hello, 16 GiB, 64 vCPUs", dict(mem="16G", vcpus=64), guests / "hello.elf"),
    ]
    print("in-process create + load + destroy (median of %d):" % runs)
    for name, kw, guest in cases:
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            v = tortuga.VM(**kw)
            v.load(guest)
            t1 = time.perf_counter_ns()
            v.close()
            ts.append(t1 - t0)
        print("  %-40s %8.3f ms" % (name, statistics.median(ts) / 1e6))


def wall(cmd, ok):
    t0 = time.perf_counter_ns()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t1 = time.perf_counter_ns()
    if p.returncode not in ok:
        sys.exit("%s: exit status %d" % (" ".join(map(str, cmd)), p.returncode))
    return t1 - t0


def processes(build, runs):
    guest = build / "guests" / "pc" / "mbinfo.elf"
    ours = [str(build / "cli" / "tortuga"), "run", "-q", "--backend", "emu", "--boot", "multiboot", str(guest)]
    qemu = shutil.which("qemu-system-x86_64")
    peer = None
    if qemu:
        peer = [qemu, "-accel", "tcg", "-kernel", str(guest), "-m", "128", "-display", "none", "-serial",
                "none", "-monitor", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-no-reboot"]
    t_ours, t_peer = [], []
    for _ in range(runs):
        t_ours.append(wall(ours, (1,)))
        if peer:
            t_peer.append(wall(peer, (1,)))
    mo = statistics.median(t_ours) / 1e6
    print("whole process, mbinfo (Multiboot kernel that exits at once), median of %d:" % runs)
    print("  tortuga run (emu)                        %8.3f ms" % mo)
    if peer:
        mp = statistics.median(t_peer) / 1e6
        print("  qemu-system-x86_64 -accel tcg -kernel    %8.3f ms" % mp)
        print("  ratio tortuga / QEMU                     %8.3f" % (mo / mp))
    else:
        print("  qemu-system-x86_64 not installed: no peer")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=pathlib.Path)
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    build = a.build.resolve()
    in_process(build, a.runs)
    processes(build, max(3, a.runs // 4))


if __name__ == "__main__":
    main()
