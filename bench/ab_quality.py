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

    python bench/ab_quality.py [--trials 20]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
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
