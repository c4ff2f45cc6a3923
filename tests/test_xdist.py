"""pytest-xdist: serialised windows, idle measured once, every result reported."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("xdist")


def test_n2_reports_every_test_and_windows_never_overlap(pytester):
    pytester.makepyfile(test_one="""
        import os, time, pytest

        @pytest.mark.parametrize("n", range(6))
        def test_work(n):
            sum(range(20_000 * (n + 1)))

        def test_setup_runs_in_parallel():
            pass
    """, test_two="""
        import pytest

        @pytest.mark.energy_budget(joules=1e-12)
        def test_over():
            sum(range(1000))

        def test_plain():
            sum(range(1000))
    """)
    out = pytester.path / "energy.json"
    result = pytester.runpytest_subprocess(
        "-n", "2", "--energy", "--energy-repeat", "--energy-rounds=3", "--energy-min-time=0.02",
        f"--energy-json={out}",
    )
    result.assert_outcomes(passed=8, failed=1)
    result.stdout.fnmatch_lines([
        "*energy budget exceeded:*",
        "TOTAL (9 tests)*",
        "energy: 9 tests measured (9 repeated in rounds, *), * in their real calls (estimate)",
    ])
    data = json.loads(out.read_text())
    assert len(data["tests"]) == 9
    assert not any(t["shared"] for t in data["tests"])  # the estimate is each process's own CPU time
    assert {t["worker"] for t in data["tests"]} == {"gw0", "gw1"}
    windows = sorted(tuple(t["window"]) for t in data["tests"])  # the rounds' windows
    for (_, end), (next_start, _) in zip(windows, windows[1:], strict=False):
        assert end <= next_start, f"measured windows overlap: {windows}"


def test_n2_idle_power_is_measured_once_by_the_controller(pytester, powercap, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # the notes column unshortened
    from powercap_sim import SimZone

    root, _ = powercap([SimZone("intel-rapl:0", "package-0", watts=7.0)])
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_work(n):
            sum(range(1000))
    """)
    out = pytester.path / "energy.json"
    result = pytester.runpytest_subprocess(
        "-n", "2", "--energy", "--energy-meter=rapl", f"--energy-powercap-root={root}",
        "--energy-rounds=2", "--energy-min-time=0.1", "--energy-idle-time=1", f"--energy-json={out}",
    )
    result.assert_outcomes(passed=4)
    data = json.loads(out.read_text())
    assert all(t["shared"] for t in data["tests"])  # RAPL is machine-wide: other workers are in it
    result.stdout.fnmatch_lines(["*shared: other workers ran meanwhile*"])
    assert data["idle_watts"] == pytest.approx(7.0, rel=0.05)
    assert {t["idle_watts"] for t in data["tests"]} == {data["idle_watts"]}
    assert {t["meter"] for t in data["tests"]} == {"rapl"}


def test_a_crashed_worker_loses_only_the_crashing_test(pytester):
    pytester.makepyfile(test_crash="""
        import os, pytest

        @pytest.mark.parametrize("n", range(12))
        def test_fine(n):
            sum(range(1000))

        def test_crash():
            os._exit(1)
    """)
    out = pytester.path / "energy.json"
    result = pytester.runpytest_subprocess("-n", "2", "--energy", f"--energy-json={out}")
    result.assert_outcomes(passed=12, failed=1)
    data = json.loads(out.read_text())
    assert sorted(t["nodeid"] for t in data["tests"]) == sorted(f"test_crash.py::test_fine[{n}]" for n in range(12))


def test_a_result_delivered_twice_counts_once(pytester):
    # as after an interrupt under xdist: the same test's report reaches the controller again
    pytester.makeconftest("""
        import pytest

        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_makereport(item, call):
            report = yield
            if call.when == "call":
                item.ihook.pytest_runtest_logreport(report=report)
            return report
    """)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_p(n): pass
    """)
    out = pytester.path / "energy.json"
    result = pytester.runpytest("--energy", f"--energy-json={out}")
    nodeids = [t["nodeid"] for t in json.loads(out.read_text())["tests"]]
    assert sorted(nodeids) == sorted(set(nodeids)) and len(nodeids) == 3
    result.stdout.fnmatch_lines(["energy: 3 tests measured*"])
