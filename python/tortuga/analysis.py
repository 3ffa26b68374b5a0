"""Trace analysis in Python: exits paired with their entries, per reason and
level. The numbers follow the definitions of `tortuga trace report`
(tracing/report.h); for the full report call report() (the C one, as JSON).
"""

import collections
import json
import os
import tempfile

from ._lib import lib

EXIT, ENTRY = 0, 1  # include/tortuga/event_kinds.def


class Exit:
    """An exit and the entry that ended it (None if it never got one)."""

    __slots__ = ("event", "entry")

    def __init__(self, event, entry):
        self.event, self.entry = event, entry

    @property
    def level(self):
        return self.event.level

    @property
    def reason(self):
        return self.event.reason_name

    @property
    def ns(self):
        return None if self.entry is None else self.entry.ts_ns - self.event.ts_ns

    @property
    def cycles(self):
        return None if self.entry is None else self.entry.cycles - self.event.cycles


def exits(events):
    """Every EXIT with its ENTRY (the entry naming it as parent)."""
    entry_of = {}
    for e in events:
        if e.kind == ENTRY and e.parent not in entry_of:
            entry_of[e.parent] = e
    return [Exit(e, entry_of.get(e.seq)) for e in events if e.kind == EXIT]


def handling_times(events, clock="ns"):
    """{(level, reason name): [handling time, ...]} for exits that ended;
    clock "ns" (host time) or "cycles" (modelled)."""
    out = collections.defaultdict(list)
    for x in exits(events):
        t = x.ns if clock == "ns" else x.cycles
        if t is not None:
            out[(x.level, x.reason)].append(t)
    return dict(out)


def exit_counts(events):
    """{(level, reason name): count}."""
    return dict(collections.Counter((e.level, e.reason_name) for e in events if e.kind == EXIT))


def report(path):
    """The report of `tortuga trace report --json` for a trace file, as a dict."""
    fd, out = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        if lib.tortuga_trace_report(os.fsencode(path), os.fsencode(out), 1):
            raise ValueError(lib.tortuga_trace_error().decode())
        with open(out) as f:
            return json.load(f)
    finally:
        os.unlink(out)
