"""``pytest-energy merge -o OUT.json SHARD.json...``: results of sharded jobs into one file
(and, with ``--baseline``, into the baseline as ``--energy-save`` does)."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace

from ..errors import InputError
from ..settings import default
from ..store import baseline as store
from ..store.documents import load_results, save_results
from ..store.files import unwritable_output
from .compare import machines_differ


def output_path(output: str | None, paths: list[str]) -> tuple[str, list[str]]:
    """The output and the shards: ``-o OUT``, or the earlier form's first path, taken as the
    output only while no file is there (a shard named first is never overwritten)."""
    if output is None:
        if len(paths) < 2 or os.path.exists(paths[0]):
            raise InputError(
                f"name the merged file with -o (pytest-energy merge -o merged.json {' '.join(paths)})"
                + (f"; {paths[0]} exists and is not overwritten" if os.path.exists(paths[0]) else "")
            )
        output, paths = paths[0], paths[1:]
    for path in paths:
        if os.path.abspath(path) == os.path.abspath(output) or (
                os.path.exists(output) and os.path.exists(path) and os.path.samefile(path, output)):
            raise InputError(f"-o {output} is one of the shards; write the merged results to another file")
    return output, paths


def run(args: argparse.Namespace) -> int:
    out, shard_paths = output_path(args.output, list(args.shards))
    problem = unwritable_output([(out, out), (f"--baseline {args.baseline}", args.baseline)])
    if problem:
        raise InputError(problem)
    shards = [(path, load_results(path)) for path in shard_paths]
    meters = {shard.meter_label for _, shard in shards}
    if len(meters) > 1:
        raise InputError("shards measured with different meters ("
                         + "; ".join(f"{path}: {s.meter_label}" for path, s in shards)
                         + "); merge only like with like")
    (first_path, first), *others = shards
    for path, shard in others:
        differences = machines_differ(first, shard)
        if differences:
            raise InputError(f"{path} comes from another machine than {first_path} "
                             f"({'; '.join(differences)}); merge only like with like")
    seen: dict[str, str] = {}
    for path, shard in shards:
        for test in shard.tests:
            if test.nodeid in seen:
                raise InputError(f"{test.nodeid} is in both {seen[test.nodeid]} and {path}; "
                                 "each test must come from one shard")
            seen[test.nodeid] = path
    tests = sorted((t for _, s in shards for t in s.tests), key=lambda t: t.nodeid)
    merged = replace(
        first, tests=tests, comparisons=[], merged_from=[path for path, _ in shards],
        versus=sorted((v for _, s in shards for v in s.versus), key=lambda v: v["nodeid"]),
        outcomes={nodeid: outcome for _, s in shards for nodeid, outcome in s.outcomes.items()},
    )
    save_results(out, merged)
    print(f"pytest-energy: merged {len(tests)} tests from {len(shards)} files into {out}")
    if args.baseline:
        machine = first.machine or store.machine_fingerprint(first.meter_label)
        _, notes = store.save(
            args.baseline, tests, machine, store.git_commit(os.getcwd()), default("energy_history"),
            default("energy_lock_timeout"),
        )
        for note in notes:
            print(f"energy warning: {note}")
        print(f"pytest-energy: baseline saved to {args.baseline}")
    return 0
