"""Trace files and the report, against a hand-constructed trace.

tests/data/nested.csv is a nested run written by hand: L1 launches L2; two
L2 CPUID exits are reflected to L1, whose handler takes VMREAD x2, VMWRITE
and VMRESUME exits; an L2 I/O exit is reflected and L1 does I/O itself; two
L2 external interrupts are handled at L0; an L2 triple fault never gets an
entry. Every exit costs 2000 modelled cycles. The expected numbers below and
in tests/data/nested.report.txt were worked out by hand from that table.
"""

import json
import pathlib
import shutil
import struct

import pytest

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
NESTED = DATA / "nested.csv"

# include/tortuga/event.h, in layout order: 7 u64, 2 u16, 4 u8 (64 bytes).
FIELDS = [("seq", 8), ("ts_ns", 8), ("cycles", 8), ("qual", 8), ("rip", 8), ("aux", 8),
          ("parent", 8), ("reason", 2), ("vcpu", 2), ("kind", 1), ("level", 1),
          ("handler", 1), ("flags", 1)]
EVENT = struct.Struct("<7Q2H4B")


def csv_rows(path):
    lines = path.read_text().splitlines()
    names = lines[0].split(",")
    return [dict(zip(names, l.split(","))) for l in lines[1:]]


@pytest.fixture
def nested(tmp_path):
    p = tmp_path / "nested.csv"
    shutil.copy(NESTED, p)
    return p


def test_report_text_golden(cli, nested):
    p = cli("trace", "report", nested.name, cwd=nested.parent)
    assert p.returncode == 0, p.stderr
    assert p.stdout == (DATA / "nested.report.txt").read_text()


def test_report_json_hand_values(cli, nested):
    p = cli("trace", "report", "--json", nested)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["bad_parents"] == 0 and rep["duplicate_seqs"] == 0
    (src,) = rep["sources"]
    assert src["source"] == "tortuga"
    assert (src["events"], src["exits"], src["unfinished_exits"]) == (48, 19, 1)
    assert (src["span_ns"], src["span_cycles"], src["lost"], src["missing"]) == (11100, 42900, 0, 0)
    assert src["kinds"] == {"exit": 19, "entry": 18, "exception": 1, "stop": 1,
                            "nested-entry": 4, "nested-exit": 2, "reflect": 3}
    l1, l2 = src["exits_by_level"]
    assert (l1["level"], l1["count"], l1["total_ns"]) == (1, 13, 3100)
    assert (l2["level"], l2["count"], l2["total_ns"]) == (2, 6, 1000)
    vmwrite = next(r for r in l1["reasons"] if r["name"] == "VMWRITE")
    assert (vmwrite["count"], vmwrite["min_ns"], vmwrite["avg_ns"], vmwrite["max_ns"]) == (2, 200, 300.0, 400)
    assert vmwrite["hist_ns"] == [{"lo": 128, "hi": 256, "count": 1}, {"lo": 256, "hi": 512, "count": 1}]
    assert [r["name"] for r in l1["reasons"]] == ["VMREAD", "VMRESUME", "VMWRITE", "IO_INSTRUCTION",
                                                  "CPUID", "VMLAUNCH"]
    by = {r["name"]: r for r in l2["reasons"]}
    assert (by["CPUID"]["handled_at_l0"], by["CPUID"]["reflected_to_l1"]) == (0, 2)
    assert by["CPUID"]["l0_exits_per_exit"] == 5.0
    assert by["IO_INSTRUCTION"]["l0_exits_per_exit"] == 3.0
    assert by["EXTERNAL_INTERRUPT"]["reflected_to_l1"] == 0
    assert by["TRIPLE_FAULT"]["timed"] == 0 and by["TRIPLE_FAULT"]["avg_ns"] is None
    tpl = {t["level"]: (t["ns"], t["cycles"]) for t in src["time_per_level"]}
    assert tpl == {0: (4100, 36000), 1: (2900, 2900), 2: (4000, 4000)}
    assert src["chain_roots"] == 3
    assert src["chains"] == [
        {"chain": "L2 CPUID > L1 VMREAD x2, VMWRITE, VMRESUME", "count": 2, "avg_exits": 5.0,
         "avg_ns": 1900.0, "avg_cycles": 10800.0},
        {"chain": "L2 IO_INSTRUCTION > L1 IO_INSTRUCTION, VMRESUME", "count": 1,
         "avg_exits": 3.0, "avg_ns": 1400.0, "avg_cycles": 6600.0},
    ]


def test_csv_writer_golden(cli, nested, tmp_path):
    out = tmp_path / "out.csv"
    assert cli("trace", "convert", nested, out).returncode == 0
    assert out.read_text() == NESTED.read_text()


