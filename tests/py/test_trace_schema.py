"""The event schema's conventions (include/tortuga/event_kinds.def) as the
producers fill them: sequence numbers, parents, levels and modelled cycles."""

import pytest

import tortuga
from elfgen import NOP, debug_exit, elf64, mov_al, out_imm8

# The default cost model retires one instruction per modelled cycle (CPI 1,
# core/cost_model.h); the tests below count instructions under that model.


def _run(vm, code):
    v = vm()
    v.load_bytes(elf64(code))
    v.run()
    return v, v.trace()


def test_cycles_count_instructions_inside_a_block(vm):
    # One straight-line block: two I/O exits separated by five NOPs. Exits
    # happen mid-block, so the cycles must include the instructions retired
    # earlier in the same block.
    code = mov_al(0) + NOP * 10 + out_imm8(0x80) + NOP * 5 + out_imm8(0x80) + debug_exit(0)
    v, events = _run(vm, code)
    exits = [e for e in events if e.kind_name == "exit"]
    entries = [e for e in events if e.kind_name == "entry"]
    assert [e.reason_name for e in exits] == ["IO_INSTRUCTION"] * 3
    assert len(entries) == 3
    start = exits[0].cycles - 11  # MOV AL and ten NOPs retired before the first OUT
    assert start >= 0
    for x, n in zip(exits, entries):
        # An ENTRY is charged exactly the exit's modelled cost (its aux).
        assert n.parent == x.seq
        assert n.cycles - x.cycles == n.aux > 0
    # After the entry the OUT retires, then five NOPs run before the next OUT.
    assert exits[1].cycles - entries[0].cycles == 1 + 5
    # The second OUT retires, then MOV AL precedes the debug-exit OUT.
    assert exits[2].cycles - entries[1].cycles == 1 + 1


def test_event_identity_and_levels(vm):
    v, events = _run(vm, debug_exit(3))
    assert v.result.exit_status == 7
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for e in events:
        assert e.level == 1 and e.handler == 0 and e.vcpu == 0 and e.flags == 0
    assert events[-1].kind_name == "stop"
    assert events[-1].qual == 7


@pytest.mark.parametrize("kind,name", [
    (0, "exit"), (1, "entry"), (5, "nested-entry"), (6, "nested-exit"), (7, "reflect"),
    (8, "smi"), (9, "rsm"), (10, "iommu-translate"), (11, "iommu-fault"), (12, "dma"),
    (13, "lost"),
])
def test_kind_names(kind, name):
    assert tortuga.event_kind_name(kind) == name
