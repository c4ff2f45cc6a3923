"""Text reports: the terminal tables (tabulate) and the markdown summaries.

One screen for a big suite: per file first, then the most expensive tests; tests with a
budget, or whose repetition failed or was cut, are always listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from ..judge.figures import JOULES, Figure, of
from ..judge.rules import Comparison, Verdict
from ..measurement.carbon import Intensity
from ..results import CUT, NOT_REPEATABLE, TestResult
from ..units import percent, si, si_range
from .cells import by_change, change_cell, change_ci_cell, in_unit, p_cell, ratio, ratio_cell, ratio_ci_cell
from .ids import drop_common_dir, short_ids
from .markdown import COMMENT_LIMIT, Capped, code, fenced, one_line, sci_markdown, shorten
from .totals import BASIS, file_rows, tests_word, total_row

#: Suites with more tests than this show only the top :data:`DEFAULT_TOP` tests.
LONG_SUITE = 50
DEFAULT_TOP = 20


def _ci_cell(result: TestResult) -> str:
    if result.measurement is None:
        return ""
    s = result.measurement.summary
    return si_range(s.ci_low, s.ci_high, "J") if s.n > 1 else "n/a, 1 round"


def _figure_cell(result: TestResult) -> str:
    """J/call, marked ``~`` when one real call is below the meters' resolution."""
    return ("~" if result.below_resolution else "") + si(result.joules, "J")


def _how_cell(result: TestResult) -> str:
    if result.measurement is not None:
        return f"{len(result.measurement.rounds)} rounds"
    return "real call"


def result_notes(result: TestResult) -> list[str]:
    """What a reader must know about a figure: resolution, sharing, failed repetition."""
    notes = []
    if result.below_resolution:
        notes.append("below resolution")
    if result.shared:
        notes.append("shared: other workers ran meanwhile")
    if result.repeat in (NOT_REPEATABLE, CUT):
        notes.append(f"{result.repeat}: {result.repeat_reason}")
    elif result.repeat_reason:  # repeated, with a note on how
        notes.append(result.repeat_reason)
    return notes


def budget_text(result: TestResult) -> str:
    """``ok (5 J)`` or ``OVER (5 J 0.01 gCO2e)``; '' without a budget."""
    budget = result.budget
    if budget is None:
        return ""
    pairs = ((budget.joules, "J"), (budget.co2_g, "gCO2e"), (budget.sci_g, "gCO2e SCI"))
    limits = " ".join(f"{value:g} {unit}" for value, unit in pairs if value is not None)
    return f"{'OVER' if budget.status == 'over' else 'ok'} ({limits})"


def _note_cell(result: TestResult) -> str:
    budget = budget_text(result)
    return "; ".join([*result_notes(result), *([f"budget {budget}"] if budget else [])])


#: A shortened column keeps at least this many characters.
MIN_SHORTENED = 24
#: Other shortened columns (notes) keep at least this many.
MIN_NOTE = 12
#: The tests table leaves columns out before an id gets shorter than this.
READABLE_ID = 36


def _excess(table: str, width: int | None) -> int:
    return max(len(line) for line in table.splitlines()) - width if width else 0


def _shortened(rows: list[list[str]], column: int, limit: int) -> list[str]:
    """A column's cells in at most ``limit`` characters: ids (column 0) as people read them."""
    cells = [str(row[column]) for row in rows]
    return short_ids(cells, limit) if column == 0 else [shorten(cell, limit) for cell in cells]


def _with_column(rows: list[list[str]], column: int, cells: list[str]) -> list[list[str]]:
    return [[*row[:column], cell, *row[column + 1:]] for cell, row in zip(cells, rows, strict=True)]


def _without_column(
    headers: list[str], rows: list[list[str]], name: str,
) -> tuple[list[str], list[list[str]]]:
    column = headers.index(name)
    return [*headers[:column], *headers[column + 1:]], [[*row[:column], *row[column + 1:]] for row in rows]


