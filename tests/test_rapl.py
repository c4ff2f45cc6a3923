"""RAPL against powercap trees built with the kernel's layout."""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import threading
import time
from contextlib import contextmanager

import powercap_sim
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


def test_permission_denied_gives_the_fix_as_a_usage_error_when_rapl_is_asked_for(pytester, powercap,
                                                                                monkeypatch):
    root, _ = powercap(two_socket_server())
    real_read = rapl._read_text

    def denied(path, *timeout):  # root reads any file whatever its mode, so inject the kernel's error
        if path.endswith("energy_uj"):
            raise PermissionError(13, "Permission denied", path)
        return real_read(path, *timeout)

    monkeypatch.setattr(rapl, "_read_text", denied)
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy", "--energy-meter=rapl", f"--energy-powercap-root={root}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # asked for rapl: never another meter's figures
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, errors
    assert fnmatch.fnmatch(errors[0], "ERROR: --energy-meter=rapl: rapl unavailable: no permission to read "
                           "*/energy_uj; Linux >= 5.10*sudo chmod -R a+r /sys/class/powercap/intel-rapl*"
                           "(--energy-meter=auto falls back to the estimate)")
    result = pytester.runpytest("--energy", f"--energy-powercap-root={root}")  # auto: falls back, saying so
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["energy: meters estimate*", "energy: rapl unavailable: no permission to read *"])


# -- bounded reads: what a hostile or broken powercap tree cannot do -------------------------

#: Far above what any of these takes; only a hang reaches it (the suite then fails, not hangs).
HANG_S = 60


