"""Multiboot v1 boot (Multiboot Specification 0.6.96): the loader, the
machine state at entry (3.2) and the information structure (3.3), checked
by the mbinfo guest from inside and here against the VM's configuration."""

import re
import struct

import pytest

import tortuga

MB_MAGIC = 0x1BADB002


def tap_failures(serial):
    return [l for l in serial.splitlines() if l.startswith("not ok")]


def test_mbinfo_entry_state_and_info(vm, guest):
    v = vm(mem="64M", boot="multiboot")
    v.load(guest("mbinfo"), ["hello=1", "x"])
    r = v.run()
    assert r.stop_reason == "debug-exit", v.serial
    assert not tap_failures(v.serial), v.serial
    assert r.exit_status == 1
    out = v.serial
    # 3.3: mem_lower is the conventional memory in KiB, mem_upper the memory
    # from 1 MiB to the first hole.
    assert "mem_lower=639 mem_upper=%d" % ((64 << 10) - 1024) in out
    # Like QEMU's -kernel, the command line starts with the kernel's name.
    assert 'cmdline="mbinfo.elf hello=1 x"' in out
    assert 'loader="tortuga"' in out
    mmap = [(int(b, 16), int(l, 16), int(t)) for b, l, t in
            re.findall(r"mmap base=0x([0-9a-f]+) len=0x([0-9a-f]+) type=(\d)", out)]
    assert mmap == [(0, 0x9fc00, 1), (0x9fc00, 0x400, 2), (0xf0000, 0x10000, 2),
                    (0x100000, (64 << 20) - 0x100000, 1)]


def test_mbinfo_high_memory_map(vm, guest):
    """RAM beyond the PCI hole at 3 GiB continues above 4 GiB."""
    v = vm(mem="3584M", boot="multiboot")
    v.load(guest("mbinfo"))
    v.run()
    assert not tap_failures(v.serial), v.serial
    mmap = re.findall(r"mmap base=0x([0-9a-f]+) len=0x([0-9a-f]+) type=(\d)", v.serial)
    assert ("100000000", "20000000", "1") in mmap
    assert "mem_upper=%d" % ((0xc0000000 - 0x100000) >> 10) in v.serial


def test_mbinfo_modules(vm, guest, tmp_path):
    blobs = [bytes(range(256)) * 5 + b"tail", b"second module"]
    strings = []
    for k, data in enumerate(blobs):
        p = tmp_path / ("mod%d.bin" % k)
        p.write_bytes(data)
        strings.append("%s arg%d" % (p, k))
    v = vm(mem="64M", boot="multiboot")
    for k in range(len(blobs)):
        v.add_module(strings[k].split()[0], strings[k])
    v.load(guest("mbinfo"))
    v.run()
    assert not tap_failures(v.serial), v.serial
    mods = re.findall(r'module (\d+) start=0x([0-9a-f]+) len=(\d+) sum=0x([0-9a-f]+) string="([^"]*)"',
                      v.serial)
    assert len(mods) == 2
    for (idx, start, ln, s, string), data, want in zip(mods, blobs, strings):
        h = 0
        for b in data:
            h = (h * 31 + b) & 0xffffffff
        assert int(ln) == len(data) and int(s, 16) == h and string == want
        assert int(start, 16) % 4096 == 0


def test_cli_multiboot_module(cli, guest, tmp_path):
    m = tmp_path / "m.bin"
    m.write_bytes(b"abc")
    p = cli("run", "-q", "--boot", "multiboot", "--module", "%s one two" % m, guest("mbinfo"))
    assert p.returncode == 1, p.stderr
    assert 'len=3' in p.stdout and ('string="%s one two"' % m) in p.stdout


def header(flags, extra=b""):
    return struct.pack("<III", MB_MAGIC, flags, (-(MB_MAGIC + flags)) & 0xffffffff) + extra


def test_address_fields_raw_binary(vm):
    """3.1.3: with flags bit 16 the header's address fields say where the
    image goes, so a flat binary (no ELF) boots."""
    load = 0x200000
    # header at file offset 0, then code: mov eax, 0x21; out 0xf4, eax; hlt
    code = bytes([0xB8, 0x21, 0, 0, 0, 0xE7, 0xF4, 0xF4])
    hdr_len = 32
    entry = load + hdr_len
    img = header(0x10000, struct.pack("<IIIII", load, load, load + hdr_len + len(code),
                                      load + 0x3000, entry)) + code
    v = vm(boot="multiboot")
    v.load_bytes(img)
    r = v.run()
    assert r.stop_reason == "debug-exit" and r.exit_status == (0x21 << 1) | 1
    # EBX pointed at the information structure placed after the bss.
    assert v.reg("rbx") >= load + 0x3000


def test_loader_errors(vm, guest):
    v = vm(boot="multiboot")
    with pytest.raises(tortuga.TortugaError, match="no Multiboot header"):
        v.load(guest("hello"))
    v = vm(boot="multiboot")
    with pytest.raises(tortuga.TortugaError, match="requires features"):
        v.load_bytes(header(0x4) + b"\0" * 64)
    v = vm(boot="multiboot")
    with pytest.raises(tortuga.TortugaError, match="beyond the file"):
        v.load_bytes(header(0x10000, struct.pack("<IIIII", 0x200000, 0x200000, 0x300000, 0, 0x200000)))
    v = vm()
    with pytest.raises(tortuga.TortugaError, match="--boot multiboot"):
        v.load(guest("mbinfo"))
    v = vm()
    with pytest.raises(tortuga.TortugaError, match="multiboot"):
        v.add_module(guest("hello"))
