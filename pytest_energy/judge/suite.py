"""A whole run judged against its history: the machine's drift, the noise of values like
each one, and false alarms controlled across the run.

Most tests of a commit do not change, so the typical ratio to their history of the tests
that ran at about the same time measures the machine (a loaded or throttled runner makes
every test heavier alike, and its load comes and goes within a run). Each test is judged
against that drift, the median over the :data:`DRIFT_NEIGHBOURS` tests nearest to it in
time, with the noise of tests of its size (and its own history's, when it has three
stored runs or more), and the p-values of all tests go through the Benjamini-Hochberg
correction (:func:`~pytest_energy.judge.rules.settle`). A change that every test shares,
or more than half of a stretch of :data:`DRIFT_NEIGHBOURS` consecutive tests, cannot be
told from the machine this way: ``pytest-energy ab`` or the simulated meter can.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from ..history import StoredRun, StoredTotal
from ..results import TestResult, file_totals
from ..stats import robust_sd
from .rules import (
    MIN_HISTORY_FOR_SPREAD,
    MISSING,
    Comparison,
    Rule,
    judge_exact,
    judge_samples,
    judge_value,
    settle,
)

#: How a file's total is named among the comparisons: ``tests/test_x.py (file total)``.
FILE_TOTAL = " (file total)"
#: Tests with history needed before the suite's drift and noise are used.
MIN_SUITE = 8
#: A test's drift is the median log ratio of this many tests nearest to it in time.
DRIFT_NEIGHBOURS = 21
#: A value's noise comes from the residuals of this many tests nearest to it in size...
NOISE_NEIGHBOURS = 48
#: ... and is never taken below this share of the whole suite's noise (a few quiet
#: neighbours must not make one test's ordinary wobble significant) ...
SUITE_NOISE_SHARE = 0.5
#: ... nor below this (standard deviation of a log ratio).
MIN_NOISE = 0.03
#: A sampled meter's single call shorter than this, now or in a stored run, is never judged
#: alone (it is inconclusive; its file's total still is, unless its calls add up to less):
#: one interrupt or cache refill can double a call of a few hundred microseconds, and on a
#: loaded machine such calls measured 2-5x their history in every compare of an unchanged
#: third-party suite (toolz, 180 tests, 2 busy processes).
MIN_JUDGED_CALL_S = 0.001


@dataclass(frozen=True)
class Drift:
    """How the run moved against its history."""

    #: Relative drift of the whole run (0.2: the suite measured 20% above its history).
    change: float
    #: Tests it was estimated from.
    tests: int
    #: Each test's own drift: that of the tests that ran nearest to it in time.
    local: dict[str, float] = field(default_factory=dict)

    def at(self, nodeid: str) -> float:
        """The drift a test is judged against."""
        return self.local.get(nodeid, self.change)


@dataclass
class RunVerdicts:
    """The verdicts of one run, and the drift they were judged against (None: too few
    tests with history to tell it)."""

    comparisons: list[Comparison]
    drift: Drift | None = None


def _like(result: TestResult, runs: list[StoredRun]) -> list[StoredRun]:
    return [run for run in runs if (run.meter, run.model) == (result.meter, result.model)]


def _figures(result: TestResult, runs: list[StoredRun]) -> tuple[float, list[float]] | None:
    """The value judged and its stored values, like with like: rounds against stored
    rounds (medians), else the real call against stored real calls."""
    repeated = [statistics.median(run.joules) for run in runs if run.tier == 2 and run.joules]
    if result.measurement is not None and repeated:
        return statistics.median(result.samples), repeated
    calls = [run.call_joules for run in runs if run.call_joules is not None]
    below = result.call is None or result.call.below_resolution or any(r.below_resolution for r in runs)
    if below or not calls:
        return None
    return result.call.joules, calls


def _log_sd(values: list[float]) -> float:
    logs = [math.log(v) for v in values if v > 0]
    return statistics.stdev(logs) if len(logs) >= MIN_HISTORY_FOR_SPREAD else 0.0


def suite_noise(
    results: list[TestResult], history: dict[str, list[StoredRun]],
) -> tuple[Drift | None, dict[str, float]]:
    """The run's drift and each sampled test's noise (log-ratio standard deviation)."""
    logs: dict[str, float] = {}
    sizes: dict[str, float] = {}
    own: dict[str, float] = {}
    for result in results:
        if result.model:
            continue
        figures = _figures(result, _like(result, history.get(result.nodeid, [])))
        if figures is None:
            continue
        value, stored = figures
        base = statistics.median(stored)
        if value > 0 and base > 0:
            logs[result.nodeid], sizes[result.nodeid] = math.log(value / base), base
            own[result.nodeid] = _log_sd(stored)
    if len(logs) < MIN_SUITE:
        return None, {}
    started = {r.nodeid: r.call.started for r in results if r.call is not None and r.call.started is not None}
    in_time = sorted(logs, key=lambda n: started.get(n, 0.0))  # results come in run order otherwise
    local = {n: statistics.median(logs[m] for m in _nearest(in_time, i, DRIFT_NEIGHBOURS))
             for i, n in enumerate(in_time)}
    residuals = {n: logs[n] - local[n] for n in logs}
    floor = max(SUITE_NOISE_SHARE * robust_sd(list(residuals.values())), MIN_NOISE)
    by_size = sorted(logs, key=sizes.__getitem__)
    noise = {}
    for rank, nodeid in enumerate(by_size):
        neighbours = [residuals[n] for n in _nearest(by_size, rank, NOISE_NEIGHBOURS)]
        noise[nodeid] = max(robust_sd(neighbours), own[nodeid], floor)
    drift = Drift(math.expm1(statistics.median(logs.values())), len(logs),
                  {n: math.expm1(value) for n, value in local.items()})
    return drift, noise


def _nearest(ordered: list[str], index: int, count: int) -> list[str]:
    """The ``count`` entries of ``ordered`` around ``index`` (fewer when it is shorter)."""
    low = max(0, min(index - count // 2, len(ordered) - count))
    return ordered[low:low + count]


def judge_result(
    result: TestResult, runs: list[StoredRun], rule: Rule, drift: Drift | None = None,
    noise: float | None = None,
) -> Comparison:
    """A test against its stored runs (same meter and model): rounds against stored
    rounds (tier 2), else its real call against the stored real calls (tier 1)."""
    runs = _like(result, runs)
    if result.model and result.call is not None:  # deterministic: the last stored run is enough
        last = runs[-1] if runs else None
        limit = result.max_regression if result.max_regression is not None else rule.tolerance
        return judge_exact(result.nodeid, result.call.joules, last.call_joules if last else None, limit,
                           result.meter, last.counts if last else None, result.counts, rule.exact_noise)
    rule = rule.for_test(result.max_regression)
    change = drift.at(result.nodeid) if drift is not None else None
    repeated = [run.joules for run in runs if run.tier == 2]
    if (result.measurement is not None and repeated) or result.call is None:
        return judge_samples(result.nodeid, result.samples, repeated, rule, result.meter, change or 0.0)
    calls = [run.call_joules for run in runs if run.call_joules is not None]
    short = result.call.seconds < MIN_JUDGED_CALL_S or any(  # now, or when it was stored
        run.tier == 1 and run.seconds and run.seconds[0] < MIN_JUDGED_CALL_S for run in runs)
    below = result.call.below_resolution or short or any(run.below_resolution for run in runs)
    return judge_value(result.nodeid, result.call.joules, calls, rule, result.meter, below,
                       change if noise else None, noise)


def judge_run(
    results: list[TestResult], history: dict[str, list[StoredRun]],
    file_history: dict[str, list[StoredTotal]], rule: Rule,
) -> RunVerdicts:
    """Verdicts for every measured test and every file (the sum of its tests' real
    calls), plus ``missing`` for stored tests not measured. ``history`` and
    ``file_history`` hold the stored runs by key."""
    drift, noise = suite_noise(results, history)
    comparisons = [
        judge_result(result, history.get(result.nodeid, []), rule, drift, noise.get(result.nodeid))
        for result in results
    ]
    meter, model = (results[0].meter, results[0].model) if results else ("", "")
    for path, (joules, tests) in sorted(file_totals(results).items()):
        same = (tests, meter, model)
        stored = [run.joules for run in file_history.get(path, [])
                  if (run.tests, run.meter, run.model) == same]
        key = path + FILE_TOTAL
        if model:
            last = stored[-1] if stored else None
            comparisons.append(judge_exact(key, joules, last, rule.tolerance, meter, noise=rule.exact_noise))
            continue
        # a file's total moves with its heaviest test: that test's noise
        members = [r for r in results if r.path == path and r.call is not None and r.nodeid in noise]
        heaviest = max(members, key=lambda r: r.call.joules if r.call else 0.0, default=None)
        file_noise = noise.get(heaviest.nodeid) if heaviest else None
        file_drift = drift.change if drift and file_noise else None
        seconds = sum(r.call.seconds for r in results if r.path == path and r.call is not None)
        comparisons.append(judge_value(key, joules, stored, rule, meter, seconds < MIN_JUDGED_CALL_S,
                                       drift=file_drift, noise=file_noise))
    measured = {r.nodeid for r in results}
    for nodeid, runs in sorted(history.items()):
        values = [x for run in runs for x in run.joules]
        if nodeid not in measured and values:
            comparisons.append(Comparison(nodeid, MISSING, baseline_median=statistics.median(values)))
    return RunVerdicts(settle(comparisons, rule.alpha), drift)


def judge_against(base: list[TestResult], head: list[TestResult], rule: Rule) -> RunVerdicts:
    """Verdicts of one run's results against another's, the base taken as one stored run."""
    history = {r.nodeid: [StoredRun.from_result(r)] for r in base}
    files = {
        path: [StoredTotal(base[0].meter, joules, digest, model=base[0].model)]
        for path, (joules, digest) in file_totals(base).items()
    }
    return judge_run(head, history, files, rule)


def drift_note(drift: Drift | None, against: str) -> str | None:
    """One line for the user when the whole suite moved (5% or more), else None."""
    if drift is None or abs(drift.change) < 0.05:
        return None
    return (
        f"the whole suite measured {drift.change:+.0%} against {against} ({drift.tests} tests): the "
        "machine, not the code, for most tests, so each test was judged against that; a change every "
        "test shares cannot be told from it here (pytest-energy ab or --energy-meter=simulated can)"
    )
