"""How well ``--energy-profile`` splits a test's joules, and what the sampler costs.

1. Shares: a test calls three functions whose work is 1:2:3 (the same loop, 10k, 20k and
   30k iterations). ``pytest --energy --energy-profile=1`` runs the test ``--trials`` times,
   and each trial's shares from the JSON are compared with the truth of that same run: the
   test notes the thread CPU time of each of its three calls, in every call (the measured
   one and the profiled re-runs), and writes the sums at exit (target: within +-0.05 in at
   least 9 of 10 trials). The same truth measured here, in this process, is printed too.
2. Overhead, side by side: blocks of calls of the same test function with no profiler,
   under the sampler (its default interval, as for short tests), under cProfile, and with
   no profiler again (the noise floor), interleaved (A B C D, then the four in another
   order, ...) so the machine's drift hits all alike; process CPU seconds per call (the
   sampler's own thread included); each block's ratio to the geometric mean of its round's
   two plain blocks. This is done in ``--processes`` fresh processes: within one process
   the ratio is steady (a tight CI), but it moves by a few percent from one process to the
   next (memory layout: the same code path through another function runs 1-2% faster or
   slower), so the figure is the median over the processes of their median ratios, with
   their range (target for the sampler: at most 1.03x).
3. cProfile's own shares of the three functions, for comparison.

With ``--work-scale 0.1`` the overhead is measured on calls ten times shorter (about
0.5 ms: the sampler's cost per call then shows), with ``--calls`` to match (300).

    python bench/profile_quality.py [--trials 10] [--processes 5] [--blocks 60] [--calls 30]
                                    [--work-scale 1]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_energy.measurement.profile import Sampler, frame_namer
from pytest_energy.stats import bootstrap_median_ci

WORK = {"parse": 10_000, "check": 20_000, "render": 30_000}


def parse() -> int:
    s = 0
    for i in range(WORK["parse"]):
        s += i * i % 7
    return s


def check() -> int:
    s = 0
    for i in range(WORK["check"]):
        s += i * i % 7
    return s


def render() -> int:
    s = 0
    for i in range(WORK["render"]):
        s += i * i % 7
    return s


def test_pipeline() -> None:
    parse()
    check()
    render()


FUNCTIONS = {"parse": parse, "check": check, "render": render}
#: The test: the three functions, each call's thread CPU time noted (about a microsecond
#: against milliseconds), the sums written to $TRUTH_FILE at exit.
TEST_FILE = "\n\n".join(
    ["import atexit, json, os, time"]
    + [f"def {name}():\n    s = 0\n    for i in range({n}):\n        s += i * i % 7\n    return s"
       for name, n in WORK.items()]
    + ["SPENT = dict.fromkeys(('parse', 'check', 'render'), 0.0)",
       "def test_pipeline():\n    t0 = time.thread_time()\n    parse()\n    t1 = time.thread_time()\n"
       "    check()\n    t2 = time.thread_time()\n    render()\n    t3 = time.thread_time()\n"
       "    SPENT['parse'] += t1 - t0\n    SPENT['check'] += t2 - t1\n    SPENT['render'] += t3 - t2\n",
       "atexit.register(lambda: open(os.environ['TRUTH_FILE'], 'w').write(json.dumps(SPENT)))\n"]
)


def true_shares(calls: int = 200) -> dict[str, float]:
    """Each function's thread CPU time inside the pipeline, as the test runs them (one
    clock reading between calls, about a microsecond against milliseconds)."""
    spent = dict.fromkeys(FUNCTIONS, 0.0)
    for _ in range(calls):
        for name, fn in FUNCTIONS.items():
            start = time.thread_time()
            fn()
            spent[name] += time.thread_time() - start
    total = sum(spent.values())
    return {name: value / total for name, value in spent.items()}


def profiled_shares(directory: Path) -> tuple[dict[str, float], int, dict[str, float]]:
    """One ``pytest --energy --energy-profile=1`` run: the three functions' self shares
    (renormalised over them), the sample count, and the run's own true shares."""
    out, truth = directory / "energy.json", directory / "truth.json"
    env = dict(os.environ, PYTEST_ADDOPTS="", TRUTH_FILE=str(truth))
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                    "--energy-profile=1", f"--energy-json={out}", "test_pipeline.py"],
                   check=True, stdout=subprocess.DEVNULL, env=env, cwd=directory)
    [profile] = json.loads(out.read_text())["profiles"]
    shares = {f["function"]: f["self_share"] for f in profile["functions"] if f["function"] in FUNCTIONS}
    total = sum(shares.values())
    spent = json.loads(truth.read_text())
    return ({name: shares.get(name, 0.0) / total for name in FUNCTIONS}, profile["samples"],
            {name: spent[name] / sum(spent.values()) for name in FUNCTIONS})


