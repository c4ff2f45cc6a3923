"""Paired verdicts of ``pytest-energy ab``: per shared test, per file and for all shared
tests, from rounds that base and head measured in turns."""

from __future__ import annotations

from dataclasses import dataclass

from ..judge.rules import MISSING, NEW, REMOVED, Comparison, Rule, judge_against, judge_pairs
from ..results import TestResult

#: Label of the verdict over all shared tests: the sum of their rounds.
ALL_SHARED = "all shared tests (summed rounds)"
#: Label of a file's verdict: the sum of its shared tests' rounds (the gate's "file total"
#: is the sum of real calls instead).
FILE_ROUNDS = "{path} (file, summed rounds)"


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
    comparisons = [c for c in judge_against(base, head, rule) if c.verdict != MISSING]
    comparisons += [Comparison(r.nodeid, REMOVED, r.meter, baseline_median=r.joules, exact=True)
                    for r in base if r.nodeid not in head_ids]
    return AbResult(
        comparisons, [(by_id[r.nodeid], r) for r in head if r.nodeid in by_id],
        [r for r in head if r.nodeid not in by_id], [r for r in base if r.nodeid not in head_ids],
    )


def _summed(group: list[tuple[TestResult, TestResult]]) -> tuple[list[float], list[float]]:
    """Round i of a group: the sum of its tests' round i (one call each), base and head."""
    count = min(min(len(b.samples), len(h.samples)) for b, h in group)
    base = [sum(b.samples[i] for b, _ in group) for i in range(count)]
    head = [sum(h.samples[i] for _, h in group) for i in range(count)]
    return base, head