def fitted_table(
    rows: list[list[str]], headers: list[str], width: int | None, columns: tuple[int, ...],
    optional: Sequence[str] = (), readable: int = MIN_SHORTENED,
) -> str:
    """A tabulate table of cells on one line each (control characters shown as escapes).
    When wider than ``width``: the ``optional`` columns (by header) are left out in that
    order while ids of ``readable`` characters would not fit; then the given ``columns``
    are shortened until it fits: ids (column 0, the way :mod:`.ids` reads them) to
    ``readable``, the others (notes) to :data:`MIN_NOTE`, then ids to :data:`MIN_SHORTENED`."""
    from tabulate import tabulate

    rows = [[one_line(str(cell)) for cell in row] for row in rows]  # an id's newline must not break a row
    if rows and _excess(tabulate(rows, headers=headers, disable_numparse=True), width) > 0:
        rows = _with_column(rows, 0, drop_common_dir([row[0] for row in rows]))
    shrinking = [headers[column] for column in columns]
    for name in optional:  # while even the shortest ids do not fit
        narrowest = rows
        for column in map(headers.index, shrinking):
            narrowest = _with_column(narrowest, column, _shortened(rows, column, readable))
        if _excess(tabulate(narrowest, headers=headers, disable_numparse=True), width) <= 0:
            break
        if name in headers:
            headers, rows = _without_column(headers, rows, name)
    table = tabulate(rows, headers=headers, disable_numparse=True)
    # in turn, ids to ``readable`` and the other columns to MIN_NOTE, then ids to MIN_SHORTENED
    for id_floor in (readable, MIN_SHORTENED):
        for column in map(headers.index, shrinking):
            excess = _excess(table, width)
            longest = max((len(row[column]) for row in rows), default=0)
            least = id_floor if column == 0 else MIN_NOTE
            if excess <= 0 or longest <= least:
                continue
            limit = max(least, longest - excess)
            rows = _with_column(rows, column, _shortened(rows, column, limit))
            table = tabulate(rows, headers=headers, disable_numparse=True)
    return table


def table_size(rows: int, top: int | None, verbose: bool, columns: int) -> tuple[int | None, int | None]:
    """Rows (:func:`default_top`) and width of a command's table: the terminal's
    ``columns``, or None with ``verbose`` (full ids)."""
    return default_top(rows, top, verbose), None if verbose else columns


def default_top(count: int, top: int | None, verbose: bool) -> int | None:
    """How many tests the table shows: all with -v, else --energy-top, else 20 past 50 tests."""
    if verbose:
        return None
    if top is not None:
        return top
    return DEFAULT_TOP if count > LONG_SUITE else None


def file_table(results: list[TestResult], regressions: Iterable[str] = (), width: int | None = None) -> str:
    """Per file: tests, the sum of what they add (:mod:`.totals`), gCO2e, regressions;
    the TOTAL is the sum of the file rows."""
    failing = list(regressions)
    rows = []
    for row in file_rows(results):
        path = row.name
        count = sum(1 for key in failing if key.split("::", 1)[0] == path or key.startswith(f"{path} "))
        rows.append([path, row.count, si(row.joules, "J"), si(row.co2_g, "g"), count or ""])
    total = total_row(results)
    label = f"TOTAL ({total.tests} test{'' if total.tests == 1 else 's'})"
    rows.append([label, total.count, si(total.joules, "J"), si(total.co2_g, "g"), ""])
    if not failing:  # no empty column
        return fitted_table([row[:-1] for row in rows], ["file", "tests", BASIS, "gCO2e"], width, (0,))
    return fitted_table(rows, ["file", "tests", BASIS, "gCO2e", "regressions"], width, (0,))


def tests_table(
    results: list[TestResult], top: int | None = None, width: int | None = None,
) -> str:
    """The most expensive tests (all when ``top`` is None), then every test with a
    budget or a failed repetition; sorted by energy per call; one line counts the rest
    (and how many of them the time budget cut). Fitted to ``width``."""
    ordered = sorted(results, key=lambda r: r.joules, reverse=True)
    shown = ordered if top is None else ordered[:top]
    shown += [r for r in ordered[len(shown):] if r.budget is not None or r.repeat == NOT_REPEATABLE]
    listed = {id(r) for r in shown}
    hidden = [r for r in ordered if id(r) not in listed]
    rows = [
        [r.nodeid, _how_cell(r), _figure_cell(r), _ci_cell(r), si(r.seconds, "s"), si(r.co2_g, "g"),
         r.meter, _note_cell(r)]
        for r in shown
    ]
    headers = ["test", "measured", "J/call", "95% CI", "s/call", "gCO2e", "meter", "notes"]
    for name in ("notes", "95% CI"):  # empty columns take no width
        column = headers.index(name)
        if rows and not any(row[column] for row in rows):
            headers, rows = _without_column(headers, rows, name)
    said = []  # fitted to a terminal: a column with one value for every row is said once below
    for name in ("measured", "meter") if width and len(rows) > 1 else ():
        column = headers.index(name)
        if len({row[column] for row in rows}) == 1:
            said.append(f"{name}: {rows[0][column]}")
            headers, rows = _without_column(headers, rows, name)
    notes = (len(headers) - 1,) if headers[-1] == "notes" else ()
    # narrow terminals: the CI and time left out before an id gets shorter than READABLE_ID
    table = fitted_table(rows, headers, width, (0, *notes), ("95% CI", "s/call"), READABLE_ID)
    if said:
        table += "\n" + one_line("; ".join(said))
    if not hidden:
        return table
    cut = sum(r.repeat == CUT for r in hidden)
    among = f", {cut} of them with their repetition cut" if cut else ""
    return f"{table}\n... {len(hidden)} more tests{among} (-v lists all)"


