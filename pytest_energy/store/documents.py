"""Results and ab documents: the files ``--energy-json`` (and ``merge``) and
``pytest-energy ab --json`` write, loaded and saved typed through
:mod:`pytest_energy.store.loader` (schemas ``results.schema.json``, ``ab.schema.json``)."""

from __future__ import annotations

from typing import Any

from ..runs import AB_FORMAT, RESULTS_FORMAT, AbRecord, RunRecord
from . import loader
from .loader import Kind
from .schema import show


def _versus_problem(data: dict[str, Any]) -> str | None:
    """What the schema cannot say: each ``energy.versus`` record names its reference
    among its candidates, and every other candidate has its ratio to it."""
    for index, record in enumerate(data.get("versus") or []):
        labels = [c["label"] for c in record["candidates"]]
        if record["reference"] not in labels:
            return f"versus[{index}].reference: {show(record['reference'])} is not one of its candidates"
        for number, candidate in enumerate(record["candidates"]):
            if candidate["label"] != record["reference"] and not candidate.get("energy_ratio"):
                return f"versus[{index}].candidates[{number}].energy_ratio: is missing"
    return None


RESULTS = Kind("results file", "results", RESULTS_FORMAT, 1, "re-create it with --energy-json",
               "give a results file written by --energy-json", extra=_versus_problem)
AB = Kind("ab file", "ab", AB_FORMAT, 1, "re-create it with pytest-energy ab --json",
          "give a file written by pytest-energy ab --json")


def load_results(path: str) -> RunRecord:
    """Read and check a results file written by ``--energy-json`` (or ``merge``)."""
    data = loader.read(path, RESULTS)
    assert data is not None
    return RunRecord.from_dict(data)


def load_ab(path: str) -> AbRecord:
    """Read and check a file written by ``pytest-energy ab --json``."""
    data = loader.read(path, AB)
    assert data is not None
    return AbRecord.from_dict(data)


def save_results(path: str, run: RunRecord) -> None:
    """Write a results file (``--energy-json``, ``merge``), checked as a load checks it."""
    loader.save(path, RESULTS, run.to_dict())


def save_ab(path: str, record: AbRecord) -> None:
    """Write an ab file (``ab --json``), checked as a load checks it."""
    loader.save(path, AB, record.to_dict())
