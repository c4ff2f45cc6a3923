"""The measurement protocol as users meet it through pytest."""

from __future__ import annotations

import json

import pytest
from conftest import by_test

from pytest_energy import measure
from pytest_energy.measurement.engine import Engine
from pytest_energy.measurement.meters import Meter, MeterSet
from pytest_energy.settings import ProtocolSettings
from pytest_energy.timing import FakeClock

SENSITIVE = '''
    import unittest
    from unittest import mock

    import pytest

    STATE = []


    @pytest.fixture
    def numbers():
        def gen():
            yield 1
        return gen()


    @pytest.fixture
    def spy():
        return mock.Mock()


    def test_writes_tmp_path(tmp_path):
        (tmp_path / "out").mkdir()


    def test_consumes_generator(numbers):
        assert next(numbers) == 1


    def test_mock_called_once(spy):
        spy()
        spy.assert_called_once()


    def test_module_counter():
        STATE.append("counter")
        assert STATE.count("counter") == 1


    def test_skips_on_second_call():
        STATE.append("skip")
        if STATE.count("skip") > 1:
            pytest.skip("second call")


    def test_fails():
        assert 1 == 2


    @pytest.mark.xfail(reason="known")
    def test_expected_failure():
        assert 1 == 2


    class TestCaseStyle(unittest.TestCase):
        def test_counts(self):
            STATE.append("unittest")
            self.assertEqual(STATE.count("unittest"), 1)


    def doubled(x):
        """
        >>> doubled(2)
        4
        """
        return 2 * x
'''
#: Tests that change their fixtures: repeated with fresh fixtures for every call.
FIXTURE_CHANGING = {"test_writes_tmp_path", "test_consumes_generator", "test_mock_called_once",
                    "test_sensitive.doubled"}