def overhead(blocks: int, calls: int) -> dict[str, list[float]]:
    """Process CPU seconds per call: plain, sampled, cProfile, interleaved."""
    sampler = Sampler(frame_namer(str(Path(__file__).parent)))
    sampler.calibrate()
    profiler = cProfile.Profile()

    def plain() -> None:
        for _ in range(calls):
            test_pipeline()

    def sampled() -> None:
        sampler.start()
        try:
            for _ in range(calls):
                sampler.run(test_pipeline)
        finally:
            sampler.stop()

    def profiled() -> None:
        profiler.enable()
        try:
            plain()
        finally:
            profiler.disable()

    variants = {"no profiler": plain, "sampler (--energy-profile)": sampled, "cProfile": profiled,
                "no profiler again": plain}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants.items())
    shuffle = random.Random(19).shuffle
    for _ in range(blocks):
        shuffle(order)  # no variant always right after another one
        for name, run in order:
            start = time.process_time()
            run()
            seconds[name].append((time.process_time() - start) / calls)
    sampler.close()
    stats = pstats.Stats(profiler)
    own = {name: stats.stats[key][2] for key in stats.stats for name in FUNCTIONS  # type: ignore[attr-defined]
           if key[2] == name and key[0] == __file__}
    total = sum(own.values())
    seconds["_cprofile_shares"] = [own.get(name, 0.0) / total for name in FUNCTIONS]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--processes", type=int, default=5, help="fresh processes for the overhead")
    parser.add_argument("--blocks", type=int, default=60, help="rounds of blocks per process")
    parser.add_argument("--calls", type=int, default=30, help="calls per block")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--work-scale", type=float, default=1.0, help="the overhead's calls' work, times")
    args = parser.parse_args()
    here = true_shares()
    shares = ", ".join(f"{n} {s:.3f}" for n, s in here.items())
    print(f"three functions of work 1:2:3; true CPU shares here {shares}")
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        (directory / "test_pipeline.py").write_text(TEST_FILE)
        trials = [profiled_shares(directory) for _ in range(args.trials)]
    print(f"\n--energy-profile shares, {args.trials} runs of pytest (sampled re-runs; truth: the run's own):")
    names = "  ".join(f"{n:>7}" for n in FUNCTIONS)
    print(f"  {'run':>4}  {'samples':>7}  {names}  worst error  truth")
    within = 0
    for i, (shares, samples, truth) in enumerate(trials, 1):
        worst = max(abs(shares[n] - truth[n]) for n in FUNCTIONS)
        within += worst <= args.tolerance
        row = "  ".join(f"{shares[n]:7.3f}" for n in FUNCTIONS)
        true_row = " ".join(f"{truth[n]:.3f}" for n in FUNCTIONS)
        print(f"  {i:>4}  {samples:>7}  {row}  {worst:+11.3f}  {true_row}")
    print(f"  within +-{args.tolerance:g} of the truth in {within} of {args.trials} runs (target: 9 of 10)")
    print(f"\noverhead, in {args.processes} processes, each {args.blocks} interleaved rounds of one block of "
          f"{args.calls} calls per variant (process CPU per call; a block's ratio is to the geometric mean "
          "of its round's two plain blocks; per process the median ratio with its 95% bootstrap CI; the "
          "plain blocks' ratio to each other is the noise floor):")
    runs = [overhead_in_a_process(args.blocks, args.calls, args.work_scale) for _ in range(args.processes)]
    cprofile_shares = [run.pop("_cprofile_shares") for run in runs][-1]
    for name in runs[0]:
        if name == "no profiler":
            continue
        medians = []
        label = "no profiler again (noise)" if name == "no profiler again" else name
        print(f"  {label}:")
        for i, run in enumerate(runs, 1):
            ratios = block_ratios(run, name)
            low, high = bootstrap_median_ci(ratios)
            medians.append(statistics.median(ratios))
            print(f"    process {i}: {medians[-1]:5.3f}x (95% CI {low:.3f}-{high:.3f}), "
                  f"{statistics.median(run[name]) * 1e3:.3f} ms per call")
        print(f"    median over the processes {statistics.median(medians):5.3f}x "
              f"(range {min(medians):.3f}-{max(medians):.3f})")
    print("\ncProfile's shares (self time): " + ", ".join(
        f"{n} {s:.3f}" for n, s in zip(FUNCTIONS, cprofile_shares, strict=True)))


def block_ratios(seconds: dict[str, list[float]], name: str) -> list[float]:
    """Each block of ``name`` against the geometric mean of its round's two plain blocks
    (the second plain block against the first for ``no profiler again``)."""
    first, again = seconds["no profiler"], seconds["no profiler again"]
    if name == "no profiler again":
        return [b / a for a, b in zip(first, again, strict=True)]
    return [v / math.sqrt(a * b) for v, a, b in zip(seconds[name], first, again, strict=True)]


def overhead_in_a_process(blocks: int, calls: int, work_scale: float = 1.0) -> dict[str, list[float]]:
    """:func:`overhead` in a fresh Python process (its own memory layout), the three
    functions' work times ``work_scale``."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import profile_quality as bench; "
            "bench.WORK.update((k, round(v * float(sys.argv[4]))) for k, v in bench.WORK.items()); "
            "print(json.dumps(bench.overhead(int(sys.argv[2]), int(sys.argv[3]))))")
    done = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(blocks), str(calls),
                           str(work_scale)], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


if __name__ == "__main__":
    main()
