"""Reports: the terminal table (tabulate) and the JSON file.

Reports work on plain result records (dicts), so results from xdist workers and from
the main process are handled alike.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from typing import Any

from .carbon import Intensity
from .config import Budget
from .protocol import Measurement

_PREFIXES = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))


def _scale(value: float) -> tuple[float, str]:
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return scale, prefix
    return _PREFIXES[-1]


def si(value: float, unit: str) -> str:
    """``0.00312, "J"`` -> ``3.12 mJ``; three significant figures."""
    if value == 0:
        return f"0 {unit}"
    scale, prefix = _scale(value)
    return f"{value / scale:.3g} {prefix}{unit}"


def si_range(low: float, high: float, unit: str) -> str:
    """``0.0059, 0.0065, "J"`` -> ``5.9-6.5 mJ`` (one prefix for both ends)."""
    scale, prefix = _scale(max(abs(low), abs(high)) or 1.0)
    return f"{low / scale:.3g}-{high / scale:.3g} {prefix}{unit}"


def _ci_text(n: int, low: float, high: float) -> str:
    return si_range(low, high, "J") if n > 1 else "n/a, 1 round"


def budget_verdict(measurement: Measurement, budget: Budget, intensity: Intensity) -> str | None:
    """The failure message when the median per call is over budget, else None."""
    summary = measurement.summary
    ci = f"95% CI {_ci_text(summary.n, summary.ci_low, summary.ci_high)}, {measurement.meter}"
    if budget.joules is not None and summary.median > budget.joules:
        return f"energy budget exceeded: {si(summary.median, 'J')} ({ci}) > {budget.joules:g} J"
    co2 = intensity.co2_g(summary.median)
    if budget.co2_g is not None and co2 > budget.co2_g:
        return (
            f"energy budget exceeded: {co2:.3g} gCO2e from {si(summary.median, 'J')} ({ci}; "
            f"{intensity.describe()}) > {budget.co2_g:g} gCO2e"
        )
    return None


def result_record(
    nodeid: str, measurement: Measurement, intensity: Intensity, budget: Budget | None,
    over_budget: str | None,
) -> dict[str, Any]:
    """One test's JSON-ready record."""
    record = {"nodeid": nodeid, "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
              **measurement.to_dict()}
    record["co2_g"] = intensity.co2_g(measurement.summary.median)
    if budget is not None:
        record["budget"] = {
            "joules": budget.joules, "co2_g": budget.co2_g,
            "status": "over" if over_budget else "ok", "message": over_budget,
        }
    return record


def _budget_cell(record: dict[str, Any]) -> str:
    budget = record.get("budget")
    if not budget:
        return ""
    limits = " ".join(
        f"{budget[key]:g} {unit}" for key, unit in (("joules", "J"), ("co2_g", "gCO2e"))
        if budget[key] is not None
    )
    return f"{'OVER' if budget['status'] == 'over' else 'ok'} ({limits})"


def terminal_table(records: Iterable[dict[str, Any]], top: int | None = None) -> str:
    """Per-test table sorted by energy per call, with a total row over all tests."""
    from tabulate import tabulate  # imported only when a report is printed

    ordered = sorted(records, key=lambda r: r["summary"]["median"], reverse=True)
    rows = []
    for record in ordered[:top] if top else ordered:
        summary = record["summary"]
        rows.append([
            record["nodeid"], len(record["rounds"]), si(summary["median"], "J"),
            _ci_text(summary["n"], summary["ci_low"], summary["ci_high"]),
            f"{summary['cv'] * 100:.1f}%" if summary["n"] > 1 else "", si(record["watts"], "W"),
            si(record["seconds_summary"]["median"], "s"), si(record["co2_g"], "g"),
            record["meter"], _budget_cell(record),
        ])
    meters = sorted({r["meter"] for r in ordered})
    rows.append([
        f"TOTAL ({len(ordered)} tests)", "", si(sum(r["summary"]["median"] for r in ordered), "J"),
        "", "", "", si(sum(r["seconds_summary"]["median"] for r in ordered), "s"),
        si(sum(r["co2_g"] for r in ordered), "g"), "+".join(meters), "",
    ])
    headers = ["test", "rounds", "J/call", "95% CI", "CV", "W", "s/call", "gCO2e", "meter", "budget"]
    return tabulate(rows, headers=headers, disable_numparse=True)


def write_json_atomic(path: str, data: Any) -> None:
    """Write ``data`` as stable, sorted JSON through a temporary file and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
