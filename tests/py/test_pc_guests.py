"""The PC-platform guests (guests/pc): each checks, from inside the VM,
behaviour the Intel SDM specifies, and prints TAP-like lines ("ok N - ...",
"not ok N - ..."); the guest's exit value is its number of failures."""

import pytest

# guest name -> keyword arguments for the VM
GUESTS = {
    "exc32": {},
    "rings32": {},
    "tasks32": {},
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


@pytest.mark.parametrize("vcpus", [2, 4, 8])
def test_smp_bring_up_and_ipis(vm, guest, vcpus):
    """INIT/SIPI bring-up and IPIs on 2, 4 and 8 vCPUs."""
    v, r = run_guest(vm, guest, "smp", vcpus=vcpus)
    out = v.serial
    assert "# %d CPUs" % vcpus in out, out
    assert not [l for l in out.splitlines() if l.startswith("not ok")], out
    assert r.exit_status == 1, out


def test_smp_is_deterministic(vm, guest):
    """Two runs of the same SMP guest retire the same instructions, take the
    same exits and print the same bytes (the scheduler is deterministic)."""
    runs = []
    for _ in range(2):
        v, r = run_guest(vm, guest, "smp", vcpus=4)
        runs.append((r.instructions, r.exits, r.cycles, v.serial, v.exits_by_reason()))
    assert runs[0] == runs[1]


def test_smp_aps_wait_for_sipi(vm, guest):
    """Without the guest's INIT/SIPI the APs never run: a single-CPU guest on
    a 4-vCPU VM retires instructions on vCPU 0 only."""
    v, r = run_guest(vm, guest, "platform", vcpus=4)
    assert r.exit_status == 1
    for k in range(1, 4):
        assert v.reg("rip", vcpu=k) == 0xfff0   # still at the reset vector


def test_apic_with_host_clock(vm, guest):
    """With the host clock the TSC and the timers follow real time; the
    timer and PIT checks still hold (they only bound time from below)."""
    v, r = run_guest(vm, guest, "apic", clock="host")
    assert r.exit_status == 1, v.serial


def test_modelled_clock_is_deterministic(vm, guest):
    a = run_guest(vm, guest, "apic")
    b = run_guest(vm, guest, "apic")
    assert a[1].instructions == b[1].instructions and a[1].cycles == b[1].cycles
    assert a[0].serial == b[0].serial


def test_task_switches_are_exits(vm, guest):
    """Every task switch is a VM exit (SDM Vol. 3C 26.2) whose qualification
    holds the target TSS selector and the source (Table 28-2: 0 CALL,
    1 IRET, 2 JMP, 3 IDT task gate), in the order the guest switches."""
    v, r = run_guest(vm, guest, "tasks32")
    assert r.exit_status == 1, v.serial
    got = [(e.qual & 0xffff, e.qual >> 30) for e in v.trace()
           if e.kind_name == "exit" and e.reason_name == "TASK_SWITCH"]
    want = [(0x20, 2), (0x18, 2),          # JMP there and back
            (0x20, 0), (0x18, 1),          # CALL through a task gate, IRET
            (0x20, 3), (0x18, 1),          # INT through an IDT task gate, IRET
            (0x18, 0), (0x40, 2),          # CALL to a busy TSS, JMP to a short one (both fault)
            (0x30, 3), (0x18, 1),          # #GP task, IRET
            (0x28, 3), (0x18, 1)]          # #DF task, IRET
    assert got == want
