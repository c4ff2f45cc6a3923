"""What pytest-energy costs: per suite, side by side in one run, and per meter reading.

1. 2,000 trivial tests: ``-p no:energy`` against ``--energy`` (target <= 1.15x), and the
   plugin installed with ``--energy`` off.
2. 200 tests of about 1 ms: ``-p no:energy`` against ``--energy`` (target <= 1.5x).
3. The cost per test of ``--energy-repeat`` at its defaults and with ``--energy-max-time=1``
   (on 20 of the 1 ms tests: extra seconds per test over plain ``--energy``).
4. The cost of one window's pair of readings for each meter.

Runs are interleaved (A B A B ...) so the machine's drift hits every variant alike; each
figure is the median of ``--repeats`` runs, with the ratio of medians.

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

from pytest_energy.measurement.meters import MeterOptions, estimate, nvml, rapl  # noqa: E402

TRIVIAL = "def test_{i}():\n    assert {i} == {i}\n"
ONE_MS = (
    "def test_{i}():\n    end = time.perf_counter() + 0.001\n"
    "    while time.perf_counter() < end:\n        pass\n"
)


def make_suite(directory: Path, tests: int, body: str, per_file: int = 100) -> Path:
    directory.mkdir()
    for f in range(max(1, tests // per_file)):
        count = min(per_file, tests)
        text = "import time\n\n" + "\n".join(body.format(i=i) for i in range(count))
        (directory / f"test_gen_{f}.py").write_text(text)
    return directory


def run_suite(directory: Path, *extra: str) -> float:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           str(directory), *extra]
    env = dict(os.environ, PYTEST_ADDOPTS="")
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env, cwd=directory)
    return time.perf_counter() - start


def side_by_side(
    title: str, directory: Path, variants: dict[str, list[str]], repeats: int,
) -> dict[str, float]:
    """Median seconds per variant over interleaved runs; prints them with ratios to the first."""
    run_suite(directory)  # warm the file cache
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, args in variants.items():
            times[name].append(run_suite(directory, *args))
    medians = {name: statistics.median(t) for name, t in times.items()}
    first = next(iter(medians.values()))
    print(f"{title} ({repeats} interleaved runs each, seconds per run):")
    for name, t in times.items():
        print(f"  {name:34s} median {medians[name]:7.3f}  min {min(t):7.3f}  max {max(t):7.3f}"
              f"  ratio {medians[name] / first:5.2f}x")
    return medians


def suite_overhead(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        trivial = make_suite(Path(tmp) / "trivial", 2000, TRIVIAL)
        side_by_side("2,000 trivial tests (target: --energy <= 1.15x)", trivial, {
            "disabled (-p no:energy)": ["-p", "no:energy"],
            "installed, --energy off": [],
            "--energy": ["--energy"],
        }, repeats)
        one_ms = make_suite(Path(tmp) / "one_ms", 200, ONE_MS)
        side_by_side("200 tests of about 1 ms (target: --energy <= 1.5x)", one_ms, {
            "disabled (-p no:energy)": ["-p", "no:energy"],
            "--energy": ["--energy"],
        }, repeats)
        few = make_suite(Path(tmp) / "repeat", 20, ONE_MS)
        medians = side_by_side("20 tests of about 1 ms, repeated in rounds", few, {
            "--energy": ["--energy"],
            "--energy-repeat (defaults)": ["--energy", "--energy-repeat"],
            "--energy-repeat --energy-max-time=1": ["--energy", "--energy-repeat", "--energy-max-time=1"],
        }, repeats)
        base = medians["--energy"]
        for name in list(medians)[1:]:
            print(f"  cost per test of {name}: {(medians[name] - base) / 20:.3f} s")


def per_read_cost(meter, reads: int = 2000) -> float:
    start = time.perf_counter()
    for _ in range(reads):
        meter.read()
    return (time.perf_counter() - start) / reads


def meter_costs() -> None:
    import powercap_sim

    print("cost of one window's two readings (microseconds):")
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
