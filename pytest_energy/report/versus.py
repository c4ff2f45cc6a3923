"""The terminal table of candidates side by side (``energy.versus``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..units import si


def versus_table(versus_records: Iterable[dict[str, Any]]) -> str:
    """Candidates side by side per test: J and s per call, watts, ratios to the reference."""
    from tabulate import tabulate

    records = sorted(versus_records, key=lambda r: r["nodeid"])
    value_label = next((r["value_label"] for r in records if r["value_label"]), None)
    rows = []
    for record in records:
        for c in record["candidates"]:
            energy, time_ = c["energy_ratio"], c["time_ratio"]
            rows.append([
                record["nodeid"], c["label"],
                si(c["joules"], "J"), si(c["seconds"], "s"), si(c["watts"], "W"),
                "1 (reference)" if c["label"] == record["reference"] else f"{energy['median']:.3g}",
                "" if energy is None else f"{energy['ci_low']:.3g}-{energy['ci_high']:.3g}",
                "" if time_ is None else f"{time_['median']:.3g}",
                record["meter"],
                *([_value(c["value"]) if record["value_label"] else ""] if value_label else []),
            ])
    headers = ["test", "candidate", "J/call", "s/call", "W", "energy ratio", "95% CI", "time ratio", "meter"]
    return tabulate(rows, headers=headers + ([value_label] if value_label else []), disable_numparse=True)


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
