"""Which figure the gate and ``ab`` judge: joules per call (the default) or the Software
Carbon Intensity per call (``--energy-judge=sci``, ``pytest-energy ab --judge sci``).

One judging path for both: the results and the stored runs are seen through the figure
judged (:func:`results_as`, :func:`runs_as`), each value per call in the figure's place,
and the same rules run on them. SCI per call = (E + idle x time) x I x PUE + M(time): a
round's comes from its joules and its seconds (:meth:`~pytest_energy.measurement.sci.Sci.at`),
so its ratio mixes the energy's and the time's (the embodied part follows time only).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..history import StoredRun, StoredTotal, call_sci, sci_samples
from ..results import TestResult
from .rules import EXACT_NOISE_J, Comparison, Rule


@dataclass(frozen=True)
class Figure:
    """A judged quantity and how reports name it."""

    name: str
    #: The unit of its values (:func:`pytest_energy.units.si`).
    unit: str
    #: A table column's header for its value per call.
    column: str
    #: The words of a summary line: ``judged on SCI``.
    judged_on: str


JOULES = Figure("joules", "J", "J/call", "judged on joules")
SCI = Figure("sci", "g", "SCI g/call", "judged on SCI")
FIGURES = {f.name: f for f in (JOULES, SCI)}
#: What a baseline saved before SCI samples were stored says when SCI is judged.
NO_SCI = "baseline has no SCI figures: save one with this version (--energy-save)"


def figure(name: str) -> Figure:
    """The figure called ``name``; ValueError naming the choices."""
    try:
        return FIGURES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"{name!r} is not a figure to judge; choose joules or sci") from None


def of(c: Comparison) -> Figure:
    """The figure a comparison judged."""
    return FIGURES.get(c.quantity, JOULES)


def results_as(results: list[TestResult], judged: Figure) -> list[TestResult]:
    """``results`` with the judged figure per call in the joules' place (SCI: tests without
    an SCI figure are left out)."""
    if judged is JOULES:
        return results
    seen = []
    for r in results:
        samples = sci_samples(r)
        if not samples:
            continue
        call = replace(r.call, joules=call_sci(r) or 0.0) if r.call is not None else None
        measurement = r.measurement
        if measurement is not None:
            rounds = [replace(rd, joules=value * rd.iterations) for rd, value in zip(
                measurement.rounds, samples, strict=True)]
            measurement = replace(measurement, rounds=rounds)
        seen.append(replace(r, call=call, measurement=measurement))
    return seen


def runs_as(runs: list[StoredRun], judged: Figure) -> list[StoredRun]:
    """Stored runs with the judged figure in the joules' place (SCI: those without SCI
    samples are left out)."""
    if judged is JOULES:
        return runs
    return [replace(run, joules=run.sci_g, call_joules=run.call_sci_g) for run in runs if run.sci_g]


def totals_as(totals: list[StoredTotal], judged: Figure) -> list[StoredTotal]:
    """A file's stored totals with the judged figure in the joules' place."""
    if judged is JOULES:
        return totals
    return [replace(t, joules=t.sci_g) for t in totals if t.sci_g is not None]


def rule_for(rule: Rule, judged: Figure, results: list[TestResult]) -> Rule:
    """``rule`` for the judged figure: a deterministic meter's noise floor (joules) in grams."""
    if judged is JOULES:
        return rule
    rates = [r.sci.g_per_j for r in results if r.sci is not None and r.sci.g_per_j]
    return replace(rule, exact_noise=EXACT_NOISE_J * (rates[0] if rates else 0.0))


def labelled(comparisons: list[Comparison], judged: Figure) -> list[Comparison]:
    """The comparisons marked with the figure they judged."""
    return comparisons if judged is JOULES else [replace(c, quantity=judged.name) for c in comparisons]
