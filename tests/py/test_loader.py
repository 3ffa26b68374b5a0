"""Bad guest images: ELF files crafted here, each one defect away from a
valid image that runs. Through the CLI each must give exactly one line on
stderr and status 2; through the harness, a TortugaError with a one-line
message. Never a crash.

ELF layout: System V ABI gABI, "ELF Header" and "Program Header"; x86-64
psABI for EM_X86_64 (62)."""

import struct

import pytest

import tortuga
from conftest import run_cli

STATUS_USAGE = 2

ELF64_EHDR = struct.Struct("<4sBBBBB7sHHIQQQIHHHHHH")
ELF64_PHDR = struct.Struct("<IIQQQQQQ")
ELF32_EHDR = struct.Struct("<4sBBBBB7sHHIIIIIHHHHHH")
PT_LOAD, PF_RWX = 1, 7
ET_EXEC, ET_DYN = 2, 3
EM_X86_64, EM_AARCH64 = 62, 183

# mov $1, %al; out %al, $0xf4; hlt  -> debug-exit value 1, status 3
CODE = bytes([0xb0, 0x01, 0xe6, 0xf4, 0xf4])
LOAD_AT = 0x100000


def elf64(segments, entry=LOAD_AT, etype=ET_EXEC, machine=EM_X86_64, cls=2, data=1):
    """segments: list of (paddr, file bytes, memsz[, vaddr])."""
    phoff = ELF64_EHDR.size if segments else 0
    off = ELF64_EHDR.size + ELF64_PHDR.size * len(segments)
    phdrs, blobs = b"", b""
    for seg in segments:
        paddr, body, memsz = seg[:3]
        vaddr = seg[3] if len(seg) > 3 else paddr
        phdrs += ELF64_PHDR.pack(PT_LOAD, PF_RWX, off + len(blobs), vaddr, paddr, len(body), memsz, 0x1000)
        blobs += body
    ident_pad = bytes(7)
    eh = ELF64_EHDR.pack(b"\x7fELF", cls, data, 1, 0, 0, ident_pad, etype, machine, 1, entry, phoff, 0, 0,
                         ELF64_EHDR.size, ELF64_PHDR.size, len(segments), 64, 0, 0)
    return eh + phdrs + blobs


def good():
    return elf64([(LOAD_AT, CODE, len(CODE))])


def elf32():
    eh = ELF32_EHDR.pack(b"\x7fELF", 1, 1, 1, 0, 0, bytes(7), ET_EXEC, 3, 1, LOAD_AT, 52, 0, 0, 52, 32, 1, 40, 0, 0)
    ph = struct.pack("<IIIIIIII", PT_LOAD, 84, LOAD_AT, LOAD_AT, len(CODE), len(CODE), PF_RWX, 0x1000)
    return eh + ph + CODE


def truncated_segment():
    img = good()
    return img[:-2]


def bad_phoff():
    img = bytearray(good())
    struct.pack_into("<Q", img, 32, 1 << 40)  # e_phoff far beyond the file
    return bytes(img)


def too_many_phdrs():
    img = bytearray(good())
    struct.pack_into("<H", img, 56, 0xffff)  # e_phnum
    return bytes(img)


