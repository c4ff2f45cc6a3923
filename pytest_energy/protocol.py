"""The measurement protocol: warmup, calibration, rounds, idle subtraction.

A test (or any callable) runs ``rounds`` times ``iterations`` calls between two meter
readings per round. ``iterations`` grows until a round spans the meters' minimum window,
and figures are reported per call. Idle power (real meters only) times the span between
the two readings is subtracted to give attributable joules, floored at 0.
"""

from __future__ import annotations

import contextlib
import gc
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from .carbon import Intensity
from .meters import MeterOptions, MeterSet, Reading, select_meters
from .stats import Summary, summarize

#: Calibration never runs more calls than this in one round.
MAX_ITERATIONS = 10_000_000


@dataclass(frozen=True)
class ProtocolSettings:
    """How one callable is measured."""

    rounds: int = 5
    warmup: int = 1
    #: Seconds a round must span; None means the meters' own minimum window.
    min_round_s: float | None = None
    #: Cap on seconds spent on one callable (warmup, calibration and rounds).
    max_time_s: float = 10.0


@dataclass(frozen=True)
class Round:
    """One measured round of ``iterations`` calls (whole-round figures)."""

    joules: float
    gross_joules: float
    #: Seconds the calls took.
    seconds: float
    iterations: int
    #: Seconds between the two meter readings, over which idle power is subtracted.
    window_s: float
    #: Wall-clock (epoch) seconds when the round's window opened and closed.
    started: float
    ended: float


