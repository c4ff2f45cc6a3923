"""Verdict rules: this run against a baseline's history, and base against head, per test.

A test is a **regression** only when all three hold:

1. the increase is significant: one-sided Mann-Whitney U, p < ``alpha``;
2. the increase is larger than the run-to-run spread of the baseline's history: the
   upper 99% prediction bound of its runs' medians (Bencher-style t-test over a window);
3. the increase reaches ``max_regression`` within its measurement uncertainty:
   change + 1.5 standard errors >= max_regression, the standard error taken from the 95%
   bootstrap CI of the change. (A true +10% change measures below +10% about half the
   time; without this slack a gate at 10% would miss half of the 10% regressions.)

**improvement** is the mirror image. Otherwise **unchanged** when the CI of the change
lies within +-``max_regression``, else **inconclusive** (too noisy to tell). Tests without
history are **new**; stored tests this run did not measure are **missing**.

**Single values** (a test's real call, a file's total; :func:`judge_value`) have no
rounds to test. With at least :data:`MIN_HISTORY_FOR_SPREAD` stored values, a regression
is above the history's 99% prediction bound and at least ``max_regression``; with fewer,
only a change beyond :data:`SINGLE_VALUE_MARGIN` (2x) counts. A value shorter than the
meters resolve is never a regression alone: it is **inconclusive**.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum
from typing import Any

from ..results import StoredRun, StoredTotal, TestResult, file_totals
from ..stats import bootstrap_ratio_ci, geometric_mean_ratio, mann_whitney_greater, wilcoxon_greater

#: Stored single values needed before their spread (a prediction interval) is used.
MIN_HISTORY_FOR_SPREAD = 3
#: With less history, a single value must change by more than this (1.0: twice) to count.
SINGLE_VALUE_MARGIN = 1.0

#: Deterministic meters: their figure still moves a little with the process around the test
#: (a file added beside the tests, the checkout's path: glibc's heap, hence malloc's work,
#: differs), by up to ~5,000 instructions, 3e-5 J in the default model. A change smaller
#: than this is never a regression nor an improvement, whatever its percentage.
EXACT_NOISE_J = 1e-4

#: Fewer paired rounds than this (a test not repeatable on one side) give no verdict.
MIN_PAIRS = 3
#: Criterion 3 allows the measured change this many standard errors (from the CI) of slack.
UNCERTAINTY_SE = 1.5


class Verdict(str, Enum):
    """What a comparison concluded; its value is the word every report and file uses."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"
    NEW = "new"
    MISSING = "missing"
    REMOVED = "removed"

    def __str__(self) -> str:
        return self.value


REGRESSION, IMPROVEMENT, UNCHANGED, INCONCLUSIVE, NEW, MISSING, REMOVED = Verdict


@dataclass(frozen=True)
class Rule:
    """Thresholds of the regression gate."""

    #: Relative change that matters, e.g. 0.10 for 10%.
    max_regression: float = 0.10
    alpha: float = 0.01
    #: Deterministic meters: the relative change that counts (no noise to test against).
    tolerance: float = 0.01

    def for_test(self, max_regression: float | None) -> Rule:
        """This rule with a test's own ``energy(max_regression=...)``, when it has one."""
        return self if max_regression is None else replace(self, max_regression=max_regression)


@dataclass(frozen=True)
class Comparison:
    """One test's verdict with the figures behind it (joules per call)."""

    nodeid: str
    verdict: Verdict
    meter: str = ""
    baseline_median: float | None = None
    current_median: float | None = None
    #: Relative change of the median and its 95% CI (0.25 = +25%).
    change: float | None = None
    change_ci_low: float | None = None
    change_ci_high: float | None = None
    p_increase: float | None = None
    p_decrease: float | None = None
    history_spread: float | None = None
    max_regression: float | None = None
    #: Paired rounds behind a base/head verdict (``pytest-energy ab``).
    pairs: int | None = None
    #: True for a deterministic meter's exact comparison (one value each side, no noise test).
    exact: bool = False
    #: Deterministic meters: relative change of each kind of count (instructions, memory
    #: accesses, last-level misses), to say what moved.
    counts_change: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        data = asdict(self)
        data["verdict"] = self.verdict.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        """Inverse of :meth:`to_dict` (unknown keys ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in data.items() if k in known}, "verdict": Verdict(data["verdict"])})


def _t_quantile_99(df: int) -> float:
    """One-sided 99% quantile of Student's t (table below 5 degrees of freedom)."""
    table = {1: 31.821, 2: 6.965, 3: 4.541, 4: 3.747}
    if df in table:
        return table[df]
    z = 2.3263  # Cornish-Fisher expansion around the normal quantile
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def history_spread(runs: list[list[float]]) -> float:
    """How far a new run's median may stray from the history by run-to-run variation alone.

    The upper 99% prediction bound of the stored runs' medians (relative to their pooled
    median): t(0.99, k-1) x sd x sqrt(1 + 1/k). 0 with fewer than two stored runs.
    """
    runs = [run for run in runs if run]
    if len(runs) < 2:
        return 0.0
    pooled = statistics.median([x for run in runs for x in run])
    if pooled <= 0:
        return 0.0
    deviations = [statistics.median(run) / pooled - 1 for run in runs]
    k = len(runs)
    return _t_quantile_99(k - 1) * statistics.stdev(deviations) * math.sqrt(1 + 1 / k)


