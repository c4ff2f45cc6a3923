"""Real documents to break: a results file, a baseline and an ab file written by the
plugin (a small suite with every kind of figure), and every one-leaf mutation of them.

Used by tests/test_documents.py, tests/test_fuzz.py and bench/fuzz_documents.py.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SUITE = '''
import pytest

def test_plain():
    sum(range(3000))

@pytest.mark.energy(rounds=3, max_regression=20)
@pytest.mark.energy_budget(joules=100, co2_g=1)
def test_repeated():
    sum(range(3000))

def test_fixture(energy):
    energy(sum, range(3000))

def test_versus(energy):
    energy.versus({"fast": sorted, "slow": sorted}, [3, 2, 1], setup=list)

def test_fails():
    assert 0
'''
#: What each leaf is set to in turn.
REPLACEMENTS: tuple[Any, ...] = (None, "x", [], {}, -1, 1e308, True, 0)
FAST = ["--energy-idle-time=0", "--energy-min-time=0.001", "--energy-rounds=3", "-p", "no:cacheprovider", "-q"]


def _pytest(directory: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    subprocess.run([sys.executable, "-m", "pytest", *FAST, *args], cwd=directory, env=env,
                   capture_output=True, text=True, timeout=300, check=False)


def make_documents(directory: Path) -> dict[str, dict[str, Any]]:
    """Run the suite twice (save, then compare), and pair the two runs as ab would:
    ``{"results": ..., "baseline": ..., "ab": ...}``, each as the plugin wrote it."""
    from pytest_energy.ab.verdicts import paired_verdicts
    from pytest_energy.judge.rules import Rule
    from pytest_energy.runs import AbRecord, Revision
    from pytest_energy.store.documents import load_results

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "test_sample.py").write_text(SUITE)
    _pytest(directory, "--energy-save", "--energy-json=base.json")
    _pytest(directory, "--energy-compare", "--energy-save", "--energy-json=head.json")
    base, head = load_results(str(directory / "base.json")), load_results(str(directory / "head.json"))
    verdicts = paired_verdicts(base.tests, head.tests, Rule())
    ab = AbRecord(
        Revision("main", "0" * 40), Revision("working tree"), head.meter_label, verdicts.comparisons,
        verdicts.pairs, verdicts.new, verdicts.removed, head.machine, {**head.settings, "max_regression": 0.1},
        [["base", "arrive", "test_sample.py::test_repeated"]],
        [("test_sample.py::test_fails", "base", "failed", "assert 0")],
    )
    return {
        "results": json.loads((directory / "head.json").read_text()),
        "baseline": json.loads((directory / ".energy" / "baseline.json").read_text()),
        "ab": ab.to_dict(),
    }


def leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every leaf: scalars, empty lists and empty objects."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from leaves(value, (*path, key))
    elif isinstance(data, list) and data:
        for index, value in enumerate(data):
            yield from leaves(value, (*path, index))
    else:
        yield path


def mutated(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of ``data`` with the leaf at ``path`` set to ``value``."""
    copied = copy.deepcopy(data)
    if not path:
        return copy.deepcopy(value)
    node = copied
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = copy.deepcopy(value)
    return copied


def mutations(data: Any, seed: int = 0, limit: int | None = None) -> list[tuple[str, Any]]:
    """Every (description, document) with one leaf replaced by each of :data:`REPLACEMENTS`;
    with ``limit``, a sample of that many drawn with ``seed``."""
    cases = [(path, value) for path in leaves(data) for value in REPLACEMENTS]
    if limit is not None and limit < len(cases):
        cases = random.Random(seed).sample(cases, limit)
    return [(f"{'/'.join(map(str, path))} = {value!r}", mutated(data, path, value)) for path, value in cases]


@contextlib.contextmanager
def _quiet(cwd: Path) -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err
    finally:
        os.chdir(here)


def run_cli(cwd: Path, *args: str) -> tuple[int, str]:
    """``pytest-energy ARGS`` in this process: (exit status, stderr). An exception that
    escapes the command is returned as status -1 with its traceback."""
    import traceback

    from pytest_energy.cli import main

    with _quiet(cwd) as (_, err):
        try:
            status = main(list(args))
        except SystemExit as exc:  # argparse
            status = exc.code if isinstance(exc.code, int) else 2
        except Exception:  # noqa: BLE001 - the fuzz counts these
            return -1, traceback.format_exc()
    return status, err.getvalue()


def commands(kind: str, path: str, originals: dict[str, str]) -> list[list[str]]:
    """The commands each mutated document of ``kind`` goes through."""
    if kind == "results":
        return [["report", path, "-o", "out.html"], ["compare", originals["results"], path],
                ["compare", path, originals["results"], "--markdown", "out.md"],
                ["merge", "merged.json", path, "--baseline", "merged-baseline.json"]]
    if kind == "baseline":
        return [["report", "--baseline", path, "-o", "out.html"],
                ["merge", "merged.json", originals["results"], "--baseline", path]]
    return [["report", "--ab", path, "-o", "out.html"]]


def broken(status: int, err: str) -> str | None:
    """Why a command's outcome is a failure of the fuzz (a traceback, an unknown status,
    an error that is not one line), or None."""
    if status == -1 or "Traceback" in err:
        return err.strip().splitlines()[-1] if err.strip() else "traceback"
    if status not in (0, 1, 2):
        return f"exit status {status}"
    errors = [line for line in err.splitlines() if "error:" in line]
    if status == 2 and (len(errors) != 1 or len(err.strip().splitlines()) != 1):
        return f"exit 2 without one error line: {err.strip()[:200]!r}"
    return None