def within(seconds, fn, *args):
    """``fn(*args)`` in a thread: its value or exception, or a failed test past ``seconds``."""
    box = []

    def run():
        try:
            box.append((True, fn(*args)))
        except BaseException as exc:
            box.append((False, exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if not box:
        pytest.fail(f"{getattr(fn, '__name__', fn)} hung for {seconds} s")
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _fifo(path):
    path.unlink()
    os.mkfifo(path)


def _dev_zero(path):
    path.unlink()
    path.symlink_to("/dev/zero")


def _directory(path):
    path.unlink()
    path.mkdir()


#: (file, how it is spoiled, what the one line says)
HOSTILE = {
    "fifo-counter": ("energy_uj", _fifo, "energy_uj: not a file (a FIFO); only regular files are read"),
    "dev-zero-counter": ("energy_uj", _dev_zero, "energy_uj: not a file (a character device)"),
    "dev-zero-name": ("name", _dev_zero, "name: not a file (a character device)"),
    "fifo-name": ("name", _fifo, "name: not a file (a FIFO)"),
    "directory-name": ("name", _directory, "name: not a file (a directory)"),
    "not-utf8-name": ("name", lambda p: p.write_bytes(b"package-\xff\xfe\n"), "name: not UTF-8 text"),
    "huge-range": ("max_energy_range_uj", lambda p: p.write_text("1" * 10_000),
                   "max_energy_range_uj: larger than 4096 bytes; refused"),
}


def hostile_tree(base, case):
    """A one-package powercap tree with one file spoiled; no simulator writes to it."""
    zone = SimZone("intel-rapl:0", "package-0", energy_uj=5_000_000)
    root = powercap_sim.build_tree(base, [zone])
    filename, spoil, expected = HOSTILE[case]
    spoil(zone.path / filename)
    return root, expected


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_spoiled_powercap_file_is_refused_in_one_line_without_hanging(tmp_path, case):
    root, expected = hostile_tree(tmp_path / "sys", case)
    with pytest.raises(MeterUnavailable) as caught:
        within(HANG_S, rapl.open_meter, MeterOptions(powercap_root=str(root)))
    message = str(caught.value)
    assert "\n" not in message and message.startswith("cannot read ") and expected in message, message
    assert message.endswith("; check the powercap root or pick another meter")


@pytest.mark.parametrize("case", ["fifo-counter", "dev-zero-name", "not-utf8-name"])
def test_pytest_energy_on_a_spoiled_tree_neither_hangs_nor_crashes(pytester, tmp_path, case):
    root, expected = hostile_tree(tmp_path / "sys", case)
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest_subprocess("--energy", f"--energy-powercap-root={root}", timeout=HANG_S)
    result.assert_outcomes(passed=1)  # auto: the estimate, and the header says why
    result.stdout.fnmatch_lines(["energy: meters estimate*", f"energy: rapl unavailable: cannot read *{expected}*"])
    result = pytester.runpytest_subprocess("--energy", "--energy-meter=rapl", f"--energy-powercap-root={root}",
                                           timeout=HANG_S)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([f"ERROR: --energy-meter=rapl: rapl unavailable: cannot read *{expected}*"])


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_doctor_on_a_spoiled_tree_says_what_is_wrong_without_hanging(tmp_path, capsys, monkeypatch, case):
    from pytest_energy.cli import main

    monkeypatch.setitem(sys.modules, "pynvml", None)
    root, expected = hostile_tree(tmp_path / "sys", case)
    status = within(HANG_S, main, ["doctor", f"--powercap-root={root}"])
    out = capsys.readouterr().out
    assert status == 1
    assert out.startswith("rapl: NO - cannot read ") and expected in out.splitlines()[0], out
    assert "absent" not in out


def test_doctor_calls_a_root_that_is_a_file_not_a_directory(tmp_path, capsys, monkeypatch):
    from pytest_energy.cli import main

    monkeypatch.setitem(sys.modules, "pynvml", None)
    (tmp_path / "powercap").write_text("")
    assert main(["doctor", f"--powercap-root={tmp_path / 'powercap'}"]) == 1
    assert capsys.readouterr().out.startswith(f"rapl: NO - absent: {tmp_path / 'powercap'} is not a directory")


def test_a_read_that_does_not_answer_is_given_up(tmp_path, monkeypatch):
    from pytest_energy.store import files

    answer = threading.Event()
    monkeypatch.setattr(files, "_read_regular", lambda path, limit: answer.wait())  # a read that blocks
    (tmp_path / "energy_uj").write_text("1\n")
    try:
        with pytest.raises(files.RefusedFile, match=r"energy_uj: no answer within 0.01 s; refused$"):
            files.read_text_bounded(str(tmp_path / "energy_uj"), 64, timeout_s=0.01)
    finally:
        answer.set()


def _step_through(zone, root, values):
    """Differences of the meter's total, from its opening value, after each counter value."""
    with opened(root) as meter:
        start = meter.read()["package-0"]
        seen = []
        for value in values:
            zone.energy_uj = value
            zone.write()
            seen.append(round(meter.read()["package-0"] - start, 6))
        return seen, meter.warnings()


def test_a_small_backward_step_is_a_glitch_and_its_recovery_charges_no_one(powercap):
    zone = SimZone("intel-rapl:0", "package-0", max_range_uj=262_143_328_850, energy_uj=5_000_000)
    root, sim = powercap([zone])
    sim.stop()
    # 5 J back (firmware noise, not 262 kJ of work), then back where it was, then 0.1 J of work
    seen, warnings = _step_through(zone, root, [0, 5_000_000, 5_100_000])
    assert seen == [0.0, 0.0, 0.1]  # not 5.1: the return to the last good value is no energy
    assert warnings == ["rapl: 1 backward step(s) of a counter (largest 5000000 uJ) counted as 0, not as wraps"]


def test_a_counter_that_moves_on_from_a_lower_value_is_rebased_there(powercap):
    zone = SimZone("intel-rapl:0", "package-0", energy_uj=5_000_000)
    root, sim = powercap([zone])
    sim.stop()
    seen, warnings = _step_through(zone, root, [1_000_000, 1_000_000, 1_500_000, 2_000_000, 6_000_000])
    assert seen == [0.0, 0.0, 0.5, 1.0, 5.0]
    assert len(warnings) == 1 and "1 backward step(s)" in warnings[0]


def test_the_test_after_a_glitch_is_not_charged_its_recovery(pytester, powercap):
    zone = SimZone("intel-rapl:0", "package-0", energy_uj=5_000_000)
    root, sim = powercap([zone])
    sim.stop()
    counter = str(zone.path / "energy_uj")
    pytester.makepyfile(f"""
        def test_glitch():  # the counter reads 5 J low once
            open({counter!r}, "w").write("0\\n")

        def test_next():  # and is back where it was (5 J) when the next test runs
            open({counter!r}, "w").write("5000000\\n")
    """)
    out = pytester.path / "energy.json"
    result = pytester.runpytest_subprocess("--energy", "--energy-meter=rapl", f"--energy-powercap-root={root}",
                                           "--energy-idle-time=0", f"--energy-json={out}", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    figures = by_test(json.loads(out.read_text()))
    assert figures["test_glitch"]["joules"] == 0.0 and figures["test_next"]["joules"] == 0.0
    result.stdout.fnmatch_lines(["energy warning: rapl: 1 backward step(s) of a counter*counted as 0*"])


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
