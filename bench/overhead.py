"""What pytest-energy costs when it is off, and what one meter reading costs.

1. A 2,000-test trivial suite, run side by side (interleaved, several times) with the
   plugin installed but ``--energy`` off, and with the plugin disabled (``-p no:energy``).
   Off must be within the run-to-run noise of disabled.
2. The cost of one round's pair of readings for each meter (estimate for real; RAPL on a
   fake powercap tree; NVML on the fake pynvml of the test suite).

    python bench/overhead.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from pytest_energy.meters import MeterOptions, estimate, nvml, rapl  # noqa: E402


def make_suite(directory: Path, tests: int = 2000) -> None:
    per_file = 100
    for f in range(tests // per_file):
        body = "\n".join(f"def test_{i}():\n    assert {i} == {i}\n" for i in range(per_file))
        (directory / f"test_trivial_{f}.py").write_text(body)


def run_suite(directory: Path, *extra: str) -> float:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory), *extra]
    env = dict(os.environ, PYTEST_ADDOPTS="")
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env, cwd=directory)
    return time.perf_counter() - start


def suite_overhead(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        make_suite(directory)
        run_suite(directory)  # warm the file cache
        runs: dict[str, list[float]] = {"disabled (-p no:energy)": [], "installed, --energy off": []}
        for _ in range(repeats):
            runs["disabled (-p no:energy)"].append(run_suite(directory, "-p", "no:energy"))
            runs["installed, --energy off"].append(run_suite(directory))
    print(f"2,000 trivial tests, {repeats} interleaved runs each (seconds per run):")
    for name, times in runs.items():
        median = statistics.median(times)
        print(f"  {name:26s} median {median:.3f}  min {min(times):.3f}  max {max(times):.3f}")
    disabled, off = (statistics.median(t) for t in runs.values())
    spread = (max(runs["disabled (-p no:energy)"]) - min(runs["disabled (-p no:energy)"])) / disabled
    print(f"  off / disabled = {off / disabled:.3f}  (disabled's own run-to-run spread: {spread:.1%})")


def per_read_cost(meter, reads: int = 2000) -> float:
    start = time.perf_counter()
    for _ in range(reads):
        meter.read()
    return (time.perf_counter() - start) / reads


def meter_costs() -> None:
    import powercap_sim

    print("cost of one round's two readings (microseconds):")
    meter = estimate.open_meter(MeterOptions())
    print(f"  estimate                         {2 * per_read_cost(meter) * 1e6:8.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = powercap_sim.build_tree(Path(tmp), powercap_sim.two_socket_server())
        meter = rapl.open_meter(MeterOptions(powercap_root=str(root)))
        print(f"  rapl (fake tree, 4 domains)      {2 * per_read_cost(meter) * 1e6:8.1f}")
        meter.close()
    spec = importlib.util.spec_from_file_location("pynvml", HERE.parent / "tests" / "fake_pynvml.py")
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    sys.modules["pynvml"] = fake
    meter = nvml.open_meter(MeterOptions())
    print(f"  nvml (fake pynvml, 1 GPU)        {2 * per_read_cost(meter) * 1e6:8.1f}")
    meter.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    suite_overhead(args.repeats)
    meter_costs()


if __name__ == "__main__":
    main()
