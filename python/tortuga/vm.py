"""The VM object of the harness."""

import ctypes
import functools
import os
import re
from dataclasses import dataclass

from . import _lib
from ._lib import lib, exit_reason_name, event_kind_name, stop_reason_name

_CTYPE_BY_SIZE = {1: ctypes.c_uint8, 2: ctypes.c_uint16, 4: ctypes.c_uint32, 8: ctypes.c_uint64}


def _event_struct():
    """struct tortuga_event, built from the library's own field table so the
    layout is never restated here."""
    fields_p = ctypes.POINTER(_lib.Field)()
    n = lib.tortuga_event_fields(ctypes.byref(fields_p))
    fields, pos = [], 0
    for i in range(n):
        f = fields_p[i]
        if f.offset != pos:
            raise RuntimeError("unexpected padding in struct tortuga_event")
        fields.append((f.name.decode(), _CTYPE_BY_SIZE[f.size]))
        pos += f.size
    return type("CEvent", (ctypes.Structure,), {"_fields_": fields}), [name for name, _ in fields]


CEvent, EVENT_FIELDS = _event_struct()


class TortugaError(RuntimeError):
    def __init__(self, msg, errno=None):
        super().__init__(msg)
        self.errno = errno


_SIZE_RE = re.compile(r"^(\d+)\s*([KMGT]?)(I?B)?$", re.I)


def parse_size(v):
    """64M, 1G, 4096 or an int -> bytes."""
    if isinstance(v, int):
        return v
    m = _SIZE_RE.match(str(v).strip())
    if not m:
        raise ValueError("not a size: %r" % (v,))
    shift = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2).upper()]
    return int(m.group(1)) << shift


@dataclass
class Result:
    stop_reason: str
    exit_status: int
    instructions: int
    wall_ns: int
    exits: int
    cycles: int
    trace_dropped: int


@functools.lru_cache(maxsize=4096)
def event_reason_name(kind, flags, reason):
    ev = CEvent(kind=kind, flags=flags, reason=reason)
    buf = ctypes.create_string_buffer(32)
    name = lib.tortuga_event_reason_name(ctypes.byref(ev), buf)
    return name.decode() if name is not None else None


class Event:
    """One trace event: attributes named as in struct tortuga_event, plus
    kind_name and reason_name."""

    __slots__ = tuple(EVENT_FIELDS)

    def __init__(self, cev=None, **values):
        """From a CEvent (or any object with the field attributes), or from
        keyword values (missing fields are 0)."""
        for name in EVENT_FIELDS:
            setattr(self, name, getattr(cev, name) if cev is not None else values.get(name, 0))

    @property
    def kind_name(self):
        return event_kind_name(self.kind)

    @property
    def reason_name(self):
        """The reason from the hardware tables (VMX, or SVM for KVM events on
        AMD hosts); None for kinds whose reason is not an exit reason."""
        return event_reason_name(self.kind, self.flags, self.reason)

    def as_dict(self):
        d = {name: getattr(self, name) for name in EVENT_FIELDS}
        d["kind_name"] = self.kind_name
        d["reason_name"] = self.reason_name
        return d

    def __repr__(self):
        return "Event(seq=%d, %s, reason=%s, rip=%#x)" % (
            self.seq, self.kind_name, self.reason_name or self.reason, self.rip)


# struct tortuga_config flags (include/tortuga/tortuga.h).
_CFG_TRACE_OVERWRITE = 0x1
_CFG_NESTED = 0x2
_CFG_NO_SHADOW_VMCS = 0x4


def _backend_number(name):
    try:
        return _lib.BACKENDS[name]
    except KeyError:
        raise ValueError("unknown backend %r (one of: %s)" % (name, ", ".join(_lib.BACKENDS))) from None


@dataclass
class BackendProbe:
    available: bool
    message: str  # why not (or, for auto, what it falls back to); "" if nothing to say


def probe_backend(name):
    """Can this host run backend name ("emu", "kvm", "auto")? "auto" is
    always available: it falls back to emu, and message says why."""
    msg = ctypes.create_string_buffer(256)
    err = lib.tortuga_backend_probe(_backend_number(name), msg, len(msg))
    return BackendProbe(err == 0, msg.value.decode())


