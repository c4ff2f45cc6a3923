"""``pytest-energy ab BASE [HEAD] -- [PYTEST ARGS]``: two revisions measured in turns.

Each revision gets its own temporary tree (``git worktree``; the working tree, when HEAD
is not given, is copied: tracked and untracked files, not ignored ones), prepared by
``--prepare CMD`` in a virtualenv of its own. Both trees then run pytest with every test
repeated in rounds, and the two processes take turns (:mod:`pytest_energy.ab.turns`): for a
test both have, the rounds go base, head, base, head... Verdicts come from the pairs
(:mod:`pytest_energy.ab.verdicts`), per test, per file and for all shared tests. Trees,
virtualenvs and processes are removed on success, failure, Ctrl-C and SIGTERM, and the
trees of a run that was killed by the next run (:mod:`pytest_energy.ab.workspace`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
from dataclasses import dataclass
from typing import Any

from .. import timing
from ..errors import InputError
from ..judge.rules import REGRESSION, Rule
from ..report.profiles import profile_diff_lines, profile_markdown
from ..report.text import ab_markdown, comparison_table, regression_line, table_size, verdict_counts
from ..runs import AbRecord, Revision, RunRecord
from ..store.documents import load_results, save_ab
from ..store.files import markdown_outputs, summary_outputs, unwritable_output, write_markdown
from .profiles import Profiled, profile_regressions
from .turns import ARRIVE, COLLECTED, SIDES, SOURCE_ENV, Coordinator, Turns, TurnsError
from .verdicts import AbResult, is_simulated, judge_sides
from .workspace import Workspace, git, last_line, remove_stale

#: Rounds per test unless the pytest args say otherwise: enough pairs for the signed-rank test.
AB_ROUNDS = 20
#: pytest's exit statuses that still leave results: passed, tests failed, none collected.
RESULTS_EXIT = (0, 1, 5)
#: ab's exit status when a test failed, errored, or was skipped on one side only: distinct
#: from 1, an energy regression (3 wins when both happened).
TESTS_FAILED = 3


@dataclass
class Side:
    """One revision: where it is checked out and how its pytest runs."""

    name: str
    #: As given on the command line ("working tree" when HEAD was not given), and its commit.
    revision: Revision
    root: str
    #: Where pytest runs: the tree, plus the subdirectory the command was run from.
    cwd: str
    python: str
    env: dict[str, str]

    def describe(self) -> str:
        return self.revision.describe(self.name)


def progress(line: str) -> None:
    print(f"ab: {line}", file=sys.stderr, flush=True)


def find_repo(cwd: str) -> tuple[str, str]:
    """The checkout's top directory and the command's subdirectory within it."""
    try:
        top = git(cwd, "rev-parse", "--show-toplevel")
        prefix = git(cwd, "rev-parse", "--show-prefix")
    except (InputError, FileNotFoundError):
        raise InputError(
            f"{cwd} is not in a git repository; run pytest-energy ab inside your project's checkout"
        ) from None
    return top, prefix


def resolve(repo: str, revision: str) -> str:
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except InputError:
        raise InputError(f"unknown revision {revision!r}: give a branch, tag or commit of this repository"
                       ) from None


def prepare(workspace: Workspace, side: Side, command: str) -> None:
    """Run ``--prepare`` in the side's tree and a fresh virtualenv (one line and exit 2 if it
    fails); pytest then runs in that virtualenv."""
    progress(f"preparing {side.describe()}: {command}")
    side.python, side.env = workspace.virtualenv(side.name, side.env)
    log = os.path.join(workspace.root, f"{side.name}-prepare.log")
    status = workspace.run(["/bin/sh", "-c", command], side.root, side.env, log)
    if status:
        raise InputError(f"--prepare failed for {side.describe()}: {command!r} exited with {status}: "
                       f"{last_line(log)}")
    workspace.share_packages(side.python)


def run_sides(
    workspace: Workspace, sides: list[Side], pytest_args: list[str], limit: float,
) -> tuple[Turns, dict[str, str]]:
    """Both pytest processes, in turns (a test's rounds stop early once its verdict is
    clear of ``limit``); returns the turn log and each side's results file."""
    address = workspace.socket_path("turns.sock")
    results = {side.name: os.path.join(workspace.root, f"{side.name}.json") for side in sides}
    logs = {side.name: os.path.join(workspace.root, f"{side.name}.log") for side in sides}
    announce = Announcer()
    coordinator = Coordinator(address, announce, limit)
    processes = {}
    for side in sides:
        command = [
            side.python, "-m", "pytest", "--energy", "--energy-repeat", f"--energy-rounds={AB_ROUNDS}",
            f"--energy-json={results[side.name]}", f"--energy-lockstep={side.name}@{address}",
            "-p", "no:randomly", *pytest_args,
        ]
        processes[side.name] = workspace.start(command, side.cwd, side.env, logs[side.name])
    turns = coordinator.serve(lambda: {name: p.poll() is None for name, p in processes.items()})
    for name, process in processes.items():
        status = process.wait()
        if status not in RESULTS_EXIT:
            raise InputError(f"pytest for {name} stopped with exit status {status}: {last_line(logs[name])}")
    return turns, results


