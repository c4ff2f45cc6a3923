"""Per-region event counts from callgrind.

A region is measured as::

    sim = Simulator.from_env()        # in the process that runs under valgrind
    sim.begin()                       # gc.collect(); zero stats; start instrumentation
    try:
        run_the_test()
    finally:
        counts = sim.end(nodeid)      # stop; dump; read this dump's ``totals:`` line

How the dump is read. The launcher passes ``--combine-dumps=yes``, so every dump of a
process is appended as a ``part:`` to one file, ``callgrind.out.<pid>``. Callgrind opens
that file in append mode, writes the whole part and closes it before the client
request returns, so once :meth:`Simulator.end` gets control the part is complete.
The reader remembers the file offset after the previous part and reads only the bytes
added since (one dump's worth, which callgrind has just written anyway), takes the last
``part:`` in them, checks its ``desc: Trigger: Client Request: <name>`` line against the
unique name it asked for, and parses ``events:`` and ``totals:``. (The ``summary:`` line
of a combined dump is written as ``0`` before the costs are known, so ``totals:`` is
the line to read; trailing zero columns are omitted by callgrind.)

What is counted: everything executed by every thread of this process between
``begin()`` and ``end()`` (callgrind sums threads unless ``--separate-threads=yes``),
including a thread started by an earlier test that is still running. Costs of child
processes are not included. Switching instrumentation on or off clears callgrind's
simulated caches and discards its translated code (``CLG_(set_instrument_state)``), so
every region starts with cold caches: counts do not depend on which test ran before
(Python-level state such as imports, interned strings or ``functools`` caches still
does), and each region pays a small cold-cache cost (hundreds of LL misses) and, in
wall time, the re-translation of the code it runs.
"""

from __future__ import annotations

import gc
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .launch import MARKER_ENV
from .shim import Shim, SimulatorUnavailable, load_shim

__all__ = ["Counts", "Simulator", "DumpFormatError", "parse_last_part", "dump_name"]

# callgrind event name -> Counts field
EVENT_FIELDS = {
    "Ir": "ir", "Dr": "dr", "Dw": "dw",
    "I1mr": "i1mr", "D1mr": "d1mr", "D1mw": "d1mw",
    "ILmr": "ilmr", "DLmr": "dlmr", "DLmw": "dlmw",
    "Bc": "bc", "Bcm": "bcm", "Bi": "bi", "Bim": "bim",
    "sysCount": "sys_count", "sysTime": "sys_time_ns", "sysCpuTime": "sys_cpu_time_ns",
}  # fmt: skip


class DumpFormatError(RuntimeError):
    """The callgrind output did not hold the expected part."""


@dataclass(frozen=True)
class Counts:
    """Callgrind event totals of one region.

    Deterministic: instructions (``ir``), data reads/writes (``dr``, ``dw``), L1 and
    last-level misses (instruction read, data read, data write), and with
    ``--branch-sim=yes`` conditional/indirect branches and their mispredictions.
    Not deterministic (wall-clock based, informative only): ``sys_count`` (system
    calls), ``sys_time_ns`` and ``sys_cpu_time_ns`` (time spent in them). A region
    that did I/O or slept has non-zero ``sys_*`` but its waiting costs nothing here.
    """

    ir: int = 0
    dr: int = 0
    dw: int = 0
    i1mr: int = 0
    d1mr: int = 0
    d1mw: int = 0
    ilmr: int = 0
    dlmr: int = 0
    dlmw: int = 0
    bc: int = 0
    bcm: int = 0
    bi: int = 0
    bim: int = 0
    sys_count: int = 0
    sys_time_ns: int = 0
    sys_cpu_time_ns: int = 0

    def to_dict(self) -> dict[str, int]:
        """All fields by name."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Counts:
        """Inverse of :meth:`to_dict`; missing fields are 0, unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown Counts fields: {', '.join(unknown)}")
        values: dict[str, int] = {}
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Counts.{key} must be a non-negative int, got {value!r}")
            values[key] = value
        return cls(**values)

    @classmethod
    def from_events(cls, events: list[str], totals: list[int]) -> Counts:
        """Build from an ``events:`` header and a ``totals:`` row (short rows are 0-filled)."""
        values = {
            EVENT_FIELDS[name]: (totals[i] if i < len(totals) else 0)
            for i, name in enumerate(events)
            if name in EVENT_FIELDS
        }
        return cls(**values)


TRIGGER_PREFIX = b"desc: Trigger: Client Request: "


def parse_last_part(data: bytes, expected_name: bytes | None = None) -> Counts:
    """Counts of the last ``part:`` in ``data`` (bytes of a callgrind output file).

    ``expected_name``: the bytes given to ``dump_stats_at``; a part with another
    trigger raises :class:`DumpFormatError`.
    """
    start = data.rfind(b"\npart:")
    part = data[start + 1 :] if start >= 0 else data
    events: list[str] | None = None
    totals: list[int] | None = None
    trigger: bytes | None = None
    for line in part.splitlines():
        if line.startswith(b"events:"):
            events = line[len(b"events:") :].decode().split()
        elif line.startswith(b"totals:"):
            totals = [int(tok) for tok in line[len(b"totals:") :].split()]
        elif line.startswith(TRIGGER_PREFIX):
            trigger = line[len(TRIGGER_PREFIX) :]
    if events is None or totals is None:
        raise DumpFormatError("callgrind dump part has no events:/totals: line (truncated dump?)")
    if expected_name is not None and trigger != expected_name:
        raise DumpFormatError(
            f"newest callgrind dump is {trigger!r}, expected {expected_name!r}"
            " (another dump request in between?)"
        )
    return Counts.from_events(events, totals)


