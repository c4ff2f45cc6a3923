"""Baseline files: a versioned JSON history of every measured test, saved atomically.

Its JSON Schema is ``store/schemas/baseline.schema.json``; in short (version 1)::

    {"format": "pytest-energy-baseline", "version": 1, "plugin_version": "0.1.0",
     "machine": {"cpu_model": ..., "cpu_count": 2, "meters": "rapl", "os": "Linux x86_64",
                 "python": "3.11"},
     "commit": "<git sha of the last save, or null>", "updated": "<ISO 8601 UTC>",
     "history": 10,
     "tests": {"<node id>": {"runs": [  # oldest first, at most `history`
         {"commit": ..., "time": ..., "meter": "rapl",
          "tier": 2,                       # 1: the real call only; 2: repeated rounds
          "call_joules": 0.012,            # the real call (null for fixture-measured tests)
          "below_resolution": false,       # the real call was shorter than the meter resolves
          "samples": {"joules": [...], "seconds": [...],   # per call: one per round, or the call
                      "sci_g": [...]},                     # SCI gCO2e per call, beside them
          "call_sci_g": 1.2e-06,           # the real call's SCI (absent in older files)
          "settings": {"rounds": 5, "warmup": 1, "min_round_s": null, "max_time_s": 10.0}}]}},
     "files": {"<path>": {"runs": [{"commit": ..., "time": ..., "meter": "rapl",
                                    "joules": 0.5,  # the sum of its tests' real calls
                                    "sci_g": 5e-05,  # and of their SCI
                                    "tests": "<digest of those tests' node ids>"}]}}}
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from ..history import Baseline, StoredRun, StoredTotal, file_sci
from ..results import TestResult, file_totals
from . import loader
from .files import remove_stale_temps
from .loader import BASELINE, BaselineError

__all__ = ["BaselineError", "load", "save", "machine_fingerprint", "git_commit"]
FORMAT, VERSION = BASELINE.form, BASELINE.version


def machine_fingerprint(meters: str) -> dict[str, Any]:
    """What makes figures comparable: CPU model and count, meters, OS, Python (no clocks)."""
    from ..measurement.meters.estimate import cpu_model

    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "meters": meters,
        "os": f"{platform.system()} {platform.machine()}",
        "python": ".".join(platform.python_version_tuple()[:2]),
    }


def git_commit(directory: str) -> str | None:
    """HEAD's sha when ``directory`` is in a git checkout, else None."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def load(path: str) -> Baseline | None:
    """Read and check a baseline (:data:`~pytest_energy.store.loader.BASELINE`); None
    when the file does not exist."""
    data = loader.read(path, BASELINE, missing_ok=True)
    return None if data is None else Baseline.from_dict(path, data)


def save(
    path: str, results: list[TestResult], machine: dict[str, Any], commit: str | None,
    history: int, lock_timeout_s: float = 60.0,
) -> tuple[Baseline, list[str]]:
    """Merge this run into the baseline under a file lock; returns the merged baseline
    (kept in memory for the reports) and warnings.

    Tests not measured in this run keep their history; each measured test (and file)
    keeps its last ``history`` runs. A baseline from another machine has the re-measured
    tests' history replaced. A corrupt or unknown existing file raises and is left
    untouched; a lock held past ``lock_timeout_s`` raises :class:`BaselineError`.
    """
    warnings: list[str] = []
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with locked(path, lock_timeout_s):
        remove_stale_temps(path)
        existing = load(path)
        tests = dict(existing.tests) if existing else {}
        files = dict(existing.files) if existing else {}
        differences = existing.machine_differences(machine) if existing else []
        if differences:
            warnings.append(
                f"baseline {path} was recorded on another machine ({'; '.join(differences)}); "
                f"the history of the {len(results)} re-measured tests starts again"
            )
        keep = existing is not None and not differences
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for result in results:
            earlier = existing.runs(result.nodeid) if keep else []
            tests[result.nodeid] = [*earlier, StoredRun.from_result(result, commit, when)][-history:]
        for file_path, (joules, digest) in file_totals(results).items():
            total = StoredTotal(results[0].meter, joules, digest, commit, when, results[0].model,
                                file_sci(results, file_path))
            files[file_path] = ((existing.file_runs(file_path) if keep else []) + [total])[-history:]
        stored_meters = sorted({run.meter for runs in tests.values() for run in runs})
        machine = {**machine, "meters": ", ".join(stored_meters)}
        merged = Baseline(path, machine, tests, files, commit, history)
        from .. import __version__

        loader.save(path, BASELINE, {
            "format": FORMAT, "version": VERSION, "plugin_version": __version__,
            "machine": merged.machine, "commit": commit, "updated": when, "history": history,
            "tests": {nodeid: {"runs": [run.to_dict() for run in runs]} for nodeid, runs in tests.items()},
            "files": {name: {"runs": [run.to_dict() for run in runs]} for name, runs in files.items()},
        })
    return merged, warnings


@contextlib.contextmanager
def locked(path: str, timeout_s: float) -> Iterator[None]:
    """Hold ``<resolved path>.lock`` (keyed on the real file, so a save through a symlink
    waits for one through its target); while waiting, say once whose lock it is; give up
    after ``timeout_s`` with a :class:`BaselineError` naming the holder."""
    from filelock import FileLock, Timeout

    lock_path = os.path.realpath(path) + ".lock"
    lock = FileLock(lock_path)
    owner_path = lock_path + ".owner"
    deadline = time.monotonic() + timeout_s
    said = False
    while True:
        try:
            lock.acquire(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            break
        except Timeout:
            owner = _read_owner(owner_path)
            if time.monotonic() >= deadline:
                raise BaselineError(
                    f"baseline {path} stayed locked by {owner} for {timeout_s:g} s, nothing saved; "
                    f"if that process is gone remove {lock_path}, or raise --energy-lock-timeout"
                ) from None
            if not said:
                sys.stderr.write(f"pytest-energy: waiting up to {timeout_s:g} s for the baseline lock "
                                 f"held by {owner}\n")
                said = True
        except OSError as exc:
            raise BaselineError(
                f"cannot lock baseline {path}: {exc.strerror or exc} ({lock_path}); fix its permissions"
            ) from None
    try:
        with contextlib.suppress(OSError), open(owner_path, "w") as handle:
            handle.write(f"pid {os.getpid()} on {platform.node()}")
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(owner_path)
        lock.release()


def _read_owner(owner_path: str) -> str:
    try:
        with open(owner_path) as handle:
            return handle.read().strip() or "another process"
    except OSError:
        return "another process"
