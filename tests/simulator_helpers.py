"""Running scripts under callgrind for the simulator's tests."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from pytest_energy.measurement.simulator.counts import Counts
from pytest_energy.measurement.simulator.launch import run

HERE = Path(__file__).resolve().parent

needs_valgrind = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("valgrind") is None,
    reason="valgrind (Linux) not available: apt-get install valgrind",
)


def run_regions(out_dir: Path, *regions: str, **options: bool) -> dict[str, dict]:
    """Run tests/simulator_child.py under callgrind; return {region: {"error", "counts"}}."""
    proc = run([sys.executable, str(HERE / "simulator_child.py"), *regions], out_dir,
               capture_output=True, text=True, timeout=300, **options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {}
    for line in proc.stdout.splitlines():
        record = json.loads(line)
        record["counts"] = Counts.from_dict(record["counts"])
        results[record["region"]] = record
    return results
