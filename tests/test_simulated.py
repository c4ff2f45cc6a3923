"""``--energy-meter=simulated``: pytest re-run under callgrind, deterministic figures, exact verdicts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import by_test
from simulator_helpers import needs_valgrind

pytestmark = needs_valgrind

SIM = ("--energy", "--energy-meter=simulated", "-p", "no:randomly", "-p", "no:cacheprovider")

LOOPS = """
def work(n):  # the same instructions every iteration (no big-int arithmetic)
    total = 0
    for _ in range(n):
        total += 1
    return total

def test_n():
    assert work(50_000)

def test_2n():
    assert work(100_000)
"""


def run_sim(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    """pytest in a subprocess, as a user starts it, with its JSON and temporary files
    outside the tests' directory: a file added there moves the next run's counts a little
    (see ``EXACT_NOISE_J``), and pytester's own runs add one each time."""
    outside = pytester.path.parent / f"{pytester.path.name}-outside"
    out = outside / "energy.json"
    command = [sys.executable, "-m", "pytest", *SIM, f"--energy-json={out}", f"--basetemp={outside / 'tmp'}", *args]
    done = subprocess.run(command, cwd=pytester.path, capture_output=True, text=True, timeout=600)
    result = pytest.RunResult(done.returncode, done.stdout.splitlines(), done.stderr.splitlines(), 0.0)
    return result, (json.loads(out.read_text()) if out.exists() else {})


def test_counts_scale_with_the_work_and_repeat_exactly(pytester, monkeypatch):
    # the first run would write the test module's cached bytecode: the second would then
    # start from another heap, so neither writes it
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.makepyfile(test_loops=LOOPS)
    result, data = run_sim(pytester)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "energy: meters simulated (callgrind, model sim-energy/1#*) -- modelled figures, labelled 'simulated'*",
        "energy: simulated counts the CPU's instructions and cache misses*cannot see sleeping, I/O, GPU*",
        "energy: every test's real call counted once",
    ])
    tests = by_test(data)
    assert set(tests) == {"test_n", "test_2n"}  # one record per test
    for record in tests.values():
        assert record["meter"] == "simulated" and record["estimate"] is True and record["tier"] == 1
        assert record["model"].startswith("sim-energy/1#") and "LL=8388608,16,64" in record["model"]
    n, n2 = tests["test_n"]["call"]["counts"], tests["test_2n"]["call"]["counts"]
    assert n2["ir"] / n["ir"] == pytest.approx(2.0, rel=0.01)
    assert tests["test_2n"]["joules"] > 1.9 * tests["test_n"]["joules"] > 0
    _, again = run_sim(pytester)  # the same command in the same directory: the same figure to 0.01%
    for first, second in zip(data["tests"], again["tests"], strict=True):
        assert second["call"]["counts"]["ir"] == pytest.approx(first["call"]["counts"]["ir"], rel=1e-4)
        assert second["joules"] == pytest.approx(first["joules"], rel=1e-4)


def test_forks_threads_and_failures_keep_their_outcome_and_record(pytester):
    pytester.makepyfile("""
        import os, threading

        def work(n):
            return sum(range(n))

        def test_thread():
            t = threading.Thread(target=work, args=(10_000,))
            t.start()
            t.join()

        def test_fork():
            pid = os.fork()
            if pid == 0:
                os._exit(0 if work(1000) else 1)
            assert os.waitpid(pid, 0)[1] == 0

        def test_raises():
            raise ValueError("boom")

        def test_subprocess():
            import subprocess, sys
            assert subprocess.run([sys.executable, "-c", "pass"]).returncode == 0
    """)
    result, data = run_sim(pytester)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*ValueError: boom*"])
    tests = by_test(data)
    assert set(tests) == {"test_thread", "test_fork", "test_raises", "test_subprocess"}
    assert all(t["call"]["counts"]["ir"] > 0 for t in tests.values())


def test_one_stored_run_is_enough_and_a_change_beyond_the_tolerance_fails(pytester):
    pytester.makepyfile(test_loops=LOOPS)
    saved = pytester.runpytest_subprocess(*SIM, "--energy-save")
    saved.assert_outcomes(passed=2)
    same = pytester.runpytest_subprocess(*SIM, "--energy-compare")
    assert same.ret == 0
    same.stdout.fnmatch_lines(["energy check passed: 3 unchanged"])
    pytester.makepyfile(test_loops=LOOPS.replace("work(100_000)", "work(105_000)"))  # +5%
    heavier = pytester.runpytest_subprocess(*SIM, "--energy-compare")
    assert heavier.ret == 1
    heavier.stdout.fnmatch_lines([
        "energy regression: test_loops.py::test_2n: * -> *, +5.*% (instructions +5.*%, memory accesses +5.*), "
        "beyond the 1% tolerance (simulated: deterministic counts, modelled joules)",
        "energy check FAILED: 2 regressions, 1 unchanged",
    ])
    baseline = json.loads((pytester.path / ".energy" / "baseline.json").read_text())
    run = baseline["tests"]["test_loops.py::test_n"]["runs"][-1]
    assert run["meter"] == "simulated" and run["model"].startswith("sim-energy/1#") and run["counts"]["ir"] > 0


