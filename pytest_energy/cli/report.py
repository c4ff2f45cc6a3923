"""``pytest-energy report [RESULTS.json] [--baseline FILE] [--ab AB.json] -o energy.html``:
the HTML report (:mod:`pytest_energy.report.html`)."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..report.html import render
from ..store import baseline as store
from ..store.documents import load_ab, load_results
from ..store.files import unwritable_output, write_text_atomic


def run(args: argparse.Namespace) -> int:
    if not (args.results or args.baseline or args.ab):
        raise InputError("nothing to report: give a results file (--energy-json), --baseline or --ab")
    problem = unwritable_output([(f"-o {args.output}", args.output)])
    if problem:
        raise InputError(problem)
    results = load_results(args.results) if args.results else None
    baseline = store.load(args.baseline) if args.baseline else None
    if args.baseline and baseline is None:
        raise InputError(f"{args.baseline}: no such file; give a baseline written by --energy-save")
    ab = load_ab(args.ab) if args.ab else None
    write_text_atomic(args.output, render(results, baseline, ab))
    print(f"pytest-energy: report written to {args.output}")
    return 0
