#!/usr/bin/env python3
"""Nested VMX benchmark: the cost of one L2 CPUID exit round trip.

guests/l1hv runs an L2 that executes CPUID in a loop; every CPUID exits to L0,
is reflected to L1, which emulates it (3 VMREADs, 1 VMWRITE) and resumes L2.
Measured, for VMCS shadowing on and off (tortuga's L0 policy) and for the
single-level peer (L1 executing the same CPUIDs itself):

  - L0 exits per L2 exit, from tortuga's per-level counters;
  - time per round trip: (t(n2) - t(n1)) / (n2 - n1), best of several runs,
    so that boot and setup cancel out; as wall time (tortuga's own clock
    around the run) and as the CPU time of the running thread, which stays
    meaningful on a loaded machine;
  - modelled cycles per round trip (the cost model: cycles per exit by reason
    plus one per instruction);
  - ratios against the peer measured in the same run (no absolute targets).

Usage: nested_cpuid.py [--n1 N] [--n2 N] [--repeat R] [--json FILE]
Run from a build tree (TORTUGA_LIB/TORTUGA_GUEST_L1HV or ./build).
"""

import argparse
import json
import pathlib
import sys
import time

from l1hv_bench import l1hv_guest, tortuga


def guest():
    return l1hv_guest("nested_cpuid")


def run(n, nested, shadow=True, extra=()):
    vm = tortuga.VM(mem="64M", nested=nested, shadow_vmcs=shadow, trace_ring_events=64,
                    trace_overwrite=True)
    args = ["l2=cpuid", "n=%d" % n, *extra]
    if not nested:
        args.append("baseline=1")
    vm.load(guest(), args)
    t0 = time.thread_time_ns()
    r = vm.run()
    cpu_ns = time.thread_time_ns() - t0
    if r.exit_status != 1:
        sys.exit("nested_cpuid: l1hv failed (status %d):\n%s" % (r.exit_status, vm.serial))
    out = {"wall_ns": r.wall_ns, "cpu_ns": cpu_ns, "cycles": r.cycles, "exits": r.exits}
    if nested:
        out["l0_exits_per_l2_exit"] = vm.l0_exits_per_l2_exit()
        out["l2_exits"] = vm.level_stats(2)["exits"]
    vm.close()
    return out


def per_round_trip(n1, n2, repeat, **kw):
    """Best-of-repeat differences between n2 and n1 iterations."""
    best = None
    for _ in range(repeat):
        a, b = run(n1, **kw), run(n2, **kw)
        wall = (b["wall_ns"] - a["wall_ns"]) / (n2 - n1)
        cpu = (b["cpu_ns"] - a["cpu_ns"]) / (n2 - n1)
        if best is None or cpu < best["cpu_ns"]:
            best = {"wall_ns": wall, "cpu_ns": cpu,
                    "cycles": (b["cycles"] - a["cycles"]) / (n2 - n1),
                    "l0_exits": (b["exits"] - a["exits"]) / (n2 - n1)}
            if "l0_exits_per_l2_exit" in b:
                best["l0_exits_per_l2_exit_run"] = b["l0_exits_per_l2_exit"]
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n1", type=int, default=2000)
    ap.add_argument("--n2", type=int, default=22000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    configs = [
        ("single level (L1 CPUID)", dict(nested=False)),
        ("nested, shadow VMCS on", dict(nested=True, shadow=True)),
        ("nested, shadow VMCS off", dict(nested=True, shadow=False)),
        ("nested, shadow on, no VPID", dict(nested=True, shadow=True, extra=("vpid=0",))),
    ]
    res = {name: per_round_trip(a.n1, a.n2, a.repeat, **kw) for name, kw in configs}
    peer = res["single level (L1 CPUID)"]
    print("L2 CPUID exit round trip (l1hv l2=cpuid), per iteration, best of %d; n = %d..%d"
          % (a.repeat, a.n1, a.n2))
    print("%-28s %9s %9s %9s %10s %9s" % ("configuration", "L0 exits", "wall ns", "CPU ns", "model cyc",
                                          "CPU/peer"))
    for name, r in res.items():
        print("%-28s %9.2f %9.0f %9.0f %10.0f %8.2fx" % (name, r["l0_exits"], r["wall_ns"], r["cpu_ns"],
                                                     r["cycles"], r["cpu_ns"] / peer["cpu_ns"]))
    on, off = res["nested, shadow VMCS on"], res["nested, shadow VMCS off"]
    print("shadow VMCS: %.2fx fewer L0 exits per L2 exit; %.2fx the CPU time, %.2fx the modelled cycles"
          % (off["l0_exits"] / on["l0_exits"], on["cpu_ns"] / off["cpu_ns"], on["cycles"] / off["cycles"]))
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