def judge_samples(
    nodeid: str, current: list[float], history: list[list[float]], rule: Rule, meter: str = "",
) -> Comparison:
    """Verdict for one test: ``current`` samples against the stored runs' samples."""
    baseline = [x for run in history for x in run]
    if not baseline:
        return Comparison(nodeid, NEW, meter, current_median=statistics.median(current))
    base_median, cur_median = statistics.median(baseline), statistics.median(current)
    if base_median <= 0:
        return Comparison(nodeid, INCONCLUSIVE, meter, base_median, cur_median)
    low, high = bootstrap_ratio_ci(current, baseline)
    change, ci_low, ci_high = cur_median / base_median - 1, low - 1, high - 1
    p_up = mann_whitney_greater(current, baseline)
    p_down = mann_whitney_greater(baseline, current)
    spread = history_spread(history)
    verdict = _classify(change, ci_low, ci_high, p_up, p_down, rule, spread)
    return Comparison(
        nodeid, verdict, meter, base_median, cur_median, change, ci_low, ci_high, p_up, p_down,
        spread, rule.max_regression,
    )


def _classify(
    change: float, ci_low: float, ci_high: float, p_up: float, p_down: float, rule: Rule, spread: float,
) -> str:
    """The rule of the module docstring, for a change with its CI and one-sided p-values."""
    threshold = rule.max_regression
    margin = UNCERTAINTY_SE * (ci_high - ci_low) / (2 * 1.96)
    if p_up < rule.alpha and change > spread and change + margin >= threshold:
        return REGRESSION
    if p_down < rule.alpha and -change > spread and -change + margin >= threshold:
        return IMPROVEMENT
    if -threshold < ci_low and ci_high < threshold:
        return UNCHANGED
    return INCONCLUSIVE


def judge_pairs(
    key: str, base: list[float], head: list[float], rule: Rule, meter: str = "",
) -> Comparison:
    """Verdict from rounds measured in turns (``pytest-energy ab``): ``base[i]`` and
    ``head[i]`` ran next to each other, so drift of the machine hits both alike.

    The change is the geometric mean of the pairs' ratios, with its bootstrap CI; a
    **regression** is significant (one-sided Wilcoxon signed-rank on the log ratios,
    p < ``alpha``) and reaches ``max_regression`` within its uncertainty, as above. No
    history spread: the pairing is what takes run-to-run drift out.
    """
    pairs = [(b, h) for b, h in zip(base, head, strict=False) if b > 0 and h > 0]
    if len(pairs) < MIN_PAIRS:
        return Comparison(key, INCONCLUSIVE, meter, pairs=len(pairs))
    bases, heads = [b for b, _ in pairs], [h for _, h in pairs]
    ratio, low, high = geometric_mean_ratio(bases, heads)
    logs = [math.log(h / b) for b, h in pairs]
    p_up, p_down = wilcoxon_greater(logs), wilcoxon_greater([-x for x in logs])
    change, ci_low, ci_high = ratio - 1, low - 1, high - 1
    verdict = _classify(change, ci_low, ci_high, p_up, p_down, rule, spread=0.0)
    return Comparison(
        key, verdict, meter, statistics.median(bases), statistics.median(heads), change, ci_low, ci_high,
        p_up, p_down, max_regression=rule.max_regression, pairs=len(pairs),
    )


def judge_value(
    key: str, current: float, history: list[float], rule: Rule, meter: str = "",
    below_resolution: bool = False,
) -> Comparison:
    """Verdict for one single value (a real call, a file's total) against stored values."""
    if not history:
        return Comparison(key, NEW, meter, current_median=current)
    base = statistics.median(history)
    if below_resolution or base <= 0:
        return Comparison(key, INCONCLUSIVE, meter, base, current)
    change = current / base - 1
    if len(history) >= MIN_HISTORY_FOR_SPREAD:
        spread = history_spread([[value] for value in history])
    else:
        spread = SINGLE_VALUE_MARGIN
    threshold = rule.max_regression
    if change > spread and change >= threshold:
        verdict = REGRESSION
    elif -change > spread / (1 + spread) and -change >= threshold:
        verdict = IMPROVEMENT
    elif abs(change) < threshold or len(history) >= MIN_HISTORY_FOR_SPREAD:
        verdict = UNCHANGED
    else:
        verdict = INCONCLUSIVE
    return Comparison(
        key, verdict, meter, base, current, change, history_spread=spread, max_regression=threshold,
    )


