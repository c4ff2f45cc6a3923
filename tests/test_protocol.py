"""The measurement protocol as users meet it through pytest."""

from __future__ import annotations

import time

import pytest
from conftest import by_test

from pytest_energy import measure
from pytest_energy.meters import Meter, MeterSet
from pytest_energy.protocol import Engine, ProtocolSettings


def test_sub_millisecond_test_is_calibrated_to_the_minimum_round_time(pytester, run_energy):
    pytester.makepyfile("def test_tiny(): sum(range(10))")
    result, data = run_energy("--energy-min-time=0.05", "--energy-rounds=4")
    result.assert_outcomes(passed=1)
    record = by_test(data)["test_tiny"]
    assert record["iterations"] > 100
    assert len(record["rounds"]) == 4
    for round_ in record["rounds"]:
        assert round_["iterations"] == record["iterations"]
        assert round_["seconds"] >= 0.05 * 0.5  # calibration aims at 1.2x; allow a noisy machine
    per_call = record["samples"]["seconds"]
    assert per_call == pytest.approx([r["seconds"] / r["iterations"] for r in record["rounds"]])
    assert max(per_call) < 1e-3


def test_rounds_1_runs_the_test_exactly_once(pytester, run_energy):
    pytester.makepyfile("""
        import pytest
        CALLS = []

        @pytest.mark.energy(rounds=1)
        def test_once():
            CALLS.append(1)
            assert len(CALLS) == 1

        def test_default():
            CALLS.append(2)
    """)
    result, data = run_energy("--energy-warmup=2", "--energy-rounds=3")
    result.assert_outcomes(passed=2)
    once = by_test(data)["test_once"]
    assert once["iterations"] == 1 and len(once["rounds"]) == 1
    default = by_test(data)["test_default"]
    assert len(default["rounds"]) == 3


def test_warmup_and_rounds_from_ini_and_marker(pytester, run_energy):
    pytester.makeini("[pytest]\nenergy_rounds = 2\nenergy_warmup = 0\n")
    pytester.makepyfile("""
        import pytest

        def test_ini(): pass

        @pytest.mark.energy(rounds=6)
        def test_marker(): pass
    """)
    result, data = run_energy("--energy-min-time=0.01")
    result.assert_outcomes(passed=2)
    assert len(by_test(data)["test_ini"]["rounds"]) == 2
    assert len(by_test(data)["test_marker"]["rounds"]) == 6


def test_fixture_setup_and_teardown_are_not_measured(pytester, run_energy):
    pytester.makepyfile("""
        import time, pytest

        @pytest.fixture
        def slow():
            time.sleep(0.5)
            yield 1
            time.sleep(0.5)

        def test_uses_slow(slow):
            assert slow == 1
    """)
    result, data = run_energy("--energy-rounds=2", "--energy-min-time=0.01")
    result.assert_outcomes(passed=1)
    record = by_test(data)["test_uses_slow"]
    # either sleep inside a window would make it at least 0.5 s; the rounds take ~0.02 s
    assert sum(r["seconds"] for r in record["rounds"]) < 0.5
    assert record["window"][1] - record["window"][0] < 0.5


def test_rounds_reuse_fixture_values_and_gc_is_off_while_measuring(pytester, run_energy):
    pytester.makepyfile("""
        import gc, pytest

        @pytest.fixture
        def bucket():
            return []

        def test_collects(bucket):
            bucket.append(1)
            assert not gc.isenabled()
            assert len(bucket) >= 1
    """)
    result, _ = run_energy("--energy-rounds=3", "--energy-min-time=0.01")
    result.assert_outcomes(passed=1)


def test_a_test_failing_during_measurement_fails_normally_and_records_nothing(pytester, run_energy):
    pytester.makepyfile("""
        CALLS = []

        def test_flaky():
            CALLS.append(1)
            assert len(CALLS) < 3, "failed on call %d" % len(CALLS)

        def test_ok(): pass
    """)
    result, data = run_energy("--energy-rounds=3", "--energy-min-time=0.01")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: failed on call 3*"])
    assert set(by_test(data)) == {"test_ok"}


