"""VM(backend=...) through the ctypes harness (README "Python harness",
"Backends"). The cases without KVM run everywhere, with $TORTUGA_KVM_DEVICE
pointing at a node that does not exist; the cases on KVM skip, with the
probe's reason, where this host has no usable /dev/kvm (CI)."""

import pytest

import tortuga
from conftest import guest_path

NO_DEVICE = "/nonexistent/tortuga-test-kvm"


@pytest.fixture
def no_kvm(monkeypatch):
    monkeypatch.setenv("TORTUGA_KVM_DEVICE", NO_DEVICE)


def kvm_or_skip():
    probe = tortuga.probe_backend("kvm")
    if not probe.available:
        pytest.skip("kvm backend unavailable: " + probe.message)


def run_guest(backend, name, args=None):
    with tortuga.VM(mem="64M", backend=backend) as vm:
        vm.load(guest_path(name), args)
        res = vm.run()
        return vm.backend, res, vm.serial, vm.exits_by_reason(), vm.trace()


def test_unknown_backend_is_a_value_error():
    with pytest.raises(ValueError, match="unknown backend 'bogus'.*emu, kvm, auto"):
        tortuga.VM(backend="bogus")
    with pytest.raises(ValueError):
        tortuga.probe_backend("bogus")


def test_default_backend_is_emu(vm):
    v = vm()
    assert v.backend == "emu"
    assert v.backend_note == ""


def test_emu_is_always_available():
    assert tortuga.probe_backend("emu") == tortuga.BackendProbe(True, "")


def test_kvm_probe_without_a_device(no_kvm):
    probe = tortuga.probe_backend("kvm")
    assert not probe.available
    assert NO_DEVICE in probe.message and "does not exist" in probe.message
    assert "\n" not in probe.message


def test_kvm_without_a_device_is_a_one_line_error(no_kvm):
    with pytest.raises(tortuga.TortugaError) as e:
        tortuga.VM(mem="64M", backend="kvm")
    assert NO_DEVICE in str(e.value) and "\n" not in str(e.value)


def test_auto_without_a_device_falls_back_to_emu(no_kvm):
    assert tortuga.probe_backend("auto").available
    backend, res, serial, _, _ = run_guest("auto", "hello", ["exit=3"])
    assert backend == "emu"
    assert res.exit_status == 7 and "Hello from a tortuga guest" in serial
    with tortuga.VM(mem="64M", backend="auto") as v:
        assert "does not exist" in v.backend_note and "emu" in v.backend_note


def test_kvm_runs_hello_like_emu():
    kvm_or_skip()
    args = ["exit=5", "two", "words"]
    kb, kres, kserial, kexits, _ = run_guest("kvm", "hello", args)
    eb, eres, eserial, eexits, _ = run_guest("emu", "hello", args)
    assert (kb, eb) == ("kvm", "emu")
    assert kres.stop_reason == eres.stop_reason == "debug-exit"
    assert kres.exit_status == eres.exit_status == 11
    assert kserial == eserial
    # The exits that reach L0 on both backends: the same I/O exits.
    assert kexits["IO_INSTRUCTION"] == eexits["IO_INSTRUCTION"] > 100


def test_kvm_io_exit_records_equal_emu():
    """Reason, qualification (SDM Vol. 3C Table 28-5), RIP and port of every
    I/O exit, in order: one trace schema on both backends."""
    kvm_or_skip()

    def io_exits(events):
        return [(e.reason, e.qual, e.rip, e.aux) for e in events
                if e.kind_name == "exit" and e.reason_name == "IO_INSTRUCTION"]

    k = io_exits(run_guest("kvm", "hello")[4])
    e = io_exits(run_guest("emu", "hello")[4])
    assert len(k) > 100
    assert k == e


def test_auto_with_kvm_picks_kvm():
    kvm_or_skip()
    with tortuga.VM(mem="64M", backend="auto") as v:
        assert v.backend == "kvm"


def test_kvm_refuses_an_instruction_limit():
    kvm_or_skip()
    with pytest.raises(tortuga.TortugaError, match="needs the emu backend"):
        tortuga.VM(mem="64M", backend="kvm", max_insns=1000)
