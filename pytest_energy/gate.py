"""The pull-request gate: load the baseline, compare this run with it, save it.

Plain functions over result records; the pytest hooks call these.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from . import baseline as store
from .config import Settings
from .results import TestResult
from .verdict import REGRESSION, Rule, compare_run


@dataclass
class Gate:
    """Baseline comparison and saving for one session."""

    settings: Settings
    path: str
    machine: dict[str, Any]
    commit: str | None
    baseline: store.Baseline | None = None
    #: Warnings for the user (missing baseline, other machine, save problems).
    notes: list[str] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    same_machine: bool = True
    saved: bool = False

    @classmethod
    def open(cls, settings: Settings, rootdir: str, meters: str) -> Gate:
        """Load the baseline when comparing or saving; raises :class:`BaselineError`."""
        path = os.path.join(rootdir, settings.baseline_path)
        gate = cls(settings, path, store.machine_fingerprint(meters), store.git_commit(rootdir))
        gate.baseline = store.load(path)
        if settings.compare and gate.baseline is None:
            gate.notes.append(
                f"no baseline at {path} yet: nothing to compare, the check passes "
                "(create it with --energy-save)"
            )
        elif settings.compare and gate.baseline is not None:
            differences = gate.baseline.machine_differences(gate.machine)
            gate.same_machine = not differences
            if differences:
                action = (
                    "regressions still fail (--energy-compare-any-machine)"
                    if settings.compare_any_machine
                    else "reporting only, regressions do not fail (--energy-compare-any-machine to fail)"
                )
                gate.notes.append(
                    f"baseline {path} comes from another machine ({'; '.join(differences)}); {action}"
                )
            stored = gate.baseline.machine.get("meters", "")
            if stored and meters not in stored.split(", "):
                gate.notes.append(
                    f"baseline {path} holds runs measured with {stored}, this run uses {meters}: "
                    "tests are compared only with runs of the same meter, so they count as new"
                )
        return gate

    def compare(self, results: list[TestResult]) -> list[dict[str, Any]]:
        """Verdicts for this run's results against the baseline (none without one)."""
        if not self.settings.compare or self.baseline is None:
            return []
        history = {nodeid: self.baseline.runs(nodeid) for nodeid in self.baseline.tests}
        files = {path: self.baseline.file_runs(path) for path in self.baseline.files}
        rule = Rule(max_regression=self.settings.max_regression, alpha=self.settings.alpha)
        self.comparisons = [c.to_dict() for c in compare_run(results, history, files, rule)]
        return self.comparisons

    @property
    def regressions(self) -> list[dict[str, Any]]:
        """The comparisons judged regressions."""
        return [c for c in self.comparisons if c["verdict"] == REGRESSION]

    @property
    def fails_build(self) -> bool:
        """True when regressions were found and they count here (same machine, or forced)."""
        return bool(self.regressions) and (self.same_machine or self.settings.compare_any_machine)

    def save(self, results: list[TestResult]) -> None:
        """Merge this run into the baseline (raises :class:`BaselineError` on a bad file)."""
        settings = self.settings
        self.notes += store.save(
            self.path, results, self.machine, self.commit, settings.history, settings.lock_timeout_s,
        )
        self.saved = True
