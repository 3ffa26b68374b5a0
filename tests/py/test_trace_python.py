"""The Python side of tracing: reading trace files into objects and numpy
arrays (also while they grow), exit pairing, plots, experiment matrices and
the pytest fixtures. Expected values come from tests/data/nested.csv, the
hand-written trace described in test_trace_files.py."""

import shutil
import struct

import pytest

import tortuga
from tortuga import analysis, plots
from tortuga.experiment import Policy, UnsupportedPolicy, parametrize_policies, policy_matrix, run_matrix
from tortuga.pytest_plugin import tortuga_vm  # noqa: F401 (a fixture)

from test_trace_files import NESTED, csv_rows

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def nested_bin(cli, tmp_path):
    out = tmp_path / "nested.bin"
    assert cli("trace", "convert", NESTED, out).returncode == 0
    return out


def test_read_csv_and_bin_into_objects(nested_bin):
    rows = csv_rows(NESTED)
    for path in (NESTED, nested_bin):
        evs = tortuga.read_events(path)
        assert len(evs) == 48
        for e, r in zip(evs, rows):
            assert {k: getattr(e, k) for k in tortuga.EVENT_FIELDS} == \
                {k: int(r[k]) for k in tortuga.EVENT_FIELDS}
            assert (e.kind_name, e.reason_name or "") == (r["kind_name"], r["reason_name"])


def test_numpy_arrays(nested_bin):
    np = pytest.importorskip("numpy")
    t = tortuga.open_trace(nested_bin)
    a = t.to_numpy()
    assert a.shape == (48,)
    # Field sizes come from the file's field table (u16 reason, u8 kind, ...).
    assert a.dtype["reason"] == np.dtype("<u2") and a.dtype["kind"] == np.dtype("u1")
    assert a.dtype.itemsize == 64
    exits = a[a["kind"] == 0]
    assert len(exits) == 19 and int((exits["level"] == 2).sum()) == 6
    assert list(a["seq"]) == list(range(1, 49))
    assert int(a["ts_ns"][-1]) == 12100
    c = tortuga.open_trace(NESTED).to_numpy()
    assert all((c[f] == a[f]).all() for f in tortuga.EVENT_FIELDS)


def test_follow_a_growing_file(nested_bin, tmp_path):
    data = nested_bin.read_bytes()
    header = 32 + 13 * 32
    live = tmp_path / "live.bin"
    live.write_bytes(data[:header + 64 * 2 + 30])  # two events and part of a third
    t = tortuga.open_trace(live)
    assert [e.seq for e in t.read_new()] == [1, 2]
    assert t.read_new() == []
    with open(live, "ab") as f:
        f.write(data[header + 64 * 2 + 30:header + 64 * 5])
    assert [e.seq for e in t.read_new()] == [3, 4, 5]
    with pytest.raises(tortuga.TraceFileError, match="truncated"):
        with open(live, "ab") as f:
            f.write(b"\0" * 10)
        t.events()


def test_c_reader_follows_a_growing_file(nested_bin, tmp_path):
    """tortuga_trace_open(TORTUGA_TRACE_FOLLOW): an incomplete last event is
    not an error; without the flag it is."""
    import ctypes
    from tortuga import lib
    from tortuga.vm import CEvent
    data = nested_bin.read_bytes()
    header = 32 + 13 * 32
    live = tmp_path / "live.bin"
    live.write_bytes(data[:header + 64 * 3 + 20])
    buf = (CEvent * 64)()
    h = ctypes.c_void_p()
    assert lib.tortuga_trace_open(str(live).encode(), 0, ctypes.byref(h)) == 0
    assert lib.tortuga_trace_read(h, buf, 64) == 3
    assert lib.tortuga_trace_read(h, buf, 64) < 0
    assert b"truncated: 20 bytes after event 3" in lib.tortuga_trace_error()
    lib.tortuga_trace_close(h)
    assert lib.tortuga_trace_open(str(live).encode(), 1, ctypes.byref(h)) == 0
    assert lib.tortuga_trace_read(h, buf, 64) == 3
    assert lib.tortuga_trace_read(h, buf, 64) == 0  # nothing complete yet
    with open(live, "ab") as f:
        f.write(data[header + 64 * 3 + 20:])
    assert lib.tortuga_trace_read(h, buf, 64) == 45
    assert [buf[i].seq for i in (0, 44)] == [4, 48]
    lib.tortuga_trace_close(h)


