"""A sampled meter's regression rechecked before it fails a run.

One real call per test is all a plain ``pytest --energy`` run has, and on a loaded
machine a burst of load shorter than the gate's drift window (a few tests) can make one
or two calls look twice their history. So before a single call's regression fails the
run, the test is measured again in a few fresh calls (fresh fixtures each, as repetition
does), right after the run, and the run is judged again with the median of those calls
in place of the test's call (its file's total too). A burst does not come back for the
recheck; a real change does.

The machine's load at the recheck is not the load the test ran under, so the recheck is
judged against a drift measured beside it: :data:`REFERENCES` tests of about the same
size that the run did not flag are rechecked right after it, and the typical ratio of
their fresh calls to their history scales the test's fresh calls to the drift the run's
figure was judged against (:func:`to_run_drift`).

A recheck only ever takes a regression back (said in one line); it never makes one, and
what it measured is judged on its own p-value: a burst measures no change at all, a real
change about what the run did. The figures reported stay the run's own. Its calls come
after the test's first call, so a cost only the first call pays (an import, a cache
filled once) cannot be rechecked: such a regression is taken back too, and
``--energy-repeat`` or ``pytest-energy ab`` can tell it.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace

from ..results import TestResult
from ..units import percent
from .rules import IMPROVEMENT, INCONCLUSIVE, REGRESSION, Comparison, Rule, classify
from .suite import FILE_TOTAL

#: Unflagged tests of about a rechecked test's size rechecked beside it, to tell the
#: machine's drift at the recheck (fewer when the run has fewer).
REFERENCES = 4
#: Fewest of them that tell a drift; with fewer the run's own drift stands.
MIN_REFERENCES = 2


@dataclass(frozen=True)
class FreshCalls:
    """A rechecked test's fresh calls: joules and seconds of each (SCI needs both)."""

    joules: list[float]
    seconds: list[float]

    def scaled(self, factor: float) -> FreshCalls:
        """Both figures times ``factor`` (the machine's drift moves the time and, with
        it, the energy of the same work)."""
        return FreshCalls([j * factor for j in self.joules], [s * factor for s in self.seconds])


def needs_recheck(c: Comparison) -> bool:
    """True for a regression a recheck can take back: a sampled meter's single call."""
    return c.verdict == REGRESSION and c.single and not c.exact and not c.nodeid.endswith(FILE_TOTAL)


def suspects(comparisons: list[Comparison]) -> list[str]:
    """Node ids to recheck: each regression :func:`needs_recheck` takes, and every test of
    a file whose single-call total regressed (its tests alone may be too short to judge)."""
    files = {c.nodeid[:-len(FILE_TOTAL)] for c in comparisons
             if c.nodeid.endswith(FILE_TOTAL) and c.verdict == REGRESSION and c.single and not c.exact}
    return [c.nodeid for c in comparisons if needs_recheck(c) or (
        not c.nodeid.endswith(FILE_TOTAL) and c.nodeid.split("::", 1)[0] in files)]


def references(comparisons: list[Comparison], suspect: str, count: int = REFERENCES) -> list[str]:
    """Node ids of the ``count`` tests nearest in size (stored median) to ``suspect`` that
    can tell the machine's drift beside its recheck: sampled single calls judged against
    the run's drift, not flagged, not rechecked themselves. None when ``suspect`` was not
    judged against a drift."""
    by_id = {c.nodeid: c for c in comparisons}
    target = by_id.get(suspect)
    if target is None or target.drift is None or not target.baseline_median:
        return []
    size = math.log(target.baseline_median)
    usable = [
        c for c in comparisons
        if c.nodeid != suspect and c.single and not c.exact and c.drift is not None and c.change is not None
        and c.verdict != REGRESSION and (c.baseline_median or 0) > 0 and not c.nodeid.endswith(FILE_TOTAL)
    ]
    usable.sort(key=lambda c: (abs(math.log(c.baseline_median or 1.0) - size), c.nodeid))
    return [c.nodeid for c in usable[:count]]


def to_run_drift(
    calls: FreshCalls, suspect: Comparison, beside: dict[str, list[float]], comparisons: list[Comparison],
) -> FreshCalls:
    """``suspect``'s fresh ``calls`` scaled from the drift measured beside them (the median
    ratio of the references' fresh joules per call, ``beside``, to their stored medians) to
    the drift its run figure was judged against; ``calls`` as they are with fewer than
    :data:`MIN_REFERENCES` references or no drift."""
    stored = {c.nodeid: c.baseline_median for c in comparisons}
    ratios = [statistics.median(values) / base for nodeid, values in beside.items()
              if values and (base := stored.get(nodeid)) and base > 0 and statistics.median(values) > 0]
    if len(ratios) < MIN_REFERENCES or suspect.drift is None:
        return calls
    return calls.scaled((1 + suspect.drift) / statistics.median(ratios))


def with_rechecks(results: list[TestResult], calls: dict[str, FreshCalls]) -> list[TestResult]:
    """``results`` with each rechecked test's call the median of its fresh calls: its
    joules and its seconds (an SCI figure is recomputed from both)."""
    return [
        replace(r, call=replace(r.call, joules=statistics.median(fresh.joules),
                                seconds=statistics.median(fresh.seconds)))
        if r.call is not None and (fresh := calls.get(r.nodeid)) and fresh.joules else r
        for r in results
    ]


def after_recheck(before: Comparison, again: Comparison, calls: int, alpha: float = Rule.alpha) -> Comparison:
    """``before`` (the run's own figures) after the run was judged ``again`` with rechecks:
    a rechecked test's or a file total's regression takes the new verdict, every other
    verdict stays; what the rechecks measured is kept beside (``calls``: the test's fresh
    calls, 0 for the rest). The new verdict is classified with its own p-value (``alpha``),
    not one corrected again across the whole run: the recheck confirms a test the run
    already singled out, and a burst measures no change there at all. A recheck never makes
    an improvement of a regression (inconclusive instead)."""
    if before.verdict != REGRESSION or not (calls or before.nodeid.endswith(FILE_TOTAL)):
        return before
    verdict = classify(replace(again, p_adjusted=None), alpha).verdict
    if verdict == IMPROVEMENT:  # the run measured more, its recheck less: neither is the verdict
        verdict = INCONCLUSIVE
    return replace(before, verdict=verdict, recheck_change=again.change, recheck_calls=calls or None)


def taken_back_line(c: Comparison) -> str:
    """One line for a regression the rechecks took back."""
    if c.recheck_calls:
        measured = f"a recheck of {c.recheck_calls} fresh calls measured {percent(c.recheck_change)}"
    else:
        measured = f"with its tests' rechecks it measured {percent(c.recheck_change)}"
    return (
        f"{c.nodeid}: measured {percent(c.change)} against the baseline, but {measured}: not "
        "failed (a burst of load while it ran, or a first-call cost a recheck cannot see; --energy-repeat "
        "or pytest-energy ab can tell)"
    )
