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
from .suite import FILE_TOTAL


def needs_recheck(c: Comparison) -> bool:
    """True for a regression a recheck can take back: a sampled meter's single call."""
    return c.verdict == REGRESSION and c.single and not c.exact and not c.nodeid.endswith(FILE_TOTAL)


def with_rechecks(results: list[TestResult], calls: dict[str, list[float]]) -> list[TestResult]:
    """``results`` with each rechecked test's call figure the median of its fresh calls."""
    return [
        replace(r, call=replace(r.call, joules=statistics.median(calls[r.nodeid])))
        if r.call is not None and calls.get(r.nodeid) else r
        for r in results
    ]


def after_recheck(before: Comparison, again: Comparison, calls: int) -> Comparison:
    """``before`` (the run's own figures) after the run was judged ``again`` with rechecks:
    a rechecked test's or a file total's regression takes the new verdict, every other
    verdict stays; what the rechecks measured is kept beside (``calls``: the test's fresh
    calls, 0 for the rest)."""
    if before.verdict != REGRESSION or not (calls or before.nodeid.endswith(FILE_TOTAL)):
        return before
    return replace(before, verdict=again.verdict, recheck_change=again.change, recheck_calls=calls or None)


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
