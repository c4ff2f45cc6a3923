"""Verdict rules for one test: samples against a history, base against head in pairs,
one value against stored values, and a deterministic figure against the last one.

A test is a **regression** only when all four hold:

1. the increase is significant: a one-sided p-value below ``alpha`` (Mann-Whitney U for
   samples, Wilcoxon signed-rank for pairs, a t-test against the noise for single
   values); over a whole run, after the Benjamini-Hochberg correction (:func:`settle`);
2. the 95% CI of the change lies above 0 (the ratio's CI above 1);
3. the increase is larger than the run-to-run spread of the baseline's history: the
   upper 99% prediction bound of its runs' medians (Bencher-style t-test over a window);
4. the increase reaches ``max_regression`` within its measurement uncertainty:
   change + 1.5 standard errors >= max_regression, the standard error taken from the 95%
   CI of the change. (A true +10% change measures below +10% about half the time;
   without this slack a gate at 10% would miss half of the 10% regressions.)

**improvement** is the mirror image. Otherwise **within limit** when the CI excludes 0
(a change, shown, that is below the limit or not significant across the run),
**unchanged** when the CI lies within +-``max_regression`` and includes 0, else
**inconclusive** (too noisy to tell). Tests without history are **new**; stored tests
this run did not measure are **missing**.

**Single values** (a test's real call, a file's total; :func:`judge_value`) have no
rounds to test. In a suite, :mod:`pytest_energy.judge.suite` gives each the machine's
drift and the noise of values like it, and the t-test above applies, with a change of at
least :data:`SINGLE_VALUE_MARGIN` (twice) as criterion 3; without them, with
at least :data:`MIN_HISTORY_FOR_SPREAD` stored values a regression is above the history's
99% prediction bound (at least :data:`MIN_SINGLE_SPREAD`) and ``max_regression``; with
fewer, only a change beyond :data:`SINGLE_VALUE_MARGIN` (2x) counts. A value shorter than
the meters resolve is never a regression alone: it is **inconclusive**.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum
from typing import Any

from ..stats import (
    benjamini_hochberg,
    bootstrap_ratio_ci,
    geometric_mean_ratio,
    mann_whitney_greater,
    student_t_tail,
    t_quantile_99,
    wilcoxon_greater,
)

#: Stored single values needed before their spread (a prediction interval) is used.
MIN_HISTORY_FOR_SPREAD = 3
#: A single value (one real call) must change by more than this (1.0: twice; a decrease:
#: half) to count, beyond the machine's drift: on a loaded machine one call of a sampled
#: meter spikes by up to +80% when the kernel hands its core away mid-call; with fewer
#: than three stored values and no suite to learn the drift from, the same margin applies.
SINGLE_VALUE_MARGIN = 1.0
#: A single value's prediction bound is at least this: three nearly equal stored values
#: say little about how far a sampled meter's next value strays.
MIN_SINGLE_SPREAD = 0.25

#: Deterministic meters: their figure still moves a little with the process around the test
#: (a file added beside the tests, the checkout's path: glibc's heap, hence malloc's work,
#: differs), by up to ~5,000 instructions, 3e-5 J in the default model. A change smaller
#: than this is never a regression nor an improvement, whatever its percentage.
EXACT_NOISE_J = 1e-4

#: A single value's change over its noise is read against Student's t with this many
#: degrees of freedom: measured energy has heavier tails than a normal, and the noise
#: itself is estimated.
NOISE_DF = 40
#: Fewer paired rounds than this (a test not repeatable on one side) give no verdict.
MIN_PAIRS = 3
#: Criterion 3 allows the measured change this many standard errors (from the CI) of slack.
UNCERTAINTY_SE = 1.5


class Verdict(str, Enum):
    """What a comparison concluded; its value is the word every report and file uses."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    WITHIN_LIMIT = "within limit"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"
    NEW = "new"
    MISSING = "missing"
    REMOVED = "removed"

    def __str__(self) -> str:
        return self.value


REGRESSION, IMPROVEMENT, WITHIN_LIMIT, UNCHANGED, INCONCLUSIVE, NEW, MISSING, REMOVED = Verdict


