"""The HTML report: one self-contained file, readable offline on a laptop or a phone.

Plots are inline SVG drawn here, tables sort and filter with a few lines of inline
script: no plotting library to install, nothing fetched from the network. The inputs are
the plain documents of the JSON boundary: a results file (``--energy-json``), a baseline,
a ``pytest-energy ab`` file; any of them may be missing. Every figure names its meter,
and estimates say they are modelled.
"""

from __future__ import annotations

import datetime
import html
import math
import statistics
from collections.abc import Iterable
from typing import Any

from .report import budget_text, result_notes, shorten
from .results import TestResult
from .units import percent, si, si_range
from .verdict import file_totals

#: Plots show at most this many tests (tables show all).
PLOT_TOP = 25
VERDICT_COLORS = {
    "regression": "#c62828", "improvement": "#2e7d32", "unchanged": "#757575", "inconclusive": "#ef6c00",
    "new": "#1565c0", "missing": "#6a1b9a", "removed": "#6a1b9a",
}
BASE_COLOR, HEAD_COLOR = "#9e9e9e", "#1565c0"

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:12px;color:#212121}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}.facts dt{font-weight:600}
.estimate{background:#fff3e0;border-left:4px solid #ef6c00;padding:6px 10px}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
th{cursor:pointer;background:#fafafa;position:sticky;top:0}td.n{text-align:right}
input.filter{margin:6px 0;padding:4px;width:min(420px,100%)}svg{max-width:100%;height:auto}
.grid{display:flex;flex-wrap:wrap;gap:12px}.grid figure{margin:0}figcaption{font-size:12px;color:#555}
.tag{border-radius:3px;padding:0 4px;color:#fff}
"""
SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function(t){
 t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
  var b=t.tBodies[0],rows=Array.from(b.rows),up=th.dataset.dir!=='asc';th.dataset.dir=up?'asc':'desc';
  rows.sort(function(x,y){var a=x.cells[i].dataset.v,c=y.cells[i].dataset.v;
   var r=(a!==undefined&&c!==undefined)?(parseFloat(a)-parseFloat(c))
    :x.cells[i].textContent.localeCompare(y.cells[i].textContent);
   return up?r:-r;});rows.forEach(function(r){b.appendChild(r);});});});});
document.querySelectorAll('input.filter').forEach(function(f){f.addEventListener('input',function(){
 var q=f.value.toLowerCase();
 document.getElementById(f.dataset.table).tBodies[0].querySelectorAll('tr').forEach(
  function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});});
"""


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


# -- plots --------------------------------------------------------------------------------

def _scale(low: float, high: float, start: float, end: float) -> Any:
    span = (high - low) or 1.0
    return lambda value: start + (value - low) / span * (end - start)


def bar_chart(rows: list[tuple[str, float, float | None, float | None]], unit: str, meter: str) -> str:
    """Horizontal bars (label, value, CI low, CI high), largest first."""
    if not rows:
        return ""
    width, left, row_h = 760, 330, 20
    top = max(max(v, hi or 0) for _, v, _, hi in rows) or 1.0
    x = _scale(0, top, left, width - 70)
    height = row_h * len(rows) + 34
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" aria-label="bars">']
    for i, (label, value, low, high) in enumerate(rows):
        y = 6 + i * row_h
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" font-size="11">'
                     f'<title>{esc(label)}</title>{esc(shorten(label, 52))}</text>')
        parts.append(f'<rect x="{left}" y="{y + 2}" width="{max(x(value) - left, 1):.1f}" '
                     f'height="{row_h - 6}" fill="#64b5f6"/>')
        if low is not None and high is not None:
            parts.append(f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y + 9}" y2="{y + 9}" '
                         'stroke="#0d47a1" stroke-width="1.5"/>')
        parts.append(f'<text x="{max(x(value), x(high or 0)) + 4:.1f}" y="{y + 13}" font-size="11">'
                     f'{esc(si(value, unit))}</text>')
    parts.append(f'<text x="4" y="{height - 6}" font-size="11" fill="#555">{esc(unit)} per call, '
                 f'bars: median, lines: 95% CI ({esc(meter)})</text></svg>')
    return "".join(parts)


def strip_plot(series: list[tuple[list[float], str]], width: int = 160, height: int = 18) -> str:
    """Each round's sample as a dot (one colour per series), on one scale."""
    values = [v for samples, _ in series for v in samples]
    if len(values) < 2:
        return ""
    x = _scale(min(values), max(values), 4, width - 4)
    dots = "".join(
        f'<circle cx="{x(v):.1f}" cy="{height / 2 + (i * 4 - 2 * (len(series) - 1)):.1f}" r="2.2" '
        f'fill="{color}" fill-opacity="0.7"/>'
        for i, (samples, color) in enumerate(series) for v in samples
    )
    return f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}">{dots}</svg>'


def trend_plot(title: str, points: list[tuple[str, float, float, float]], unit: str, meter: str) -> str:
    """A test's stored runs: median per run with its samples' range, commits on the axis."""
    width, height, left, bottom = 330, 150, 52, 40
    low = min(p[2] for p in points)
    high = max(p[3] for p in points) or 1.0
    x = _scale(0, max(len(points) - 1, 1), left, width - 10)
    y = _scale(low, high, height - bottom, 22)
    parts = [f'<figure><svg viewBox="0 0 {width} {height}" width="{width}" role="img" aria-label="trend">',
             f'<text x="4" y="13" font-size="11"><title>{esc(title)}</title>{esc(shorten(title, 56))}</text>',
             f'<text x="4" y="{y(high) + 4:.1f}" font-size="10">{esc(si(high, unit))}</text>',
             f'<text x="4" y="{y(low) + 4:.1f}" font-size="10">{esc(si(low, unit))}</text>']
    path = " ".join(f"{x(i):.1f},{y(p[1]):.1f}" for i, p in enumerate(points))
    parts.append(f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="1.5"/>')
    for i, (commit, median, lo, hi) in enumerate(points):
        parts.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(lo):.1f}" y2="{y(hi):.1f}" '
                     'stroke="#90caf9"/>')
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(median):.1f}" r="2.5" fill="#1565c0"/>')
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 12}" font-size="9" text-anchor="end" '
                     f'transform="rotate(-40 {x(i):.1f} {height - bottom + 12})">{esc(commit)}</text>')
    parts.append(f"</svg><figcaption>median {esc(unit)}/call per stored run, range of its rounds "
                 f"({esc(meter)})</figcaption></figure>")
    return "".join(parts)


