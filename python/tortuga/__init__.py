"""tortuga: drive tortuga VMs from Python (ctypes harness over libtortuga.so).

    import tortuga
    vm = tortuga.VM(mem="64M", max_insns=10_000_000)
    vm.load("build/guests/hello.elf", args=["exit=3"])
    res = vm.run()
    assert res.exit_status == 7
    print(vm.serial)
    for ev in vm.trace():
        print(ev.kind_name, ev.reason_name, hex(ev.rip))

VM(backend="kvm") runs the guest on /dev/kvm (probe_backend("kvm") says
whether this host can); the default is tortuga's software CPU, "emu".

The library is found through $TORTUGA_LIB, then next to this package in a
meson build tree (build/libtortuga.so), then the system linker path.
"""

from ._lib import (lib, LibraryNotFound, exit_reason_name, event_kind_name, stop_reason_name,
                   vmcs_field_name, vmx_error_name)
from .vm import VM, Result, Event, TortugaError, parse_size, EVENT_FIELDS, BackendProbe, probe_backend
from .tracefile import TraceFile, TraceFileError, open_trace, read_events
from .bpf import BpfRecording, BpfUnavailable, bpf_check
from . import tap

__all__ = [
    "VM", "Result", "Event", "TortugaError", "LibraryNotFound", "lib",
    "exit_reason_name", "event_kind_name", "stop_reason_name", "parse_size", "EVENT_FIELDS",
    "TraceFile", "TraceFileError", "open_trace", "read_events",
    "BpfRecording", "BpfUnavailable", "bpf_check",
    "tap", "BackendProbe", "probe_backend",
    "vmcs_field_name", "vmx_error_name",
]
