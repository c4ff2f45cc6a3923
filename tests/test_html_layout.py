"""The HTML report leads with the verdict: the summary box, the key columns beside the
name at any width (checked from the DOM in headless Chromium), sort arrows, axes, one
trend chart, and the terminal's link to the page."""

from __future__ import annotations

import html
import json
import random
import re
import subprocess
from pathlib import Path

import pytest
from test_html import _text, chromium

from pytest_energy.history import Baseline, StoredRun
from pytest_energy.judge.rules import Comparison, Verdict
from pytest_energy.report.html import render
from pytest_energy.report.html_summary import row_id
from pytest_energy.report.svg import nice_ticks
from pytest_energy.results import BudgetCheck, CallWindow, Measurement, Round, TestResult
from pytest_energy.runs import AbRecord, Revision, RunRecord

LONG = "-".join(["float32", "batch=4096", "device=cpu", "layout=channels_last", "seed=1234567"] * 3)
HOSTILE = 'tests/test_x.py::test_evil["><script>alert(1)</script> & \'x\']'


def result(nodeid: str, joules: float, rounds: int = 5, over: bool = False) -> TestResult:
    """A repeated test's result, its rounds spread a few percent around ``joules``."""
    spread = random.Random(nodeid)
    measured = [Round(joules * spread.uniform(0.97, 1.03) * 10, joules * 12, 0.01, 10, 0.01, 1.0 + i, 1.5 + i)
                for i in range(rounds)]
    budget = BudgetCheck(joules=joules / 2, co2_g=None, status="over", message="over") if over else None
    return TestResult(nodeid, "rapl", False, 0.0, call=CallWindow(joules, joules, 0.001, 0.001, False),
                      measurement=Measurement("rapl", False, measured, 0.0), co2_g=joules * 1e-4, budget=budget)


def suite(n: int = 300) -> tuple[RunRecord, Baseline, list[str]]:
    """A compare run of ``n`` (21 or more) tests (long parametrized ids), 10 regressions, one failure,
    one budget exceeded and one new test; and its baseline of 4 stored runs per test."""
    ids = [f"tests/unit/models/test_module_{i % 12}.py::test_case_{i}[{LONG}-{i}]" for i in range(n - 1)]
    ids.append(HOSTILE)
    tests = [result(nodeid, 0.001 * (1 + i % 37), over=i == 7) for i, nodeid in enumerate(ids)]
    regressed = ids[:9] + [HOSTILE]
    comparisons = [
        Comparison(nodeid, Verdict.REGRESSION if nodeid in regressed else
                   Verdict.NEW if nodeid == ids[20] else Verdict.UNCHANGED, "rapl", 0.001, 0.0013,
                   0.3 if nodeid in regressed else 0.0, 0.2, 0.4)
        for nodeid in ids
    ]
    outcomes = {nodeid: ("passed", "") for nodeid in ids}
    outcomes[ids[12]] = ("failed", "AssertionError: <b>boom</b>")
    run = RunRecord(meters="rapl", tests=tests, comparisons=comparisons, outcomes=outcomes)
    stored = {t.nodeid: [StoredRun("rapl", 2, [t.joules * (1 + 0.02 * k) * (2 if t.nodeid == ids[3] else 1)],
                                   commit=f"{k:07x}abc") for k in range(4)] for t in tests if t.nodeid != ids[20]}
    return run, Baseline("baseline.json", tests=stored), regressed


def summary_box(page: str) -> str:
    return page[page.index('<section id="summary"'):page.index("</section>")]


