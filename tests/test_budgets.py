"""Budgets, marker validation and the disabled path."""

from __future__ import annotations

import re

import pytest
from conftest import by_test

BUDGET_SUITE = """
    import pytest

    def work():
        return sum(i * i for i in range(20_000))

    @pytest.mark.energy_budget(joules=1000)
    def test_within():
        work()

    @pytest.mark.energy_budget(joules=1e-9)
    def test_over_joules():
        work()

    @pytest.mark.energy_budget(co2_g=1e-15)
    def test_over_co2():
        work()

    @pytest.mark.energy_budget(joules=1000, co2_g=1)
    def test_both_within():
        work()
"""


def test_budgets_pass_and_fail_as_ordinary_test_failures(pytester, run_energy):
    pytester.makepyfile(BUDGET_SUITE)
    result, data = run_energy("--energy-rounds=3", "--energy-min-time=0.01")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    match = re.search(
        r"energy budget exceeded: ([\d.]+) (m|µ)J \(95% CI ([\d.]+)-([\d.]+) (m|µ)J, estimate\) > 1e-09 J", out
    )
    assert match, out
    median, low, high = float(match[1]), float(match[3]), float(match[4])
    assert low <= median <= high
    result.stdout.fnmatch_lines([
        "energy budget exceeded: * gCO2e from * (95% CI *, estimate) at 475 gCO2e/kWh*, PUE 1 > 1e-15 gCO2e",
    ])
    tests = by_test(data)
    assert tests["test_within"]["budget"]["status"] == "ok"
    assert tests["test_over_joules"]["budget"]["status"] == "over"
    assert tests["test_over_joules"]["budget"]["message"].startswith("energy budget exceeded")
    assert tests["test_both_within"]["budget"] == {
        "joules": 1000, "co2_g": 1, "status": "ok", "message": None, "sci_g": None,
    }
    assert "Traceback" not in out


def test_budget_applies_to_what_the_fixture_measured(pytester, run_energy):
    pytester.makepyfile("""
        import pytest, time

        @pytest.mark.energy_budget(joules=1e-9)
        def test_fixture_over(energy):
            time.sleep(0.2)  # outside the measured callable
            assert energy(sorted, [3, 1, 2]) == [1, 2, 3]
            assert energy.stats.median > 1e-9
    """)
    result, data = run_energy("--energy-rounds=3", "--energy-min-time=0.01")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*energy budget exceeded: *"])
    record = by_test(data)["test_fixture_over"]
    assert record["samples"]["seconds"][0] < 0.05  # the 0.2 s sleep is not in the figure


@pytest.mark.parametrize(("marker", "message"), [
    ("energy_budget(joules=-1)", "energy_budget(joules=-1): joules must be > 0"),
    ("energy_budget(joules=0)", "energy_budget(joules=0): joules must be > 0"),
    ("energy_budget(joules='5')", "energy_budget(joules='5'): joules must be a number"),
    ("energy_budget(joules=True)", "energy_budget(joules=True): joules must be a number"),
    ("energy_budget(joules=float('nan'))", "energy_budget(joules=nan): joules must be > 0"),
    ("energy_budget(co2_g=-0.5)", "energy_budget(co2_g=-0.5): co2_g must be > 0"),
    ("energy_budget(watts=3)", "energy_budget: unknown argument 'watts'; allowed: joules, co2_g, sci_g"),
    ("energy_budget(5)", "energy_budget: takes keyword arguments only (joules, co2_g, sci_g), got (5,)"),
    ("energy_budget()", "energy_budget: give joules=J, co2_g=G and/or sci_g=G"),
    ("energy(rounds=0)", "energy(rounds=0): rounds must be > 0"),
    ("energy(rounds=2.5)", "energy(rounds=2.5): rounds must be a whole number"),
    ("energy(warmup=-1)", "energy(warmup=-1): warmup must be >= 0"),
    ("energy(max_time=0)", "energy(max_time=0): max_time must be > 0"),
    ("energy(round=3)", "energy: unknown argument 'round'; allowed: rounds, warmup, max_time, max_regression"),
    ("energy(max_regression=0)", "energy(max_regression=0): max_regression must be > 0"),
    ("energy_ratio(at_most=0.5)", "energy_ratio: candidate='LABEL' (a label given to energy.versus) is required"),
    ("energy_ratio(candidate='c')", "energy_ratio: give at_most=R and/or at_least=R"),
    ("energy_ratio(candidate='c', at_most=-1)", "energy_ratio(at_most=-1): at_most must be > 0"),
    ("energy_ratio(candidate='c', below=1)", "energy_ratio: unknown argument 'below'; allowed: candidate, at_most, at_least"),
])
def test_bad_marker_arguments_are_collection_errors_naming_test_and_argument(pytester, marker, message):
    pytester.makepyfile(f"""
        import pytest

        @pytest.mark.{marker}
        def test_bad(): pass
    """)
    for args in (["--energy"], []):  # validated with and without --energy
        result = pytester.runpytest(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"ERROR: invalid energy marker: test_*.py::test_bad: {message}"])


