"""Loading libtortuga.so and declaring the C API's prototypes."""

import ctypes
import ctypes.util
import os
import pathlib


class LibraryNotFound(OSError):
    pass


def _candidates():
    env = os.environ.get("TORTUGA_LIB")
    if env:
        yield pathlib.Path(env)
    here = pathlib.Path(__file__).resolve().parent
    for build in ("build", "builddir", "_build"):
        yield here.parent.parent / build / "libtortuga.so"
    found = ctypes.util.find_library("tortuga")
    if found:
        yield pathlib.Path(found)


def _load():
    tried = []
    for path in _candidates():
        tried.append(str(path))
        try:
            return ctypes.CDLL(str(path))
        except OSError:
            continue
    raise LibraryNotFound(
        "libtortuga.so not found (tried: %s); build with `./dev build` or set TORTUGA_LIB"
        % ", ".join(tried))


class Config(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("backend", ctypes.c_uint32),
        ("mem_size", ctypes.c_uint64),
        ("vcpus", ctypes.c_uint32),
        ("boot", ctypes.c_uint32),
        ("max_insns", ctypes.c_uint64),
        ("serial_mode", ctypes.c_uint32),
        ("serial_fd", ctypes.c_int32),
        ("trace_ring_events", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("serial_capture_max", ctypes.c_uint64),
        ("clock", ctypes.c_uint32),
        ("reserved0", ctypes.c_uint32),
        ("cpu_model", ctypes.c_char * 32),
    ]


# enum tortuga_backend (include/tortuga/tortuga.h).
BACKENDS = {"emu": 0, "kvm": 1, "auto": 2}


class CResult(ctypes.Structure):
    _fields_ = [
        ("stop_reason", ctypes.c_uint32),
        ("exit_status", ctypes.c_int32),
        ("instructions", ctypes.c_uint64),
        ("wall_ns", ctypes.c_uint64),
        ("exits", ctypes.c_uint64),
        ("cycles", ctypes.c_uint64),
        ("trace_dropped", ctypes.c_uint64),
    ]


class LevelStats(ctypes.Structure):
    _fields_ = [
        ("instructions", ctypes.c_uint64),
        ("exits", ctypes.c_uint64),
        ("reflected", ctypes.c_uint64),
        ("caused_by_l2", ctypes.c_uint64),
        ("cycles", ctypes.c_uint64),
    ]


class Field(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("doc", ctypes.c_char_p),
        ("offset", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
    ]


class BpfOpts(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("pid", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        ("ring_bytes", ctypes.c_uint32),
        ("poll_ms", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("format", ctypes.c_char_p),
    ]


class BpfStats(ctypes.Structure):
    _fields_ = [
        ("events", ctypes.c_uint64),
        ("usdt_events", ctypes.c_uint64),
        ("kvm_events", ctypes.c_uint64),
        ("lost", ctypes.c_uint64),
        ("read_errors", ctypes.c_uint64),
        ("usdt_attached", ctypes.c_uint32),
        ("kvm_attached", ctypes.c_uint32),
        ("usdt_path", ctypes.c_char * 512),
        ("kvm_note", ctypes.c_char * 320),
    ]


lib = _load()

_VM = ctypes.c_void_p
_protos = {
    "tortuga_version": (ctypes.c_char_p, []),
    "tortuga_config_init": (None, [ctypes.POINTER(Config)]),
    "tortuga_last_error": (ctypes.c_char_p, []),
    "tortuga_exit_reason_name": (ctypes.c_char_p, [ctypes.c_uint32]),
    "tortuga_event_kind_name": (ctypes.c_char_p, [ctypes.c_uint32]),
    "tortuga_stop_reason_name": (ctypes.c_char_p, [ctypes.c_uint32]),
    "tortuga_cpu_models": (ctypes.POINTER(ctypes.c_char_p), []),
    "tortuga_event_fields": (ctypes.c_uint32, [ctypes.POINTER(ctypes.POINTER(Field))]),
    "tortuga_backend_probe": (ctypes.c_int, [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]),
    "tortuga_vm_create": (ctypes.c_int, [ctypes.POINTER(Config), ctypes.POINTER(_VM)]),
    "tortuga_vm_backend": (ctypes.c_char_p, [_VM]),
    "tortuga_vm_backend_note": (ctypes.c_char_p, [_VM]),
    "tortuga_vm_destroy": (None, [_VM]),
    "tortuga_vm_error": (ctypes.c_char_p, [_VM]),
    "tortuga_vm_load_elf": (ctypes.c_int, [_VM, ctypes.c_char_p, ctypes.c_char_p]),
    "tortuga_vm_add_module": (ctypes.c_int, [_VM, ctypes.c_char_p, ctypes.c_char_p]),
    "tortuga_vm_load_elf_mem": (ctypes.c_int, [_VM, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]),
    "tortuga_vm_run": (ctypes.c_int, [_VM, ctypes.POINTER(CResult)]),
    "tortuga_vm_set_max_insns": (None, [_VM, ctypes.c_uint64]),
    "tortuga_vm_request_stop": (None, [_VM]),
    "tortuga_vm_serial_read": (ctypes.c_size_t, [_VM, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t]),
    "tortuga_vm_serial_size": (ctypes.c_uint64, [_VM]),
    "tortuga_vm_serial_write": (ctypes.c_int, [_VM, ctypes.c_char_p, ctypes.c_size_t]),
    "tortuga_vm_trace_read": (ctypes.c_int, [_VM, ctypes.c_void_p, ctypes.c_uint32]),
    "tortuga_vm_trace_dropped": (ctypes.c_uint64, [_VM]),
    "tortuga_vm_trace_to_file": (ctypes.c_int, [_VM, ctypes.c_char_p, ctypes.c_char_p]),
    "tortuga_vm_exit_count": (ctypes.c_uint64, [_VM, ctypes.c_uint32]),
    "tortuga_vm_write_stats": (ctypes.c_int, [_VM, ctypes.c_char_p]),
    "tortuga_vm_dump_state": (ctypes.c_int, [_VM, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]),
    "tortuga_vm_read_phys": (ctypes.c_int, [_VM, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t]),
    "tortuga_vm_write_phys": (ctypes.c_int, [_VM, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t]),
    "tortuga_vm_get_reg": (ctypes.c_int, [_VM, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64)]),
    # include/tortuga/trace.h
    "tortuga_trace_error": (ctypes.c_char_p, []),
    "tortuga_trace_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_void_p)]),
    "tortuga_trace_read": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32]),
    "tortuga_trace_close": (None, [ctypes.c_void_p]),
    "tortuga_trace_convert": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]),
    "tortuga_trace_report": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint32]),
    "tortuga_event_reason_name": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_char_p]),
    "tortuga_bpf_opts_init": (None, [ctypes.POINTER(BpfOpts)]),
    "tortuga_bpf_start": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(BpfOpts), ctypes.POINTER(ctypes.c_void_p)]),
    "tortuga_bpf_stats": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(BpfStats)]),
    "tortuga_bpf_stop": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(BpfStats)]),
    "tortuga_bpf_check": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t]),
    # nested VMX
    "tortuga_vm_level_stats": (ctypes.c_int, [_VM, ctypes.c_uint32, ctypes.POINTER(LevelStats)]),
    "tortuga_vm_level_exit_count": (ctypes.c_uint64, [_VM, ctypes.c_uint32, ctypes.c_uint32]),
    "tortuga_vm_l0_exits_per_l2_exit": (ctypes.c_double, [_VM]),
    "tortuga_vmcs_field_name": (ctypes.c_char_p, [ctypes.c_uint64]),
    "tortuga_vm_set_exit_cost": (ctypes.c_int, [_VM, ctypes.c_uint32, ctypes.c_uint32]),
    "tortuga_vm_set_vmcs_shadow": (ctypes.c_int, [_VM, ctypes.c_uint64, ctypes.c_uint32]),
    "tortuga_vmcs_field_encoding": (ctypes.c_int64, [ctypes.c_char_p]),
    "tortuga_vm_exit_cost": (ctypes.c_uint32, [_VM, ctypes.c_uint32]),
    "tortuga_vmx_error_name": (ctypes.c_char_p, [ctypes.c_uint32]),
}
for _name, (_res, _args) in _protos.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args


def _s(b):
    return b.decode() if b is not None else None


def exit_reason_name(reason):
    """Name of a basic exit reason (from include/tortuga/exit_reasons.def)."""
    return _s(lib.tortuga_exit_reason_name(reason))


def vmcs_field_name(encoding):
    """Name of a VMCS field encoding (Intel SDM App. B), or None."""
    return _s(lib.tortuga_vmcs_field_name(encoding))


def vmx_error_name(number):
    """Description of a VM-instruction error number (SDM 31.4), or None."""
    return _s(lib.tortuga_vmx_error_name(number))


def event_kind_name(kind):
    return _s(lib.tortuga_event_kind_name(kind))


def stop_reason_name(reason):
    return _s(lib.tortuga_stop_reason_name(reason))
