"""The clock every measured window, deadline and time budget reads (as pytest's own
``_pytest/timing.py``): tests replace it with a fake one instead of sleeping.

The clocks a figure rests on (``perf_counter`` for spans, ``process_time`` and
``getrusage`` for CPU time) are captured when this module is imported, which the plugin
does as it loads, before any conftest or test runs: a test that patches
``time.perf_counter`` (backwards, say) or ``time.process_time`` changes its own readings,
never the window it is measured in.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass

_perf_counter = time.perf_counter
_process_time = time.process_time
_getrusage = resource.getrusage
_RUSAGE_CHILDREN = resource.RUSAGE_CHILDREN


def monotonic_s() -> float:
    """Seconds on the real monotonic clock, whatever a test did to ``time.perf_counter``."""
    return _perf_counter()


def cpu_seconds() -> float:
    """CPU seconds of this process and its waited-for children (the captured clocks)."""
    children = _getrusage(_RUSAGE_CHILDREN)
    return _process_time() + children.ru_utime + children.ru_stime


@dataclass
class Clock:
    """Real time: ``perf_counter`` for spans, ``time`` for the wall clock, ``sleep``."""

    def perf_counter(self) -> float:
        """Seconds on a monotonic clock (spans and deadlines), captured at import."""
        return _perf_counter()

    def time(self) -> float:
        """Epoch seconds (when a round ran)."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        time.sleep(seconds)


#: The clock in use; tests swap it for a :class:`FakeClock`-like object.
clock = Clock()


@dataclass
class FakeClock(Clock):
    """A clock that moves only when told to: ``sleep`` and ``advance`` move it, and each
    ``perf_counter`` reading moves it by ``tick`` seconds (a call that takes time)."""

    now: float = 1000.0
    tick: float = 0.0

    def perf_counter(self) -> float:
        self.now += self.tick
        return self.now

    def time(self) -> float:
        return 1.7e9 + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` (the time some work took)."""
        self.now += seconds
