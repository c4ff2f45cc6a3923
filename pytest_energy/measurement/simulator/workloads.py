"""Built-in workloads for ``pytest-energy calibrate``: they differ in how much of their work
hits L1, the last-level cache and RAM, so that a fit can tell the model's terms apart.

``python -m pytest_energy.measurement.simulator.workloads`` (run under the launcher) counts
each one once and prints one JSON line per workload: ``{"workload": ..., "counts": {...}}``.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable

_FLOATS = [random.Random(1).random() for _ in range(100_000)]
_RECORDS = [{"id": i, "name": f"item {i}", "tags": ["a", "b"], "price": i * 0.5} for i in range(5_000)]
#: 16 MiB of pointers: twice the simulated last-level cache, so random reads go to RAM.
_BIG = list(range(2_000_000))
_ORDER = random.Random(2).sample(range(len(_BIG)), 200_000)
_BLOCK = bytes(range(256)) * 65_536  # 16 MiB


def loop() -> int:
    """Pure-Python arithmetic: nearly all L1 hits."""
    total = 0
    for i in range(300_000):
        total += i & 7
    return total


def sort_floats() -> list[float]:
    return sorted(_FLOATS)


def json_round_trip() -> object:
    return json.loads(json.dumps(_RECORDS))


def dict_and_set() -> int:
    table = {f"k{i}": i for i in range(50_000)}
    return len(set(table.values()))


def random_reads() -> int:
    """Reads scattered over twice the last-level cache: memory-bound."""
    big = _BIG
    return sum(big[i] for i in _ORDER)


def copy_block() -> int:
    """Streams 16 MiB: memory-bound without Python overhead."""
    return len(bytearray(_BLOCK))


WORKLOADS: dict[str, Callable[[], object]] = {
    "loop": loop, "sort_floats": sort_floats, "json_round_trip": json_round_trip,
    "dict_and_set": dict_and_set, "random_reads": random_reads, "copy_block": copy_block,
}


def main() -> int:
    from .counts import Simulator

    simulator = Simulator.from_env()
    for name, workload in WORKLOADS.items():
        workload()  # warm: imports, caches of the interpreter
        simulator.begin()
        workload()
        counts = simulator.end(name)
        print(json.dumps({"workload": name, "counts": counts.to_dict()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
