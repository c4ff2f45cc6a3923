"""The terminal table of candidates side by side (``energy.versus``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..units import si


def versus_table(versus_records: Iterable[dict[str, Any]], width: int | None = None) -> str:
    """Candidates side by side per test: J and s per call, watts, ratios to the reference;
    each test's id on its first candidate's row. Fitted to ``width`` (:func:`.text.fitted_table`):
    ids and labels shortened, then the meter (said below when there is one), watts, CI, time
    ratio and time per call left out."""
    from .text import fitted_table

    records = sorted(versus_records, key=lambda r: r["nodeid"])
    value_label = next((r["value_label"] for r in records if r["value_label"]), None)
    meters = {record["meter"] for record in records}
    rows = []
    for record in records:
        for i, c in enumerate(record["candidates"]):
            energy, time_ = c["energy_ratio"], c["time_ratio"]
            rows.append([
                "" if i else record["nodeid"], c["label"],
                si(c["joules"], "J"), si(c["seconds"], "s"), si(c["watts"], "W"),
                "1 (reference)" if c["label"] == record["reference"] else f"{energy['median']:.3g}",
                "" if energy is None else f"{energy['ci_low']:.3g}-{energy['ci_high']:.3g}",
                "" if time_ is None else f"{time_['median']:.3g}",
                record["meter"],
                *([_value(c["value"]) if record["value_label"] else ""] if value_label else []),
            ])
    headers = ["test", "candidate", "J/call", "s/call", "W", "energy ratio", "95% CI", "time ratio", "meter",
               *([value_label] if value_label else [])]
    optional = (*(["meter"] if len(meters) == 1 else []), "W", "95% CI", "time ratio", "s/call")
    table = fitted_table(rows, headers, width, (0, 1), optional)
    if len(meters) == 1 and "meter" not in table.splitlines()[0].split():
        table += f"\nmeter: {meters.pop()}"
    return table


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
