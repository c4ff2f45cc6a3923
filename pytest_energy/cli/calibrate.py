"""``pytest-energy calibrate -o model.json``: the simulated meter's coefficients fitted
(non-negative least squares) to RAPL on this machine, over built-in workloads.

Each workload's counts come from one run under the simulator, its joules from RAPL
(idle power subtracted, median of rounds). ``--samples FILE`` fits given pairs instead
(``[{"counts": {...}, "joules": J}, ...]``), and ``--save-samples`` keeps the measured ones.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from typing import Any

from ..errors import InputError
from ..measurement.simulator.counts import Counts
from ..measurement.simulator.model import DEFAULT_MODEL, ModelError, fit
from ..store import loader
from ..store.files import unwritable_output
from ..store.loader import SAMPLES
from ..store.models import save_model


def count_workloads() -> dict[str, Counts]:
    """Each built-in workload's counts, from one run under the simulator."""
    from ..measurement.simulator import launch
    from ..measurement.simulator.shim import SimulatorUnavailable

    with tempfile.TemporaryDirectory(prefix="pytest-energy-calibrate-") as out:
        try:
            done = launch.run([sys.executable, "-m", "pytest_energy.measurement.simulator.workloads"], out,
                              capture_output=True, text=True, timeout=3600)
        except SimulatorUnavailable as exc:
            raise InputError(str(exc)) from None
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"counting the workloads under the simulator failed: {last}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {line["workload"]: Counts.from_dict(line["counts"]) for line in lines}


def measure_workloads(powercap_root: str, rounds: int) -> dict[str, float]:
    """Each built-in workload's joules per call on RAPL, idle power subtracted (median of rounds)."""
    from ..measurement.engine import Engine
    from ..measurement.meters import MeterOptions, MeterSet, MeterUnavailable, open_meter
    from ..measurement.simulator.workloads import WORKLOADS
    from ..settings import ProtocolSettings

    try:
        meters = MeterSet([open_meter("rapl", MeterOptions(powercap_root=powercap_root))])
    except MeterUnavailable as exc:
        raise InputError(f"calibrate fits the model to RAPL, which is unavailable here ({exc}); "
                         "run it on a machine with RAPL, or fit given pairs with --samples FILE") from None
    try:
        engine = Engine(meters)
        engine.measure_idle(1.0)
        engine.measure_read_cost()
        settings = ProtocolSettings(rounds=rounds, warmup=1, min_round_s=0.5, max_time_s=60.0)
        return {name: statistics.median(engine.run(fn, settings).joules_per_call)
                for name, fn in WORKLOADS.items()}
    finally:
        meters.close()


def load_samples(path: str) -> list[tuple[Counts, float]]:
    """(counts, joules) pairs from a samples file."""
    data = loader.read(path, SAMPLES)
    assert data is not None
    try:
        return [(Counts.from_dict(s["counts"]), float(s["joules"])) for s in data["samples"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: a sample is malformed ({exc}); each needs counts and joules") from None


def run(args: argparse.Namespace) -> int:
    outputs = [(f"-o {args.output}", args.output), ("--save-samples", args.save_samples)]
    problem = unwritable_output(outputs)
    if problem:
        raise InputError(problem)
    if args.samples:
        samples = load_samples(args.samples)
    else:
        joules = measure_workloads(args.powercap_root, args.rounds)
        counts = count_workloads()
        samples = [(counts[name], joules[name]) for name in joules if name in counts]
        if args.save_samples:
            pairs = [{"workload": name, "counts": counts[name].to_dict(), "joules": joules[name]}
                     for name in joules if name in counts]
            document: dict[str, Any] = {"format": SAMPLES.form, "version": SAMPLES.version, "samples": pairs}
            loader.save(args.save_samples, SAMPLES, document)
    try:
        model = fit(samples, DEFAULT_MODEL)
    except ModelError as exc:
        raise InputError(f"cannot fit the model: {exc}") from None
    save_model(args.output, model)
    print(f"pytest-energy: model {model.identity} ({model.source}) written to {args.output}: "
          f"{model.core_watts:.3g} W per core at {model.clock_hz / 1e9:g} GHz, last-level hit "
          f"{model.ll_hit_cycles:.3g} cycles, {model.joules_per_ram_access * 1e9:.3g} nJ per RAM access; "
          f"use it with --energy-model={os.path.relpath(args.output)}")
    return 0