def test_a_model_file_is_used_and_a_bad_one_is_one_line(pytester, tmp_path):
    from pytest_energy.measurement.simulator.model import ModelCoefficients
    from pytest_energy.store.models import save_model

    pytester.makepyfile(test_loops=LOOPS)
    model = ModelCoefficients(core_watts=20.0, source="test fit")
    save_model(str(tmp_path / "model.json"), model)
    result, data = run_sim(pytester, f"--energy-model={tmp_path / 'model.json'}")
    result.assert_outcomes(passed=2)
    assert all(t["model"].startswith(model.identity) for t in data["tests"])
    result.stdout.fnmatch_lines([f"energy: meters simulated (callgrind, model {model.identity}: test fit)*"])
    (tmp_path / "bad.json").write_text('{"version": "sim-energy/9"}')
    bad = pytester.runpytest_subprocess(*SIM, f"--energy-model={tmp_path / 'bad.json'}")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(['ERROR: --energy-model: model file *bad.json is malformed at version: '
                              '"sim-energy/9" is not one of "sim-energy/1"; re-create it with pytest-energy calibrate'])
    assert "Traceback" not in bad.stdout.str() + bad.stderr.str()


def test_without_valgrind_one_line_with_the_install_command(pytester, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"  # python and setarch, but no valgrind
    bin_dir.mkdir()
    for tool in ("setarch", "cc", "gcc"):
        if shutil.which(tool):
            os.symlink(shutil.which(tool), bin_dir / tool)
    monkeypatch.setenv("PATH", str(bin_dir))
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest_subprocess(*SIM)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --energy-meter=simulated: valgrind not found on PATH: apt-get install valgrind"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_what_the_simulated_meter_refuses(pytester):
    pytester.makepyfile("def test_a(): pass")
    xdist = pytester.runpytest_subprocess(*SIM, "-n", "2")
    assert xdist.ret == pytest.ExitCode.USAGE_ERROR
    xdist.stderr.fnmatch_lines(["ERROR: --energy-meter=simulated counts in one process: drop -n"])
    inline = pytester.runpytest(*SIM)  # pytest.main() inside this process cannot be re-run
    assert inline.ret == pytest.ExitCode.USAGE_ERROR
    mixed = pytester.runpytest_subprocess("--energy", "--energy-meter=simulated,estimate")
    mixed.stderr.fnmatch_lines(["ERROR: --energy-meter: simulated counts alone*"])


def test_outside_the_simulator_the_meter_says_how_to_start_it():
    from pytest_energy.measurement.meters import MeterOptions, MeterUnavailable, open_meter

    with pytest.raises(MeterUnavailable, match="PYTEST_ENERGY_SIM_CHILD is not set"):
        open_meter("simulated", MeterOptions())
    assert sys.platform.startswith("linux")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_ab_runs_each_side_once_and_says_what_moved(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "dev")
    test_file = repo / "tests" / "test_loops.py"
    for text, message in ((LOOPS, "base"), (LOOPS.replace("work(100_000)", "work(105_000)"), "head")):
        test_file.write_text(text)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", message)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    command = [sys.executable, "-m", "pytest_energy", "ab"]
    ab_file = tmp_path / "ab.json"
    changed = subprocess.run([*command, "HEAD~1", "HEAD", "--json", str(ab_file), "--", "--energy-meter=simulated",
                              "-p", "no:cacheprovider"], capture_output=True, text=True, timeout=600)
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "one run under the simulator" in changed.stderr
    lines = changed.stdout.splitlines()
    assert any(line.startswith("energy regression: tests/test_loops.py::test_2n: ") and "instructions +5" in line
               and "beyond the 1% tolerance" in line for line in lines), changed.stdout
    assert not any("test_n:" in line for line in lines if line.startswith("energy regression"))
    document = json.loads(ab_file.read_text())
    verdicts = {c["nodeid"]: c["verdict"] for c in document["comparisons"]}
    assert verdicts["tests/test_loops.py::test_n"] == "unchanged"
    assert document["comparisons"][0]["exact"] is True and "instructions" in document["comparisons"][0]["counts_change"]
    same = subprocess.run([*command, "HEAD", "HEAD", "--", "--energy-meter=simulated", "-p", "no:cacheprovider"],
                          capture_output=True, text=True, timeout=600)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "energy ab passed: 3 unchanged" in same.stdout
