"""Nested VMX end to end: guests/l1hv, a small L1 hypervisor, runs L2
payloads on tortuga's virtual VT-x. Checks what L1 sees (results, VM-entry
failures), who handled each exit (the trace's level, handler and parent
fields), and what VMCS shadowing changes: the same guest-visible results with
fewer L0 exits."""

import collections
import json

import pytest

import tortuga

# l1hv's exit status on success: it writes 0 to the debug-exit port.
OK = (0 << 1) | 1


def run_l1hv(vm, guest, args, shadow=True, ring=1 << 20):
    v = vm(mem="64M", nested=True, shadow_vmcs=shadow, trace_ring_events=ring)
    v.load(guest("l1hv"), args)
    r = v.run()
    return v, r


def exits_caused_by(events):
    """For each exit of L2 to L0 (level 2), the reasons of the L1 exits to L0
    that carry its sequence number as parent: its exit multiplication."""
    l2 = {e.seq: e for e in events if e.kind_name == "exit" and e.level == 2}
    children = collections.defaultdict(list)
    for e in events:
        if e.kind_name == "exit" and e.level == 1 and e.parent in l2:
            children[e.parent].append(e.reason_name)
    return l2, children


@pytest.mark.parametrize("shadow", [True, False])
def test_cpuid_payload_runs(vm, guest, shadow):
    v, r = run_l1hv(vm, guest, ["l2=cpuid", "n=200"], shadow)
    assert r.exit_status == OK, v.serial
    assert "L2 payload 'cpuid' done, n=200" in v.serial
    # L1 handled every CPUID of L2 (200 in the loop, one check) and the VMCALL.
    assert "reason 10: 201" in v.serial
    l2 = v.level_stats(2)
    assert l2["exits_by_reason"] == {"CPUID": 201, "VMCALL": 1}
    assert l2["reflected"] == 202


def test_shadowing_same_results_fewer_exits(vm, guest):
    on, r_on = run_l1hv(vm, guest, ["l2=cpuid", "n=300"], shadow=True)
    off, r_off = run_l1hv(vm, guest, ["l2=cpuid", "n=300"], shadow=False)
    # Guest-visible: identical output, status and instruction streams.
    assert r_on.exit_status == r_off.exit_status == OK
    assert on.serial == off.serial
    assert r_on.instructions == r_off.instructions
    # L0's view: shadowing removes the VMREAD/VMWRITE exits of L1.
    assert r_on.exits < r_off.exits
    assert on.level_stats(1)["exits_by_reason"].get("VMREAD", 0) < \
        off.level_stats(1)["exits_by_reason"]["VMREAD"]
    assert on.l0_exits_per_l2_exit() < off.l0_exits_per_l2_exit()


@pytest.mark.parametrize("shadow,per_exit", [
    # l1hv handles a CPUID exit with 3 VMREADs (exit reason, guest RIP,
    # instruction length), 1 VMWRITE (guest RIP) and VMRESUME. All four
    # fields are in KVM's shadow set (SDM 25.10), so with shadowing only
    # VMRESUME exits to L0; without, all five do.
    (True, {"VMRESUME": 1}),
    (False, {"VMREAD": 3, "VMWRITE": 1, "VMRESUME": 1}),
])
def test_exit_multiplication_from_trace(vm, guest, shadow, per_exit):
    v, r = run_l1hv(vm, guest, ["l2=cpuid", "n=100"], shadow)
    assert r.exit_status == OK
    events = v.trace()
    assert v.trace_dropped == 0
    l2, children = exits_caused_by(events)
    cpuid_exits = [s for s, e in l2.items() if e.reason_name == "CPUID"]
    assert len(cpuid_exits) == 101
    for seq in cpuid_exits:
        assert collections.Counter(children[seq]) == per_exit
    # L0 exits per L2 CPUID exit: the exit itself plus what L1 caused.
    per_cpuid = 1 + sum(per_exit.values())
    total = sum(1 + len(children[s]) for s in cpuid_exits)
    assert total == per_cpuid * len(cpuid_exits)


