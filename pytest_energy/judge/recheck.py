"""A sampled meter's regression rechecked before it fails a run.

One real call per test is all a plain ``pytest --energy`` run has, and on a loaded
machine a burst of load shorter than the gate's drift window (a few tests) can make one
or two calls look twice their history. So before a single call's regression fails the
run, the test is measured again in a few fresh calls (fresh fixtures each, as repetition
does), right after the run, and the run is judged again with the median of those calls
in place of the test's call (its file's total too). A burst does not come back for the
recheck; a real change does.

A recheck only ever takes a regression back (said in one line); it never makes one. The
figures reported stay the run's own. Its calls come after the test's first call, so a
cost only the first call pays (an import, a cache filled once) cannot be rechecked: such
a regression is taken back too, and ``--energy-repeat`` or ``pytest-energy ab`` can tell it.
"""

from __future__ import annotations

import statistics
from dataclasses import replace

from ..results import TestResult
from ..units import percent
from .rules import REGRESSION, Comparison


def needs_recheck(c: Comparison) -> bool:
    """True for a regression a recheck can take back: a sampled meter's single call."""
    return c.verdict == REGRESSION and c.single and not c.exact and not c.nodeid.endswith("(file total)")


def with_rechecks(results: list[TestResult], calls: dict[str, list[float]]) -> list[TestResult]:
    """``results`` with each rechecked test's call figure the median of its fresh calls."""
    return [
        replace(r, call=replace(r.call, joules=statistics.median(calls[r.nodeid])))
        if r.call is not None and calls.get(r.nodeid) else r
        for r in results
    ]


def after_recheck(before: Comparison, again: Comparison, calls: int | None) -> Comparison:
    """A verdict judged again after rechecks: never a regression it was not before, and,
    for a rechecked test, with what its fresh calls measured."""
    if again.verdict == REGRESSION and before.verdict != REGRESSION:
        again = before
    return replace(again, recheck_change=again.change, recheck_calls=calls) if calls else again


def taken_back_line(before: Comparison, after: Comparison) -> str:
    """One line for a regression the rechecks took back."""
    if after.recheck_calls:
        measured = f"a recheck of {after.recheck_calls} fresh calls measured {percent(after.change)}"
    else:
        measured = f"with its tests' rechecks it measured {percent(after.change)}"
    return (
        f"{before.nodeid}: measured {percent(before.change)} against the baseline, but {measured}: not "
        "failed (a burst of load while it ran, or a first-call cost a recheck cannot see; --energy-repeat "
        "or pytest-energy ab can tell)"
    )
