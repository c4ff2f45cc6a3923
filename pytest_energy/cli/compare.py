"""``pytest-energy compare BASE.json HEAD.json``: one run's results against another's,
with the gate's rules; exit status 1 on regressions."""

from __future__ import annotations

import argparse
import shutil

from ..errors import InputError
from ..history import machine_differences
from ..judge.figures import SCI, figure, labelled, results_as, rule_for
from ..judge.rules import REGRESSION, Rule
from ..judge.suite import drift_note, judge_against
from ..report.text import check_line, comparison_table, markdown_summary, regression_line, table_size
from ..runs import RunRecord
from ..store.documents import load_results
from ..store.files import markdown_outputs, summary_outputs, unwritable_output, write_markdown


def machines_differ(a: RunRecord, b: RunRecord) -> list[str]:
    """How the two runs' machines differ ([] when either does not say)."""
    return machine_differences(a.machine, b.machine) if a.machine and b.machine else []


def write_summaries(option: str, path: str | None, text: str) -> None:
    """The markdown summary to ``path`` and ``$GITHUB_STEP_SUMMARY`` (checked beforehand
    with :func:`~pytest_energy.store.files.summary_outputs`); a failed write is an InputError."""
    for target, mode in markdown_outputs(path):
        try:
            write_markdown(target, mode, text)
        except OSError as exc:
            raise InputError(f"{option}: {target} not written: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    problem = unwritable_output(summary_outputs("--markdown", args.markdown))
    if problem:
        raise InputError(problem)
    base, head = load_results(args.base), load_results(args.head)
    notes = []
    differences = machines_differ(base, head)
    if differences:
        notes.append(f"{args.base} and {args.head} come from different machines ({'; '.join(differences)})")
    if base.meter_label != head.meter_label:
        notes.append(f"meters differ ({base.meter_label} -> {head.meter_label}): "
                     "tests are compared only with the same meter")
    rule = Rule(max_regression=args.max_regression / 100, alpha=args.alpha, tolerance=args.tolerance / 100)
    judged = figure(args.judge)
    base_tests, head_tests = results_as(base.tests, judged), results_as(head.tests, judged)
    for path, tests in ((args.base, base_tests), (args.head, head_tests)):
        if judged is SCI and not tests:
            raise InputError(f"{path}: no SCI figures to judge (written by an older version): judge joules, "
                             "or measure it again with this version")
    verdicts = judge_against(base_tests, head_tests, rule_for(rule, judged, head.tests))
    comparisons = labelled(verdicts.comparisons, judged)
    note = drift_note(verdicts.drift, args.base)
    if note:
        notes.append(note)
    for note in notes:
        print(f"energy warning: {note}")
    top, width = table_size(len(comparisons), args.top, args.verbose, shutil.get_terminal_size().columns)
    print(comparison_table(comparisons, top=top, width=width))
    regressions = [c for c in comparisons if c.verdict == REGRESSION]
    for regression in regressions:
        print(regression_line(regression))
    print(check_line(bool(regressions), comparisons, judged))
    summary = markdown_summary(head.tests, comparisons, head.meter_label, head.intensity, notes,
                               sci=head.sci())
    write_summaries("--markdown", args.markdown, summary)
    return 1 if regressions else 0
