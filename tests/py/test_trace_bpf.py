"""The eBPF stream: the same events as the in-process ring, lost events
counted, recording a running VM from another process, KVM's tracepoints.

These tests need root and a kernel with BPF, uprobes and a BPF ring buffer
(CI has them). They skip only when `tortuga trace check` says this host
cannot record, with its reason; anything else failing is a failure.
"""

import json
import os
import pathlib
import re
import signal
import struct
import subprocess
import time

import pytest

import tortuga
from elfgen import NOP, debug_exit, elf64, mov_al, out_imm8
from test_trace_files import csv_rows

USDT_PROBE = ("tortuga", "event")


@pytest.fixture(scope="module")
def bpf(cli):
    if os.geteuid() != 0:
        pytest.skip("eBPF recording needs root (CAP_BPF and CAP_PERFMON)")
    p = cli("trace", "check")
    if p.returncode != 0:
        missing = [l.strip() for l in p.stdout.splitlines() if l.strip().startswith("no ")]
        pytest.skip("eBPF recording unavailable: " + "; ".join(missing or [p.stdout.strip()]))
    return True


@pytest.fixture(scope="module")
def cli():
    from conftest import run_cli
    return run_cli


def events_of(path):
    return [e.as_dict() for e in tortuga.read_events(path)]


def loop_guest(tmp_path):
    """A guest that never stops: OUT to port 0x80 in a loop (2 events per
    iteration: the I/O exit and its entry)."""
    p = tmp_path / "loop.elf"
    p.write_bytes(elf64(mov_al(0) + out_imm8(0x80) + b"\xeb\xfc"))  # jmp back to OUT
    return p


def test_usdt_note_and_semaphore():
    """The probe is described by a stapsdt note whose semaphore lies in the
    .probes section, where the kernel increments it while a uprobe is attached."""
    lib = os.environ.get("TORTUGA_LIB") or str(pathlib.Path(os.environ["TORTUGA_BUILD"]) / "libtortuga.so")
    notes = subprocess.run(["readelf", "-n", lib], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Provider: tortuga\s+Name: event\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), "
                  r"Semaphore: (0x[0-9a-f]+)\s+Arguments: (.*)", notes)
    assert m, notes
    sem = int(m.group(3), 16)
    assert sem != 0
    assert len(m.group(4).split()) == 6  # ev, kind, reason, qual, rip, vcpu (tracing/probes.h)
    sections = subprocess.run(["readelf", "-SW", lib], capture_output=True, text=True, check=True).stdout
    s = re.search(r"\.probes\s+PROGBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", sections)
    assert s, sections
    start, size = int(s.group(1), 16), int(s.group(2), 16)
    assert start <= sem < start + size


def test_bpf_stream_equals_ring(bpf, cli, guest, tmp_path):
    ring, stream = tmp_path / "ring.bin", tmp_path / "bpf.bin"
    p = cli("run", "--trace", ring, "--trace-bpf", stream, guest("hello"), "--", "exit=2")
    assert p.returncode == 5, p.stderr
    assert "records the in-process ring instead" not in p.stderr
    a, b = events_of(ring), events_of(stream)
    assert len(a) > 100
    assert a == b
    flags = lambda path: struct.unpack_from("<I", path.read_bytes(), 20)[0]
    assert (flags(ring), flags(stream)) == (1, 2)  # TRACE_FILE_F_RING, TRACE_FILE_F_BPF
    assert re.search(r"--trace-bpf: %d events to .* \(%d from tortuga:event" % (len(a), len(a)), p.stderr)
    assert "LOST" not in p.stderr


