"""``--energy-profile``: per-function joules of the expensive tests, and what grew.

Shares come from a real CPU sampler, so the assertions are about order (a function with
four times the work of another gets the larger share), never about timing values.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path

import pytest
from test_ab import commit, make_repo, run_ab  # noqa: F401 - run_ab is a fixture
from test_baseline import GATE, make_suite

from pytest_energy.cli import main
from pytest_energy.measurement import profile as sampler
from pytest_energy.measurement.profile import RUNNER
from pytest_energy.plugin import profile as profile_plugin
from pytest_energy.profiles import (
    MIN_SAMPLES,
    Profile,
    ProfileDiff,
    build_profile,
    parse_collapsed,
    profile_diff,
    rescaled,
)
from pytest_energy.report.flame import profiles_section
from pytest_energy.report.profiles import growth_text, profile_diff_lines, profile_markdown

#: Two functions of work 1:4 (about 3 and 12 ms here), own loops so each has its self time.
TWO = """
    def light():
        s = 0
        for i in range(20000):
            s += i * i % 7
        return s

    def heavy():
        s = 0
        for i in range(80000):
            s += i * i % 7
        return s

    def test_two():
        light()
        heavy()
"""


def by_function(profile: dict) -> dict[str, dict]:
    return {f["function"]: f for f in profile["functions"]}


@pytest.fixture
def two(pytester: pytest.Pytester):
    pytester.makepyfile(test_two=TWO)
    out, page = pytester.path / "energy.json", pytester.path / "energy.html"
    result = pytester.runpytest("--energy-profile=1", "--energy-max-time=1", f"--energy-json={out}",
                                f"--energy-html={page}")
    return result, json.loads(out.read_text()), page.read_text()


def test_the_heavier_function_gets_the_larger_share(two):
    result, data, _ = two
    result.assert_outcomes(passed=1)
    [profile] = data["profiles"]
    assert profile["nodeid"] == "test_two.py::test_two" and profile["why"] == "top 1" and not profile["note"]
    assert profile["samples"] >= MIN_SAMPLES and profile["meter"] == "estimate"
    functions = by_function(profile)
    assert functions["heavy"]["self_share"] > functions["light"]["self_share"] > 0
    runner = functions.get("<runner>", {"self_share": 0.0})["self_share"]  # pytest's code around the call
    assert runner < 0.2 and functions["test_two"]["total_share"] == pytest.approx(1.0 - runner)
    assert sum(f["self_share"] for f in profile["functions"]) == pytest.approx(1.0)
    test_joules = data["tests"][0]["joules"]
    assert functions["heavy"]["self_joules"] == pytest.approx(test_joules * functions["heavy"]["self_share"])
    assert functions["heavy"]["where"] == "test_two.py:7"
    # the terminal: the top functions, heaviest first, with file:line, joules and share
    result.stdout.fnmatch_lines([
        "*- energy per function (--energy-profile) -*",
        "test_two.py::test_two (top 1; *J/call, estimate; * samples in * of CPU, * calls)",
        "*function*file:line*J/call (self)*share*with callees",
        "*heavy*test_two.py:7*J*%*%",
    ])
    # the main figures are the run's own: the profile re-run read no meter
    assert data["tests"][0]["call"]["seconds"] < 1.0


def test_the_collapsed_stacks_are_flame_graph_text(two):
    _, data, _ = two
    text = data["profiles"][0]["collapsed"]
    lines = text.splitlines()
    assert lines and all(re.fullmatch(r"(.+) (\d+)", line) for line in lines)  # flamegraph.pl's and speedscope's
    stacks = parse_collapsed(text)
    assert any(stack.split(";")[-1] == "test_two.py:7 heavy" for stack in stacks)
    assert all(stack.startswith("test_two.py:13 test_two;") or stack == RUNNER for stack in stacks), stacks
    assert sum(stacks.values()) == pytest.approx(data["profiles"][0]["cpu_s"] * 1e6, rel=0.01)
    assert Profile.from_dict(data["profiles"][0]).stacks == stacks
    with pytest.raises(ValueError, match="line 1"):
        parse_collapsed("no weight here\n")


def test_the_html_has_an_icicle_chart_with_file_and_line_on_hover(two):
    _, _, page = two
    assert "Where the joules went (profiles)" in page
    assert 'aria-label="icicle chart of test_two.py::test_two"' in page
    assert re.search(r"<title>test_two.py:7 heavy: [0-9.]+ .?J/call", page)
    assert "http" not in page.split("</style>", 1)[1]  # offline


THREADS = """
    import threading

    def spin():
        s = 0
        for i in range(200000):
            s += i * i % 7
        return s

    def light():
        s = 0
        for i in range(50000):
            s += i * i % 7
        return s

    def test_threads():
        worker = threading.Thread(target=spin)
        worker.start()
        light()
        worker.join()
