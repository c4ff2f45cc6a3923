"""The ``pytest-energy`` command (also ``python -m pytest_energy``).

- ``pytest-energy compare BASE.json HEAD.json``: verdicts of one run's results against
  another's, with the gate's rules; exit status 1 on regressions.
- ``pytest-energy merge OUT.json SHARD.json...``: results of sharded jobs into one file
  (and, with ``--baseline``, into the baseline as ``--energy-save`` does).
- ``pytest-energy ab BASE [HEAD] -- [PYTEST ARGS]``: two git revisions measured in turns
  (:mod:`pytest_energy.ab`); exit status 1 on regressions.
- ``pytest-energy report [RESULTS.json] [--baseline FILE] [--ab AB.json] -o energy.html``:
  the HTML report (:mod:`pytest_energy.html`).
- ``pytest-energy doctor``: what this machine can measure and how to fix what it cannot;
  exit status 0 when a real meter is usable, 1 otherwise.

Bad input is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import baseline as store
from .config import default
from .jsonfile import (
    markdown_outputs,
    reject_non_finite,
    unwritable_output,
    write_json_atomic,
    write_markdown,
    write_text_atomic,
)
from .report import comparison_table, markdown_summary, regression_line, verdict_counts
from .results import TestResult
from .verdict import REGRESSION, Rule, compare_run, file_totals

RESULTS_FORMAT = "pytest-energy-results"


class CliError(Exception):
    """Bad input; the message names the problem and the fix."""


@dataclass
class ResultsFile:
    """A loaded ``--energy-json`` file."""

    path: str
    data: dict[str, Any]
    tests: list[TestResult]

    @property
    def meters(self) -> str:
        return ", ".join(sorted({t.meter for t in self.tests})) or "none"

    @property
    def machine(self) -> dict[str, Any]:
        return self.data.get("machine") or {}


def load_results(path: str) -> ResultsFile:
    """Read and validate a results file written by ``--energy-json``."""
    data = _load_document(path, RESULTS_FORMAT, "results file", "--energy-json")
    if not isinstance(data.get("tests"), list):
        raise CliError(f"{path}: has no list of tests; give a file written by --energy-json")
    try:
        tests = [TestResult.from_dict(entry) for entry in data["tests"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError(
            f"{path}: a test entry is malformed ({type(exc).__name__}: {exc}); re-run to write it again"
        ) from None
    return ResultsFile(path, data, tests)


def _machines_differ(a: ResultsFile, b: ResultsFile) -> list[str]:
    """How the two files' machines differ ([] when either does not say)."""
    return store.machine_differences(a.machine, b.machine) if a.machine and b.machine else []


def compare(args: argparse.Namespace) -> int:
    base, head = load_results(args.base), load_results(args.head)
    notes = []
    differences = _machines_differ(base, head)
    if differences:
        notes.append(f"{base.path} and {head.path} come from different machines ({'; '.join(differences)})")
    if base.meters != head.meters:
        notes.append(
            f"meters differ ({base.meters} -> {head.meters}): tests are compared only with the same meter"
        )
    history = {r.nodeid: [store.run_entry(r, None, "")] for r in base.tests}
    files = {
        path: [{"joules": joules, "tests": digest, "meter": base.tests[0].meter}]
        for path, (joules, digest) in file_totals(base.tests).items()
    }
    rule = Rule(max_regression=args.max_regression / 100, alpha=args.alpha)
    comparisons = [c.to_dict() for c in compare_run(head.tests, history, files, rule)]
    for note in notes:
        print(f"energy warning: {note}")
    print(comparison_table(comparisons))
    regressions = [c for c in comparisons if c["verdict"] == REGRESSION]
    for regression in regressions:
        print(regression_line(regression))
    print(f"energy check {'FAILED' if regressions else 'passed'}: {verdict_counts(comparisons)}")
    summary = markdown_summary(head.tests, comparisons, head.meters, _intensity(head), notes)
    for target, mode in markdown_outputs(args.markdown):
        write_markdown(target, mode, summary)
    return 1 if regressions else 0


