"""Candidates measured against each other: native code against the Python it replaces.

``versus({"c": c_sort, "python": py_sort}, data, setup=list)`` (``energy.versus`` in a test) warms up and
calibrates each candidate, then measures them in interleaved rounds (A B A B ...) so
drift hits both alike. Ratios to the reference candidate are taken round by round (the
rounds are paired) with a bootstrap 95% CI of their median.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..results import Measurement
from ..settings import ProtocolSettings
from ..stats import bootstrap_median_ci
from ..units import si
from .engine import CallableSource, Engine
from .meters import MeterOptions, MeterSet, select_meters


class CandidateMismatch(AssertionError):
    """A candidate's result differs from the reference's."""


@dataclass(frozen=True)
class Ratio:
    """Median of per-round ratios to the reference, with its 95% CI."""

    median: float
    ci_low: float
    ci_high: float

    def __str__(self) -> str:
        return f"{self.median:.3g} (95% CI {self.ci_low:.3g}-{self.ci_high:.3g})"


def ratio_to_reference(values: list[float], reference: list[float]) -> Ratio:
    """Median of the per-round ratios ``values[i] / reference[i]``; inf where the reference is 0."""
    ratios = [v / r if r > 0 else float("inf") for v, r in zip(values, reference, strict=True)]
    low, high = bootstrap_median_ci(ratios)
    return Ratio(statistics.median(ratios), low, high)


@dataclass
class Candidate:
    """One candidate's figures (per call) and its ratios to the reference."""

    label: str
    measurement: Measurement | None
    value: Any = None
    energy_ratio: Ratio | None = None
    time_ratio: Ratio | None = None

    @property
    def joules(self) -> float:
        """Median attributable joules per call."""
        return self.measurement.summary.median if self.measurement else float("nan")

    @property
    def seconds(self) -> float:
        """Median seconds per call."""
        return self.measurement.seconds_summary.median if self.measurement else float("nan")

    @property
    def watts(self) -> float:
        """Mean attributable power while running."""
        return self.measurement.watts if self.measurement else float("nan")


@dataclass
class VersusResult:
    """The outcome of :func:`versus` (or ``energy.versus`` in a test)."""

    reference: str
    candidates: dict[str, Candidate]
    #: Labels in the order their measured rounds ran.
    order: list[str] = field(default_factory=list)
    meter: str = ""
    #: Header of the reported return values (None: values not reported).
    value_label: str | None = None

    @property
    def measured(self) -> bool:
        """False when energy was not measured (pytest ran without --energy)."""
        return self.reference in self.candidates and self.candidates[self.reference].measurement is not None

    def __getitem__(self, label: str) -> Candidate:
        return self.candidates[label]

    def ratio(self, label: str) -> Ratio:
        """Energy ratio of ``label`` to the reference."""
        ratio = self.candidates[label].energy_ratio
        if ratio is None:
            raise ValueError(f"no energy ratio for {label!r} (not measured, or it is the reference)")
        return ratio

    def check_ratio(
        self, label: str, *, at_most: float | None = None, at_least: float | None = None,
    ) -> str | None:
        """The failure message when the median energy ratio is outside the bounds, else None."""
        if not self.measured:
            return None
        ratio = self.ratio(label)
        if at_most is not None and ratio.median > at_most:
            bound = f"> {at_most:g} allowed"
        elif at_least is not None and ratio.median < at_least:
            bound = f"< {at_least:g} required"
        else:
            return None
        mine, ref = self.candidates[label], self.candidates[self.reference]
        return (
            f"energy ratio {label}/{self.reference} = {ratio} {bound}: {label} {si(mine.joules, 'J')} vs "
            f"{self.reference} {si(ref.joules, 'J')} per call ({self.meter})"
        )

    def assert_ratio(
        self, label: str, *, at_most: float | None = None, at_least: float | None = None,
    ) -> None:
        """Fail when ``label`` uses more than ``at_most`` (or less than ``at_least``) times
        the reference's energy. Does nothing when energy was not measured."""
        message = self.check_ratio(label, at_most=at_most, at_least=at_least)
        if message:
            raise AssertionError(message)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        def ratio(r: Ratio | None) -> dict[str, float] | None:
            return None if r is None else {"median": r.median, "ci_low": r.ci_low, "ci_high": r.ci_high}

        return {
            "reference": self.reference,
            "meter": self.meter,
            "order": list(self.order),
            "value_label": self.value_label,
            "candidates": [
                {
                    "label": c.label, "joules": c.joules, "seconds": c.seconds, "watts": c.watts,
                    "energy_ratio": ratio(c.energy_ratio), "time_ratio": ratio(c.time_ratio),
                    "value": _plain(c.value) if self.value_label else None,
                    "samples": c.measurement.samples if c.measurement else None,
                }
                for c in self.candidates.values()
            ],
        }


