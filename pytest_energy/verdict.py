"""Verdicts: this run's samples against a baseline's history, per test.

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
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

from .stats import bootstrap_ratio_ci, mann_whitney_greater

#: Criterion 3 allows the measured change this many standard errors (from the CI) of slack.
UNCERTAINTY_SE = 1.5

REGRESSION, IMPROVEMENT, UNCHANGED, INCONCLUSIVE, NEW, MISSING = (
    "regression", "improvement", "unchanged", "inconclusive", "new", "missing",
)


@dataclass(frozen=True)
class Rule:
    """Thresholds of the regression gate."""

    #: Relative change that matters, e.g. 0.10 for 10%.
    max_regression: float = 0.10
    alpha: float = 0.01


@dataclass(frozen=True)
class Comparison:
    """One test's verdict with the figures behind it (joules per call)."""

    nodeid: str
    verdict: str
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

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON and xdist."""
        return asdict(self)


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


def compare_samples(
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
    threshold = rule.max_regression
    margin = UNCERTAINTY_SE * (ci_high - ci_low) / (2 * 1.96)
    if p_up < rule.alpha and change > spread and change + margin >= threshold:
        verdict = REGRESSION
    elif p_down < rule.alpha and -change > spread and -change + margin >= threshold:
        verdict = IMPROVEMENT
    elif -threshold < ci_low and ci_high < threshold:
        verdict = UNCHANGED
    else:
        verdict = INCONCLUSIVE
    return Comparison(
        nodeid, verdict, meter, base_median, cur_median, change, ci_low, ci_high, p_up, p_down,
        spread, threshold,
    )


def compare_run(
    records: list[dict[str, Any]], history: dict[str, list[list[float]]], rule: Rule,
) -> list[Comparison]:
    """Verdicts for every measured test, plus ``missing`` for stored tests not measured.

    ``history`` maps node ids to their stored runs' per-call joules; a record's own
    ``max_regression`` (from the ``energy`` marker) overrides the rule's.
    """
    comparisons = []
    for record in records:
        own = record.get("max_regression")
        test_rule = rule if own is None else Rule(max_regression=own, alpha=rule.alpha)
        comparisons.append(compare_samples(
            record["nodeid"], record["samples"]["joules"], history.get(record["nodeid"], []),
            test_rule, record["meter"],
        ))
    measured = {r["nodeid"] for r in records}
    for nodeid, runs in sorted(history.items()):
        pooled = [x for run in runs for x in run]
        if nodeid not in measured and pooled:
            comparisons.append(Comparison(nodeid, MISSING, baseline_median=statistics.median(pooled)))
    return comparisons