# -- comparisons with a baseline (cells: :mod:`.cells`) ------------------------------------

def comparison_table(
    comparisons: Iterable[Comparison], sides: tuple[str, str] | None = None, top: int | None = None,
    width: int | None = None,
) -> str:
    """Baseline against current per test, sorted by change (largest increase first); with
    ``sides`` (``pytest-energy ab``), base against head with the paired ratio.

    Regressions are always listed; of the other rows, the ``top`` that moved most (all
    when None), and one line counting the rest by verdict.
    Node ids are shortened to fit ``width``.
    """
    ordered = by_change(comparisons)
    others = [c for c in ordered if c.verdict != Verdict.REGRESSION]
    most_moved = others if top is None else sorted(others, key=lambda c: -abs(c.change or 0.0))[:top]
    kept = {id(c) for c in most_moved}
    shown = [c for c in ordered if c.verdict == Verdict.REGRESSION or id(c) in kept]
    hidden = [c for c in others if id(c) not in kept]
    paired = sides is not None
    moved = any(c.counts_change for c in shown)  # deterministic meters: what moved
    meters = {c.meter for c in shown if c.meter}
    rows = [
        [c.nodeid, in_unit(c, c.baseline_median), in_unit(c, c.current_median),
         *([ratio(c), ratio_ci_cell(c), str(c.pairs or "")] if paired else
           ["" if c.change is None else percent(c.change), change_ci_cell(c)]),
         p_cell(c), c.meter, str(c.verdict), *([moved_text(c).strip(" ()")] if moved else [])]
        for c in shown
    ]
    judged = of(shown[0]) if shown else JOULES
    first, second = (f"{side}{'' if judged is JOULES else ' ' + judged.column}" for side in sides or
                     ("baseline", "current"))
    middle = ["ratio", "95% CI", "pairs"] if paired else ["change", "95% CI"]
    headers = ["test", first, second, *middle, "p adj.", "meter", "verdict",
               *(["counts moved"] if moved else [])]
    # narrow terminals lose, in turn: the meter (said below when there is one), p, the CI, pairs
    optional = (*(["meter"] if len(meters) == 1 else []), "p adj.", "95% CI", "pairs")
    lines = [fitted_table(rows, headers, width, (0,), optional)]
    caption = [f"{'J' if judged is JOULES else 'SCI gCO2e'} per call (a file: its tests' calls summed)"]
    if len(meters) == 1 and "meter" not in lines[0].splitlines()[0].split():
        caption.append(f"meter: {meters.pop()}")
    lines.append("; ".join(caption))
    if paired and any(c.pairs for c in shown):
        lines.append("ratio: geometric mean of head/base over the paired rounds; J per call: their medians")
    if hidden:
        lines.append(f"... {len(hidden)} more: {verdict_counts(hidden)} (-v lists all)")
    if any(c.verdict == Verdict.INCONCLUSIVE for c in ordered):
        lines.append(INCONCLUSIVE_MEANS)
    return "\n".join(lines)


#: What an inconclusive row means, said once under a comparison table that has one.
INCONCLUSIVE_MEANS = "inconclusive: too noisy (or too short) to tell no change from the limit"


