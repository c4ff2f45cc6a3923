"""The HTML report: built from the files runs write, checked for content, rendered in Chromium."""

from __future__ import annotations

import html
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from pytest_energy.cli import main

SUITE = """
    import pytest

    def light(xs):
        return sorted(xs)

    def heavy(xs):
        return [sorted(xs) for _ in range(20)][-1]

    def test_cheap(): sum(range(10))

    @pytest.mark.energy(rounds=3)
    def test_dear(): sum(range(20_000))

    @pytest.mark.energy_budget(joules=100)
    def test_budgeted(): sum(range(2_000))

    def test_candidates(energy):
        energy.versus({"light": light, "heavy": heavy}, list(range(300)), reference="light")

    def test_fails():
        assert False
"""
FAST = ("--energy-min-time=0.01", "--energy-rounds=3")
TESTS = ("test_cheap", "test_dear", "test_budgeted", "test_candidates", "test_fails")


@pytest.fixture
def report_files(pytester: pytest.Pytester) -> tuple[Path, Path, Path]:
    """A suite run twice into a baseline, the second run also writing JSON and HTML."""
    pytester.makepyfile(SUITE)
    baseline = pytester.path / "baseline.json"
    for _ in range(2):
        result = pytester.runpytest("--energy-save", f"--energy-baseline={baseline}", *FAST,
                                    "--energy-json=results.json", "--energy-html=report.html")
        result.assert_outcomes(passed=4, failed=1)
    return pytester.path / "results.json", baseline, pytester.path / "report.html"


def _text(page: str) -> str:
    """The page's visible words: tags out, whitespace collapsed, entities decoded."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_html_from_pytest_holds_every_test_labels_and_plots(report_files) -> None:
    _, _, report = report_files
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "http" not in page and "<link" not in page and " src=" not in page  # nothing fetched
    text = _text(page)
    for name in TESTS:
        assert f"test_html_from_pytest_holds_every_test_labels_and_plots.py::{name}" in text
    assert "test_candidates::light" in text and "test_candidates::heavy" in text
    assert "Figures labelled estimate are modelled" in text
    assert "carbon intensity" in text and "475 gCO2e/kWh (world average (IEA)), PUE 1" in text
    assert "rapl unavailable" in text and "nvml unavailable" in text
    assert "J per call, bars: median, lines: 95% CI (estimate" in text
    assert "ok (100 J)" in text  # the budget
    assert "3 rounds" in text and "real call" in text
    assert 'class="sortable"' in page and 'class="filter"' in page
    # the baseline saved by this very run: two stored runs per measured test, one line each on one chart
    history = page[page.index("History (baseline)"):]
    assert history.count("<svg") == 1 and history.count("<polyline") == 6 and "× own median" in history
    assert history.count(">this run</text>") == 1  # the run that saved is the last point, not added twice
    assert "energy per call relative to light (estimate" in text  # energy.compare ratios


def test_report_command_builds_the_same_from_files(report_files, tmp_path: Path, capsys) -> None:
    results, baseline, _ = report_files
    out = tmp_path / "out" / "energy.html"
    assert main(["report", str(results), "--baseline", str(baseline), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"pytest-energy: report written to {out}"
    text = _text(out.read_text())
    assert all(f"::{name}" in text for name in TESTS)
    assert text.count("× own median") == 1 and out.read_text().count("<polyline") == 6
    # a baseline alone: the history
    assert main(["report", "--baseline", str(baseline), "-o", str(out)]) == 0
    assert "History (baseline)" in _text(out.read_text()) and "Per test" not in _text(out.read_text())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to report: give a results file (--energy-json), --baseline or --ab"),
        (["missing.json"], "missing.json: no such file; give a results file written by --energy-json"),
        (["--ab", "{results}"], "not a pytest-energy ab file"),
        (["--baseline", "{results}"], "is not a pytest-energy baseline"),
        (["{results}", "-o", "{tmp}"], "is a directory; pick a path that can be written"),
    ],
)
def test_report_bad_input_is_one_line(report_files, tmp_path, capsys, args, message) -> None:
    results = report_files[0]
    args = [a.format(results=results, tmp=tmp_path) for a in args]
    assert main(["report", *args, *([] if "-o" in args else ["-o", str(tmp_path / "r.html")])]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("pytest-energy report: error: ") and message in err


def png_pixels_vary(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values of the decoded image data)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def test_report_renders_in_headless_chromium(report_files, tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    png = tmp_path / "report.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={png}",
         "--window-size=1200,1600", report_files[2].as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    width, height, distinct = png_pixels_vary(png)
    assert (width, height) == (1200, 1600)
    assert distinct > 50  # text, bars and colours; a blank page decodes to a handful of values
