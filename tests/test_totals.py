"""One rule for counts and totals: terminal, markdown and HTML say the same figures."""

from __future__ import annotations

import re

import pytest

SUITE = {
    "test_plain": """
        def test_a(): sum(range(2_000))
        def test_b(): sum(range(4_000))
        def test_fails(): assert False
    """,
    "test_fixture": """
        def light(xs): return sorted(xs)
        def heavy(xs): return [sorted(xs) for _ in range(5)][-1]

        def test_versus(energy):
            energy.versus({"light": light, "heavy": heavy}, list(range(200)), reference="light")

        def test_callable(energy):
            energy(sum, range(1000))
    """,
}
FAST = ("--energy-min-time=0.005", "--energy-rounds=2", "--energy-warmup=0")


def _file_rows(lines: list[str]) -> dict[str, list[str]]:
    start = next(i for i, line in enumerate(lines) if line.startswith("file "))
    rows = {}
    for line in lines[start + 2:]:
        if not line.strip() or line.startswith("-"):
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells
    return rows


def _joules(text: str) -> float:
    number, prefix = re.fullmatch(r"([\d.]+) ?([munµkM]?)J", text).groups()
    return float(number) * {"": 1, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "k": 1e3, "M": 1e6}[prefix]


@pytest.mark.parametrize("repeat", [(), ("--energy-repeat",)])
def test_total_is_the_sum_of_the_file_rows_and_counts_tests(pytester, run_energy, repeat):
    pytester.makepyfile(**SUITE)
    result, data = run_energy(*FAST, *repeat, "--energy-html=report.html", "--energy-markdown=summary.md")
    result.assert_outcomes(passed=4, failed=1)
    rows = _file_rows(result.outlines)
    plain, fixture, total = rows["test_plain.py"], rows["test_fixture.py"], rows["TOTAL (5 tests)"]
    assert plain[1] == "3" and fixture[1] == "2 (2 candidates)" and total[1] == "5 (2 candidates)"
    row_sum = _joules(plain[2]) + _joules(fixture[2])
    assert _joules(total[2]) == pytest.approx(row_sum, rel=0.01)
    assert _joules(fixture[2]) > 0
    # "N tests measured" counts tests, candidates apart
    result.stdout.fnmatch_lines(["energy: 5 tests (2 candidates) measured*"])
    assert "**5 tests (2 candidates) measured**" in (pytester.path / "summary.md").read_text()
    # a file row's gCO2e is its joules at the run's intensity, on the same basis
    intensity = data["settings"]["intensity"]
    for cells in (plain, fixture, total):
        grams = _joules(cells[3].replace("g", "J"))
        assert grams == pytest.approx(_joules(cells[2]) / 3.6e6 * intensity["g_per_kwh"] * intensity["pue"],
                                      rel=0.02)
    # the HTML's file table shows the same figures, never 0 J for the fixture's file
    page = (pytester.path / "report.html").read_text()
    files = page[page.index('id="files"'):page.index("</table>", page.index('id="files"'))]
    assert "<td>test_fixture.py</td>" in files and fixture[2] in files and ">0 J<" not in files
    assert "<b>5 tests (2 candidates)</b> measured" in page


def test_html_shows_a_failed_test_as_failed(pytester, run_energy):
    pytester.makepyfile(test_plain=SUITE["test_plain"])
    baseline = pytester.path / "base.json"
    run_energy(*FAST, "--energy-save", f"--energy-baseline={baseline}")
    result, data = run_energy(*FAST, f"--energy-baseline={baseline}", "--energy-html=report.html")
    assert data["outcomes"]["test_plain.py::test_fails"]["outcome"] == "failed"
    page = (pytester.path / "report.html").read_text()
    row = next(r for r in page.split("<tr ") if "test_plain.py::test_fails</td>" in r)
    assert ">failed</span>" in row and "unchanged" not in row
    passed = next(r for r in page.split("<tr ") if "test_plain.py::test_a</td>" in r)
    assert ">failed</span>" not in passed
