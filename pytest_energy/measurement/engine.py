"""The measurement protocol: one window around a real call, or repeated rounds.

**Tier 1** (:meth:`Engine.start_window` / :meth:`Engine.end_window`): two meter readings
around a call that runs anyway. **Tier 2** (:meth:`Engine.run_rounds`): unmeasured warmup
calls, then ``rounds`` rounds of ``iterations`` calls between two readings each. A
:class:`Source` opens every round before its window (fresh inputs, or a test's fresh
fixtures) and closes it after. ``iterations`` grows until a round spans the meters'
minimum window; a round shorter than half of it is a calibration round and is dropped.

Every figure has idle power (real meters only) times the span between its two readings
subtracted, and the meters' own reading cost (:meth:`Engine.measure_read_cost`), floored
at 0. ``max_time_s`` bounds all of tier 2 for one test: no call or round starts that the
remaining time does not allow, and a round stops calling at the deadline.

Garbage collection is left alone: a figure includes the collections its allocations
cause, as they would in production, and no collection is forced.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .. import timing
from ..results import CallWindow, Measurement, Round
from ..settings import ProtocolSettings
from .meters import MeterSet, Reading

#: Calibration never runs more calls than this in one round.
MAX_ITERATIONS = 10_000_000
#: Paired rounds (``pytest-energy ab``) span this many steps of the meters' counters (their
#: resolution), or the meters' minimum window if that is shorter: a paired verdict averages
#: many rounds, so a round needs no more than a counter's few steps to be unbiased.
PAIRED_STEPS = 20
#: Empty windows read to find the meters' own reading cost.
READ_COST_SAMPLES = 15


class Source(Protocol):
    """What a round runs: ``open`` before its window, ``call`` inside, ``close`` after."""

    def open(self, iterations: int) -> None:
        """Prepare a round of ``iterations`` calls (fresh inputs or fixtures)."""

    def call(self) -> None:
        """One call; exceptions propagate."""

    def close(self) -> None:
        """Release what ``open`` prepared."""


class CallableSource:
    """``fn()``, or ``fn(prepare())`` with a round's inputs all built before its window."""

    def __init__(self, fn: Callable[..., Any], prepare: Callable[[], Any] | None = None) -> None:
        self.fn = fn
        self.prepare = prepare
        self._inputs: list[Any] = []

    def open(self, iterations: int) -> None:
        if self.prepare is not None:
            self._inputs = [self.prepare() for _ in range(iterations)]

    def call(self) -> None:
        if self.prepare is None:
            self.fn()
        else:
            self.fn(self._inputs.pop())

    def close(self) -> None:
        self._inputs = []


