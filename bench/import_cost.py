"""What the plugin costs when installed but off: its import time, side by side with a
module of pytest's own, in fresh processes (python -X importtime), medians of N runs.

    python bench/import_cost.py [--runs 15]

Target: under 25 ms for the plugin's modules (the rest loads only with --energy).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys


def imported_us(statement: str, prefix: str) -> tuple[int, list[str]]:
    """Microseconds spent importing modules named ``prefix*`` in a fresh process (their
    own time, summed), and which modules those were."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                          capture_output=True, text=True, check=True)
    total, names = 0, []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, _, name = (part.strip() for part in line[len("import time:"):].split("|"))
        if name.startswith(prefix) and own.isdigit():
            total += int(own)
            names.append(name)
    return total, names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    plugin, reference, loaded = [], [], []
    for _ in range(args.runs):  # interleaved, so that machine drift hits both alike
        us, loaded = imported_us("import pytest, pytest_energy.plugin", "pytest_energy")
        plugin.append(us)
        reference.append(imported_us("import _pytest.config, _pytest.junitxml", "_pytest.junitxml")[0])
    print(f"pytest-energy off: {statistics.median(plugin) / 1000:.1f} ms "
          f"(min {min(plugin) / 1000:.1f}) for {len(loaded)} modules: {', '.join(loaded)}")
    print(f"reference, pytest's own _pytest.junitxml: {statistics.median(reference) / 1000:.1f} ms")
    print("target: under 25 ms")


if __name__ == "__main__":
    main()