def test_time_cap_stops_rounds_early(pytester, run_energy):
    pytester.makepyfile("""
        import time
        def test_slow(): time.sleep(0.1)
    """)
    result, data = run_energy("--energy-rounds=50", "--energy-max-time=0.5", "--energy-warmup=0")
    result.assert_outcomes(passed=1)
    record = by_test(data)["test_slow"]
    assert record["capped"] is True
    assert 2 <= len(record["rounds"]) <= 7


def test_async_tests_are_left_alone(pytester, run_energy):
    pytester.makepyfile("async def test_coro(): pass")
    result, data = run_energy()
    assert "test_coro" not in by_test(data)


class ScriptedMeter(Meter):
    """Reads joules from a script: one value per read."""

    name = "scripted"
    min_window_s = 0.0

    def __init__(self, values):
        self.values = iter(values)

    def read(self):
        return {"cpu": next(self.values)}


def test_idle_subtraction_is_floored_at_zero_per_round():
    engine = Engine(MeterSet([ScriptedMeter([0.0, 1.0, 1.0, 1.0])]), idle_watts=1e9)
    measurement = engine.run(lambda: None, ProtocolSettings(rounds=2, warmup=0, min_round_s=0.0))
    assert [r.gross_joules for r in measurement.rounds] == [1.0, 0.0]
    assert [r.joules for r in measurement.rounds] == [0.0, 0.0]


def test_idle_is_subtracted_over_the_span_between_readings_not_just_the_calls():
    class SlowRead(ScriptedMeter):  # each read takes 0.1 s and stands for its middle
        def read(self):
            time.sleep(0.1)
            return super().read()

    engine = Engine(MeterSet([SlowRead([0.0, 100.0])]), idle_watts=10.0)
    (round_,) = engine.run(lambda: None, ProtocolSettings(rounds=1, warmup=0, min_round_s=0.0)).rounds
    assert round_.seconds < 0.05
    assert round_.window_s == pytest.approx(0.1, abs=0.05)  # half of each read
    assert round_.joules == pytest.approx(100.0 - 10.0 * round_.window_s)


def test_idle_is_measured_on_real_meters_only():
    class Real(ScriptedMeter):
        name = "real"

    class Modelled(ScriptedMeter):
        name = "modelled"
        is_estimate = True

    engine = Engine(MeterSet([Real([10.0, 12.0]), Modelled([0.0, 500.0])]))
    watts = engine.measure_idle(0.1)
    assert watts == pytest.approx(2.0 / 0.1, rel=0.2)
    assert Engine(MeterSet([Modelled([])])).measure_idle(0.1) == 0.0


def test_collect_only_measures_no_idle_power_and_no_test(pytester, fake_pynvml, monkeypatch):
    idle_windows = []
    monkeypatch.setattr(Engine, "measure_idle", lambda self, seconds: idle_windows.append(seconds))
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy", "--energy-meter=nvml", "--energy-idle-time=5", "--collect-only")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["energy: meters nvml*", "energy: collecting only, nothing is measured",
                                 "*<Function test_a>*"])
    result.stdout.no_fnmatch_line("*idle power*")
    assert idle_windows == []
    pytester.runpytest("--energy", "--energy-meter=nvml", "--energy-idle-time=5", "--energy-min-time=0.01")
    assert idle_windows == [5.0]


def test_measure_outside_pytest_labels_the_estimate():
    with measure(meter="estimate") as m:
        total = sum(i * i for i in range(200_000))
    assert total > 0
    assert m.meter == "estimate" and m.is_estimate
    assert m.joules > 0 and m.seconds > 0
    assert m.co2_g == pytest.approx(m.joules / 3.6e6 * 475)
