"""Recording through eBPF from Python (include/tortuga/trace.h).

    with tortuga.BpfRecording("run.bin") as rec:   # this process, by default
        vm.run()
    print(rec.stats.events, rec.stats.lost)

Needs root (or CAP_BPF and CAP_PERFMON); bpf_check() says what is missing.
"""

import ctypes
import os

from ._lib import lib, BpfOpts

NO_USDT, NO_KVM = 0x1, 0x2


class BpfUnavailable(RuntimeError):
    pass


def bpf_check():
    """(ok, text): whether eBPF recording works here, and the details."""
    buf = ctypes.create_string_buffer(4096)
    err = lib.tortuga_bpf_check(buf, len(buf))
    return err == 0, buf.value.decode()


class BpfStatsView:
    def __init__(self, st):
        for name, _ in st._fields_:
            v = getattr(st, name)
            setattr(self, name, v.decode() if isinstance(v, bytes) else v)


class BpfRecording:
    """Record the events of a process (default: this one) into path while
    the context is open."""

    def __init__(self, path, pid=0, flags=0, ring_bytes=None, poll_ms=None, fmt=None):
        self.path = os.fspath(path)
        self._opts = BpfOpts()
        lib.tortuga_bpf_opts_init(ctypes.byref(self._opts))
        self._opts.pid, self._opts.flags = pid, flags
        if ring_bytes:
            self._opts.ring_bytes = ring_bytes
        if poll_ms:
            self._opts.poll_ms = poll_ms
        if fmt:
            self._opts.format = fmt.encode()
        self._h = None
        self.stats = None

    def start(self):
        h = ctypes.c_void_p()
        if lib.tortuga_bpf_start(self.path.encode(), ctypes.byref(self._opts), ctypes.byref(h)):
            raise BpfUnavailable(lib.tortuga_trace_error().decode())
        self._h = h
        return self

    def peek(self):
        from ._lib import BpfStats
        st = BpfStats()
        lib.tortuga_bpf_stats(self._h, ctypes.byref(st))
        return BpfStatsView(st)

    def stop(self):
        from ._lib import BpfStats
        if self._h is None:
            return self.stats
        st = BpfStats()
        err = lib.tortuga_bpf_stop(self._h, ctypes.byref(st))
        self._h = None
        self.stats = BpfStatsView(st)
        if err:
            raise RuntimeError(lib.tortuga_trace_error().decode())
        return self.stats

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