#: Tests that change state outside their fixtures: not repeatable.
STATE_CHANGING = {"test_module_counter", "test_skips_on_second_call", "TestCaseStyle::test_counts"}
VERDICTS = ("PASSED", "FAILED", "SKIPPED", "XFAIL", "ERROR")


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Test name -> outcome word, from -v output."""
    found = {}
    for line in result.outlines:
        words = line.split(" ")
        if "::" in words[0] and len(words) > 1 and words[1] in VERDICTS:
            found[words[0].split("::", 1)[1]] = words[1]
    return found


def test_outcomes_are_the_same_with_and_without_energy_and_repeat(pytester):
    pytester.makepyfile(test_sensitive=SENSITIVE)
    out = pytester.path / "energy.json"
    plain = pytester.runpytest("-v", "-p", "no:randomly", "--doctest-modules")
    plain.assert_outcomes(passed=7, failed=1, xfailed=1)
    expected = _outcomes(plain)
    assert len(expected) == 9
    for extra in ([], ["--energy-repeat", "--energy-min-time=0.02"]):  # many calls a round, however slow
        result = pytester.runpytest("-v", "-p", "no:randomly", "--doctest-modules", "--energy",
                                    f"--energy-json={out}", *extra)
        result.assert_outcomes(passed=7, failed=1, xfailed=1)
        assert _outcomes(result) == expected
        document = json.loads(out.read_text())
        tests = {t["nodeid"].split("::", 1)[1]: t for t in document["tests"]}
        assert set(tests) == set(expected)  # every item has a record, doctest and unittest too
        words = {"PASSED": "passed", "FAILED": "failed", "XFAIL": "xfailed"}
        outcomes = {nodeid.split("::", 1)[1]: o for nodeid, o in document["outcomes"].items()}
        assert {name: o["outcome"] for name, o in outcomes.items()} == {n: words[v] for n, v in expected.items()}
        assert outcomes["test_fails"]["message"] == "assert 1 == 2"
        assert all(t["call"]["seconds"] > 0 for t in tests.values())
        if extra:
            not_repeatable = {name for name, t in tests.items() if t["repeat"] == "not repeatable"}
            assert not_repeatable == STATE_CHANGING
            for name in FIXTURE_CHANGING:
                assert tests[name]["repeat"] == "repeated", tests[name]
                assert tests[name]["repeat_reason"] == "one call per set of fixtures (the test changes its fixtures)"
                assert all(r["iterations"] >= 1 for r in tests[name]["rounds"])
            assert all(tests[name]["tier"] == 1 for name in not_repeatable)
            assert tests["test_module_counter"]["repeat_reason"] == "AssertionError: assert 2 == 1"
            assert tests["test_skips_on_second_call"]["repeat_reason"] == "Skipped: second call"
            assert tests["test_fails"]["repeat"] is None  # failed: never repeated
            assert tests["test_expected_failure"]["repeat"] is None
            result.stdout.fnmatch_lines(["*test_module_counter * real call *not repeatable: AssertionError*"])
        else:
            assert all(t["repeat"] is None and t["tier"] == 1 for t in tests.values())


def test_repetition_on_the_declared_pytest_range(pytester, run_energy):
    """What the floor (tox -e floor) and the latest pytest must both do: every kind of item
    keeps its outcome, and a unittest.TestCase test repeats in rounds with a fresh
    instance each call (pytest 8.x left its torn-down instance as None)."""
    pytester.makepyfile('''
        import unittest
        import pytest

        class TestCaseStyle(unittest.TestCase):
            def setUp(self):
                self.items = [3, 1, 2]

            def test_sorts(self):
                self.items.sort()
                self.assertEqual(self.items, [1, 2, 3])

        def test_tmp_path(tmp_path):
            (tmp_path / "d").mkdir()

        @pytest.mark.parametrize("n", [1, 2])
        def test_param(n):
            assert sum(range(n * 100)) >= 0

        def double(x):
            """
            >>> double(2)
            4
            """
            return 2 * x
    ''')
    # rounds of 20 ms: many calls of these sub-millisecond tests in each, however slow the machine
    result, data = run_energy("--energy-repeat", "--energy-rounds=3", "--energy-min-time=0.02",
                              "--doctest-modules", "-p", "no:randomly")
    assert result.ret == 0
    result.assert_outcomes(passed=5)
    assert "INTERNALERROR" not in result.stdout.str()
    tests = by_test(data)
    for name in ("test_sorts", "test_param[1]", "test_param[2]"):
        assert tests[name]["repeat"] == "repeated" and len(tests[name]["rounds"]) == 3, tests[name]
    for name in ("test_tmp_path", "test_repetition_on_the_declared_pytest_range.double"):
        assert tests[name]["repeat"] == "repeated" and len(tests[name]["rounds"]) == 3, tests[name]
        assert tests[name]["repeat_reason"] == "one call per set of fixtures (the test changes its fixtures)"


def test_each_round_gets_fresh_function_fixtures_and_keeps_higher_scopes(pytester, run_energy):
    pytester.makepyfile("""
        import time, pytest

        SETUPS = {"function": 0, "module": 0}
        PATHS = []

        @pytest.fixture(scope="module")
        def shared():
            SETUPS["module"] += 1
            return object()

        @pytest.fixture
        def fresh(tmp_path):
            SETUPS["function"] += 1
            yield tmp_path
            assert tmp_path.exists()

        @pytest.mark.energy(rounds=3, warmup=2)
        def test_repeated(fresh, shared):
            (fresh / "out").mkdir()  # fails on a reused tmp_path
            PATHS.append(fresh)
            time.sleep(0.02)  # longer than a round must span: one call per round

        def test_counts():
            assert SETUPS == {"function": 1 + 1 + 3, "module": 1}  # real call, 1 more warmup, rounds
            assert len(set(PATHS)) == len(PATHS) == 5
    """)
    result, data = run_energy("--energy-min-time=0.01", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    record = by_test(data)["test_repeated"]
    assert record["repeat"] == "repeated" and len(record["rounds"]) == 3
    assert all(r["iterations"] == 1 for r in record["rounds"])


def test_fixture_setup_and_teardown_are_outside_the_windows(pytester, run_energy, fake_clock):
    pytester.makepyfile("""
        import pytest
        from pytest_energy import timing

        @pytest.fixture
        def slow():
            timing.clock.advance(0.3)
            yield 1
            timing.clock.advance(0.3)

        @pytest.mark.energy(rounds=2)
        def test_uses_slow(slow):
            assert slow == 1
    """)
    result, data = run_energy("--energy-min-time=0.01")
    result.assert_outcomes(passed=1)
    record = by_test(data)["test_uses_slow"]
    # either 0.3 s inside a window would make it at least 0.3 s; the calls take a few ticks
    assert record["call"]["window_s"] < 0.3
    assert record["repeat"] == "repeated" and all(r["window_s"] < 0.3 for r in record["rounds"])


def test_a_failing_fixture_teardown_is_reported_as_without_energy(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.fixture
        def strict():
            yield
            raise RuntimeError("teardown broke")

        @pytest.mark.energy(rounds=3)
        def test_a(strict):
            pass
    """)
    for args in ([], ["--energy"], ["--energy", "--energy-repeat"]):
        result = pytester.runpytest(*args)
        result.assert_outcomes(passed=1, errors=1)
        result.stdout.fnmatch_lines(["*RuntimeError: teardown broke*"])


