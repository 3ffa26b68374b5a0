"""Interrupts with nested VMX, end to end: guests/l1hv's interrupt payloads
(guests/l1hv_irq.c) on tortuga's virtual VT-x. An interrupt or NMI for the
vCPU while L2 runs is first an L0 exit; then, as vmcs12 says, a VM exit to L1
(SDM Vol. 3C 26.2, 28.2.2) or an event L0 delivers into L2. L1 injects its own
events into L2 with interrupt and NMI windows, re-injects what an exit
interrupted (28.2.4), lets L2 halt, uses the TPR shadow and the monitor trap
flag. l1hv checks what it sees in the VMCS (vectors, RIPs, activity state,
VTPR) and fails otherwise; these tests check l1hv's reports, who handled
each exit (the trace's level, handler and parent), and determinism."""

import collections
import re

import pytest

# l1hv's exit status on success: it writes 0 to the debug-exit port.
OK = (0 << 1) | 1
HOST_TIMER_VECTOR = 0xEC  # core/vm.h: L0's timer interrupt
HOST_KICK_VECTOR = 0xFD  # core/vm.h: L0 kicking the vCPU out of L2
L2_VEC = 0x30  # guests/l1hv_irq.c: L1's virtual interrupt for L2


def run(vm, guest, args, vcpus=1):
    v = vm(mem="64M", nested=True, trace_ring_events=1 << 20, vcpus=vcpus)
    v.load(guest("l1hv"), args)
    r = v.run()
    assert r.exit_status == OK, v.serial
    assert v.trace_dropped == 0
    return v, r


def l1_exits_caused_by(events, seq):
    """Reasons of the L1 exits to L0 that an L2 exit caused (parent)."""
    return collections.Counter(e.reason_name for e in events
                               if e.kind_name == "exit" and e.level == 1 and e.parent == seq)


@pytest.mark.parametrize("ack", [1, 0])
def test_timer_interrupts_reach_l1_as_exits(vm, guest, ack):
    """L1's APIC timer fires while L2 spins without exits: each tick is an
    L0 exit of L2 (L0's host timer interrupt) that L0 turns into an
    EXTERNAL_INTERRUPT exit to L1, at once: the exits are one period apart."""
    n, period = 30, 100000
    v, r = run(vm, guest, ["l2=timer", "n=%d" % n, "ack=%d" % ack, "period=%d" % period])
    m = re.search(r"(\d+) timer interrupts as exits \(ack=(\d)\), L2 counted to (\d+); "
                  r"tick spacing (\d+)\.\.(\d+)", v.serial)
    assert m, v.serial
    assert int(m[1]) == n and int(m[2]) == ack and int(m[3]) > 0
    lo, hi = int(m[4]), int(m[5])
    # Promptly: an exit is taken at the first instruction boundary the
    # backend polls at (a decoded block, at most 64 instructions).
    assert period - 64 <= lo <= hi <= period + 64
    l2 = v.level_stats(2)
    assert l2["exits_by_reason"] == {"EXTERNAL_INTERRUPT": n}
    assert l2["reflected"] == n
    events = v.trace()
    by_seq = {e.seq: e for e in events}
    reflects = [e for e in events if e.kind_name == "reflect"]
    assert len(reflects) == n
    for e in reflects:
        parent = by_seq[e.parent]
        assert (e.level, e.handler, e.reason_name) == (2, 1, "EXTERNAL_INTERRUPT")
        assert (parent.kind_name, parent.level, parent.handler) == ("exit", 2, 0)
        assert parent.reason_name == "EXTERNAL_INTERRUPT" and parent.aux == HOST_TIMER_VECTOR
    # What each interrupt costs at L0: with "acknowledge interrupt on exit"
    # L1 dispatches the vector it reads in the VMCS, EOIs and resumes;
    # without, it opens its interrupt window (an L0 exit, then injection).
    per = {"WRMSR": 1, "VMRESUME": 1} if ack else {"INTERRUPT_WINDOW": 1, "WRMSR": 1, "VMRESUME": 1}
    for e in reflects[:-1]:  # the last one: L1 reports and stops
        assert l1_exits_caused_by(events, e.parent) == per


