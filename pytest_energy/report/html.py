"""The HTML report: one self-contained file, readable offline on a laptop or a phone.

Plots are inline SVG drawn here, tables sort and filter with a few lines of inline
script: no plotting library to install, nothing fetched from the network. The inputs are
typed records: a run (:class:`~pytest_energy.runs.RunRecord`), a baseline, an ab run
(:class:`~pytest_energy.runs.AbRecord`); any of them may be missing. Every figure names its meter,
and estimates say they are modelled.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable
from typing import Any

from ..history import Baseline
from ..judge import figures
from ..judge.rules import Comparison, Verdict
from ..judge.suite import FILE_TOTAL
from ..results import TestResult
from ..runs import AbRecord, RunRecord
from ..units import percent, si, si_range
from .cells import ratio_ci_cell
from .flame import profiles_section
from .html_assets import SCRIPT, STYLE
from .html_summary import row_id, summary_section
from .ids import readable_ids
from .svg import bar_chart, esc, ratio_plot, strip_plot
from .text import budget_text, result_notes
from .totals import BASIS, file_rows, test_id, tests_word, total_row
from .trend import series, trend_section

#: Plots show at most this many tests (tables show all).
PLOT_TOP = 25
VERDICT_COLORS = {
    Verdict.REGRESSION: "#c62828", Verdict.IMPROVEMENT: "#2e7d32", Verdict.WITHIN_LIMIT: "#9e9d24",
    Verdict.UNCHANGED: "#757575",
    Verdict.INCONCLUSIVE: "#ef6c00", Verdict.NEW: "#1565c0", Verdict.MISSING: "#6a1b9a",
    Verdict.REMOVED: "#6a1b9a",
}
BASE_COLOR, HEAD_COLOR = "#9e9e9e", "#1565c0"
#: The banner for each kind of modelled figure.
MODELLED = {
    "estimate": "Figures labelled <b>estimate</b> are modelled from CPU time and memory (no energy counter "
                "on this machine), not measured.",
    "simulated": "Figures labelled <b>simulated</b> are modelled from a CPU simulator's counts of "
                 "instructions and cache misses (valgrind's callgrind), the same on every run, not measured. "
                 "They cannot see sleeping, I/O, GPU work, the speed-up of threads, hardware prefetch or "
                 "subprocesses.",
}

# -- tables -------------------------------------------------------------------------------

def _cell(text: Any, value: float | None = None, cls: str = "") -> str:
    classes = " ".join(filter(None, ["n" if value is not None and math.isfinite(value) else "", cls]))
    attr = f' class="{classes}"' if classes else ""
    if value is None or not math.isfinite(value):
        return f"<td{attr}>{esc(text)}</td>"
    return f'<td{attr} data-v="{value:.6g}">{esc(text)}</td>'


#: Characters of a test's id shown in its row (as the terminal shortens them); all on hover.
NAME_CHARS = 44


def _name(nodeid: str, shown: str | None = None) -> str:
    """The name cell: the id as shown (cut to the column's width on screen), the full id on hover."""
    return f'<td class="id" title="{esc(nodeid)}">{esc(nodeid if shown is None else shown)}</td>'


#: Columns that come after the key figures and hide on narrow screens.
LOW_PRIORITY = {"95% CI", "W", "s/call", "gCO2e", "budget", "measured", "meter", "notes", "rounds", "pairs",
                "change", "base J/call", "base SCI g/call", "rounds (grey base, blue head)"}


def table(table_id: str, headers: list[str], rows: Iterable[str], filterable: bool = True,
          low: Iterable[str] = ()) -> str:
    """A sortable table; the ``low`` headers' columns (their cells of class ``lo``) hide on narrow screens."""
    hidden = set(low)
    box = (f'<input class="filter" data-table="{table_id}" placeholder="filter rows" '
           f'aria-label="filter {table_id}">' if filterable else "")
    hide = ' class="lo"'
    head = "".join(f'<th aria-sort="none"{hide if h in hidden else ""}>{esc(h)}</th>' for h in headers)
    return (f'{box}<div class="scroll"><table id="{table_id}" class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


#: Outcomes shown in place of a verdict: a test that did not pass is not "unchanged".
OUTCOME_COLORS = {"failed": "#c62828", "error": "#c62828", "xpassed": "#ef6c00"}


def _tag(text: str, color: str, title: str = "") -> str:
    hover = f' title="{esc(title)}"' if title else ""
    return f'<span class="tag" style="background:{color}"{hover}>{esc(text)}</span>'


def _verdict(verdict: Verdict | None, outcome: tuple[str, str] | None = None) -> str:
    """The verdict's tag; a test that failed, errored or xpassed shows that instead."""
    if outcome is not None and outcome[0] in OUTCOME_COLORS:
        return f'<td class="verdict">{_tag(outcome[0], OUTCOME_COLORS[outcome[0]], outcome[1])}</td>'
    if not verdict:
        return '<td class="verdict"></td>'
    return f'<td class="verdict">{_tag(str(verdict), VERDICT_COLORS.get(verdict, "#757575"))}</td>'


def result_row(result: TestResult, verdict: Verdict | None, outcome: tuple[str, str] | None = None,
               shown: str | None = None) -> str:
    """One test's row: name, J/call and verdict first, the rest after."""
    m = result.measurement
    ci = si_range(m.summary.ci_low, m.summary.ci_high, "J") if m is not None and m.summary.n > 1 else ""
    watts = result.joules / result.seconds if result.seconds > 0 else 0.0
    how = f"{len(m.rounds)} rounds" if m is not None else "real call"
    strip = strip_plot([(result.samples, HEAD_COLOR)]) if m is not None else ""
    joules = ("~" if result.below_resolution else "") + si(result.joules, "J")
    meter = result.meter + (" (estimate)" if result.is_estimate and result.meter != "estimate" else "")
    return f'<tr id="{row_id("tests", result.nodeid)}">' + "".join([
        _name(result.nodeid, shown), _cell(joules, result.joules, "j"), _verdict(verdict, outcome),
        _cell(ci, cls="lo"), _cell(si(result.seconds, "s"), result.seconds, "lo"),
        _cell(si(watts, "W"), watts, "lo"), _cell(si(result.co2_g, "g"), result.co2_g, "lo"),
        _cell(budget_text(result), cls="lo"), _cell(how, cls="lo"), _cell(meter, cls="lo"),
        _cell("; ".join(result_notes(result)), cls="lo"), f'<td class="lo">{strip}</td>',
    ]) + "</tr>"


TEST_HEADERS = ["test", "J/call", "verdict", "95% CI", "s/call", "W", "gCO2e", "budget", "measured", "meter",
                "notes", "rounds"]


# -- sections -----------------------------------------------------------------------------

def header_section(run: RunRecord | None, ab: AbRecord | None) -> str:
    meters = run.meters if run is not None else ab.meter if ab is not None else ""
    machine = (run.machine if run is not None else ab.machine if ab is not None else {}) or {}
    settings = (run.settings if run is not None else ab.settings if ab is not None else {}) or {}
    facts = [("meters", meters)]
    for name, why in (run.unavailable_meters if run is not None else {}).items():
        facts.append((f"{name} unavailable", why))
    intensity = settings.get("intensity") or {}
    if intensity:
        facts.append(("carbon intensity", f"{intensity.get('g_per_kwh', 0):g} gCO2e/kWh "
                      f"({intensity.get('source', '')}), PUE {intensity.get('pue', 1):g}"))
    if machine:
        facts.append(("machine", ", ".join(f"{k} {v}" for k, v in sorted(machine.items()) if k != "meters")))
    if run is not None and run.idle_watts:
        facts.append(("idle power subtracted", si(run.idle_watts, "W")))
    facts += [(f"fault {i + 1}", fault) for i, fault in enumerate(run.faults if run is not None else [])]
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    banner = "".join(f'<p class="estimate">{text}</p>' for label, text in MODELLED.items()
                     if label in str(meters))
    return f'<dl class="facts">{body}</dl>{banner}'


def results_section(run: RunRecord) -> str:
    tests = run.tests
    if not tests:
        return "<h2>Tests</h2><p>No test was measured.</p>"
    meter = tests[0].meter
    verdicts = {c.nodeid: c.verdict for c in run.comparisons}
    ranked = sorted(tests, key=lambda t: t.joules, reverse=True)
    bars = []
    for t in ranked[:PLOT_TOP]:
        s = t.measurement.summary if t.measurement is not None and t.measurement.summary.n > 1 else None
        bars.append((t.nodeid, t.joules, s.ci_low if s else None, s.ci_high if s else None))
    file_rows_html = [
        f'<tr id="{row_id("files", row.name)}">' + "".join([
            f"<td>{esc(row.name)}</td>", _cell(si(row.joules, "J"), row.joules, "j"),
            _verdict(verdicts.get(f"{row.name}{FILE_TOTAL}")), _cell(row.count, row.tests),
            _cell(si(row.co2_g, "g"), row.co2_g, "lo"),
        ]) + "</tr>"
        for row in file_rows(tests)
    ]
    total = total_row(tests)
    shown = readable_ids([t.nodeid for t in ranked], NAME_CHARS)
    return "".join([
        f"<h2>Tests</h2><p><b>{esc(tests_word(total))}</b> measured, {esc(si(total.joules, 'J'))} in their "
        f"real calls, {esc(si(total.co2_g, 'g'))}CO2e ({esc(meter)}).</p>",
        f"<h3>Most expensive tests</h3>{bar_chart(bars, 'J', meter)}",
        "<h3>Per file</h3>",
        table("files", ["file", BASIS, "verdict", "tests", "gCO2e"], file_rows_html, low={"gCO2e"}),
        "<h3>Per test</h3>",
        table("tests", TEST_HEADERS, (result_row(t, verdicts.get(t.nodeid), run.outcomes.get(test_id(t)),
                                                 shown[t.nodeid]) for t in ranked), low=LOW_PRIORITY),
    ])


def _sci_row(result: TestResult) -> str:
    sci = result.sci
    assert sci is not None
    pairs = ((sci.energy_j, "J"), (sci.seconds, "s"), (sci.operational_g, "g"), (sci.embodied_g, "g"),
             (sci.sci_g, "g"))
    cells = "".join(_cell(si(value, unit), value) for value, unit in pairs)
    return f"<tr><td>{esc(result.nodeid)}</td>{cells}{_cell('modelled' if sci.modelled else '')}</tr>"


def sci_section(run: RunRecord) -> str:
    """Software Carbon Intensity: the session's figure, every term's source, each test's O, M, SCI."""
    session = run.sci()
    if session is None:
        return ""
    facts = "".join(f"<dt>{esc(name)}</dt><dd>{esc('' if term['value'] is None else term['value'])} "
                    f"({esc(term['source'])})</dd>" for name, term in session["terms"].items())
    tests = sorted((t for t in run.tests if t.sci), key=lambda t: -(t.sci.sci_g if t.sci else 0.0))
    figures = {key: esc(si(session[key], "g")) for key in ("sci_g", "operational_g", "embodied_g")}
    modelled = " <b>Modelled</b>: E comes from a meter that models energy." if session["modelled"] else ""
    return "".join([
        "<h2>Software Carbon Intensity (ISO/IEC 21031:2024)</h2>",
        "<p>SCI = E &times; I &times; PUE + M per R, R = one call of the test. The session, "
        f"{esc(session['functional_unit'])} ({session['tests']}): <b>{figures['sci_g']}CO2e</b> = "
        f"operational {figures['operational_g']} + embodied {figures['embodied_g']}.{modelled}</p>",
        f'<dl class="facts">{facts}</dl>',
        table("sci", ["test", "E", "time", "operational gCO2e", "embodied gCO2e", "SCI gCO2e", ""],
              (_sci_row(t) for t in tests)),
    ])


def history_section(baseline: Baseline, run: RunRecord | None = None) -> str:
    """Every stored test's runs, this run's included, on one chart."""
    found = series(baseline, run.tests if run is not None else [])
    meters = sorted({runs[-1].meter for runs in baseline.tests.values() if runs})
    return ("<h2>History (baseline)</h2><p>Each test's J/call in its stored runs and this run, as a ratio to "
            "its own median (1 = its median), oldest first, on one scale.</p>"
            + trend_section(found, ", ".join(meters)))


def _ratio_rows(comparisons: list[Comparison]) -> list[tuple[str, float, float, float, str]]:
    return [
        (c.nodeid, 1 + c.change, 1 + c.change_ci_low, 1 + c.change_ci_high,
         VERDICT_COLORS.get(c.verdict, "#757575"))
        for c in comparisons
        if c.change is not None and c.change_ci_low is not None and c.change_ci_high is not None
    ]


def ab_section(ab: AbRecord) -> str:
    comparisons = sorted(ab.comparisons, key=lambda c: -(c.change or 0))
    limit = 1 + ab.max_regression
    samples = {h.nodeid: (b.samples, h.samples) for b, h in ab.pairs}
    rows = []
    shown = readable_ids([c.nodeid for c in comparisons], NAME_CHARS)
    judged = figures.of(comparisons[0]) if comparisons else figures.JOULES
    unit, quantity = judged.unit, "SCI" if judged is figures.SCI else "energy"
    for c in comparisons:
        pair = samples.get(c.nodeid)
        strip = strip_plot([(pair[0], BASE_COLOR), (pair[1], HEAD_COLOR)]) if pair else ""
        ratio = 1 + c.change if c.change is not None else None
        ci = ratio_ci_cell(c)
        rows.append(f'<tr id="{row_id("ab", c.nodeid)}">' + "".join([
            _name(c.nodeid, shown[c.nodeid]),
            _cell(si(c.current_median, unit) if c.current_median is not None else "", c.current_median, "j"),
            _verdict(c.verdict), _cell(f"{ratio:.3g}" if ratio is not None else "", ratio),
            _cell(si(c.baseline_median, unit) if c.baseline_median is not None else "", c.baseline_median,
                  "lo"),
            _cell(ci, cls="lo"), _cell(c.pairs or "", c.pairs, "lo"), _cell(percent(c.change), cls="lo"),
            _cell(c.meter, cls="lo"), f'<td class="lo">{strip}</td>',
        ]) + "</tr>")
    meter = ab.meter
    return "".join([
        "<h2>Base against head (pytest-energy ab)</h2>",
        f"<p>{esc(ab.base.describe('base'))} &rarr; {esc(ab.head.describe('head'))}, "
        f"measured in turns (base, head, base, ...), {esc(meter)}. Ratio: head/base, the geometric mean of "
        "the paired rounds' ratios.</p>",
        ratio_plot(_ratio_rows(comparisons)[:PLOT_TOP], f"head/base {quantity} per call ({meter})", limit),
        table("ab", ["test", f"head {judged.column}", "verdict", "head/base", f"base {judged.column}",
                     "95% CI", "pairs", "change", "meter", "rounds (grey base, blue head)"], rows,
              low=LOW_PRIORITY),
    ])


def versus_section(records: list[dict[str, Any]]) -> str:
    parts = ["<h2>Candidates side by side (energy.versus)</h2>"]
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
    run: RunRecord | None = None,
    baseline: Baseline | None = None,
    ab: AbRecord | None = None,
) -> str:
    """The whole page from whichever records are given."""
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"<h1>pytest-energy report</h1><p>Generated {generated}.</p>", summary_section(run, ab),
            header_section(run, ab)]
    if run is not None:
        body.append(results_section(run))
        body.append(sci_section(run))
        if run.versus:
            body.append(versus_section(run.versus))
        body.append(profiles_section(run.profiles, run.profile_diffs, "stored profile"))
    if ab is not None:
        body.append(ab_section(ab))
        body.append(profiles_section([], ab.profile_diffs))
    if baseline is not None:
        body.append(history_section(baseline, run))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pytest-energy report</title><style>{STYLE}</style></head><body>{''.join(body)}"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
