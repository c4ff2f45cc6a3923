"""NVML against a fake ``pynvml`` with the real names, constants and errors."""

from __future__ import annotations

import sys

import pytest
from conftest import by_test

from pytest_energy.measurement.meters import MeterOptions, MeterUnavailable, nvml

FAST = ("--energy-idle-time=0", "--energy-min-time=0.05", "--energy-rounds=3", "--energy-repeat")


def window_joules(meter, clock, seconds):
    """Joules per GPU over ``seconds`` of the fake clock (the fake GPUs' counters and the
    meter's power samples read the same clock): exact whatever the machine's load."""
    start = meter.read()
    clock.sleep(seconds)
    end = meter.read()
    return {k: end[k] - start[k] for k in end}


def test_energy_counter_gives_joules_per_gpu(fake_pynvml, fake_clock):
    fake_pynvml.GPUS.append({"name": "NVIDIA H100", "uuid": "GPU-bbbb", "watts": 300.0,
                             "energy_counter": True, "mig": 0})
    fake_clock.tick = 0.0  # only the 0.3 s below passes
    meter = nvml.open_meter(MeterOptions())
    try:
        joules = window_joules(meter, fake_clock, 0.3)
        assert meter.describe() == (
            "nvml (gpu-0 NVIDIA A100-SXM4-40GB: energy counter; gpu-1 NVIDIA H100: energy counter)"
        )
    finally:
        meter.close()
    assert joules["gpu-0"] == pytest.approx(100.0 * 0.3, abs=0.002)  # the counter counts whole mJ
    assert joules["gpu-1"] == pytest.approx(300.0 * 0.3, abs=0.002)
    assert fake_pynvml.calls[-1] == "nvmlShutdown"


def test_power_sampling_when_the_energy_counter_is_not_supported(fake_pynvml, fake_clock):
    fake_pynvml.GPUS[0].update(energy_counter=False, watts=50.0, name="Tesla P100")
    fake_clock.tick = 0.0  # only the 0.3 s below passes, whenever the sampler runs
    meter = nvml.open_meter(MeterOptions())
    try:
        joules = window_joules(meter, fake_clock, 0.3)
        assert "power sampling" in meter.describe()
    finally:
        meter.close()
    assert joules["gpu-0"] == pytest.approx(50.0 * 0.3, rel=1e-9)


def test_cuda_visible_devices_by_index_and_uuid(fake_pynvml, monkeypatch):
    fake_pynvml.GPUS.extend([
        {"name": "G1", "uuid": "GPU-1111", "watts": 1.0, "energy_counter": True, "mig": None},
        {"name": "G2", "uuid": "GPU-2222", "watts": 2.0, "energy_counter": True, "mig": None},
    ])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,GPU-1111,7,0")  # CUDA stops at the bad 7
    meter = nvml.open_meter(MeterOptions())
    try:
        assert sorted(meter.read()) == ["gpu-1", "gpu-2"]
    finally:
        meter.close()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(MeterUnavailable, match="no visible GPU"):
        nvml.open_meter(MeterOptions())


def test_mig_is_refused(fake_pynvml, monkeypatch):
    fake_pynvml.GPUS[0]["mig"] = fake_pynvml.NVML_DEVICE_MIG_ENABLE
    with pytest.raises(MeterUnavailable, match="MIG is enabled on GPU 0; NVML reports whole-GPU"):
        nvml.open_meter(MeterOptions())
    assert fake_pynvml.calls[-1] == "nvmlShutdown"
    fake_pynvml.GPUS[0]["mig"] = None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-1234-abcd")
    with pytest.raises(MeterUnavailable, match="MIG is enabled .CUDA_VISIBLE_DEVICES=MIG-1234-abcd"):
        nvml.open_meter(MeterOptions())


def test_driver_missing_and_library_missing(fake_pynvml, monkeypatch):
    fake_pynvml.INIT_ERROR = fake_pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
    with pytest.raises(MeterUnavailable, match=r"absent \(NVML: NVML Shared Library Not Found\)"):
        nvml.open_meter(MeterOptions())
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(MeterUnavailable, match=r"library missing \(pip install nvidia-ml-py\)"):
        nvml.open_meter(MeterOptions())


def test_plugin_auto_takes_nvml_plus_estimate_for_the_cpu(pytester, fake_pynvml, fake_clock, run_energy):
    pytester.makepyfile("def test_a(): sum(range(1000))")
    result, data = run_energy(*FAST)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "energy: meters nvml (gpu-0 NVIDIA A100-SXM4-40GB: energy counter), estimate (*",
        "energy: rapl unavailable: absent*",
    ])
    record = by_test(data)["test_a"]
    assert record["meter"] == "nvml+estimate" and record["estimate"] is True
    # the GPU's 100 W dominates: gross joules per round follow the counter
    for round_ in record["rounds"]:
        assert round_["gross_joules"] >= 100.0 * round_["seconds"] * 0.95


def test_plugin_nvml_only(pytester, fake_pynvml, fake_clock, run_energy):
    pytester.makepyfile("def test_a(): sum(range(1000))")
    result, data = run_energy("--energy-meter=nvml", "--energy-idle-time=0", "--energy-min-time=0.2",
                              "--energy-rounds=3", "--energy-repeat")
    result.assert_outcomes(passed=1)
    record = by_test(data)["test_a"]
    assert record["meter"] == "nvml" and record["estimate"] is False
    for round_ in record["rounds"]:
        assert round_["gross_joules"] == pytest.approx(100.0 * round_["window_s"], rel=0.05)
    # the real call: far shorter than the counter's 0.1 s updates, so marked, yet not hidden
    call = record["call"]
    assert call["below_resolution"] is True and call["window_s"] < 0.1  # a few ticks of the fake clock
    # within the counter's unit (1 mJ): such a figure is quantised, hence the mark
    assert call["gross_joules"] == pytest.approx(100.0 * call["window_s"], rel=0.05, abs=0.001)
    result.stdout.fnmatch_lines(["*1 test measured (1 repeated in rounds, 0 below the meters' resolution)*"])
    assert by_test(data)["test_a"]["below_resolution"] is False  # its figure is the rounds' median


def test_plugin_header_says_why_nvml_is_missing(pytester, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy", "--energy-powercap-root=/nonexistent")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "energy: meters estimate*",
        "energy: nvml unavailable: library missing (pip install nvidia-ml-py)",
    ])
    result = pytester.runpytest("--energy", "--energy-meter=nvml")  # asked for: never another meter
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --energy-meter=nvml: nvml unavailable: library missing*"])