def regression_line(c: Comparison) -> str:
    """One line naming a regression and the figures behind it."""
    name = one_line(c.nodeid) + ("" if of(c) is JOULES else " (SCI, gCO2e)")
    if c.exact:  # a deterministic meter: the same code gives the same figure
        return (
            f"energy regression: {name}: {in_unit(c, c.baseline_median)} -> {in_unit(c, c.current_median)}, "
            f"{percent(c.change)}{moved_text(c)}, beyond the {c.max_regression * 100:g}% tolerance "
            f"({c.meter}: deterministic counts, modelled joules)"
        )
    if c.pairs is not None:  # base and head measured in turns
        return (
            f"energy regression: {name}: {in_unit(c, c.baseline_median)} -> "
            f"{in_unit(c, c.current_median)} per call, head/base {ratio_cell(c)} over {c.pairs} "
            f"paired rounds, p={c.p_increase:.2g}, reaching +{c.max_regression * 100:g}% within its "
            f"uncertainty ({c.meter})"
        )
    if c.single and c.p_increase is None:  # no suite to learn the machine's drift from
        return (
            f"energy regression: {name}: {in_unit(c, c.baseline_median)} -> "
            f"{in_unit(c, c.current_median)}, {percent(c.change)} (a single value), above the "
            f"{c.history_spread * 100:.0f}% a single value may stray (history spread, or 2x with fewer "
            f"than 3 stored runs) and reaching +{c.max_regression * 100:g}% ({c.meter}){_recheck_text(c)}"
        )
    if c.single:  # judged against the machine's drift and the noise of values like it
        p = c.p_adjusted if c.p_adjusted is not None else c.p_increase
        return (
            f"energy regression: {name}: {in_unit(c, c.baseline_median)} -> "
            f"{in_unit(c, c.current_median)}, {percent(c.change)} after the machine's drift of "
            f"{percent(c.drift or 0.0)} (a single value), p adj.={p:.2g}, more than "
            f"{1 + c.history_spread:g}x its stored median and reaching +{c.max_regression * 100:g}% "
            f"({c.meter}){_recheck_text(c)}"
        )
    return (
        f"energy regression: {name}: {in_unit(c, c.baseline_median)} -> "
        f"{in_unit(c, c.current_median)} per call, {change_cell(c)}, p={c.p_increase:.2g}, "
        f"above the history's {c.history_spread * 100:.1f}% spread and reaching "
        f"+{c.max_regression * 100:g}% within its uncertainty ({c.meter})"
    )


def _recheck_text(c: Comparison) -> str:
    return f"; rechecked in {c.recheck_calls} calls: {percent(c.recheck_change)}" if c.recheck_calls else ""


def moved_text(c: Comparison) -> str:
    """`` (instructions +5.1%, memory accesses +4.9%, RAM accesses +0.2%)``: what moved."""
    if not c.counts_change:
        return ""
    return " (" + ", ".join(f"{kind} {percent(change)}" for kind, change in c.counts_change.items()) + ")"


def check_line(failed: bool, comparisons: Iterable[Comparison], judged: Figure = JOULES) -> str:
    """E.g. ``energy check FAILED (judged on SCI): 1 regression, 4 unchanged``."""
    on = "" if judged is JOULES else f" ({judged.judged_on})"
    return f"energy check {'FAILED' if failed else 'passed'}{on}: {verdict_counts(comparisons)}"


def verdict_counts(comparisons: Iterable[Comparison]) -> str:
    """E.g. ``1 regression, 4 unchanged, 1 new``."""
    counts: dict[Verdict, int] = {}
    for c in comparisons:
        counts[c.verdict] = counts.get(c.verdict, 0) + 1
    plural = (Verdict.REGRESSION, Verdict.IMPROVEMENT)
    parts = []
    for verdict in Verdict:  # in the enum's order: regressions first
        if counts.get(verdict):
            n = counts[verdict]
            parts.append(f"{n} {verdict}{'s' if n > 1 and verdict in plural else ''}")
    return ", ".join(parts) or "nothing compared"


def _cell(text: str) -> str:
    """A table cell for a text from the run (test id, message): a code span, '' for none."""
    return code(text) if text else ""


#: Where the rows a capped summary leaves out can be read.
RESULTS_POINTER = "the full tables are in the results JSON (--energy-json) and the HTML report"
AB_POINTER = "the full tables are in ab's --json file and the HTML report (pytest-energy report --ab)"