MAX_DUMP_NAME = 200  # bytes; older callgrinds format the trigger into a 512-byte buffer


def dump_name(seq: int, name: str) -> bytes:
    """The trigger string for region ``seq``: ``#<seq> <name>``, one line, <= 200 bytes."""
    raw = f"#{seq} {name}".replace("\n", " ").replace("\r", " ").encode("utf-8", "replace")
    return raw[:MAX_DUMP_NAME].decode("utf-8", "ignore").encode("utf-8")


WINDOW = 8192  # bytes read from the start and from the end of the new dump part


class Simulator:
    """Measure regions of the current process, which must run under callgrind."""

    def __init__(self, out_dir: Path, shim: Shim | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.shim = shim if shim is not None else load_shim()
        if not self.shim.running_on_valgrind():
            raise SimulatorUnavailable(
                "not running under valgrind: start the program with simulated.launch"
                " (the simulated meter counts only inside the re-executed process)"
            )
        self._pid = os.getpid()
        self._path = self._dump_path()
        self._offset = self._size()
        self._seq = 0
        self._open = False
        # Preallocated read buffers: reading a dump allocates nothing whose size depends
        # on the dump, so the heap the next region sees does not depend on this one.
        self._head = bytearray(WINDOW)
        self._tail = bytearray(WINDOW)

    @classmethod
    def from_env(cls) -> Simulator:
        """The simulator of a process started by :mod:`simulated.launch`."""
        out_dir = os.environ.get(MARKER_ENV)
        if not out_dir:
            raise SimulatorUnavailable(
                f"${MARKER_ENV} is not set: start the program with simulated.launch"
            )
        return cls(Path(out_dir))

    @property
    def dump_path(self) -> Path:
        """This process's callgrind output file (``--callgrind-out-file=.../callgrind.out.%p``)."""
        return Path(self._path)

    def _dump_path(self) -> str:
        # Padded with extra slashes to a length independent of the pid's digit count: the
        # string lives as long as the process, and a heap layout that depends on the pid
        # moved counts by ~0.005 % between processes with 4- and 5-digit pids.
        pid = str(os.getpid())
        return f"{self.out_dir}{'/' * (8 - len(pid))}callgrind.out.{pid}"

    def _size(self) -> int:
        try:
            return os.stat(self._path).st_size
        except FileNotFoundError:
            return 0

    def begin(self) -> None:
        """Start a region: collect garbage, zero the counters, switch instrumentation on."""
        if self._open:
            raise RuntimeError("Simulator.begin() called twice without end()")
        self._open = True
        gc.collect()
        self.shim.zero_stats()
        self.shim.start_instrumentation()

    def end(self, name: str) -> Counts:
        """End the region begun last; return its counts. ``name`` labels the dump."""
        self.shim.stop_instrumentation()
        if not self._open:
            raise RuntimeError("Simulator.end() called without begin()")
        self._open = False
        if os.getpid() != self._pid:  # forked child: its own file, starting empty
            self._pid, self._path, self._offset = os.getpid(), self._dump_path(), 0
        self._seq += 1
        trigger = dump_name(self._seq, name)
        self.shim.dump_stats_at(trigger)
        return self._read_new_part(trigger)

    def _read_new_part(self, trigger: bytes) -> Counts:
        """Counts of the part just appended after ``self._offset``; advance the offset.

        Fast path: the trigger and ``events:`` are in the first WINDOW bytes of the new
        data and ``totals:`` in the last WINDOW bytes, so only those are read, whatever the
        size of the part (it lists every function the region ran). If the new data hold
        more than our part (another dump request happened in between), read it all.
        """
        fd = os.open(self._path, os.O_RDONLY)
        try:
            start, size = self._offset, os.fstat(fd).st_size
            if size <= start:
                raise DumpFormatError(f"callgrind wrote no dump to {self._path}")
            self._offset = size
            n_head = os.preadv(fd, [self._head], start)
            tail_start = max(start, size - WINDOW)
            n_tail = os.preadv(fd, [self._tail], tail_start)
            counts = _parse_windows(self._head, n_head, self._tail, n_tail, trigger)
            if counts is None:
                return parse_last_part(os.pread(fd, size - start, start), trigger)
            return counts
        finally:
            os.close(fd)


def _parse_windows(
    head: bytearray, n_head: int, tail: bytearray, n_tail: int, trigger: bytes
) -> Counts | None:
    """Counts from the head and tail windows of one part; None if they do not suffice."""
    first_part = 0 if head.startswith(b"part:") else head.find(b"\npart:", 0, n_head)
    at = head.find(b"\n" + TRIGGER_PREFIX + trigger + b"\n", 0, n_head)
    if first_part < 0 or at < 0 or head.find(b"\npart:", first_part + 1, at) >= 0:
        return None
    ev = head.find(b"\nevents:", at, n_head)
    ev_end = head.find(b"\n", ev + 1, n_head)
    tot = tail.rfind(b"\ntotals:", 0, n_tail)
    tot_end = tail.find(b"\n", tot + 1, n_tail)
    if ev < 0 or ev_end < 0 or tot < 0 or tot_end < 0:
        return None
    events = head[ev + len(b"\nevents:") : ev_end].decode().split()
    totals = [int(tok) for tok in tail[tot + len(b"\ntotals:") : tot_end].split()]
    return Counts.from_events(events, totals)
