"""A test's and a file's stored runs, as a baseline keeps them, and the loaded baseline.

Each stored run keeps its joules per call and, from this version on, its Software Carbon
Intensity per call (``sci_g``, one per round or the real call's, :func:`sci_samples`), so
the gate can judge either figure (``--energy-judge``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .results import TestResult


def call_sci(result: TestResult) -> float | None:
    """The SCI (gCO2e) of the test's real call; None without an SCI figure that can be
    recomputed (files written before this version). A deterministic meter's figure is its
    own (its time is modelled, not the call's)."""
    sci = result.sci
    if sci is None or result.call is None or not (sci.g_per_j or sci.embodied_g_per_s):
        return None
    if result.model and result.measurement is None:
        return sci.sci_g
    return sci.at(result.call.joules, result.call.seconds)


def sci_samples(result: TestResult) -> list[float]:
    """SCI gCO2e per call as :attr:`TestResult.samples` holds joules: one per round (from its
    joules and time), or the real call's; [] without SCI figures."""
    sci = result.sci
    if result.measurement is None:
        call = call_sci(result)
        return [] if call is None else [call]
    if sci is None or not (sci.g_per_j or sci.embodied_g_per_s):
        return []
    m = result.measurement
    return [sci.at(j, s) for j, s in zip(m.joules_per_call, m.seconds_per_call, strict=True)]


def file_sci(results: list[TestResult], path: str) -> float | None:
    """The sum of the SCI of a file's real calls (None when one of them has none)."""
    calls = [call_sci(r) for r in results if r.path == path and r.call is not None]
    return None if not calls or None in calls else sum(c for c in calls if c is not None)


@dataclass(frozen=True)
class StoredRun:
    """One test's figures as a baseline keeps them (one entry of its history)."""

    meter: str
    #: 1: the real call only; 2: repeated rounds.
    tier: int
    #: Joules per call: one per round, or the real call's single value.
    joules: list[float]
    seconds: list[float] = field(default_factory=list)
    #: The real call (None for fixture-measured tests).
    call_joules: float | None = None
    below_resolution: bool = False
    commit: str | None = None
    time: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    #: A deterministic meter's model ("" for sampled meters), and the real call's counts.
    model: str = ""
    counts: dict[str, int] | None = None
    #: SCI gCO2e per call beside :attr:`joules`, and the real call's ([] and None in files
    #: written before them).
    sci_g: list[float] = field(default_factory=list)
    call_sci_g: float | None = None

    @classmethod
    def from_result(cls, result: TestResult, commit: str | None = None, when: str = "") -> StoredRun:
        """The stored form of one test's result."""
        return cls(
            meter=result.meter, tier=result.tier, joules=list(result.samples),
            seconds=result.measurement.seconds_per_call if result.measurement else [result.seconds],
            call_joules=result.call.joules if result.call else None,
            below_resolution=bool(result.call and result.call.below_resolution),
            commit=commit, time=when,
            settings=asdict(result.measurement.settings) if result.measurement else {},
            model=result.model, counts=result.counts, sci_g=sci_samples(result), call_sci_g=call_sci(result),
        )

    def to_dict(self) -> dict[str, Any]:
        """The baseline file's form."""
        return {
            "commit": self.commit, "time": self.time, "meter": self.meter, "tier": self.tier,
            "call_joules": self.call_joules, "below_resolution": self.below_resolution,
            "samples": {"joules": list(self.joules), "seconds": list(self.seconds),
                        **({"sci_g": list(self.sci_g)} if self.sci_g else {})},
            "settings": dict(self.settings), "model": self.model, "counts": self.counts,
            **({"call_sci_g": self.call_sci_g} if self.call_sci_g is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredRun:
        """Inverse of :meth:`to_dict` (a file already validated)."""
        samples = data["samples"]
        return cls(
            meter=str(data.get("meter", "")), tier=2 if data.get("tier", 2) == 2 else 1,
            joules=list(samples["joules"]), seconds=list(samples.get("seconds") or []),
            call_joules=data.get("call_joules"), below_resolution=bool(data.get("below_resolution")),
            commit=data.get("commit"), time=str(data.get("time") or ""),
            settings=data.get("settings") if isinstance(data.get("settings"), dict) else {},
            model=str(data.get("model") or ""),
            counts=data.get("counts") if isinstance(data.get("counts"), dict) else None,
            sci_g=list(samples.get("sci_g") or []), call_sci_g=data.get("call_sci_g"),
        )


@dataclass(frozen=True)
class StoredTotal:
    """A file's total (the sum of its tests' real calls) as a baseline keeps it."""

    meter: str
    joules: float
    #: Digest of the node ids summed (totals of different sets of tests are not compared).
    tests: str
    commit: str | None = None
    time: str = ""
    model: str = ""
    #: The sum of its tests' real calls' SCI, gCO2e (None: not stored).
    sci_g: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The baseline file's form."""
        data = asdict(self)
        if self.sci_g is None:
            del data["sci_g"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredTotal:
        """Inverse of :meth:`to_dict`."""
        return cls(meter=str(data.get("meter", "")), joules=data["joules"], tests=str(data.get("tests", "")),
                   commit=data.get("commit"), time=str(data.get("time") or ""),
                   model=str(data.get("model") or ""), sci_g=data.get("sci_g"))


@dataclass
class Baseline:
    """A loaded baseline file: each test's and file's stored runs, oldest first."""

    path: str
    machine: dict[str, Any] = field(default_factory=dict)
    tests: dict[str, list[StoredRun]] = field(default_factory=dict)
    files: dict[str, list[StoredTotal]] = field(default_factory=dict)
    commit: str | None = None
    history: int = 0

    @classmethod
    def from_dict(cls, path: str, data: dict[str, Any]) -> Baseline:
        """A validated document, typed."""
        return cls(
            path, dict(data["machine"]),
            {nodeid: [StoredRun.from_dict(run) for run in entry["runs"]]
             for nodeid, entry in data["tests"].items()},
            {name: [StoredTotal.from_dict(run) for run in entry["runs"]]
             for name, entry in (data.get("files") or {}).items()},
            data.get("commit") if isinstance(data.get("commit"), str) else None,
            data.get("history") if isinstance(data.get("history"), int) else 0,
        )

    def runs(self, nodeid: str) -> list[StoredRun]:
        """The test's stored runs, oldest first ([] when the test is new)."""
        return self.tests.get(nodeid, [])

    def file_runs(self, path: str) -> list[StoredTotal]:
        """The file's stored totals, oldest first."""
        return self.files.get(path, [])

    def machine_differences(self, machine: dict[str, Any]) -> list[str]:
        """``key: old -> new`` for each fingerprint field that differs from this file's."""
        return machine_differences(self.machine, machine)


def machine_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for each fingerprint field that differs (the meters are
    recorded per run, and compared per run)."""
    keys = sorted((set(old) | set(new)) - {"meters"})
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
