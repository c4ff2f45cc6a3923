"""The baseline gate on a sampled meter, as a pull-request check meets it: a suite of 200
generated tests (1 ms to 100 ms of CPU work each, the estimate meter, real calls only:
plain ``pytest --energy``), saved with the machine idle and compared with it loaded
(``--busy`` processes spinning), so that every figure drifts between the two.

Printed, after 1 and after 3 saved runs, for today's rule (the gate at ``--old-rev``), the
drift-aware one (this tree), and the same with its rechecks (``--energy-recheck``: a flagged
test is measured again in fresh calls right after the run):
- runs with any false alarm among ``--runs`` compares of the unchanged suite (target 0);
- per compare of the suite with 5 tests made 3x heavier: how many of the 5 are flagged
  (target at least 4 of 5 in 9 of 10 runs), and anything else flagged with them.

Each compare is a live ``pytest --energy --energy-compare`` run (the third column); the
first two judge its results file offline, so every rule sees the same figures.

Also printed: how many tests the live gate rechecked, and how many of them it took back.

    python bench/gate_quality.py [--runs 10] [--busy 2] [--old-rev e147a90]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = 200
HEAVIER = (7, 41, 88, 133, 179)  # made 3x heavier in the changed suite

SUITE = '''
import os

import pytest

HEAVIER = {int(i) for i in os.environ.get("HEAVIER", "").split(",") if i}
LOOPS = %r


def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


@pytest.mark.parametrize("i", range(len(LOOPS)))
def test_generated(i):
    assert spin(LOOPS[i] * (3 if i in HEAVIER else 1)) >= 0
'''

#: Judges a results file against a baseline with whichever gate the tree on sys.path has.
JUDGE = '''
import json, sys
from pytest_energy.judge.rules import Rule
from pytest_energy.store import baseline as store
from pytest_energy.store.documents import load_results
try:
    from pytest_energy.judge.suite import judge_run
    def verdicts(*args):
        return judge_run(*args).comparisons
except ImportError:
    from pytest_energy.judge.rules import judge_run as verdicts
if sys.argv[3] == "old":  # results files now record when each call started: older code reads them without
    data = json.load(open(sys.argv[2]))
    data.pop("comparisons", None)
    for test in data["tests"]:
        (test.get("call") or {}).pop("started", None)
    json.dump(data, open(sys.argv[2] + ".old", "w"))
    sys.argv[2] += ".old"
base, results = store.load(sys.argv[1]), load_results(sys.argv[2])
found = verdicts(results.tests, base.tests, base.files, Rule())
print(json.dumps([c.nodeid for c in found if c.verdict.value == "regression"]))
'''


def loops_per_ms() -> float:
    """Iterations of the spin loop per millisecond on this machine, now."""
    started = time.process_time()
    n = 200_000
    total = 0
    for i in range(n):
        total += i * i
    return n / max((time.process_time() - started) * 1000, 1e-6)


@contextmanager
def busy(count: int):
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def pytest_run(suite: Path, *args: str, heavier: bool = False) -> None:
    env = {**os.environ, "HEAVIER": ",".join(map(str, HEAVIER)) if heavier else ""}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
               "--energy", "--energy-meter=estimate", *args]
    done = subprocess.run(command, cwd=suite, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"pytest failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")


def compare_live(suite: Path, baseline: Path, results: Path, heavier: bool) -> tuple[list[str], int, int]:
    """The gate as a pull request runs it (this tree, rechecks included): what it flagged,
    and how many tests it rechecked and took back."""
    pytest_run(suite, "--energy-compare", f"--energy-baseline={baseline}", f"--energy-json={results}",
               heavier=heavier)
    comparisons = json.loads(results.read_text())["comparisons"]
    rechecked = [c for c in comparisons if c.get("recheck_calls")]
    return ([c["nodeid"] for c in comparisons if c["verdict"] == "regression"], len(rechecked),
            sum(c["verdict"] != "regression" for c in rechecked))


def judge(tree: Path, baseline: Path, results: Path) -> list[str]:
    command = [sys.executable, "-c", JUDGE, str(baseline), str(results), "new" if tree == ROOT else "old"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tree)
    if done.returncode:
        sys.exit(f"judging with {tree} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def old_tree(rev: str, where: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(where), rev],
                   check=True)
    return where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="compares of each kind (default 10)")
    parser.add_argument("--busy", type=int, default=2, help="busy processes while comparing (default 2)")
    parser.add_argument("--old-rev", default="e147a90", help="the commit whose gate is 'today's rule'")
    parser.add_argument("--keep", action="store_true", help="keep the suite, baselines and results")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="gate-quality-"))
    old = old_tree(args.old_rev, scratch / "old")
    started = time.perf_counter()
    try:
        rate = loops_per_ms()
        rng = random.Random(0)
        loops = [int(rate * 10 ** rng.uniform(0, 2)) for _ in range(TESTS)]  # 1 ms .. 100 ms
        suite = scratch / "suite"
        suite.mkdir()
        (suite / "test_generated.py").write_text(SUITE % (loops,))
        b3 = scratch / "b3.json"
        for i in range(3):  # saved with the machine idle
            pytest_run(suite, "--energy-save", f"--energy-baseline={b3}")
            if i == 0:
                shutil.copy(b3, scratch / "b1.json")
        baselines = {"after 1 saved run": scratch / "b1.json", "after 3 saved runs": b3}
        trees = {"today's rule": old, "drift-aware": ROOT, "+ recheck": None}
        false_runs = {(b, t): 0 for b in baselines for t in trees}
        found: dict[tuple[str, str], list[tuple[int, int]]] = {(b, t): [] for b in baselines for t in trees}
        heavy_ids = {f"test_generated.py::test_generated[{i}]" for i in HEAVIER}
        rechecks = {b: [0, 0] for b in baselines}  # tests rechecked, taken back
        with busy(args.busy):
            for run in range(args.runs):
                for heavier in (False, True):
                    for b, path in baselines.items():
                        results = scratch / f"r{run}{'h' if heavier else 'u'}-{path.stem}.json"
                        live, rechecked, taken_back = compare_live(suite, path, results, heavier)
                        rechecks[b][0] += rechecked
                        rechecks[b][1] += taken_back
                        for t, tree in trees.items():  # offline, on the same figures, without rechecks
                            every = live if tree is None else judge(tree, path, results)
                            flagged = [n for n in every if "(file total)" not in n]
                            if heavier:
                                hits = len(heavy_ids & set(flagged))
                                found[(b, t)].append((hits, len(set(flagged) - heavy_ids)))
                            elif every:
                                false_runs[(b, t)] += 1
                print(f"  compare {run + 1}/{args.runs} done", file=sys.stderr, flush=True)
        print(f"gate quality: {TESTS} tests of 1-100 ms (estimate meter, real calls), saved idle, compared "
              f"with {args.busy} busy processes; {time.perf_counter() - started:.0f} s")
        for b in baselines:
            print(f"\n{b}:")
            print(f"  {'':44s}" + "".join(f"{t:>15s}" for t in trees))
            row = [f"{false_runs[(b, t)]}/{args.runs}" for t in trees]
            print(f"  {'runs with a false alarm (unchanged code)':44s}" + "".join(f"{r:>15s}" for r in row))
            row = [f"{sum(h >= 4 for h, _ in found[(b, t)])}/{args.runs}" for t in trees]
            print(f"  {'runs finding >= 4 of the 5 heavier tests':44s}" + "".join(f"{r:>15s}" for r in row))
            for t in trees:  # one line each: ten runs do not fit a column
                print(f"  {t}: found per run {' '.join(str(h) for h, _ in found[(b, t)])}; other tests "
                      f"flagged with them {' '.join(str(o) for _, o in found[(b, t)])}")
            print(f"  rechecks: {rechecks[b][0]} tests rechecked in {2 * args.runs} compares, "
                  f"{rechecks[b][1]} taken back")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
        if args.keep:
            print(f"kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
