"""Baseline files: a versioned JSON history of every measured test, saved atomically.

Schema (version 1)::

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
          "samples": {"joules": [...], "seconds": [...]},  # per call: one per round, or the call
          "settings": {"rounds": 5, "warmup": 1, "min_round_s": null, "max_time_s": 10.0}}]}},
     "files": {"<path>": {"runs": [{"commit": ..., "time": ..., "meter": "rapl",
                                    "joules": 0.5,  # the sum of its tests' real calls
                                    "tests": "<digest of those tests' node ids>"}]}}}
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from ..errors import InputError
from ..results import Baseline, StoredRun, StoredTotal, TestResult, file_totals
from .files import reject_non_finite, remove_stale_temps, write_json_atomic

FORMAT = "pytest-energy-baseline"
VERSION = 1
RECREATE = "re-create it with --energy-save"


class BaselineError(InputError):
    """An unreadable, corrupt or unknown baseline; the message names the fix."""


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
    """Read and validate a baseline; None when the file does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BaselineError(
            f"cannot read baseline {path}: {reason}; fix its permissions or pick another file "
            "with --energy-baseline"
        ) from None
    try:
        data = json.loads(text, parse_constant=reject_non_finite)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"baseline {path} is corrupt (invalid JSON at line {exc.lineno} column {exc.colno}: "
            f"{exc.msg}); "
            f"restore it from version control or {RECREATE}"
        ) from None
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise BaselineError(
            f"baseline {path} is corrupt ({reason}); restore it from version control or {RECREATE}"
        ) from None
    _validate(path, data)
    return Baseline.from_dict(path, data)


def _number(value: Any) -> bool:
    """A finite number >= 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value)) and value >= 0
    except OverflowError:
        return False


def _run_problem(run: Any) -> str | None:
    """What is wrong with one stored run of a test, or None."""
    if not isinstance(run, dict):
        return "a run is not an object"
    samples = run.get("samples")
    joules = samples.get("joules") if isinstance(samples, dict) else None
    if not isinstance(joules, list) or not joules:
        return "samples.joules is not a list of numbers"
    for value in joules:
        if not _number(value):
            return f"sample {value!r} is not a finite number >= 0"
    if run.get("call_joules") is not None and not _number(run["call_joules"]):
        return f"call_joules {run['call_joules']!r} is not a finite number >= 0"
    return None


def _validate(path: str, data: Any) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BaselineError(
            f"{path} is not a pytest-energy baseline (no \"format\": \"{FORMAT}\"); "
            "point --energy-baseline at the right file"
        )
    version = data.get("version")
    if version != VERSION:
        newer = isinstance(version, int) and version > VERSION
        raise BaselineError(
            f"baseline {path} has schema version {version!r}, this pytest-energy reads version "
            f"{VERSION}; {'upgrade pytest-energy or ' if newer else ''}{RECREATE}"
        )
    tests = data.get("tests")
    if not isinstance(tests, dict) or not isinstance(data.get("machine"), dict):
        raise BaselineError(f"baseline {path} is malformed (no tests or machine); {RECREATE}")
    for nodeid, entry in tests.items():
        runs = entry.get("runs") if isinstance(entry, dict) else None
        problem = "no list of runs" if not isinstance(runs, list) else next(
            (found for found in map(_run_problem, runs) if found), None
        )
        if problem:
            raise BaselineError(f"baseline {path} is malformed at test {nodeid!r} ({problem}); {RECREATE}")
    files = data.get("files", {})
    for file_path, entry in files.items() if isinstance(files, dict) else [("files", None)]:
        runs = entry.get("runs") if isinstance(entry, dict) else None
        valid = isinstance(runs, list) and all(isinstance(r, dict) and _number(r.get("joules")) for r in runs)
        if not valid:
            raise BaselineError(f"baseline {path} is malformed at file {file_path!r}; {RECREATE}")


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
    with _locked(path, lock_timeout_s):
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
            total = StoredTotal(results[0].meter, joules, digest, commit, when, results[0].model)
            files[file_path] = ((existing.file_runs(file_path) if keep else []) + [total])[-history:]
        stored_meters = sorted({run.meter for runs in tests.values() for run in runs})
        machine = {**machine, "meters": ", ".join(stored_meters)}
        merged = Baseline(path, machine, tests, files, commit, history)
        from .. import __version__

        write_json_atomic(path, {
            "format": FORMAT, "version": VERSION, "plugin_version": __version__,
            "machine": merged.machine, "commit": commit, "updated": when, "history": history,
            "tests": {nodeid: {"runs": [run.to_dict() for run in runs]} for nodeid, runs in tests.items()},
            "files": {name: {"runs": [run.to_dict() for run in runs]} for name, runs in files.items()},
        })
    return merged, warnings


@contextlib.contextmanager
def _locked(path: str, timeout_s: float) -> Iterator[None]:
    """Hold ``<path>.lock``; while waiting, say once whose lock it is; give up after
    ``timeout_s`` with a :class:`BaselineError` naming the holder."""
    from filelock import FileLock, Timeout

    lock = FileLock(path + ".lock")
    owner_path = path + ".lock.owner"
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
                    f"if that process is gone remove {path}.lock, or raise --energy-lock-timeout"
                ) from None
            if not said:
                sys.stderr.write(f"pytest-energy: waiting up to {timeout_s:g} s for the baseline lock "
                                 f"held by {owner}\n")
                said = True
        except OSError as exc:
            raise BaselineError(
                f"cannot lock baseline {path}: {exc.strerror or exc} ({path}.lock); fix its permissions"
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
