"""Reading tortuga trace files into plain Python objects and numpy arrays.

    from tortuga import tracefile
    t = tracefile.open_trace("run.bin")     # binary or CSV, by content
    for ev in t.events():                   # tortuga.Event objects
        ...
    arr = t.to_numpy()                      # structured array (python3-numpy)

The binary format describes its own layout (a field table in the header,
tracing/trace_file.h); records are built from that table, never from a
layout restated here. A file that is still growing can be followed with
`t.read_new()`, which returns the events completed since the last call.
"""

import csv
import io
import os
import struct

from .vm import Event, EVENT_FIELDS

MAGIC = b"TRTGTRC\n"
_HEADER = struct.Struct("<8s6I")  # magic, version, header_size, event_size, flags, nfields, reserved
_FIELD = struct.Struct("<24sII")  # name, offset, size
_UINT = {1: "B", 2: "H", 4: "I", 8: "Q"}
FLAG_RING, FLAG_BPF = 0x1, 0x2  # who wrote the file (trace_file.h)


class TraceFileError(ValueError):
    """A file that is not a readable tortuga trace; the message is one line."""


class TraceFile:
    def __init__(self, path):
        self.path = os.fspath(path)
        self.flags = 0
        with open(self.path, "rb") as f:
            head = f.read(_HEADER.size)
        if head[:8] == MAGIC:
            self.format = "bin"
            self._open_bin(head)
        elif head.startswith(b"seq,"):
            self.format = "csv"
            self._pos = 0
        else:
            raise TraceFileError("%s: not a tortuga trace" % self.path)

    def _open_bin(self, head):
        if len(head) < _HEADER.size:
            raise TraceFileError("%s: truncated trace header (%d of %d bytes)"
                                 % (self.path, len(head), _HEADER.size))
        _, version, header_size, event_size, flags, nfields, _ = _HEADER.unpack(head)
        if version != 2:
            raise TraceFileError("%s: trace format version %d (this reader knows 2)" % (self.path, version))
        with open(self.path, "rb") as f:
            f.seek(_HEADER.size)
            table = f.read(nfields * _FIELD.size)
        if len(table) < nfields * _FIELD.size:
            raise TraceFileError("%s: truncated field table" % self.path)
        self.fields = []
        for i in range(nfields):
            name, off, size = _FIELD.unpack_from(table, i * _FIELD.size)
            self.fields.append((name.rstrip(b"\0").decode(), off, size))
        missing = set(EVENT_FIELDS) - {n for n, _, _ in self.fields}
        if missing:
            raise TraceFileError("%s: the file's events lack fields %s" % (self.path, sorted(missing)))
        self.flags, self.header_size, self.event_size = flags, header_size, event_size
        self._pos = header_size
        fmt, pos, self._order = "<", 0, []
        for name, off, size in sorted(self.fields, key=lambda f: f[1]):
            if off < pos or size not in _UINT:
                raise TraceFileError("%s: field %s at %d+%d overlaps or has an odd size"
                                     % (self.path, name, off, size))
            fmt += "%dx%s" % (off - pos, _UINT[size]) if off > pos else _UINT[size]
            pos = off + size
            self._order.append(name)
        if pos > event_size:
            raise TraceFileError("%s: fields extend past the %d-byte event" % (self.path, event_size))
        self._record = struct.Struct(fmt + ("%dx" % (event_size - pos) if event_size > pos else ""))

    # -- plain objects --

    def _decode_bin(self, data):
        out = []
        for vals in self._record.iter_unpack(data):
            out.append(Event(**dict(zip(self._order, vals))))
        return out

    def read_new(self):
        """The events completed since the last call (all of them at first).
        An incomplete last record is left for the next call."""
        with open(self.path, "rb") as f:
            f.seek(self._pos)
            data = f.read()
        if self.format == "bin":
            whole = len(data) - len(data) % self.event_size
            self._pos += whole
            return self._decode_bin(data[:whole])
        end = data.rfind(b"\n") + 1  # only whole lines
        self._pos += end
        text = data[:end].decode()
        if not hasattr(self, "_csv_names"):
            first, _, text = text.partition("\n")
            self._csv_names = first.split(",")
        rows = csv.DictReader(io.StringIO(text), fieldnames=self._csv_names)
        return [Event(**{k: int(r[k]) for k in EVENT_FIELDS}) for r in rows if r["seq"]]

    def events(self):
        """Every event in the file, in file order."""
        self._pos = self.header_size if self.format == "bin" else 0
        if self.format == "csv" and hasattr(self, "_csv_names"):
            del self._csv_names
        events = self.read_new()
        if self.format == "bin":
            rest = os.path.getsize(self.path) - self._pos
            if rest:
                raise TraceFileError("%s: truncated: %d bytes after event %d are an incomplete event"
                                     % (self.path, rest, len(events)))
        return events

    # -- numpy --

    def dtype(self):
        import numpy as np
        return np.dtype({"names": [n for n, _, _ in self.fields],
                         "formats": ["<u%d" % s for _, _, s in self.fields],
                         "offsets": [o for _, o, _ in self.fields],
                         "itemsize": self.event_size})

    def to_numpy(self):
        """A structured array with one field per event field (numpy needed)."""
        import numpy as np
        if self.format == "csv":
            evs = self.events()
            arr = np.zeros(len(evs), dtype=[(n, "<u8") for n in EVENT_FIELDS])
            for name in EVENT_FIELDS:
                arr[name] = [getattr(e, name) for e in evs]
            return arr
        size = os.path.getsize(self.path) - self.header_size
        if size % self.event_size:
            raise TraceFileError("%s: truncated: %d bytes after the last complete event"
                                 % (self.path, size % self.event_size))
        return np.fromfile(self.path, dtype=self.dtype(), offset=self.header_size)


def open_trace(path):
    return TraceFile(path)


def read_events(path):
    """Every event of a trace file as tortuga.Event objects."""
    return TraceFile(path).events()
