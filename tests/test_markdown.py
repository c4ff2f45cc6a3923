"""The markdown summaries under attack: test ids, file names and messages a pull request
controls go into GitHub comments. Every check renders the output with a real CommonMark/GFM
parser (markdown-it-py with tables and linkify) and looks at what it made of it."""

from __future__ import annotations

import json
import re
import sys

import pytest

from pytest_energy.judge.rules import Comparison, Verdict
from pytest_energy.measurement.carbon import Intensity
from pytest_energy.report.markdown import COMMENT_LIMIT, code, fenced, one_line
from pytest_energy.report.text import ab_markdown, markdown_summary
from pytest_energy.results import BudgetCheck, CallWindow, TestResult

markdown_it = pytest.importorskip("markdown_it")
pytest.importorskip("linkify_it")

HOSTILE = [
    "tests/test_a.py::test_tick[`rm -rf`]",
    "tests/test_a.py::test_trailing`",
    "tests/test_a.py::test_pipes[a|b|c||]",
    "tests/test_a.py::test_backslash_pipe[a\\|b]",
    "tests/test_a.py::test_fence[x\n```\n## :white_check_mark: no energy regression\n```\n]",
    "tests/test_a.py::test_img[<img src=x onerror=alert(1)>]",
    "tests/test_a.py::test_details[</details><script>alert(1)</script>]",
    "tests/test_a.py::test_mention[@org/team @admin]",
    "tests/test_a.py::test_link[[x](http://e)]",
    "tests/test_a.py::test_image[![i](http://e/i.png)]",
    "tests/test_a.py::test_autolink[http://e.com www.e.com mail@e.com <http://f.com>]",
    "tests/test_a.py::test_entity[&lt;b&gt; &#96;]",
    "tests/test_a.py::test_bidi[\u202eevil\x1b[31m\x00]",
    "``` ",
    " `",
    "",
]
#: Our own HTML in the summaries; no other survives.
OWN_HTML = {"<details><summary>All comparisons</summary>", "<details><summary>Per file and per test</summary>",
            "<details><summary>All verdicts</summary>", "</details>"}


def parse(text: str) -> list:
    """The token stream of ``text`` as GitHub would read it (GFM tables, autolinks)."""
    return markdown_it.MarkdownIt("gfm-like").parse(text)


def walk(tokens):
    for token in tokens:
        yield token
        yield from walk(token.children or [])


def assert_nothing_escapes(text: str) -> None:
    """No link, image or HTML but ours; no mention or URL outside code; same cells per row."""
    tokens = parse(text)
    kinds = {t.type for t in walk(tokens)}
    assert not kinds & {"link_open", "image", "autolink"}, kinds
    for token in walk(tokens):
        if token.type in ("html_block", "html_inline"):
            assert {line for line in token.content.splitlines() if line.strip()} <= OWN_HTML, token.content
        if token.type == "text":  # GitHub links mentions and URLs in text, never in code
            assert not re.search(r"@\w|https?:|www\.", token.content), token.content
        if token.type == "heading_open":
            assert tokens[tokens.index(token) + 1].content.startswith(("Energy", ":warning:", ":x:")), token
    for table in tables(tokens):
        widths = {len(row) for row in table}
        assert len(widths) == 1, table


def tables(tokens) -> list[list[list[str]]]:
    """Each table as rows of cells; a cell is the text of its inline content, code as code."""
    found, rows, cells = [], None, None
    for index, token in enumerate(tokens):
        if token.type == "table_open":
            rows = []
        elif token.type == "tr_open":
            cells = []
        elif token.type in ("th_open", "td_open"):
            inline = tokens[index + 1]
            cells.append("".join(c.content for c in inline.children or []) if inline.type == "inline" else "")
        elif token.type == "tr_close":
            rows.append(cells)
        elif token.type == "table_close":
            found.append(rows)
    return found


def result(nodeid: str, joules: float = 2.0, budget: BudgetCheck | None = None) -> TestResult:
    return TestResult(nodeid=nodeid, meter="nvml", is_estimate=False, idle_watts=0.0,
                      call=CallWindow(joules, joules, 0.5, 0.5, False), budget=budget)