@dataclass(frozen=True)
class Rule:
    """Thresholds of the regression gate."""

    #: Relative change that matters, e.g. 0.10 for 10%.
    max_regression: float = 0.10
    alpha: float = 0.01
    #: Deterministic meters: the relative change that counts (no noise to test against).
    tolerance: float = 0.01
    #: Deterministic meters: a change smaller than this is never a verdict (in the judged
    #: figure's unit: :data:`EXACT_NOISE_J` in joules, its gCO2e when SCI is judged).
    exact_noise: float = EXACT_NOISE_J

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
    #: The p-value of the change's direction after the Benjamini-Hochberg correction over
    #: the run's tests.
    p_adjusted: float | None = None
    #: The machine's drift this value was judged against (0.2: the suite ran 20% above
    #: its history), when the suite had enough tests to tell it.
    drift: float | None = None
    history_spread: float | None = None
    max_regression: float | None = None
    #: Paired rounds behind a base/head verdict (``pytest-energy ab``).
    pairs: int | None = None
    #: True for a deterministic meter's exact comparison (one value each side, no noise test).
    exact: bool = False
    #: True for a single value (a real call, a file's total) judged without rounds.
    single: bool = False
    #: A regression's recheck (:mod:`.recheck`): the change its fresh calls measured, and
    #: how many.
    recheck_change: float | None = None
    recheck_calls: int | None = None
    #: Deterministic meters: relative change of each kind of count (instructions, memory
    #: accesses, last-level misses), to say what moved.
    counts_change: dict[str, float] | None = None
    #: The figure judged: "joules" per call, or "sci" (gCO2e per call): the medians' unit.
    quantity: str = "joules"

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
    return t_quantile_99(k - 1) * statistics.stdev(deviations) * math.sqrt(1 + 1 / k)


def judge_samples(
    nodeid: str, current: list[float], history: list[list[float]], rule: Rule, meter: str = "",
    drift: float = 0.0,
) -> Comparison:
    """Verdict for one test: ``current`` samples against the stored runs' samples (the
    current ones divided by ``1 + drift``, the machine's drift, first)."""
    baseline = [x for run in history for x in run]
    if not baseline:
        return Comparison(nodeid, NEW, meter, current_median=statistics.median(current))
    scaled = [x / (1 + drift) for x in current]
    base_median, cur_median = statistics.median(baseline), statistics.median(current)
    if base_median <= 0:
        return Comparison(nodeid, INCONCLUSIVE, meter, base_median, cur_median)
    low, high = bootstrap_ratio_ci(scaled, baseline)
    change, ci_low, ci_high = statistics.median(scaled) / base_median - 1, low - 1, high - 1
    p_up = mann_whitney_greater(scaled, baseline)
    p_down = mann_whitney_greater(baseline, scaled)
    spread = history_spread(history)
    return classify(Comparison(
        nodeid, INCONCLUSIVE, meter, base_median, cur_median, change, ci_low, ci_high, p_up, p_down,
        history_spread=spread, max_regression=rule.max_regression, drift=drift or None,
    ), rule.alpha)


def directed_p(c: Comparison) -> float | None:
    """The one-sided p-value in the direction the change went (None: no test)."""
    if c.change is None:
        return None
    return c.p_increase if c.change >= 0 else c.p_decrease


def classify(c: Comparison, alpha: float) -> Comparison:
    """``c`` with the verdict of the module docstring's rule, from its change, CI, spread,
    limit and p-value (the adjusted one when :func:`settle` has set it)."""
    if c.change is None or c.change_ci_low is None or c.change_ci_high is None or c.max_regression is None:
        return c
    change, low, high, limit = c.change, c.change_ci_low, c.change_ci_high, c.max_regression
    spread = c.history_spread or 0.0
    p = c.p_adjusted if c.p_adjusted is not None else directed_p(c)
    significant = p is not None and p < alpha
    margin = UNCERTAINTY_SE * (high - low) / (2 * 1.96)
    if significant and low > 0 and change > spread and change + margin >= limit:
        verdict = REGRESSION
    elif significant and high < 0 and -change > spread / (1 + spread) and -change + margin >= limit:
        verdict = IMPROVEMENT
    elif (low > 0 and change + margin < limit) or (high < 0 and -change + margin < limit):
        verdict = WITHIN_LIMIT
    elif -limit < low and high < limit:
        verdict = UNCHANGED
    else:
        verdict = INCONCLUSIVE
    return replace(c, verdict=verdict)


