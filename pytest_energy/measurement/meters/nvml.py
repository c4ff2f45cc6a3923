"""NVIDIA GPUs through NVML (``pynvml``, from the ``gpu`` extra).

Uses ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules since driver load, Volta and
newer) where the GPU supports it; otherwise a thread samples ``nvmlDeviceGetPowerUsage``
(milliwatts) and integrates it. Honours ``CUDA_VISIBLE_DEVICES`` (indices are taken in
NVML's PCI-bus order, as with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; ``GPU-`` UUIDs match
exactly). MIG is refused: NVML gives whole-GPU figures only.
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ... import timing
from . import Meter, MeterOptions, MeterUnavailable, Reading

SAMPLE_INTERVAL_S = 0.02
MIG_REFUSAL = (
    "MIG is enabled{where}; NVML reports whole-GPU energy only, so a MIG slice cannot be "
    "measured: disable MIG or leave out the nvml meter (--energy-meter=rapl or estimate)"
)


def _import_pynvml() -> ModuleType:
    try:
        return importlib.import_module("pynvml")
    except ImportError as exc:
        raise MeterUnavailable("library missing (pip install nvidia-ml-py)") from exc


@dataclass
class Gpu:
    """One visible GPU."""

    domain: str
    name: str
    handle: Any
    sampled: bool
    joules: float = 0.0
    last_watts: float = 0.0
    last_time: float = 0.0


def _visible_handles(nvml: ModuleType) -> list[tuple[int, Any]]:
    count = nvml.nvmlDeviceGetCount()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [(i, nvml.nvmlDeviceGetHandleByIndex(i)) for i in range(count)]
    if "MIG-" in visible:
        raise MeterUnavailable(MIG_REFUSAL.format(where=f" (CUDA_VISIBLE_DEVICES={visible})"))
    uuids = {}
    for index in range(count):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        uuids[str(nvml.nvmlDeviceGetUUID(handle))] = (index, handle)
    chosen: list[tuple[int, Any]] = []
    for entry in (e.strip() for e in visible.split(",")):
        if entry.isdigit() and int(entry) < count:
            index = int(entry)
            chosen.append((index, nvml.nvmlDeviceGetHandleByIndex(index)))
        elif entry.startswith("GPU-") and any(u.startswith(entry) for u in uuids):
            chosen.append(next(v for u, v in uuids.items() if u.startswith(entry)))
        else:  # CUDA ignores this entry and every one after it
            break
    return chosen


def _is_not_supported(nvml: ModuleType, exc: Exception) -> bool:
    return getattr(exc, "value", None) == nvml.NVML_ERROR_NOT_SUPPORTED


def _open_gpu(nvml: ModuleType, index: int, handle: Any) -> Gpu:
    try:
        current_mig, _pending = nvml.nvmlDeviceGetMigMode(handle)
    except nvml.NVMLError as exc:
        if not _is_not_supported(nvml, exc):
            raise
        current_mig = 0
    if current_mig == nvml.NVML_DEVICE_MIG_ENABLE:
        raise MeterUnavailable(MIG_REFUSAL.format(where=f" on GPU {index}"))
    name = str(nvml.nvmlDeviceGetName(handle))
    try:
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        sampled = False
    except nvml.NVMLError as exc:
        if not _is_not_supported(nvml, exc):
            raise
        nvml.nvmlDeviceGetPowerUsage(handle)
        sampled = True
    return Gpu(f"gpu-{index}", name, handle, sampled)


class NvmlMeter(Meter):
    """Cumulative joules per visible GPU."""

    name = "nvml"
    #: The energy counter updates every 10-100 ms: shorter windows are mostly noise.
    min_window_s = 1.0
    #: The energy counter updates every 10-100 ms.
    resolution_s = 0.1

    def __init__(self, nvml: ModuleType, gpus: list[Gpu]) -> None:
        self._nvml = nvml
        self.gpus = gpus
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._warnings: list[str] = []
        self._sampler: threading.Thread | None = None
        if any(g.sampled for g in gpus):
            self._sample()
            self._sampler = threading.Thread(
                target=self._sample_forever, name="pytest-energy-nvml-sampler", daemon=True
            )
            self._sampler.start()

    def _sample(self) -> None:
        with self._lock:
            for gpu in (g for g in self.gpus if g.sampled):
                now = timing.clock.perf_counter()
                watts = self._nvml.nvmlDeviceGetPowerUsage(gpu.handle) / 1000.0
                if gpu.last_time:
                    gpu.joules += (gpu.last_watts + watts) / 2 * (now - gpu.last_time)
                gpu.last_watts, gpu.last_time = watts, now

    def _sample_forever(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            try:
                self._sample()
            except self._nvml.NVMLError as exc:
                self._warnings.append(f"nvml: power sampling stopped: {exc}")
                return

    def read(self) -> Reading:
        """Joules per GPU: the energy counter, or the integrated power samples so far."""
        reading: Reading = {}
        now = timing.clock.perf_counter()
        with self._lock:
            for gpu in self.gpus:
                if gpu.sampled:
                    reading[gpu.domain] = gpu.joules + gpu.last_watts * (now - gpu.last_time)
                else:
                    millijoules = self._nvml.nvmlDeviceGetTotalEnergyConsumption(gpu.handle)
                    reading[gpu.domain] = millijoules / 1000.0
        return reading

    def describe(self) -> str:
        """E.g. ``nvml (gpu-0 NVIDIA H100: energy counter)``."""
        parts = [
            f"{g.domain} {g.name}: {'power sampling' if g.sampled else 'energy counter'}"
            for g in self.gpus
        ]
        return f"nvml ({'; '.join(parts)})"

    def warnings(self) -> list[str]:
        """Sampling failures seen so far."""
        return list(self._warnings)

    def close(self) -> None:
        """Stop sampling and shut NVML down."""
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join(timeout=1.0)
        try:
            self._nvml.nvmlShutdown()
        except self._nvml.NVMLError:
            pass


def open_meter(options: MeterOptions) -> NvmlMeter:
    """Open every visible GPU; raises :class:`MeterUnavailable` with the reason."""
    nvml = _import_pynvml()
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        raise MeterUnavailable(f"absent (NVML: {exc})") from exc
    try:
        gpus = [_open_gpu(nvml, index, handle) for index, handle in _visible_handles(nvml)]
    except nvml.NVMLError as exc:
        nvml.nvmlShutdown()
        raise MeterUnavailable(f"NVML error: {exc}") from exc
    except MeterUnavailable:
        nvml.nvmlShutdown()
        raise
    if not gpus:
        nvml.nvmlShutdown()
        raise MeterUnavailable(
            f"absent (no visible GPU; CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})"
        )
    return NvmlMeter(nvml, gpus)
