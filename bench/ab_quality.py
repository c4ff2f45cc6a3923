"""How good is ``pytest-energy ab`` on this machine? False alarms and detection, next to
the baseline-file gate on the same trials.

For a CPU-bound and a memory-bound test, a git repository with a base commit and one
head commit per change (unchanged, +10%, +25%, +50% work). Each trial runs, for every
change in turn (so that the machine's drift hits all changes alike):

- ``pytest-energy ab base head`` (20 paired rounds per test, the estimate meter here), and
- the baseline-file gate: ``pytest --energy --energy-repeat --energy-compare`` on head,
  against a baseline of 5 runs of base saved when the workload started.

A flag is exit status 1. Targets for ab: at most 1 of 20 false alarms, at least 16 of
20 at +10%, at least 19 of 20 at +25%.

Then a file of 20 tests (1-10 ms each) in which one test changes: ``--file-runs`` ab runs
of the unchanged file (a comment changed; target: at most 1 run of 20 with any false
alarm) and of the file with one test +25% (target: found in at least 19 of 20), with the
wall time per test next to today's ab (the one at ``--old-rev``, 2 runs). Last, the price:
ab on a suite of ``--suite`` tests of 1-10 ms against running that suite twice (target:
at most 5x).

    python bench/ab_quality.py [--trials 20] [--file-runs 20] [--suite 200] [--old-rev e147a90]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHANGES = (1.0, 1.10, 1.25, 1.50)
WORKLOADS = {
    # about 1.5 ms of interpreter work
    "cpu-bound": (
        "N = int(20_000 * {factor})\n\n\n"
        "def test_work():\n    assert sum(i * i for i in range(N)) > 0\n"
    ),
    # copies of a 16 MB buffer: memory bandwidth
    "memory-bound": (
        "BUFFER = bytearray(int(16_000_000 * {factor}))\n\n\n"
        "def test_work():\n    assert len(bytes(BUFFER)) == len(BUFFER)\n"
    ),
}
TARGETS = {1.0: "<= 1", 1.10: ">= 16", 1.25: ">= 19", 1.50: ""}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def make_repo(root: Path, template: str) -> tuple[Path, dict[float, str]]:
    """A repository whose base commit has factor 1 and one branch per change."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")
    (repo / "test_work.py").write_text(template.format(factor=1.0))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "branch", "base")
    heads = {}
    for factor in CHANGES:
        git(repo, "checkout", "-q", "-b", f"change-{factor}", "base")
        text = template.format(factor=factor) + ("# unchanged code, changed file\n" if factor == 1.0 else "")
        (repo / "test_work.py").write_text(text)
        git(repo, "commit", "-qam", f"x{factor}")
        heads[factor] = f"change-{factor}"
    git(repo, "checkout", "-q", "base")
    return repo, heads


def ab_flags(repo: Path, head: str, out: Path) -> tuple[bool, float | None]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_energy", "ab", "base", head, "--json", str(out), "--", "-q",
         "-p", "no:cacheprovider"],
        cwd=repo, capture_output=True, text=True,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"ab failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    ratio = None
    for c in json.loads(out.read_text())["comparisons"]:
        if c["nodeid"] == "test_work.py::test_work" and c["change"] is not None:
            ratio = 1 + c["change"]
    return done.returncode == 1, ratio


def gate_flags(tree: Path, baseline: Path, save: bool = False) -> bool:
    option = "--energy-save" if save else "--energy-compare"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--energy", "--energy-repeat",
         option, f"--energy-baseline={baseline}"],
        cwd=tree, capture_output=True, text=True,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"pytest failed ({done.returncode}): {done.stdout.strip().splitlines()[-1:]}")
    return done.returncode == 1


def run_workload(name: str, template: str, trials: int) -> dict[float, tuple[int, int, list[float]]]:
    with tempfile.TemporaryDirectory(prefix="ab-quality-") as scratch:
        root = Path(scratch)
        repo, heads = make_repo(root, template)
        trees = {}
        for factor, branch in heads.items():
            trees[factor] = root / f"tree-{factor}"
            git(repo, "worktree", "add", "-q", "--detach", str(trees[factor]), branch)
        baseline = root / "baseline.json"
        base_tree = root / "tree-base"
        git(repo, "worktree", "add", "-q", "--detach", str(base_tree), "base")
        for _ in range(5):
            gate_flags(base_tree, baseline, save=True)
        counts = {factor: [0, 0, []] for factor in CHANGES}
        started = time.time()
        for trial in range(trials):
            for factor in CHANGES:
                flagged, ratio = ab_flags(repo, heads[factor], root / "ab.json")
                counts[factor][0] += flagged
                if ratio is not None:
                    counts[factor][2].append(ratio)
                counts[factor][1] += gate_flags(trees[factor], baseline)
            print(f"  {name}: trial {trial + 1}/{trials} ({time.time() - started:.0f} s)", file=sys.stderr)
        return {factor: (ab, gate, ratios) for factor, (ab, gate, ratios) in counts.items()}


#: A file of tests of 1-10 ms each; CHANGED is made 25% heavier in the changed head.
FILE_TEMPLATE = """
import pytest

LOOPS = {loops!r}
CHANGED = {changed}


def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


@pytest.mark.parametrize("i", range(len(LOOPS)))
def test_case(i):
    assert spin(int(LOOPS[i] * (1.25 if i == CHANGED else 1))) >= 0
"""


