"""The ``pytest-energy`` command (also ``python -m pytest_energy``), one module per command.

- ``pytest-energy compare BASE.json HEAD.json``: verdicts of one run's results against
  another's, with the gate's rules; exit status 1 on regressions (:mod:`.compare`).
- ``pytest-energy merge -o OUT.json SHARD.json...``: results of sharded jobs into one file
  (and, with ``--baseline``, into the baseline as ``--energy-save`` does) (:mod:`.merge`).
- ``pytest-energy ab BASE [HEAD] -- [PYTEST ARGS]``: two git revisions measured in turns
  (:mod:`pytest_energy.ab`); exit status 1 on regressions.
- ``pytest-energy report [RESULTS.json] [--baseline FILE] [--ab AB.json] -o energy.html``:
  the HTML report (:mod:`.report`).
- ``pytest-energy calibrate -o model.json``: the simulated meter's model fitted to RAPL
  (:mod:`.calibrate`).
- ``pytest-energy doctor``: what this machine can measure and how to fix what it cannot;
  exit status 0 when a real meter is usable, 1 otherwise (:mod:`.doctor`).

Bad input (:class:`~pytest_energy.errors.InputError`) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ..errors import InputError
from ..settings import JUDGED, check_verdict_options, default


def _verdict_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--max-regression", type=float, default=default("energy_max_regression") * 100,
                         metavar="PERCENT", help="increase that counts as a regression (default 10)")
    command.add_argument("--alpha", type=float, default=default("energy_alpha"),
                         help="significance level (default 0.01)")
    command.add_argument("--tolerance", type=float, default=default("energy_tolerance") * 100,
                         metavar="PERCENT",
                         help="simulated meter: change that counts as a regression (default 1)")
    command.add_argument("--judge", choices=JUDGED, type=str.lower, default=default("energy_judge"),
                         help="what the verdicts judge per call: joules (default), or sci (Software Carbon "
                         "Intensity, gCO2e: its embodied part follows time, so its ratio is not the joules')")
    command.add_argument("--markdown", metavar="PATH",
                         help="also write a pull-request summary here (and to $GITHUB_STEP_SUMMARY)")
    command.add_argument("--top", type=int, metavar="N",
                         help="list the N tests that moved most, and every regression (default: 20 "
                              "past 50 tests)")
    command.add_argument("-v", "--verbose", action="store_true", help="list every test, with full ids")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns its exit status."""
    try:
        status = _main(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except BrokenPipeError:  # the reader went away (| head): end quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 141  # 128 + SIGPIPE, what a shell reports for a pipe's writer cut short


def _main(argv: list[str]) -> int:
    pytest_args: list[str] = []
    if "--" in argv:  # pytest-energy ab BASE -- PYTEST ARGS
        split = argv.index("--")
        argv, pytest_args = argv[:split], argv[split + 1:]
    from .. import __version__

    parser = argparse.ArgumentParser(prog="pytest-energy", description="pytest-energy's command line")
    parser.add_argument("--version", action="version", version=f"pytest-energy {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    compare_cmd = commands.add_parser(
        "compare", help="verdicts of HEAD.json against BASE.json (--energy-json files)",
    )
    compare_cmd.add_argument("base", metavar="BASE.json")
    compare_cmd.add_argument("head", metavar="HEAD.json")
    _verdict_options(compare_cmd)
    ab_cmd = commands.add_parser(
        "ab", help="measure two git revisions in turns: pytest-energy ab BASE [HEAD] -- [PYTEST ARGS]",
        usage="pytest-energy ab [options] BASE [HEAD] [-- PYTEST ARGS...]",
        epilog="everything after -- goes to pytest on both sides, e.g. -- tests/unit -k fast",
    )
    ab_cmd.add_argument("base", metavar="BASE", help="git revision of the base (e.g. origin/main)")
    ab_cmd.add_argument("head", metavar="HEAD", nargs="?",
                        help="git revision of the head (default: the working tree)")
    ab_cmd.add_argument("--prepare", metavar="CMD",
                        help="run in each tree, in a virtualenv of its own, before measuring "
                        "(e.g. 'pip install -e .')")
    ab_cmd.add_argument("--json", metavar="PATH", help="write both sides' rounds and the verdicts here")
    ab_cmd.add_argument("--profile", action="store_true",
                        help="profile each regressed test on both sides: which functions' joules grew")
    _verdict_options(ab_cmd)
    merge_cmd = commands.add_parser("merge", help="results of sharded runs into one results file: "
                                    "pytest-energy merge -o OUT.json SHARD.json...")
    merge_cmd.add_argument("shards", metavar="SHARD.json", nargs="+")
    merge_cmd.add_argument("-o", "--output", metavar="OUT.json",
                           help="where to write the merged results (never one of the shards)")
    merge_cmd.add_argument("--baseline", metavar="FILE", help="also save the merged run into this baseline")
    report_cmd = commands.add_parser("report", help="a self-contained HTML report with tables and plots")
    report_cmd.add_argument("results", metavar="RESULTS.json", nargs="?",
                            help="a file written by --energy-json")
    report_cmd.add_argument("--baseline", metavar="FILE", help="a baseline: each test's history as trends")
    report_cmd.add_argument("--ab", metavar="AB.json", help="a file written by pytest-energy ab --json")
    report_cmd.add_argument("-o", "--output", metavar="PATH", default="energy.html",
                            help="where to write the report (default energy.html)")
    report_cmd.add_argument("--markdown", metavar="PATH",
                            help="also write the pull-request summary of --ab (else of RESULTS.json) here")
    calibrate_cmd = commands.add_parser(
        "calibrate", help="fit the simulated meter's model to RAPL on this machine (writes a model file)",
    )
    calibrate_cmd.add_argument("-o", "--output", metavar="PATH", default="energy-model.json",
                               help="where to write the model (default energy-model.json)")
    calibrate_cmd.add_argument("--powercap-root", metavar="DIR", default="/sys/class/powercap",
                               help="where powercap is mounted")
    calibrate_cmd.add_argument("--rounds", type=int, default=5, help="RAPL rounds per workload (default 5)")
    calibrate_cmd.add_argument("--samples", metavar="FILE", help="fit these (counts, joules) pairs instead")
    calibrate_cmd.add_argument("--save-samples", metavar="FILE", help="also write the measured pairs here")
    doctor_cmd = commands.add_parser(
        "doctor", help="what this machine can measure, and how to fix what it cannot",
    )
    doctor_cmd.add_argument("--powercap-root", metavar="DIR", help="where powercap is mounted")
    doctor_cmd.add_argument("--json", action="store_true", help="print the findings as JSON")
    args = parser.parse_args(argv)
    if pytest_args and args.command != "ab":
        parser.error("only pytest-energy ab takes pytest args after --")
    try:
        if hasattr(args, "alpha"):  # compare and ab: the gate's thresholds
            check_verdict_options(args.max_regression / 100, args.alpha, args.tolerance / 100)
        if args.command == "ab":
            from ..ab.run import ab

            return ab(args, pytest_args)
        return importlib.import_module(f"{__name__}.{args.command}").run(args)
    except InputError as exc:
        print(f"pytest-energy {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise
    except OSError as exc:  # the machine's, not the input's: a full disk, a path too long
        where = f": {exc.filename}" if exc.filename else ""
        print(f"pytest-energy {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
