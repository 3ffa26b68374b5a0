"""The self-test guests (guests/selftest-*.c): each numbered TAP result the
guest reports is one pytest case, so a failure names the SDM expectation that
broke. The guests run once, at collection, through the ctypes harness."""

import functools

import pytest

import tortuga
from conftest import guest_path, run_cli

SELFTESTS = ["selftest-insn", "selftest-paging", "selftest-exceptions", "selftest-fpu"]

# Generous: each guest retires well under 10 million instructions.
MAX_INSNS = 200_000_000


@functools.lru_cache(maxsize=None)
def selftest(name):
    """Run a self-test guest; returns (Result, TapRun, trace events)."""
    with tortuga.VM(mem="64M", max_insns=MAX_INSNS, trace_ring_events=1 << 20) as vm:
        vm.load(guest_path(name))
        res = vm.run()
        return res, tortuga.tap.parse(vm.serial), vm.trace()


def _cases():
    cases = []
    for name in SELFTESTS:
        try:
            _, run, _ = selftest(name)
            numbers = [r.number for r in run.results]
        except Exception as e:  # reported by test_runs_to_completion
            numbers = []
            print("cannot run %s: %s" % (name, e))
        cases += [pytest.param(name, n, id="%s:%03d" % (name, n)) for n in numbers]
    return cases


@pytest.mark.parametrize("name,number", _cases())
def test_result(name, number):
    _, run, _ = selftest(name)
    r = run.results[number - 1]
    assert r.number == number
    if r.todo:
        # Known bugs stay visible; once fixed, the TODO marker must go.
        assert not r.ok, "%s #%d passes now: remove its TODO marker (%s)" % (name, number, r.name)
        pytest.xfail(r.detail)
    assert r.ok, "%s #%d: %s # %s" % (name, number, r.name, r.detail)


@pytest.mark.parametrize("name", SELFTESTS)
def test_runs_to_completion(name):
    res, run, _ = selftest(name)
    assert run.bail is None, "guest bailed out: " + run.bail
    assert res.stop_reason == "debug-exit", res
    assert run.complete, "plan %s for %d results" % (run.plan, len(run.results))
    assert run.plan >= 50, "suspiciously few results"
    # The guest's exit value is its number of failures: (V << 1) | 1.
    assert res.exit_status == (len(run.failed) << 1) | 1


def test_exception_events_match_the_guest():
    """The trace's exception events cover the vectors the guest provoked."""
    _, _, events = selftest("selftest-exceptions")
    vectors = {e.reason for e in events if e.kind_name == "exception"}
    # INT3 and INT n are software events, not traced as exceptions.
    for v in (0, 1, 6, 8, 11, 12, 13, 14, 17):
        assert v in vectors, "no exception event for vector %d" % v
    pf = [e for e in events if e.kind_name == "exception" and e.reason == 14]
    # qual is the error code, aux CR2 (event_kinds.def).
    assert any(e.aux == 0x8000000000 + 0x123 and e.qual == 0 for e in pf)


def test_unimplemented_instruction_is_traced():
    """HADDPS (F2 0F 7C C1, SSE3) is not implemented: #UD and an event with
    its bytes."""
    _, _, events = selftest("selftest-exceptions")
    unimpl = [e for e in events if e.kind_name == "unimplemented"]
    assert unimpl and all(e.aux & 0xffffffff == 0xc17c0ff2 for e in unimpl)


def test_unimplemented_instruction_warns_on_stderr(guest):
    p = run_cli("run", "-q", guest("selftest-exceptions"))
    assert p.returncode == 1, p.stdout[-2000:] + p.stderr
    lines = [l for l in p.stderr.splitlines() if "unimplemented" in l]
    assert len(lines) == 1 and "haddps" in lines[0]


def test_triple_fault_stops_with_status_4_and_dump(guest):
    """IDT limit 0 and UD2: #UD, #GP, #DF all undeliverable (SDM 3A 6.15,
    Interrupt 8): shutdown, which tortuga reports as status 4 with a dump."""
    p = run_cli("run", guest("selftest-exceptions"), "--", "triple")
    assert p.returncode == 4, p.stderr
    assert "triple-faulted" in p.stderr
    for reg in ("RAX=", "RIP=", "CR0=", "IDT=", "EFER="):
        assert reg in p.stderr
    assert "ok " not in p.stdout  # no result was reported before the fault


def test_triple_fault_through_the_harness(vm, guest):
    v = vm()
    v.load(guest("selftest-exceptions"), ["triple"])
    r = v.run()
    assert r.stop_reason == "triple-fault"
    assert r.exit_status == 4
    assert v.reg("rip") != 0
    assert "triple fault on purpose" in v.serial