BAD_IMAGES = {
    "not-elf": (b"#!/bin/sh\necho this is not an ELF file\n", "not an ELF"),
    "zero-length": (b"", "not an ELF"),
    "truncated-header": (good()[:20], None),
    "truncated-segment": (truncated_segment(), "truncated"),
    "elf32": (elf32(), "32-bit"),
    "big-endian": (elf64([(LOAD_AT, CODE, len(CODE))], data=2), "endian"),
    "bad-class": (elf64([(LOAD_AT, CODE, len(CODE))], cls=9), "ELF class"),
    "wrong-machine": (elf64([(LOAD_AT, CODE, len(CODE))], machine=EM_AARCH64), "machine"),
    "et-dyn": (elf64([(LOAD_AT, CODE, len(CODE))], etype=ET_DYN), "ET_EXEC"),
    "below-1mib": (elf64([(0x1000, CODE, len(CODE))], entry=0x1000), "1 MiB"),
    "beyond-ram": (elf64([(1 << 30, CODE, len(CODE))], entry=1 << 30), "RAM"),
    "straddles-ram-end": (elf64([(LOAD_AT, CODE, 64 << 20)]), "RAM"),
    "wraps-address-space": (elf64([(LOAD_AT, CODE, (1 << 64) - LOAD_AT + 0x1000)]), None),
    "filesz-above-memsz": (elf64([(LOAD_AT, CODE, 2)]), "file size"),
    "overlapping": (elf64([(LOAD_AT, CODE, 0x2000), (LOAD_AT + 0x1000, CODE, len(CODE))]), "overlap"),
    "entry-outside": (elf64([(LOAD_AT, CODE, len(CODE))], entry=0x300000), "entry"),
    "no-load-segments": (elf64([]), "loadable"),
    "phoff-beyond-file": (bad_phoff(), None),
    "phnum-too-large": (too_many_phdrs(), None),
}


def test_the_crafted_base_image_runs(tmp_path):
    """The images below are one defect away from this one, which works."""
    f = tmp_path / "good.elf"
    f.write_bytes(good())
    p = run_cli("run", "-q", "--mem", "64M", f)
    assert p.returncode == 3, p.stderr
    # And with a second segment and a .bss-like tail.
    f.write_bytes(elf64([(LOAD_AT, CODE, 0x3000), (LOAD_AT + 0x10000, b"data", 0x100)]))
    assert run_cli("run", "-q", f).returncode == 3


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_bad_image_cli(tmp_path, name):
    image, words = BAD_IMAGES[name]
    f = tmp_path / (name + ".elf")
    f.write_bytes(image)
    p = run_cli("run", "--mem", "64M", f)
    assert p.returncode == STATUS_USAGE, "status %d, stderr:\n%s" % (p.returncode, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1, "want one line on stderr, got:\n" + p.stderr
    assert lines[0].startswith("tortuga: ") and f.name in lines[0]
    if words:
        assert words in lines[0]
    assert p.stdout == ""


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_bad_image_harness(tmp_path, vm, name):
    image, words = BAD_IMAGES[name]
    f = tmp_path / (name + ".elf")
    f.write_bytes(image)
    v = vm(mem="64M")
    with pytest.raises(tortuga.TortugaError) as e:
        v.load(f)
    msg = str(e.value)
    assert msg and "\n" not in msg
    if words:
        assert words in msg
    # The VM stays usable: nothing was loaded, so run() refuses cleanly...
    with pytest.raises(tortuga.TortugaError):
        v.run()
    # ...and a good image still loads into it.
    good_f = tmp_path / "good.elf"
    good_f.write_bytes(good())
    v.load(good_f)
    assert v.run().exit_status == 3


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_bad_image_from_memory(vm, name):
    image, _ = BAD_IMAGES[name]
    v = vm(mem="64M")
    with pytest.raises(tortuga.TortugaError) as e:
        v.load_bytes(image)
    assert "\n" not in str(e.value)


def test_directory(tmp_path, vm):
    p = run_cli("run", tmp_path)
    assert p.returncode == STATUS_USAGE
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and "not a regular file" in lines[0]
    with pytest.raises(tortuga.TortugaError):
        vm().load(tmp_path)


def test_unreadable_file(tmp_path):
    import os
    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    f = tmp_path / "secret.elf"
    f.write_bytes(good())
    f.chmod(0)
    p = run_cli("run", f)
    assert p.returncode == STATUS_USAGE and len(p.stderr.splitlines()) == 1


def test_second_load_is_refused(tmp_path, vm):
    f = tmp_path / "good.elf"
    f.write_bytes(good())
    v = vm()
    v.load(f)
    with pytest.raises(tortuga.TortugaError) as e:
        v.load(f)
    assert "already" in str(e.value)