def test_without_privileges_the_ring_records(bpf, guest, tmp_path):
    """As an unprivileged user, --trace-bpf says why in one line and the file
    holds the in-process ring's events instead."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become an unprivileged user")
    import tempfile
    shared = pathlib.Path(tempfile.mkdtemp(prefix="tortuga-nobody-"))  # pytest's are root-only
    shared.chmod(0o777)
    out = shared / "t.bin"

    def nobody():
        os.setgid(65534)
        os.setuid(65534)

    for probe in ([os.environ["TORTUGA_CLI"], "--version"], ["cat", str(guest("hello"))]):
        try:
            ok = subprocess.run(probe, preexec_fn=nobody, capture_output=True).returncode == 0
        except OSError:
            ok = False
        if not ok:
            shared.rmdir()
            pytest.skip("the build is not readable by an unprivileged user (%s)" % probe[-1])
    p = subprocess.run([os.environ["TORTUGA_CLI"], "run", "-q", "--trace-bpf", str(out), str(guest("hello"))],
                       preexec_fn=nobody, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stderr
    (line,) = p.stderr.splitlines()  # one line
    assert line.startswith("tortuga: --trace-bpf: eBPF unavailable: permission denied")
    assert line.endswith("records the in-process ring instead")
    evs = tortuga.read_events(out)
    assert tortuga.open_trace(out).flags == 1  # written by the ring
    assert evs[-1].kind_name == "stop" and [e.seq for e in evs] == list(range(1, len(evs) + 1))
    out.unlink()
    shared.rmdir()


def test_bpf_stream_equals_ring_mid_block_cycles(bpf, cli, tmp_path):
    # Exits in the middle of a block, so cycles are the interesting field.
    g = tmp_path / "g.elf"
    g.write_bytes(elf64(mov_al(0) + NOP * 7 + out_imm8(0x80) + NOP * 3 + out_imm8(0x80) + debug_exit(1)))
    ring, stream = tmp_path / "ring.csv", tmp_path / "bpf.csv"
    p = cli("run", "-q", "--trace", ring, "--trace-bpf", stream, g)
    assert p.returncode == 3, p.stderr
    assert csv_rows(ring) == csv_rows(stream)


def test_python_recording_counts_every_event(bpf, vm, tmp_path):
    """With a 4 KiB BPF ring buffer (64 events) some events may not fit; each
    one is then counted, never silently missing: delivered + lost = emitted."""
    ring, stream = tmp_path / "ring.bin", tmp_path / "bpf.bin"
    v = vm(max_insns=40_000)
    v.load(loop_guest(tmp_path))
    v.trace_to_file(str(ring))
    with tortuga.BpfRecording(stream, ring_bytes=4096, poll_ms=50, flags=tortuga.bpf.NO_KVM) as rec:
        v.run()
    st = rec.stats
    emitted = events_of(ring)
    got = tortuga.read_events(stream)
    delivered = [e for e in got if e.kind_name != "lost"]
    lost_records = [e for e in got if e.kind_name == "lost"]
    assert st.usdt_attached == 1
    assert len(delivered) == st.usdt_events
    assert len(delivered) + st.lost + st.read_errors == len(emitted)
    assert sum(e.aux for e in lost_records) == st.lost + st.read_errors
    # What arrived is exactly the ring's events with the lost ones left out.
    by_seq = {e["seq"]: e for e in emitted}
    assert all(by_seq[e.seq] == e.as_dict() for e in delivered)
    if st.lost:
        rep = subprocess.run([os.environ["TORTUGA_CLI"], "trace", "report", "--json", str(stream)],
                             capture_output=True, text=True, check=True)
        src = json.loads(rep.stdout)["sources"][0]
        assert src["lost"] == st.lost and src["missing"] >= 1


def _start_recorder(cli_path, args):
    rec = subprocess.Popen([cli_path, "trace", "record", *map(str, args)],
                           stderr=subprocess.PIPE, text=True)
    line = rec.stderr.readline()
    assert line.startswith("tortuga: recording process"), line + rec.stderr.read()
    return rec, line


def test_record_running_vm_until_it_exits(bpf, guest, tmp_path):
    cli_path = os.environ["TORTUGA_CLI"]
    out = tmp_path / "rec.bin"
    vmp = subprocess.Popen([cli_path, "run", "-q", str(loop_guest(tmp_path))],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # Wait until the VM process has libtortuga mapped.
        for _ in range(100):
            if "libtortuga" in pathlib.Path("/proc/%d/maps" % vmp.pid).read_text():
                break
            time.sleep(0.02)
        rec, line = _start_recorder(cli_path, ["-p", vmp.pid, "-o", out, "--no-kvm"])
        assert "tortuga:event in " in line and "libtortuga" in line
        time.sleep(0.3)
        vmp.send_signal(signal.SIGINT)  # the VM stops; the recorder follows it
        assert vmp.wait(timeout=30) == 12  # TORTUGA_STATUS_STOPPED
        assert rec.wait(timeout=30) == 0
        tail = rec.stderr.read()
        assert "the process exited" in tail, tail
    finally:
        vmp.kill()
    evs = tortuga.read_events(out)
    numbered = [e for e in evs if e.kind_name != "lost"]
    lost = sum(e.aux for e in evs if e.kind_name == "lost")
    assert len(numbered) > 100
    assert numbered[-1].kind_name == "stop" and numbered[-1].reason == 6  # requested
    # Attached mid-run: numbering starts late, but nothing is silently missing.
    assert numbered[-1].seq - numbered[0].seq + 1 <= len(numbered) + lost
    exits = [e for e in numbered if e.kind_name == "exit"]
    assert {e.reason_name for e in exits} == {"IO_INSTRUCTION"}


def test_record_stops_on_sigint(bpf, tmp_path):
    cli_path = os.environ["TORTUGA_CLI"]
    vmp = subprocess.Popen([cli_path, "run", "-q", str(loop_guest(tmp_path))],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if "libtortuga" in pathlib.Path("/proc/%d/maps" % vmp.pid).read_text():
                break
            time.sleep(0.02)
        rec, _ = _start_recorder(cli_path, ["-p", vmp.pid, "-o", tmp_path / "r.csv"])
        time.sleep(0.2)
        rec.send_signal(signal.SIGINT)
        assert rec.wait(timeout=30) == 0
        assert "stopped:" in rec.stderr.read()
        assert vmp.poll() is None  # the VM keeps running
    finally:
        vmp.kill()
        vmp.wait()
    rows = csv_rows(tmp_path / "r.csv")
    assert len(rows) > 10 and all(r["reason_name"] == "IO_INSTRUCTION" for r in rows if r["kind"] in "01")


def test_record_refuses_bad_targets(bpf, cli, tmp_path):
    p = cli("trace", "record", "-p", "999999999", "-o", tmp_path / "x.bin")
    assert p.returncode == 2 and "no process" in p.stderr
    # A process with neither libtortuga nor KVM: nothing to attach to.
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        p = cli("trace", "record", "--no-kvm", "-p", sleeper.pid, "-o", tmp_path / "x.bin")
        assert p.returncode == 10
        assert "no tortuga:event probe" in p.stderr and len(p.stderr.splitlines()) == 1
    finally:
        sleeper.kill()
        sleeper.wait()


def test_kvm_tracepoints_of_a_kvm_vm(bpf, cli, tmp_path):
    """A tiny KVM VM (tests/kvm_io.c) does 3 port I/O writes to 0x10: KVM's
    kvm_exit/kvm_entry become EXIT/ENTRY events with TORTUGA_EVF_KVM."""
    if not os.path.exists("/dev/kvm"):
        pytest.skip("no /dev/kvm: the KVM tracepoint path needs a host with KVM")
    out = tmp_path / "kvm.bin"
    k = subprocess.Popen([os.environ["TORTUGA_KVM_IO"], "3"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = k.stdout.readline()
    if k.poll() == 77 or not first.startswith("ready"):
        k.wait()
        pytest.skip("/dev/kvm is not usable here: " + k.stderr.read().strip())
    rec, line = _start_recorder(os.environ["TORTUGA_CLI"], ["-p", k.pid, "-o", out, "--no-usdt"])
    assert "6 KVM tracepoints" in line, line
    k.stdin.write("go\n")
    k.stdin.flush()
    assert k.wait(timeout=30) == 0, k.stderr.read()
    assert k.stdout.read().strip() == "io_exits=3"
    assert rec.wait(timeout=30) == 0
    evs = tortuga.read_events(out)
    assert all(e.flags & 0x1 for e in evs)  # TORTUGA_EVF_KVM
    assert all(e.seq >= 1 << 48 for e in evs)  # TORTUGA_SEQ_KVM_BASE
    exits = [e for e in evs if e.kind_name == "exit"]
    if not exits:
        pytest.skip("this host's KVM ran the guest without hardware VM exits (kvm_exit never "
                    "fired; e.g. a PVM or fully emulating KVM): only attachment was tested")
    # I/O exits name port 0x10: VMX exit qualification bits 31:16 (SDM Vol. 3C
    # Table 28-5), SVM EXITINFO1 bits 31:16 (AMD APM Vol. 2, 15.10.2).
    io = [e for e in exits if e.reason_name in ("IO_INSTRUCTION", "IOIO")]
    assert len(io) == 3 and all((e.qual >> 16) & 0xFFFF == 0x10 for e in io)
    entries = {e.parent: e for e in evs if e.kind_name == "entry"}
    for x in io:
        assert x.seq in entries and entries[x.seq].ts_ns >= x.ts_ns