def regression(nodeid: str) -> Comparison:
    return Comparison(nodeid=nodeid, verdict=Verdict.REGRESSION, meter="nvml", baseline_median=2.0,
                      current_median=3.0, change=0.5, change_ci_low=0.4, change_ci_high=0.6, p_increase=0.001,
                      p_decrease=0.999, max_regression=0.1, pairs=20)


def unchanged(nodeid: str) -> Comparison:
    return Comparison(nodeid=nodeid, verdict=Verdict.UNCHANGED, meter="nvml", baseline_median=2.0,
                      current_median=2.0, change=0.0, change_ci_low=-0.01, change_ci_high=0.01, p_increase=0.5,
                      p_decrease=0.5, max_regression=0.1, pairs=20)


def summary_of(nodeids: list[str], meter: str = "nvml") -> str:
    results = [result(n) for n in nodeids]
    comparisons = [regression(n) for n in nodeids] + [unchanged("tests/test_b.py::test_same")]
    return markdown_summary(results, comparisons, meter, Intensity(), [f"{nodeids[0]} moved"])


@pytest.mark.parametrize("text", HOSTILE + ["a" * 1000, "x" + "`" * 40 + "y", "\\", "|", "` `"])
def test_a_code_cell_shows_exactly_its_text_whatever_it_holds(text):
    table = tables(parse(f"| test | figure |\n|---|---|\n| {code(text)} | 2 J |\n"))
    shown = one_line(text) if len(one_line(text)) <= 300 else None
    assert table[0][1][1] == "2 J"
    if shown is not None:
        assert table[0][1][0] == (shown if shown.strip(" ") else table[0][1][0])
    else:  # long texts are cut in the middle, to at most 300 characters
        assert len(table[0][1][0]) <= 300 and "..." in table[0][1][0]
    assert "\n" not in code(text)


@pytest.mark.parametrize("nodeid", HOSTILE[:-3])
def test_the_summary_of_a_hostile_test_id_keeps_its_shape_and_its_regression(nodeid):
    text = summary_of([nodeid, "tests/test_ok.py::test_plain"], meter="nvml`<b>@x</b>")
    assert_nothing_escapes(text)
    regressions, all_comparisons = tables(parse(text))
    assert regressions[1] == [one_line(nodeid), "2 J", "3 J", "+50.0% (+40.0%..+60.0%)"]
    assert [one_line(nodeid), "2 J", "3 J", "+50.0% (+40.0%..+60.0%)", "regression"] in all_comparisons
    assert sum(t.type == "fence" for t in walk(parse(text))) == 1  # the per-test block is one block


@pytest.mark.parametrize("nodeid", HOSTILE[:-3])
def test_the_ab_summary_of_a_hostile_test_id_keeps_its_shape_and_its_failures(nodeid):
    failures = [(nodeid, "head", "failed", "AssertionError: x\n```\n| fake | row |\n@org/team <img src=x>")]
    sides = ["base (origin/main` <b>)", "head (working tree)"]
    text = ab_markdown([regression(nodeid), unchanged("tests/test_b.py::test_same")], sides, "nvml", failures)
    assert_nothing_escapes(text)
    failed, regressions, verdicts = tables(parse(text))
    assert failed[1] == [one_line(nodeid), "head", "failed", one_line(failures[0][3])]
    assert regressions[1] == [one_line(nodeid), "2 J", "3 J", "1.5 (1.4-1.6)", "regression"]
    assert regressions[1] in verdicts
    assert text.startswith("## Energy: base against head (pytest-energy ab)\n\n**:x: tests failed**")


def test_a_fenced_block_is_closed_only_by_its_own_fence():
    block = fenced("a\n```\n````\nb")
    assert block[0] == block[-1] == "`````"
    assert [t.content for t in parse("\n".join(block)) if t.type == "fence"] == ["a\n```\n````\nb\n"]