def file_repo(root: Path, tests: int) -> Path:
    """Branches base, unchanged (a comment) and changed (one test +25%) of a generated file."""
    import random

    started = time.process_time()
    total = 0
    for i in range(200_000):
        total += i * i
    per_ms = 200_000 / max((time.process_time() - started) * 1000, 1e-6)  # spin iterations per ms
    rng = random.Random(1)
    loops = [int(per_ms * rng.uniform(1, 10)) for _ in range(tests)]
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")
    (repo / "test_file.py").write_text(FILE_TEMPLATE.format(loops=loops, changed=-1))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "branch", "base")
    for branch, text in (("unchanged", FILE_TEMPLATE.format(loops=loops, changed=-1) + "# a comment\n"),
                         ("changed", FILE_TEMPLATE.format(loops=loops, changed=tests // 2))):
        git(repo, "checkout", "-q", "-b", branch, "base")
        (repo / "test_file.py").write_text(text)
        git(repo, "commit", "-qam", branch)
    git(repo, "checkout", "-q", "base")
    return repo


def ab_run(repo: Path, head: str, out: Path, pythonpath: str | None = None) -> tuple[int, list[str], float]:
    """(exit status, regressions, wall seconds) of one ab run."""
    env = {**os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest_energy", "ab", "base", head, "--json", str(out), "--", "-q",
         "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=repo, capture_output=True, text=True, env=env,
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"ab failed ({done.returncode}): {done.stderr.strip().splitlines()[-3:]}")
    comparisons = json.loads(out.read_text())["comparisons"]
    regressions = [c["nodeid"] for c in comparisons if c["verdict"] == "regression"]
    return done.returncode, regressions, seconds


ROOT = Path(__file__).resolve().parent.parent


def old_tree(rev: str, where: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(where), rev],
                   check=True)
    return where


def one_test_changes(runs: int, old_rev: str, tests: int = 20) -> None:
    with tempfile.TemporaryDirectory(prefix="ab-file-") as scratch:
        root = Path(scratch)
        repo = file_repo(root, tests)
        changed_id = f"test_file.py::test_case[{tests // 2}]"
        false_runs, found, others, seconds = 0, 0, 0, []
        for run in range(runs):
            status, regressions, wall = ab_run(repo, "unchanged", root / "ab.json")
            false_runs += bool(regressions) or status != 0
            seconds.append(wall)
            status, regressions, wall = ab_run(repo, "changed", root / "ab.json")
            found += changed_id in regressions
            others += len([r for r in regressions if r != changed_id and "(" not in r])
            seconds.append(wall)
            print(f"  one test changes: run {run + 1}/{runs}", file=sys.stderr, flush=True)
        old = old_tree(old_rev, root / "old")
        try:
            old_seconds = [ab_run(repo, head, root / "ab.json", str(old))[2]
                           for head in ("unchanged", "changed")]
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
        print(f"\na file of {tests} tests (1-10 ms), one of them +25%: {runs} runs each")
        print(f"  runs with any false alarm, unchanged file      {false_runs}/{runs}   (target <= 1 of 20)")
        print(f"  runs finding the changed test                  {found}/{runs}   (target >= 19 of 20)")
        print(f"  other tests flagged beside it, in all runs     {others}")
        print(f"  wall time per test: ab now {statistics.median(seconds) / tests:.2f} s, "
              f"today's ({old_rev}) {statistics.median(old_seconds) / tests:.2f} s")


def price(tests: int) -> None:
    """ab on a suite of ``tests`` tests of 1-10 ms, against running the suite twice."""
    with tempfile.TemporaryDirectory(prefix="ab-price-") as scratch:
        root = Path(scratch)
        repo = file_repo(root, tests)
        started = time.perf_counter()
        for _ in range(2):
            subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=repo,
                           capture_output=True, check=True)
        twice = time.perf_counter() - started
        _, _, ab_seconds = ab_run(repo, "unchanged", root / "ab.json")
        print(f"\nprice: {tests} tests of 1-10 ms: pytest twice {twice:.1f} s, ab {ab_seconds:.1f} s "
              f"= {ab_seconds / twice:.1f}x (target <= 5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials of the two workloads (0: skip them)")
    parser.add_argument("--file-runs", type=int, default=20, help="runs of the 20-test file (0: skip)")
    parser.add_argument("--suite", type=int, default=200, help="tests of the priced suite (0: skip)")
    parser.add_argument("--old-rev", default="e147a90", help="the commit whose ab is 'today's'")
    args = parser.parse_args()
    if args.file_runs:
        one_test_changes(args.file_runs, args.old_rev)
    if args.suite:
        price(args.suite)
    if not args.trials:
        return
    print(f"pytest-energy ab against the baseline-file gate: {args.trials} trials per change, "
          f"{os.cpu_count()} cores, estimate meter\n")
    header = f"{'workload':14s}{'change':>10s}{'ab flags':>10s}{'target':>9s}{'gate flags':>12s}" \
             f"{'ab ratio: median (min-max)':>32s}"
    print(header)
    for name, template in WORKLOADS.items():
        results = run_workload(name, template, args.trials)
        for factor, (ab, gate, ratios) in results.items():
            change = "unchanged" if factor == 1.0 else f"+{(factor - 1) * 100:.0f}%"
            spread = (f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
                      if ratios else "")
            target = TARGETS[factor]
            print(f"{name:14s}{change:>10s}{f'{ab}/{args.trials}':>10s}{target:>9s}"
                  f"{f'{gate}/{args.trials}':>12s}{spread:>32s}", flush=True)


if __name__ == "__main__":
    main()