"""


def test_every_thread_is_sampled(pytester: pytest.Pytester):
    pytester.makepyfile(test_threads=THREADS)
    out = pytester.path / "energy.json"
    pytester.runpytest("--energy-profile=1", "--energy-max-time=1", f"--energy-json={out}").assert_outcomes(passed=1)
    [profile] = json.loads(out.read_text())["profiles"]
    functions = by_function(profile)
    assert functions["spin"]["self_share"] > functions["light"]["self_share"] > 0
    stacks = parse_collapsed(profile["collapsed"])
    assert "test_threads.py:3 spin" in stacks  # the worker's stack: its target at the root
    assert not any("threading.py" in stack for stack in stacks)  # starts and waits count for their caller
    assert "pytest-energy-sampler" not in {t.name for t in threading.enumerate()}  # closed with the run


def spin_in_a_worker() -> None:
    """Spin about 0.3 s of CPU in a worker thread while the caller waits in join()."""
    def spin() -> None:
        started = time.thread_time()
        while time.thread_time() - started < 0.3:
            sum(range(1000))
    worker = threading.Thread(target=spin)
    worker.start()
    worker.join()


def busy(seconds: float = 0.1) -> None:
    started = time.thread_time()
    while time.thread_time() - started < seconds:
        sum(range(1000))


def test_a_thread_started_between_calls_is_charged_only_what_it_uses_in_them():
    """A thread started between two calls (by a fixture, say) is looked for at the next
    call, so the CPU time it used before that call is not charged to it."""
    taker = sampler.Sampler(sampler.frame_namer(str(Path(__file__).parent)))
    done, release = threading.Event(), threading.Event()

    def spin_then_wait() -> None:
        busy(0.3)
        done.set()
        release.wait()

    worker = threading.Thread(target=spin_then_wait)
    taker.start()
    try:
        taker.run(busy)
        worker.start()
        done.wait()
        taker.run(busy)
    finally:
        taker.stop()
        taker.close()
        release.set()
        worker.join()
    seconds = {stack: cpu for stack, cpu in taker.stacks.items()}
    in_worker = sum(cpu for stack, cpu in seconds.items() if any("spin_then_wait" in f for f in stack))
    assert sum(seconds.values()) > 0.1 > 0.05 > in_worker


def test_one_sampler_thread_serves_every_batch_until_closed():
    taker = sampler.Sampler(sampler.frame_namer(str(Path(__file__).parent)))
    idents, worker_samples = set(), []
    try:
        for _ in range(2):  # two batches: the second start wakes the same thread
            taker.start()
            try:
                taker.run(spin_in_a_worker)
            finally:
                taker.stop()
            idents |= {t.ident for t in threading.enumerate() if t.name == "pytest-energy-sampler"}
            worker_samples.append(sum(n for stack, n in taker.counts.items() if stack[-1].endswith("spin")))
    finally:
        taker.close()
    assert len(idents) == 1
    assert 0 < worker_samples[0] < worker_samples[1]  # the main thread waited: the sampler thread took them
    assert "pytest-energy-sampler" not in {t.name for t in threading.enumerate()}


def test_a_call_that_takes_sigprof_is_told_at_once():
    """Right after the call, not at the batch's end: a test that put SIG_DFL back, with
    the timer still running, would have the next signal end pytest."""
    taker = sampler.Sampler(sampler.frame_namer(str(Path(__file__).parent)))
    taker.start()
    try:
        with pytest.raises(sampler.ProfileConflict, match="uses SIGPROF or setitimer"):
            taker.run(lambda: signal.signal(signal.SIGPROF, signal.SIG_IGN))
        assert taker.calls == 1
    finally:
        taker.stop()
        taker.close()
    assert signal.getsignal(signal.SIGPROF) in (signal.SIG_DFL, None)
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)


def test_a_call_that_sets_the_timer_is_told_at_the_batchs_end():
    taker = sampler.Sampler(sampler.frame_namer(str(Path(__file__).parent)))
    taker.start()
    try:
        taker.run(lambda: signal.setitimer(signal.ITIMER_PROF, 0.05, 0.05))
    finally:
        with pytest.raises(sampler.ProfileConflict, match="uses SIGPROF or setitimer"):
            taker.stop()
        taker.close()
    assert signal.getsignal(signal.SIGPROF) in (signal.SIG_DFL, None)
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)


def test_under_q_the_profiles_are_one_line(pytester: pytest.Pytester):
    pytester.makepyfile(test_two=TWO)
    out = pytester.path / "energy.json"
    result = pytester.runpytest("-q", "--energy-profile=50", "--energy-max-time=1", f"--energy-json={out}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["energy profile: 1 of 1 test profiled (without -q: their functions)"])
    result.stdout.no_fnmatch_line("*energy per function*")
    [profile] = json.loads(out.read_text())["profiles"]
    assert profile["why"] == "top 1"  # not "top 50": there is one test


def test_a_test_too_short_to_profile_gets_one_line(pytester: pytest.Pytester):
    pytester.makepyfile(test_short="def test_empty():\n    pass\n")
    result = pytester.runpytest("--energy", "--energy-profile", "--energy-max-time=0.5")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        f"test_short.py::test_empty: too short to profile: * samples in * of CPU over * calls (needs {MIN_SAMPLES})",
    ])



def test_a_thin_profile_goes_on_past_the_max_time(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    # 0.2 s of re-runs give 25 signals at most (one every 8 ms): the rest comes from re-runs past it
    monkeypatch.setattr(profile_plugin, "ENOUGH_SAMPLES", 80)
    monkeypatch.setattr(profile_plugin, "PROFILE_OVERTIME", 500.0)  # no machine is that slow
    pytester.makepyfile(test_two=TWO)
    out = pytester.path / "energy.json"
    pytester.runpytest("--energy-profile=1", "--energy-max-time=0.2", f"--energy-json={out}").assert_outcomes(passed=1)
    [profile] = json.loads(out.read_text())["profiles"]
    assert not profile["note"] and profile["samples"] >= 80
    assert by_function(profile)["heavy"]["self_share"] > by_function(profile)["light"]["self_share"]


def test_the_interval_fits_the_call():
    tick = 0.004
    assert sampler.interval_for(0.0, 600, tick) == sampler.INTERVAL_S  # counted, or unknown: the default
    assert sampler.interval_for(0.005, 600, tick) == sampler.INTERVAL_S  # short: the default
    assert sampler.interval_for(4.8, 600, tick) == sampler.INTERVAL_S  # 600 signals in one call, no more
    assert sampler.interval_for(0.005, 600, 0.01) == sampler.INTERVAL_S  # a coarser tick bounds it anyway
    assert sampler.interval_for(6.0, 600, tick) == pytest.approx(0.01)  # about 600 samples in one call
    assert sampler.interval_for(60.0, 600, tick) == sampler.MAX_INTERVAL_S

OUTCOMES = """
    import signal

    CALLS = []

    def work():
        return sum(i * i for i in range(100000))

    def test_fails():
        work()
        assert False, "fails on its own"

    def test_once():
        CALLS.append(1)
        work()
        assert len(CALLS) == 1, "only the first call passes"

    def test_timer():
        fired = []
        old = signal.signal(signal.SIGPROF, lambda signum, frame: fired.append(signum))
        signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)
        work()
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
"""


def test_outcomes_are_the_tests_own_and_refused_profiles_say_why(pytester: pytest.Pytester):
    pytester.makepyfile(test_outcomes=OUTCOMES)
    out = pytester.path / "energy.json"
    result = pytester.runpytest("--energy-profile=5", "--energy-max-time=1", f"--energy-json={out}", "-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*fails on its own*"])
    data = json.loads(out.read_text())
    assert data["outcomes"]["test_outcomes.py::test_fails"]["outcome"] == "failed"
    notes = {p["nodeid"].split("::")[-1]: p["note"] for p in data["profiles"]}
    assert "test_fails" not in notes  # a failing test is never run again
    assert notes["test_once"].startswith("not profiled: its re-run failed (AssertionError: only the first call")
    assert notes["test_timer"] == "not profiled: the test uses SIGPROF or setitimer(ITIMER_PROF) itself"
    result.stdout.fnmatch_lines(["test_outcomes.py::test_timer: not profiled: the test uses SIGPROF*"])
    assert signal.getsignal(signal.SIGPROF) in (signal.SIG_DFL, None)  # given back


FREED = """
    import weakref

    class Box:
        pass

    def helper():
        box = Box()
        s = 0
        for i in range(300000):  # long enough for signals to land here
            s += i * i % 7
        return weakref.ref(box)

    def test_freed_on_return():
        assert helper()() is None, "the box outlived its function"
