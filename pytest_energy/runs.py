"""A whole run and a base-against-head run, typed: what the reports render and the
store writes. ``to_dict``/``from_dict`` are called only by :mod:`pytest_energy.store`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .judge.rules import Comparison
from .measurement.carbon import Intensity
from .measurement.sci import SESSION_UNIT, terms, total
from .profiles import Profile, ProfileDiff
from .results import TestResult

RESULTS_FORMAT = "pytest-energy-results"
AB_FORMAT = "pytest-energy-ab"


@dataclass
class RunRecord:
    """Everything one ``pytest --energy`` run measured, with the settings and meters used."""

    meters: str
    tests: list[TestResult]
    machine: dict[str, Any] = field(default_factory=dict)
    unavailable_meters: dict[str, str] = field(default_factory=dict)
    idle_watts: float = 0.0
    read_cost_joules: float = 0.0
    resolution_s: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    #: ``energy.versus`` records (as :meth:`VersusResult.to_dict` writes them).
    versus: list[dict[str, Any]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    plugin_version: str = ""
    #: The shard files a ``pytest-energy merge`` made this from.
    merged_from: list[str] = field(default_factory=list)
    #: Every test's outcome (``passed``, ``failed``, ``error``, ``skipped``, ``xfailed``,
    #: ``xpassed``) and one line of its message, measured or not.
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: ``--energy-profile``: per-function profiles, and regressions against stored profiles.
    profiles: list[Profile] = field(default_factory=list)
    profile_diffs: list[ProfileDiff] = field(default_factory=list)

    @property
    def meter_label(self) -> str:
        """The meters of the tests' figures, e.g. ``estimate`` (``none`` without tests)."""
        return ", ".join(sorted({t.meter for t in self.tests})) or "none"

    @property
    def intensity(self) -> Intensity:
        """The carbon intensity the run used (the default when the file does not say)."""
        try:
            return Intensity(**(self.settings.get("intensity") or {}))
        except TypeError:
            return Intensity()

    def to_dict(self) -> dict[str, Any]:
        """The results file's form (``--energy-json``)."""
        data = {
            "format": RESULTS_FORMAT, "version": 1, "plugin_version": self.plugin_version,
            "meters": self.meters, "machine": self.machine, "unavailable_meters": self.unavailable_meters,
            "idle_watts": self.idle_watts, "read_cost_joules": self.read_cost_joules,
            "resolution_s": self.resolution_s, "settings": self.settings,
            "tests": [t.to_dict() for t in self.tests],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "versus": self.versus, "faults": self.faults,
            "outcomes": {nodeid: {"outcome": word, "message": message}
                         for nodeid, (word, message) in sorted(self.outcomes.items())},
        }
        if self.merged_from:
            data["merged_from"] = self.merged_from
        if self.profiles or self.profile_diffs:
            data["profiles"] = [p.to_dict() for p in self.profiles]
            data["profile_diffs"] = [d.to_dict() for d in self.profile_diffs]
        sci = self.sci()
        if sci:
            data["sci"] = sci
        return data

    def sci(self) -> dict[str, Any] | None:
        """The session's Software Carbon Intensity (the sum of one call of each measured test)
        and every term with its source; None without figures or in files written before them."""
        figures = [t.sci for t in self.tests if t.sci is not None]
        if not figures or not isinstance(self.settings.get("sci"), dict):
            return None
        session = total(figures)
        return {**session.to_dict(), "functional_unit": SESSION_UNIT, "tests": len(figures),
                "terms": terms(self.settings["sci"], self.settings.get("intensity") or {}, session.meter)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Inverse of :meth:`to_dict`; raises KeyError, TypeError or ValueError on a bad entry."""
        return cls(
            meters=str(data.get("meters") or ""), tests=[TestResult.from_dict(t) for t in data["tests"]],
            machine=dict(data.get("machine") or {}),
            unavailable_meters=dict(data.get("unavailable_meters") or {}),
            idle_watts=float(data.get("idle_watts") or 0.0),
            read_cost_joules=float(data.get("read_cost_joules") or 0.0),
            resolution_s=float(data.get("resolution_s") or 0.0), settings=dict(data.get("settings") or {}),
            comparisons=[Comparison.from_dict(c) for c in data.get("comparisons") or []],
            versus=[_versus_from_dict(v) for v in data.get("versus") or []],
            faults=[str(f) for f in data.get("faults") or []],
            plugin_version=str(data.get("plugin_version") or ""),
            merged_from=list(data.get("merged_from") or []),
            outcomes={str(nodeid): (str(entry["outcome"]), str(entry.get("message") or ""))
                      for nodeid, entry in (data.get("outcomes") or {}).items()},
            profiles=[Profile.from_dict(p) for p in data.get("profiles") or []],
            profile_diffs=[ProfileDiff.from_dict(d) for d in data.get("profile_diffs") or []],
        )


def _versus_from_dict(record: dict[str, Any]) -> dict[str, Any]:
    """An ``energy.versus`` record as read: a ratio written as null (JSON has no infinity:
    the reference measured 0 J) is infinite again, as the reports expect."""
    def ratio(value: dict[str, Any] | None) -> dict[str, float] | None:
        return None if value is None else {k: math.inf if v is None else v for k, v in value.items()}

    candidates = [{**c, "energy_ratio": ratio(c.get("energy_ratio")),
                   "time_ratio": ratio(c.get("time_ratio"))} for c in record["candidates"]]
    return {**record, "candidates": candidates}


@dataclass(frozen=True)
class Revision:
    """One side of an ab run: the revision as given, and its commit (None: the working tree)."""

    revision: str
    commit: str | None = None

    def describe(self, name: str) -> str:
        """E.g. ``base (origin/main 1a2b3c4d5e)``."""
        return f"{name} ({self.revision}{f' {self.commit[:10]}' if self.commit else ''})"


@dataclass
class AbRecord:
    """A ``pytest-energy ab`` run: paired verdicts, both sides' figures, the turn log."""

    base: Revision
    head: Revision
    meter: str
    comparisons: list[Comparison]
    #: (base, head) results of every test both sides ran.
    pairs: list[tuple[TestResult, TestResult]]
    new: list[TestResult] = field(default_factory=list)
    removed: list[TestResult] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    #: (side, event, test) for every request, in order.
    turns: list[list[str]] = field(default_factory=list)
    #: (test, side, outcome, message) for tests that failed, errored or were skipped on one side.
    failures: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: Regressed tests profiled on both sides (``--profile``).
    profile_diffs: list[ProfileDiff] = field(default_factory=list)

    @property
    def max_regression(self) -> float:
        """The regression limit the verdicts used (a fraction)."""
        return float(self.settings.get("max_regression", 0.10))

    def to_dict(self) -> dict[str, Any]:
        """The ab file's form (``pytest-energy ab --json``)."""
        return {
            "format": AB_FORMAT, "version": 1,
            "base": {"revision": self.base.revision, "commit": self.base.commit},
            "head": {"revision": self.head.revision, "commit": self.head.commit},
            "meter": self.meter, "machine": self.machine, "settings": self.settings,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "tests": [
                {"nodeid": h.nodeid, "base": b.to_dict(), "head": h.to_dict(),
                 "lockstep": lockstep_order(b, h)}
                for b, h in self.pairs
            ],
            "new": [r.to_dict() for r in self.new],
            "removed": [r.to_dict() for r in self.removed],
            "turns": [list(entry) for entry in self.turns],
            "failures": [dict(zip(("nodeid", "side", "outcome", "message"), f, strict=True))
                         for f in self.failures],
            **({"profile_diffs": [d.to_dict() for d in self.profile_diffs]} if self.profile_diffs else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AbRecord:
        """Inverse of :meth:`to_dict`; raises KeyError, TypeError or ValueError on a bad entry."""
        def side(name: str) -> Revision:
            entry = data.get(name) or {}
            return Revision(str(entry.get("revision") or ""), entry.get("commit"))

        return cls(
            base=side("base"), head=side("head"), meter=str(data.get("meter") or ""),
            comparisons=[Comparison.from_dict(c) for c in data.get("comparisons") or []],
            pairs=[(TestResult.from_dict(t["base"]), TestResult.from_dict(t["head"])) for t in data["tests"]],
            new=[TestResult.from_dict(r) for r in data.get("new") or []],
            removed=[TestResult.from_dict(r) for r in data.get("removed") or []],
            machine=dict(data.get("machine") or {}), settings=dict(data.get("settings") or {}),
            turns=[list(entry) for entry in data.get("turns") or []],
            failures=[(str(f["nodeid"]), str(f["side"]), str(f["outcome"]), str(f.get("message") or ""))
                      for f in data.get("failures") or []],
            profile_diffs=[ProfileDiff.from_dict(d) for d in data.get("profile_diffs") or []],
        )


def lockstep_order(base: TestResult, head: TestResult) -> list[str]:
    """Which side measured each kept round, in the order they ran."""
    rounds = [(r.started, "base") for r in (base.measurement.rounds if base.measurement else [])]
    rounds += [(r.started, "head") for r in (head.measurement.rounds if head.measurement else [])]
    return [side for _, side in sorted(rounds)]
