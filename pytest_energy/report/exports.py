"""Exports for other tools: the per-test CSV (``--energy-csv``) and the JUnit XML
properties each measured test carries (``--junitxml``)."""

from __future__ import annotations

import csv
import datetime
import io

from ..measurement.carbon import Intensity
from ..results import TestResult
from .totals import test_id

CSV_COLUMNS = ("nodeid", "outcome", "joules", "seconds", "co2_g", "meter", "estimate", "measured",
               "intensity_g_per_kwh", "intensity_source", "timestamp")


def started(result: TestResult) -> str:
    """ISO 8601 UTC time the result's first window opened ('' when not recorded)."""
    when = result.measurement.window[0] if result.measurement is not None and result.measurement.rounds else (
        result.call.started if result.call is not None else None)
    if when is None:
        return ""
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).isoformat(timespec="seconds")


#: A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(text: str) -> str:
    """A text from the run (a test id, a meter's name) as a CSV cell no spreadsheet runs:
    one that would start a formula gets a leading ``'`` (OWASP's advice)."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def csv_text(results: list[TestResult], outcomes: dict[str, tuple[str, str]], intensity: Intensity) -> str:
    """One row per result (a candidate's row names it ``test::label``), joules and seconds
    per call as the tables show them, the test's outcome as pytest reported it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in sorted(results, key=lambda r: r.nodeid):
        writer.writerow([
            text_cell(r.nodeid), outcomes.get(test_id(r), ("",))[0], f"{r.joules:.6g}", f"{r.seconds:.6g}",
            f"{r.co2_g:.6g}", text_cell(r.meter), str(r.is_estimate).lower(),
            f"{len(r.measurement.rounds)} rounds" if r.measurement is not None else "real call",
            f"{intensity.g_per_kwh * intensity.pue:g}", text_cell(intensity.source), started(r),
        ])
    return out.getvalue()


def junit_properties(result: TestResult) -> list[tuple[str, str]]:
    """``energy_joules``, ``energy_seconds``, ``energy_co2_g``, ``energy_meter`` of one
    result (a candidate's names end in ``[label]``), as ``record_property`` adds them."""
    suffix = f"[{result.candidate}]" if result.candidate else ""
    return [
        (f"energy_joules{suffix}", f"{result.joules:.6g}"),
        (f"energy_seconds{suffix}", f"{result.seconds:.6g}"),
        (f"energy_co2_g{suffix}", f"{result.co2_g:.6g}"),
        (f"energy_meter{suffix}", result.meter),
    ]
