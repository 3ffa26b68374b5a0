"""Build minimal ELF64 guests from raw machine code, for tests that need to
know exactly which instructions a guest executes (ELF-64 Object File Format,
version 1.5: file header, then one PT_LOAD program header)."""

import struct

LOAD_ADDR = 0x100000  # guests are linked at 1 MiB (README "Guests")

# x86-64 encodings used by tests (Intel SDM Vol. 2).
NOP = b"\x90"


def mov_al(v):
    return b"\xb0" + bytes([v & 0xFF])  # MOV AL, imm8


def out_imm8(port):
    return b"\xe6" + bytes([port & 0xFF])  # OUT imm8, AL


def debug_exit(v):
    """Write v to the debug-exit port 0xf4: tortuga stops with (v << 1) | 1."""
    return mov_al(v) + out_imm8(0xF4)


def elf64(code, entry=LOAD_ADDR):
    ehdr_size, phdr_size, offset = 64, 56, 0x1000
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # ELFCLASS64, LSB, EV_CURRENT
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, ehdr_size, 0, 0,
                               ehdr_size, phdr_size, 1, 64, 0, 0)  # ET_EXEC, EM_X86_64
    phdr = struct.pack("<IIQQQQQQ", 1, 5, offset, LOAD_ADDR, LOAD_ADDR, len(code), len(code),
                       0x1000)  # PT_LOAD, PF_R | PF_X
    head = ehdr + phdr
    return head + bytes(offset - len(head)) + bytes(code)