def expected_bin(rows, flags=0):
    """The binary format as tracing/trace_file.h documents it."""
    head = struct.pack("<8s6I", b"TRTGTRC\n", 2, 32 + 32 * len(FIELDS), 64, flags, len(FIELDS), 0)
    table, off = b"", 0
    for name, size in FIELDS:
        table += struct.pack("<24sII", name.encode(), off, size)
        off += size
    body = b"".join(EVENT.pack(*(int(r[n]) for n, _ in FIELDS)) for r in rows)
    return head + table + body


def test_bin_writer_golden(cli, nested, tmp_path):
    out = tmp_path / "t.bin"
    assert cli("trace", "convert", nested, out).returncode == 0
    assert out.read_bytes() == expected_bin(csv_rows(NESTED))
    back = tmp_path / "back.csv"
    assert cli("trace", "convert", out, back).returncode == 0
    assert back.read_text() == NESTED.read_text()


def test_perfetto_writer_golden(cli, nested, tmp_path):
    out = tmp_path / "t.json"
    assert cli("trace", "convert", nested, out).returncode == 0
    assert out.read_text() == (DATA / "nested.perfetto.json").read_text()


def _slices(doc, tid, cat=None):
    return [e for e in doc["traceEvents"]
            if e["ph"] == "X" and e["tid"] == tid and (cat is None or e["cat"] == cat)]


def test_perfetto_structure(cli, nested, tmp_path):
    out = tmp_path / "t.json"
    assert cli("trace", "convert", "--format", "perfetto", nested, out).returncode == 0
    doc = json.loads(out.read_text())
    ns = lambda us: round(us * 1000)
    # Track 1 is vCPU0's L0: one slice per exit with its handling time.
    exits = [e for e in _slices(doc, 1) if e["cat"].endswith("exit")]
    assert len(exits) == 19
    assert sorted(ns(e["dur"]) for e in exits if e["cat"] == "L1 exit") == \
        sorted([200, 100, 400, 100, 100, 200, 400, 100, 100, 400, 400, 200, 400])
    chains = _slices(doc, 1, "chain")
    assert [(ns(c["ts"]), ns(c["dur"]), c["args"]["exits"]) for c in chains] == \
        [(2000, 1800, 5), (5000, 2000, 5), (8000, 1400, 3)]
    # Time per level from the running slices equals the report's.
    assert sum(ns(e["dur"]) for e in _slices(doc, 2)) == 2900
    assert sum(ns(e["dur"]) for e in _slices(doc, 3)) >= 4000  # + the open stretch at the end
    flows = [e for e in doc["traceEvents"] if e["ph"] in "sf"]
    assert len(flows) == 2 * 10  # one per L1 exit of the three chains
    # Slices on one track nest properly (Perfetto drops partial overlaps).
    for tid in (1, 2, 3):
        spans = sorted((ns(e["ts"]), -ns(e["dur"])) for e in _slices(doc, tid))
        stack = []
        for ts, negdur in spans:
            end = ts - negdur
            while stack and stack[-1] <= ts:
                stack.pop()
            assert not stack or end <= stack[-1], (tid, ts, end)
            stack.append(end)


def test_run_writes_all_formats_alike(cli, guest, tmp_path):
    b, c, j = tmp_path / "t.bin", tmp_path / "t.csv", tmp_path / "t.json"
    for path in (b, c, j):
        p = cli("run", "-q", "--trace", path, guest("hello"))
        assert p.returncode == 1, p.stderr
    assert b.read_bytes()[:8] == b"TRTGTRC\n"
    flags = struct.unpack_from("<I", b.read_bytes(), 20)[0]
    assert flags == 1  # TRACE_FILE_F_RING
    back = tmp_path / "back.csv"
    assert cli("trace", "convert", b, back).returncode == 0
    # Two runs differ in host time only.
    strip = lambda rows: [{k: v for k, v in r.items() if k != "ts_ns"} for r in rows]
    assert strip(csv_rows(back)) == strip(csv_rows(c))
    doc = json.loads(j.read_text())
    assert sum(1 for e in doc["traceEvents"] if e.get("cat") == "L1 exit") == \
        sum(1 for r in csv_rows(c) if r["kind_name"] == "exit")


def _one_line_error(p):
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("tortuga: ")
    return lines[0]


