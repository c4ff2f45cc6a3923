"""The ``pytest-energy`` command: compare and merge results files, run as users run it."""

from __future__ import annotations

import json
import sys

import pytest
from simulator_helpers import needs_valgrind

from pytest_energy.cli.doctor import render
from pytest_energy.measurement.simulator.shim import CACHE_ENV

SUITE = """
    import os, time, pynvml

    def work(joules):
        pynvml.consume(int(joules * float(os.environ["SCALE"]) * 1000))
        time.sleep(0.15)  # above NVML's 0.1 s resolution

    def test_steady():
        pynvml.consume(2000)
        time.sleep(0.15)

    def test_scaled():
        work(2.0)
"""


@pytest.fixture
def results(pytester, exact_meter, monkeypatch):
    """Write a results file for the suite at a given SCALE; returns its path."""
    pytester.makepyfile(test_suite=SUITE)

    def write(name: str, scale: str = "1", *args: str, meter: str = "nvml") -> str:
        monkeypatch.setenv("SCALE", scale)
        out = pytester.path / name
        pytester.runpytest("--energy", f"--energy-meter={meter}", "--energy-idle-time=0",
                           f"--energy-json={out}", *args).assert_outcomes(passed=1 if args else 2)
        return str(out)

    return write


def cli(pytester, *args: str) -> pytest.RunResult:
    return pytester.run(sys.executable, "-m", "pytest_energy", *args)


def test_compare_passes_unchanged_and_fails_a_heavier_test_with_its_change(pytester, results):
    base, same, heavy = results("base.json"), results("same.json"), results("heavy.json", "3")
    result = cli(pytester, "compare", base, same)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["energy check passed: *"])
    result = cli(pytester, "compare", base, heavy, "--markdown", str(pytester.path / "pr.md"))
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "energy regression: test_suite.py::test_scaled: 2 J -> 6 J, +200.0% (a single value)*(nvml)",
        "energy check FAILED: 1 regression, 1 unchanged, 1 inconclusive",  # the file: +100%, not beyond 2x
    ])
    text = (pytester.path / "pr.md").read_text()
    assert "### :warning: Regressions" in text and "`test_suite.py::test_scaled`" in text


def test_compare_judges_sci_when_asked_and_says_so(pytester, results):
    share = "--energy-reserved-share=0.01"  # a small embodied share: the joules move the SCI
    base, heavy = results("base.json", "1", share, "-k", "scaled"), results("heavy.json", "5", share, "-k", "scaled")
    result = cli(pytester, "compare", base, heavy, "--judge", "sci", "--markdown", str(pytester.path / "pr.md"))
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "test *baseline SCI g/call*current SCI g/call*",
        "energy regression: test_suite.py::test_scaled (SCI, gCO2e): * µg -> * mg, +*",
        "energy check FAILED (judged on SCI): *",
    ])
    assert "| test | baseline SCI g/call | current SCI g/call | change (95% CI) |" in (pytester.path / "pr.md").read_text()
    data = json.loads(pytester.path.joinpath("base.json").read_text())
    for test in data["tests"]:
        test.pop("sci", None)
    pytester.path.joinpath("old.json").write_text(json.dumps(data))
    result = cli(pytester, "compare", str(pytester.path / "old.json"), heavy, "--judge", "sci")
    assert result.ret == 2
    assert result.stderr.lines == [f"pytest-energy compare: error: {pytester.path / 'old.json'}: no SCI figures to judge "
                                   "(written by an older version): judge joules, or measure it again with this version"]


def test_an_os_error_in_a_command_is_one_line(monkeypatch, capsys):
    import errno

    from pytest_energy.cli import compare, main

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/work/out.md")

    monkeypatch.setattr(compare, "run", full)
    assert main(["compare", "a.json", "b.json"]) == 2
    assert capsys.readouterr().err == "pytest-energy compare: error: No space left on device: /work/out.md\n"


def test_compare_warns_when_meters_differ(pytester, results):
    base, other = results("base.json"), results("other.json", meter="estimate")
    result = cli(pytester, "compare", base, other)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["energy warning: meters differ (nvml -> estimate): *", "energy check passed: *new*"])


def test_merge_joins_shards_and_saves_a_baseline(pytester, results):
    first = results("a.json", "1", "-k", "steady")
    second = results("b.json", "1", "-k", "scaled")
    out, base = pytester.path / "merged.json", pytester.path / "base.json"
    result = cli(pytester, "merge", str(out), first, second, "--baseline", str(base))
    assert result.ret == 0
    result.stdout.fnmatch_lines(["pytest-energy: merged 2 tests from 2 files into *merged.json",
                                 "pytest-energy: baseline saved to *base.json"])
    merged = json.loads(out.read_text())
    assert [t["nodeid"] for t in merged["tests"]] == ["test_suite.py::test_scaled", "test_suite.py::test_steady"]
    assert set(json.loads(base.read_text())["tests"]) == {t["nodeid"] for t in merged["tests"]}


def test_merge_refuses_duplicates_and_mixed_meters(pytester, results):
    first, again = results("a.json"), results("b.json")
    result = cli(pytester, "merge", str(pytester.path / "m.json"), first, again)
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-energy merge: error: test_suite.py::test_s* is in both *a.json and *b.json;*"])
    other = results("c.json", meter="estimate")
    result = cli(pytester, "merge", str(pytester.path / "m.json"), first, other)
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-energy merge: error: shards measured with different meters *"])
    assert not (pytester.path / "m.json").exists()


