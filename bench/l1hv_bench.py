"""What the nested-VMX benchmarks (nested_cpuid.py, nested_irq.py) share: the
tortuga harness from this source tree and the path of the l1hv guest."""

import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))
import tortuga  # noqa: E402,F401


def l1hv_guest(tool):
    """guests/l1hv.elf: $TORTUGA_GUEST_L1HV, else ./build's; exits with a
    one-line error naming `tool` when it is not built."""
    env = os.environ.get("TORTUGA_GUEST_L1HV")
    p = pathlib.Path(env) if env else HERE.parent / "build" / "guests" / "l1hv.elf"
    if not p.exists():
        sys.exit("%s: %s not found (build first: ./dev build)" % (tool, p))
    return p