def test_rounds_1_measures_only_the_real_call(pytester, run_energy):
    pytester.makepyfile("""
        import pytest
        CALLS = []

        @pytest.mark.energy(rounds=1)
        def test_once():
            CALLS.append(1)
            assert len(CALLS) == 1
    """)
    result, data = run_energy("--energy-repeat", "--energy-warmup=2", "--energy-rounds=3")
    result.assert_outcomes(passed=1)
    once = by_test(data)["test_once"]
    assert once["tier"] == 1 and once["repeat"] is None


def test_sub_millisecond_rounds_are_calibrated_to_the_minimum_round_time(pytester, run_energy):
    pytester.makepyfile("def test_tiny(): sum(range(10))")
    result, data = run_energy("--energy-repeat", "--energy-min-time=0.05", "--energy-rounds=4")
    result.assert_outcomes(passed=1)
    record = by_test(data)["test_tiny"]
    assert record["iterations"] > 100 and len(record["rounds"]) == 4
    for round_ in record["rounds"]:
        assert round_["seconds"] >= 0.05 / 2  # shorter rounds are calibration, dropped
    per_call = record["samples"]["seconds"]
    assert per_call == pytest.approx([r["seconds"] / r["iterations"] for r in record["rounds"]])
    assert max(per_call) < 1e-3


def test_markers_merge_keyword_by_keyword_closest_first(pytester, run_energy):
    pytester.makeini("[pytest]\nenergy_rounds = 2\nenergy_warmup = 0\n")
    pytester.makepyfile("""
        import pytest

        pytestmark = pytest.mark.energy(rounds=4)

        def test_module_marker(): pass

        @pytest.mark.energy(rounds=3)
        @pytest.mark.energy(warmup=0)
        def test_stacked(): pass

        @pytest.mark.energy_budget(joules=1e-12)
        class TestBudget:
            @pytest.mark.energy_budget(co2_g=100)
            def test_both(self): sum(range(1000))
    """)
    result, data = run_energy("--energy-min-time=0.005")
    result.assert_outcomes(passed=2, failed=1)
    assert len(by_test(data)["test_module_marker"]["rounds"]) == 4
    assert len(by_test(data)["test_stacked"]["rounds"]) == 3
    assert by_test(data)["test_both"]["budget"]["joules"] == 1e-12  # the class's joules kept
    result.stdout.fnmatch_lines(["*energy budget exceeded: * > 1e-12 J*"])