def run_each(workspace: Workspace, sides: list[Side], pytest_args: list[str]) -> dict[str, str]:
    """A deterministic meter: each side once, one after the other (no turns needed: the
    machine's load does not move its figures); returns each side's results file."""
    results = {side.name: os.path.join(workspace.root, f"{side.name}.json") for side in sides}
    for side in sides:
        progress(f"{side.describe()}: one run under the simulator")
        log = os.path.join(workspace.root, f"{side.name}.log")
        command = [side.python, "-m", "pytest", "--energy", f"--energy-json={results[side.name]}",
                   "-p", "no:randomly", *pytest_args]
        status = workspace.start(command, side.cwd, side.env, log).wait()
        if status not in RESULTS_EXIT:
            raise InputError(f"pytest for {side.name} stopped with exit status {status}: {last_line(log)}")
    return results


class Announcer:
    """Progress lines as the processes report in: which side, which test, how many left."""

    def __init__(self) -> None:
        self.started: set[str] = set()
        self.first: float | None = None

    def __call__(self, turns: Turns, side: str, message: dict[str, Any]) -> None:
        event = message["event"]
        if event == COLLECTED:
            if message.get("leaks"):
                raise TurnsError(
                    f"{side}'s tests import code from your checkout, not from their own tree "
                    f"({message['leaks'][0]}): install the project per tree with "
                    "--prepare 'pip install -e .', or add its source folder to pytest's pythonpath"
                )
            progress(f"{side}: {len(message.get('tests') or [])} tests collected")
        elif event == ARRIVE:
            test = message["test"]
            other = [s for s in SIDES if s != side][0]
            if turns.waiting.get(other) == (ARRIVE, test) and test not in self.started:
                self.started.add(test)
                now = timing.clock.perf_counter()
                self.first = now if self.first is None else self.first
                shared = turns.shared or []
                done = len(self.started)
                timed = eta(now - self.first, done, len(shared))
                progress(f"[{done}/{len(shared)}, {len(shared) - done} left{timed}] {test}: "
                         "base and head in turns")


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def eta(elapsed: float, starting: int, count: int) -> str:
    """``, 1m10s elapsed, about 2m20s to go`` as test ``starting`` of ``count`` begins: the
    tests finished so far, at their average pace; '' before the first test has finished."""
    finished = starting - 1
    if finished < 1:
        return ""
    return f", {duration(elapsed)} elapsed, about {duration(elapsed / finished * (count - finished))} to go"


# -- the command -------------------------------------------------------------------------

def ab(args: argparse.Namespace, pytest_args: list[str]) -> int:
    problem = unwritable_output([(f"--json={args.json}", args.json),
                                 *summary_outputs("--markdown", args.markdown)])
    if problem:
        raise InputError(problem)
    repo, prefix = find_repo(os.getcwd())
    base_commit = resolve(repo, args.base)
    head_commit = resolve(repo, args.head) if args.head else None
    for path in remove_stale(repo):
        progress(f"removed {path}, a tree an earlier run left behind when it was killed")
    restore = signal.signal(signal.SIGTERM, _interrupt)
    workspace = None
    try:
        workspace = Workspace(repo)
        sides = _checkout(workspace, args, base_commit, head_commit, prefix)
        if args.prepare:
            for side in sides:
                prepare(workspace, side, args.prepare)
        if is_simulated(pytest_args):
            turns, paths = Turns(), run_each(workspace, sides, pytest_args)
        else:
            # rounds stop early on the joules' pairs alone: judging SCI, every test gets them all
            limit = args.max_regression / 100 if getattr(args, "judge", "joules") == "joules" else 0.0
            turns, paths = run_sides(workspace, sides, pytest_args, limit)
        files = {name: load_results(path) for name, path in paths.items()}
        failures = failed_tests(files["base"], files["head"])
        if failures:
            keep_logs(workspace, sides, args.json)
        rule, verdicts = judge_sides(args, pytest_args, files["base"].tests, files["head"].tests)
        profiled = (profile_regressions(workspace, sides, pytest_args, verdicts, progress) if args.profile
                    else ([], []))
    except TurnsError as exc:
        raise InputError(str(exc)) from None
    except KeyboardInterrupt:
        progress("interrupted: stopping both runs and removing the trees")
        return 130
    finally:
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C, held back while cleaning up
            if workspace is not None:
                workspace.close()
        signal.signal(signal.SIGTERM, restore)
    return _report(args, sides, files, turns, pytest_args, failures, rule, verdicts, profiled)