@pytest.mark.parametrize("args,reflected,delivered", [
    # A fixed IPI from L2 to its own vCPU (L1's APIC): an EXTERNAL_INTERRUPT
    # exit right after the WRMSR, which L0 handled (L1 lets the ICR through).
    (["ack=1"], "EXTERNAL_INTERRUPT", 0),
    (["ack=0"], "EXTERNAL_INTERRUPT", 0),
    # NMIs with "NMI exiting": EXCEPTION_NMI exits (vector 2, type NMI).
    (["nmi=1"], "EXCEPTION_NMI", 0),
    # Without NMI exiting: delivered through L2's IDT, right after the WRMSR.
    (["nmi=1", "nmi_exit=0"], None, 20),
])
def test_ipis_while_l2_runs(vm, guest, args, reflected, delivered):
    n = 20
    v, r = run(vm, guest, ["l2=ipi", "n=%d" % n] + args)
    l2 = v.level_stats(2)
    assert l2["exits_by_reason"] == {"WRMSR": n, "VMCALL": 1}
    events = v.trace()
    by_seq = {e.seq: e for e in events}
    reflects = [e for e in events if e.kind_name == "reflect" and e.reason_name != "VMCALL"]
    if reflected:
        assert len(reflects) == n and l2["reflected"] == n + 1
        for e in reflects:
            # The exit L0 handled on L2's behalf, then the event's exit to L1.
            assert e.reason_name == reflected
            assert by_seq[e.parent].reason_name == "WRMSR" and by_seq[e.parent].level == 2
    else:
        assert not reflects and l2["reflected"] == 1
    nmis_in_l2 = [e for e in events if e.kind_name == "exception" and e.level == 2 and e.reason == 2]
    assert len(nmis_in_l2) == delivered
    if reflected == "EXCEPTION_NMI":
        # 28.1: after the NMI exit L1's NMIs are blocked until its IRET:
        # the NMI L1 sends itself (l1hv checks it is not delivered before)
        # is delivered through L1's IDT once, right after that IRET.
        assert "after the first, L1's own NMI waited for its IRET" in v.serial
        nmis_in_l1 = [e for e in events if e.kind_name == "exception" and e.level == 1 and e.reason == 2]
        assert len(nmis_in_l1) == 1


def test_init_while_l2_runs(vm, guest):
    """26.2: INIT is a VM exit in VMX non-root operation (L2 sends it to its
    own vCPU: an INIT_SIGNAL exit right after the WRMSR, l1hv checks the
    RIP). 24.8: in VMX root operation INIT is blocked: the INIT L1 sends
    itself after the first exit neither resets it nor is lost; it exits at
    the next VM entry, before L2's first instruction (the nested entry is
    the reflected exit's parent)."""
    n = 10
    # Two vCPUs (the second waits for a SIPI): L0 then runs L1 in time
    # slices and looks at its pending INIT between them, while L1 spins in
    # root operation for a tick period after sending it.
    v, r = run(vm, guest, ["l2=ipi", "n=%d" % n, "init=1"], vcpus=2)
    assert "%d INIT exits right after L2's WRMSR, and one at VM entry" % n in v.serial
    l2 = v.level_stats(2)
    assert l2["exits_by_reason"] == {"WRMSR": n, "VMCALL": 1}
    assert l2["reflected"] == n + 2
    events = v.trace()
    by_seq = {e.seq: e for e in events}
    parents = collections.Counter((by_seq[e.parent].kind_name, by_seq[e.parent].reason_name) for e in events
                                  if e.kind_name == "reflect" and e.reason_name == "INIT_SIGNAL")
    assert parents == {("exit", "WRMSR"): n, ("nested-entry", "VMRESUME"): 1}


