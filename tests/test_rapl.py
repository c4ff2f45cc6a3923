"""RAPL against powercap trees built with the kernel's layout."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import pytest
from conftest import by_test
from powercap_sim import SimZone, two_socket_server

from pytest_energy.measurement.meters import MeterOptions, MeterUnavailable, rapl


@contextmanager
def opened(root):
    meter = rapl.open_meter(MeterOptions(powercap_root=str(root)))
    try:
        yield meter
    finally:
        meter.close()


def test_counts_packages_and_dram_never_psys_core_or_mmio_duplicates(powercap):
    root, _ = powercap(two_socket_server())
    with opened(root) as meter:
        assert sorted(meter.read()) == ["dram-0", "dram-1", "package-0", "package-1"]
        assert meter.describe() == "rapl (package-0, package-1, dram-0, dram-1)"


def test_psys_only_when_there_is_no_package_zone(powercap):
    root, _ = powercap([SimZone("intel-rapl:0", "psys"), SimZone("intel-rapl:0:0", "core")])
    with opened(root) as meter:
        assert list(meter.read()) == ["psys"]


def test_mmio_package_counted_when_it_is_the_only_one(powercap):
    root, _ = powercap([SimZone("intel-rapl-mmio:0", "package-0")])
    with opened(root) as meter:
        assert list(meter.read()) == ["package-0"]


def test_absent_root_and_empty_root_say_why(tmp_path):
    with pytest.raises(MeterUnavailable, match="not found; in a container set PYTEST_ENERGY_POWERCAP_ROOT"):
        rapl.open_meter(MeterOptions(powercap_root=str(tmp_path / "missing")))
    with pytest.raises(MeterUnavailable, match="no RAPL package or psys zone"):
        rapl.open_meter(MeterOptions(powercap_root=str(tmp_path)))


def test_single_wrap_inside_a_window_is_folded_with_the_range(powercap):
    zone = SimZone("intel-rapl:0", "package-0", max_range_uj=1_000_000, energy_uj=900_000)
    root, sim = powercap([zone])
    sim.stop()  # the zone draws 0 W: only the hand-written values below move the counter
    with opened(root) as meter:
        start = meter.read()["package-0"]
        zone.energy_uj = 1_000_001 + 250_000  # wrapped: the file now reads 250000
        zone.write()
        assert (zone.path / "energy_uj").read_text().strip() == "250000"
        end = meter.read()["package-0"]
    assert end - start == pytest.approx(0.350_001, abs=1e-9)


def test_the_poller_folds_several_wraps_between_two_reads(powercap, monkeypatch):
    # a 10 J range crossed three times between two reads: each read alone would see at most
    # one wrap, so the polls in between must fold the rest. The polls are made by hand (the
    # thread's own schedule is the machine's), the counter moved by hand: exact.
    monkeypatch.setattr(rapl, "MAX_POLL_INTERVAL_S", 3600.0)  # the thread waits; polls are ours
    zone = SimZone("intel-rapl:0", "package-0", max_range_uj=10_000_000, energy_uj=2_000_000)
    root, sim = powercap([zone])
    sim.stop()
    with opened(root) as meter:
        start = meter.read()["package-0"]
        for _ in range(8):  # 8 x 4 J = 32 J: three wraps of the 10 J range
            zone.energy_uj += 4_000_000
            zone.write()
            meter._poll()
        end = meter.read()["package-0"]
        assert meter.warnings() == []
    assert end - start == pytest.approx(32.0, abs=1e-6)


def test_long_gap_between_reads_is_flagged(powercap, monkeypatch):
    zone = SimZone("intel-rapl:0", "package-0", max_range_uj=10_000_000)
    root, _ = powercap([zone])
    monkeypatch.setattr(rapl, "MAX_POLL_INTERVAL_S", 3600.0)
    monkeypatch.setattr(rapl, "MAX_ZONE_WATTS", 1e6)  # safe gap 10 us: any pause exceeds it
    with opened(root) as meter:
        time.sleep(0.01)
        meter.read()
        assert any("may miss a wrap" in w for w in meter.warnings())


PLUGIN_SUITE = """
    import time
    import powercap_sim
    import pytest

    @pytest.fixture
    def load():  # the machine draws 25 W from the test's setup to its teardown
        powercap_sim.CURRENT.set_watts("package-0", 25.0)
        yield
        powercap_sim.CURRENT.set_watts("package-0", 5.0)

    def test_under_load(load):
        end = time.perf_counter() + 0.05
        while time.perf_counter() < end:
            pass
