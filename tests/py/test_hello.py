"""The thinnest path: a guest boots, prints, exits with a status."""

import json

import tortuga


def test_hello_serial_and_status(vm, guest):
    v = vm()
    v.load(guest("hello"), ["exit=3", "extra"])
    r = v.run()
    assert r.stop_reason == "debug-exit"
    assert r.exit_status == (3 << 1) | 1
    assert "Hello from a tortuga guest!" in v.serial
    assert 'command line: "exit=3 extra"' in v.serial
    assert "RAM: 64 MiB" in v.serial
    assert r.instructions > 0


def test_hello_exits_are_io_and_traced(vm, guest):
    v = vm()
    v.load(guest("hello"))
    r = v.run()
    by_reason = v.exits_by_reason()
    # Every serial byte and the debug-exit write are I/O exits at L0.
    assert by_reason.get("IO_INSTRUCTION", 0) >= len(v.serial)
    assert sum(by_reason.values()) == r.exits
    events = v.trace()
    exits = [e for e in events if e.kind_name == "exit"]
    entries = [e for e in events if e.kind_name == "entry"]
    assert len(exits) == r.exits
    # Every exit is followed by its entry, which names it as parent.
    assert [e.parent for e in entries] == [e.seq for e in exits][:len(entries)]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].kind_name == "stop"
    # I/O exit qualification: port in bits 31:16 (SDM Table 28-5).
    ports = {(e.qual >> 16) & 0xffff for e in exits}
    assert 0x3f8 + 5 in ports and 0xf4 in ports


def test_cli_runs_hello_and_writes_stats(cli, guest, tmp_path):
    stats = tmp_path / "s.json"
    p = cli("run", "--stats", stats, guest("hello"), "--", "exit=2")
    assert p.returncode == 5, p.stderr
    assert "Hello from a tortuga guest!" in p.stdout
    s = json.loads(stats.read_text())
    for key in ("exit_status", "instructions", "wall_ns", "exits", "exits_by_reason"):
        assert key in s
    assert s["exit_status"] == 5
    assert s["exits"] == sum(s["exits_by_reason"].values())
    assert s["exits_by_reason"]["IO_INSTRUCTION"] > 0
