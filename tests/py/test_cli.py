"""The `tortuga` command: help, version, usage errors (one line on stderr,
status 2), and what each run option produces."""

import csv
import ctypes
import json
import struct

import pytest

import tortuga
from conftest import run_cli

STATUS_USAGE = 2
STATUS_INSN_LIMIT = 6


def one_error_line(p):
    lines = p.stderr.splitlines()
    assert len(lines) == 1, "want one line on stderr, got:\n" + p.stderr
    assert lines[0].startswith("tortuga: ")
    return lines[0]


def test_help():
    p = run_cli("--help")
    assert p.returncode == 0 and "usage" in p.stdout.lower() and "run" in p.stdout
    p = run_cli("run", "--help")
    assert p.returncode == 0
    for opt in ("--mem", "--boot", "--serial", "--max-insns", "--trace", "--stats"):
        assert opt in p.stdout


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag):
    p = run_cli(flag)
    assert p.returncode == 0 and p.stdout.strip() == "tortuga " + tortuga.lib.tortuga_version().decode()


def test_no_arguments_prints_usage():
    p = run_cli()
    assert p.returncode == STATUS_USAGE and "usage" in p.stderr.lower()


@pytest.mark.parametrize("args,words", [
    (["frobnicate"], "unknown command"),
    (["run", "--bogus", "x.elf"], "unknown option"),
    (["run", "-z", "x.elf"], "unknown option"),
    (["run"], "no guest"),
    (["run", "--mem"], "needs a value"),
    (["run", "--boot", "multiboot2", "x.elf"], "--boot"),
    (["run", "--max-insns", "0", "x.elf"], "--max-insns"),
    (["run", "--max-insns", "lots", "x.elf"], "--max-insns"),
    (["run", "--max-insns", "99999999999999999999", "x.elf"], "--max-insns"),
])
def test_usage_errors(args, words):
    p = run_cli(*args)
    assert p.returncode == STATUS_USAGE
    assert words in one_error_line(p)


@pytest.mark.parametrize("size", ["1X", "0", "1T", "", "-5", "1.5G", "M", "64 M", "18446744073709551616",
                                  "16777216T", "1M"])
def test_bad_memory_sizes(guest, size):
    """Sizes that do not parse, or fall outside 2 MiB .. 256 GiB."""
    p = run_cli("run", "--mem", size, guest("hello"))
    assert p.returncode == STATUS_USAGE
    line = one_error_line(p)
    assert "mem" in line.lower() or "memory" in line.lower()


@pytest.mark.parametrize("size,mib", [("64M", 64), ("2M", 2), ("131072K", 128), ("1G", 1024), ("0x4000000", 64)])
def test_good_memory_sizes(guest, size, mib):
    p = run_cli("run", "-q", "--mem", size, guest("hello"))
    assert p.returncode == 1, p.stderr
    assert "RAM: %d MiB" % mib in p.stdout


def test_missing_guest_file(tmp_path):
    p = run_cli("run", tmp_path / "nope.elf")
    assert p.returncode == STATUS_USAGE
    line = one_error_line(p)
    assert "nope.elf" in line and "No such file" in line


def test_unexpected_argument_needs_double_dash(guest):
    p = run_cli("run", guest("hello"), "exit=1")
    assert p.returncode == STATUS_USAGE and "--" in one_error_line(p)


def test_guest_arguments_after_double_dash(guest):
    p = run_cli("run", "-q", guest("hello"), "--", "exit=4", "x=y")
    assert p.returncode == (4 << 1) | 1
    assert 'command line: "exit=4 x=y"' in p.stdout


def test_serial_to_file(guest, tmp_path):
    out = tmp_path / "serial.txt"
    p = run_cli("run", "-q", "--serial", out, guest("hello"))
    assert p.returncode == 1, p.stderr
    assert "Hello" not in p.stdout
    assert "Hello from a tortuga guest!" in out.read_text()


