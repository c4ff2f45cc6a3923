"""energy.versus: candidates side by side, the energy_ratio marker, the build helper."""

from __future__ import annotations

import json
import textwrap

from conftest import by_test

# fake NVML at 0 W: energy comes only from what candidates consume explicitly
EXACT = ("--energy", "--energy-meter=nvml", "--energy-idle-time=0", "--energy-min-time=0.000001",
         "--energy-rounds=4", "--energy-warmup=0")


def run_json(pytester, *args):
    out = pytester.path / "energy.json"
    result = pytester.runpytest(*args, f"--energy-json={out}")
    return result, json.loads(out.read_text()) if out.exists() else {}


def test_rounds_interleave_and_ratio_is_exact_on_a_known_meter(pytester, exact_meter):
    pytester.makepyfile("""
        import pynvml

        def light(x):
            pynvml.consume(2_000)   # 2 J per call
            return sorted(x)

        def heavy(x):
            pynvml.consume(8_000)   # 8 J per call
            return sorted(x)

        def test_compare(energy):
            result = energy.versus({"light": light, "heavy": heavy}, [3, 1, 2])
            assert result.reference == "heavy"
            assert result.order == ["light", "heavy"] * 4
            assert result["light"].joules == 2.0 and result["heavy"].joules == 8.0
            ratio = result.ratio("light")
            assert (ratio.median, ratio.ci_low, ratio.ci_high) == (0.25, 0.25, 0.25)
            result.assert_ratio("light", at_most=0.3)
            result.assert_ratio("light", at_least=0.2)
    """)
    result, data = run_json(pytester, *EXACT)
    result.assert_outcomes(passed=1)
    rounds = sorted(
        (r["started"], name.split("::")[-1]) for name, t in
        ((t["nodeid"], t) for t in data["tests"]) for r in t["rounds"]
    )
    assert [label for _, label in rounds] == ["light", "heavy"] * 4
    versus = data["versus"][0]
    assert versus["reference"] == "heavy" and versus["order"] == ["light", "heavy"] * 4
    light = next(c for c in versus["candidates"] if c["label"] == "light")
    assert light["energy_ratio"] == {"median": 0.25, "ci_low": 0.25, "ci_high": 0.25}
    assert light["samples"]["joules"] == [2.0] * 4


def test_ratio_with_ci_on_a_constant_power_meter(pytester, fake_pynvml, fake_clock):
    # 100 W on the fake clock: 10 ms against 40 ms, plus the clock's 1 ms per reading
    pytester.makepyfile("""
        import pytest
        from pytest_energy import timing

        def test_compare(energy):
            result = energy.versus({"short": lambda: timing.clock.advance(0.01),
                                    "long": lambda: timing.clock.advance(0.04)}, check=False)
            ratio = result.ratio("short")
            assert ratio.median == pytest.approx(0.25, rel=0.1)
            assert ratio.ci_low <= ratio.median <= ratio.ci_high
            assert result.candidates["short"].time_ratio.median == pytest.approx(0.25, rel=0.1)
    """)
    result, _ = run_json(pytester, "--energy", "--energy-meter=nvml", "--energy-idle-time=0",
                         "--energy-min-time=0.03", "--energy-rounds=3", "--energy-warmup=0")
    result.assert_outcomes(passed=1)


def test_setup_rebuilds_mutated_input_outside_the_window(pytester, exact_meter):
    pytester.makepyfile("""
        import pynvml
        SEEN = []

        def build(data):
            pynvml.consume(1_000_000)   # outside the window: must not count
            return list(data)

        def in_place(x):
            SEEN.append(list(x))
            pynvml.consume(1_000)
            x.sort()                    # returns None: the sorted input is checked

        def copying(x):
            pynvml.consume(4_000)
            return sorted(x)

        def test_compare(energy):
            result = energy.versus({"in_place": in_place, "copying": copying}, [3, 1, 2], setup=build)
            assert all(seen == [3, 1, 2] for seen in SEEN)  # always a fresh, unsorted input
            assert result["in_place"].joules == 1.0 and result["copying"].joules == 4.0
            assert result["in_place"].value == [1, 2, 3]
    """)
    result, _ = run_json(pytester, *EXACT, "--energy-min-time=0.001")
    result.assert_outcomes(passed=1)


def test_a_faster_wrong_answer_is_caught(pytester):
    pytester.makepyfile("""
        def test_compare(energy):
            energy.versus({"wrong": lambda x: x[:-1], "right": sorted}, [3, 1, 2])
    """)
    for args in (["--energy", "--energy-min-time=0.001"], []):
        result = pytester.runpytest(*args)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([
            "*CandidateMismatch: candidate 'wrong' returned a different result from reference 'right': "
            "[[]3, 1] != [[]1, 2, 3] (pass check=False if expected)",
        ])


def test_energy_ratio_marker_failure_shows_both_figures_and_the_ratio(pytester, exact_meter):
    pytester.makepyfile("""
        import pytest, pynvml

        def c_version():
            pynvml.consume(6_000)

        def python_version():
            pynvml.consume(8_000)

        @pytest.mark.energy_ratio(candidate="c", at_most=0.5)
        def test_marker(energy):
            energy.versus({"c": c_version, "python": python_version})

        def test_helper(energy):
            energy.versus({"c": c_version, "python": python_version}).assert_ratio("c", at_most=0.5)

        @pytest.mark.energy_ratio(candidate="rust", at_most=0.5)
        def test_unknown_candidate(energy):
            energy.versus({"c": c_version, "python": python_version})
    """)
    result, _ = run_json(pytester, *EXACT)
    result.assert_outcomes(failed=3)
    line = "*energy ratio c/python = 0.75 (95% CI 0.75-0.75) > 0.5 allowed: c 6 J vs python 8 J per call (nvml)"
    result.stdout.fnmatch_lines(["*test_marker*", line, "*test_helper*", "E * " + line[1:]])
    result.stdout.fnmatch_lines(["*energy_ratio marker: candidate 'rust' is not a compared candidate*"])


