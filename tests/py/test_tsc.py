"""The emulated TSC is the cost model's clock (README "Cost model"): with the
deterministic clock every retired instruction costs one cycle, so two RDTSCs
see exactly the instructions between them -- also in the middle of a decoded
block, where tortuga has not yet added the block's instructions to the vCPU's
count (the trace's cycles and RDTSC must agree)."""

import elfgen
import tortuga

RDTSC = b"\x0f\x31"
MOV_R8_RAX = b"\x49\x89\xc0"  # mov r8, rax
SUB_RAX_R8 = b"\x4c\x29\xc0"  # sub rax, r8
OUT_F4_AL = b"\xe6\xf4"  # out 0xf4, al
HLT = b"\xf4"


def run(code):
    vm = tortuga.VM(mem="16M", backend="emu")
    vm.load_bytes(elfgen.elf64(code))
    res = vm.run()
    vm.close()
    return res


def test_rdtsc_counts_the_instructions_between():
    for nops in (0, 1, 10, 40):
        code = RDTSC + MOV_R8_RAX + elfgen.NOP * nops + RDTSC + SUB_RAX_R8 + OUT_F4_AL + HLT
        res = run(code)
        assert res.stop_reason == "debug-exit"
        # RDTSC, MOV and the NOPs retired between the two reads.
        assert res.exit_status == (((2 + nops) & 0xFF) << 1) | 1, nops
