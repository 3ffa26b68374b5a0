"""The CPU state dump (`tortuga run` on a triple fault or at --max-insns,
tortuga_vm_dump_state()) in the layout of QEMU's `info registers`
(target/i386/cpu-dump.c). The expected texts are golden files written from
QEMU's format and the architectural state each case must have."""

import struct

MB = 0x1BADB002


def raw_multiboot(code, load=0x200000):
    """A flat Multiboot kernel (address fields, Multiboot 3.1.3) at load."""
    hdr = 32
    flags = 0x10003
    return (struct.pack("<III", MB, flags, (-(MB + flags)) & 0xffffffff)
            + struct.pack("<IIIII", load, load, load + hdr + len(code), load + 0x1000, load + hdr) + code)


# mov eax, 0x12345678; mov esp, 0x300000; cli; hlt
HLT_CODE = b"\xb8\x78\x56\x34\x12" + b"\xbc\x00\x00\x30\x00" + b"\xfa\xf4"

DUMP_32 = """\
EAX=12345678 EBX=00201000 ECX=00000000 EDX=00000000
ESI=00000000 EDI=00000000 EBP=00000000 ESP=00300000
EIP=0020002a EFL=00000002 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0
ES =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
CS =0008 00000000 ffffffff 00cf9b00 DPL=0 CS32 [-RA]
SS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
DS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
FS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
GS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
LDT=0000 00000000 0000ffff 00008200 DPL=0 LDT
TR =0000 00000000 0000ffff 00008b00 DPL=0 TSS32-busy
GDT=     00000800 00000017
IDT=     00000000 000003ff
CR0=00000011 CR2=00000000 CR3=00000000 CR4=00000000
DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 
DR6=00000000ffff0ff0 DR7=0000000000000400
EFER=0000000000000000
"""

# An AP after reset, waiting for its SIPI (SDM Vol. 3A Table 10-1; EDX holds
# the CPUID.1 signature of the default model: family 6, model 0x55, stepping 4).
DUMP_RESET = """\
EAX=00000000 EBX=00000000 ECX=00000000 EDX=00050654
ESI=00000000 EDI=00000000 EBP=00000000 ESP=00000000
EIP=0000fff0 EFL=00000002 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=1
ES =0000 00000000 0000ffff 00009300
CS =f000 ffff0000 0000ffff 00009b00
SS =0000 00000000 0000ffff 00009300
DS =0000 00000000 0000ffff 00009300
FS =0000 00000000 0000ffff 00009300
GS =0000 00000000 0000ffff 00009300
LDT=0000 00000000 0000ffff 00008200
TR =0000 00000000 0000ffff 00008b00
GDT=     00000000 0000ffff
IDT=     00000000 0000ffff
CR0=60000010 CR2=00000000 CR3=00000000 CR4=00000000
DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 
DR6=00000000ffff0ff0 DR7=0000000000000400
EFER=0000000000000000
"""


def test_dump_32bit_protected_mode(vm):
    v = vm(boot="multiboot", max_insns=2)
    v.load_bytes(raw_multiboot(HLT_CODE))
    r = v.run()
    assert r.stop_reason == "insn-limit"
    assert v.dump_state() == DUMP_32


def test_dump_reset_state_of_an_ap(vm):
    v = vm(boot="multiboot", vcpus=2, max_insns=2)
    v.load_bytes(raw_multiboot(HLT_CODE))
    v.run()
    assert v.dump_state(vcpu=1) == DUMP_RESET


def test_dump_64bit(vm, guest):
    v = vm(max_insns=1)
    v.load(guest("hello"))
    v.run()
    d = v.dump_state().splitlines()
    assert d[0].startswith("RAX=") and len(d[0].split()) == 4
    assert d[3].startswith("R12=")
    assert d[4].startswith("RIP=0000000000100") and d[4].endswith("CPL=0 II=0 A20=1 SMM=0 HLT=0")
    assert d[6] == "CS =0008 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]"
    assert d[12] == "TR =0000 0000000000000000 0000ffff 00008b00 DPL=0 TSS64-busy"
    assert d[15].startswith("CR0=80010033 CR2=0000000000000000 CR3=0000000000010000 CR4=00000620")
    assert d[-1] == "EFER=0000000000000d00"


def test_cli_dumps_on_triple_fault_and_insn_limit(cli, tmp_path):
    # lidt [a zero-limit IDTR]; int3: #GP on delivery, #DF, then shutdown.
    load = 0x200000
    idtr = load + 32 + 0x20
    code = (b"\x0f\x01\x1d" + struct.pack("<I", idtr) + b"\xcc").ljust(0x20, b"\x90") + b"\0" * 6
    img = tmp_path / "tf.bin"
    img.write_bytes(raw_multiboot(code, load))
    p = cli("run", "-q", "--boot", "multiboot", img)
    assert p.returncode == 4
    assert "triple-faulted" in p.stderr and "EIP=00200027" in p.stderr and "IDT=     00000000 00000000" in p.stderr
    hlt = tmp_path / "hlt.bin"
    hlt.write_bytes(raw_multiboot(HLT_CODE))
    p = cli("run", "--smp", "2", "--boot", "multiboot", "--max-insns", "2", hlt)
    assert p.returncode == 6
    assert "CPU#0\nEAX=12345678" in p.stderr and "CPU#1\nEAX=00000000" in p.stderr
