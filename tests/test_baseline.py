"""Baselines and the regression gate, through pytest as users run it.

Energy comes from the fake NVML meter with no background power: each call of a test
consumes a set number of joules with a fixed +-3% pattern of noise, so verdicts do not
depend on how the machine schedules the run (bench/verdict_quality.py covers real noise).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from pytest_energy.results import CallWindow, TestResult
from pytest_energy.store import baseline as store

# tier 2 (repeated rounds) for every test: these tests pin the rounds' rule
GATE = ("--energy", "--energy-repeat", "--energy-meter=nvml", "--energy-idle-time=0", "--energy-min-time=0.05",
        "--energy-rounds=5", "--energy-warmup=0")
SUITE = """
    import itertools, os, time, pynvml, pytest

    NOISE = itertools.cycle([0.98, 1.01, 1.03, 0.99, 1.0, 0.97, 1.02])

    def work(joules):
        pynvml.consume(int(joules * next(NOISE) * 1000))
        time.sleep(0.01)  # keeps the calls per round few, so the noise does not average out

    def test_steady():
        work(2.0)

    def test_scaled():
        work(2.0 * float(os.environ.get("SCALE", "1")))

    @pytest.mark.energy(max_regression=500)
    def test_tolerant():
        work(2.0 * float(os.environ.get("SCALE", "1")))
"""


def make_suite(pytester, monkeypatch, **files: str):
    """A suite whose tests' energy scales with $SCALE (1 to start)."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("SCALE", "1")
    pytester.makepyfile(**files)
    return pytester


@pytest.fixture
def suite(pytester, exact_meter, monkeypatch):
    return make_suite(pytester, monkeypatch, test_suite=SUITE)


def baseline_path(pytester) -> str:
    return str(pytester.path / ".energy" / "baseline.json")


def verdicts(pytester, *args: str, options: tuple[str, ...] = GATE) -> tuple[pytest.RunResult, dict[str, str]]:
    """Compare with the baseline; returns the run and each test's (or file's) verdict."""
    out = pytester.path / "results.json"
    result = pytester.runpytest(*options, "--energy-compare", f"--energy-json={out}", *args)
    data = json.loads(out.read_text())
    return result, {c["nodeid"].split("::")[-1]: c["verdict"] for c in data["comparisons"]}


def test_save_writes_the_documented_schema(suite):
    assert not os.path.exists(baseline_path(suite))
    suite.runpytest(*GATE).assert_outcomes(passed=3)
    assert not os.path.exists(baseline_path(suite)), "written without --energy-save"
    result = suite.runpytest(*GATE, "--energy-save")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([f"energy: baseline saved to {baseline_path(suite)}"])
    text = open(baseline_path(suite)).read()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"  # stable, diffable
    assert data["format"] == "pytest-energy-baseline" and data["version"] == 1
    assert set(data["machine"]) == {"cpu_model", "cpu_count", "meters", "os", "python"}
    assert data["machine"]["meters"] == "nvml"
    assert data["commit"] is None and data["history"] == 10
    run = data["tests"]["test_suite.py::test_steady"]["runs"][0]
    assert run["meter"] == "nvml" and run["tier"] == 2
    assert 1.94 <= run["call_joules"] <= 2.06 and run["below_resolution"] is True  # 10 ms < NVML's 100 ms
    assert len(run["samples"]["joules"]) == len(run["samples"]["seconds"]) == 5
    assert all(1.94 <= joules <= 2.06 for joules in run["samples"]["joules"])
    assert run["settings"] == {"rounds": 5, "warmup": 0, "min_round_s": 0.05, "max_time_s": 10.0}
    assert data["files"]["test_suite.py"]["runs"][0]["joules"] == pytest.approx(
        sum(t["runs"][0]["call_joules"] for t in data["tests"].values()))


def test_history_keeps_the_last_k_runs_and_records_the_commit(suite):
    for cmd in (["init", "-q"], ["add", "."], ["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x"]):
        subprocess.run(["git", *cmd], cwd=suite.path, check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=suite.path, capture_output=True, text=True).stdout
    for _ in range(3):
        suite.runpytest(*GATE, "--energy-save", "--energy-history=2").assert_outcomes(passed=3)
    data = json.load(open(baseline_path(suite)))
    assert data["commit"] == sha.strip()
    runs = data["tests"]["test_suite.py::test_steady"]["runs"]
    assert len(runs) == 2 and runs[-1]["commit"] == sha.strip()