def _intensity(results: ResultsFile) -> Any:
    from .carbon import Intensity

    settings = results.data.get("settings", {}).get("intensity") or {}
    try:
        return Intensity(**settings)
    except TypeError:
        return Intensity()


def merge(args: argparse.Namespace) -> int:
    problem = unwritable_output([(args.out, args.out)])
    if problem:
        raise CliError(problem)
    shards = [load_results(path) for path in args.shards]
    meters = {shard.meters for shard in shards}
    if len(meters) > 1:
        raise CliError("shards measured with different meters ("
                       + "; ".join(f"{s.path}: {s.meters}" for s in shards) + "); merge only like with like")
    for shard in shards[1:]:
        differences = _machines_differ(shards[0], shard)
        if differences:
            raise CliError(f"{shard.path} comes from another machine than {shards[0].path} "
                           f"({'; '.join(differences)}); merge only like with like")
    seen: dict[str, str] = {}
    for shard in shards:
        for test in shard.tests:
            if test.nodeid in seen:
                raise CliError(f"{test.nodeid} is in both {seen[test.nodeid]} and {shard.path}; "
                               "each test must come from one shard")
            seen[test.nodeid] = shard.path
    tests = sorted((t for s in shards for t in s.tests), key=lambda t: t.nodeid)
    document = {
        **shards[0].data,
        "tests": [t.to_dict() for t in tests],
        "comparisons": [],
        "versus": sorted((v for s in shards for v in s.data.get("versus", [])), key=lambda v: v["nodeid"]),
        "merged_from": [s.path for s in shards],
    }
    write_json_atomic(args.out, document)
    print(f"pytest-energy: merged {len(tests)} tests from {len(shards)} files into {args.out}")
    if args.baseline:
        machine = shards[0].machine or store.machine_fingerprint(shards[0].meters)
        try:
            notes = store.save(
                args.baseline, tests, machine, store.git_commit(os.getcwd()), default("energy_history"),
                default("energy_lock_timeout"),
            )
        except store.BaselineError as exc:
            raise CliError(str(exc)) from None
        for note in notes:
            print(f"energy warning: {note}")
        print(f"pytest-energy: baseline saved to {args.baseline}")
    return 0


AB_FORMAT = "pytest-energy-ab"


