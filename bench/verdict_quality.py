"""How good is the regression gate? False alarms on unchanged code, detection of real ones.

Side by side, on the same samples:
- pytest-energy's verdict (significant, beyond the history's spread, reaching
  --energy-max-regression within its uncertainty; see pytest_energy/verdict.py), and
- pytest-benchmark's style of rule: fail when the median is 10% worse than the last
  saved run's median.

Two sources of samples:
1. simulated meters of known noise: per-round CV 3% and a run-to-run drift of up to 5%,
   drawn either uniformly in +-5% or normally with 3 sigma = 5% (clipped at 5%);
2. this machine's real estimate meter measuring a CPU loop through the plugin's protocol.

At default settings: 5 rounds per run, a baseline history of 10 runs, 10%, alpha 0.01.

    python bench/verdict_quality.py [--trials 100] [--real-reruns 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Callable

from pytest_energy.judge.rules import REGRESSION, Rule, judge_samples
from pytest_energy.measurement.engine import Engine
from pytest_energy.measurement.meters import MeterOptions, MeterSet, estimate
from pytest_energy.settings import ProtocolSettings

ROUNDS, HISTORY = 5, 10
FACTORS = (1.0, 1.10, 1.25, 1.50)
RULE = Rule()

Run = list[float]


def verdicts(history: list[Run], current: Run) -> tuple[bool, bool]:
    """(pytest-energy flags a regression, the median +10% rule does)."""
    ours = judge_samples("t", current, history, RULE).verdict == REGRESSION
    theirs = statistics.median(current) > 1.10 * statistics.median(history[-1])
    return ours, theirs


def print_table(title: str, counts: dict[float, tuple[int, int]], trials: dict[float, int]) -> None:
    print(title)
    print(f"  {'':28s}{'pytest-energy':>15s}{'median +10% rule':>20s}")
    for factor, (ours, theirs) in counts.items():
        label = "false regressions (unchanged)" if factor == 1.0 else f"+{(factor - 1) * 100:.0f}% detected"
        n = trials[factor]
        print(f"  {label:28s}{f'{ours}/{n}':>15s}{f'{theirs}/{n}':>20s}")
    print()


def simulated(trials: int, drift: Callable[[random.Random], float], title: str, seed: int = 1) -> None:
    rng = random.Random(seed)

    def run(factor: float) -> Run:
        offset = drift(rng)
        return [factor * (1 + offset) * (1 + rng.gauss(0, 0.03)) for _ in range(ROUNDS)]

    counts = {}
    for factor in FACTORS:
        results = [verdicts([run(1.0) for _ in range(HISTORY)], run(factor)) for _ in range(trials)]
        counts[factor] = (sum(r[0] for r in results), sum(r[1] for r in results))
    print_table(title, counts, dict.fromkeys(FACTORS, trials))


def real_estimate(reruns: int) -> None:
    meter = estimate.open_meter(MeterOptions())
    engine = Engine(MeterSet([meter]))
    settings = ProtocolSettings(rounds=ROUNDS, warmup=1)

    def measure(factor: float) -> Run:
        n = int(20_000 * factor)
        return engine.run(lambda: sum(i * i for i in range(n)), settings).joules_per_call

    history = [measure(1.0) for _ in range(HISTORY)]
    medians = [statistics.median(r) for r in history]
    spread = (max(medians) - min(medians)) / statistics.median(medians)
    counts = {}
    for factor in FACTORS:  # the injected regressions run after the unchanged reruns
        results = [verdicts(history, measure(factor)) for _ in range(reruns)]
        counts[factor] = (sum(r[0] for r in results), sum(r[1] for r in results))
    print_table(
        f"this machine's estimate meter ({meter.describe()}), CPU loop; baseline run medians "
        f"spread {spread:.1%} (max-min over median):",
        counts, dict.fromkeys(FACTORS, reruns),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--real-reruns", type=int, default=20)
    args = parser.parse_args()
    print(f"rounds {ROUNDS}, baseline history {HISTORY} runs, max regression "
          f"{RULE.max_regression:.0%}, alpha {RULE.alpha}; each trial draws a fresh baseline\n")
    simulated(args.trials, lambda rng: rng.uniform(-0.05, 0.05),
              "simulated meter, per-round CV 3%, run drift uniform in +-5%:")
    simulated(args.trials, lambda rng: max(-0.05, min(0.05, rng.gauss(0, 0.05 / 3))),
              "simulated meter, per-round CV 3%, run drift normal, 3 sigma = 5% (clipped):")
    real_estimate(args.real_reruns)


if __name__ == "__main__":
    main()