def test_the_summary_box_counts_and_links_what_went_wrong() -> None:
    run, baseline, regressed = suite(60)
    page = render(run, baseline)
    box = summary_box(page)
    assert page.index('id="summary"') < page.index("<h2>")  # first thing on the page
    assert "10 regressions, 1 failed or errored test, 1 budget exceeded" in _text(box)
    for nodeid in regressed:  # each linked to its row, which exists once
        anchor = row_id("tests", nodeid)
        assert f'href="#{anchor}"' in box and page.count(f'<tr id="{anchor}">') == 1
    failed = run.tests[12].nodeid
    assert f'href="#{row_id("tests", failed)}"' in box and "failed: AssertionError: <b>boom</b>" in _text(box)
    assert "&lt;b&gt;boom" in box and "<b>boom" not in box
    assert f'href="#{row_id("tests", run.tests[7].nodeid)}"' in box  # the budget
    assert "1 new test (no history)" in _text(box)
    # a hostile id stays text: its row id is safe characters, its name escaped everywhere
    assert re.fullmatch(r"row-tests-[A-Za-z0-9_.-]+", row_id("tests", HOSTILE))
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in box
    # nothing wrong: one line that says so
    calm = RunRecord(meters="rapl", tests=run.tests[20:30])
    box = summary_box(render(calm))
    assert _text(box).strip() == ("Nothing wrong: no regression, no failed or errored test, no budget exceeded "
                                  "(10 tests measured; no baseline compared).")


def test_the_summary_box_of_an_ab_run_links_its_rows() -> None:
    run, _, _ = suite(30)
    pairs = [(t, t) for t in run.tests]
    ab = AbRecord(Revision("main", "a" * 40), Revision("working tree"), "rapl", run.comparisons, pairs,
                  failures=[(run.tests[1].nodeid, "head", "error", "ImportError")])
    page = render(ab=ab)
    box = summary_box(page)
    assert "10 regressions, 1 failed or errored test, 0 budgets exceeded" in _text(box)
    assert "1 new test (no history)" in _text(box)
    assert f'href="#{row_id("ab", run.tests[0].nodeid)}"' in box and "error on head: ImportError" in _text(box)
    assert page.count(f'<tr id="{row_id("ab", run.tests[0].nodeid)}">') == 1


def test_key_columns_follow_the_name_and_headers_sort_with_arrows() -> None:
    run, _, _ = suite(30)
    page = render(run)
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page[page.index('id="tests"'):])[:3]
    assert headers == ["test", "J/call", "verdict"]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert f'<td class="id" title="{html.escape(HOSTILE)}">' in page  # the full id on hover
    assert 'aria-sort="none"' in page and "aria-sort" in page.split("<script>")[-1]
    assert "\\25B2" in page and "\\25BC" in page  # the arrows


def test_every_plot_has_an_axis_with_units() -> None:
    run, baseline, _ = suite(30)
    page = render(run, baseline)
    strips = re.findall(r'<svg[^>]*aria-label="rounds, [^"]*mJ[^"]*"[^>]*>.*?</svg>', page)
    assert len(strips) == 30 and all(re.search(r">[0-9.]+ mJ</text>", s) for s in strips)
    bars = re.search(r'<svg[^>]*aria-label="bars">.*?</svg>', page).group(0)
    assert len(re.findall(r'text-anchor="middle" fill="#333">[0-9.]+ mJ</text>', bars)) >= 3
    assert nice_ticks(0, 0.037) == [0, 0.01, 0.02, 0.03] and nice_ticks(0.9, 2.1, 5) == [1, 1.25, 1.5, 1.75, 2]


def test_one_trend_chart_of_ratios_to_each_tests_median_with_this_run() -> None:
    run, baseline, _ = suite(30)
    page = render(run, baseline)
    history = page[page.index("<h2>History (baseline)</h2>"):]
    assert history.count("<svg") == 1 and history.count("<polyline") == 20
    assert "× own median" in history and ">this run</text>" in history
    assert "9 more tests are in the baseline file, left out: they moved less than the 20 drawn." in history
    moved = run.tests[3].nodeid  # stored at twice its figure, this run half its median: drawn first
    assert re.search(r"<title>([^<]*)</title>", history).group(1) == f"{html.escape(moved)}: last 0.49× its median"
    # each line has the 4 stored runs and this run (not saved): 5 points
    first = re.search(r'<polyline points="([^"]*)"', history).group(1)
    assert len(first.split()) == 5


