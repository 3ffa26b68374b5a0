"""The fpkernels guest: floating-point and vectorized integer C code compiled
with SSE at -O2 prints the same bits on tortuga's software CPU as the same
code run natively (tests/fpkernels-native), and passes its self-checks."""

import os
import re
import subprocess

import pytest

LINE = re.compile(r"^([a-z0-9_.]+) (0x[0-9a-f]{16})$")


def results(text):
    return [m.groups() for m in map(LINE.match, text.replace("\r", "").splitlines()) if m]


def test_fpkernels_match_native(vm, guest):
    native = os.environ.get("TORTUGA_FPKERNELS_NATIVE")
    if not native or not os.path.exists(native):
        pytest.skip("tests/fpkernels-native not built (TORTUGA_FPKERNELS_NATIVE)")
    v = vm(max_insns=50_000_000)
    v.load(guest("fpkernels"))
    r = v.run()
    assert r.stop_reason == "debug-exit" and r.exit_status == 1, v.serial
    assert "fpkernels: 0 bad" in v.serial
    nat = subprocess.run([native], capture_output=True, text=True, check=True).stdout
    want, got = results(nat), results(v.serial)
    assert len(want) > 40
    assert got == want


def test_fpkernels_under_the_nehalem_model(vm, guest):
    """The older model has FXSAVE and SSE2 but no XSAVE: plain SSE code runs."""
    v = vm(max_insns=50_000_000, cpu="nehalem")
    v.load(guest("fpkernels"))
    r = v.run()
    assert r.stop_reason == "debug-exit" and r.exit_status == 1, v.serial