def test_shadow_set_is_policy(vm, guest, cli):
    """Which fields are shadowed is L0 policy: without GUEST_RIP in the set,
    l1hv's VMREAD and VMWRITE of it exit again, nothing else changes."""
    v = vm(mem="64M", nested=True, trace_ring_events=1 << 20)
    v.set_vmcs_shadow("GUEST_RIP", "none")
    v.load(guest("l1hv"), ["l2=cpuid", "n=50"])
    assert v.run().exit_status == OK
    l2, children = exits_caused_by(v.trace())
    for seq, e in l2.items():
        if e.reason_name == "CPUID":
            assert collections.Counter(children[seq]) == {"VMREAD": 1, "VMWRITE": 1, "VMRESUME": 1}
    with pytest.raises(tortuga.TortugaError):
        v.set_vmcs_shadow("POSTED_INTR_NV", "rw")  # a field tortuga does not implement
    def per_l2_exit(*opts):
        p = cli("run", "--nested", *opts, guest("l1hv"), "--", "n=50")
        assert p.returncode == OK, p.stderr
        return float(p.stderr.split("L0 exits per L2 exit:")[1].split()[0])
    # Two more L0 exits for each of the 51 CPUID exits, over 52 L2 exits.
    assert per_l2_exit("--shadow-field", "GUEST_RIP=none") == pytest.approx(per_l2_exit() + 2 * 51 / 52, abs=0.01)
    p = cli("run", "--nested", "--shadow-field", "NOPE=rw", guest("l1hv"))
    assert p.returncode == 2


def test_trace_levels_handlers_parents(vm, guest):
    v, r = run_l1hv(vm, guest, ["l2=cpuid", "n=20"])
    events = v.trace()
    by_seq = {e.seq: e for e in events}
    reflects = [e for e in events if e.kind_name == "reflect"]
    assert len(reflects) == 22
    for e in reflects:
        # An L2 exit: first an exit to L0 (level 2, handled by L0), then
        # reflected to L1 (handler 1), the reflect event naming the exit.
        parent = by_seq[e.parent]
        assert parent.kind_name == "exit" and parent.level == 2 and parent.handler == 0
        assert (e.level, e.handler) == (2, 1)
        assert e.reason == parent.reason
    entries = [e for e in events if e.kind_name == "nested-entry"]
    # VMLAUNCH once, VMRESUME after every reflected exit but the last (VMCALL).
    assert [e.reason_name for e in entries].count("VMLAUNCH") == 1
    assert [e.reason_name for e in entries].count("VMRESUME") == 21
    for e in entries:
        assert by_seq[e.parent].reason_name == e.reason_name and by_seq[e.parent].level == 1


@pytest.mark.parametrize("args,expect", [
    (["l2=io", "n=200"], {"IO_INSTRUCTION": 402, "VMCALL": 1}),  # 200 OUT, 200 IN, OUTS, INS
    (["l2=pagetouch", "n=300"], {"EPT_VIOLATION": 300, "VMCALL": 1}),
    (["l2=vmcs", "n=250", "shadow=1"], {"VMCALL": 1}),
    (["l2=vmcs", "n=250", "shadow=0"], {"VMREAD": 251, "VMWRITE": 250, "VMCALL": 1}),
    (["l2=cpuid", "n=50", "ept=0", "vpid=0"], {"CPUID": 51, "VMCALL": 1}),
    # Unrestricted guest: a real-mode L2 (16-bit code, CR0.PE = 0) under EPT.
    (["l2=real", "n=100"], {"CPUID": 100, "VMCALL": 1}),
    # #PF intercepted by L1: CR2 unchanged by the exit (checked by l1hv).
    (["l2=pf", "n=50"], {"EXCEPTION_NMI": 50, "VMCALL": 1}),
    # EPTP switching: 200 VMFUNCs done by L0, one with a bad index for L1.
    (["l2=vmfunc", "n=100"], {"VMFUNC": 201, "VMCALL": 1}),
])
def test_payloads(vm, guest, args, expect):
    v, r = run_l1hv(vm, guest, args)
    assert r.exit_status == OK, v.serial
    assert v.level_stats(2)["exits_by_reason"] == expect


def test_vmfunc_eptp_switching_stays_in_l0(vm, guest):
    v, r = run_l1hv(vm, guest, ["l2=vmfunc", "n=100"])
    assert r.exit_status == OK, v.serial
    assert v.level_stats(2)["reflected"] == 2  # the bad-index VMFUNC and the VMCALL
    assert "reason 59: 1" in v.serial


def test_preemption_timer(vm, guest):
    """The VMX-preemption timer (SDM 26.5.1) interrupts an L2 that runs
    without exiting (l2=vmcs with a shadow VMCS): more often with a smaller
    value, and L2's work is unaffected."""
    counts = {}
    for t in (200, 50):
        v, r = run_l1hv(vm, guest, ["l2=vmcs", "n=2000", "timer=%d" % t])
        assert r.exit_status == OK, v.serial
        assert "L2's VMCS field is 3000 as expected" in v.serial
        by = v.level_stats(2)["exits_by_reason"]
        counts[t] = by.get("PREEMPTION_TIMER", 0)
        # Each expiry comes after timer * 32 instructions of L2 (one per cycle).
        assert counts[t] <= v.level_stats(2)["instructions"] // (t * 32)
    assert 0 < counts[200] < counts[50]


