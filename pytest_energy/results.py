"""Typed results shared by every module: a measured window, rounds, and one test's result.

A test's figure travels as these dataclasses from the engine to the reports;
``to_dict``/``from_dict`` are used only at the JSON, baseline and xdist boundaries.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from .measurement.sci import Sci
from .settings import ProtocolSettings
from .stats import Summary, summarize
from .units import si, si_range


@dataclass(frozen=True)
class CallWindow:
    """Tier 1: one real call between two readings (whole-call figures)."""

    joules: float
    gross_joules: float
    #: Seconds the call took.
    seconds: float
    #: Seconds between the two readings, over which idle power is subtracted.
    window_s: float
    #: The window is shorter than the meters resolve: the figure is not precise alone.
    below_resolution: bool
    #: The raw counts behind a simulated figure (instructions, cache misses), else None.
    counts: dict[str, int] | None = None
    #: Wall-clock (epoch) seconds when the window opened: the run's order in time, which
    #: the gate follows to tell the machine's drift (None in files written before it).
    started: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


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
    """Every round of one repeated test or callable, with the meter that produced it."""

    meter: str
    is_estimate: bool
    rounds: list[Round]
    idle_watts: float
    settings: ProtocolSettings = ProtocolSettings()
    #: True when the time cap stopped warmup or rounds early.
    capped: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def iterations(self) -> int:
        """Calls per round (of the last round; a round cut by the deadline may hold fewer)."""
        return self.rounds[-1].iterations if self.rounds else 0

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
            "iterations": self.iterations,
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

    @classmethod
    def from_dict(cls, data: dict[str, Any], meter: str, is_estimate: bool, idle_watts: float) -> Measurement:
        """Inverse of :meth:`to_dict` (derived figures are recomputed)."""
        return cls(
            meter=meter, is_estimate=is_estimate, rounds=[Round(**r) for r in data["rounds"]],
            idle_watts=idle_watts, settings=ProtocolSettings(**data["settings"]),
            capped=data["capped"], warnings=list(data["warnings"]),
        )


#: ``TestResult.repeat`` values: repetition was not asked for (None), or:
REPEATED, NOT_REPEATABLE, CUT = "repeated", "not repeatable", "cut"


@dataclass
class BudgetCheck:
    """An ``energy_budget`` marker judged against a result."""

    joules: float | None
    co2_g: float | None
    #: "ok" or "over".
    status: str
    message: str | None
    sci_g: float | None = None


@dataclass
class TestResult:
    """Figures for one test (or one ``energy.compare`` candidate, ``test::label``)."""

    __test__ = False  # not a pytest test class

    nodeid: str
    meter: str
    is_estimate: bool
    idle_watts: float
    #: Tier 1: the real call (None when the ``energy`` fixture measured instead).
    call: CallWindow | None = None
    #: Tier 2: repeated rounds (None when not asked, not repeatable or cut).
    measurement: Measurement | None = None
    #: None (not asked), REPEATED, NOT_REPEATABLE or CUT.
    repeat: str | None = None
    #: One line: why repetition failed or was cut.
    repeat_reason: str = ""
    co2_g: float = 0.0
    #: Software Carbon Intensity of one call (None in files written before it).
    sci: Sci | None = None
    budget: BudgetCheck | None = None
    #: The ``energy(max_regression=...)`` marker's fraction, if any.
    max_regression: float | None = None
    worker: str = "main"
    #: Measured on a machine-wide meter while other xdist workers ran: their work is in it.
    shared: bool = False
    #: A deterministic meter's model and cache geometry ("" for sampled meters): figures of
    #: different models are never compared.
    model: str = ""
    #: The ``energy.versus`` candidate's label ('' for a test's own figure).
    candidate: str = ""

    @property
    def path(self) -> str:
        """The test's file, as in its node id."""
        return self.nodeid.split("::", 1)[0]

    @property
    def tier(self) -> int:
        """2 when figures come from repeated rounds, else 1 (the real call)."""
        return 1 if self.measurement is None else 2

    @property
    def joules(self) -> float:
        """Attributable joules per call: the rounds' median, else the real call's."""
        if self.measurement is not None:
            return self.measurement.summary.median
        assert self.call is not None
        return self.call.joules

    @property
    def seconds(self) -> float:
        """Seconds per call, chosen as :attr:`joules` is."""
        if self.measurement is not None:
            return self.measurement.seconds_summary.median
        assert self.call is not None
        return self.call.seconds

    @property
    def counts(self) -> dict[str, int] | None:
        """The raw counts behind a simulated real call (None for sampled meters)."""
        return self.call.counts if self.call is not None else None

    @property
    def below_resolution(self) -> bool:
        """True when the figure is one real call shorter than the meters resolve."""
        return self.measurement is None and self.call is not None and self.call.below_resolution

    @property
    def samples(self) -> list[float]:
        """Joules per call: one per round, or the real call's single value."""
        return self.measurement.joules_per_call if self.measurement else [self.joules]

    def describe_figure(self) -> str:
        """E.g. ``3.1 mJ (95% CI 2.9-3.3 mJ, estimate)`` or ``... (real call, estimate)``."""
        if self.measurement is not None:
            s = self.measurement.summary
            spread = si_range(s.ci_low, s.ci_high, "J") if s.n > 1 else "n/a, 1 round"
            return f"{si(self.joules, 'J')} (95% CI {spread}, {self.meter})"
        why = f"; {self.repeat}: {self.repeat_reason}" if self.repeat in (NOT_REPEATABLE, CUT) else ""
        return f"{si(self.joules, 'J')} (real call{why}, {self.meter})"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON and xdist; the rounds' fields sit at the top level."""
        data: dict[str, Any] = {
            "nodeid": self.nodeid, "worker": self.worker, "meter": self.meter,
            "estimate": self.is_estimate, "idle_watts": self.idle_watts, "tier": self.tier,
            "joules": self.joules, "seconds": self.seconds, "co2_g": self.co2_g,
            "below_resolution": self.below_resolution,
            "call": self.call.to_dict() if self.call else None,
            "repeat": self.repeat, "repeat_reason": self.repeat_reason,
            "budget": asdict(self.budget) if self.budget else None,
            "max_regression": self.max_regression, "shared": self.shared, "model": self.model,
            "candidate": self.candidate, "sci": self.sci.to_dict() if self.sci else None,
        }
        if self.measurement is not None:
            data.update(self.measurement.to_dict())
        else:
            data["samples"] = {"joules": self.samples, "seconds": [self.seconds]}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        """Inverse of :meth:`to_dict`."""
        meter, estimate, idle = data["meter"], data["estimate"], data["idle_watts"]
        return cls(
            nodeid=data["nodeid"], meter=meter, is_estimate=estimate, idle_watts=idle,
            call=CallWindow(**data["call"]) if data.get("call") else None,
            measurement=Measurement.from_dict(data, meter, estimate, idle) if "rounds" in data else None,
            repeat=data.get("repeat"), repeat_reason=data.get("repeat_reason", ""),
            co2_g=data["co2_g"], sci=Sci.from_dict(data["sci"]) if data.get("sci") else None,
            budget=BudgetCheck(**data["budget"]) if data.get("budget") else None,
            max_regression=data.get("max_regression"), worker=data.get("worker", "main"),
            shared=data.get("shared", False), model=str(data.get("model") or ""),
            candidate=str(data.get("candidate") or ""),
        )


def file_totals(results: list[TestResult]) -> dict[str, tuple[float, str]]:
    """Per file: the sum of its tests' real-call joules, and a digest of which tests
    those are (totals of different sets of tests are not compared)."""
    joules: dict[str, float] = {}
    ids: dict[str, list[str]] = {}
    for result in results:
        if result.call is not None:
            joules[result.path] = joules.get(result.path, 0.0) + result.call.joules
            ids.setdefault(result.path, []).append(result.nodeid)
    return {path: (joules[path], _digest(ids[path])) for path in joules}


def _digest(nodeids: list[str]) -> str:
    return hashlib.sha1("\n".join(sorted(nodeids)).encode()).hexdigest()[:16]
