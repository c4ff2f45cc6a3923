"""Paired verdicts of ``pytest-energy ab``: per shared test, per file and for all shared
tests, from rounds that base and head measured in turns."""

from __future__ import annotations

import argparse
import math
import statistics
from dataclasses import dataclass

from ..judge.figures import JOULES, figure, labelled, results_as, rule_for
from ..judge.rules import MISSING, NEW, REMOVED, Comparison, Rule, judge_pairs, settle
from ..judge.suite import judge_against
from ..results import TestResult
from ..stats import t_quantile_99

#: Label of the verdict over all shared tests: the sum of their rounds.
ALL_SHARED = "all shared tests (summed rounds)"
#: Label of a file's verdict: the sum of its shared tests' rounds (the gate's "file total"
#: is the sum of real calls instead).
FILE_ROUNDS = "{path} (file, summed rounds)"


#: Paired rounds after which ab looks whether a test's verdict is already clear; a test
#: that is not goes on to ``--energy-rounds`` (ab's default: 20).
LOOKS = (3, 4, 5, 6, 8, 10, 13, 16)


def clear_early(base: list[float], head: list[float], limit: float) -> bool:
    """Whether a test's rounds may stop: at a look, the mean log ratio of the pairs lies,
    with both its one-sided 99% t-bounds, inside +-``limit``. More pairs could then give
    no regression and no improvement, only a narrower "unchanged" or "within limit"; a
    test that may be a regression always gets every round (its test needs them all)."""
    n = min(len(base), len(head))
    if n not in LOOKS:
        return False
    logs = [math.log(h / b) for b, h in zip(base[:n], head[:n], strict=True) if b > 0 and h > 0]
    if len(logs) < n:
        return False
    half = t_quantile_99(n - 1) * statistics.stdev(logs) / math.sqrt(n)
    mean, bound = statistics.fmean(logs), math.log1p(limit)
    return -bound < mean - half and mean + half < bound


@dataclass
class AbResult:
    """Paired verdicts and what only one side has."""

    comparisons: list[Comparison]
    pairs: list[tuple[TestResult, TestResult]]
    new: list[TestResult]
    removed: list[TestResult]


def paired_verdicts(base: list[TestResult], head: list[TestResult], rule: Rule) -> AbResult:
    """Per shared test, per file and for all shared tests, from the rounds' pairs."""
    by_id = {r.nodeid: r for r in base}
    head_ids = {r.nodeid for r in head}
    pairs = [(by_id[r.nodeid], r) for r in head if r.nodeid in by_id]
    comparisons = [
        judge_pairs(h.nodeid, b.samples, h.samples, rule.for_test(h.max_regression), h.meter)
        for b, h in pairs
    ]
    repeated = [(b, h) for b, h in pairs if b.measurement is not None and h.measurement is not None]
    by_file: dict[str, list[tuple[TestResult, TestResult]]] = {}
    for b, h in repeated:
        by_file.setdefault(h.path, []).append((b, h))
    groups = [(FILE_ROUNDS.format(path=path), group) for path, group in sorted(by_file.items())]
    if len(by_file) > 1:
        groups.append((ALL_SHARED, repeated))
    for key, group in groups:
        meter = group[0][1].meter
        comparisons.append(judge_pairs(key, *_summed(group), rule, meter))
    comparisons = settle(comparisons, rule.alpha)
    new = [r for r in head if r.nodeid not in by_id]
    removed = [r for r in base if r.nodeid not in head_ids]
    comparisons += [Comparison(r.nodeid, NEW, r.meter, current_median=r.joules) for r in new]
    comparisons += [Comparison(r.nodeid, REMOVED, r.meter, baseline_median=r.joules) for r in removed]
    return AbResult(comparisons, pairs, new, removed)


def exact_verdicts(base: list[TestResult], head: list[TestResult], rule: Rule) -> AbResult:
    """Deterministic meters (simulated): each side ran once; every shared test and file is
    judged exactly, the base as the one stored run (no rounds, no pairing needed)."""
    by_id = {r.nodeid: r for r in base}
    head_ids = {r.nodeid for r in head}
    comparisons = [c for c in judge_against(base, head, rule).comparisons if c.verdict != MISSING]
    comparisons += [Comparison(r.nodeid, REMOVED, r.meter, baseline_median=r.joules, exact=True)
                    for r in base if r.nodeid not in head_ids]
    return AbResult(
        comparisons, [(by_id[r.nodeid], r) for r in head if r.nodeid in by_id],
        [r for r in head if r.nodeid not in by_id], [r for r in base if r.nodeid not in head_ids],
    )


def _summed(group: list[tuple[TestResult, TestResult]]) -> tuple[list[float], list[float]]:
    """Round i of a group: the sum of its tests' round i (one call each), base and head.
    A test whose rounds stopped early (its verdict was clear) adds its mean round to the
    rounds it did not run, on each side."""
    pairs = [(b.samples[:n], h.samples[:n]) for b, h in group if (n := min(len(b.samples), len(h.samples)))]
    count = max((len(b) for b, _ in pairs), default=0)

    def at(samples: list[float], i: int) -> float:
        return samples[i] if i < len(samples) else statistics.fmean(samples)

    base = [sum(at(b, i) for b, _ in pairs) for i in range(count)]
    head = [sum(at(h, i) for _, h in pairs) for i in range(count)]
    return base, head


def is_simulated(pytest_args: list[str]) -> bool:
    """Whether the pytest args pick the deterministic meter (``--energy-meter=simulated``)."""
    pairs = zip(pytest_args, [*pytest_args[1:], ""], strict=True)
    return any(a == "--energy-meter=simulated" or (a, b) == ("--energy-meter", "simulated") for a, b in pairs)


def judge_sides(
    args: argparse.Namespace, pytest_args: list[str], base: list[TestResult], head: list[TestResult],
) -> tuple[Rule, AbResult]:
    """The rule from ab's options (percentages), and the verdicts: exact for a deterministic
    meter, paired otherwise."""
    rule = Rule(max_regression=args.max_regression / 100, alpha=args.alpha, tolerance=args.tolerance / 100)
    judged = figure(getattr(args, "judge", None) or "joules")
    verdicts = (exact_verdicts if is_simulated(pytest_args) else paired_verdicts)(
        results_as(base, judged), results_as(head, judged), rule_for(rule, judged, head))
    if judged is JOULES:
        return rule, verdicts
    # the verdicts judged SCI per call; the pairs and sides kept are the measured results
    bases, heads = {r.nodeid: r for r in base}, {r.nodeid: r for r in head}
    return rule, AbResult(labelled(verdicts.comparisons, judged),
                          [(bases[b.nodeid], heads[h.nodeid]) for b, h in verdicts.pairs],
                          [heads[r.nodeid] for r in verdicts.new],
                          [bases[r.nodeid] for r in verdicts.removed])
