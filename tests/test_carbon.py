"""codecarbon's data files: malformed rows, one read per process, and the real package.

The tests marked ``real_codecarbon`` read the installed codecarbon's own files; they are
skipped where the ``carbon`` extra is not installed and run by ``tox -e carbon``.
"""

from __future__ import annotations

import importlib.util

import pytest

from pytest_energy import measure
from pytest_energy.measurement.carbon import country_intensity
from pytest_energy.measurement.meters import MeterOptions, estimate

real_codecarbon = pytest.mark.skipif(
    importlib.util.find_spec("codecarbon") is None, reason="the carbon extra is not installed (tox -e carbon)"
)

#: Rows as the real cpu_power.csv of codecarbon 3.3.2 has them, malformed ones included.
CPU_POWER_CSV = """Name,TDP
Intel Celeron 1000A,27.29.5
Intel Celeron 1200,29.32.9
AMD EPYC 7763,280
Intel Xeon Gold 6248,150
Broken Row,
Negative,-5
Not A Number,nan
"""


@pytest.fixture
def cpu_table(fake_codecarbon):
    (fake_codecarbon / "data" / "hardware" / "cpu_power.csv").write_text(CPU_POWER_CSV)
    return fake_codecarbon


def test_malformed_tdp_rows_are_skipped_not_fatal(cpu_table, monkeypatch):
    assert estimate.lookup_tdp("Intel Celeron 1000A") is None  # its TDP is 27.29.5
    assert estimate.lookup_tdp("Not A Number") is None and estimate.lookup_tdp("Negative") is None
    assert estimate.lookup_tdp("AMD EPYC 7763 64-Core Processor") == (280.0, "AMD EPYC 7763")
    monkeypatch.setattr(estimate, "cpu_model", lambda: "Intel Celeron 1000A")
    assert estimate.core_watts(MeterOptions())[0] == estimate.DEFAULT_CORE_WATTS


def test_malformed_rows_do_not_stop_a_run_or_measure(cpu_table, pytester, monkeypatch):
    monkeypatch.setattr(estimate, "cpu_model", lambda: "Intel Xeon Gold 6248")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["energy: meters estimate (*TDP 150 W of Intel Xeon Gold 6248*"])
    with measure(meter="estimate") as window:
        sum(range(1000))
    assert window.meter == "estimate"


def test_the_tdp_table_is_read_once_per_process(cpu_table):
    for _ in range(5):
        estimate.core_watts(MeterOptions())
        with measure(meter="estimate"):
            pass
    assert estimate._tdp_table.cache_info().misses == 1


@real_codecarbon
def test_real_codecarbon_tdp_table_parses():
    rows = estimate._tdp_table()
    assert len(rows) > 1000
    assert all(tdp > 0 for _, tdp in rows)
    assert "Intel Celeron 1000A" not in {name for name, _ in rows}  # malformed in the real file
    assert estimate.lookup_tdp("AMD EPYC 7763 64-Core Processor") == (280.0, "AMD EPYC 7763")


@real_codecarbon
def test_real_codecarbon_country_intensity():
    value, source = country_intensity("FRA")
    assert 20 < value < 150 and source.startswith("France")


@real_codecarbon
def test_real_codecarbon_through_pytest(pytester):
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy", "--energy-country=DEU")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["energy: carbon intensity * gCO2e/kWh (Germany *, codecarbon energy mix), PUE 1"])


@pytest.mark.parametrize("value", ["'56'", "null", "-3", "NaN", "true", "{}"])
def test_bad_country_intensity_is_a_one_line_usage_error(fake_codecarbon, pytester, value):
    path = fake_codecarbon / "data" / "private_infra" / "global_energy_mix.json"
    intensity = value.replace("'", '"')
    path.write_text(f'{{"FRA": {{"carbon_intensity": {intensity}, "country_name": "France"}}}}')
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy", "--energy-country=FRA")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --energy-country=FRA: codecarbon's intensity * is not a number >= 0*"])
    assert "Traceback" not in result.stderr.str()


def test_corrupt_energy_mix_is_a_one_line_usage_error(fake_codecarbon, pytester):
    (fake_codecarbon / "data" / "private_infra" / "global_energy_mix.json").write_text("{not json")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy", "--energy-country=FRA")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --energy-country=FRA: cannot read codecarbon's *; reinstall codecarbon*"])
