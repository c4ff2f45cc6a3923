"""How deterministic is ``--energy-meter=simulated`` on this machine, and what does that buy?

Printed in one run, while ``--busy`` processes (default 2) load the cores:

1. **Spread.** Five workloads (a pure-Python loop, a sort of 100k floats, a JSON round
   trip, a dict and set of 50k keys, a numpy matmul when numpy is installed), each in
   ``--runs`` fresh pytest processes: the spread ((max - min) / median) of the simulated
   meter's modelled joules, next to the estimate meter's on runs made in turns with them.
   Target: at most 0.01% for simulated.
2. **Verdicts after one stored run.** One test's work made 0%, +1%, +2%, +5% heavier (two
   other tests unchanged): ``--trials`` compare runs per change against one stored run of
   the base, for the simulated gate (1% tolerance) and the estimate gate (its
   single-value rule), and ``--ab-trials`` runs of ``pytest-energy ab`` (estimate, 20
   paired rounds). A flag is a regression reported for the changed test. Targets for
   simulated: 0 flags unchanged, at least 19/20 at +2%, 20/20 at +5%; and no flag on the
   two unchanged tests.
3. **Cost.** Wall time of one run of the three tests: plain pytest, ``--energy``
   (estimate), ``--energy --energy-meter=simulated``, and ab with each meter.

    python bench/simulated_quality.py [--runs 5] [--trials 20] [--ab-trials 5] [--busy 2]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SPREAD_TESTS = '''
import json, random

FLOATS = [random.Random(1).random() for _ in range(100_000)]
RECORDS = [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(10_000)]


def test_loop():
    total = 0
    for i in range(200_000):
        total += i & 7


def test_sort():
    sorted(FLOATS)


def test_json():
    json.loads(json.dumps(RECORDS))


def test_dict_set():
    table = {f"k{i}": i for i in range(50_000)}
    assert len(set(table.values())) == 50_000
'''
NUMPY_TEST = '''

def test_matmul():
    import numpy
    a = numpy.arange(40_000, dtype=float).reshape(200, 200)
    a @ a
'''
GATE_TESTS = '''
N = int(300_000 * {factor})


def test_changed():
    total = 0
    for i in range(N):
        total += i & 7


def test_same_loop():
    total = 0
    for i in range(200_000):
        total += i & 3


def test_same_sort():
    sorted(range(50_000, 0, -1))
'''
CHANGES = (1.0, 1.01, 1.02, 1.05)
COMMON = ("-q", "-p", "no:cacheprovider", "-p", "no:randomly")


@contextlib.contextmanager
def busy(count: int) -> Iterator[None]:
    """``count`` processes spinning on the CPU while the block runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def pytest(tree: Path, *args: str, outside: Path | None = None) -> tuple[int, float]:
    """Exit status and wall seconds of a pytest run in ``tree`` (its temporary files
    outside it, so that no run adds a file the next one would see)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for arg in args:  # every run starts from the same files (an output left by the last run
        if arg.startswith("--energy-json="):  # takes other code paths at start-up: see docs/simulated.md)
            Path(arg.split("=", 1)[1]).unlink(missing_ok=True)
    extra = [f"--basetemp={outside / 'tmp'}"] if outside else []
    started = time.perf_counter()
    command = [sys.executable, "-m", "pytest", *COMMON, *extra, *args]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"pytest {' '.join(args)} failed ({done.returncode}): "
                         f"{(done.stdout + done.stderr).strip().splitlines()[-1:]}")
    return done.returncode, time.perf_counter() - started


def joules(path: Path) -> dict[str, float]:
    return {t["nodeid"].split("::")[-1]: t["joules"] for t in json.loads(path.read_text())["tests"]}


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values) if values else float("nan")


def part_spread(root: Path, runs: int) -> None:
    tree = root / "spread"
    tree.mkdir()
    source = SPREAD_TESTS + (NUMPY_TEST if importlib.util.find_spec("numpy") else "")
    (tree / "test_workloads.py").write_text(source)
    figures: dict[str, dict[str, list[float]]] = {"simulated": {}, "estimate": {}}
    for _ in range(runs):  # in turns, so that the machine's drift hits both meters alike
        for meter in figures:
            out = root / f"{meter}.json"
            pytest(tree, "--energy", f"--energy-meter={meter}", f"--energy-json={out}", outside=root)
            for name, value in joules(out).items():
                figures[meter].setdefault(name, []).append(value)
    print(f"1. Spread of modelled joules over {runs} fresh processes ((max - min) / median)\n")
    print(f"{'workload':14s}{'simulated J':>14s}{'simulated':>12s}{'estimate':>12s}"
          "   target: simulated <= 0.01%")
    for name in figures["simulated"]:
        sim, est = figures["simulated"][name], figures["estimate"][name]
        print(f"{name:14s}{statistics.median(sim):>14.4g}{spread(sim) * 100:>11.4f}%"
              f"{spread(est) * 100:>11.1f}%")
    if not importlib.util.find_spec("numpy"):
        print("(numpy is not installed: no matmul workload)")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def part_verdicts(root: Path, trials: int, ab_trials: int) -> None:
    trees = {}
    for index, factor in enumerate(CHANGES):
        trees[factor] = root / f"tree-{index}"  # names of one length: the paths differ in one place
        trees[factor].mkdir()
        text = GATE_TESTS.format(factor=factor)
        (trees[factor] / "test_gate.py").write_text(text)
    base = trees[1.0]
    flags: dict[str, dict[float, list[int]]] = {"simulated": {}, "estimate": {}}
    others: dict[str, int] = {"simulated": 0, "estimate": 0}
    for meter in flags:
        baseline = root / f"baseline-{meter}.json"
        pytest(base, "--energy", f"--energy-meter={meter}", "--energy-save", f"--energy-baseline={baseline}",
               outside=root)
    for _ in range(trials):
        for factor in CHANGES:
            for meter in flags:
                baseline, out = root / f"baseline-{meter}.json", root / f"{meter}-compare.json"
                pytest(trees[factor], "--energy", f"--energy-meter={meter}", "--energy-compare",
                       f"--energy-baseline={baseline}", f"--energy-json={out}", outside=root)
                verdicts = {c["nodeid"].split("::")[-1]: c["verdict"]
                            for c in json.loads(out.read_text())["comparisons"]}
                flags[meter].setdefault(factor, []).append(verdicts.get("test_changed") == "regression")
                others[meter] += sum(verdicts.get(name) == "regression" for name in ("test_same_loop",
                                                                                   "test_same_sort"))
    ab = ab_flags(root, ab_trials)
    print(f"\n2. Flags on the changed test after one stored run ({trials} trials; ab: {ab_trials})\n")
    print(f"{'change':>10s}{'simulated':>12s}{'estimate gate':>15s}{'ab (estimate)':>15s}   simulated target")
    targets = {1.0: "0", 1.01: "", 1.02: f">= {trials - 1}", 1.05: f"{trials}"}
    for factor in CHANGES:
        change = "unchanged" if factor == 1.0 else f"+{(factor - 1) * 100:.0f}%"
        sim, est = sum(flags["simulated"][factor]), sum(flags["estimate"][factor])
        print(f"{change:>10s}{f'{sim}/{trials}':>12s}{f'{est}/{trials}':>15s}"
              f"{f'{ab[factor]}/{ab_trials}':>15s}   {targets[factor]}")
    print(f"regressions reported on the two unchanged tests: simulated {others['simulated']}, "
          f"estimate {others['estimate']} (of {2 * trials * len(CHANGES)} verdicts each)")


def make_repo(root: Path, factor: float) -> Path:
    repo = root / f"repo-{factor}"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")
    (repo / "test_gate.py").write_text(GATE_TESTS.format(factor=1.0))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    (repo / "test_gate.py").write_text(GATE_TESTS.format(factor=factor) + "# head\n")
    git(repo, "commit", "-qam", "head")
    return repo


def ab(repo: Path, *pytest_args: str) -> tuple[dict[str, str], float]:
    out = repo.parent / f"{repo.name}-ab.json"
    started = time.perf_counter()
    command = [sys.executable, "-m", "pytest_energy", "ab", "HEAD~1", "HEAD", "--json", str(out),
               "--", *COMMON, *pytest_args]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"ab failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    verdicts = {c["nodeid"].split("::")[-1]: c["verdict"] for c in json.loads(out.read_text())["comparisons"]}
    return verdicts, time.perf_counter() - started


def ab_flags(root: Path, trials: int) -> dict[float, int]:
    repos = {factor: make_repo(root, factor) for factor in CHANGES}
    counts = dict.fromkeys(CHANGES, 0)
    for _ in range(trials):
        for factor, repo in repos.items():
            counts[factor] += ab(repo)[0].get("test_changed") == "regression"
    return counts


def part_cost(root: Path) -> None:
    tree, repo = root / "tree-0", root / "repo-1.05"
    runs = {
        "plain pytest": lambda: pytest(tree, outside=root)[1],
        "--energy (estimate)": lambda: pytest(tree, "--energy", outside=root)[1],
        "--energy --energy-meter=simulated": lambda: pytest(tree, "--energy", "--energy-meter=simulated",
                                                            outside=root)[1],
        "ab (estimate, 20 paired rounds)": lambda: ab(repo)[1],
        "ab --energy-meter=simulated": lambda: ab(repo, "--energy-meter=simulated")[1],
    }
    seconds = {name: [] for name in runs}
    for _ in range(2):
        for name, run in runs.items():
            seconds[name].append(run())
    print("\n3. Wall time of the same three tests (median of 2, in turns)\n")
    plain = statistics.median(seconds["plain pytest"])
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"{name:36s}{median:8.1f} s  ({median / plain:5.1f}x plain)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--ab-trials", type=int, default=5)
    parser.add_argument("--busy", type=int, default=2, help="busy processes loading the cores meanwhile")
    args = parser.parse_args()
    print(f"simulated meter quality: {os.cpu_count()} cores, {args.busy} busy processes running\n",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="simulated-quality-") as scratch, busy(args.busy):
        root = Path(scratch)
        part_spread(root, args.runs)
        part_verdicts(root, args.trials, args.ab_trials)
        part_cost(root)


if __name__ == "__main__":
    main()
