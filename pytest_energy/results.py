"""One test's energy result: its real call (tier 1) and, where asked, its rounds (tier 2).

Typed between modules; :meth:`TestResult.to_dict` / :meth:`TestResult.from_dict` are used
only at the JSON, baseline and xdist boundaries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .carbon import Intensity
from .config import Budget
from .protocol import CallWindow, Measurement
from .units import si, si_range

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
    budget: BudgetCheck | None = None
    #: The ``energy(max_regression=...)`` marker's fraction, if any.
    max_regression: float | None = None
    worker: str = "main"
    #: Measured on a machine-wide meter while other xdist workers ran: their work is in it.
    shared: bool = False

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
            "max_regression": self.max_regression, "shared": self.shared,
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
            co2_g=data["co2_g"], budget=BudgetCheck(**data["budget"]) if data.get("budget") else None,
            max_regression=data.get("max_regression"), worker=data.get("worker", "main"),
            shared=data.get("shared", False),
        )


def judge_budget(result: TestResult, budget: Budget, intensity: Intensity) -> BudgetCheck:
    """Judge ``budget`` on the result's figure; the message says which figure it was."""
    joules = result.joules
    message = None
    if budget.joules is not None and joules > budget.joules:
        message = f"energy budget exceeded: {result.describe_figure()} > {budget.joules:g} J"
    elif budget.co2_g is not None and intensity.co2_g(joules) > budget.co2_g:
        message = (
            f"energy budget exceeded: {intensity.co2_g(joules):.3g} gCO2e from {result.describe_figure()} "
            f"at {intensity.describe()} > {budget.co2_g:g} gCO2e"
        )
    return BudgetCheck(budget.joules, budget.co2_g, "over" if message else "ok", message)