def test_follow_a_growing_csv(tmp_path):
    text = NESTED.read_text()
    cut = text.index("\n", text.index("\n3,") + 1) + 5  # header, events 1-3 and a partial line
    live = tmp_path / "live.csv"
    live.write_text(text[:cut])
    t = tortuga.open_trace(live)
    assert [e.seq for e in t.read_new()] == [1, 2, 3]
    with open(live, "a") as f:
        f.write(text[cut:])
    assert [e.seq for e in t.read_new()] == list(range(4, 49))


def test_reader_errors(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"nothing")
    with pytest.raises(tortuga.TraceFileError, match="not a tortuga trace"):
        tortuga.open_trace(p)
    p.write_bytes(b"TRTGTRC\n\x02")
    with pytest.raises(tortuga.TraceFileError, match="truncated trace header"):
        tortuga.open_trace(p)
    p.write_bytes(struct.pack("<8s6I", b"TRTGTRC\n", 2, 64, 64, 0, 1, 0) + struct.pack("<24sII", b"seq", 0, 8))
    with pytest.raises(tortuga.TraceFileError, match="lack fields"):
        tortuga.open_trace(p)


def test_exit_pairing_hand_values():
    evs = tortuga.read_events(NESTED)
    times = analysis.handling_times(evs)
    assert sorted(times[(1, "VMWRITE")]) == [200, 400]
    assert sorted(times[(2, "EXTERNAL_INTERRUPT")]) == [100, 300]
    assert (2, "TRIPLE_FAULT") not in times  # never got an entry
    assert set(analysis.handling_times(evs, "cycles")[(1, "VMREAD")]) == {2000}
    assert analysis.exit_counts(evs)[(1, "VMREAD")] == 4
    unfinished = [x for x in analysis.exits(evs) if x.entry is None]
    assert [x.event.seq for x in unfinished] == [47]


def test_report_from_python_is_the_cli_report():
    rep = analysis.report(NESTED)
    src = rep["sources"][0]
    assert src["exits"] == 19 and src["chain_roots"] == 3


def test_plots_write_pngs(tmp_path):
    evs = tortuga.read_events(NESTED)
    for fn in (plots.exit_reason_histogram, plots.latency_cdf, plots.exits_over_time):
        out = fn(evs, str(tmp_path / (fn.__name__ + ".png")))
        data = open(out, "rb").read()
        assert data[:8] == PNG and len(data) > 5000
    # Empty traces still give a (labelled, empty) plot rather than an error.
    assert open(plots.latency_cdf([], str(tmp_path / "empty.png")), "rb").read(8) == PNG


def test_policy_matrix_names_and_settings():
    m = policy_matrix(mem=["64M", "128M"], max_insns=[10**6], args=[["a"], ["b", "c"]])
    assert [p.name for p in m] == ["max_insns=1000000,mem=64M,args0", "max_insns=1000000,mem=64M,args1",
                                   "max_insns=1000000,mem=128M,args0", "max_insns=1000000,mem=128M,args1"]
    assert m[3].vm == {"mem": "128M", "max_insns": 10**6} and m[3].args == ["b", "c"]
    with pytest.raises(UnsupportedPolicy, match="vmcs_shadowing"):
        Policy("x", {"vmcs_shadowing": True}).make_vm()


def test_unsupported_policies_become_skips():
    mark = parametrize_policies([Policy("ok", {"mem": "64M"}), Policy("future", {"ept": False})])
    ok, future = mark.args[1]
    assert ok.marks == () and ok.id == "ok"
    (skip,) = future.marks
    assert skip.name == "skip" and "setting(s) ept not supported" in skip.kwargs["reason"]


@parametrize_policies(policy_matrix(trace_ring_events=[64, 1 << 16]))
def test_fixtures_run_a_policy(tortuga_vm, policy, guest):  # noqa: F811
    """The ring size is a policy here: a 64-event ring without a reader keeps
    the first 64 events and counts the rest as dropped."""
    v = tortuga_vm(policy, mem="64M")
    v.load(guest("hello"), policy.args)
    r = v.run()
    events = v.trace()
    assert len(events) + r.trace_dropped == 2 * r.exits + 1
    assert len(events) == min(2 * r.exits + 1, policy.vm["trace_ring_events"])


def test_run_matrix_sees_more_io_with_longer_output(guest, tmp_path):
    runs = run_matrix(guest("hello"), policy_matrix(args=[["exit=0"], ["exit=0", "y" * 300]]),
                      str(tmp_path), mem="64M")
    short, long_ = runs
    assert long_.result.exits - short.result.exits >= 300  # a serial byte is an I/O exit
    assert short.report["sources"][0]["exits"] == short.result.exits
    assert tortuga.open_trace(long_.trace).flags == tortuga.tracefile.FLAG_RING
