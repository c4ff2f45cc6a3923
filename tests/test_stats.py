"""Statistics and verdict rules on samples with known answers."""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import replace
from itertools import combinations

import pytest

from pytest_energy.history import StoredRun
from pytest_energy.judge.rules import (
    IMPROVEMENT,
    INCONCLUSIVE,
    MISSING,
    NEW,
    REGRESSION,
    UNCHANGED,
    WITHIN_LIMIT,
    Rule,
    history_spread,
    judge_pairs,
    judge_samples,
    judge_value,
)
from pytest_energy.judge.suite import judge_run
from pytest_energy.results import CallWindow, Measurement, Round, TestResult
from pytest_energy.stats import (
    _midranks,
    bootstrap_median_ci,
    bootstrap_ratio_ci,
    mann_whitney_greater,
    student_t_tail,
    summarize,
    wilcoxon_greater,
)


def brute_force_p(x, y):
    ranks = _midranks(list(x) + list(y))
    observed = sum(ranks[: len(x)])
    subsets = list(combinations(ranks, len(x)))
    return sum(1 for s in subsets if sum(s) >= observed - 1e-9) / len(subsets)


@pytest.mark.parametrize("seed", range(6))
def test_exact_mann_whitney_matches_enumeration_with_ties(seed):
    rng = random.Random(seed)
    x = [rng.choice([1, 2, 2, 3, 4, 5]) for _ in range(rng.randint(2, 6))]
    y = [rng.choice([1, 1, 2, 3, 3, 4]) for _ in range(rng.randint(2, 7))]
    assert mann_whitney_greater(x, y) == pytest.approx(brute_force_p(x, y))
    assert mann_whitney_greater(y, x) == pytest.approx(brute_force_p(y, x))