class Engine:
    """Runs the protocol with one set of meters; tier 2 is serialised by ``lock``."""

    def __init__(
        self,
        meters: MeterSet,
        idle_watts: float = 0.0,
        lock: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
        clock: timing.Clock | None = None,
    ) -> None:
        self.meters = meters
        #: Every span, deadline and sleep reads this clock (a fake one in tests).
        self.clock = clock or timing.clock
        self.idle_watts = idle_watts
        self.lock = lock
        #: Joules an empty window reads: the meters' own reading cost, subtracted per window.
        self.read_cost_j = 0.0
        #: Called before the first round and after every warmup call and round of tier 2
        #: with what was just done: ``pytest-energy ab`` hands the machine to the other
        #: revision's process there, and the :class:`Steer` it returns fixes the calls per
        #: round or stops the rounds. The time it blocks does not count against ``max_time_s``.
        self.between_rounds: Callable[[Handover], Steer | None] | None = None
        #: Rounds are paired with another process's (``pytest-energy ab``): a round then
        #: needs to span only :data:`PAIRED_STEPS` steps of the meters' counters.
        self.paired = False

    def measure_idle(self, seconds: float) -> float:
        """Measure idle power of the real meters over ``seconds`` (0 W for the estimate)."""
        if seconds <= 0 or all(m.is_estimate for m in self.meters.meters):
            return 0.0
        with self.lock():
            start, t0 = self._open()
            self.clock.sleep(seconds)
            end, t1 = self._close()
        self.idle_watts = self.meters.joules_between(start, end, real_only=True) / (t1 - t0)
        return self.idle_watts

    def measure_read_cost(self) -> float:
        """Median joules of empty windows (idle subtracted): what reading itself costs."""
        costs = []
        for _ in range(READ_COST_SAMPLES):
            start, t0 = self._open()
            end, t1 = self._close()
            costs.append(max(0.0, self.meters.joules_between(start, end) - self.idle_watts * (t1 - t0)))
        self.read_cost_j = statistics.median(costs)
        return self.read_cost_j

    def _net(self, gross: float, window_s: float) -> float:
        return max(0.0, gross - self.idle_watts * window_s - self.read_cost_j)

    def _timed_read(self) -> tuple[Reading, float]:
        """A reading and the clock instant it stands for (the middle of the read)."""
        before = self.clock.perf_counter()
        reading = self.meters.read()
        return reading, (before + self.clock.perf_counter()) / 2

    def _open(self) -> tuple[Reading, float]:
        """The opening reading of a window; counting meters count from here."""
        reading = self._timed_read()
        self.meters.begin()
        return reading

    def _close(self) -> tuple[Reading, float]:
        """The closing reading of a window, after counting meters stopped."""
        self.meters.end()
        return self._timed_read()

    # -- tier 1 ----------------------------------------------------------------------------
    def start_window(self) -> tuple[Reading, float]:
        """The opening reading of a tier-1 window."""
        return self._open()

    def end_window(self, start: tuple[Reading, float], seconds: float) -> CallWindow:
        """Close a window opened by :meth:`start_window` around a call of ``seconds``."""
        end, read_end = self._close()
        gross = self.meters.joules_between(start[0], end)
        window_s = read_end - start[1]
        started = self.clock.time() - (self.clock.perf_counter() - start[1])
        return CallWindow(
            joules=self._net(gross, window_s), gross_joules=gross, seconds=seconds, window_s=window_s,
            below_resolution=window_s < self.meters.resolution_s, counts=self.meters.window_counts(),
            started=started,
        )

    # -- tier 2 ----------------------------------------------------------------------------
    def run(
        self, fn: Callable[..., Any], settings: ProtocolSettings,
        prepare: Callable[[], Any] | None = None,
    ) -> Measurement:
        """Repeat ``fn`` (or ``fn(prepare())``). Exceptions from ``fn`` propagate; when no
        round fits in ``max_time_s`` the measurement has no rounds."""
        measured = self.run_rounds({"": CallableSource(fn, prepare)}, settings)[0]
        return measured.get("") or Measurement(
            meter=self.meters.label, is_estimate=self.meters.is_estimate, rounds=[],
            idle_watts=self.idle_watts, settings=settings, capped=True,
        )

    def run_rounds(
        self, sources: dict[str, Source], settings: ProtocolSettings,
        call_s: dict[str, float] | None = None, fresh_each_call: bool = False,
    ) -> tuple[dict[str, Measurement], list[str]]:
        """Measure sources in interleaved rounds (A B A B ...); exceptions propagate.

        ``call_s`` gives the seconds of a call already made (a test's real call), which
        counts as the first warmup call. With ``fresh_each_call`` every call of a round
        gets its own ``open``/``close`` (a test's fresh fixtures) and its own window, and
        the round is the sum of its calls' windows. Returns measurements by label (a label
        whose rounds did not fit in ``max_time_s`` has none) and the order the rounds ran in.
        """
        now = self.clock.perf_counter
        deadline = now() + settings.max_time_s
        min_round_s = self._min_round_s(settings)
        per_call: dict[str, float] = dict(call_s or {})
        round_cost: dict[str, float] = {label: 0.0 for label in sources}
        rounds: dict[str, list[Round]] = {label: [] for label in sources}
        order: list[str] = []
        capped = False
        with self.lock():
            single = settings.rounds == 1  # one call: no warmup, no calibration
            for label, source in sources.items():
                for _ in range(0 if single else settings.warmup - (label in call_s if call_s else 0)):
                    if not _fits(now(), per_call.get(label), 1, round_cost[label], deadline):
                        capped = True
                        break
                    _, seconds, round_cost[label] = self._calls(source, 1, deadline, read=False)
                    per_call[label] = seconds
                    deadline += self._hand_over(Handover())[0]
            iterations = {
                label: 1 if single else
                _iterations(now(), per_call.get(label), min_round_s, deadline, settings.rounds)
                for label in sources
            }
            fixed: set[str] = set()  # calls per round settled by the partner: no calibration
            stopped: set[str] = set()
            if not single and self.between_rounds is not None:
                for label in sources:
                    waited, steer = self._hand_over(Handover(iterations=iterations[label]))
                    deadline += waited
                    if steer.iterations:
                        iterations[label] = steer.iterations
                        fixed.add(label)
            while not capped and any(len(rounds[label]) < settings.rounds and label not in stopped
                                     for label in sources):
                for label, source in sources.items():
                    if len(rounds[label]) >= settings.rounds or label in stopped:
                        continue
                    count = iterations[label]
                    if not _fits(now(), per_call.get(label), count, round_cost[label], deadline):
                        capped = True
                        break
                    calls = self._fresh_calls if fresh_each_call else self._calls
                    round_, _, round_cost[label] = calls(source, count, deadline, read=True)
                    assert round_ is not None
                    per_call[label] = round_.seconds / round_.iterations
                    grown = _grow(now(), count, round_.seconds, min_round_s, deadline, settings.rounds)
                    calibrating = round_.seconds < min_round_s / 2 and grown > count
                    if not single and label not in fixed and calibrating:
                        iterations[label] = grown  # a calibration round: dropped
                        deadline += self._hand_over(Handover())[0]
                        continue
                    rounds[label].append(round_)
                    order.append(label)
                    waited, steer = self._hand_over(Handover(round_=round_))
                    deadline += waited
                    if steer.stop:
                        stopped.add(label)
        warnings = self.meters.warnings()
        measurements = {
            label: Measurement(
                meter=self.meters.label, is_estimate=self.meters.is_estimate, rounds=rounds[label],
                idle_watts=self.idle_watts, settings=settings, capped=capped, warnings=warnings,
            )
            for label in sources if rounds[label]
        }
        return measurements, order

    def _min_round_s(self, settings: ProtocolSettings) -> float:
        if settings.min_round_s is not None:
            return settings.min_round_s
        if self.paired:
            return min(self.meters.min_window_s, PAIRED_STEPS * self.meters.resolution_s)
        return self.meters.min_window_s

    def _hand_over(self, done: Handover) -> tuple[float, Steer]:
        """Run :attr:`between_rounds`: the seconds it took, and what it decided."""
        if self.between_rounds is None:
            return 0.0, Steer()
        started = self.clock.perf_counter()
        steer = self.between_rounds(done) or Steer()
        return self.clock.perf_counter() - started, steer

    def _fresh_calls(
        self, source: Source, count: int, deadline: float, *, read: bool,
    ) -> tuple[Round | None, float, float]:
        """As :meth:`_calls`, but each call opens and closes its own round (fresh fixtures)
        and window: the round is the sum of the calls' windows."""
        parts, cost = [], 0.0
        while len(parts) < count:
            part, _, part_cost = self._calls(source, 1, deadline, read=True)
            assert part is not None
            parts.append(part)
            cost += part_cost
            if self.clock.perf_counter() > deadline:
                break
        round_ = _sum_rounds(parts)
        return round_, round_.seconds, cost

    def _calls(
        self, source: Source, count: int, deadline: float, *, read: bool,
    ) -> tuple[Round | None, float, float]:
        """Open a round, make up to ``count`` calls (stopping at the deadline), close it.

        Returns the round (when ``read``), the seconds of the calls, and the seconds that
        opening and closing took.
        """
        clock = self.clock
        t_open = clock.perf_counter()
        source.open(count)
        counting = False
        try:
            started = clock.time()
            if read:
                start, read_start = self._open()
                counting = True
            call, now = source.call, clock.perf_counter
            made = 0
            t0 = now()
            while made < count:
                call()
                made += 1
                if now() > deadline:
                    break
            seconds = now() - t0
            if read:
                counting = False
                end, read_end = self._close()
        finally:
            if counting:  # a call raised inside the window: counting meters stop all the same
                self.meters.end()
            source.close()
        cost = clock.perf_counter() - t_open - seconds
        if not read:
            return None, seconds / made, cost
        gross = self.meters.joules_between(start, end)
        window_s = read_end - read_start
        round_ = Round(
            joules=self._net(gross, window_s), gross_joules=gross, seconds=seconds, iterations=made,
            window_s=window_s, started=started, ended=clock.time(),
        )
        return round_, seconds, cost