"""


def test_a_sampled_function_frees_its_locals_on_return(pytester: pytest.Pytester):
    """Objects die when their function returns, as without the sampler: a test that
    checks it (weakrefs, __del__, ResourceWarning) passes its profiled re-runs too."""
    pytester.makepyfile(test_freed=FREED)
    out = pytester.path / "energy.json"
    result = pytester.runpytest("--energy-profile=1", "--energy-max-time=1", f"--energy-json={out}")
    result.assert_outcomes(passed=1)
    [profile] = json.loads(out.read_text())["profiles"]
    assert profile["note"] == ""
    assert "helper" in by_function(profile)


def test_a_wakeup_fd_in_use_does_not_stop_profiles(pytester: pytest.Pytester):
    # an asyncio loop's signal handlers (here: a session fixture) hold the wakeup fd
    pytester.makeconftest("""
        import os, signal, pytest

        @pytest.fixture(scope="session", autouse=True)
        def wakeup():
            read, write = os.pipe()
            os.set_blocking(write, False)
            old = signal.set_wakeup_fd(write)
            yield write
            assert signal.set_wakeup_fd(old) == write, "the wakeup fd was changed under the test"
            os.close(read)
            os.close(write)
    """)
    pytester.makepyfile(test_two=TWO)
    out = pytester.path / "energy.json"
    pytester.runpytest("--energy-profile=1", "--energy-max-time=1", f"--energy-json={out}").assert_outcomes(passed=1)
    [profile] = json.loads(out.read_text())["profiles"]
    assert not profile["note"] and profile["samples"] >= MIN_SAMPLES
    assert by_function(profile)["heavy"]["self_share"] > by_function(profile)["light"]["self_share"]


def test_profile_option_values(pytester: pytest.Pytester):
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    out = pytester.path / "energy.json"
    pytester.runpytest(f"--energy-json={out}", "test_a.py", "--energy-profile").assert_outcomes(passed=1)
    assert json.loads(out.read_text())["settings"]["profile"] == 5  # bare: the 5 most expensive
    result = pytester.runpytest("--energy-profile", "test_a.py")  # the path was taken as N
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: --energy-profile='test_a.py': expected a whole number (write --energy-profile=N; "
        "a bare --energy-profile takes the next argument as N)",
    ])
    result = pytester.runpytest("--energy-profile=-1")
    result.stderr.fnmatch_lines(["ERROR: --energy-profile='-1': expected 0 or more*"])


def test_no_sigprof_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch):
    found: list[str | None] = []
    thread = threading.Thread(target=lambda: found.append(sampler.unavailable_reason()))
    thread.start()
    thread.join()
    assert found == ["profiles need SIGPROF, whose handler only the main thread can set: run pytest in it"]
    monkeypatch.delattr(signal, "setitimer")
    assert sampler.unavailable_reason().startswith("profiles need SIGPROF and signal.setitimer, which ")


# -- what grew -------------------------------------------------------------------------------

def synthetic(joules: float, **stacks: int) -> Profile:
    """A profile from ``stack=weight`` pairs (``__`` between frames, one sample each)."""
    parsed = {tuple(f"src/app.py:{len(f)} {f}" for f in key.split("__")): weight / 1e6
              for key, weight in stacks.items()}
    return build_profile("tests/test_app.py::test_run", "rapl", joules, parsed, dict.fromkeys(parsed, 1), 100, 10)


def test_the_diff_names_the_function_that_grew_first():
    base = synthetic(1.0, test__parse=300, test__check=300, test__render=400)
    head = synthetic(1.5, test__parse=200, test__check=600, test__render=200)
    changes = profile_diff(base, head)
    grown = changes[0]
    assert (grown.function, grown.where) == ("check", "src/app.py:5")
    assert grown.base_joules == pytest.approx(0.3) and grown.head_joules == pytest.approx(0.9)
    assert grown.relative == pytest.approx(2.0)
    diff = ProfileDiff(base.nodeid, base, head)
    assert [c.function for c in diff.growers()] == ["check"]  # parse stayed, render shrank
    assert growth_text(grown) == "+600 mJ check (+200.0%): 300 mJ -> 900 mJ, src/app.py:5"
    assert profile_diff_lines(diff).splitlines() == [
        "energy: functions whose joules grew in tests/test_app.py::test_run (base -> head, self J/call):",
        "  +600 mJ check (+200.0%): 300 mJ -> 900 mJ, src/app.py:5",
    ]
    markdown = profile_markdown([diff])
    assert "| `check` | `src/app.py:5` | 300 mJ | 900 mJ | +600 mJ (+200.0%) |" in markdown
    page = profiles_section([], [diff])
    assert 'aria-label="diff icicle chart of tests/test_app.py::test_run"' in page
    assert "hsl(0," in page and "hsl(215," in page  # red grew, blue shrank


def test_a_shared_helper_is_named_with_the_caller_it_grew_through():
    base = synthetic(1.0, test__parse__work=200, test__check__work=400, test__render__work=400)
    head = synthetic(1.4, test__parse__work=143, test__check__work=571, test__render__work=286)
    [grown] = ProfileDiff(base.nodeid, base, head).growers()
    assert (grown.function, grown.via) == ("work", "check")
    assert growth_text(grown).endswith(", most via check")
    assert rescaled(head, 2.8).functions[0].self_joules == pytest.approx(2.8)


def test_too_few_samples_give_no_shares():
    profile = build_profile("t::x", "estimate", 1.0, {("a.py:1 f",): 0.01}, {("a.py:1 f",): 3}, 3, 40)
    assert profile.functions == [] and profile.note == (
        f"too short to profile: 3 samples in 10 ms of CPU over 40 calls (needs {MIN_SAMPLES})")
    other = synthetic(1.0, test__f=1000)
    assert profile_diff_lines(ProfileDiff("t::x", profile, other)).startswith("energy: t::x: no profile diff (base:")


# -- against a baseline that stored profiles, and under ab -------------------------------

SCALED = """
    import os, pynvml

    SCALE = float(os.environ.get("SCALE", "1"))

    def parse():
        s = 0
        for i in range(20000):
            s += i * i % 7
        return s

    def check():
        s = 0
        for i in range(int(20000 * SCALE)):
            s += i * i % 7
        return s

    def test_scaled():
        parse()
        check()
        pynvml.consume(int(2000 * SCALE))