def test_unchanged_code_passes_and_3x_more_expensive_fails_cleanly(suite, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # room for every column of the comparison table
    suite.runpytest(*GATE, "--energy-save").assert_outcomes(passed=3)
    suite.runpytest(*GATE, "--energy-save").assert_outcomes(passed=3)
    result, found = verdicts(suite)
    assert result.ret == 0
    assert "regression" not in found.values()
    result.stdout.fnmatch_lines(["energy check passed: *"])

    monkeypatch.setenv("SCALE", "3")
    result, found = verdicts(suite)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert found["test_scaled"] == "regression"
    assert found["test_tolerant"] != "regression"  # its marker allows +500%
    assert found["test_steady"] != "regression"
    result.assert_outcomes(passed=3)  # pytest's own summary still counts the tests
    result.stdout.fnmatch_lines([
        "*energy against the baseline*",
        "test_suite.py::test_scaled *+[12][0-9][0-9].[0-9]%  *+*%..+*%*nvml*regression",
        "energy regression: test_suite.py::test_scaled: * J -> * J per call, +[12][0-9][0-9].[0-9]% *, p=*, above the history's *% spread and reaching +10% within its uncertainty (*)",
        "energy regression: test_suite.py (file total): * J -> * J, +1[0-9][0-9].[0-9]% (a single value)*",
        "energy check FAILED: 2 regressions, *",
        "*= 3 passed in *",
    ])
    assert "Traceback" not in result.stdout.str()


def test_improvement_new_and_missing(suite, monkeypatch):
    monkeypatch.setenv("SCALE", "3")
    suite.runpytest(*GATE, "--energy-save").assert_outcomes(passed=3)
    monkeypatch.setenv("SCALE", "1")
    suite.makepyfile(test_suite=SUITE.replace("def test_steady", "def test_renamed"))
    result, found = verdicts(suite)
    assert result.ret == 0
    assert found["test_scaled"] == "improvement"
    assert found["test_renamed"] == "new"
    assert found["test_steady"] == "missing"
    # the file's total is "new" too: its set of tests changed
    result.stdout.fnmatch_lines(["energy check passed: 1 improvement, 1 within limit, 2 new, 1 missing"])


def test_compare_then_save_in_one_run(suite, monkeypatch):
    suite.runpytest(*GATE, "--energy-save").assert_outcomes(passed=3)
    monkeypatch.setenv("SCALE", "3")
    result, found = verdicts(suite, "--energy-save")
    assert found["test_scaled"] == "regression"  # judged against the old baseline
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    runs = json.load(open(baseline_path(suite)))["tests"]["test_suite.py::test_scaled"]["runs"]
    assert len(runs) == 2 and min(runs[1]["samples"]["joules"]) > 2.5 * max(runs[0]["samples"]["joules"])


def test_missing_baseline_warns_and_passes(suite):
    result = suite.runpytest(*GATE, "--energy-compare")
    result.assert_outcomes(passed=3, warnings=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*PytestConfigWarning: pytest-energy: no baseline at * yet: nothing to compare*"])
    assert not os.path.exists(baseline_path(suite))


def _with_joules(joules: str) -> bytes:
    """A baseline whose one stored run has ``joules`` (JSON text) as its samples."""
    return (
        '{"format": "pytest-energy-baseline", "version": 1, "machine": {}, '
        '"tests": {"t": {"runs": [{"meter": "estimate", "samples": {"joules": ' + joules + "}}]}}}"
    ).encode()


SAMPLE = "is malformed at tests[\"t\"].runs[0].samples.joules"


@pytest.mark.parametrize(("content", "message"), [
    (b'{"format": "pytest-energy-baseline", "vers', "is corrupt (invalid JSON at line 1 column 38: Unterminated string*); restore it*"),
    (b"", "is corrupt (invalid JSON at line 1 column 1: Expecting value); restore it from version control or re-create it with --energy-save"),
    (b"[1, 2]", "is not a pytest-energy baseline*point --energy-baseline at the right file"),
    (json.dumps({"format": "pytest-energy-baseline", "version": 2, "machine": {}, "tests": {}}).encode(),
     "has schema version 2, this pytest-energy reads version 1; upgrade pytest-energy or restore it from "
     "version control or re-create it with --energy-save"),
    (json.dumps({"format": "pytest-energy-baseline", "version": "1", "machine": {}, "tests": {}}).encode(),
     "has schema version \"1\", this pytest-energy reads version 1; restore it*"),
    (json.dumps({"format": "pytest-energy-baseline", "version": 1, "machine": {},
                 "tests": {"t": {"runs": [{"meter": "rapl", "samples": {}}]}}}).encode(),
     f"{SAMPLE}: is missing; restore it from version control or re-create it with --energy-save"),
    (json.dumps({"format": "pytest-energy-baseline", "version": 1, "machine": {},
                 "tests": {"t": {"runs": [{"samples": {"joules": [1.0]}}]}}}).encode(),
     "is malformed at tests[\"t\"].runs[0].meter: is missing; restore it*"),
    *[(_with_joules(f"[{value}]"), f"{SAMPLE}[0]: {shown}; restore it*")
      for value, shown in (("-1.0", "-1 is below 0, the least allowed"),
                           ("1e300", "1e+300 is above 1e+09, the most allowed"),
                           ("1" + "0" * 400, "a number too large is above 1e+09, the most allowed"),
                           ("true", "must be a number, not true"), ('"5"', 'must be a number, not "5"'),
                           ("null", "must be a number, not null"), ("[1.0]", "must be a number, not a list"))],
    (_with_joules("[NaN]"), "is corrupt (NaN is not a number JSON allows); restore it*"),
    (_with_joules("[Infinity]"), "is corrupt (Infinity is not a number JSON allows); restore it*"),
    *[(_with_joules(value), f"{SAMPLE}: {shown}; restore it*")
      for value, shown in (('"1.0"', 'must be a list, not "1.0"'), ("null", "must be a list, not null"),
                           ("{}", "must be a list, not an object"), ("[]", "must hold at least 1 item"))],
    (b"[" * 100_000 + b"]" * 100_000, "is corrupt (nested too deeply); restore it*"),
])
@pytest.mark.parametrize("mode", [["--energy-compare"], ["--energy-save"], ["--energy-compare", "--energy-save"]])
def test_bad_baseline_is_a_one_line_error_and_stays_untouched(suite, content, message, mode):
    path = suite.path / ".energy" / "baseline.json"
    path.parent.mkdir()
    path.write_bytes(content)
    result = suite.runpytest(*GATE, *mode)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *baseline*{message.replace('[', '[[]')}"])
    assert path.read_bytes() == content
    assert sorted(os.listdir(path.parent)) == ["baseline.json"]


def test_unreadable_baseline_names_the_fix(suite, monkeypatch):
    path = suite.path / ".energy" / "baseline.json"
    path.parent.mkdir()
    path.write_text("{}")
    real_open = os.open

    def denied(file, *args, **kwargs):  # root reads any file: inject the error
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("os.open", denied)
    result = suite.runpytest(*GATE, "--energy-compare")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        f"ERROR: cannot read baseline {path}: Permission denied; fix its permissions or pick another file with --energy-baseline",
    ])