def _load_document(path: str, form: str, kind: str, writer: str) -> dict[str, Any]:
    """A JSON document of ``"format": form`` (a ``kind``, written by ``writer``);
    :class:`CliError` naming what is wrong."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle, parse_constant=reject_non_finite)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file; give a {kind} written by {writer}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    except (ValueError, RecursionError) as exc:
        reason = exc if isinstance(exc, ValueError) else "nested too deeply"
        raise CliError(f"{path}: not valid JSON ({reason}); give a {kind} written by {writer}") from None
    if not isinstance(data, dict) or data.get("format") != form:
        raise CliError(f"{path}: not a pytest-energy {kind} (no \"format\": \"{form}\"); "
                       f"give a {kind} written by {writer}")
    return data


def report(args: argparse.Namespace) -> int:
    from .html import render

    if not (args.results or args.baseline or args.ab):
        raise CliError("nothing to report: give a results file (--energy-json), --baseline or --ab")
    problem = unwritable_output([(f"-o {args.output}", args.output)])
    if problem:
        raise CliError(problem)
    results = load_results(args.results).data if args.results else None
    baseline = None
    if args.baseline:
        try:
            loaded = store.load(args.baseline)
        except store.BaselineError as exc:
            raise CliError(str(exc)) from None
        if loaded is None:
            raise CliError(f"{args.baseline}: no such file; give a baseline written by --energy-save")
        baseline = loaded.data
    ab = _load_document(args.ab, AB_FORMAT, "ab file", "pytest-energy ab --json") if args.ab else None
    if ab is not None:
        try:
            [TestResult.from_dict(t[side]) for t in ab["tests"] for side in ("base", "head")]
        except (KeyError, TypeError, ValueError) as exc:
            raise CliError(f"{args.ab}: a test entry is malformed ({type(exc).__name__}: {exc})") from None
    write_text_atomic(args.output, render(results, baseline, ab))
    print(f"pytest-energy: report written to {args.output}")
    return 0


def doctor(args: argparse.Namespace) -> int:
    from .config import POWERCAP_ENV
    from .doctor import diagnose, render

    root = args.powercap_root or os.environ.get(POWERCAP_ENV) or "/sys/class/powercap"
    report = diagnose(root)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if report["real_meter"] else 1


def _verdict_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--max-regression", type=float, default=default("energy_max_regression") * 100,
                         metavar="PERCENT", help="increase that counts as a regression (default 10)")
    command.add_argument("--alpha", type=float, default=default("energy_alpha"),
                         help="significance level (default 0.01)")
    command.add_argument("--markdown", metavar="PATH",
                         help="also write a pull-request summary here (and to $GITHUB_STEP_SUMMARY)")


def run_ab(args: argparse.Namespace, pytest_args: list[str]) -> int:
    from .ab import ab

    return ab(args, pytest_args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:  # pytest-energy ab BASE -- PYTEST ARGS
        split = argv.index("--")
        argv, pytest_args = argv[:split], argv[split + 1:]
    parser = argparse.ArgumentParser(prog="pytest-energy", description="pytest-energy's command line")
    commands = parser.add_subparsers(dest="command", required=True)
    compare_cmd = commands.add_parser(
        "compare", help="verdicts of HEAD.json against BASE.json (--energy-json files)",
    )
    compare_cmd.add_argument("base", metavar="BASE.json")
    compare_cmd.add_argument("head", metavar="HEAD.json")
    _verdict_options(compare_cmd)
    ab_cmd = commands.add_parser(
        "ab", help="measure two git revisions in turns: pytest-energy ab BASE [HEAD] -- [PYTEST ARGS]",
    )
    ab_cmd.add_argument("base", metavar="BASE", help="git revision of the base (e.g. origin/main)")
    ab_cmd.add_argument("head", metavar="HEAD", nargs="?",
                        help="git revision of the head (default: the working tree)")
    ab_cmd.add_argument("--prepare", metavar="CMD",
                        help="run in each tree, in a virtualenv of its own, before measuring "
                        "(e.g. 'pip install -e .')")
    ab_cmd.add_argument("--json", metavar="PATH", help="write both sides' rounds and the verdicts here")
    _verdict_options(ab_cmd)
    merge_cmd = commands.add_parser("merge", help="results of sharded runs into one results file")
    merge_cmd.add_argument("out", metavar="OUT.json")
    merge_cmd.add_argument("shards", metavar="SHARD.json", nargs="+")
    merge_cmd.add_argument("--baseline", metavar="FILE", help="also save the merged run into this baseline")
    report_cmd = commands.add_parser("report", help="a self-contained HTML report with tables and plots")
    report_cmd.add_argument("results", metavar="RESULTS.json", nargs="?",
                            help="a file written by --energy-json")
    report_cmd.add_argument("--baseline", metavar="FILE", help="a baseline: each test's history as trends")
    report_cmd.add_argument("--ab", metavar="AB.json", help="a file written by pytest-energy ab --json")
    report_cmd.add_argument("-o", "--output", metavar="PATH", default="energy.html",
                            help="where to write the report (default energy.html)")
    doctor_cmd = commands.add_parser(
        "doctor", help="what this machine can measure, and how to fix what it cannot",
    )
    doctor_cmd.add_argument("--powercap-root", metavar="DIR", help="where powercap is mounted")
    doctor_cmd.add_argument("--json", action="store_true", help="print the findings as JSON")
    args = parser.parse_args(argv)
    if pytest_args and args.command != "ab":
        parser.error("only pytest-energy ab takes pytest args after --")
    try:
        if args.command == "ab":
            return run_ab(args, pytest_args)
        return {"compare": compare, "merge": merge, "report": report, "doctor": doctor}[args.command](args)
    except CliError as exc:
        print(f"pytest-energy {args.command}: error: {exc}", file=sys.stderr)
        return 2
