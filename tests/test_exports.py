"""Exports: --energy-csv, JUnit XML properties, --energy-only."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import pytest

SUITE = """
    import pytest

    def test_plain(): sum(range(1000))

    def test_fails(): assert False

    @pytest.mark.energy(rounds=2)
    def test_marked(): sum(range(2000))

    def test_fixture(energy):
        energy(sum, range(100))

    def test_versus(energy):
        energy.versus({"a": sorted, "b": lambda xs: sorted(xs)[:]}, [3, 1, 2], reference="a")
"""
FAST = ("--energy-min-time=0.005", "--energy-warmup=0")


def test_csv_has_one_row_per_measured_test(pytester):
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--energy-csv=out/energy.csv", *FAST)
    result.assert_outcomes(passed=4, failed=1)  # implies --energy
    with open(pytester.path / "out" / "energy.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["nodeid", "outcome", "joules", "seconds", "co2_g", "meter", "estimate", "measured",
                             "intensity_g_per_kwh", "intensity_source", "timestamp"]
    by_id = {row["nodeid"].split("::", 1)[1]: row for row in rows}
    assert set(by_id) == {"test_plain", "test_fails", "test_marked", "test_fixture", "test_versus::a",
                          "test_versus::b"}
    assert by_id["test_fails"]["outcome"] == "failed" and by_id["test_plain"]["outcome"] == "passed"
    assert by_id["test_versus::b"]["outcome"] == "passed"
    assert by_id["test_marked"]["measured"] == "2 rounds" and by_id["test_plain"]["measured"] == "real call"
    for row in rows:
        assert float(row["joules"]) > 0 and row["meter"] == "estimate" and row["estimate"] == "true"
        assert float(row["co2_g"]) == pytest.approx(float(row["joules"]) / 3.6e6 * 475, rel=1e-3)
        assert row["intensity_g_per_kwh"] == "475" and row["intensity_source"] == "world average (IEA)"
        assert row["timestamp"].endswith("+00:00")
    assert not list((pytester.path / "out").glob("*.tmp*"))  # written through a temporary file


def test_csv_path_that_cannot_be_written_stops_the_run(pytester):
    pytester.makepyfile("def test_a(): pass")
    (pytester.path / "d").mkdir()
    result = pytester.runpytest("--energy-csv=d")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--energy-csv=d*"])


def test_junit_xml_carries_each_measured_tests_figures(pytester):
    pytester.makepyfile(SUITE)
    pytester.runpytest("--energy", "--junitxml=junit.xml", *FAST).assert_outcomes(passed=4, failed=1)
    cases = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
             for case in ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")}
    for name in ("test_plain", "test_fails", "test_marked", "test_fixture"):
        props = cases[name]
        assert float(props["energy_joules"]) > 0 and float(props["energy_co2_g"]) > 0, name
        assert props["energy_meter"] == "estimate" and float(props["energy_seconds"]) > 0
    assert {"energy_joules[a]", "energy_joules[b]", "energy_meter[a]"} <= set(cases["test_versus"])
    pytester.runpytest("--junitxml=plain.xml")  # without --energy: no properties
    assert not list(ET.parse(pytester.path / "plain.xml").getroot().iter("property"))


def test_energy_only_deselects_the_other_tests(pytester):
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--energy-only", *FAST)
    result.assert_outcomes(passed=3, deselected=2)
    result.stdout.fnmatch_lines(["energy: 3 tests (2 candidates) measured*", "*3 passed, 2 deselected*"])
    assert pytester.runpytest().parseoutcomes() == {"passed": 4, "failed": 1}  # without it: all run


def test_csv_cells_a_spreadsheet_would_run_are_quoted(pytester):
    pytester.makeini("[pytest]\npython_files = *.py\n")
    pytester.path.joinpath("=HYPERLINK(1).py").write_text("def test_a(): pass\n")
    result = pytester.runpytest("--energy-csv=energy.csv", *FAST)
    result.assert_outcomes(passed=1)
    with open(pytester.path / "energy.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["nodeid"] == "'=HYPERLINK(1).py::test_a" and row["outcome"] == "passed"
