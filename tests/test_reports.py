"""Terminal table, JSON file, carbon settings and option errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import by_test

import pytest_energy.measurement.codecarbon_data as data_module
from pytest_energy.measurement.meters import MeterOptions, estimate

SUITE = """
    def test_cheap(): sum(range(10))
    def test_dear(): sum(range(20_000))
    def test_mid(): sum(range(2_000))
"""
FAST = ("--energy-rounds=3", "--energy-min-time=0.01")


def test_json_holds_raw_samples_summary_meter_and_settings(pytester, run_energy):
    pytester.makepyfile(SUITE)
    result, data = run_energy(*FAST, "--energy-repeat")
    result.assert_outcomes(passed=3)
    assert data["format"] == "pytest-energy-results" and data["version"] == 1
    assert data["settings"]["rounds"] == 3 and data["settings"]["min_time_s"] == 0.01
    assert data["settings"]["intensity"] == {"g_per_kwh": 475.0, "source": "world average (IEA)", "pue": 1.0}
    assert data["meters"].startswith("estimate (")
    assert data["read_cost_joules"] >= 0 and data["resolution_s"] > 0
    record = by_test(data)["test_dear"]
    assert record["meter"] == "estimate" and record["estimate"] is True
    assert record["tier"] == 2 and record["repeat"] == "repeated"
    assert record["call"]["joules"] > 0 and record["call"]["seconds"] > 0  # the real call too
    assert len(record["rounds"]) == 3
    joules = [r["joules"] / r["iterations"] for r in record["rounds"]]
    assert record["samples"]["joules"] == pytest.approx(joules)
    assert sorted(joules)[1] == pytest.approx(record["summary"]["median"]) == pytest.approx(record["joules"])
    assert record["summary"]["ci_low"] <= record["summary"]["median"] <= record["summary"]["ci_high"]
    assert record["co2_g"] == pytest.approx(record["summary"]["median"] / 3.6e6 * 475)
    assert by_test(data)["test_dear"]["summary"]["median"] > by_test(data)["test_cheap"]["summary"]["median"]


def test_tier1_json_is_the_real_call(pytester, run_energy):
    pytester.makepyfile(SUITE)
    result, data = run_energy()
    result.assert_outcomes(passed=3)
    record = by_test(data)["test_dear"]
    assert record["tier"] == 1 and record["repeat"] is None and "rounds" not in record
    assert record["joules"] == record["call"]["joules"] == record["samples"]["joules"][0]
    assert record["call"]["window_s"] >= record["call"]["seconds"] > 0
    assert record["call"]["gross_joules"] >= record["call"]["joules"]
    assert record["below_resolution"] is False  # the estimate's CPU clock resolves microseconds


def _table(lines: list[str], first: str) -> list[list[str]]:
    """Rows (split on 2+ spaces) of the tabulate table whose header starts with ``first``."""
    import re

    start = lines.index(next(line for line in lines if line.startswith(first + " ")))
    rows = []
    for line in lines[start + 2:]:
        if not line.strip() or line.startswith(("-", "=", "energy", "... ", "measured:", "meter:")):
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return [re.split(r"\s{2,}", lines[start].strip()), *rows]


def test_terminal_tables_per_file_then_tests_by_energy(pytester, run_energy, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # wide enough for the full ids
    pytester.makepyfile(SUITE)
    pytester.makepyfile(test_other="def test_x(): pass")
    result, data = run_energy()
    lines = result.stdout.lines
    files = _table(lines, "file")
    assert files[0] == ["file", "tests", "J (a call each)", "gCO2e"]  # no regressions column when none
    suite_file = by_test(data)["test_dear"]["nodeid"].split("::")[0]
    assert {row[0]: row[1] for row in files[1:-1]} == {suite_file: "3", "test_other.py": "1"}
    assert files[-1][0] == "TOTAL (4 tests)" and files[-1][1] == "4"
    tests = _table(lines, "test")
    # empty columns dropped; one value in every row: said once below the table
    assert tests[0] == ["test", "J/call", "s/call", "gCO2e"]
    assert "measured: real call; meter: estimate" in lines
    by_energy = sorted(data["tests"], key=lambda t: -t["joules"])
    assert [row[0] for row in tests[1:]] == [t["nodeid"] for t in by_energy]
    assert tests[1][0].endswith("::test_dear")
    assert all(len(row) == 4 for row in tests[1:])
    result, data = run_energy("--energy-top=1")
    dearest = max(data["tests"], key=lambda t: t["joules"])["nodeid"]  # by this run's figures
    result.stdout.fnmatch_lines(["*energy per test (top 1 of 4; -v shows all)*", f"{dearest} *",
                                 "... 3 more tests (-v lists all)"])
    assert [row[0] for row in _table(result.stdout.lines, "test")[1:]] == [dearest]


def test_big_suite_shows_top_20_and_always_budgets_and_not_repeatable(pytester, run_energy, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # wide enough for the full ids and notes
    pytester.makepyfile(test_many="""
        import pytest

        @pytest.mark.parametrize("n", range(60))
        def test_p(n):
            sum(range(100 * n))

        @pytest.mark.energy_budget(joules=1000)
        def test_budgeted():
            pass

        CALLS = []

        @pytest.mark.energy(rounds=2)
        def test_once_only():
            CALLS.append(1)
            assert len(CALLS) == 1
    """)
    result, data = run_energy("--energy-min-time=0.001")
    result.assert_outcomes(passed=62)
    assert len(data["tests"]) == 62  # the JSON keeps every test
    result.stdout.fnmatch_lines(["*energy per test (top 20 of 62; -v shows all)*"])
    tests = _table(result.stdout.lines, "test")
    shown = [row[0] for row in tests[1:]]
    top = [t["nodeid"] for t in sorted(data["tests"], key=lambda t: -t["joules"])[:20]]
    always = [t["nodeid"] for t in data["tests"] if t["nodeid"].endswith(("test_budgeted", "test_once_only"))]
    assert shown == top + sorted((n for n in always if n not in top), key=lambda n: -by_test(data)[n.split("::")[1]]["joules"])
    row = next(r for r in tests if r[0].endswith("test_once_only"))
    assert row[1] == "real call" and row[-1].startswith("not repeatable: AssertionError: assert 2 == 1")
    result.stdout.fnmatch_lines([f"... {62 - len(shown)} more tests (-v lists all)"])  # 40, or 41 when a marked test is in the top 20
    verbose, _ = run_energy("--energy-min-time=0.001", "-v")
    assert len(_table(verbose.stdout.lines, "test")) == 63


def test_quiet_prints_one_line(pytester, run_energy):
    pytester.makepyfile(SUITE)
    result, _ = run_energy("-q")
    result.stdout.fnmatch_lines([
        "energy: 3 tests measured (0 repeated in rounds, 0 below the meters' resolution), "
        "* in their real calls (estimate)",
    ])
    assert "J/call" not in result.stdout.str()
    result, _ = run_energy("-qq")
    assert "tests measured" not in result.stdout.str()


def test_carbon_intensity_and_pue(pytester, run_energy):
    pytester.makepyfile(SUITE)
    result, data = run_energy(*FAST, "--energy-carbon-intensity=100", "--energy-pue=1.5")
    result.stdout.fnmatch_lines(["energy: carbon intensity 100 gCO2e/kWh (--energy-carbon-intensity), PUE 1.5"])
    record = by_test(data)["test_mid"]
    assert record["co2_g"] == pytest.approx(record["joules"] / 3.6e6 * 100 * 1.5)


def test_country_intensity_from_codecarbon_data(pytester, run_energy, fake_codecarbon):
    pytester.makepyfile(SUITE)
    result, data = run_energy(*FAST, "--energy-country=fra")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["energy: carbon intensity 56.039 gCO2e/kWh (France 2023, codecarbon energy mix)*"])
    assert data["settings"]["intensity"]["g_per_kwh"] == 56.039


def test_unknown_country_is_a_one_line_error(pytester, fake_codecarbon):
    result = pytester.runpytest("--energy", "--energy-country=XYZ")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --energy-country=XYZ: unknown ISO3 country code; use a code such as*"])


def test_country_without_carbon_extra_names_the_extra(pytester, monkeypatch):
    monkeypatch.setattr(data_module.importlib.util, "find_spec", lambda name: None)
    result = pytester.runpytest("--energy", "--energy-country=FRA")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --energy-country=FRA needs codecarbon's data: pip install codecarbon (or give --energy-carbon-intensity=G_PER_KWH)"])


@pytest.mark.parametrize(("args", "message"), [
    (["--energy-rounds=0"], "ERROR: --energy-rounds must be at least 1"),
    (["--energy-rounds=many"], "ERROR: --energy-rounds='many': expected a whole number"),
    (["--energy-meter=watts"], "ERROR: --energy-meter: unknown meter 'watts'; choose auto or a comma list of*"),
    (["--energy-meter=rapl,estimate"], "ERROR: --energy-meter: rapl and estimate both cover the CPU*"),
    (["--energy-pue=0.5"], "ERROR: --energy-pue=0.5: a PUE is at least 1.0"),
    (["--energy-max-time=-1"], "ERROR: --energy-max-time must be greater than 0"),
    (["--energy-top=0"], "ERROR: --energy-top must be at least 1"),
])
def test_bad_options_are_one_line_errors(pytester, args, message):
    result = pytester.runpytest("--energy", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_ini_value_names_the_ini_option(pytester):
    pytester.makeini("[pytest]\nenergy_warmup = lots\n")
    result = pytester.runpytest("--energy")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: ini option energy_warmup='lots': expected a whole number"])


def test_estimate_tdp_from_codecarbon_table_and_override(pytester, run_energy, fake_codecarbon, monkeypatch):
    monkeypatch.setattr(estimate, "cpu_model", lambda: "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
    monkeypatch.setattr(estimate.os, "cpu_count", lambda: 20)
    pytester.makepyfile(SUITE)
    result, _ = run_energy(*FAST)
    result.stdout.fnmatch_lines(["energy: meters estimate (7.5 W per busy core: TDP 150 W of Intel Xeon Gold 6248 / 20 CPUs)*"])
    result, _ = run_energy(*FAST, "--energy-core-watts=3")
    result.stdout.fnmatch_lines(["energy: meters estimate (3 W per busy core: --energy-core-watts)*"])


def test_estimate_per_core_watts_capped_for_small_vms(fake_codecarbon, monkeypatch):
    monkeypatch.setattr(estimate, "cpu_model", lambda: "AMD EPYC 7763 64-Core Processor")
    monkeypatch.setattr(estimate.os, "cpu_count", lambda: 2)
    watts, source = estimate.core_watts(MeterOptions())
    assert watts == estimate.MAX_CORE_WATTS
    assert source == "TDP 280 W of AMD EPYC 7763 / 2 CPUs"
    monkeypatch.setattr(estimate, "cpu_model", lambda: "Some Unknown CPU")
    assert estimate.core_watts(MeterOptions())[0] == estimate.DEFAULT_CORE_WATTS


def test_estimate_counts_cpu_time_of_children():
    meter = estimate.open_meter(MeterOptions(core_watts=10.0))
    before = meter.read()["cpu"]
    subprocess.run([sys.executable, "-c", "sum(i*i for i in range(3_000_000))"], check=True)
    spent = meter.read()["cpu"] - before
    assert spent > 10.0 * 0.05  # the child burnt well over 50 ms of CPU


@pytest.mark.parametrize(("option", "value", "reason"), [
    ("--energy-json", "{dir}", "is a directory"),
    ("--energy-json", "/proc/energy.json", "cannot write in /proc (*)"),
    ("--energy-json", "{file}/x.json", "* is not a directory"),
    ("--energy-markdown", "{dir}", "is a directory"),
    ("--energy-baseline", "{file}/base.json", "* is not a directory"),
])
def test_unwritable_output_paths_stop_the_run_before_any_test(pytester, option, value, reason):
    pytester.makepyfile(test_x="def test_a(): open('ran', 'w').close()")
    (pytester.path / "adir").mkdir()
    path = value.format(dir=pytester.path / "adir", file=pytester.path / "test_x.py")
    extra = ["--energy-save"] if option == "--energy-baseline" else []
    result = pytester.runpytest(f"{option}={path}", *extra)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {option}={path}: {reason}; pick a path that can be written"])
    assert not (pytester.path / "ran").exists()


@pytest.mark.parametrize("option", ["--energy-json", "--energy-markdown", "--energy-country", "--energy-baseline"])
def test_empty_path_options_are_usage_errors(pytester, option):
    pytester.makepyfile("def test_a(): pass")
    for value in ("", " "):
        result = pytester.runpytest("--energy", f"{option}={value}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"ERROR: {option} is empty; give a value or leave the option out"])


@pytest.mark.parametrize("args", [["--energy-json=out.json"], ["--energy-markdown=out.md"], ["--energy-save"],
                                  ["--energy-compare"]])
def test_gate_and_output_options_turn_measuring_on(pytester, args):
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["energy: 1 test measured*"])
    pytester.makeini("[pytest]\nenergy_compare = true\n")
    pytester.runpytest().stdout.fnmatch_lines(["energy: 1 test measured*"])


@pytest.mark.parametrize("args", [["--energy-max-time=1e308"], ["--energy-min-time=1e308"],
                                  ["--energy-time-budget=1e9"], ["--energy-idle-time=1e6"]])
def test_huge_time_values_are_refused_at_start(pytester, args):
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {args[0].split('=')[0]}=*: at most 86400 seconds (one day)"])


def test_prefixes_follow_the_printed_value():
    from pytest_energy.units import si

    assert si(999.7e-6, "J") == "1 mJ" and si(999.4e-6, "J") == "999 µJ" and si(1234.0, "J") == "1.23 kJ"


def test_a_special_file_is_never_replaced(pytester):
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy-json=/dev/null")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --energy-json=/dev/null: is not a regular file (a rename would replace it)*"])
    assert not os.path.isfile("/dev/null")


def test_tables_fit_the_terminal_and_the_json_keeps_full_ids(pytester, run_energy, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    pytester.makepyfile(test_a_rather_long_module_name_for_energy_tables="""
        import pytest

        @pytest.mark.parametrize("case", ["a-very-long-parameter-value-that-makes-the-node-id-wide-" + str(n) for n in range(3)])
        def test_with_a_long_descriptive_name_that_goes_on(case):
            pass
    """)
    result, data = run_energy()
    lines = result.stdout.lines
    section = lines[lines.index(next(line for line in lines if "= energy =" in line)):]
    table = [line for line in section if line and not line.startswith(("energy:", "="))]
    assert table and all(len(line) <= 100 for line in table), [len(line) for line in table]
    assert any("..." in line for line in table)  # shortened in the middle
    assert all("..." not in t["nodeid"] for t in data["tests"])
    assert max(len(t["nodeid"]) for t in data["tests"]) > 100
    verbose, _ = run_energy("-v")
    assert any(t["nodeid"] in verbose.stdout.str() for t in data["tests"])  # -v: full ids


def test_the_compare_report_of_a_300_test_suite_fits_one_screen(pytester, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    pytester.makepyfile(test_many="""
        import os
        import pytest

        @pytest.mark.parametrize("n", range(300))
        def test_a_parametrized_case_with_a_long_name(n):
            work = 3 if n == 7 and os.environ.get("HEAVIER") else 1
            sum(range(20_000 * work))
    """)
    args = ("--energy-repeat", "--energy-rounds=3", "--energy-min-time=0.002", "-p", "no:randomly")
    pytester.runpytest(*args, "--energy-save").assert_outcomes(passed=300)
    monkeypatch.setenv("HEAVIER", "1")
    result = pytester.runpytest(*args, "--energy-compare")
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "energy against the baseline" in line)
    end = next(i for i, line in enumerate(lines) if line.startswith("energy check "))
    section = lines[start:end + 1]
    assert sum(1 + len(line) // 81 for line in section) <= 40, [len(line) for line in section]  # screen rows
    table = [line for line in section if not line.startswith("energy")]
    assert all(len(line) <= 80 for line in table), "\n".join(table)
    assert "J per call (a file: its tests' calls summed); meter: estimate" in table
    assert any(line.startswith("... ") and " more: " in line for line in section)
    counted = next(line for line in section if line.startswith("... "))
    assert int(counted.split()[1]) >= 300 - 20 - 5  # all but the top and the regressions are counted