def test_shadow_vmcs_for_l2(vm, guest):
    """VMCS shadowing exposed to L1: L2's VMREAD/VMWRITE of the shadowed
    field complete in L2 and land in L1's shadow VMCS."""
    v, r = run_l1hv(vm, guest, ["l2=vmcs", "n=250", "shadow=1"])
    assert "L2's VMCS field is 1250 as expected (shadow VMCS)" in v.serial
    assert v.level_stats(2)["exits"] == 1
    v, r = run_l1hv(vm, guest, ["l2=vmcs", "n=250", "shadow=0"])
    assert "L2's VMCS field is 1250 as expected (emulated by L1)" in v.serial


@pytest.mark.parametrize("bad,seen", [
    ("ctl", "VMLAUNCH failed: VM-instruction error 7"),
    ("host", "VMLAUNCH failed: VM-instruction error 8"),
    ("guest", "VM-entry failure: exit reason 33, qualification 0"),
    # The 1-based index of the MSR-load entry that failed (SDM 27.4).
    ("msr", "VM-entry failure: exit reason 34, qualification 1"),
])
def test_entry_failures_seen_by_l1(vm, guest, bad, seen):
    v, r = run_l1hv(vm, guest, ["bad=" + bad])
    assert r.exit_status == (3 << 1) | 1, v.serial
    assert seen in v.serial
    events = v.trace()
    if bad in ("guest", "msr"):
        ne = [e for e in events if e.kind_name == "nested-exit"]
        assert len(ne) == 1 and (ne[0].level, ne[0].handler) == (2, 1)


def test_without_nested_vmx_is_absent(vm, guest):
    v = vm(mem="64M")
    v.load(guest("l1hv"))
    r = v.run()
    assert r.exit_status == (2 << 1) | 1
    assert "CPUID.1:ECX.VMX is 0" in v.serial


def test_cli_nested_report_and_stats(cli, guest, tmp_path):
    stats = tmp_path / "s.json"
    p = cli("run", "--nested", "--stats", stats, guest("l1hv"), "--", "l2=cpuid", "n=100")
    assert p.returncode == OK, p.stderr
    assert "exits to L0 per level" in p.stderr
    assert "L0 exits per L2 exit:" in p.stderr
    s = json.loads(stats.read_text())
    assert set(s["levels"]) == {"1", "2"}
    for lv in s["levels"].values():
        assert {"instructions", "exits", "exits_by_reason", "reflected"} <= set(lv)
    assert s["levels"]["2"]["exits_by_reason"] == {"CPUID": 101, "VMCALL": 1}
    assert s["levels"]["2"]["reflected"] == 102
    assert s["l0_exits_per_l2_exit"] > 1
    # Without --nested the summary has no levels.
    p = cli("run", "--stats", stats, guest("hello"))
    assert "levels" not in json.loads(stats.read_text())


def test_cli_no_shadow_needs_nested(cli, guest):
    p = cli("run", "--no-shadow-vmcs", guest("hello"))
    assert p.returncode == 2
    assert "--no-shadow-vmcs needs --nested" in p.stderr


def test_names_from_tables():
    assert tortuga.vmcs_field_name(0x681E) == "GUEST_RIP"
    assert tortuga.vmcs_field_name(0x2011) == "TSC_OFFSET_HIGH"
    assert tortuga.vmcs_field_name(0x681F) is None
    assert tortuga.vmx_error_name(12) == "VMREAD/VMWRITE from/to unsupported VMCS component"


def test_cost_model_per_reason(vm, guest):
    """Modelled cycles of a level: one per instruction plus the configured
    cost of each of its exits (DESIGN.md "Exit-centric design")."""
    costs = {"CPUID": 1500, "VMRESUME": 7000}
    v = vm(mem="64M", nested=True)
    for reason, cycles in costs.items():
        v.set_exit_cost(reason, cycles)
    v.load(guest("l1hv"), ["l2=cpuid", "n=100"])
    assert v.run().exit_status == OK
    l2 = v.level_stats(2)
    assert l2["cycles"] == l2["instructions"] + 101 * 1500 + 1 * 2000  # VMCALL: the default
    l1 = v.level_stats(1)
    assert l1["exits_by_reason"]["VMRESUME"] == 101
    expect = sum(n * costs.get(r, 2000) for r, n in l1["exits_by_reason"].items())
    assert l1["cycles"] == l1["instructions"] + expect


def test_cli_exit_cost_option(cli, guest):
    p = cli("run", "--exit-cost", "CPUID=x", guest("hello"))
    assert p.returncode == 2 and "--exit-cost" in p.stderr
    p = cli("run", "--nested", "--exit-cost", "CPUID=1200", "--exit-cost", "24=5000", guest("l1hv"), "--", "n=10")
    assert p.returncode == OK and "model-cycles" in p.stderr