"""


def test_a_regression_against_stored_profiles_names_what_grew(pytester, exact_meter, monkeypatch):
    # 3 s: the five measured rounds fit even on a loaded machine (fewer could not be
    # significant); a profile needs only enough samples to say what grew
    monkeypatch.setattr(profile_plugin, "TARGET_SAMPLES", 150)
    suite = make_suite(pytester, monkeypatch, test_suite=SCALED)
    suite.runpytest(*GATE, "--energy-save", "--energy-profile=1", "--energy-max-time=3").assert_outcomes(passed=1)
    stored = json.loads((suite.path / ".energy" / "baseline.profiles.json").read_text())
    assert list(stored["tests"]) == ["test_suite.py::test_scaled"]
    monkeypatch.setenv("SCALE", "4")
    markdown = suite.path / "energy.md"
    result = suite.runpytest(*GATE, "--energy-compare", "--energy-profile=0", "--energy-max-time=3",
                             f"--energy-markdown={markdown}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "test_suite.py::test_scaled (regression; *J/call, nvml; *",
        "energy: functions whose joules grew in test_suite.py::test_scaled (stored profile -> this run, self J/call):",
        "  +*J check (+*%): *J -> *J, test_suite.py:*",
    ])
    assert "`check`" in markdown.read_text().split("### Where the joules grew (profiles)")[1]


PIPELINE = """
import pynvml


