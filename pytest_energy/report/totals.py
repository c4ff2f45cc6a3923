"""One rule for counts and totals, used by the terminal, markdown and HTML reports.

Tests are tests and candidates are candidates: an ``energy.versus`` test counts once,
with its candidates counted apart. A file's row is the sum of what its tests add, and
the TOTAL the sum of the file rows, joules and gCO2e on the same basis: a test's real
call, or, for a test measured through the ``energy`` fixture (no real call of its own),
its figure per call (one call of each candidate).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..results import TestResult

#: How the totals' joules are counted, for column headers and captions.
BASIS = "J (a call each)"
BASIS_NOTE = "a test's real call; through the energy fixture, its figure per call"


def test_id(result: TestResult) -> str:
    """The test's node id (a candidate's without its ``::label``)."""
    return result.nodeid[: -len(result.candidate) - 2] if result.candidate else result.nodeid


def counted_joules(result: TestResult) -> float:
    """What one result adds to its file's total (see the module's rule)."""
    return result.call.joules if result.call is not None else result.joules


def counted_co2_g(result: TestResult) -> float:
    """The gCO2e of :func:`counted_joules`, at the intensity the result's figure used."""
    if result.call is None or result.joules <= 0:
        return result.co2_g
    return result.co2_g * result.call.joules / result.joules


@dataclass(frozen=True)
class Row:
    """A file's row, or the TOTAL."""

    name: str
    tests: int
    candidates: int
    joules: float
    co2_g: float

    @property
    def count(self) -> str:
        """``3`` or ``3 (4 candidates)``."""
        return f"{self.tests} ({self.candidates} candidates)" if self.candidates else str(self.tests)


def _row(name: str, results: list[TestResult]) -> Row:
    return Row(
        name, len({test_id(r) for r in results}), sum(1 for r in results if r.candidate),
        sum(counted_joules(r) for r in results), sum(counted_co2_g(r) for r in results),
    )


def file_rows(results: list[TestResult]) -> list[Row]:
    """One row per file, most energy first."""
    by_file: dict[str, list[TestResult]] = {}
    for result in results:
        by_file.setdefault(result.path, []).append(result)
    rows = [_row(path, group) for path, group in by_file.items()]
    return sorted(rows, key=lambda row: (-row.joules, row.name))


def total_row(results: list[TestResult]) -> Row:
    """The TOTAL: the sum of the file rows."""
    rows = file_rows(results)
    return Row("TOTAL", sum(r.tests for r in rows), sum(r.candidates for r in rows),
               sum(r.joules for r in rows), sum(r.co2_g for r in rows))


def tests_word(row: Row) -> str:
    """``13 tests`` or ``13 tests (4 candidates)``."""
    word = "test" if row.tests == 1 else "tests"
    return f"{row.tests} {word}" + (f" ({row.candidates} candidates)" if row.candidates else "")