def failed_tests(base: RunRecord, head: RunRecord) -> list[tuple[str, str, str, str]]:
    """(test, side, outcome, message) for every test that failed or errored on a side, or was
    skipped on one side only (its comparison would be missing): never hidden by ab."""
    found = []
    for nodeid in sorted(set(base.outcomes) | set(head.outcomes)):
        outcomes = {"base": base.outcomes.get(nodeid), "head": head.outcomes.get(nodeid)}
        skipped = {side for side, o in outcomes.items() if o is not None and o[0] == "skipped"}
        for side, outcome in outcomes.items():
            if outcome is None:
                continue
            word, message = outcome
            skipped_here_only = side in skipped and len(skipped) == 1 and None not in outcomes.values()
            if word in ("failed", "error") or skipped_here_only:
                found.append((nodeid, side, word, message))
    return found


def keep_logs(workspace: Workspace, sides: list[Side], json_path: str | None) -> None:
    """Copy both sides' pytest logs out of the workspace (it is removed): next to ``--json``,
    else into the current directory."""
    stem = json_path[: -len(".json")] if json_path and json_path.endswith(".json") else json_path
    for side in sides:
        source = os.path.join(workspace.root, f"{side.name}.log")
        target = f"{stem}.{side.name}.log" if stem else f"pytest-energy-ab-{side.name}.log"
        with contextlib.suppress(OSError):
            shutil.copyfile(source, target)
            progress(f"{side.describe()}: pytest's log kept in {target}")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _checkout(
    workspace: Workspace, args: argparse.Namespace, base: str, head: str | None, prefix: str,
) -> list[Side]:
    roots = {
        "base": workspace.checkout("base", base),
        "head": workspace.checkout("head", head) if head else workspace.copy_working_tree("head"),
    }
    env = {**os.environ, SOURCE_ENV: workspace.repo}
    revisions = {"base": Revision(args.base, base), "head": Revision(args.head or "working tree", head)}
    sides = [
        Side(name, revisions[name], root, os.path.join(root, prefix), sys.executable, env)
        for name, root in roots.items()
    ]
    for side in sides:
        if not os.path.isdir(side.cwd):
            raise InputError(f"ab was started in {prefix.rstrip('/')}, which {side.describe()} does "
                             "not have; start it from the repository's top or a directory both sides have")
    return sides


def _report(
    args: argparse.Namespace, sides: list[Side], files: dict[str, RunRecord], turns: Turns,
    pytest_args: list[str], failures: list[tuple[str, str, str, str]], rule: Rule, verdicts: AbResult,
    profiled: Profiled,
) -> int:
    base, head = files["base"], files["head"]
    if base.meter_label != head.meter_label:
        raise InputError(f"base was measured with {base.meter_label} and head with {head.meter_label}; "
                         "give both the same --energy-meter")
    record = AbRecord(
        base=sides[0].revision, head=sides[1].revision, meter=head.meter_label,
        comparisons=verdicts.comparisons, pairs=verdicts.pairs, new=verdicts.new, removed=verdicts.removed,
        machine=head.machine,
        settings={**head.settings, "max_regression": rule.max_regression, "alpha": rule.alpha,
                  "tolerance": rule.tolerance, "judge": getattr(args, "judge", "joules"),
                  "prepare": args.prepare, "pytest_args": pytest_args},
        turns=[list(entry) for entry in turns.log], failures=failures, profile_diffs=profiled[0],
    )
    columns = shutil.get_terminal_size().columns
    top, width = table_size(len(record.comparisons), args.top, args.verbose, columns)
    print(comparison_table(record.comparisons, ("base", "head"), top, width))
    regressions = [c for c in record.comparisons if c.verdict == REGRESSION]
    for regression in regressions:
        print(regression_line(regression))
    for line in [*map(profile_diff_lines, profiled[0]), *(f"energy: {p}" for p in profiled[1])]:
        print(line)
    for nodeid, side, word, message in failures:
        print(f"test {word} on {side}: {nodeid}{f': {message}' if message else ''}")
    failed = f", {len(failures)} test failures" if failures else ""
    outcome = ("FAILED" if regressions or failures else "passed") + (
        " (judged on SCI)" if getattr(args, "judge", "joules") == "sci" else "")
    print(f"energy ab {outcome}: {verdict_counts(record.comparisons)}{failed} "
          f"({sides[0].describe()} -> {sides[1].describe()}, {record.meter})")
    if args.json:
        save_ab(args.json, record)
    summary = ab_markdown(record.comparisons, [s.describe() for s in sides], record.meter, failures)
    summary += profile_markdown(record.profile_diffs)
    for target, mode in markdown_outputs(args.markdown):
        write_markdown(target, mode, summary)
    return TESTS_FAILED if failures else 1 if regressions else 0