@dataclass
class Measurement:
    """Every round of one measured callable, with the meter that produced it."""

    meter: str
    is_estimate: bool
    iterations: int
    rounds: list[Round]
    idle_watts: float
    settings: ProtocolSettings = ProtocolSettings()
    #: True when the time cap stopped the rounds early.
    capped: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def joules_per_call(self) -> list[float]:
        """Attributable joules per call, one sample per round."""
        return [r.joules / r.iterations for r in self.rounds]

    @property
    def gross_joules_per_call(self) -> list[float]:
        """Gross joules (idle included) per call, one sample per round."""
        return [r.gross_joules / r.iterations for r in self.rounds]

    @property
    def seconds_per_call(self) -> list[float]:
        """Seconds per call, one sample per round."""
        return [r.seconds / r.iterations for r in self.rounds]

    @property
    def samples(self) -> dict[str, list[float]]:
        """The per-call samples by quantity, one per round, as JSON and baselines hold them."""
        return {
            "joules": self.joules_per_call,
            "gross_joules": self.gross_joules_per_call,
            "seconds": self.seconds_per_call,
        }

    @cached_property
    def summary(self) -> Summary:
        """Summary of attributable joules per call."""
        return summarize(self.joules_per_call)

    @cached_property
    def seconds_summary(self) -> Summary:
        """Summary of seconds per call."""
        return summarize(self.seconds_per_call)

    @property
    def watts(self) -> float:
        """Mean attributable power over the measured rounds."""
        seconds = sum(r.seconds for r in self.rounds)
        return sum(r.joules for r in self.rounds) / seconds if seconds > 0 else 0.0

    @property
    def window(self) -> tuple[float, float]:
        """Epoch seconds from the first round's start to the last round's end."""
        return self.rounds[0].started, self.rounds[-1].ended

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON: raw rounds, per-call samples and summaries."""
        return {
            "meter": self.meter,
            "estimate": self.is_estimate,
            "iterations": self.iterations,
            "idle_watts": self.idle_watts,
            "capped": self.capped,
            "settings": asdict(self.settings),
            "warnings": list(self.warnings),
            "rounds": [asdict(r) for r in self.rounds],
            "samples": self.samples,
            "summary": self.summary.to_dict(),
            "seconds_summary": self.seconds_summary.to_dict(),
            "watts": self.watts,
            "window": list(self.window),
        }


class Engine:
    """Runs the protocol with one set of meters; optionally serialised by ``lock``."""

    def __init__(
        self,
        meters: MeterSet,
        idle_watts: float = 0.0,
        lock: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    ) -> None:
        self.meters = meters
        self.idle_watts = idle_watts
        self.lock = lock

    def measure_idle(self, seconds: float) -> float:
        """Measure idle power of the real meters over ``seconds`` (0 W for the estimate)."""
        if seconds <= 0 or all(m.is_estimate for m in self.meters.meters):
            return 0.0
        with self.lock():
            start, t0 = _timed_read(self.meters)
            time.sleep(seconds)
            end, t1 = _timed_read(self.meters)
        self.idle_watts = self.meters.joules_between(start, end, real_only=True) / (t1 - t0)
        return self.idle_watts

    def run(
        self, fn: Callable[..., Any], settings: ProtocolSettings,
        prepare: Callable[[], Any] | None = None,
    ) -> Measurement:
        """Measure ``fn``. Exceptions from ``fn`` propagate and nothing is recorded.

        With ``prepare``, every call is ``fn(prepare())`` and a round's inputs are all
        prepared before its window opens.
        """
        return self.run_interleaved({"": (fn, prepare)}, settings)[0][""]

    def run_interleaved(
        self, tasks: dict[str, tuple[Callable[..., Any], Callable[[], Any] | None]],
        settings: ProtocolSettings,
    ) -> tuple[dict[str, Measurement], list[str]]:
        """Measure several callables in interleaved rounds (A B A B ...).

        Each is warmed up and calibrated on its own first. Returns the measurements by
        label and the order in which the rounds ran.
        """
        min_round_s = settings.min_round_s or self.meters.min_window_s
        rounds: dict[str, list[Round]] = {label: [] for label in tasks}
        order: list[str] = []
        capped = False
        with self.lock(), _gc_paused():
            started = time.perf_counter()
            iterations = {
                label: self._calibrate(fn, prepare, min_round_s, settings)
                for label, (fn, prepare) in tasks.items()
            }
            budget_s = settings.max_time_s * len(tasks)
            for index in range(settings.rounds):
                if index and time.perf_counter() - started > budget_s:
                    capped = True
                    break
                for label, (fn, prepare) in tasks.items():
                    rounds[label].append(self._round(fn, prepare, iterations[label]))
                    order.append(label)
        warnings = self.meters.warnings()
        measurements = {
            label: Measurement(
                meter=self.meters.label, is_estimate=self.meters.is_estimate,
                iterations=iterations[label], rounds=rounds[label], idle_watts=self.idle_watts,
                settings=settings, capped=capped, warnings=warnings,
            )
            for label in tasks
        }
        return measurements, order

    def _calibrate(
        self, fn: Callable[..., Any], prepare: Callable[[], Any] | None, min_round_s: float,
        settings: ProtocolSettings,
    ) -> int:
        """Warm up, then find the smallest iteration count (grown geometrically) whose
        batch spans ``min_round_s``. ``rounds=1`` means one call: no warmup, no calibration."""
        if settings.rounds == 1:
            return 1
        for _ in range(settings.warmup):
            _call_batch(fn, _inputs(prepare, 1), 1)
        iterations = 1
        while iterations < MAX_ITERATIONS:
            inputs = _inputs(prepare, iterations)
            t0 = time.perf_counter()
            _call_batch(fn, inputs, iterations)
            elapsed = time.perf_counter() - t0
            if elapsed >= min_round_s:
                break
            per_call = max(elapsed / iterations, 1e-9)
            budget_calls = max(1, int(settings.max_time_s / settings.rounds / per_call))
            wanted = math.ceil(iterations * 1.2 * min_round_s / max(elapsed, 1e-9))
            grown = min(max(wanted, iterations * 2), iterations * 1000, MAX_ITERATIONS, budget_calls)
            if grown <= iterations:
                break
            iterations = grown
        return iterations

    def _round(self, fn: Callable[..., Any], prepare: Callable[[], Any] | None, iterations: int) -> Round:
        inputs = _inputs(prepare, iterations)
        started = time.time()
        start, read_start = _timed_read(self.meters)
        t0 = time.perf_counter()
        _call_batch(fn, inputs, iterations)
        seconds = time.perf_counter() - t0
        end, read_end = _timed_read(self.meters)
        gross = self.meters.joules_between(start, end)
        window_s = read_end - read_start
        return Round(
            joules=max(0.0, gross - self.idle_watts * window_s), gross_joules=gross, seconds=seconds,
            iterations=iterations, window_s=window_s, started=started, ended=time.time(),
        )


def _timed_read(meters: MeterSet) -> tuple[Reading, float]:
    """A reading and the ``perf_counter`` instant it stands for (the middle of the read)."""
    before = time.perf_counter()
    reading = meters.read()
    return reading, (before + time.perf_counter()) / 2


def _inputs(prepare: Callable[[], Any] | None, count: int) -> list[Any] | None:
    return None if prepare is None else [prepare() for _ in range(count)]


def _call_batch(fn: Callable[..., Any], inputs: list[Any] | None, iterations: int) -> None:
    if inputs is None:
        for _ in range(iterations):
            fn()
    else:
        for value in inputs:
            fn(value)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class Window:
    """Result of one :func:`measure` block (filled in when the block ends)."""

    meter: str = ""
    is_estimate: bool = False
    joules: float = 0.0
    gross_joules: float = 0.0
    seconds: float = 0.0
    co2_g: float = 0.0


@contextlib.contextmanager
def measure(
    meter: str = "auto",
    *,
    idle_watts: float = 0.0,
    powercap_root: str = "/sys/class/powercap",
    intensity: Intensity | None = None,
) -> Iterator[Window]:
    """Measure one block of code outside pytest::

        with measure() as m:
            work()
        print(m.joules, m.meter)

    ``joules`` is gross minus ``idle_watts`` x seconds (floored at 0); ``meter`` says
    which meters produced it ("estimate" for modelled figures).
    """
    selection = select_meters(meter, MeterOptions(powercap_root=powercap_root))
    meters = MeterSet(selection.meters)
    window = Window(meter=meters.label, is_estimate=meters.is_estimate)
    try:
        start, t0 = _timed_read(meters)
        yield window
        end, t1 = _timed_read(meters)
    finally:
        meters.close()
    window.seconds = t1 - t0
    window.gross_joules = meters.joules_between(start, end)
    window.joules = max(0.0, window.gross_joules - idle_watts * window.seconds)
    window.co2_g = (intensity or Intensity()).co2_g(window.joules)
