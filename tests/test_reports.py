"""Terminal table, JSON file, carbon settings and option errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import by_test

import pytest_energy.codecarbon_data as data_module
from pytest_energy.meters import MeterOptions, estimate

SUITE = """
    def test_cheap(): sum(range(10))
    def test_dear(): sum(range(20_000))
    def test_mid(): sum(range(2_000))
"""
FAST = ("--energy-rounds=3", "--energy-min-time=0.01")


def test_json_holds_raw_samples_summary_meter_and_settings(pytester, run_energy):
    pytester.makepyfile(SUITE)
    result, data = run_energy(*FAST)
    result.assert_outcomes(passed=3)
    assert data["format"] == "pytest-energy-results" and data["version"] == 1
    assert data["settings"]["rounds"] == 3 and data["settings"]["min_time_s"] == 0.01
    assert data["settings"]["intensity"] == {"g_per_kwh": 475.0, "source": "world average (IEA)", "pue": 1.0}
    assert data["meters"].startswith("estimate (")
    record = by_test(data)["test_dear"]
    assert record["meter"] == "estimate" and record["estimate"] is True
    assert len(record["rounds"]) == 3
    joules = [r["joules"] / r["iterations"] for r in record["rounds"]]
    assert record["samples"]["joules"] == pytest.approx(joules)
    assert sorted(joules)[1] == pytest.approx(record["summary"]["median"])
    assert record["summary"]["ci_low"] <= record["summary"]["median"] <= record["summary"]["ci_high"]
    assert record["co2_g"] == pytest.approx(record["summary"]["median"] / 3.6e6 * 475)
    assert by_test(data)["test_dear"]["summary"]["median"] > by_test(data)["test_cheap"]["summary"]["median"]


def test_terminal_table_sorted_by_energy_with_total_and_top(pytester, run_energy):
    pytester.makepyfile(SUITE)
    result, _ = run_energy(*FAST)
    lines = result.stdout.lines
    start = lines.index(next(line for line in lines if line.startswith("test ")))
    header = lines[start].split()
    assert header == ["test", "rounds", "J/call", "95%", "CI", "CV", "W", "s/call", "gCO2e", "meter", "budget"]
    order = [line.split("::")[1].split()[0] for line in lines[start + 2:start + 5]]
    assert order == ["test_dear", "test_mid", "test_cheap"]
    assert lines[start + 5].startswith("TOTAL (3 tests)")
    assert all(line.rstrip().endswith("estimate") for line in lines[start + 2:start + 6])
    result, _ = run_energy(*FAST, "--energy-top=1")
    result.stdout.fnmatch_lines(["*::test_dear *", "TOTAL (3 tests)*"])
    result.stdout.no_fnmatch_line("*::test_mid *")


def test_quiet_prints_one_line(pytester, run_energy):
    pytester.makepyfile(SUITE)
    result, _ = run_energy(*FAST, "-q")
    result.stdout.fnmatch_lines(["energy: 3 tests measured, * per call in total (estimate)"])
    assert "J/call" not in result.stdout.str()
    result, _ = run_energy(*FAST, "-qq")
    assert "tests measured" not in result.stdout.str()


def test_carbon_intensity_and_pue(pytester, run_energy):
    pytester.makepyfile(SUITE)
    result, data = run_energy(*FAST, "--energy-carbon-intensity=100", "--energy-pue=1.5")
    result.stdout.fnmatch_lines(["energy: carbon intensity 100 gCO2e/kWh (--energy-carbon-intensity), PUE 1.5"])
    record = by_test(data)["test_mid"]
    assert record["co2_g"] == pytest.approx(record["summary"]["median"] / 3.6e6 * 100 * 1.5)


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
    result.stderr.fnmatch_lines(["ERROR: --energy-country=FRA needs codecarbon's data: pip install 'pytest-energy?carbon?' (or give --energy-carbon-intensity=G_PER_KWH)"])


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