@dataclass(frozen=True)
class Handover:
    """What a process did before handing the turn over: a warmup call (nothing set), the
    calls per round it would make (before the first round), or a measured round."""

    iterations: int | None = None
    round_: Round | None = None


@dataclass(frozen=True)
class Steer:
    """What the partner process decided at a handover (``pytest-energy ab``)."""

    #: Calls per round from now on, the same on both sides (None: calibrate as usual).
    iterations: int | None = None
    #: The verdict is clear: no more rounds for this test.
    stop: bool = False


def _sum_rounds(parts: list[Round]) -> Round:
    """One round made of several one-call windows: their sums (a quantised counter's
    steps fall into each window in proportion to its length, so the sum stays unbiased)."""
    return Round(
        joules=sum(r.joules for r in parts), gross_joules=sum(r.gross_joules for r in parts),
        seconds=sum(r.seconds for r in parts), iterations=len(parts),
        window_s=sum(r.window_s for r in parts), started=parts[0].started, ended=parts[-1].ended,
    )


def _fits(now: float, per_call: float | None, count: int, round_cost: float, deadline: float) -> bool:
    """Whether ``count`` calls (and a round's opening and closing) fit before the deadline.

    With nothing known yet, one call is always allowed: its time tells the rest."""
    if per_call is None:
        return True
    return now + per_call * count + round_cost <= deadline


def _affordable(now: float, per_call: float, deadline: float, rounds: int) -> int:
    remaining = max(0.0, deadline - now)
    return max(1, int(remaining / max(rounds, 1) / max(per_call, 1e-9)))


def _iterations(now: float, per_call: float | None, min_round_s: float, deadline: float, rounds: int) -> int:
    """Calls per round for a call of ``per_call`` seconds to span ``min_round_s`` (x1.2)."""
    if per_call is None:
        return 1
    wanted = math.ceil(1.2 * min_round_s / max(per_call, 1e-9))
    return max(1, min(wanted, MAX_ITERATIONS, _affordable(now, per_call, deadline, rounds)))


def _grow(now: float, count: int, seconds: float, min_round_s: float, deadline: float, rounds: int) -> int:
    """The next calibration count after ``count`` calls took ``seconds``."""
    per_call = max(seconds / count, 1e-9)
    wanted = math.ceil(count * 1.2 * min_round_s / max(seconds, 1e-9))
    affordable = _affordable(now, per_call, deadline, rounds)
    return min(max(wanted, count * 2), count * 1000, MAX_ITERATIONS, affordable)