def _outcome(result: Any, prepared: Any) -> Any:
    """What is checked: the return value, or the prepared input for in-place functions."""
    return prepared if result is None and prepared is not None else result


def run_versus(
    engine: Engine | None,
    candidates: Mapping[str, Callable[..., Any]],
    *args: Any,
    settings: ProtocolSettings | None = None,
    setup: Callable[..., Any] | None = None,
    reference: str | None = None,
    check: bool | Callable[[Any, Any], bool] = True,
    value_label: str | None = None,
    **kwargs: Any,
) -> VersusResult:
    """Measure ``candidates`` on the same input in interleaved rounds.

    Each call is ``candidate(*args, **kwargs)``, or with ``setup``,
    ``candidate(setup(*args, **kwargs))`` with a fresh input built outside the measured
    window (for functions that mutate their input, such as an in-place sort). Each
    candidate's result (for an in-place function returning None: its input afterwards)
    must equal the reference's unless ``check`` is False, or satisfy ``check(result,
    reference_result)``. ``reference`` defaults to the last candidate. With ``engine``
    None (no --energy) each candidate runs once and is checked, and nothing is measured.
    """
    if len(candidates) < 2:
        raise ValueError("versus needs at least two candidates")
    reference = reference if reference is not None else list(candidates)[-1]
    if reference not in candidates:
        raise ValueError(f"reference {reference!r} is not a candidate ({', '.join(candidates)})")

    def prepare() -> Any:
        return setup(*args, **kwargs)

    def first_outcome(fn: Callable[..., Any]) -> Any:
        if setup is None:
            return fn(*args, **kwargs)
        prepared = prepare()
        return _outcome(fn(prepared), prepared)

    outcomes = {label: first_outcome(fn) for label, fn in candidates.items()}
    if check is not False:
        for label, value in outcomes.items():
            same = check(value, outcomes[reference]) if callable(check) else value == outcomes[reference]
            if not same:
                raise CandidateMismatch(
                    f"candidate {label!r} returned a different result from reference {reference!r}: "
                    f"{_short(value)} != {_short(outcomes[reference])} (pass check=False if expected)"
                )
    results = {label: Candidate(label, None, outcomes[label]) for label in candidates}
    if engine is None:
        return VersusResult(reference, results, value_label=value_label)
    sources = {
        label: CallableSource(fn, prepare) if setup else CallableSource(lambda fn=fn: fn(*args, **kwargs))
        for label, fn in candidates.items()
    }
    measurements, order = engine.run_rounds(sources, settings or ProtocolSettings())
    ref = measurements.get(reference)
    for label, measurement in measurements.items():
        candidate = results[label]
        candidate.measurement = measurement
        if label != reference and ref is not None:
            energy = _paired(measurement.joules_per_call, ref.joules_per_call)
            seconds = _paired(measurement.seconds_per_call, ref.seconds_per_call)
            candidate.energy_ratio = ratio_to_reference(*energy)
            candidate.time_ratio = ratio_to_reference(*seconds)
    return VersusResult(reference, results, order, engine.meters.label, value_label)


def versus(
    candidates: Mapping[str, Callable[..., Any]], *args: Any, meter: str = "auto",
    powercap_root: str = "/sys/class/powercap", **kwargs: Any,
) -> VersusResult:
    """:func:`run_versus` outside pytest, with its own meters (``meter`` as --energy-meter)."""
    selection = select_meters(meter, MeterOptions(powercap_root=powercap_root))
    meters = MeterSet(selection.meters)
    try:
        return run_versus(Engine(meters), candidates, *args, **kwargs)
    finally:
        meters.close()


#: The earlier name of :func:`versus`, kept for one release.
compare = versus


def _paired(values: list[float], reference: list[float]) -> tuple[list[float], list[float]]:
    """The rounds both ran (the time cap can stop one candidate a round short)."""
    count = min(len(values), len(reference))
    return values[:count], reference[:count]


def _plain(value: Any) -> Any:
    """``value`` when JSON can hold it as is, else its repr (JSON and xdist carry it)."""
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