def settle(comparisons: list[Comparison], alpha: float) -> list[Comparison]:
    """The run's verdicts with false alarms controlled across all of them: the one-sided
    p-values of increases, and those of decreases, each go through the Benjamini-Hochberg
    correction over every comparison with a test; each is then classified again with the
    adjusted p-value of its direction (a deterministic meter's exact verdicts have no test
    and stay as they are)."""
    tested = [i for i, c in enumerate(comparisons) if directed_p(c) is not None]
    up = benjamini_hochberg([comparisons[i].p_increase or 0.0 for i in tested])
    down = benjamini_hochberg([comparisons[i].p_decrease or 0.0 for i in tested])
    settled = list(comparisons)
    for i, q_up, q_down in zip(tested, up, down, strict=True):
        c = comparisons[i]
        q = q_up if (c.change or 0.0) >= 0 else q_down
        settled[i] = classify(replace(c, p_adjusted=q), alpha)
    return settled


def judge_pairs(
    key: str, base: list[float], head: list[float], rule: Rule, meter: str = "",
) -> Comparison:
    """Verdict from rounds measured in turns (``pytest-energy ab``): ``base[i]`` and
    ``head[i]`` ran next to each other, so drift of the machine hits both alike.

    The change is the geometric mean of the pairs' ratios, with its bootstrap CI (the
    medians kept beside it are of the same pairs); the p-values are one-sided Wilcoxon
    signed-rank tests on the log ratios. No history spread: the pairing is what takes
    run-to-run drift out.
    """
    pairs = [(b, h) for b, h in zip(base, head, strict=False) if b > 0 and h > 0]
    if len(pairs) < MIN_PAIRS:
        return Comparison(key, INCONCLUSIVE, meter, pairs=len(pairs))
    bases, heads = [b for b, _ in pairs], [h for _, h in pairs]
    ratio, low, high = geometric_mean_ratio(bases, heads)
    logs = [math.log(h / b) for b, h in pairs]
    return classify(Comparison(
        key, INCONCLUSIVE, meter, statistics.median(bases), statistics.median(heads), ratio - 1,
        low - 1, high - 1, wilcoxon_greater(logs), wilcoxon_greater([-x for x in logs]),
        max_regression=rule.max_regression, pairs=len(pairs),
    ), rule.alpha)


def judge_value(
    key: str, current: float, history: list[float], rule: Rule, meter: str = "",
    below_resolution: bool = False, drift: float | None = None, noise: float | None = None,
) -> Comparison:
    """Verdict for one single value (a real call, a file's total) against stored values.

    With the suite's ``drift`` and ``noise`` (the standard deviation of log ratios of
    values like this one), the value divided by ``1 + drift`` is tested against the
    history's median with a t-test (:data:`NOISE_DF`); without them, the fixed margins
    of the module docstring.
    """
    if not history:
        return Comparison(key, NEW, meter, current_median=current, single=True)
    base = statistics.median(history)
    if below_resolution or base <= 0 or current <= 0:
        return Comparison(key, INCONCLUSIVE, meter, base, current, single=True)
    threshold = rule.max_regression
    if drift is not None and noise is not None and noise > 0:
        log_change = math.log(current / base) - math.log1p(drift)
        half = 1.96 * noise
        return classify(Comparison(
            key, INCONCLUSIVE, meter, base, current, math.expm1(log_change), math.expm1(log_change - half),
            math.expm1(log_change + half), student_t_tail(log_change / noise, NOISE_DF),
            student_t_tail(-log_change / noise, NOISE_DF), history_spread=SINGLE_VALUE_MARGIN,
            max_regression=threshold, drift=drift, single=True,
        ), rule.alpha)
    change = current / base - 1
    if len(history) >= MIN_HISTORY_FOR_SPREAD:
        spread = max(history_spread([[value] for value in history]), MIN_SINGLE_SPREAD)
    else:
        spread = SINGLE_VALUE_MARGIN
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
        single=True,
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
    noise: float = EXACT_NOISE_J,
) -> Comparison:
    """Verdict for a deterministic meter's figure against one stored figure: a change
    beyond ``limit`` (and beyond ``noise``, :data:`EXACT_NOISE_J`) is a regression or an improvement;
    no statistics, since the same code gives the same figure."""
    if stored is None:
        return Comparison(key, NEW, meter, current_median=current, exact=True)
    moved = counts_change(base_counts, counts)
    if stored <= 0:
        return Comparison(key, INCONCLUSIVE, meter, stored, current, exact=True, counts_change=moved)
    change = current / stored - 1
    beyond_noise = abs(current - stored) > noise
    verdict = (REGRESSION if change > limit and beyond_noise else
               IMPROVEMENT if change < -limit and beyond_noise else UNCHANGED)
    return Comparison(key, verdict, meter, stored, current, change, max_regression=limit, exact=True,
                      counts_change=moved)
