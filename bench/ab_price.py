"""What ``pytest-energy ab`` costs: a generated suite of tests of 1-10 ms (two commits of
unchanged code) run with ``pytest`` twice, with ab now and with ab at ``--old-rev``, side
by side in turns (``--repeats`` times; medians), and where ab's time goes.

The breakdown of an ab run (from its JSON and its wall time): before the first test
(worktrees, both pytest processes starting, collecting), the tests (the calls both sides
made: real calls and rounds; the rest: pytest's own work per test, hand-overs between the
processes, the plugin), and after the last test (outputs, verdicts, removing the trees).
Target (issue 16): ab at most 5x the time of running the suite twice.

    python bench/ab_price.py [--tests 200] [--repeats 3] [--old-rev 8b03012]
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ab_quality import ROOT, ab_run, file_repo, old_tree  # noqa: E402


def twice(repo: Path) -> float:
    """Seconds of running the suite with plain pytest twice."""
    started = time.perf_counter()
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=repo,
                       capture_output=True, check=True)
    return time.perf_counter() - started


def timed_ab(repo: Path, out: Path, pythonpath: str | None = None) -> tuple[float, dict[str, float]]:
    """Wall seconds of one ab run on branch ``unchanged``, and where they went."""
    started = time.time()
    _, _, seconds = ab_run(repo, "unchanged", out, pythonpath)
    return seconds, breakdown(json.loads(out.read_text()), started, started + seconds)


def breakdown(data: dict, started: float, ended: float) -> dict[str, float]:
    sides = [test[side] for test in data["tests"] for side in ("base", "head")]
    first = min(s["call"]["started"] for s in sides)
    last = max(s["rounds"][-1]["ended"] if s.get("rounds") else s["call"]["started"] for s in sides)
    calls = sum(s["call"]["seconds"] + sum(r["seconds"] for r in s.get("rounds") or []) for s in sides)
    pairs = [min(len(t[side].get("rounds") or []) for side in ("base", "head")) for t in data["tests"]]
    handovers = sum(1 for entry in data["turns"] if entry[1] == "pass")
    return {"before": first - started, "tests": last - first, "calls": calls, "after": ended - last,
            "pairs": statistics.fmean(pairs), "handovers": handovers / max(len(data["tests"]), 1),
            "histogram": dict(sorted(collections.Counter(pairs).items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200, help="tests in the generated suite")
    parser.add_argument("--repeats", type=int, default=3, help="turns of (twice, ab now, ab old)")
    parser.add_argument("--old-rev", default="8b03012", help="the commit whose ab is 'before' ('' to skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ab-price-") as scratch:
        root = Path(scratch)
        repo = file_repo(root, args.tests)
        old = old_tree(args.old_rev, root / "old") if args.old_rev else None
        runs: dict[str, list[tuple[float, dict[str, float] | None]]] = {"twice": [], "now": [], "old": []}
        try:
            for turn in range(args.repeats):
                runs["twice"].append((twice(repo), None))
                runs["now"].append(timed_ab(repo, root / "now.json"))
                if old is not None:
                    runs["old"].append(timed_ab(repo, root / "old.json", str(old)))
                print(f"  turn {turn + 1}/{args.repeats}: " + ", ".join(
                    f"{name} {values[-1][0]:.1f} s" for name, values in runs.items() if values),
                    file=sys.stderr, flush=True)
        finally:
            if old is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
                               check=False)
    base = statistics.median(s for s, _ in runs["twice"])
    print(f"\nab's price: {args.tests} tests of 1-10 ms, {args.repeats} turns, medians")
    print(f"  pytest twice                {base:7.1f} s")
    for name, label in (("now", "ab now"), ("old", f"ab at {args.old_rev}")):
        if not runs[name]:
            continue
        seconds = [s for s, _ in runs[name]]
        ratios = [s / t for (s, _), (t, _) in zip(runs[name], runs["twice"], strict=True)]
        parts = {key: statistics.median(b[key] for _, b in runs[name] if b) for key in
                 ("before", "tests", "calls", "after", "pairs", "handovers")}
        print(f"  {label:26s}  {statistics.median(seconds):7.1f} s = {statistics.median(ratios):.1f}x "
              f"(per turn: {', '.join(f'{r:.1f}x' for r in ratios)}; target <= 5x)")
        print(f"    before the first test {parts['before']:.1f} s; tests {parts['tests']:.1f} s "
              f"(calls {parts['calls']:.1f} s, the rest {parts['tests'] - parts['calls']:.1f} s); "
              f"after the last {parts['after']:.1f} s")
        print(f"    pairs per test {parts['pairs']:.1f} (last run: {runs[name][-1][1]['histogram']}), "
              f"hand-overs per test {parts['handovers']:.1f}")


if __name__ == "__main__":
    main()
