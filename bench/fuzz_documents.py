"""Hostile documents: every leaf of a real results file, baseline and ab file (written by
the plugin on a small suite) set in turn to None, "x", [], {}, -1, 1e308, true and 0, and
each mutated document run through the commands that read it (``report``, ``compare``,
``merge``, ``merge --baseline``), in this process through ``pytest_energy.cli.main``.
Counts per command: runs, accepted (exit 0/1), refused in one line (exit 2), tracebacks,
hangs (over ``--timeout`` seconds). Target: 0 tracebacks, 0 hangs over >= 5,000 documents.

    python bench/fuzz_documents.py [--limit N] [--seed 0] [--timeout 30] [--show 5]
"""

from __future__ import annotations

import argparse
import collections
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import document_samples as samples  # noqa: E402


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="documents per kind (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a command counts as hung")
    parser.add_argument("--show", type=int, default=5, help="failures to print")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        started = time.perf_counter()
        documents = samples.make_documents(work / "suite")
        originals = {}
        for kind, data in documents.items():
            originals[kind] = str(work / f"original-{kind}.json")
            Path(originals[kind]).write_text(json.dumps(data))
        counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        failures: list[str] = []
        total = 0
        for kind, data in documents.items():
            for description, document in samples.mutations(data, args.seed, args.limit):
                total += 1
                path = work / f"{kind}.json"
                path.write_text(json.dumps(document))
                for command in samples.commands(kind, str(path), originals):
                    for leftover in ("merged.json", "merged-baseline.json", "out.html", "out.md"):
                        (work / leftover).unlink(missing_ok=True)
                    name = f"{command[0]}({kind})"
                    signal.setitimer(signal.ITIMER_REAL, args.timeout)
                    try:
                        status, err = samples.run_cli(work, *command)
                    except Hang:
                        counts[name]["hangs"] += 1
                        failures.append(f"HANG {name} {description}")
                        continue
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                    counts[name]["runs"] += 1
                    problem = samples.broken(status, err)
                    if problem:
                        counts[name]["tracebacks"] += 1
                        failures.append(f"{name} {description}: {problem}")
                    else:
                        counts[name]["refused" if status == 2 else "accepted"] += 1
        elapsed = time.perf_counter() - started
    sizes = ", ".join(f"{kind}: {len(list(samples.leaves(data)))} leaves" for kind, data in documents.items())
    print(f"{total} mutated documents ({sizes}; x {len(samples.REPLACEMENTS)} values), {elapsed:.0f} s")
    print(f"{'command':<20} {'runs':>6} {'accepted':>9} {'refused':>8} {'tracebacks':>11} {'hangs':>6}")
    for name, c in sorted(counts.items()):
        print(f"{name:<20} {c['runs'] + c['hangs']:>6} {c['accepted']:>9} {c['refused']:>8} "
              f"{c['tracebacks']:>11} {c['hangs']:>6}")
    tracebacks = sum(c["tracebacks"] for c in counts.values())
    hangs = sum(c["hangs"] for c in counts.values())
    print(f"total: {tracebacks} tracebacks, {hangs} hangs")
    for line in failures[: args.show]:
        print("  " + line)
    return 1 if tracebacks or hangs else 0


if __name__ == "__main__":
    sys.exit(main())