class VM:
    """A tortuga VM. Keyword arguments set struct tortuga_config fields:
    backend ("emu", the default; "kvm"; "auto": kvm when the KVM device opens,
    else emu), mem (size), vcpus, boot ("direct" or "multiboot"), max_insns
    (emu only), trace_ring_events, trace_overwrite, cpu (model string), clock
    ("modelled" or "host"); nested=True gives the guest VT-x, shadow_vmcs=False
    turns off VMCS shadowing for its VMREAD/VMWRITE (L0 policy)."""

    BOOT = {"direct": 0, "multiboot": 1}
    CLOCK = {"modelled": 0, "host": 1}

    def __init__(self, mem="128M", vcpus=1, max_insns=0, trace_ring_events=1 << 16,
                 trace_overwrite=False, serial_fd=None, boot="direct", cpu="", clock="modelled",
                 nested=False, shadow_vmcs=True, backend="emu"):
        cfg = _lib.Config()
        lib.tortuga_config_init(ctypes.byref(cfg))
        cfg.backend = _backend_number(backend)
        cfg.mem_size = parse_size(mem)
        cfg.vcpus = vcpus
        cfg.boot = self.BOOT[boot]
        cfg.clock = self.CLOCK[clock]
        cfg.cpu_model = cpu.encode()
        cfg.max_insns = max_insns
        cfg.trace_ring_events = trace_ring_events
        if trace_overwrite:
            cfg.flags |= _CFG_TRACE_OVERWRITE
        if nested:
            cfg.flags |= _CFG_NESTED
            if not shadow_vmcs:
                cfg.flags |= _CFG_NO_SHADOW_VMCS
        if serial_fd is not None:
            cfg.serial_mode = 1
            cfg.serial_fd = serial_fd
        h = ctypes.c_void_p()
        err = lib.tortuga_vm_create(ctypes.byref(cfg), ctypes.byref(h))
        if err:
            raise TortugaError(lib.tortuga_last_error().decode(), -err)
        self._h = h
        self.result = None

    @property
    def backend(self):
        """The backend the VM runs on: "emu" or "kvm"."""
        return lib.tortuga_vm_backend(self._h).decode()

    @property
    def backend_note(self):
        """Why the backend is the one it is, or what it leaves out ("" if nothing)."""
        return lib.tortuga_vm_backend_note(self._h).decode()

    def _check(self, err):
        if err < 0:
            raise TortugaError(lib.tortuga_vm_error(self._h).decode(), -err)
        return err

    def close(self):
        if getattr(self, "_h", None):
            lib.tortuga_vm_destroy(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def load(self, path, args=None):
        """Load an ELF guest; args (a list or a string) become its command line."""
        cmd = " ".join(args) if isinstance(args, (list, tuple)) else (args or "")
        self._check(lib.tortuga_vm_load_elf(self._h, os.fsencode(path), cmd.encode()))
        return self

    def add_module(self, path, string=None):
        """Multiboot: add a boot module before load(); string defaults to the path."""
        self._check(lib.tortuga_vm_add_module(self._h, os.fsencode(path),
                                              string.encode() if string is not None else None))
        return self

    def load_bytes(self, image, args=""):
        buf = ctypes.create_string_buffer(bytes(image), len(image))
        self._check(lib.tortuga_vm_load_elf_mem(self._h, buf, len(image), args.encode()))
        return self

    def run(self, max_insns=None):
        if max_insns is not None:
            lib.tortuga_vm_set_max_insns(self._h, max_insns)
        r = _lib.CResult()
        self._check(lib.tortuga_vm_run(self._h, ctypes.byref(r)))
        self.result = Result(stop_reason_name(r.stop_reason), r.exit_status, r.instructions,
                             r.wall_ns, r.exits, r.cycles, r.trace_dropped)
        return self.result

    @property
    def exit_status(self):
        return self.result.exit_status if self.result else None

    @property
    def serial(self):
        """Everything the guest wrote to its serial console, as text."""
        n = lib.tortuga_vm_serial_size(self._h)
        buf = ctypes.create_string_buffer(n + 1)
        got = lib.tortuga_vm_serial_read(self._h, 0, buf, n)
        return buf.raw[:got].decode("utf-8", "replace")

    def serial_input(self, data):
        data = data.encode() if isinstance(data, str) else data
        return lib.tortuga_vm_serial_write(self._h, data, len(data))

    def trace(self, max_events=None):
        """Take the events out of the in-process ring (oldest first)."""
        out = []
        batch = (CEvent * 4096)()
        while max_events is None or len(out) < max_events:
            want = 4096 if max_events is None else min(4096, max_events - len(out))
            n = lib.tortuga_vm_trace_read(self._h, batch, want)
            if n <= 0:
                break
            out.extend(Event(batch[i]) for i in range(n))
        return out

    @property
    def trace_dropped(self):
        return lib.tortuga_vm_trace_dropped(self._h)

    def trace_to_file(self, path, fmt=None):
        self._check(lib.tortuga_vm_trace_to_file(self._h, os.fsencode(path),
                                                 fmt.encode() if fmt else None))

    def exit_count(self, reason):
        if isinstance(reason, str):
            reason = _reason_number(reason)
        return lib.tortuga_vm_exit_count(self._h, reason)

    def exits_by_reason(self):
        out = {}
        for r in range(80):
            n = lib.tortuga_vm_exit_count(self._h, r)
            if n:
                out[exit_reason_name(r)] = n
        return out

    def level_stats(self, level):
        """Per-level statistics (1: L1, 2: L2): instructions, exits,
        reflected, caused_by_l2, exits_by_reason."""
        st = _lib.LevelStats()
        self._check(lib.tortuga_vm_level_stats(self._h, level, ctypes.byref(st)))
        out = {name: getattr(st, name) for name, _ in _lib.LevelStats._fields_}
        out["exits_by_reason"] = {exit_reason_name(r): n for r in range(80)
                                  if (n := lib.tortuga_vm_level_exit_count(self._h, level, r))}
        return out

    def set_exit_cost(self, reason, cycles):
        """Cost-model cycles charged per exit of this reason (name or number)."""
        if isinstance(reason, str):
            reason = _reason_number(reason)
        self._check(lib.tortuga_vm_set_exit_cost(self._h, reason, cycles))

    def set_vmcs_shadow(self, field, mode):
        """L0's VMCS-shadowing policy for one field (name or encoding):
        mode "none", "ro" or "rw"."""
        if isinstance(field, str):
            enc = lib.tortuga_vmcs_field_encoding(field.encode())
            if enc < 0:
                raise KeyError("unknown VMCS field %r" % field)
            field = enc
        self._check(lib.tortuga_vm_set_vmcs_shadow(self._h, field, ("none", "ro", "rw").index(mode)))

    def l0_exits_per_l2_exit(self):
        return lib.tortuga_vm_l0_exits_per_l2_exit(self._h)

    def write_stats(self, path):
        self._check(lib.tortuga_vm_write_stats(self._h, os.fsencode(path)))

    def dump_state(self, vcpu=0):
        buf = ctypes.create_string_buffer(8192)
        self._check(lib.tortuga_vm_dump_state(self._h, vcpu, buf, len(buf)))
        return buf.value.decode()

    _REGS = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11",
             "r12", "r13", "r14", "r15", "rip", "rflags", "cr0", "cr2", "cr3", "cr4", "efer"]

    def reg(self, name, vcpu=0):
        v = ctypes.c_uint64()
        self._check(lib.tortuga_vm_get_reg(self._h, vcpu, self._REGS.index(name.lower()), ctypes.byref(v)))
        return v.value

    def read_phys(self, gpa, n):
        buf = ctypes.create_string_buffer(n)
        self._check(lib.tortuga_vm_read_phys(self._h, gpa, buf, n))
        return buf.raw

    def write_phys(self, gpa, data):
        buf = ctypes.create_string_buffer(bytes(data), len(data))
        self._check(lib.tortuga_vm_write_phys(self._h, gpa, buf, len(data)))


def _reason_number(name):
    for r in range(80):
        if exit_reason_name(r) == name:
            return r
    raise KeyError("unknown exit reason %r" % name)
