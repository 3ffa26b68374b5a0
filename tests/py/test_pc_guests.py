"""The PC-platform guests (guests/pc): each checks, from inside the VM,
behaviour the Intel SDM specifies, and prints TAP-like lines ("ok N - ...",
"not ok N - ..."); the guest's exit value is its number of failures."""

import pytest

# guest name -> keyword arguments for the VM
GUESTS = {
    "exc32": {},
    "rings32": {},
    "modes": {},
    "rings64": {},
    "rings64-elf64": {},
    "apic": {},
}


def run_guest(vm, guest, name, args=None, **kw):
    kw.setdefault("boot", "multiboot")
    kw.setdefault("max_insns", 200_000_000)
    v = vm(**kw)
    v.load(guest(name), args or [])
    r = v.run()
    return v, r


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_pc_guest(vm, guest, name):
    v, r = run_guest(vm, guest, name, **GUESTS[name])
    out = v.serial
    failed = [l for l in out.splitlines() if l.startswith("not ok")]
    assert r.stop_reason == "debug-exit", out[-3000:] + "\n" + v.dump_state()
    assert not failed, "\n".join(failed) + "\n\n" + out[-3000:]
    assert r.exit_status == 1, out[-3000:]
    assert "# " in out and " 0 failed" in out


def test_platform_fw_cfg_and_pci(vm, guest):
    """fw_cfg reports the VM's configuration; PCI config space as the spec
    says (the guest checks what it can know itself)."""
    v, r = run_guest(vm, guest, "platform", ["x=1", "y=2"], mem="96M", vcpus=3)
    out = v.serial
    assert r.exit_status == 1, out
    assert "fw_cfg ram_size=%d" % (96 << 20) in out
    assert "fw_cfg nb_cpus=3" in out
    assert 'fw_cfg cmdline="x=1 y=2" (size 8)' in out
    assert "pci 00:00.0 id=0x29c08086" in out