@pytest.mark.parametrize("content,message", [
    (b"", "empty file"),
    (b"hello world\n", "not a tortuga trace"),
    (b"TRTGTRC\n\x02\x00", "truncated trace header (10 of 32 bytes)"),
    (struct.pack("<8s6I", b"TRTGTRC\n", 9, 32, 64, 0, 0, 0), "version 9 is not one this tortuga reads"),
    (struct.pack("<8s6I", b"TRTGTRC\n", 2, 448, 48, 0, 13, 0), "events of 48 bytes"),
    (b'{"traceEvents":[]}', "Perfetto JSON is an output format"),
    (b"seq,ts_ns\n1,2\n", "not tortuga's CSV header"),
])
def test_bad_files_give_one_line(cli, tmp_path, content, message):
    bad = tmp_path / "bad.trace"
    bad.write_bytes(content)
    for cmd in (("report", bad), ("convert", bad, tmp_path / "o.csv")):
        line = _one_line_error(cli("trace", *cmd))
        assert message in line and str(bad) in line


def test_truncated_and_damaged_files(cli, nested, tmp_path):
    b = tmp_path / "t.bin"
    assert cli("trace", "convert", nested, b).returncode == 0
    data = b.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:448 + 64 * 3 + 10])
    line = _one_line_error(cli("trace", "report", cut))
    assert "truncated: 10 bytes after event 3" in line
    # A field table from another layout is refused by name.
    other = bytearray(data)
    other[32:32 + 24] = b"sequence".ljust(24, b"\0")
    (tmp_path / "other.bin").write_bytes(bytes(other))
    assert "field 0 is 'sequence'" in _one_line_error(cli("trace", "report", tmp_path / "other.bin"))
    rows = NESTED.read_text().splitlines()
    rows[3] = rows[3].replace(",1500,", ",15x0,", 1)
    (tmp_path / "bad.csv").write_text("\n".join(rows) + "\n")
    assert "bad.csv:4: field ts_ns" in _one_line_error(cli("trace", "report", tmp_path / "bad.csv"))
    rows = NESTED.read_text().splitlines()
    rows[5] = "1,2,3"
    (tmp_path / "short.csv").write_text("\n".join(rows) + "\n")
    assert "short.csv:6: expected 13 comma-separated numbers" in \
        _one_line_error(cli("trace", "report", tmp_path / "short.csv"))


def test_report_two_sources_svm_and_lost(cli):
    """tests/data/kvm_svm.csv: an AMD host's KVM events (SVM exit codes: IOIO
    0x7b, CPUID 0x72, HLT 0x78, AMD APM Vol. 2 Table C-1) with 5 events lost
    and a gap of 5 in their numbering, beside two in-process events."""
    p = cli("trace", "report", "--json", DATA / "kvm_svm.csv")
    assert p.returncode == 0, p.stderr
    tortuga_src, kvm = json.loads(p.stdout)["sources"]
    assert (tortuga_src["source"], tortuga_src["exits"], tortuga_src["span_cycles"]) == ("tortuga", 1, 2000)
    assert kvm["source"] == "kvm"
    assert (kvm["events"], kvm["exits"], kvm["lost"], kvm["missing"], kvm["unfinished_exits"]) == (6, 3, 5, 5, 1)
    assert kvm["span_cycles"] is None  # KVM events have no modelled cycles
    rows = {r["name"]: r for r in kvm["exits_by_level"][0]["reasons"]}
    assert set(rows) == {"IOIO", "CPUID", "HLT"} and {r["isa"] for r in rows.values()} == {"svm"}
    assert (rows["IOIO"]["avg_ns"], rows["CPUID"]["avg_ns"], rows["HLT"]["avg_ns"]) == (500.0, 100.0, None)
    assert rows["IOIO"]["avg_cycles"] is None
    tpl = {t["level"]: t["ns"] for t in kvm["time_per_level"]}
    assert tpl == {0: 600, 1: 1400}
    text = cli("trace", "report", DATA / "kvm_svm.csv").stdout
    assert "source: KVM tracepoints" in text and "WARNING: the trace is incomplete" in text


def test_perfetto_two_sources(cli, tmp_path):
    out = tmp_path / "k.json"
    assert cli("trace", "convert", DATA / "kvm_svm.csv", out).returncode == 0
    doc = json.loads(out.read_text())
    procs = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"] if e.get("name") == "process_name"}
    assert procs == {1: "tortuga", 2: "KVM tracepoints"}
    kvm_exits = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["pid"] == 2 and e["cat"] == "L1 exit"]
    assert sorted(e["name"] for e in kvm_exits) == ["CPUID", "HLT", "IOIO"]
    lost = [e for e in doc["traceEvents"] if e["ph"] == "i" and e["cat"] == "lost"]
    assert len(lost) == 1 and lost[0]["s"] == "g" and lost[0]["args"]["aux"] == "0x5"