def inject_report(serial):
    m = re.search(r"injected (\d+) interrupts and (\d+) NMIs, L2 received (\d+) and (\d+); (\d+) interrupt-window "
                  r"exits at L2's STI \((\d+) in HLT\), (\d+) NMI-window exits, (\d+) HLT wake-ups, (\d+) re-injected", serial)
    assert m, serial
    return dict(zip(["virq", "vnmi", "got_irq", "got_nmi", "windows", "windows_in_hlt", "nmi_windows", "hlt_wakes",
                     "reinjected"],
                    map(int, m.groups())))


@pytest.mark.parametrize("args", [
    [],
    ["hlt=1"],
    ["stihlt=1"],
    ["pf=1"],
    ["nmi=1"],
    ["busy=120000"],
    ["nmi=1", "hlt=1", "pf=1", "busy=120000"],
    ["nmi=1", "stihlt=1", "busy=120000"],
])
def test_injection_with_windows(vm, guest, args):
    """L1 injects its timer ticks into L2 as virtual interrupts, as KVM does:
    at VM entry when L2 can take them, else with interrupt-window exiting.
    l1hv fails unless each window exit comes exactly at the instruction after
    L2's STI; every injected interrupt reaches L2's IDT."""
    n = 40
    v, r = run(vm, guest, ["l2=inject", "n=%d" % n] + args)
    rep = inject_report(v.serial)
    assert rep["got_irq"] == rep["virq"] >= n
    assert rep["got_nmi"] == rep["vnmi"]
    assert rep["windows"] > 0
    events = v.trace()
    by_seq = {e.seq: e for e in events}
    l2_exits = v.level_stats(2)["exits_by_reason"]
    # Deliveries through L2's IDT: each injection, plus the first attempt of
    # the one whose delivery faulted (re-injected).
    delivered = [e for e in events if e.kind_name == "exception" and e.level == 2 and e.reason in (L2_VEC, 2)]
    assert len(delivered) == rep["virq"] + rep["vnmi"] + rep["reinjected"]
    if "pf=1" in args:
        # 28.2.4: a #PF L1 intercepts while delivering through L2's
        # unmapped IDT: reflected once, the event re-injected by L1.
        assert rep["reinjected"] == 1
        pf = [e for e in events if e.kind_name == "reflect" and e.reason_name == "EXCEPTION_NMI"]
        assert len(pf) == 1
    if "nmi=1" in args:
        assert rep["nmi_windows"] > 0 and l2_exits["NMI_WINDOW"] == rep["nmi_windows"]
    if "stihlt=1" in args:
        # STI; HLT: STI's shadow covers the HLT, so L2 has no instruction
        # boundary with IF = 1 before it halts: the interrupt-window exit
        # wakes it from HLT (26.2), activity state HLT saved (28.3.4).
        # l1hv checks RIP (after the HLT) and the activity state of each.
        assert rep["windows_in_hlt"] == rep["windows"]
        wins = [e for e in events if e.kind_name == "reflect" and e.reason_name == "INTERRUPT_WINDOW"
                and by_seq[e.parent].reason_name == "HLT"]
        assert len(wins) >= rep["windows"]
        # At once: the window exit wakes HLT; it does not wait for the next
        # event (L1's tick, 100000 cycles apart) to wake L2 first.
        for e in wins:
            assert e.cycles - by_seq[e.parent].cycles < 100000 // 10
    else:
        assert rep["windows_in_hlt"] == 0
    if "hlt=1" in args or "stihlt=1" in args:
        # L2's HLT (no HLT exiting) is L0's: L0 holds the halted vCPU; the
        # next tick is a VM exit to L1 from HLT (activity state HLT), and the
        # interrupt L1 injects wakes L2.
        assert rep["hlt_wakes"] > 0
        hlt_exits = [e for e in events if e.kind_name == "exit" and e.level == 2 and e.reason_name == "HLT"]
        assert hlt_exits and not any(e.kind_name == "reflect" and e.reason_name == "HLT" for e in events)
        woken = [e for e in events if e.kind_name == "reflect" and e.reason_name == "EXTERNAL_INTERRUPT"
                 and by_seq[e.parent].reason_name == "HLT"]
        assert len(woken) == rep["hlt_wakes"]
    else:
        assert "HLT" not in l2_exits
    kicks = [e for e in events if e.kind_name == "exit" and e.level == 2 and e.reason_name == "EXTERNAL_INTERRUPT"
             and e.aux == HOST_KICK_VECTOR]
    # A kick: L1's next tick became pending while L1 ran (it has IF = 0 in
    # root operation) and L1 resumed L2 with an injected event. The
    # injected event is delivered first (27.6: part of VM entry), then the
    # pending interrupt is an EXTERNAL_INTERRUPT exit at the next boundary:
    # L0 kicks L2 out right after the delivery (an exception event of L2).
    # Ticks can fall on an injection by chance; busy=C makes L1 outlast the
    # period, so it happens.
    idx = {e.seq: i for i, e in enumerate(events)}
    for k in kicks:
        before = events[idx[k.seq] - 1]
        assert before.kind_name == "exception" and before.level == 2
        assert by_seq[k.seq + 1].kind_name == "reflect" and by_seq[k.seq + 1].reason_name == "EXTERNAL_INTERRUPT"
    if "busy=120000" in args:
        assert kicks