def test_without_energy_compare_only_checks_results(pytester):
    pytester.makepyfile("""
        import pytest
        CALLS = []

        @pytest.mark.energy_ratio(candidate="a", at_most=0.01)
        def test_compare(energy):
            result = energy.versus({"a": lambda: CALLS.append("a"), "b": lambda: CALLS.append("b")})
            assert CALLS == ["a", "b"] and not result.measured
            result.assert_ratio("a", at_most=0.01)
    """)
    pytester.runpytest().assert_outcomes(passed=1)


def test_comparison_table_and_json(pytester, exact_meter):
    pytester.makepyfile("""
        import pynvml

        def test_pick(energy):
            energy.versus({"knn": lambda: pynvml.consume(1_000) or 0.94,
                            "kmeans": lambda: pynvml.consume(50_000) or 0.78,
                            "odd": lambda: pynvml.consume(1_000) or {"not": "json"}},
                           check=False, value_label="accuracy", reference="kmeans")
    """)
    result, data = run_json(pytester, *EXACT, "-v")  # -v: every column, full ids
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "*energy: candidates side by side*",
        "test * candidate * J/call * s/call * W * energy ratio * 95% CI * time ratio * meter * accuracy",
        "*::test_pick * knn * 1 J * 0.02 * 0.02-0.02 * nvml * 0.94",
        "  * kmeans * 50 J * 1 (reference) * nvml * 0.78",  # the test's id once, on its first row
    ])
    narrow, _ = run_json(pytester, *EXACT)  # pytester's terminal: 80 columns
    table = narrow.stdout.str().split("energy: candidates side by side")[1].splitlines()[1:7]
    assert table[0].split() == ["test", "candidate", "J/call", "energy", "ratio", "accuracy"]
    assert all(len(line) <= 80 for line in table) and table[-1] == "meter: nvml", table
    narrow.stdout.fnmatch_lines(["energy: SCI * for one call of each measured test (3: 0 tests' figures and "
                                 "3 candidates') = *"])  # the count says what it counts
    tests = by_test(data)
    assert tests["knn"]["summary"]["median"] == 1.0 and tests["kmeans"]["summary"]["median"] == 50.0
    knn = next(c for c in data["versus"][0]["candidates"] if c["label"] == "knn")
    assert knn["value"] == 0.94 and knn["joules"] == 1.0
    assert data["versus"][0]["value_label"] == "accuracy"
    odd = next(c for c in data["versus"][0]["candidates"] if c["label"] == "odd")
    assert odd["value"] == "{'not': 'json'}"


C_SOURCE = """
    #define PY_SSIZE_T_CLEAN
    #include <Python.h>
    static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(ANSWER); }
    static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
    static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "fast", NULL, -1, methods};
    PyMODINIT_FUNC PyInit_fast(void) { return PyModule_Create(&module); }
"""


def test_build_helper_builds_caches_rebuilds_and_reports_compiler_errors(pytester):
    source = pytester.path / "fast.c"
    source.write_text(textwrap.dedent(C_SOURCE).replace("ANSWER", "42"))
    pytester.makepyfile(test_native="""
        import os
        import pytest_energy.measurement.native as native

        def test_build(native_module, request):
            runs = []
            real_run = native.subprocess.run
            native.subprocess.run = lambda *a, **k: runs.append(a) or real_run(*a, **k)
            try:
                fast = native_module("fast.c")
            finally:
                native.subprocess.run = real_run
            assert fast.answer() == int(os.environ["EXPECTED"])
            print("COMPILER RUNS", len(runs), fast.__file__)
    """)
    pytester.makeini("[pytest]\naddopts = -p cacheprovider -s\n")

    def run(expected):
        pytester._monkeypatch.setenv("EXPECTED", str(expected))
        result = pytester.runpytest_subprocess()
        result.assert_outcomes(passed=1)
        words = next(line for line in result.outlines if "COMPILER RUNS" in line).split("COMPILER RUNS")[1].split()
        return int(words[0]), words[1]

    built, first = run(42)
    assert built == 1 and ".pytest_cache" in first
    cached, second = run(42)
    assert cached == 0 and second == first
    source.write_text(textwrap.dedent(C_SOURCE).replace("ANSWER", "7"))
    rebuilt, third = run(7)
    assert rebuilt == 1 and third != first

    source.write_text("this is not C;\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["building fast.c failed (* exit 1):", "*fast.c:1:*error*"])
    assert "Traceback" not in result.stdout.str()


def test_versus_outside_pytest():
    from pytest_energy import versus

    result = versus({"builtin": sorted, "copy_sort": lambda x: sorted(list(x))}, list(range(2000, 0, -1)),
                     meter="estimate")
    assert result.meter == "estimate" and result.measured
    assert result.reference == "copy_sort"
    assert result["builtin"].joules > 0 and result.ratio("builtin").median > 0


def test_compare_is_kept_as_the_earlier_name_of_versus(pytester):
    """``compare`` (function and fixture method) stays for one release, the same as ``versus``."""
    import pytest_energy

    assert pytest_energy.compare is pytest_energy.versus
    pytester.makepyfile(
        """
        def test_old_name(energy):
            result = energy.compare({"a": sorted, "b": lambda x: sorted(list(x))}, [3, 1, 2])
            assert result.reference == "b" and result["a"].value == [1, 2, 3]
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--energy", "--energy-rounds=2")
    result.assert_outcomes(passed=1)