def test_the_terminal_prints_the_html_report_as_a_file_link(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy-html=out/report.html")
    link = (pytester.path / "out" / "report.html").resolve().as_uri()
    result.stdout.fnmatch_lines([f"energy HTML report: {link}"])
    assert link.startswith("file:///")
    result = pytester.runpytest(f"--energy-html={pytester.path}")  # a directory: not written, no link
    assert "energy HTML report" not in result.stdout.str()


CHECK = """<script>
window.addEventListener('load', function () {
  var rows = Array.from(document.querySelectorAll('#tests tbody tr')).filter(function (r) {
    return r.getClientRects().length > 0; });
  var bad = [], w = window.innerWidth;
  rows.forEach(function (r) {
    ['td.j', 'td.verdict'].forEach(function (sel) {
      var box = r.querySelector(sel).getBoundingClientRect();
      if (box.left < 0 || box.right > w || box.width <= 0) { bad.push([r.id, sel, box.right]); }
    });
  });
  var name = document.querySelector('#tests td.id').getBoundingClientRect();
  var th = document.querySelectorAll('#tests th')[1]; th.click();
  var values = Array.from(document.querySelectorAll('#tests tbody tr td.j')).map(function (c) {
    return parseFloat(c.dataset.v); });
  var sorted = values.every(function (v, i) { return i === 0 || values[i - 1] >= v; });
  var sort = th.getAttribute('aria-sort'), arrow = getComputedStyle(th, '::after').content;
  var nameTh = document.querySelectorAll('#tests th')[0];
  nameTh.click();
  document.body.dataset.layoutCheck = JSON.stringify({rows: rows.length, bad: bad.slice(0, 5), width: w,
    nameRight: name.right, sort: sort, sortedDesc: sorted, arrow: arrow,
    textSort: nameTh.getAttribute('aria-sort'), numberSortCleared: th.getAttribute('aria-sort')});
});
</script>"""


@pytest.mark.parametrize("width", [800, 1400, 500])  # 500: Chromium's narrowest window, as a phone
def test_a_300_test_report_shows_j_per_call_and_verdict_beside_every_name(tmp_path: Path, width: int) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    run, baseline, regressed = suite(300)
    page = render(run, baseline)
    checked = tmp_path / "report.html"
    checked.write_text(page.replace("</body>", CHECK + "</body>"))
    dom = subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", f"--window-size={width},1600",
         "--virtual-time-budget=2000", "--dump-dom", checked.as_uri()],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    found = re.search(r'data-layout-check="([^"]*)"', dom)
    assert found, dom[:500]
    outcome = json.loads(html.unescape(found.group(1)))
    assert outcome["rows"] == 300 and outcome["bad"] == [], outcome
    assert outcome["width"] <= width and outcome["nameRight"] < width
    assert outcome["sort"] == "descending" and outcome["sortedDesc"] and "▼" in outcome["arrow"]
    assert outcome["textSort"] == "ascending" and outcome["numberSortCleared"] == "none"
    box = dom[dom.index('<section id="summary"'):dom.index("</section>")]
    assert all(nodeid in _text(box) for nodeid in regressed)


def test_the_columns_that_hide_on_a_phone_hide_whole() -> None:
    run, _, _ = suite(24)
    ab = AbRecord(Revision("main"), Revision("working tree"), "rapl", run.comparisons, [(t, t) for t in run.tests])
    page = render(run, ab=ab)
    checked = 0
    for table in re.findall(r"<table .*?</table>", page):
        head, *rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table)
        hidden = [i for i, cell in enumerate(re.findall(r"<th[^>]*>", head)) if 'class="lo"' in cell]
        for row in rows:
            cells = re.findall(r"<td[^>]*>", row)
            assert [i for i, cell in enumerate(cells) if re.search(r'class="[^"]*\blo\b', cell)] == hidden, row
            checked += 1
    assert checked >= 24 * 2