def test_foreign_machine_reports_without_failing_unless_forced(suite, monkeypatch):
    suite.runpytest(*GATE, "--energy-save").assert_outcomes(passed=3)
    path = baseline_path(suite)
    data = json.load(open(path))
    data["machine"]["cpu_model"] = "Some Other CPU"
    open(path, "w").write(json.dumps(data))
    monkeypatch.setenv("SCALE", "3")
    result, found = verdicts(suite)
    assert found["test_scaled"] == "regression"
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "*pytest-energy: baseline * comes from another machine (cpu_model: 'Some Other CPU' -> *); reporting only*",
        "energy check passed: 2 regressions*",
    ])
    result, _ = verdicts(suite, "--energy-compare-any-machine")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_baseline_path_option_and_ini(suite):
    suite.runpytest(*GATE, "--energy-save", "--energy-baseline=custom/base.json").assert_outcomes(passed=3)
    assert (suite.path / "custom" / "base.json").exists()
    suite.makeini("[pytest]\nenergy_baseline = from_ini.json\n")
    suite.runpytest(*GATE, "--energy-save").assert_outcomes(passed=3)
    assert (suite.path / "from_ini.json").exists()


def test_markdown_summary_and_github_step_summary(suite, monkeypatch):
    suite.runpytest(*GATE, "--energy-save").assert_outcomes(passed=3)
    monkeypatch.setenv("SCALE", "3")
    step_summary = suite.path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    markdown = suite.path / "pr" / "energy.md"
    verdicts(suite, f"--energy-markdown={markdown}")
    text = markdown.read_text()
    assert text.startswith("## Energy report (pytest-energy)")
    assert "Meter: `nvml`" in text and "475 gCO2e/kWh" in text
    assert "2 regressions" in text
    regressions = text.index("### :warning: Regressions")
    assert text.index("`test_suite.py::test_scaled`") > regressions
    assert text.index("<details><summary>All comparisons</summary>") > regressions
    assert step_summary.read_text() == "earlier step\n" + text + "\n"


