"""The cpuloop benchmark guest: it checks its own kernels, honours n=, and
computes the same checksum as the same C code run natively."""

import json
import os
import re
import subprocess

import pytest

CHECKSUM = re.compile(r"checksum (0x[0-9a-f]{16})")


def run(vm, guest, n):
    v = vm(max_insns=100_000_000)
    v.load(guest("cpuloop"), ["n=%d" % n])
    r = v.run()
    return r, v.serial


def test_cpuloop_checks_out(vm, guest):
    r, out = run(vm, guest, 2)
    assert r.stop_reason == "debug-exit" and r.exit_status == 1, out
    assert "cpuloop: 2 iterations" in out and "0 bad" in out and "cpuloop: ok" in out
    assert "crc check 0xcbf43926" in out  # CRC-32 check value of "123456789"


def test_iterations_scale_the_work(vm, guest):
    r2, _ = run(vm, guest, 2)
    r4, _ = run(vm, guest, 4)
    per_iter = r4.instructions - r2.instructions
    assert per_iter > 500_000
    # Setup outside the loop is small: 4 iterations cost about twice 2.
    assert abs(r4.instructions - 2 * r2.instructions) < per_iter * 0.1


def test_checksum_matches_native(vm, guest):
    native = os.environ.get("TORTUGA_CPULOOP_NATIVE")
    if not native or not os.path.exists(native):
        pytest.skip("bench/cpuloop-native not built (TORTUGA_CPULOOP_NATIVE)")
    _, out = run(vm, guest, 3)
    nat = json.loads(subprocess.run([native, "3"], capture_output=True, text=True, check=True).stdout)
    assert CHECKSUM.search(out).group(1) == nat["checksum"]
    assert nat["bad"] == 0