def test_a_bad_class_marker_is_caught_under_a_good_function_marker(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.energy(rounds=-1)
        class TestA:
            @pytest.mark.energy(rounds=2)
            def test_a(self): pass
    """)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*TestA::test_a: energy(rounds=-1): rounds must be > 0"])


@pytest.mark.parametrize("marker", ["energy(warmup=10**10)", "energy(rounds=10**9)"])
def test_max_time_bounds_huge_warmup_and_rounds(pytester, run_energy, marker, fake_clock):
    pytester.makepyfile(f"""
        import pytest
        from pytest_energy import timing

        CALLS = []

        @pytest.mark.{marker}
        def test_huge():
            CALLS.append(1)
            timing.clock.advance(0.001)

        def test_count():  # at most 1 s of calls of at least 2 ms (1 ms of work, 1 of reading the clock)
            assert 10 < len(CALLS) <= 1 + 500
    """)
    result, data = run_energy("--energy-max-time=1", "--energy-min-time=0.01", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert by_test(data)["test_huge"]["repeat"] in ("repeated", "cut")  # warmup alone can use it all


def test_max_time_never_starts_a_call_that_does_not_fit(pytester, run_energy, fake_clock):
    pytester.makepyfile("""
        import pytest
        from pytest_energy import timing
        CALLS = []

        @pytest.mark.energy(rounds=50, warmup=0)
        def test_slow():
            CALLS.append(1)
            timing.clock.advance(0.3)

        def test_count():
            assert len(CALLS) == 1 + 3  # the real call, then the 0.3 s calls that fit in 1 s
    """)
    result, data = run_energy("--energy-max-time=1", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    record = by_test(data)["test_slow"]
    assert record["capped"] is True and len(record["rounds"]) == 3


def test_session_time_budget_cuts_repetition_and_says_so(pytester, run_energy, fake_clock):
    pytester.makepyfile("""
        import pytest
        from pytest_energy import timing

        @pytest.mark.parametrize("n", range(4))
        @pytest.mark.energy(rounds=3, warmup=0)
        def test_p(n): timing.clock.advance(0.05)
    """)
    result, data = run_energy("--energy-time-budget=0.2", "--energy-min-time=0.01", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    cut = [t for t in data["tests"] if t["repeat"] == "cut"]
    # 3 rounds of 0.05 s each: the first test spends 0.15 s, the second is cut at 0.2 s
    # (partly, keeping its real call), the last two find nothing left
    assert [t["nodeid"][-3:] for t in cut] == ["[1]", "[2]", "[3]"]
    assert all(t["tier"] == 1 and t["repeat_reason"] == "--energy-time-budget=0.2 s spent" for t in cut)
    result.stdout.fnmatch_lines([f"energy: repetition of {len(cut)} tests cut by --energy-time-budget*"])


def test_gc_runs_as_usual_during_rounds(pytester, run_energy):
    pytester.makepyfile("""
        import gc, pytest

        @pytest.mark.energy(rounds=3)
        def test_cycles():
            assert gc.isenabled()
            before = len(gc.get_objects())  # the whole process's: other tests' objects too
            for _ in range(20_000):
                node = {}
                node["self"] = node  # a reference cycle only the collector frees
            assert len(gc.get_objects()) - before < 10_000  # 20,000 more without the collector
    """)
    result, data = run_energy("--energy-min-time=0.05")
    result.assert_outcomes(passed=1)
    assert by_test(data)["test_cycles"]["repeat"] == "repeated"


def test_async_tests_keep_their_outcome(pytester, run_energy):
    pytester.makepyfile("async def test_coro(): pass")
    plain = pytester.runpytest()
    result, _ = run_energy()
    assert result.parseoutcomes() == plain.parseoutcomes()


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
    clock = FakeClock()

    class SlowRead(ScriptedMeter):  # each read takes 0.1 s and stands for its middle
        def read(self):
            clock.advance(0.1)
            return super().read()

    engine = Engine(MeterSet([SlowRead([0.0, 100.0])]), idle_watts=10.0, clock=clock)
    (round_,) = engine.run(lambda: None, ProtocolSettings(rounds=1, warmup=0, min_round_s=0.0)).rounds
    assert round_.seconds == 0.0
    assert round_.window_s == pytest.approx(0.1)  # half of each read
    assert round_.joules == pytest.approx(100.0 - 10.0 * 0.1)


def test_idle_is_measured_on_real_meters_only():
    class Real(ScriptedMeter):
        name = "real"

    class Modelled(ScriptedMeter):
        name = "modelled"
        is_estimate = True

    engine = Engine(MeterSet([Real([10.0, 12.0]), Modelled([0.0, 500.0])]), clock=FakeClock())
    watts = engine.measure_idle(0.1)
    assert watts == pytest.approx(2.0 / 0.1)
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


def test_a_meter_failing_mid_run_costs_figures_never_outcomes(pytester):
    # the conftest patches the meter class, so the run gets a subprocess of its own
    pytester.makeconftest("""
        from pytest_energy.measurement.meters import estimate

        real_read, reads = estimate.EstimateMeter.read, []

        def flaky_read(self):
            reads.append(1)
            if len(reads) > 40:
                raise OSError("counter vanished")
            return real_read(self)

        estimate.EstimateMeter.read = flaky_read
    """)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", range(30))
        @pytest.mark.energy_budget(joules=1000)
        def test_p(n): pass

        def test_fails(): assert 0
    """)
    out = pytester.path / "energy.json"
    result = pytester.runpytest_subprocess("--energy", f"--energy-json={out}", "--energy-min-time=0.001",
                                           "-p", "no:randomly")
    result.assert_outcomes(passed=30, failed=1)
    assert 0 < len(json.loads(out.read_text())["tests"]) < 31
    result.stdout.fnmatch_lines(["energy warning: measuring stopped: estimate failed (OSError: counter vanished)"])
    assert "Traceback" not in result.stdout.str()