def test_serial_to_unwritable_file(guest, tmp_path):
    p = run_cli("run", "--serial", tmp_path / "no" / "such" / "dir", guest("hello"))
    assert p.returncode == STATUS_USAGE and "--serial" in one_error_line(p)


def test_max_insns_stops_with_status_6_and_dump(guest):
    p = run_cli("run", "--max-insns", "10k", guest("cpuloop"))
    assert p.returncode == STATUS_INSN_LIMIT
    assert "instruction limit" in p.stderr
    for reg in ("RIP=", "RSP=", "CR3=", "CS ="):
        assert reg in p.stderr
    assert "10000 instructions" in p.stderr


def test_max_insns_exact_through_the_harness(vm, guest):
    v = vm(max_insns=12345)
    v.load(guest("cpuloop"))
    r = v.run()
    assert r.stop_reason == "insn-limit" and r.exit_status == STATUS_INSN_LIMIT
    assert r.instructions == 12345


def test_trace_csv_is_parseable(guest, tmp_path):
    t = tmp_path / "t.csv"
    p = run_cli("run", "-q", "--trace", t, guest("hello"))
    assert p.returncode == 1, p.stderr
    rows = list(csv.DictReader(t.open()))
    assert rows, "empty trace"
    assert [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))
    kinds = {r["kind_name"] for r in rows}
    assert {"exit", "entry", "stop"} <= kinds
    assert rows[-1]["kind_name"] == "stop"
    assert any(r["reason_name"] == "IO_INSTRUCTION" for r in rows if r["kind_name"] == "exit")


def test_trace_binary_is_parseable(guest, tmp_path):
    """Header (tracing/trace_file.h) then fixed-size struct tortuga_event
    records, laid out as tortuga_event_fields() says."""
    t = tmp_path / "t.bin"
    p = run_cli("run", "-q", "--trace", t, guest("hello"))
    assert p.returncode == 1, p.stderr
    data = t.read_bytes()
    magic, version, header_size, event_size = struct.unpack_from("<8sIII", data)
    assert magic == b"TRTGTRC\n" and version >= 1
    assert event_size == ctypes.sizeof(tortuga.vm.CEvent)
    body = data[header_size:]
    assert len(body) % event_size == 0 and body
    events = [tortuga.vm.CEvent.from_buffer_copy(body, k) for k in range(0, len(body), event_size)]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert tortuga.event_kind_name(events[-1].kind) == "stop"


def test_trace_to_unwritable_file(guest, tmp_path):
    p = run_cli("run", "--trace", tmp_path / "no" / "t.csv", guest("hello"))
    assert p.returncode != 0 and "--trace" in one_error_line(p)


def test_stats_keys(guest, tmp_path):
    s = tmp_path / "s.json"
    p = run_cli("run", "-q", "--stats", s, guest("hello"), "--", "exit=2")
    assert p.returncode == 5, p.stderr
    st = json.loads(s.read_text())
    assert st["exit_status"] == 5
    for key in ("instructions", "wall_ns", "exits"):
        assert isinstance(st[key], int) and st[key] > 0
    assert isinstance(st["exits_by_reason"], dict)
    assert st["exits"] == sum(st["exits_by_reason"].values())
    assert all(name.isupper() for name in st["exits_by_reason"])


def test_stats_after_insn_limit(guest, tmp_path):
    s = tmp_path / "s.json"
    p = run_cli("run", "-q", "--max-insns", "5000", "--stats", s, guest("cpuloop"))
    assert p.returncode == STATUS_INSN_LIMIT
    st = json.loads(s.read_text())
    assert st["exit_status"] == STATUS_INSN_LIMIT and st["instructions"] == 5000


def test_report(guest):
    p = run_cli("run", "--report", guest("hello"))
    assert p.returncode == 1
    assert "IO_INSTRUCTION" in p.stderr and "total" in p.stderr
