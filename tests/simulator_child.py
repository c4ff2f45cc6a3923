"""Script run under callgrind by the tests: measures named workloads, prints JSON lines.

Usage: python simulator_child.py WORKLOAD[:ARG] ...   (one region per argument)
"""

from __future__ import annotations

import json
import os
import sys
import threading

from pytest_energy.measurement.simulator.counts import Simulator  # noqa: E402


def loop(n: int) -> int:
    x = 0
    for i in range(n):
        x ^= i & 0xFF
    return x


def raises(n: int) -> None:
    loop(n)
    raise ValueError("boom")


def threaded(n: int) -> None:
    t = threading.Thread(target=loop, args=(n,))
    t.start()
    t.join()


def dict_set(n: int) -> None:
    keys = [f"key{i}" for i in range(n)]
    d = dict.fromkeys(keys, 1)
    s = set(keys)
    assert len(d) == len(s)


def foreign_dump(n: int) -> None:
    """Code under test that issues its own dump request in the middle of the region."""
    from pytest_energy.measurement.simulator.shim import load_shim

    loop(n)
    load_shim().dump_stats_at(b"foreign")
    loop(n)


WORKLOADS = {
    "loop": loop,
    "raises": raises,
    "threaded": threaded,
    "dict_set": dict_set,
    "foreign_dump": foreign_dump,
}


def main(argv: list[str]) -> int:
    sim = Simulator.from_env()
    loop(1000)  # warm the interpreter's specialisations outside any region
    for spec in argv:
        name, _, arg = spec.partition(":")
        sim.begin()
        error = None
        try:
            WORKLOADS[name](int(arg or 0))
        except Exception as exc:  # a failing region still yields counts
            error = type(exc).__name__
        finally:
            counts = sim.end(spec)
        record = {"region": spec, "error": error, "pid": os.getpid(), "counts": counts.to_dict()}
        print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
