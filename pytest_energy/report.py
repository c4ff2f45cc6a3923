"""Reports: the terminal table (tabulate) and the JSON file.

Reports work on plain result records (dicts), so results from xdist workers and from
the main process are handled alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from .carbon import Intensity
from .config import Budget
from .protocol import Measurement

_PREFIXES = ((1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))


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


def budget_verdict(measurement: Measurement, budget: Budget | None, intensity: Intensity) -> str | None:
    """The failure message when the median per call is over budget, else None."""
    if budget is None:
        return None
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


# -- comparisons with a baseline ---------------------------------------------------------

def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f}%"


def _joules(value: float | None) -> str:
    return "" if value is None else si(value, "J")


def _change_cell(c: dict[str, Any]) -> str:
    if c["change"] is None:
        return ""
    return f"{_pct(c['change'])} ({_pct(c['change_ci_low'])}..{_pct(c['change_ci_high'])})"


def _by_change(comparisons: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(comparisons, key=lambda c: (c["change"] is None, -(c["change"] or 0), c["nodeid"]))


def comparison_table(comparisons: Iterable[dict[str, Any]]) -> str:
    """Baseline against current per test, sorted by change (largest increase first)."""
    from tabulate import tabulate

    rows = [
        [c["nodeid"], _joules(c["baseline_median"]), _joules(c["current_median"]), _change_cell(c),
         "" if c["p_increase"] is None else f"{min(c['p_increase'], c['p_decrease']):.3g}",
         c["meter"], c["verdict"]]
        for c in _by_change(comparisons)
    ]
    headers = ["test", "baseline J/call", "current J/call", "change (95% CI)", "p", "meter", "verdict"]
    return tabulate(rows, headers=headers, disable_numparse=True)


def regression_line(c: dict[str, Any]) -> str:
    """One line naming a regression and the figures behind it."""
    return (
        f"energy regression: {c['nodeid']}: {si(c['baseline_median'], 'J')} -> "
        f"{si(c['current_median'], 'J')} per call, {_change_cell(c)}, p={c['p_increase']:.2g}, "
        f"above the history's {c['history_spread'] * 100:.1f}% spread and reaching "
        f"+{c['max_regression'] * 100:g}% within its uncertainty ({c['meter']})"
    )


def verdict_counts(comparisons: Iterable[dict[str, Any]]) -> str:
    """E.g. ``1 regression, 4 unchanged, 1 new``."""
    counts: dict[str, int] = {}
    for c in comparisons:
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    order = ("regression", "improvement", "unchanged", "inconclusive", "new", "missing")
    parts = []
    for verdict in order:
        if counts.get(verdict):
            n = counts[verdict]
            parts.append(f"{n} {verdict}{'s' if n > 1 and verdict in ('regression', 'improvement') else ''}")
    return ", ".join(parts) or "nothing compared"


def markdown_summary(
    records: list[dict[str, Any]], comparisons: list[dict[str, Any]], meters: str,
    intensity: Intensity, notes: list[str],
) -> str:
    """A pull-request-ready summary: totals, regressions first, the full table folded."""
    total = sum(r["summary"]["median"] for r in records)
    co2 = sum(r["co2_g"] for r in records)
    lines = ["## Energy report (pytest-energy)", ""]
    lines.append(f"**{len(records)} tests measured**: {si(total, 'J')} per call in total, "
                 f"{si(co2, 'g')}CO2e. Meter: `{meters}`. Carbon intensity: {intensity.describe()}.")
    compared = [c for c in comparisons if c["verdict"] not in ("new", "missing")]
    if compared:
        before = sum(c["baseline_median"] for c in compared)
        after = sum(c["current_median"] for c in compared)
        lines.append(f"Against the baseline ({len(compared)} tests in both): {si(before, 'J')} -> "
                     f"{si(after, 'J')} ({_pct(after / before - 1) if before else 'n/a'}); "
                     f"{verdict_counts(comparisons)}.")
    lines += ["", *[f"> {note}" for note in notes]]
    regressions = [c for c in _by_change(comparisons) if c["verdict"] == "regression"]
    if regressions:
        lines += ["", "### :warning: Regressions", "",
                  "| test | baseline | current | change (95% CI) | p |", "|---|---|---|---|---|"]
        lines += [f"| `{c['nodeid']}` | {_joules(c['baseline_median'])} | {_joules(c['current_median'])} "
                  f"| {_change_cell(c)} | {c['p_increase']:.2g} |" for c in regressions]
    if comparisons:
        lines += ["", "<details><summary>All comparisons</summary>", "",
                  "| test | baseline | current | change (95% CI) | verdict |", "|---|---|---|---|---|"]
        lines += [
            f"| `{c['nodeid']}` | {_joules(c['baseline_median'])} | {_joules(c['current_median'])} "
            f"| {_change_cell(c)} | {c['verdict']} |" for c in _by_change(comparisons)
        ]
        lines += ["", "</details>"]
    lines += ["", "<details><summary>All measured tests</summary>", "", "```",
              terminal_table(records), "```", "", "</details>", ""]
    return "\n".join(lines)


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