def test_a_big_summary_fits_in_one_comment_with_the_important_rows_first():
    nodeids = [f"tests/test_{i:04d}.py::test_{'long_name_' * 8}{i}" for i in range(3000)]
    results = [result(n, budget=BudgetCheck(1.0, None, "over", "over") if i < 5 else None)
               for i, n in enumerate(nodeids)]
    comparisons = [regression(n) for n in nodeids[:40]] + [unchanged(n) for n in nodeids[40:]]
    text = markdown_summary(results, comparisons, "nvml", Intensity(), [])
    assert len(text.encode("utf-16-le")) // 2 < COMMENT_LIMIT < 65_536
    assert_nothing_escapes(text)
    regressions, over_budget, *_ = tables(parse(text))
    assert len(regressions) == 41 and len(over_budget) == 6  # every one, headers included
    assert "**3000 tests measured**" in text and "40 regressions, 2960 unchanged" in text
    left_out = re.search(r"\*(\d+) more rows left out to stay under GitHub's 65,536-character limit for a "
                         r"comment: the full tables are in the results JSON", text)
    assert left_out and int(left_out[1]) > 0
    assert text.count("<details>") == text.count("</details>")


def test_a_flood_of_regressions_is_cut_within_the_limit_too():
    nodeids = [f"tests/test_x.py::test_{i}_{'`|' * 200}" for i in range(2000)]
    failures = [(n, "head", "failed", "E" * 5000) for n in nodeids[:500]]
    text = ab_markdown([regression(n) for n in nodeids], ["base", "head"], "nvml", failures)
    assert len(text.encode("utf-16-le")) // 2 < COMMENT_LIMIT
    assert_nothing_escapes(text)
    assert text.startswith("## Energy: base against head (pytest-energy ab)\n\n**:x: tests failed**: 2000 regressions.")
    assert "more rows left out" in text and "pytest-energy report --ab" in text


HOSTILE_SUITE = '''
import pytest, pynvml

@pytest.mark.parametrize("case", [1, 2], ids=["`|x|<img src=x>@org/team[l](http://e)", "x\\n```\\n## fake"])
def test_hostile(case):
    pynvml.consume(1000 * case)
'''


def test_the_plugin_and_compare_write_markdown_nothing_escapes_from(pytester, exact_meter):
    pytester.makeini("[pytest]\ndisable_test_id_escaping_and_forfeit_all_rights_to_community_support = true\n")
    folder = pytester.path / "a\n```\n<b>@org"  # a file name with a newline and a fence
    folder.mkdir()
    (folder / "test_hostile.py").write_text(HOSTILE_SUITE)
    out, md = pytester.path / "run.json", pytester.path / "run.md"
    pytester.runpytest("--energy", "--energy-meter=nvml", "--energy-idle-time=0", f"--energy-json={out}",
                       f"--energy-markdown={md}").assert_outcomes(passed=2)
    nodeids = [t["nodeid"] for t in json.loads(out.read_text())["tests"]]
    assert any("\n```\n## fake" in n for n in nodeids) and any("@org/team[l]" in n for n in nodeids)
    assert_nothing_escapes(md.read_text())
    result = pytester.run(sys.executable, "-m", "pytest_energy", "compare", str(out), str(out), "--markdown", str(md))
    assert result.ret == 0, result.stderr.str()
    text = md.read_text()
    assert_nothing_escapes(text)
    verdicts = tables(parse(text))[0]
    assert len(verdicts) == 1 + 3 and {row[0] for row in verdicts[1:]} >= {one_line(n) for n in nodeids}


def test_report_renders_an_ab_files_summary_from_its_data(tmp_path, capsys):
    from pytest_energy.cli import main
    from pytest_energy.runs import AbRecord, Revision
    from pytest_energy.store.documents import save_ab

    nodeid = HOSTILE[4]
    record = AbRecord(base=Revision("origin/main`@x", "a" * 40), head=Revision("working tree", None),
                      meter="nvml", comparisons=[regression(nodeid), unchanged(HOSTILE[7])], pairs=[],
                      failures=[(HOSTILE[5], "head", "failed", "E   <img src=x>\n@org/team")])
    save_ab(str(tmp_path / "ab.json"), record)
    md = tmp_path / "comment.md"
    assert main(["report", "--ab", str(tmp_path / "ab.json"), "-o", str(tmp_path / "r.html"),
                 "--markdown", str(md)]) == 0, capsys.readouterr()
    text = md.read_text()
    assert_nothing_escapes(text)
    assert text == ab_markdown(record.comparisons, [record.base.describe("base"), record.head.describe("head")],
                               "nvml", record.failures)
    assert main(["report", "--baseline", str(tmp_path / "none.json"), "--markdown", str(md)]) == 2
    assert "--markdown summarises a results file or --ab; give one" in capsys.readouterr().err
