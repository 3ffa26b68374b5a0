"""TAP results of tortuga's self-test guests (guests/lib/include/guest/tap.h).

    run = tortuga.tap.parse(vm.serial)
    for r in run.results:
        print(r.number, r.ok, r.name, r.detail)
    assert run.complete and not run.failed
"""

import re
from dataclasses import dataclass, field

_RESULT = re.compile(r"^(not )?ok (\d+) - (.*?)(?: # (.*))?$")
_PLAN = re.compile(r"^1\.\.(\d+)$")


@dataclass
class TapResult:
    number: int
    ok: bool
    name: str
    detail: str = ""

    @property
    def skipped(self):
        return self.detail.startswith("SKIP")

    @property
    def todo(self):
        """A known failure ("# TODO reason"): not counted as failed."""
        return self.detail.startswith("TODO")


@dataclass
class TapRun:
    results: list = field(default_factory=list)
    plan: int = None  # N of the "1..N" line, None if the guest never printed it
    bail: str = None  # the reason of a "Bail out!" line
    diagnostics: list = field(default_factory=list)

    @property
    def failed(self):
        return [r for r in self.results if not r.ok and not r.todo]

    @property
    def complete(self):
        """The plan was printed, matches the results, and numbers run 1..N."""
        return (self.bail is None and self.plan == len(self.results)
                and [r.number for r in self.results] == list(range(1, len(self.results) + 1)))


def parse(text):
    """Parse the serial output of a self-test guest."""
    run = TapRun()
    for line in text.splitlines():
        line = line.rstrip("\r")
        m = _RESULT.match(line)
        if m:
            run.results.append(TapResult(int(m.group(2)), m.group(1) is None, m.group(3),
                                         m.group(4) or ""))
        elif _PLAN.match(line):
            run.plan = int(_PLAN.match(line).group(1))
        elif line.startswith("Bail out!"):
            run.bail = line[len("Bail out!"):].strip()
        elif line.startswith("#"):
            run.diagnostics.append(line[1:].strip())
    return run