def test_subtests_in_rounds_are_not_reported(pytester):
    pytester.makepyfile("""
        import unittest

        RUNS = []

        class TestSub(unittest.TestCase):
            def test_sub(self):
                RUNS.append(1)
                for i in range(3):
                    with self.subTest(i=i):
                        self.assertLess(i, 3)

            def test_sub_fails_when_repeated(self):
                RUNS.append(2)
                with self.subTest("second"):
                    self.assertEqual(RUNS.count(2), 1)
    """)
    def reports(*args: str) -> list[tuple[str, str, str]]:
        recorder = pytester.inline_run("-p", "no:randomly", *args)
        return [(r.nodeid, r.when, r.outcome) for r in recorder.getreports("pytest_runtest_logreport")]

    # pytest 9 reports unittest subtests (pytest.SubtestReport); before it, a failing
    # subtest fails its test like any assertion
    reported = hasattr(pytest, "SubtestReport")
    plain = reports()
    assert len(plain) > 6 if reported else len(plain) == 6  # setup, call, teardown of both (+ subtests)
    out = pytester.path / "energy.json"
    assert reports("--energy", "--energy-repeat", "--energy-min-time=0.001", f"--energy-json={out}") == plain
    data = json.loads(out.read_text())
    assert by_test(data)["test_sub"]["repeat"] == "repeated"
    failing = by_test(data)["test_sub_fails_when_repeated"]
    reason = "RepeatFailed: a subtest" if reported else "AssertionError: 2 != 1"
    assert failing["repeat"] == "not repeatable" and failing["repeat_reason"].startswith(reason)


def test_warnings_in_rounds_are_not_the_tests_warnings(pytester):
    pytester.makepyfile("""
        import warnings, pytest

        @pytest.mark.energy(rounds=3)
        def test_warns():
            warnings.warn("once per call", UserWarning)

        @pytest.mark.energy(rounds=3)
        def test_checks_its_warning():
            with pytest.warns(UserWarning, match="expected"):
                warnings.warn("expected", UserWarning)
    """)
    plain = pytester.runpytest("-p", "no:randomly")
    measured = pytester.runpytest("-p", "no:randomly", "--energy", "--energy-min-time=0.001")
    assert measured.parseoutcomes() == plain.parseoutcomes() == {"passed": 2, "warnings": 1}


def test_the_fixture_keeps_its_result_when_no_round_fits(pytester, run_energy):
    pytester.makepyfile("""
        import time

        def test_slow(energy):
            assert energy(lambda: time.sleep(0.3) or 7) == 7
            assert energy.stats is None
    """)
    result, data = run_energy("--energy-max-time=0.2")
    result.assert_outcomes(passed=1)
    assert "test_slow" not in by_test(data)


def test_the_meters_own_reading_cost_is_subtracted_from_every_window():
    class CostlyRead(ScriptedMeter):  # every read itself adds 1 J to the counter
        def __init__(self):
            self.total = 0.0

        def read(self):
            self.total += 1.0
            return {"cpu": self.total}

    meter = CostlyRead()
    engine = Engine(MeterSet([meter]))
    assert engine.measure_read_cost() == 1.0
    start = engine.start_window()
    meter.total += 0.25  # the call's own energy
    window = engine.end_window(start, 0.001)
    assert window.gross_joules == 1.25 and window.joules == 0.25
    rounds = engine.run(lambda: None, ProtocolSettings(rounds=3, warmup=0, min_round_s=0.0)).rounds
    assert [r.joules for r in rounds] == [0.0, 0.0, 0.0]  # a no-op call: only reading, all subtracted


PATCHES_THE_CLOCKS = """
    import itertools, time

    def work():
        return sum(i * i for i in range(300_000))

    def test_patches_the_clocks(monkeypatch):
        backwards = itertools.count(0.0, -1000.0)  # 1000 s back at every reading
        monkeypatch.setattr(time, "perf_counter", lambda: next(backwards))
        monkeypatch.setattr(time, "process_time", lambda: 0.0)
        assert work() > 0

    def test_leaves_them_alone():
        assert work() > 0
"""


@pytest.mark.parametrize("repeat", [[], ["--energy-repeat", "--energy-rounds=3", "--energy-min-time=0.001"]])
def test_a_test_that_patches_the_clocks_cannot_move_its_own_figure(pytester, repeat):
    pytester.makepyfile(PATCHES_THE_CLOCKS)
    out = pytester.path / "energy.json"
    # in a subprocess with a timeout: on patched clocks the rounds' deadline was never reached
    result = pytester.runpytest_subprocess("--energy", "--energy-meter=estimate", f"--energy-json={out}",
                                           *repeat, timeout=120)
    result.assert_outcomes(passed=2)
    data = json.loads(out.read_text())
    patched, plain = by_test(data)["test_patches_the_clocks"], by_test(data)["test_leaves_them_alone"]
    for figure in (patched, plain):  # the same work: seconds and CPU joules on the real clocks
        assert 0 < figure["seconds"] < 100, figure
        assert 0 < figure["joules"] < 1000, figure
    assert patched["joules"] > plain["joules"] / 20  # not 0 J, as time.process_time would say