def parse():
    return sum([i * i % 7 for i in range(10000)])


def check():
    return sum(i * i % 7 for i in range({check}))


def render():
    return sum(i * i % 7 for i in range(30000))


def test_pipeline():
    parse()
    check()
    render()
    pynvml.consume({mj})
"""


def test_ab_profiles_a_regressed_test_on_both_sides(tmp_path: Path, run_ab) -> None:  # noqa: F811
    fake_nvml = (Path(__file__).parent / "fake_pynvml.py").read_text()
    conftest = "import pynvml\n\npynvml.GPUS[0]['watts'] = 0.0\n"
    repo = make_repo(tmp_path / "repo", {"tests/test_app.py": PIPELINE.format(check=20000, mj=1000),
                                         "tests/conftest.py": conftest, "tests/pynvml.py": fake_nvml})
    commit(repo, {"tests/test_app.py": PIPELINE.format(check=40000, mj=2000)})
    ab_json, ab_md = tmp_path / "ab.json", tmp_path / "ab.md"
    status, out, err = run_ab(repo, "HEAD~1", "HEAD", "--profile", "--json", str(ab_json), "--markdown", str(ab_md),
                              "--", "-q", "-p", "no:cacheprovider", "--energy-meter=nvml",
                              "--energy-min-time=0.000001", "--energy-max-time=1")
    assert status == 1, out + err
    lines = out.splitlines()
    start = lines.index("energy: functions whose joules grew in tests/test_app.py::test_pipeline "
                        "(base -> head, self J/call):")
    assert re.fullmatch(r"  \+[0-9.]+ m?J check \(\+[0-9.]+%\): [0-9.]+ mJ -> [0-9.]+ m?J, tests/test_app.py:9",
                        lines[start + 1]), lines[start + 1]  # named first: the function that got slower
    assert "| `check` | `tests/test_app.py:9` |" in ab_md.read_text()
    [diff] = json.loads(ab_json.read_text())["profile_diffs"]
    assert diff["base"]["joules"] == pytest.approx(1.0) and diff["head"]["joules"] == pytest.approx(2.0)
    assert main(["report", "--ab", str(ab_json), "-o", str(tmp_path / "ab.html")]) == 0
    page = (tmp_path / "ab.html").read_text()
    assert "diff icicle chart of tests/test_app.py::test_pipeline" in page and "+" in page


def test_stored_profiles_are_saved_under_the_baselines_lock(tmp_path: Path):
    from filelock import FileLock

    from pytest_energy.store import profiles as stored
    from pytest_energy.store.loader import BaselineError

    path = str(tmp_path / "baseline.profiles.json")
    stored.save(path, [synthetic(1.0, a=30)], "abc")
    with FileLock(path + ".lock"), pytest.raises(BaselineError, match="stayed locked"):
        stored.save(path, [synthetic(2.0, b=30)], "def", lock_timeout_s=0.2)  # another run holds it
    profiles, problem = stored.load(path)
    assert problem == "" and {p.joules for p in profiles.values()} == {1.0}  # nothing half-written
