#!/usr/bin/env python3
"""Nested VMX benchmark: what one external interrupt for L1 costs while L2 runs.

guests/l1hv l2=timer: L1 programs its local APIC timer and runs an L2 that
spins without exits. Each tick is an L0 exit of L2 (L0's own timer
interrupt) that L0 turns into an EXTERNAL_INTERRUPT exit to L1; L1 handles
the tick (EOI) and resumes L2. Measured with and without "acknowledge
interrupt on exit" (without it, L1 takes the interrupt through its IDT:
one more L0 exit, the interrupt window), with VMCS shadowing off, and for
l2=inject (each tick also injected into L2 as a virtual interrupt, with
interrupt windows), against the single-level peer: L1 taking the same
ticks itself (baseline=1), measured in the same run; and l2=inject with
L2 waiting for its interrupts in HLT (hlt=1).

Per interrupt, as (x(n2) - x(n1)) / (n2 - n1) so that boot, set-up and the
final report cancel out: L0 exits (of L2 and of L1), L1's instructions,
and the modelled cycles of the exits (the cost model's cycles per exit).
Time is not reported: between ticks the guests spin, and the spinning, not
the exits, dominates any clock. Everything here is exact and the same in
every run.

Usage: nested_irq.py [--n1 N] [--n2 N] [--json FILE]
Run from a build tree (TORTUGA_LIB/TORTUGA_GUEST_L1HV or ./build).
"""

import argparse
import json
import pathlib
import sys

from l1hv_bench import l1hv_guest, tortuga


def guest():
    return l1hv_guest("nested_irq")


def run(n, args, nested=True, shadow=True):
    vm = tortuga.VM(mem="64M", nested=nested, shadow_vmcs=shadow, trace_ring_events=64, trace_overwrite=True)
    vm.load(guest(), ["n=%d" % n, *args])
    r = vm.run()
    if r.exit_status != 1:
        sys.exit("nested_irq: l1hv %s failed (status %d):\n%s" % (" ".join(args), r.exit_status, vm.serial))
    levels = [vm.level_stats(1)] + ([vm.level_stats(2)] if nested else [])
    out = {"exits": r.exits, "l1_exits": levels[0]["exits"],
           "l2_exits": levels[1]["exits"] if nested else 0,
           # Nested, L1 runs only its exit handlers; single-level, L1 also
           # spins between ticks, so its count says nothing per interrupt.
           "l1_instructions": levels[0]["instructions"] if nested else None,
           # The cost model's cycles of the exits: modelled cycles minus
           # one per instruction.
           "exit_cycles": sum(lv["cycles"] - lv["instructions"] for lv in levels)}
    vm.close()
    return out


def per_interrupt(n1, n2, args, **kw):
    a, b = run(n1, args, **kw), run(n2, args, **kw)
    return {k: None if a[k] is None else (b[k] - a[k]) / (n2 - n1) for k in a}


PEER = "single level (L1's own ticks)"
CONFIGS = [
    (PEER, ["l2=timer", "baseline=1"], dict(nested=False)),
    ("nested, ack on exit", ["l2=timer", "ack=1"], {}),
    ("nested, no ack on exit", ["l2=timer", "ack=0"], {}),
    ("nested, ack, shadow VMCS off", ["l2=timer", "ack=1"], dict(shadow=False)),
    ("nested, injected into L2", ["l2=inject"], {}),
    ("nested, injected, L2 in HLT", ["l2=inject", "hlt=1"], {}),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n1", type=int, default=500)
    ap.add_argument("--n2", type=int, default=900)
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    res = {name: per_interrupt(a.n1, a.n2, args, **kw) for name, args, kw in CONFIGS}
    peer = res[PEER]
    print("external interrupt for L1 (l1hv l2=timer|inject, APIC timer period 100000), per interrupt; n = %d..%d"
          % (a.n1, a.n2))
    print("%-30s %9s %7s %7s %9s %12s %10s" % ("configuration", "L0 exits", "of L2", "of L1", "L1 insns",
                                               "exit cycles", "vs peer"))
    for name, r in res.items():
        insns = "-" if r["l1_instructions"] is None else "%.1f" % r["l1_instructions"]
        print("%-30s %9.2f %7.2f %7.2f %9s %12.0f %9.2fx" % (
            name, r["exits"], r["l2_exits"], r["l1_exits"], insns, r["exit_cycles"],
            r["exit_cycles"] / peer["exit_cycles"]))
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
