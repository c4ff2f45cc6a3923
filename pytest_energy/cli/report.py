"""``pytest-energy report [RESULTS.json] [--baseline FILE] [--ab AB.json] -o energy.html``:
the HTML report (:mod:`pytest_energy.report.html`); with ``--markdown PATH``, also the
pull-request summary, rendered from the file's data (the comment workflow's trusted copy)."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..report.html import render
from ..report.text import ab_markdown, markdown_summary
from ..runs import AbRecord, RunRecord
from ..store import baseline as store
from ..store.documents import load_ab, load_results
from ..store.files import (
    markdown_outputs,
    summary_outputs,
    unwritable_output,
    write_markdown,
    write_text_atomic,
)


def run(args: argparse.Namespace) -> int:
    if not (args.results or args.baseline or args.ab):
        raise InputError("nothing to report: give a results file (--energy-json), --baseline or --ab")
    if args.markdown and not (args.results or args.ab):
        raise InputError("--markdown summarises a results file or --ab; give one")
    summaries = summary_outputs("--markdown", args.markdown) if args.markdown else []
    problem = unwritable_output([(f"-o={args.output}", args.output), *summaries])
    if problem:
        raise InputError(problem)
    results = load_results(args.results) if args.results else None
    baseline = store.load(args.baseline) if args.baseline else None
    if args.baseline and baseline is None:
        raise InputError(f"{args.baseline}: no such file; give a baseline written by --energy-save")
    ab = load_ab(args.ab) if args.ab else None
    write_text_atomic(args.output, render(results, baseline, ab))
    print(f"pytest-energy: report written to {args.output}")
    if args.markdown:  # rendered here, from the data: what a comment says is only what this code writes
        _write_markdown(args.markdown, results, ab)
    return 0


def _write_markdown(path: str, results: RunRecord | None, ab: AbRecord | None) -> None:
    """The pull-request summary of ``ab`` (else of ``results``) at ``path``, as ``ab`` and
    ``compare`` write it."""
    if ab is not None:
        sides = [ab.base.describe("base"), ab.head.describe("head")]
        text = ab_markdown(ab.comparisons, sides, ab.meter, ab.failures)
    else:
        assert results is not None  # run() asked for one
        text = markdown_summary(results.tests, results.comparisons, results.meter_label,
                                results.intensity, [], sci=results.sci())
    for target, mode in markdown_outputs(path):
        write_markdown(target, mode, text)