def test_concurrent_saves_from_several_processes_lose_no_test(pytester):
    for k in range(4):
        pytester.makepyfile(**{f"test_p{k}": "\n".join(f"def test_{k}_{i}(): pass" for i in range(5))})
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--energy", "--energy-rounds=2",
             "--energy-warmup=0", "--energy-min-time=0.001", "--energy-save", "--energy-baseline=shared.json",
             f"test_p{k}.py"],
            cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        for k in range(4) for _ in range(2)
    ]
    outputs = [p.communicate()[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    data = json.load(open(pytester.path / "shared.json"))
    assert len(data["tests"]) == 20
    assert all(len(entry["runs"]) == 2 for entry in data["tests"].values())
    assert [f for f in os.listdir(pytester.path) if f.startswith(".tmp-")] == []


def test_interrupted_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = str(tmp_path / "baseline.json")
    record = TestResult("t::a", "estimate", True, 0.0, call=CallWindow(1.0, 1.0, 0.1, 0.1, False))
    store.save(path, [record], {"cpu_model": "x"}, None, 10)
    before = open(path, "rb").read()

    def interrupt(fd):  # the new text is in the temporary file, not yet renamed
        raise KeyboardInterrupt

    monkeypatch.setattr("pytest_energy.store.files.os.fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        store.save(path, [replace(record, nodeid="t::b")], {"cpu_model": "x"}, None, 10)
    assert open(path, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["baseline.json", "baseline.json.lock"]


TIER1 = ("--energy", "--energy-meter=nvml", "--energy-idle-time=0")
TIER1_SUITE = """
    import os, time, pynvml

    def work(joules, seconds):
        pynvml.consume(int(joules * float(os.environ["SCALE"]) * 1000))
        time.sleep(seconds)

    def test_long():  # 0.15 s: above NVML's 0.1 s resolution
        work(2.0, 0.15)

    def test_short():  # below it
        work(2.0, 0.0)
"""


@pytest.fixture
def tier1_suite(pytester, exact_meter, monkeypatch):
    return make_suite(pytester, monkeypatch, test_calls=TIER1_SUITE)


def tier1_verdicts(pytester, scale: str) -> tuple[pytest.RunResult, dict[str, str]]:
    os.environ["SCALE"] = scale  # restored by the fixture's monkeypatch
    result, found = verdicts(pytester, options=TIER1)
    result.assert_outcomes(passed=2)
    tests = json.loads((pytester.path / "results.json").read_text())["tests"]
    assert {t["tier"] for t in tests} == {1}
    short = next(t for t in tests if t["nodeid"].endswith("test_short"))
    # a no-op call is far below NVML's 0.1 s, unless a loaded machine stalls it that long
    assert found["test_short"] == ("inconclusive" if short["below_resolution"] else found["test_long"])
    return result, found


def test_real_call_gate_after_one_saved_run_catches_3x_not_1_5x(tier1_suite):
    tier1_suite.runpytest(*TIER1, "--energy-save").assert_outcomes(passed=2)
    result, found = tier1_verdicts(tier1_suite, "1.5")
    assert result.ret == 0 and found["test_long"] == "inconclusive"  # within the 2x margin
    result.stdout.fnmatch_lines(["inconclusive: too noisy (or too short) to tell no change from the limit"])
    result, found = tier1_verdicts(tier1_suite, "3")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert found["test_long"] == "regression"  # test_short: below resolution, never one alone
    assert found["test_calls.py (file total)"] == "regression"
    result.stdout.fnmatch_lines([
        "energy regression: test_calls.py::test_long: 2 J -> 6 J, +200.0% (a single value), above the 100%*",
    ])


def test_real_call_gate_with_three_saved_runs_uses_their_spread(tier1_suite):
    for _ in range(3):
        tier1_suite.runpytest(*TIER1, "--energy-save").assert_outcomes(passed=2)
    result, found = tier1_verdicts(tier1_suite, "1.05")
    assert result.ret == 0 and found["test_long"] == "unchanged"
    result, found = tier1_verdicts(tier1_suite, "1.2")  # three equal runs: still within 25%
    assert result.ret == 0 and found["test_long"] == "unchanged"
    result, found = tier1_verdicts(tier1_suite, "1.4")
    assert found["test_long"] == "regression"
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def _saved(pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*GATE, "--energy-save", *args)


def test_a_save_keeps_the_files_mode_and_writes_through_a_symlink(suite):
    shared = suite.path / "shared" / "baseline.json"
    _saved(suite, f"--energy-baseline={shared}").assert_outcomes(passed=3)
    assert oct(os.stat(shared).st_mode & 0o777) == oct(0o666 & ~_umask())  # a new file: the umask's mode
    os.chmod(shared, 0o640)
    link = suite.path / ".energy" / "baseline.json"
    link.parent.mkdir()
    link.symlink_to(shared)
    _saved(suite).assert_outcomes(passed=3)
    assert link.is_symlink() and os.readlink(link) == str(shared)
    assert oct(os.stat(shared).st_mode & 0o777) == "0o640"
    assert len(json.load(open(shared))["tests"]["test_suite.py::test_steady"]["runs"]) == 2


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_save_removes_temp_files_that_killed_saves_left(suite):
    _saved(suite).assert_outcomes(passed=3)
    stale = suite.path / ".energy" / ".baseline.json.tmp-abc123.json"
    stale.write_text('{"half": ')
    other = suite.path / ".energy" / ".other.json.tmp-xyz.json"  # another file's: not ours to remove
    other.write_text("{}")
    _saved(suite).assert_outcomes(passed=3)
    assert not stale.exists() and other.exists()


def test_a_held_lock_times_out_in_one_line_and_other_outputs_are_written(suite):
    from filelock import FileLock

    path = baseline_path(suite)
    os.makedirs(os.path.dirname(path))
    out = suite.path / "results.json"
    with FileLock(path + ".lock"):
        open(path + ".lock.owner", "w").write("pid 4242 on buildhost")
        result = _saved(suite, "--energy-lock-timeout=1.5", f"--energy-json={out}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3)
    result.stderr.fnmatch_lines(["pytest-energy: waiting up to 1.5 s for the baseline lock held by pid 4242 on buildhost"])
    result.stdout.fnmatch_lines([
        f"energy warning: baseline not saved: baseline {path} stayed locked by pid 4242 on buildhost for 1.5 s, "
        "nothing saved; if that process is gone remove *.lock, or raise --energy-lock-timeout",
    ])
    assert json.loads(out.read_text())["tests"]  # the JSON still written
    assert not os.path.exists(path)


def test_runs_of_another_meter_are_never_compared_against(suite, monkeypatch):
    _saved(suite).assert_outcomes(passed=3)  # nvml
    suite.runpytest("--energy", "--energy-repeat", "--energy-meter=estimate", "--energy-save",
                    "--energy-min-time=0.01", "-k", "steady").assert_outcomes(passed=1, deselected=2)
    data = json.load(open(baseline_path(suite)))
    assert data["machine"]["meters"] == "estimate, nvml"  # describes what is stored
    runs = data["tests"]["test_suite.py::test_steady"]["runs"]
    assert [r["meter"] for r in runs] == ["nvml", "estimate"]
    result, found = verdicts(suite)  # nvml again: judged against the nvml run only
    assert result.ret == 0 and found["test_steady"] == "unchanged"
    result, found = verdicts(suite, options=("--energy", "--energy-meter=estimate", "--energy-repeat",
                                             "--energy-min-time=0.01"))
    assert found["test_scaled"] == "new"  # no estimate run stored for it


def test_results_json_is_strict(pytester, run_energy):
    pytester.makepyfile("def test_a(): pass")
    out = pytester.path / "energy.json"
    run_energy()[0].assert_outcomes(passed=1)
    json.loads(out.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))


def test_a_lock_path_that_is_a_directory_is_one_line_and_other_outputs_stay(suite):
    path = baseline_path(suite)
    os.makedirs(path + ".lock")
    out = suite.path / "results.json"
    result = _saved(suite, f"--energy-json={out}", "--energy-lock-timeout=1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["energy warning: baseline not saved: *"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert json.loads(out.read_text())["tests"]


BURST_SUITE = """
    import os, time, pynvml

    CALLS = [0]

    def test_long():  # 0.15 s: above NVML's 0.1 s resolution
        CALLS[0] += 1
        first = CALLS[0] == 1  # $BURST: the real call costs that many times more, later calls do not
        pynvml.consume(int(2000 * float(os.environ["SCALE"]) * (float(os.environ.get("BURST", "1")) if first else 1)))
        time.sleep(0.15)
"""


@pytest.fixture
def burst_suite(pytester, exact_meter, monkeypatch):
    suite = make_suite(pytester, monkeypatch, test_calls=BURST_SUITE)
    suite.runpytest(*TIER1, "--energy-save").assert_outcomes(passed=1)
    return suite


def test_a_burst_on_one_call_is_taken_back_by_the_recheck(burst_suite, monkeypatch):
    monkeypatch.setenv("BURST", "4")
    result, found = verdicts(burst_suite, options=TIER1)
    assert result.ret == 0, result.stdout.str()
    assert found == {"test_long": "unchanged", "test_calls.py (file total)": "unchanged"}
    result.stdout.fnmatch_lines([
        "energy warning: test_calls.py::test_long: measured +300.0% against the baseline, but a recheck of 5 "
        "fresh calls measured +0.0%: not failed (a burst of load while it ran*",
        "energy warning: test_calls.py (file total): measured +300.0% against the baseline, but with its tests' "
        "rechecks it measured +0.0%: not failed*",
        "energy check passed: *",
    ])
    test = json.loads((burst_suite.path / "results.json").read_text())["tests"][0]
    assert test["call"]["joules"] == pytest.approx(8.0)  # the run's own figure is kept
    comparison = json.loads((burst_suite.path / "results.json").read_text())["comparisons"][0]
    assert (comparison["recheck_calls"], comparison["recheck_change"]) == (5, pytest.approx(0.0))


def test_a_real_change_survives_the_recheck(burst_suite, monkeypatch):
    monkeypatch.setenv("SCALE", "4")
    result, found = verdicts(burst_suite, options=TIER1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED and found["test_long"] == "regression"
    result.stdout.fnmatch_lines(["energy regression: test_calls.py::test_long: 2 J -> 8 J, +300.0% *; "
                                 "rechecked in 5 calls: +300.0%"])


def test_without_the_recheck_a_burst_fails_the_run(burst_suite, monkeypatch):
    monkeypatch.setenv("BURST", "4")
    result, found = verdicts(burst_suite, "--energy-recheck=0", options=TIER1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED and found["test_long"] == "regression"
    assert "a recheck of" not in result.stdout.str() and "rechecked in" not in result.stdout.str()


@pytest.mark.parametrize("value", ["-1", "101", "x"])
def test_bad_recheck_values_are_one_line_errors(pytester, value):
    result = pytester.runpytest("--energy", f"--energy-recheck={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--energy-recheck" in result.stderr.str() and "Traceback" not in result.stderr.str()


DRIFT_SUITE = """
    import os, time, pynvml
    import pytest

    CALLS = {}

    @pytest.mark.parametrize("i", range(10))
    def test_t(i):  # 0.11 s: above NVML's 0.1 s resolution
        CALLS[i] = CALLS.get(i, 0) + 1
        first = CALLS[i] == 1  # $LATER: what every call after a test's first costs (the machine at the recheck)
        scale = 3 if str(i) == os.environ.get("HEAVY") else 1
        scale *= 4 if first and str(i) == os.environ.get("BURST") else 1
        pynvml.consume(int(2000 * scale * (1 if first else float(os.environ.get("LATER", "1")))))
        time.sleep(0.11)
"""


@pytest.mark.parametrize("later", ["2.5", "0.4"])
def test_a_recheck_is_judged_against_the_drift_beside_it(pytester, exact_meter, monkeypatch, later):
    suite = make_suite(pytester, monkeypatch, test_drift=DRIFT_SUITE)
    suite.runpytest(*TIER1, "--energy-save").assert_outcomes(passed=10)
    monkeypatch.setenv("HEAVY", "3")
    monkeypatch.setenv("BURST", "6")
    monkeypatch.setenv("LATER", later)  # the machine busier (or quieter) at the recheck than in the run
    result, found = verdicts(suite, "--energy-min-time=0.1", options=TIER1)  # a call a round
    assert found["test_t[3]"] == "regression", result.stdout.str()  # 3x, rechecked as 3x beside its neighbours
    assert found["test_t[6]"] == "unchanged"  # the burst is taken back
    result.stdout.fnmatch_lines(["*test_t[[]6]: measured +300.0% against the baseline, but a recheck of 5 fresh "
                                 "calls measured ?0.0%: not failed*",
                                 "energy regression: test_drift.py::test_t[[]3]: *rechecked in 5 calls: +200.0%"])