def ratio_plot(
    rows: list[tuple[str, float, float, float, str]], what: str, limit: float | None = None,
) -> str:
    """Ratios with their CI as points and whiskers (label, ratio, low, high, colour) on a
    log scale, a line at 1 and, when given, at the regression limit."""
    rows = [r for r in rows if all(math.isfinite(v) and v > 0 for v in r[1:4])]
    if not rows:
        return ""
    width, left, row_h = 760, 330, 20
    low = min([1.0, *(r[2] for r in rows)]) / 1.05
    high = max([1.0, limit or 1.0, *(r[3] for r in rows)]) * 1.05
    linear = _scale(math.log(low), math.log(high), left, width - 60)

    def x(value: float) -> float:
        return linear(math.log(value))

    height = row_h * len(rows) + 52
    axis = height - 42
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" aria-label="{esc(what)}">',
             f'<line x1="{x(1):.1f}" x2="{x(1):.1f}" y1="0" y2="{axis}" stroke="#999"/>']
    for tick in (low * 1.05, 1.0, high / 1.05):
        parts.append(f'<text x="{x(tick):.1f}" y="{axis + 12}" font-size="10" text-anchor="middle">'
                     f"{tick:.3g}</text>")
    if limit is not None:
        parts.append(f'<line x1="{x(limit):.1f}" x2="{x(limit):.1f}" y1="0" y2="{axis}" '
                     'stroke="#c62828" stroke-dasharray="4 3"/>')
    for i, (label, ratio, lo, hi, color) in enumerate(rows):
        y = 6 + i * row_h + 9
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" font-size="11">'
                     f'<title>{esc(label)}</title>{esc(shorten(label, 52))}</text>')
        parts.append(f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{y}" y2="{y}" stroke="{color}" '
                     'stroke-width="2"/>')
        parts.append(f'<circle cx="{x(ratio):.1f}" cy="{y}" r="3.5" fill="{color}"/>')
        parts.append(f'<text x="{x(hi) + 5:.1f}" y="{y + 4}" font-size="11">{ratio:.3g}</text>')
    limit_note = "; red dashed: the regression limit" if limit else ""
    parts.append(f'<text x="4" y="{height - 6}" font-size="11" fill="#555">{esc(what)}, log scale: dot the '
                 f"ratio, line its 95% CI{limit_note}</text></svg>")
    return "".join(parts)