def test_preemption_timer_counts_in_hlt(vm, guest):
    """26.5.1: the VMX-preemption timer counts in HLT too; its exit saves
    activity state HLT and L1 resumes L2 still halted."""
    v, r = run(vm, guest, ["l2=inject", "n=20", "hlt=1", "timer=300"])
    m = re.search(r"(\d+) VMX-preemption timer exits, (\d+) of them in HLT", v.serial)
    assert m and int(m[2]) > 0 and int(m[1]) > int(m[2])
    assert inject_report(v.serial)["hlt_wakes"] > 0


def test_tpr_shadow(vm, guest):
    """30.1: with "use TPR shadow" L2's MOV to CR8 writes VTPR in L1's
    virtual-APIC page (L1's own TPR stays 0); writes below the TPR threshold
    are TPR-below-threshold exits to L1."""
    v, r = run(vm, guest, ["l2=tpr", "n=40"])
    assert "15 TPR-below-threshold exits, VTPR 0x70, L1's TPR 0" in v.serial
    assert v.level_stats(2)["exits_by_reason"] == {"TPR_BELOW_THRESHOLD": 15, "VMCALL": 41}


def test_monitor_trap_flag(vm, guest):
    """26.5.2: MTF exits after each instruction (also one L0 performed: the
    OUT to port 80H), after the delivery of an injected event and of INT n,
    and for a pending MTF exit L1 injected (27.6.2)."""
    v, r = run(vm, guest, ["l2=mtf"])
    assert "7 MTF exits at the expected instruction boundaries" in v.serial
    assert v.level_stats(2)["exits_by_reason"] == {"MONITOR_TRAP_FLAG": 7, "VMCALL": 3, "IO_INSTRUCTION": 1}
    assert v.level_stats(2)["reflected"] == 10


def test_deterministic(vm, guest):
    """Two identical runs: the same output, instruction counts, exits and
    trace, event by event (host time aside)."""
    args = ["l2=inject", "n=40", "nmi=1", "hlt=1", "busy=120000", "timer=300"]
    runs = [run(vm, guest, args) for _ in range(2)]
    (a, ra), (b, rb) = runs
    assert a.serial == b.serial
    assert ra.instructions == rb.instructions and ra.exits == rb.exits
    for level in (1, 2):
        assert a.level_stats(level) == b.level_stats(level)

    def strip(ev):
        d = ev.as_dict()
        d.pop("ts_ns")
        return d
    ta, tb = a.trace(), b.trace()
    assert len(ta) == len(tb)
    assert [strip(e) for e in ta] == [strip(e) for e in tb]