def test_markers_are_registered_for_strict_markers(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.energy(rounds=2)
        @pytest.mark.energy_budget(joules=5)
        def test_a(): pass
    """)
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.energy(rounds=N*", "@pytest.mark.energy_budget(joules=J*"])


def test_disabled_measures_nothing_and_enforces_no_budget(pytester):
    pytester.makepyfile("""
        import pytest
        CALLS = []

        @pytest.mark.energy_budget(joules=1e-12)
        def test_over():
            CALLS.append(1)

        def test_ran_once():
            assert CALLS == [1]

        def test_fixture_just_calls(energy):
            assert energy(max, 1, 2) == 2
            assert energy.stats is None
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)
    assert not [line for line in result.outlines if line.startswith("energy")]
    assert "J/call" not in result.stdout.str()


def test_ini_turns_energy_on_by_default(pytester):
    pytester.makeini("[pytest]\nenergy = true\nenergy_rounds = 2\nenergy_min_time = 0.01\n")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["energy: meters estimate*", "*::test_a *real call *estimate*"])


def test_plugin_can_be_disabled_by_name(pytester):
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest_subprocess("-p", "no:energy", "--energy")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unrecognized arguments: --energy*"])


def test_budget_on_a_not_repeatable_test_is_judged_on_its_real_call(pytester, run_energy):
    pytester.makepyfile(test_once="""
        import pytest

        CALLS = []

        @pytest.mark.energy_budget(joules=1e-12)
        def test_once():
            CALLS.append(1)
            assert len(CALLS) == 1
    """)
    result, data = run_energy("test_once.py")
    result.assert_outcomes(failed=1)
    record = by_test(data)["test_once"]
    assert record["repeat"] == "not repeatable" and record["tier"] == 1
    assert record["budget"]["status"] == "over"
    result.stdout.fnmatch_lines([
        "energy budget exceeded: * (real call; not repeatable: AssertionError: assert 2 == 1, estimate) > 1e-12 J",
    ])


@pytest.mark.parametrize(("marker", "message"), [
    ("energy(rounds=None)", "energy(rounds=None): leave rounds out to use the session's setting"),
    ("energy(max_time=1e308)", "energy(max_time=1e+308): max_time must be at most 86400"),
    ("energy_ratio(candidate='c', at_most=0.1, at_least=0.5)",
     "energy_ratio(at_most=0.1, at_least=0.5): no ratio can pass; at_least must not exceed at_most"),
])
def test_more_bad_marker_arguments(pytester, marker, message):
    pytester.makepyfile(f"""
        import pytest

        @pytest.mark.{marker}
        def test_bad(): pass
    """)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: invalid energy marker: test_*.py::test_bad: {message}"])