def test_mann_whitney_extremes_and_normal_approximation():
    assert mann_whitney_greater([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]) == pytest.approx(1 / math.comb(10, 5))
    assert mann_whitney_greater([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == 1.0
    rng = random.Random(0)
    x = [rng.gauss(1.0, 0.1) for _ in range(30)]
    y = [rng.gauss(1.0, 0.1) for _ in range(30)]
    assert 0.05 < mann_whitney_greater(x, y) < 0.95  # large samples: normal approximation
    assert mann_whitney_greater([v + 1 for v in x], y) < 1e-9


def test_summary_and_bootstrap_intervals():
    samples = [1.0, 2.0, 3.0, 4.0, 100.0]
    summary = summarize(samples)
    assert summary.median == 3.0 and summary.mean == 22.0 and summary.n == 5
    assert summary.cv == pytest.approx(statistics.stdev(samples) / 22.0)
    assert 1.0 <= summary.ci_low <= 3.0 <= summary.ci_high <= 100.0
    assert bootstrap_median_ci([5.0]) == (5.0, 5.0)
    low, high = bootstrap_ratio_ci([2.0, 2.1, 1.9, 2.0, 2.05], [1.0, 1.05, 0.95, 1.0, 1.02])
    assert 1.8 < low <= 2.0 <= high < 2.25


def test_history_spread_is_zero_without_two_runs_and_grows_with_drift():
    assert history_spread([[1.0, 1.0]]) == 0.0
    steady = history_spread([[1.0, 1.01], [1.0, 0.99], [1.01, 1.0]])
    drifting = history_spread([[1.0, 1.01], [1.2, 1.19], [0.9, 0.91]])
    assert 0 < steady < drifting


def runs(center, n_runs=3, rounds=5, noise=0.01, seed=0):
    rng = random.Random(seed)
    return [[center * (1 + rng.gauss(0, noise)) for _ in range(rounds)] for _ in range(n_runs)]


def test_verdicts_on_known_samples():
    history = runs(1.0)
    assert judge_samples("t", runs(1.0, 1, seed=9)[0], history, Rule()).verdict == UNCHANGED
    tripled = judge_samples("t", runs(3.0, 1, seed=9)[0], history, Rule())
    assert tripled.verdict == REGRESSION
    assert tripled.change == pytest.approx(2.0, abs=0.05)
    assert tripled.change_ci_low <= tripled.change <= tripled.change_ci_high
    assert judge_samples("t", runs(0.5, 1, seed=9)[0], history, Rule()).verdict == IMPROVEMENT
    assert judge_samples("t", runs(3.0, 1, seed=9)[0], history, Rule(max_regression=5.0)).verdict != REGRESSION
    noisy = judge_samples("t", runs(1.05, 1, noise=0.3, seed=9)[0], history, Rule())
    assert noisy.verdict == INCONCLUSIVE
    assert judge_samples("t", [1.0], [], Rule()).verdict == NEW


def test_a_change_within_the_history_spread_is_not_a_regression():
    drifting = [[c * (1 + 0.002 * i) for i in range(5)] for c in (1.0, 1.3, 0.7, 1.0)]
    current = [1.4 * (1 + 0.002 * i) for i in range(5)]
    result = judge_samples("t", current, drifting, Rule())
    assert result.p_increase < 0.01 and result.change > 0.1  # significant and large, yet
    assert result.history_spread > result.change and result.verdict != REGRESSION


def repeated(nodeid, samples, max_regression=None):
    """A tier-2 result whose rounds (of one call each) hold ``samples``."""
    rounds = [Round(j, j, 0.1, 1, 0.1, 0.0, 0.1) for j in samples]
    return TestResult(nodeid, "m", False, 0.0, call=CallWindow(samples[0], samples[0], 0.1, 0.1, False),
                      measurement=Measurement("m", False, rounds, 0.0), max_regression=max_regression)


def stored(samples_per_run):
    return [StoredRun(meter="m", tier=2, joules=s, call_joules=s[0]) for s in samples_per_run]


def test_compare_run_marks_missing_and_uses_per_test_threshold():
    history = {"a": stored(runs(1.0)), "b": stored(runs(1.0)), "gone": stored(runs(1.0))}
    results = [
        repeated("a", runs(2.0, 1, seed=3)[0]),
        repeated("b", runs(2.0, 1, seed=3)[0], max_regression=2.0),
        repeated("new", [1.0]),
    ]
    verdicts = {c.nodeid: c.verdict for c in judge_run(results, history, {}, Rule()).comparisons}
    assert verdicts == {"a": REGRESSION, "b": WITHIN_LIMIT, "new": NEW, "gone": MISSING, "a (file total)": NEW,
                        "b (file total)": NEW, "new (file total)": NEW}


@pytest.mark.parametrize(("history", "current", "verdict"), [
    ([1.0], 2.5, REGRESSION),          # one stored value: only beyond 2x counts
    ([1.0], 1.9, INCONCLUSIVE),
    ([1.0], 1.05, UNCHANGED),
    ([1.0], 0.4, IMPROVEMENT),
    ([1.0, 1.02, 0.98], 1.3, REGRESSION),   # three: their 99% prediction bound
    ([1.0, 1.02, 0.98], 1.05, UNCHANGED),
    ([1.0, 1.5, 0.6], 1.3, UNCHANGED),       # a wide history absorbs +30%
    ([], 1.0, NEW),
])
def test_single_value_rule(history, current, verdict):
    assert judge_value("t", current, history, Rule()).verdict == verdict


def test_single_value_below_resolution_is_never_a_regression():
    assert judge_value("t", 100.0, [1.0, 1.0, 1.0], Rule(), below_resolution=True).verdict == INCONCLUSIVE


def test_runs_of_another_meter_are_left_out():
    history = {"a": [replace(run, meter="other") for run in stored(runs(1.0))]}
    (verdict, *_) = judge_run([repeated("a", runs(2.0, 1, seed=3)[0])], history, {}, Rule()).comparisons
    assert verdict.verdict == NEW


def test_wilcoxon_matches_scipy():
    # reference p-values from scipy.stats.wilcoxon(d, alternative="greater")
    assert wilcoxon_greater([1, 2, 3, 4, 5]) == pytest.approx(0.03125)
    assert wilcoxon_greater([1, -2, 3, 4, 5]) == pytest.approx(0.09375)
    assert wilcoxon_greater([1, 1, 2, -1, 3, 3, -0.5, 2, 2, 4, 1]) == pytest.approx(0.0048828125)
    rng = random.Random(1)
    large = [rng.gauss(0.3, 1) for _ in range(40)]  # normal approximation, continuity-corrected
    assert wilcoxon_greater(large) == pytest.approx(0.0026429885259041854, rel=1e-9)
    assert wilcoxon_greater([0, 0, 0]) == 1.0


def test_paired_verdicts_take_shared_drift_out():
    rng = random.Random(3)
    drift = [1 + 0.4 * math.sin(i) for i in range(20)]  # the machine's speed moves 40% over the run
    base = [d * (1 + rng.gauss(0, 0.02)) for d in drift]
    same = [d * (1 + rng.gauss(0, 0.02)) for d in drift]
    heavier = [1.12 * d * (1 + rng.gauss(0, 0.02)) for d in drift]
    rule = Rule(max_regression=0.10, alpha=0.01)
    unchanged = judge_pairs("t", base, same, rule)
    assert unchanged.verdict == "unchanged" and unchanged.pairs == 20
    assert -0.03 < unchanged.change_ci_low < unchanged.change < unchanged.change_ci_high < 0.03
    regression = judge_pairs("t", base, heavier, rule)
    assert regression.verdict == "regression" and regression.p_increase < 1e-4
    assert regression.change == pytest.approx(0.12, abs=0.02)
    # unpaired, the same samples are too spread to tell anything
    assert judge_samples("t", heavier, [base], rule).verdict == "inconclusive"
    assert judge_pairs("t", heavier, base, rule).verdict == "improvement"
    assert judge_pairs("t", base[:2], heavier[:2], rule).verdict == "inconclusive"


def test_student_t_tail_stays_a_probability():
    # the series rounds to 1.0000000000000004 for t near -15 (a 3x change over a tight noise):
    # a p-value above 1 makes the results file invalid
    tails = [student_t_tail(t / 10, 40) for t in range(-2000, 2001)]
    assert all(0.0 <= p <= 1.0 for p in tails) and tails[0] == 1.0 and tails[-1] == pytest.approx(0.0, abs=1e-30)


@pytest.mark.parametrize("n", range(2, 7))
def test_median_bootstrap_distribution_is_every_resample_counted(n):
    from itertools import product

    from pytest_energy.stats import median_bootstrap_distribution

    for samples in ([float(v) for v in random.Random(n).sample(range(100), n)], [1.0, 2.0, 2.0, 5.0, 5.0, 9.0][:n]):
        counts: dict[float, int] = {}
        for resample in product(samples, repeat=n):  # all n**n resamples
            median = statistics.median(resample)
            counts[median] = counts.get(median, 0) + 1
        assert median_bootstrap_distribution(samples) == sorted(counts.items())


@pytest.mark.parametrize("n", [5, 20])
def test_exact_median_interval_is_the_limit_of_sampled_ones(n):
    from pytest_energy.stats import _percentile_interval

    rng = random.Random(n)
    samples = [rng.gauss(1.0, 0.1) for _ in range(n)]
    sampled = [statistics.median(rng.choices(samples, k=n)) for _ in range(40_000)]
    low, high = _percentile_interval(sampled, 0.95)
    ordered = sorted(samples)
    exact_low, exact_high = bootstrap_median_ci(samples)
    # at most one order statistic (or midpoint) apart from 40,000 sampled resamples
    assert abs(exact_low - low) <= max(b - a for a, b in zip(ordered, ordered[1:], strict=False)) + 1e-12
    assert abs(exact_high - high) <= max(b - a for a, b in zip(ordered, ordered[1:], strict=False)) + 1e-12
    assert exact_low <= statistics.median(samples) <= exact_high
    many = [rng.gauss(1.0, 0.1) for _ in range(80)]  # beyond the exact limit: sampled, same contract
    assert min(many) <= bootstrap_median_ci(many)[0] <= statistics.median(many) <= bootstrap_median_ci(many)[1]


def test_geometric_mean_ratio_draws_as_one_resample_at_a_time():
    from pytest_energy.stats import geometric_mean_ratio

    rng = random.Random(4)
    base, head = [rng.uniform(1, 2) for _ in range(9)], [rng.uniform(1, 2) for _ in range(9)]
    logs = [math.log(h / b) for b, h in zip(base, head, strict=True)]
    draws = random.Random(0)
    means = sorted(statistics.fmean(draws.choices(logs, k=9)) for _ in range(2000))
    ratio, low, high = geometric_mean_ratio(base, head)
    assert (low, high) == (math.exp(means[int(0.025 * 1999)]), math.exp(means[math.ceil(0.975 * 1999)]))
    assert ratio == pytest.approx(math.exp(statistics.fmean(logs)))
