"""CPU models (--cpu): CPUID reports exactly the model's features, and the
CPU follows CPUID (CR4 bits and x2APIC are #GP when not advertised)."""

import re

import pytest

import tortuga

from test_pc_guests import run_guest


def cpuid_dump(vm, guest, cpu=""):
    v, r = run_guest(vm, guest, "cpuid", cpu=cpu)
    assert r.exit_status == 1, v.serial
    leaves = {}
    for l, s, a, b, c, d in re.findall(r"cpuid ([0-9a-f]{8})\.(\d): (\w{8}) (\w{8}) (\w{8}) (\w{8})", v.serial):
        leaves[int(l, 16)] = [int(x, 16) for x in (a, b, c, d)]
    return v.serial, leaves


def bit(leaves, leaf, reg, b):
    return (leaves[leaf][reg] >> b) & 1


def test_default_model(vm, guest):
    out, leaves = cpuid_dump(vm, guest)
    assert "vendor=GenuineIntel" in out
    # Family 6, model 0x55, stepping 4 (SDM Vol. 2A Figure 3-6 encoding).
    assert leaves[1][0] == 0x00050654
    for reg, b in ((3, 9), (2, 21), (2, 24)):  # APIC, x2APIC, TSC-deadline
        assert bit(leaves, 1, reg, b)
    assert bit(leaves, 7, 1, 7) and bit(leaves, 7, 1, 20) and bit(leaves, 7, 2, 2)  # SMEP, SMAP, UMIP
    assert bit(leaves, 0x80000001, 3, 11) and bit(leaves, 0x80000001, 3, 29)  # SYSCALL, LM


def test_nehalem_model(vm, guest):
    out, leaves = cpuid_dump(vm, guest, "nehalem")
    assert leaves[1][0] == 0x000106a5  # family 6, model 0x1a, stepping 5
    assert not bit(leaves, 1, 2, 21) and not bit(leaves, 1, 2, 17)  # no x2APIC, no PCID
    assert not bit(leaves, 7, 1, 7) and not bit(leaves, 7, 1, 20) and not bit(leaves, 7, 2, 2)
    assert 'brand="tortuga virtual x86-64 CPU (Nehalem features)"' in out


def test_model_feature_edits(vm, guest):
    _, leaves = cpuid_dump(vm, guest, "nehalem,+x2apic,-rdtscp")
    assert bit(leaves, 1, 2, 21)
    assert not bit(leaves, 0x80000001, 3, 27)


@pytest.mark.parametrize("name", ["apic", "rings64"])
def test_guests_adapt_to_nehalem(vm, guest, name):
    v, r = run_guest(vm, guest, name, cpu="nehalem")
    assert r.exit_status == 1, v.serial
    # "skipped" (apic) or TAP "# SKIP" lines that keep the numbering (rings64)
    assert "skipped" in v.serial or " # SKIP" in v.serial


def test_model_errors(vm):
    with pytest.raises(tortuga.TortugaError, match="unknown CPU model"):
        vm(cpu="pentium")
    with pytest.raises(tortuga.TortugaError, match="only implemented ones can be added"):
        vm(cpu="tortuga,+mca")
