#!/usr/bin/env python3
"""Example experiment: how a guest's exits change across a policy matrix.

Runs each guest under every policy of the matrix below with its trace in a
file, prints the exits by reason with their mean handling time (from the
same report `tortuga trace report` prints), and draws the standard plots of
each run: exit-reason histogram, handling-time CDF per reason, exits per
level over time.

    PYTHONPATH=python /usr/bin/python3 python/examples/exit_study.py \\
        --out study/ build/guests/hello.elf

The matrix here varies the guest's command line (hello prints it, and every
byte it prints is an I/O exit); add exit-policy settings as axes as tortuga
gains them, e.g. policy_matrix(vmcs_shadowing=[False, True], ...).
"""

import argparse
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import tortuga  # noqa: E402
from tortuga import plots  # noqa: E402
from tortuga.experiment import policy_matrix, run_matrix  # noqa: E402

MATRIX = policy_matrix(args=[["exit=0"], ["exit=0", "x" * 100], ["exit=0", "x" * 400]],
                       mem=["64M"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("guests", nargs="*", default=[str(HERE.parents[1] / "build" / "guests" / "hello.elf")])
    ap.add_argument("--out", default="exit-study")
    a = ap.parse_args()
    for guest in a.guests:
        name = pathlib.Path(guest).stem
        outdir = os.path.join(a.out, name)
        runs = run_matrix(guest, MATRIX, outdir, max_insns=100_000_000)
        print("%s:" % name)
        for r in runs:
            src = r.report["sources"][0]
            print("  %-28s %-10s %8d exits" % (r.policy.name, r.result.stop_reason, r.result.exits))
            for lvl in src["exits_by_level"]:
                for row in lvl["reasons"]:
                    print("      L%d %-24s %8d  mean %8.1f ns  %8.1f cycles"
                          % (lvl["level"], row["name"], row["count"], row["avg_ns"] or 0,
                             row["avg_cycles"] or 0))
            events = tortuga.read_events(r.trace)
            base = os.path.join(outdir, r.policy.name)
            plots.exit_reason_histogram(events, base + "-reasons.png", title="%s %s" % (name, r.policy.name))
            plots.latency_cdf(events, base + "-cdf.png")
            plots.exits_over_time(events, base + "-time.png")
        print("  traces and plots in %s" % outdir)


if __name__ == "__main__":
    main()
