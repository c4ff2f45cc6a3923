"""A run judged as a whole: drift of the machine, noise of like tests, false alarms
controlled across the run, and verdicts that tell one story."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from pytest_energy.history import StoredRun
from pytest_energy.judge.rules import (
    IMPROVEMENT,
    INCONCLUSIVE,
    REGRESSION,
    UNCHANGED,
    WITHIN_LIMIT,
    Comparison,
    Rule,
    classify,
    judge_pairs,
    settle,
)
from pytest_energy.judge.suite import drift_note, judge_run
from pytest_energy.report.text import regression_line
from pytest_energy.results import CallWindow, TestResult
from pytest_energy.stats import benjamini_hochberg
from pytest_energy.units import percent


def test_benjamini_hochberg_matches_the_textbook_values():
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") -> 0.02 0.04 0.04 0.02
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([]) == []
    assert benjamini_hochberg([0.9, 0.8]) == pytest.approx([0.9, 0.9])


def _comparison(change, low, high, p_up, p_down, limit=0.10):
    return Comparison("t", INCONCLUSIVE, "m", 1.0, 1 + change, change, low, high, p_up, p_down,
                      max_regression=limit)


@pytest.mark.parametrize(("change", "low", "high", "p_up", "p_down", "verdict"), [
    (0.30, 0.20, 0.40, 1e-6, 1.0, REGRESSION),
    (0.30, -0.01, 0.60, 1e-6, 1.0, INCONCLUSIVE),   # significant, yet the CI includes 0
    (0.07, 0.05, 0.09, 1e-6, 1.0, WITHIN_LIMIT),    # a real +7% under a 10% limit
    (-0.07, -0.09, -0.05, 1.0, 1e-6, WITHIN_LIMIT),
    (0.01, -0.03, 0.05, 0.3, 0.7, UNCHANGED),
    (-0.30, -0.40, -0.20, 1.0, 1e-6, IMPROVEMENT),
    (0.30, 0.20, 0.40, 0.2, 0.8, INCONCLUSIVE),     # large, not significant
])
def test_classify(change, low, high, p_up, p_down, verdict):
    assert classify(_comparison(change, low, high, p_up, p_down), alpha=0.01).verdict == verdict


def test_verdicts_are_consistent_with_their_ci():
    rng = random.Random(5)
    for _ in range(2000):
        change = rng.uniform(-0.5, 0.5)
        half = rng.uniform(0.001, 0.4)
        low, high = change - half * rng.uniform(0.5, 1.5), change + half * rng.uniform(0.5, 1.5)
        p = rng.choice([1e-6, 0.005, 0.02, 0.5])
        c = classify(_comparison(change, low, high, p, 1 - p), alpha=0.01)
        if c.verdict == REGRESSION:
            assert low > 0 and change + 1.5 * (high - low) / 3.92 >= 0.10
        if c.verdict == UNCHANGED:
            assert low <= 0 <= high and -0.10 < low and high < 0.10
        if c.verdict == WITHIN_LIMIT:
            assert low > 0 or high < 0


def test_pairs_that_moved_within_the_limit_say_so():
    rng = random.Random(2)
    base = [1 + rng.gauss(0, 0.01) for _ in range(20)]
    head = [b * 1.07 * (1 + rng.gauss(0, 0.01)) for b in base]
    c = judge_pairs("t", base, head, Rule(max_regression=0.10))
    assert c.verdict == WITHIN_LIMIT and c.change_ci_low > 0 and 0.05 < c.change < 0.09


def test_settle_holds_false_alarms_across_a_run():
    rng = random.Random(9)
    rule = Rule(max_regression=0.10, alpha=0.01)
    comparisons = []
    for i in range(300):  # unchanged tests, noisy: a few reach p < 0.01 by chance
        base = [1 + rng.gauss(0, 0.15) for _ in range(20)]
        head = [b * (1 + rng.gauss(0, 0.15)) for b in base]
        comparisons.append(judge_pairs(f"t{i}", base, head, rule))
    base = [1 + rng.gauss(0, 0.02) for _ in range(20)]
    comparisons.append(judge_pairs("real", base, [b * 1.5 for b in base], rule))
    settled = {c.nodeid: c for c in settle(comparisons, rule.alpha)}
    assert [k for k, c in settled.items() if c.verdict == REGRESSION] == ["real"]
    assert all(c.p_adjusted >= min(c.p_increase, c.p_decrease) for c in settled.values())


def _suite(scale, heavier=(), seed=0, noise=0.08, tests=200, seconds=0.01):
    """History of one saved run, and a current run of ``tests`` tests 1 ms-100 ms (J
    proportional), all ``scale`` times heavier (the machine), ``heavier`` 3x more."""
    rng = random.Random(seed)
    history, results = {}, []
    for i in range(tests):
        nodeid = f"test_gen.py::test_{i}"
        size = 10 ** rng.uniform(-3, -1)
        history[nodeid] = [StoredRun("estimate", 1, [size], call_joules=size * (1 + rng.gauss(0, noise)))]
        joules = size * scale * (3 if i in heavier else 1) * (1 + rng.gauss(0, noise))
        call = CallWindow(joules, joules, seconds, seconds, False)
        results.append(TestResult(nodeid, "estimate", True, seconds, call=call))
    return results, history


@pytest.mark.parametrize("scale", [0.6, 1.0, 1.35])
def test_a_suite_that_moved_together_fails_nothing(scale):
    results, history = _suite(scale, seed=int(scale * 10))
    verdicts = judge_run(results, history, {}, Rule())
    assert [c.nodeid for c in verdicts.comparisons if c.verdict in (REGRESSION, IMPROVEMENT)] == []
    assert verdicts.drift is not None and verdicts.drift.change == pytest.approx(scale - 1, abs=0.03)


def test_tests_made_heavier_are_found_on_a_drifted_machine():
    heavier = {3, 50, 90, 140, 199}
    results, history = _suite(1.35, heavier, seed=4)
    verdicts = judge_run(results, history, {}, Rule())
    found = {c.nodeid for c in verdicts.comparisons if c.verdict == REGRESSION}
    assert found == {f"test_gen.py::test_{i}" for i in heavier}
    regression = next(c for c in verdicts.comparisons if c.verdict == REGRESSION)
    assert regression.drift == pytest.approx(0.35, abs=0.04) and 1.7 < regression.change < 2.4


def test_a_single_value_regression_says_what_it_was_judged_against():
    results, history = _suite(1.35, {50}, seed=4)
    regression = next(c for c in judge_run(results, history, {}, Rule()).comparisons if c.verdict == REGRESSION)
    line = regression_line(regression)
    assert regression.single and f"after the machine's drift of {percent(regression.drift)} (a single value)" in line
    assert f"p adj.={regression.p_adjusted:.2g}, more than 2x its stored median" in line
    assert "history's" not in line


def test_drift_note_says_how_much_and_what_it_cannot_tell():
    results, history = _suite(1.3, seed=1)
    drift = judge_run(results, history, {}, Rule()).drift
    note = drift_note(drift, "the baseline b.json")
    assert note.startswith(f"the whole suite measured {drift.change:+.0%} against the baseline b.json (200 tests)")
    assert 0.25 < drift.change < 0.35
    assert "pytest-energy ab" in note
    results, history = _suite(1.0, seed=1)
    assert drift_note(judge_run(results, history, {}, Rule()).drift, "x") is None


def test_a_small_suite_keeps_the_fixed_margins():
    results, history = _suite(1.0, heavier={0}, tests=3, seed=2)
    verdicts = judge_run(results, history, {}, Rule())
    assert verdicts.drift is None
    assert verdicts.comparisons[0].verdict == REGRESSION  # 3x is beyond the 2x margin
    assert math.isclose(verdicts.comparisons[0].history_spread, 1.0)


def test_calls_under_a_millisecond_are_never_judged_alone():
    results, history = _suite(1.0, heavier={3, 50}, seed=4, seconds=0.0003)
    verdicts = judge_run(results, history, {}, Rule())
    assert {c.verdict for c in verdicts.comparisons if "::" in c.nodeid} == {INCONCLUSIVE}
    assert verdicts.drift is not None  # they still tell the machine's drift


def test_a_recheck_only_takes_back_what_it_rechecked():
    from pytest_energy.judge.recheck import after_recheck

    regression = Comparison("t.py::a", REGRESSION, change=2.0)
    calm = Comparison("t.py::a", UNCHANGED, change=0.01)
    assert after_recheck(calm, regression, 5) is calm  # never makes a regression
    assert after_recheck(regression, calm, 0) is regression  # not rechecked (rounds, or its re-run failed)
    taken = after_recheck(regression, calm, 5)
    assert (taken.verdict, taken.change, taken.recheck_change, taken.recheck_calls) == (UNCHANGED, 2.0, 0.01, 5)
    total = after_recheck(replace(regression, nodeid="t.py (file total)"), replace(calm, nodeid="t.py (file total)"), 0)
    assert (total.verdict, total.recheck_change, total.recheck_calls) == (UNCHANGED, 0.01, None)
    lower = Comparison("t.py::a", IMPROVEMENT, change=-0.6, change_ci_low=-0.7, change_ci_high=-0.5,
                       p_increase=1.0, p_decrease=1e-6)
    assert after_recheck(regression, lower, 5).verdict == INCONCLUSIVE  # never an improvement


def test_a_recheck_is_measured_beside_unflagged_tests_of_its_size():
    from pytest_energy.judge.recheck import references

    def c(name, base, verdict=UNCHANGED, drift=0.1, **kw):
        return Comparison(name, verdict, "m", base, base, 0.0, drift=drift, single=True, **kw)

    comparisons = [
        c("a", 1.0, REGRESSION), c("b", 1.1), c("c", 0.9), c("d", 100.0), c("e", 1.05, REGRESSION),
        c("f", 1.2, exact=True), c("g", 0.95, drift=None), c("t.py (file total)", 1.0), c("h", 2.0),
    ]
    assert references(comparisons, "a", count=3) == ["b", "c", "h"]  # nearest in size, flagged ones left
    assert references(comparisons, "a", count=10) == ["b", "c", "h", "d"]
    assert references(comparisons, "g") == []  # not judged against a drift: nothing to tell


def test_a_recheck_is_scaled_to_the_drift_its_run_figure_was_judged_against():
    from pytest_energy.judge.recheck import FreshCalls, to_run_drift

    suspect = Comparison("a", REGRESSION, "m", 1.0, 3.0, 2.0, drift=0.2, single=True)
    stored = [suspect, Comparison("b", UNCHANGED, "m", 2.0), Comparison("c", UNCHANGED, "m", 4.0),
              Comparison("d", UNCHANGED, "m", 1.0)]
    beside = {"b": [1.0, 1.0, 5.0], "c": [2.0, 2.1, 1.9], "d": [0.5]}  # the machine at half its history
    fresh = FreshCalls([1.5, 1.4], [0.01, 0.02])
    scaled = to_run_drift(fresh, suspect, beside, stored)  # x 1.2 / 0.5, the time too
    assert (scaled.joules, scaled.seconds) == (pytest.approx([3.6, 3.36]), pytest.approx([0.024, 0.048]))
    assert to_run_drift(fresh, suspect, {"b": [1.0]}, stored) == fresh  # one reference tells no drift
    assert to_run_drift(fresh, replace(suspect, drift=None), beside, stored) == fresh


def test_a_rechecked_sci_figure_comes_from_the_fresh_calls_time_too():
    from pytest_energy.judge.figures import SCI, results_as
    from pytest_energy.judge.recheck import FreshCalls, with_rechecks
    from pytest_energy.measurement.sci import Sci

    sci = Sci(energy_j=2.0, seconds=1.0, idle_watts=1.0, operational_g=0.0, embodied_g=0.0, meter="estimate",
              modelled=True, g_per_j=0.001, embodied_g_per_s=0.5)
    call = CallWindow(joules=2.0, gross_joules=3.0, seconds=1.0, window_s=1.0, below_resolution=False)
    result = TestResult("t.py::a", "estimate", True, 1.0, call=call, sci=sci)
    [rechecked] = with_rechecks([result], {"t.py::a": FreshCalls([1.0, 1.2, 5.0], [0.2, 0.3, 2.0])})
    assert (rechecked.call.joules, rechecked.call.seconds) == (1.2, 0.3)  # the medians
    [seen] = results_as([rechecked], SCI)
    assert seen.call.joules == pytest.approx((1.2 + 1.0 * 0.3) * 0.001 + 0.3 * 0.5)  # not the first call's 1 s
    assert with_rechecks([result], {"t.py::a": FreshCalls([], [])}) == [result]


def test_a_recheck_is_judged_on_its_own_p_value_not_corrected_across_the_run_again():
    from pytest_energy.judge.recheck import after_recheck

    before = classify(Comparison("t.py::a", INCONCLUSIVE, "m", 1.0, 3.0, 2.0, 1.2, 3.0, 1e-6, 1.0,
                                 history_spread=1.0, max_regression=0.1, single=True), 0.01)
    assert before.verdict == REGRESSION
    confirmed = settle([replace(before, current_median=2.4, change=1.4, change_ci_low=0.5, p_increase=0.003)]
                       + [_comparison(0.0, -0.1, 0.1, 0.5, 0.5)] * 9, 0.01)[0]
    assert confirmed.verdict == INCONCLUSIVE  # 0.003 x 10 tests: not significant across the run
    kept = after_recheck(before, confirmed, 5, alpha=0.01)
    assert (kept.verdict, kept.recheck_change) == (REGRESSION, 1.4)  # but the recheck confirms it
    burst = replace(confirmed, change=0.02, change_ci_low=-0.3, change_ci_high=0.4, p_increase=0.45)
    assert after_recheck(before, burst, 5, alpha=0.01).verdict != REGRESSION
    assert after_recheck(before, confirmed, 5, alpha=0.001).verdict != REGRESSION  # its alpha


def test_a_file_total_that_regressed_alone_has_all_its_tests_rechecked():
    """Its tests, each too short to judge alone, are inconclusive: the file's total, flagged
    from single calls (a burst of load in one of them), is only taken back if they are
    measured again (toolz 1.0.0, unchanged, compared with 2 busy processes: 1 of 3 failed)."""
    from pytest_energy.judge.recheck import suspects

    file_total = Comparison("t.py (file total)", REGRESSION, change=6.3, single=True)
    tests = [Comparison(f"t.py::test_{i}", INCONCLUSIVE, change=0.1, single=True) for i in range(3)]
    other = Comparison("u.py::test_x", REGRESSION, change=2.0, single=True)
    calm = Comparison("v.py::test_y", INCONCLUSIVE, change=0.1, single=True)
    assert suspects([file_total, *tests, other, calm]) == [c.nodeid for c in (*tests, other)]
    assert suspects([replace(file_total, single=False), *tests]) == []  # rounds: nothing to recheck
    assert suspects([replace(file_total, exact=True), *tests]) == []  # a deterministic meter