def counts_change(
    base: dict[str, int] | None, current: dict[str, int] | None,
) -> dict[str, float] | None:
    """Relative change of instructions, memory accesses and last-level misses (RAM)."""
    if not base or not current:
        return None
    kinds = {"instructions": ("ir",), "memory accesses": ("dr", "dw"),
             "RAM accesses": ("ilmr", "dlmr", "dlmw")}
    change = {}
    for kind, names in kinds.items():
        before, after = sum(base.get(n, 0) for n in names), sum(current.get(n, 0) for n in names)
        if before > 0:
            change[kind] = after / before - 1
    return change


def judge_exact(
    key: str, current: float, stored: float | None, limit: float, meter: str = "",
    base_counts: dict[str, int] | None = None, counts: dict[str, int] | None = None,
) -> Comparison:
    """Verdict for a deterministic meter's figure against one stored figure: a change
    beyond ``limit`` (and beyond :data:`EXACT_NOISE_J`) is a regression or an improvement;
    no statistics, since the same code gives the same figure."""
    if stored is None:
        return Comparison(key, NEW, meter, current_median=current, exact=True)
    moved = counts_change(base_counts, counts)
    if stored <= 0:
        return Comparison(key, INCONCLUSIVE, meter, stored, current, exact=True, counts_change=moved)
    change = current / stored - 1
    beyond_noise = abs(current - stored) > EXACT_NOISE_J
    verdict = (REGRESSION if change > limit and beyond_noise else
               IMPROVEMENT if change < -limit and beyond_noise else UNCHANGED)
    return Comparison(key, verdict, meter, stored, current, change, max_regression=limit, exact=True,
                      counts_change=moved)


def judge_result(result: TestResult, runs: list[StoredRun], rule: Rule) -> Comparison:
    """A test against its stored runs: rounds against stored rounds (tier 2), else its
    real call against the stored real calls (tier 1)."""
    runs = [run for run in runs if (run.meter, run.model) == (result.meter, result.model)]  # like with like
    if result.model and result.call is not None:  # deterministic: the last stored run is enough
        last = runs[-1] if runs else None
        limit = result.max_regression if result.max_regression is not None else rule.tolerance
        return judge_exact(result.nodeid, result.call.joules, last.call_joules if last else None, limit,
                           result.meter, last.counts if last else None, result.counts)
    rule = rule.for_test(result.max_regression)
    repeated = [run.joules for run in runs if run.tier == 2]
    if result.measurement is not None and repeated:
        return judge_samples(result.nodeid, result.samples, repeated, rule, result.meter)
    calls = [run.call_joules for run in runs if run.call_joules is not None]
    if result.call is None:
        return judge_samples(result.nodeid, result.samples, repeated, rule, result.meter)
    below = result.call.below_resolution or any(run.below_resolution for run in runs)
    return judge_value(result.nodeid, result.call.joules, calls, rule, result.meter, below)


def judge_against(base: list[TestResult], head: list[TestResult], rule: Rule) -> list[Comparison]:
    """Verdicts of one run's results against another's, the base taken as one stored run."""
    history = {r.nodeid: [StoredRun.from_result(r)] for r in base}
    files = {
        path: [StoredTotal(base[0].meter, joules, digest, model=base[0].model)]
        for path, (joules, digest) in file_totals(base).items()
    }
    return judge_run(head, history, files, rule)


def judge_run(
    results: list[TestResult], history: dict[str, list[StoredRun]],
    file_history: dict[str, list[StoredTotal]], rule: Rule,
) -> list[Comparison]:
    """Verdicts for every measured test and every file (the sum of its tests' real
    calls), plus ``missing`` for stored tests not measured. ``history`` and
    ``file_history`` hold the stored runs by key."""
    comparisons = [judge_result(result, history.get(result.nodeid, []), rule) for result in results]
    meter, model = (results[0].meter, results[0].model) if results else ("", "")
    for path, (joules, tests) in sorted(file_totals(results).items()):
        same = (tests, meter, model)
        stored = [run.joules for run in file_history.get(path, [])
                  if (run.tests, run.meter, run.model) == same]
        key = f"{path} (file total)"
        if model:
            last = stored[-1] if stored else None
            comparisons.append(judge_exact(key, joules, last, rule.tolerance, meter))
        else:
            comparisons.append(judge_value(key, joules, stored, rule, meter))
    measured = {r.nodeid for r in results}
    for nodeid, runs in sorted(history.items()):
        values = [x for run in runs for x in run.joules]
        if nodeid not in measured and values:
            comparisons.append(Comparison(nodeid, MISSING, baseline_median=statistics.median(values)))
    return comparisons