"""


def test_plugin_reports_gross_and_idle_subtracted_joules_across_wraps(pytester, powercap, run_energy):
    # idle 5 W, 25 W while the test runs. The 100 J range wraps every 4 s at 25 W, far
    # longer than any pause of the poller on a loaded machine, and the counter starts 6 J
    # short of it: the run crosses the wrap without depending on how fast this machine is.
    zone = SimZone("intel-rapl:0", "package-0", max_range_uj=100_000_000, watts=5.0, energy_uj=94_000_000)
    root, _ = powercap([zone])
    pytester.makepyfile(PLUGIN_SUITE)
    result, data = run_energy(
        "--energy-meter=rapl", f"--energy-powercap-root={root}", "--energy-rounds=3",
        "--energy-min-time=0.5", "--energy-idle-time=0.5", "--energy-repeat",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["energy: meters rapl (package-0)", "energy: idle power * W subtracted (real meters)"])
    record = by_test(data)["test_under_load"]
    assert record["meter"] == "rapl" and record["estimate"] is False
    assert data["idle_watts"] == pytest.approx(5.0, rel=0.05)
    for round_ in record["rounds"]:  # the window runs from reading to reading, around the calls
        assert round_["seconds"] <= round_["window_s"]
        assert round_["gross_joules"] == pytest.approx(25.0 * round_["window_s"], rel=0.05)
        assert round_["joules"] == pytest.approx(20.0 * round_["window_s"], rel=0.05)
    assert zone.energy_uj > zone.max_range_uj  # the counter wrapped during the run


def test_plugin_real_call_on_rapl_is_gross_and_idle_subtracted(pytester, powercap, run_energy):
    zone = SimZone("intel-rapl:0", "package-0", max_range_uj=10_000_000, watts=5.0)
    root, _ = powercap([zone])
    pytester.makepyfile(PLUGIN_SUITE.replace("+ 0.05", "+ 0.5"))  # a half-second real call, tier 1
    result, data = run_energy(
        "--energy-meter=rapl", f"--energy-powercap-root={root}", "--energy-idle-time=0.5",
    )
    result.assert_outcomes(passed=1)
    call = by_test(data)["test_under_load"]["call"]
    assert by_test(data)["test_under_load"]["tier"] == 1
    assert call["below_resolution"] is False and call["seconds"] <= call["window_s"]
    assert call["gross_joules"] == pytest.approx(25.0 * call["window_s"], rel=0.05)
    assert call["joules"] == pytest.approx(20.0 * call["window_s"] - data["read_cost_joules"], rel=0.05)


def test_root_from_environment_variable(pytester, powercap, run_energy, monkeypatch):
    root, _ = powercap(two_socket_server())
    monkeypatch.setenv("PYTEST_ENERGY_POWERCAP_ROOT", str(root))
    pytester.makepyfile("def test_a(): pass")
    result, data = run_energy("--energy-idle-time=0", "--energy-min-time=0.01")
    result.assert_outcomes(passed=1)
    assert by_test(data)["test_a"]["meter"] == "rapl"
    assert "estimate" not in data["meters"]


def test_root_from_ini_option(pytester, powercap, run_energy):
    root, _ = powercap(two_socket_server())
    pytester.makeini(f"[pytest]\nenergy_powercap_root = {root}\n")
    pytester.makepyfile("def test_a(): pass")
    result, data = run_energy("--energy-idle-time=0", "--energy-min-time=0.01")
    result.assert_outcomes(passed=1)
    assert by_test(data)["test_a"]["meter"] == "rapl"


def test_permission_denied_gives_the_fix_and_falls_back_to_estimate(pytester, powercap, run_energy,
                                                                     monkeypatch):
    root, _ = powercap(two_socket_server())
    real_read = rapl._read_text

    def denied(path):  # root reads any file whatever its mode, so inject the kernel's error
        if path.endswith("energy_uj"):
            raise PermissionError(13, "Permission denied", path)
        return real_read(path)

    monkeypatch.setattr(rapl, "_read_text", denied)
    pytester.makepyfile("def test_a(): pass")
    result, data = run_energy("--energy-meter=rapl", f"--energy-powercap-root={root}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "energy: meters estimate*",
        "energy: rapl unavailable: no permission to read */energy_uj; Linux >= 5.10*"
        "sudo chmod -R a+r /sys/class/powercap/intel-rapl*",
        "*PytestConfigWarning: pytest-energy: rapl unavailable*falling back to the estimate meter*",
    ])
    assert by_test(data)["test_a"]["meter"] == "estimate"


def test_a_small_backward_step_is_a_glitch_not_a_wrap(powercap):
    zone = SimZone("intel-rapl:0", "package-0", max_range_uj=262_143_328_850, energy_uj=5_000_000)
    root, sim = powercap([zone])
    sim.stop()
    with opened(root) as meter:
        start = meter.read()["package-0"]
        zone.energy_uj = 4_990_000  # 10 mJ back: firmware noise, not 262 kJ of work
        zone.write()
        middle = meter.read()["package-0"]
        zone.energy_uj = 5_990_000
        zone.write()
        end = meter.read()["package-0"]
        warnings = meter.warnings()
    assert middle - start == 0.0
    assert end - start == pytest.approx(1.0)
    assert warnings == ["rapl: 1 backward step(s) of a counter (largest 10000 uJ) counted as 0, not as wraps"]


def test_a_backward_step_during_idle_measurement_cannot_zero_every_figure(pytester, powercap, run_energy):
    zone = SimZone("intel-rapl:0", "package-0", energy_uj=5_000_000)
    root, sim = powercap([zone])
    sim.stop()
    pytester.makeconftest(f"""
        import pathlib, time
        from pytest_energy.measurement.engine import Engine

        real_sleep = time.sleep

        def stepping_back(seconds):  # the counter steps back while idle power is measured
            pathlib.Path({str(zone.path / "energy_uj")!r}).write_text("4990000\\n")
            real_sleep(seconds)

        real_idle = Engine.measure_idle

        def idle(self, seconds):
            time.sleep = stepping_back
            try:
                return real_idle(self, seconds)
            finally:
                time.sleep = real_sleep

        Engine.measure_idle = idle
    """)
    pytester.makepyfile("def test_a(): pass")
    out = pytester.path / "energy.json"
    result = pytester.runpytest_subprocess("--energy", "--energy-meter=rapl", f"--energy-powercap-root={root}",
                                           "--energy-idle-time=0.2", f"--energy-json={out}")
    result.assert_outcomes(passed=1)
    assert json.loads(out.read_text())["idle_watts"] == 0.0  # not 2.6e5 W
    result.stdout.fnmatch_lines(["energy warning: rapl: 1 backward step(s) of a counter*counted as 0*"])


@pytest.mark.parametrize("bad_range", ["0", "-5", "garbage", ""])
def test_an_unusable_range_refuses_the_zone_naming_the_file(powercap, bad_range):
    zone = SimZone("intel-rapl:0", "package-0")
    root, sim = powercap([zone])
    sim.stop()
    (zone.path / "max_energy_range_uj").write_text(bad_range + "\n")
    with pytest.raises(MeterUnavailable, match=r"unusable .*intel-rapl:0/max_energy_range_uj: .* \(expected a whole"):
        rapl.open_meter(MeterOptions(powercap_root=str(root)))


@pytest.mark.parametrize("content", ["", "n/a"])
def test_unreadable_counter_at_start_falls_back_with_the_reason(pytester, powercap, content):
    zone = SimZone("intel-rapl:0", "package-0")
    root, sim = powercap([zone])
    sim.stop()
    (zone.path / "energy_uj").write_text(content)
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest_subprocess("--energy", f"--energy-powercap-root={root}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["energy: meters estimate*", "energy: rapl unavailable: cannot read *energy_uj: not a whole number"])


def test_a_zone_vanishing_mid_run_stops_measuring_not_tests(pytester, powercap):
    zone = SimZone("intel-rapl:0", "package-0")
    root, sim = powercap([zone])
    sim.stop()  # else its thread writes the file back
    pytester.makepyfile(f"""
        import os, pytest

        @pytest.mark.parametrize("n", range(3))
        def test_before(n): pass

        def test_removes_the_zone():
            os.remove({str(zone.path / "energy_uj")!r})

        @pytest.mark.parametrize("n", range(3))
        def test_after(n): pass
    """)
    result = pytester.runpytest_subprocess("--energy", "--energy-meter=rapl", f"--energy-powercap-root={root}",
                                           "--energy-idle-time=0", "-p", "no:randomly")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["energy warning: measuring stopped: rapl failed (MeterUnavailable: cannot read *energy_uj*)"])
    assert "Traceback" not in result.stdout.str()
