"""Estimate for machines without counters: the Green Algorithms model.

``joules = cpu_seconds * P_core + seconds * memory_GB * 0.3725 W/GB`` where
``cpu_seconds`` is this process's CPU time plus that of its waited-for children and
``memory_GB`` its resident set (sampled every 50 ms), on the clocks
:mod:`pytest_energy.timing` captured, which a test cannot patch. ``P_core`` is the CPU's
TDP (looked up by model name in codecarbon's ``cpu_power.csv`` when the ``carbon`` extra
is installed) divided by the CPUs the OS shows, at most :data:`MAX_CORE_WATTS`; else
:data:`DEFAULT_CORE_WATTS`.
``--energy-core-watts`` sets it outright. These are modelled figures, labelled
"estimate" everywhere; the model has no idle part.
"""

from __future__ import annotations

import csv
import functools
import math
import os
import platform
import re
import resource
import time

from ...timing import cpu_seconds, monotonic_s
from ..codecarbon_data import data_file
from . import Meter, MeterOptions, Reading

MEMORY_WATTS_PER_GB = 0.3725
#: Per-core power when the CPU model is unknown (a mid-range server core's share of TDP).
DEFAULT_CORE_WATTS = 10.0
#: A VM sees few cores of a many-core part: TDP / visible CPUs would overstate a core.
MAX_CORE_WATTS = 20.0
#: Seconds between reads of the resident set size.
RESIDENT_SAMPLE_S = 0.05
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def cpu_model() -> str:
    """The CPU model name as the OS reports it ('' when unknown)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _normalise(model: str) -> str:
    model = re.sub(r"\((R|TM|tm|r)\)", "", model)
    model = re.sub(r"\s+CPU\s*@.*$|\s*@\s*[\d.]+\s*GHz.*$", "", model)
    model = re.sub(r"\s+(CPU|Processor|\d+-Core Processor)\b", "", model)
    return " ".join(model.lower().split())


@functools.lru_cache(maxsize=1)
def _tdp_table() -> tuple[tuple[str, float], ...]:
    """(normalised name, TDP watts) rows of codecarbon's table, read once per process.

    Rows whose TDP is not a positive number (the real file has e.g. ``27.29.5``) are
    skipped."""
    path = data_file("hardware/cpu_power.csv")
    if path is None:
        return ()
    rows = []
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            for row in csv.DictReader(handle):
                try:
                    tdp = float(row.get("TDP") or "")
                except (TypeError, ValueError):
                    continue
                if math.isfinite(tdp) and tdp > 0 and row.get("Name"):
                    rows.append((row["Name"], tdp))
    except (OSError, csv.Error):
        return ()
    return tuple(rows)


@functools.lru_cache(maxsize=8)
def lookup_tdp(model: str) -> tuple[float, str] | None:
    """(TDP watts, matched name) from codecarbon's table, or None; cached per model."""
    wanted = _normalise(model)
    rows = _tdp_table() if wanted else ()
    for name, tdp in rows:
        if _normalise(name) == wanted:
            return tdp, name
    tokens = set(wanted.split())
    partial = [(len(name), name, tdp) for name, tdp in rows if set(_normalise(name).split()) <= tokens]
    if partial:
        _, name, tdp = max(partial)
        return tdp, name
    return None


def core_watts(options: MeterOptions) -> tuple[float, str]:
    """Per-core watts and where the figure came from."""
    if options.core_watts is not None:
        return options.core_watts, options.core_watts_source
    model = cpu_model()
    found = lookup_tdp(model)
    if found is None:
        return DEFAULT_CORE_WATTS, f"default for unknown CPU {model!r}"
    tdp, name = found
    cpus = os.cpu_count() or 1
    return min(tdp / cpus, MAX_CORE_WATTS), f"TDP {tdp:g} W of {name} / {cpus} CPUs"


def _resident_gb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE_BYTES / 1e9
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


class EstimateMeter(Meter):
    """Modelled joules: ``cpu`` from CPU time, ``memory`` from resident memory."""

    name = "estimate"
    is_estimate = True
    min_window_s = 0.05
    #: CPU time comes from a fine-grained clock.
    resolution_s = max(time.get_clock_info("process_time").resolution, 1e-6)

    def __init__(self, watts_per_core: float, source: str) -> None:
        self.watts_per_core = watts_per_core
        self.source = source
        self._memory_joules = 0.0
        self._last = monotonic_s()
        self._resident_gb = _resident_gb()
        self._resident_at = self._last

    def read(self) -> Reading:
        """Cumulative modelled joules (resident memory re-read at most every
        :data:`RESIDENT_SAMPLE_S`: reading it costs far more than the CPU clock)."""
        now = monotonic_s()
        self._memory_joules += (now - self._last) * self._resident_gb * MEMORY_WATTS_PER_GB
        self._last = now
        if now - self._resident_at >= RESIDENT_SAMPLE_S:
            self._resident_gb, self._resident_at = _resident_gb(), now
        return {"cpu": cpu_seconds() * self.watts_per_core, "memory": self._memory_joules}

    def describe(self) -> str:
        """E.g. ``estimate (10 W per busy core: default for unknown CPU ...)``."""
        return f"estimate ({self.watts_per_core:.3g} W per busy core: {self.source})"


def open_meter(options: MeterOptions) -> EstimateMeter:
    """The estimate is always available."""
    return EstimateMeter(*core_watts(options))
