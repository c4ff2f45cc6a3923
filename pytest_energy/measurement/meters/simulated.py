"""Simulated: joules modelled from a CPU simulator's counts, the same on every run.

Runs only in a process that ``pytest --energy-meter=simulated`` re-executed under
valgrind's callgrind (:mod:`pytest_energy.measurement.simulator.launch`). Each window is
one callgrind region: counting starts after the opening reading (:meth:`begin`) and stops
before the closing one (:meth:`end`); what runs between windows is not counted (and runs
several times faster). The figure is the model's (:mod:`~pytest_energy.measurement.simulator.model`),
labelled ``simulated``: modelled, never measured. It cannot see sleeping, I/O, GPU work,
the parallel speed-up of threads (all threads are counted, one after another), or hardware
prefetch; subprocesses run natively and are not counted.
"""

from __future__ import annotations

import contextlib
import os

from ..simulator.counts import Counts, Simulator
from ..simulator.model import DEFAULT_MODEL, ModelCoefficients, cache_levels
from ..simulator.shim import SimulatorUnavailable
from . import Meter, MeterOptions, MeterUnavailable, Reading

#: The counts kept per window (deterministic ones: no system-call times).
KEPT_COUNTS = ("ir", "dr", "dw", "i1mr", "d1mr", "d1mw", "ilmr", "dlmr", "dlmw")
#: The simulated caches, part of what a figure means (see launch.VALGRIND_FLAGS).
CACHE_GEOMETRY = "I1=32768,8,64 D1=32768,8,64 LL=8388608,16,64"


class SimulatedMeter(Meter):
    """Cumulative modelled joules of the counted windows: ``core`` and ``memory``."""

    name = "simulated"
    is_estimate = True
    #: Counts need no minimum window, and one call is exact.
    min_window_s = 0.0
    resolution_s = 0.0
    deterministic = True

    def __init__(self, simulator: Simulator, model: ModelCoefficients) -> None:
        self.simulator = simulator
        self.model = model
        self._joules = {"core": 0.0, "memory": 0.0}
        self._last: dict[str, int] | None = None
        self._windows = 0

    @property
    def model_id(self) -> str:
        """The model and cache geometry behind every figure: runs of another are not compared."""
        return f"{self.model.identity} {CACHE_GEOMETRY}"

    def read(self) -> Reading:
        """Modelled joules of every window closed so far."""
        return dict(self._joules)

    def begin(self) -> None:
        """Start counting (collects garbage first, so earlier tests' garbage is not charged)."""
        self.simulator.begin()

    def end(self) -> None:
        """Stop counting and add the window's modelled joules."""
        self._windows += 1
        counts = self.simulator.end(f"window {self._windows}")
        ram = cache_levels(counts)[2]
        memory = ram * self.model.joules_per_ram_access
        self._joules["core"] += self.model.joules(counts) - memory
        self._joules["memory"] += memory
        self._last = {name: getattr(counts, name) for name in KEPT_COUNTS}

    def window_counts(self) -> dict[str, int] | None:
        """The raw counts of the last window."""
        return self._last

    def close(self) -> None:
        """Empty this process's callgrind file (150-300 kB per test); callgrind appends its
        own last, small dump when the process exits."""
        with contextlib.suppress(OSError):
            os.truncate(self.simulator.dump_path, 0)

    def describe(self) -> str:
        return f"simulated (callgrind, model {self.model.identity}: {self.model.source})"


def open_meter(options: MeterOptions) -> SimulatedMeter:
    """The simulated meter of this process (it must run under callgrind)."""
    try:
        simulator = Simulator.from_env()
    except SimulatorUnavailable as exc:
        raise MeterUnavailable(str(exc)) from None
    return SimulatedMeter(simulator, options.model or DEFAULT_MODEL)


__all__ = ["Counts", "SimulatedMeter", "open_meter"]