# -- tables -------------------------------------------------------------------------------

def _cell(text: Any, value: float | None = None) -> str:
    if value is None or not math.isfinite(value):
        return f"<td>{esc(text)}</td>"
    return f'<td class="n" data-v="{value:.6g}">{esc(text)}</td>'


def table(table_id: str, headers: list[str], rows: Iterable[str], filterable: bool = True) -> str:
    box = (f'<input class="filter" data-table="{table_id}" placeholder="filter rows" '
           f'aria-label="filter {table_id}">' if filterable else "")
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return (f'{box}<div class="scroll"><table id="{table_id}" class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _verdict(verdict: str | None) -> str:
    if not verdict:
        return "<td></td>"
    color = VERDICT_COLORS.get(verdict, "#757575")
    return f'<td><span class="tag" style="background:{color}">{esc(verdict)}</span></td>'


def result_row(result: TestResult, verdict: str | None) -> str:
    m = result.measurement
    ci = si_range(m.summary.ci_low, m.summary.ci_high, "J") if m is not None and m.summary.n > 1 else ""
    watts = result.joules / result.seconds if result.seconds > 0 else 0.0
    how = f"{len(m.rounds)} rounds" if m is not None else "real call"
    strip = strip_plot([(result.samples, HEAD_COLOR)]) if m is not None else ""
    return "<tr>" + "".join([
        f"<td>{esc(result.nodeid)}</td>", _cell(how), _cell(("~" if result.below_resolution else "")
                                                          + si(result.joules, "J"), result.joules),
        _cell(ci), _cell(si(watts, "W"), watts), _cell(si(result.seconds, "s"), result.seconds),
        _cell(si(result.co2_g, "g"), result.co2_g), _cell(budget_text(result)), _verdict(verdict),
        _cell(result.meter + (" (estimate)" if result.is_estimate and result.meter != "estimate" else "")),
        _cell("; ".join(result_notes(result))), f"<td>{strip}</td>",
    ]) + "</tr>"


TEST_HEADERS = ["test", "measured", "J/call", "95% CI", "W", "s/call", "gCO2e", "budget", "verdict", "meter",
                "notes", "rounds"]


# -- sections -----------------------------------------------------------------------------

def header_section(results: dict[str, Any] | None, ab: dict[str, Any] | None) -> str:
    source = results or ab or {}
    settings = source.get("settings", {})
    machine = source.get("machine") or {}
    meters = (results or {}).get("meters") or source.get("meter", "")
    facts = [("meters", meters)]
    for name, why in (source.get("unavailable_meters") or {}).items():
        facts.append((f"{name} unavailable", why))
    intensity = settings.get("intensity") or {}
    if intensity:
        facts.append(("carbon intensity", f"{intensity.get('g_per_kwh', 0):g} gCO2e/kWh "
                      f"({intensity.get('source', '')}), PUE {intensity.get('pue', 1):g}"))
    if machine:
        facts.append(("machine", ", ".join(f"{k} {v}" for k, v in sorted(machine.items()) if k != "meters")))
    if results and results.get("idle_watts"):
        facts.append(("idle power subtracted", si(results["idle_watts"], "W")))
    facts += [(f"fault {i + 1}", fault) for i, fault in enumerate((results or {}).get("faults", []))]
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    estimate = "estimate" in str(meters)
    banner = ('<p class="estimate">Figures labelled <b>estimate</b> are modelled from CPU time and memory '
              "(no energy counter on this machine), not measured.</p>" if estimate else "")
    return f'<dl class="facts">{body}</dl>{banner}'


def results_section(results: dict[str, Any]) -> str:
    tests = [TestResult.from_dict(t) for t in results.get("tests", [])]
    if not tests:
        return "<h2>Tests</h2><p>No test was measured.</p>"
    meter = tests[0].meter
    verdicts = {c["nodeid"]: c["verdict"] for c in results.get("comparisons", [])}
    ranked = sorted(tests, key=lambda t: t.joules, reverse=True)
    bars = []
    for t in ranked[:PLOT_TOP]:
        s = t.measurement.summary if t.measurement is not None and t.measurement.summary.n > 1 else None
        bars.append((t.nodeid, t.joules, s.ci_low if s else None, s.ci_high if s else None))
    by_file: dict[str, list[TestResult]] = {}
    for t in tests:
        by_file.setdefault(t.path, []).append(t)
    totals = file_totals(tests)  # the sums of real calls, as the terminal's table has them
    file_rows = []
    for path, group in sorted(by_file.items()):
        joules = totals.get(path, (0.0, ""))[0]
        co2 = sum(t.co2_g for t in group)
        file_rows.append("<tr>" + "".join([
            f"<td>{esc(path)}</td>", _cell(len(group), len(group)), _cell(si(joules, "J"), joules),
            _cell(si(co2, "g"), co2), _verdict(verdicts.get(f"{path} (file total)")),
        ]) + "</tr>")
    total = sum(joules for joules, _ in totals.values())
    return "".join([
        f"<h2>Tests</h2><p><b>{len(tests)}</b> tests measured, {esc(si(total, 'J'))} in their real calls, "
        f"{esc(si(sum(t.co2_g for t in tests), 'g'))}CO2e ({esc(meter)}).</p>",
        f"<h3>Most expensive tests</h3>{bar_chart(bars, 'J', meter)}",
        "<h3>Per file</h3>",
        table("files", ["file", "tests", "J (real calls)", "gCO2e", "verdict"], file_rows),
        "<h3>Per test</h3>",
        table("tests", TEST_HEADERS, (result_row(t, verdicts.get(t.nodeid)) for t in ranked)),
    ])


def history_section(baseline: dict[str, Any]) -> str:
    trends = []
    for nodeid, entry in baseline.get("tests", {}).items():
        runs = entry.get("runs", [])
        if not runs:
            continue
        meter = runs[-1].get("meter", "")
        points = []
        for i, run in enumerate(r for r in runs if r.get("meter") == meter):
            samples = run["samples"]["joules"]
            commit = (run.get("commit") or "")[:7] or f"run {i + 1}"
            points.append((commit, statistics.median(samples), min(samples), max(samples)))
        trends.append((points[-1][1], nodeid, points, meter))
    trends.sort(reverse=True)
    shown = trends[:PLOT_TOP]
    hidden = len(trends) - len(shown)
    more = f"<p>{hidden} more tests are in the baseline file.</p>" if hidden else ""
    plots = "".join(trend_plot(nodeid, points, "J", meter) for _, nodeid, points, meter in shown)
    return (f"<h2>History (baseline)</h2><p>Each test's stored runs, oldest first, the most expensive "
            f"{len(shown)} tests.</p><div class=\"grid\">{plots}</div>{more}")


def _ratio_rows(comparisons: list[dict[str, Any]]) -> list[tuple[str, float, float, float, str]]:
    return [
        (c["nodeid"], 1 + c["change"], 1 + c["change_ci_low"], 1 + c["change_ci_high"],
         VERDICT_COLORS.get(c["verdict"], "#757575"))
        for c in comparisons if c.get("change") is not None and c.get("change_ci_low") is not None
    ]


def ab_section(ab: dict[str, Any]) -> str:
    base, head = ab.get("base", {}), ab.get("head", {})

    def side(s: dict[str, Any]) -> str:
        return f"{s.get('revision')} {(s.get('commit') or '')[:10]}".strip()

    comparisons = sorted(ab.get("comparisons", []), key=lambda c: -(c.get("change") or 0))
    limit = 1 + ab.get("settings", {}).get("max_regression", 0.1)
    samples = {
        t["nodeid"]: (t["base"]["samples"]["joules"], t["head"]["samples"]["joules"]) for t in ab["tests"]
    }
    rows = []
    for c in comparisons:
        pair = samples.get(c["nodeid"])
        strip = strip_plot([(pair[0], BASE_COLOR), (pair[1], HEAD_COLOR)]) if pair else ""
        ratio = 1 + c["change"] if c.get("change") is not None else None
        ci = (f"{1 + c['change_ci_low']:.3g}-{1 + c['change_ci_high']:.3g}"
              if c.get("change_ci_low") is not None else "")
        rows.append("<tr>" + "".join([
            f"<td>{esc(c['nodeid'])}</td>",
            _cell(si(c["baseline_median"], "J") if c.get("baseline_median") is not None else "",
                  c.get("baseline_median")),
            _cell(si(c["current_median"], "J") if c.get("current_median") is not None else "",
                  c.get("current_median")),
            _cell(f"{ratio:.3g}" if ratio is not None else "", ratio), _cell(ci),
            _cell(c.get("pairs") or "", c.get("pairs")), _cell(percent(c.get("change"))),
            _verdict(c["verdict"]), _cell(c.get("meter", "")), f"<td>{strip}</td>",
        ]) + "</tr>")
    meter = ab.get("meter", "")
    return "".join([
        "<h2>Base against head (pytest-energy ab)</h2>",
        f"<p>base {esc(side(base))} &rarr; head {esc(side(head))}, "
        f"measured in turns (base, head, base, ...), {esc(meter)}. Ratio: head/base, the geometric mean of "
        "the paired rounds' ratios.</p>",
        ratio_plot(_ratio_rows(comparisons)[:PLOT_TOP], f"head/base energy per call ({meter})", limit),
        table("ab", ["test", "base J/call", "head J/call", "head/base", "95% CI", "pairs", "change",
                     "verdict", "meter", "rounds (grey base, blue head)"], rows),
    ])


def versus_section(records: list[dict[str, Any]]) -> str:
    parts = ["<h2>Candidates side by side (energy.compare)</h2>"]
    for record in records:
        rows = [
            (c["label"], c["energy_ratio"]["median"], c["energy_ratio"]["ci_low"],
             c["energy_ratio"]["ci_high"], HEAD_COLOR)
            for c in record["candidates"] if c.get("energy_ratio") and c["label"] != record["reference"]
        ]
        parts.append(f"<h3>{esc(record['nodeid'])}</h3>")
        what = f"energy per call relative to {record['reference']} ({record['meter']})"
        parts.append(ratio_plot(rows, what))
        parts.append(table(f"versus-{len(parts)}", ["candidate", "J/call", "s/call", "W", "energy ratio"], (
            "<tr>" + "".join([
                f"<td>{esc(c['label'])}</td>", _cell(si(c["joules"], "J"), c["joules"]),
                _cell(si(c["seconds"], "s"), c["seconds"]), _cell(si(c["watts"], "W"), c["watts"]),
                _cell("1 (reference)" if c["label"] == record["reference"] else
                      f"{c['energy_ratio']['median']:.3g}" if c.get("energy_ratio") else ""),
            ]) + "</tr>" for c in record["candidates"]), filterable=False))
    return "".join(parts)


def render(
    results: dict[str, Any] | None = None,
    baseline: dict[str, Any] | None = None,
    ab: dict[str, Any] | None = None,
) -> str:
    """The whole page from whichever documents are given."""
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"<h1>pytest-energy report</h1><p>Generated {generated}.</p>", header_section(results, ab)]
    if results is not None:
        body.append(results_section(results))
        if results.get("versus"):
            body.append(versus_section(results["versus"]))
    if ab is not None:
        body.append(ab_section(ab))
    if baseline is not None:
        body.append(history_section(baseline))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pytest-energy report</title><style>{STYLE}</style></head><body>{''.join(body)}"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