def markdown_summary(
    results: list[TestResult], comparisons: list[Comparison], meters: str,
    intensity: Intensity, notes: list[str], limit: int = COMMENT_LIMIT, sci: dict[str, Any] | None = None,
) -> str:
    """A pull-request-ready summary: totals, regressions and budgets overrun first, the full
    tables folded; every text from the run in a code span; under ``limit`` characters."""
    total, judged = total_row(results), of(comparisons[0]) if comparisons else JOULES
    tag, out = "" if judged is JOULES else f" {judged.column}", Capped(limit)
    out.add("## Energy report (pytest-energy)", "",
            f"**{tests_word(total)} measured**: {si(total.joules, 'J')} in their real calls, "
            f"{si(total.co2_g, 'g')}CO2e. "
            f"Meter: {code(meters, cell=False)}. Carbon intensity: {code(intensity.describe(), cell=False)}.")
    out.add(*(["", sci_markdown(sci)] if sci else []))
    compared = [c for c in comparisons if c.verdict not in (Verdict.NEW, Verdict.MISSING)
                and c.baseline_median and not c.nodeid.endswith("(file total)")]
    if compared:
        before = sum(c.baseline_median for c in compared)
        after = sum(c.current_median for c in compared)
        on = "" if judged is JOULES else f", {judged.judged_on}"
        out.add(f"Against the baseline ({len(compared)} tests in both{on}): "
                f"{in_unit(compared[0], before)} -> {in_unit(compared[0], after)} "
                f"({percent(after / before - 1) if before else 'n/a'}); {verdict_counts(comparisons)}.")
    out.rows([""], [f"> {code(note, cell=False)}" for note in notes], [])
    regressions = [c for c in by_change(comparisons) if c.verdict == Verdict.REGRESSION]
    sides = f"| test | baseline{tag} | current{tag} | change (95% CI) |"
    out.rows(["", "### :warning: Regressions", "", sides, "|---|---|---|---|"],
             [f"| {code(c.nodeid)} | {in_unit(c, c.baseline_median)} | {in_unit(c, c.current_median)} "
              f"| {change_cell(c)} |" for c in regressions], [])
    over = [r for r in results if r.budget is not None and r.budget.status == "over"]
    out.rows(["", "### :x: Over budget", "", "| test | J/call | budget |", "|---|---|---|"],
             [f"| {code(r.nodeid)} | {_figure_cell(r)} | {budget_text(r)} |" for r in over], [])
    out.rows(["", "<details><summary>All comparisons</summary>", "",
              f"{sides} verdict |", "|---|---|---|---|---|"],
             [f"| {code(c.nodeid)} | {in_unit(c, c.baseline_median)} | {in_unit(c, c.current_median)} "
              f"| {change_cell(c)} | {c.verdict} |" for c in by_change(comparisons)], ["", "</details>"])
    shown = [replace(r, nodeid=one_line(r.nodeid), meter=one_line(r.meter),
                     repeat_reason=one_line(r.repeat_reason)) for r in results]
    block = fenced(file_table(shown, [one_line(c.nodeid) for c in regressions]) + "\n\n" + tests_table(shown))
    out.rows(["", "<details><summary>Per file and per test</summary>", "", block[0]], block[1:-1],
             [block[-1], "", "</details>", ""])
    return out.text(RESULTS_POINTER)


def ab_markdown(
    comparisons: list[Comparison], sides: list[str], meters: str,
    failures: Sequence[tuple[str, str, str, str]] = (), limit: int = COMMENT_LIMIT,
) -> str:
    """The ``pytest-energy ab`` summary for one pull-request comment: failures and
    regressions first, then every verdict folded; every text from the run in a code span;
    under ``limit`` characters."""
    base, head = sides
    regressions = [c for c in by_change(comparisons) if c.verdict == Verdict.REGRESSION]
    status = (":x: tests failed" if failures else ":x: energy regressions" if regressions
              else ":white_check_mark: no energy regression")
    out = Capped(limit)
    out.add("## Energy: base against head (pytest-energy ab)", "",
            f"**{status}**: {verdict_counts(comparisons)}. {code(base, cell=False)} -> "
            f"{code(head, cell=False)}, measured in turns (base, head, base, ...). "
            f"Meter: {code(meters, cell=False)}.", "")
    column = (of(comparisons[0]) if comparisons else JOULES).column
    header = [f"| test | base {column} | head {column} | head/base (95% CI) | verdict |",
              "|---|---|---|---|---|"]
    rows = {c.nodeid: f"| {code(c.nodeid)} | {in_unit(c, c.baseline_median)} | "
                      f"{in_unit(c, c.current_median)} "
                      f"| {ratio_cell(c)} | {c.verdict} |" for c in comparisons}
    out.rows(["### :x: Tests that failed", "", "| test | side | outcome | message |", "|---|---|---|---|"],
             [f"| {_cell(nodeid)} | {_cell(side)} | {_cell(word)} | {_cell(message)} |"
              for nodeid, side, word, message in failures], [""])
    out.rows(["### :warning: Regressions", "", *header], [rows[c.nodeid] for c in regressions], [""])
    out.rows(["<details><summary>All verdicts</summary>", "", *header],
             [rows[c.nodeid] for c in by_change(comparisons)], ["", "</details>", ""])
    return out.text(AB_POINTER)