@pytest.mark.parametrize(("content", "message"), [
    (None, "*missing.json: no such file; give a results file written by --energy-json"),
    ("{not json", "results file *bad.json is corrupt (invalid JSON at line 1 column 2: *); re-create it with --energy-json"),
    ('{"format": "pytest-energy-baseline"}', "*bad.json is not a pytest-energy results file*"),
    ('{"format": "pytest-energy-results", "version": 1, "tests": [{"nodeid": "x"}]}',
     "results file *bad.json is malformed at tests[[]0].meter: is missing; re-create it with --energy-json"),
])
def test_bad_input_is_one_line_and_exit_2(pytester, content, message):
    name = "missing.json" if content is None else "bad.json"
    if content is not None:
        (pytester.path / name).write_text(content)
    result = cli(pytester, "compare", str(pytester.path / name), str(pytester.path / name))
    assert result.ret == 2
    result.stderr.fnmatch_lines([f"pytest-energy compare: error: {message}"])
    assert "Traceback" not in result.stderr.str()


def doctor(capsys, *args: str) -> tuple[int, str]:
    from pytest_energy.cli import main

    status = main(["doctor", *args])
    return status, capsys.readouterr().out


def test_doctor_readable_powercap_and_missing_nvml(powercap, capsys, monkeypatch):
    from powercap_sim import two_socket_server

    monkeypatch.setitem(sys.modules, "pynvml", None)
    root, _ = powercap(two_socket_server())
    status, out = doctor(capsys, f"--powercap-root={root}")
    assert status == 0
    assert "rapl: OK - rapl (package-0, package-1, dram-0, dram-1)" in out
    assert "    intel-rapl:0 (package-0): energy_uj readable" in out
    assert "nvml: NO - library missing (pip install nvidia-ml-py)" in out
    assert "estimate: OK - modelled figures, labelled 'estimate'" in out
    assert out.rstrip().endswith("verdict: a real meter is usable")


def test_doctor_root_only_counters_give_the_chmod_fix(powercap, capsys, monkeypatch):
    from powercap_sim import SimZone

    from pytest_energy.measurement.meters import rapl

    monkeypatch.setitem(sys.modules, "pynvml", None)
    root, _ = powercap([SimZone("intel-rapl:0", "package-0")])
    real_open, real_read = open, rapl._read_text

    def denied(path, *args, **kwargs):  # root reads any file: inject the kernel's error
        if str(path).endswith("energy_uj"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denied)
    monkeypatch.setattr(rapl, "_read_text",
                        lambda path, *t: denied(path) if path.endswith("energy_uj") else real_read(path, *t))
    status, out = doctor(capsys, f"--powercap-root={root}")
    assert status == 1
    assert "    intel-rapl:0 (package-0): energy_uj root-only" in out
    assert "    fix: Linux >= 5.10 lets only root read energy_uj (CVE-2020-8694); fix: sudo chmod -R a+r" in out
    assert "verdict: no real meter: figures will be estimates" in out


@needs_valgrind
def test_doctor_points_to_the_simulated_meter_where_valgrind_is_and_no_counter(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))  # builds the meter's shim afresh
    status, out = doctor(capsys, f"--powercap-root={tmp_path / 'none'}")
    assert status == 1
    assert "simulated: OK - valgrind's counts through a model, labelled 'simulated'" in out
    assert out.rstrip().endswith("verdict: no real meter: figures will be estimates; "
                                 "for pull-request verdicts use --energy-meter=simulated (valgrind is here)")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the simulated meter is Linux-only")
def test_doctor_without_valgrind_names_its_install_and_does_not_point_to_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no valgrind
    status, out = doctor(capsys, f"--powercap-root={tmp_path / 'none'}")
    assert status == 1
    assert "simulated: NO - valgrind not found on PATH: apt-get install valgrind" in out
    assert out.rstrip().endswith("verdict: no real meter: figures will be estimates")


def test_doctor_absent_powercap_gives_the_container_hint_and_json(tmp_path, capsys, fake_pynvml):
    status, out = doctor(capsys, f"--powercap-root={tmp_path / 'none'}", "--json")
    report = json.loads(out)
    assert status == 0 and report["real_meter"] is True  # the fake GPU
    rapl_finding, nvml_finding, estimate_finding, simulated_finding = report["meters"]
    assert simulated_finding["meter"] == "simulated"  # a real meter is usable: no pointer to it
    assert render(report).endswith("verdict: a real meter is usable")
    assert rapl_finding["usable"] is False and "not found" in rapl_finding["summary"]
    assert rapl_finding["fix"].startswith("in a container, mount the host's /sys/class/powercap")
    assert nvml_finding["usable"] is True and nvml_finding["summary"].startswith("nvml (gpu-0 NVIDIA A100")
    assert any(d.startswith("CPU model: ") for d in estimate_finding["details"])


def test_doctor_names_mig_and_cuda_visible_devices(tmp_path, capsys, fake_pynvml, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-1234")
    status, out = doctor(capsys, f"--powercap-root={tmp_path / 'none'}")
    assert status == 1
    assert "nvml: NO - MIG is enabled (CUDA_VISIBLE_DEVICES=MIG-1234)" in out
    assert "    CUDA_VISIBLE_DEVICES=MIG-1234" in out
