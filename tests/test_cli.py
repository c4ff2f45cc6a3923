"""The ``pytest-energy`` command: compare and merge results files, run as users run it."""

from __future__ import annotations

import json
import sys

import pytest

SUITE = """
    import os, time, pynvml

    def work(joules):
        pynvml.consume(int(joules * float(os.environ["SCALE"]) * 1000))
        time.sleep(0.15)  # above NVML's 0.1 s resolution

    def test_steady():
        pynvml.consume(2000)
        time.sleep(0.15)

    def test_scaled():
        work(2.0)
"""


@pytest.fixture
def results(pytester, exact_meter, monkeypatch):
    """Write a results file for the suite at a given SCALE; returns its path."""
    pytester.makepyfile(test_suite=SUITE)

    def write(name: str, scale: str = "1", *args: str, meter: str = "nvml") -> str:
        monkeypatch.setenv("SCALE", scale)
        out = pytester.path / name
        pytester.runpytest("--energy", f"--energy-meter={meter}", "--energy-idle-time=0",
                           f"--energy-json={out}", *args).assert_outcomes(passed=1 if args else 2)
        return str(out)

    return write


def cli(pytester, *args: str) -> pytest.RunResult:
    return pytester.run(sys.executable, "-m", "pytest_energy", *args)


def test_compare_passes_unchanged_and_fails_a_heavier_test_with_its_change(pytester, results):
    base, same, heavy = results("base.json"), results("same.json"), results("heavy.json", "3")
    result = cli(pytester, "compare", base, same)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["energy check passed: *"])
    result = cli(pytester, "compare", base, heavy, "--markdown", str(pytester.path / "pr.md"))
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "energy regression: test_suite.py::test_scaled: 2 J -> 6 J, +200.0% (a single value)*(nvml)",
        "energy check FAILED: 1 regression, 1 unchanged, 1 inconclusive",  # the file: +100%, not beyond 2x
    ])
    text = (pytester.path / "pr.md").read_text()
    assert "### :warning: Regressions" in text and "`test_suite.py::test_scaled`" in text


def test_compare_warns_when_meters_differ(pytester, results):
    base, other = results("base.json"), results("other.json", meter="estimate")
    result = cli(pytester, "compare", base, other)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["energy warning: meters differ (nvml -> estimate): *", "energy check passed: *new*"])


def test_merge_joins_shards_and_saves_a_baseline(pytester, results):
    first = results("a.json", "1", "-k", "steady")
    second = results("b.json", "1", "-k", "scaled")
    out, base = pytester.path / "merged.json", pytester.path / "base.json"
    result = cli(pytester, "merge", str(out), first, second, "--baseline", str(base))
    assert result.ret == 0
    result.stdout.fnmatch_lines(["pytest-energy: merged 2 tests from 2 files into *merged.json",
                                 "pytest-energy: baseline saved to *base.json"])
    merged = json.loads(out.read_text())
    assert [t["nodeid"] for t in merged["tests"]] == ["test_suite.py::test_scaled", "test_suite.py::test_steady"]
    assert set(json.loads(base.read_text())["tests"]) == {t["nodeid"] for t in merged["tests"]}


def test_merge_refuses_duplicates_and_mixed_meters(pytester, results):
    first, again = results("a.json"), results("b.json")
    result = cli(pytester, "merge", str(pytester.path / "m.json"), first, again)
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-energy merge: error: test_suite.py::test_s* is in both *a.json and *b.json;*"])
    other = results("c.json", meter="estimate")
    result = cli(pytester, "merge", str(pytester.path / "m.json"), first, other)
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-energy merge: error: shards measured with different meters *"])
    assert not (pytester.path / "m.json").exists()


@pytest.mark.parametrize(("content", "message"), [
    (None, "*missing.json: no such file; give a results file written by --energy-json"),
    ("{not json", "*bad.json: not valid JSON (*); give a results file written by --energy-json"),
    ('{"format": "pytest-energy-baseline"}', "*bad.json: not a pytest-energy results file*"),
    ('{"format": "pytest-energy-results", "tests": [{"nodeid": "x"}]}', "*bad.json: a test entry is malformed*"),
])
def test_bad_input_is_one_line_and_exit_2(pytester, content, message):
    name = "missing.json" if content is None else "bad.json"
    if content is not None:
        (pytester.path / name).write_text(content)
    result = cli(pytester, "compare", str(pytester.path / name), str(pytester.path / name))
    assert result.ret == 2
    result.stderr.fnmatch_lines([f"pytest-energy compare: error: {message}"])
    assert "Traceback" not in result.stderr.str()
