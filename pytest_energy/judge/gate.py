"""The pull-request gate: this run's results against a loaded baseline.

Pure: the plugin loads and saves the baseline (:mod:`pytest_energy.store.baseline`) and
hands it over; the gate decides the verdicts and whether they fail the build.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..history import Baseline, machine_differences
from ..results import TestResult
from ..settings import Settings
from .figures import NO_SCI, SCI, Figure, figure, labelled, results_as, rule_for, runs_as, totals_as
from .recheck import FreshCalls, after_recheck, suspects, taken_back_line, with_rechecks
from .rules import REGRESSION, Comparison, Rule
from .suite import RunVerdicts, drift_note, judge_run


@dataclass
class Gate:
    """Baseline comparison for one session (and the baseline as saved, when it was)."""

    settings: Settings
    path: str
    machine: dict[str, Any]
    commit: str | None
    baseline: Baseline | None = None
    #: Warnings for the user (missing baseline, other machine, save problems).
    notes: list[str] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    same_machine: bool = True
    #: The baseline as this run saved it (kept in memory for the reports).
    saved: Baseline | None = None

    @classmethod
    def start(
        cls, settings: Settings, path: str, baseline: Baseline | None, machine: dict[str, Any],
        commit: str | None, meters: str,
    ) -> Gate:
        """A gate over ``baseline`` (None: no file yet), with its notes for the user."""
        gate = cls(settings, path, machine, commit, baseline)
        if not settings.compare:
            return gate
        if baseline is None:
            gate.notes.append(
                f"no baseline at {path} yet: nothing to compare, the check passes "
                "(create it with --energy-save)"
            )
            return gate
        differences = machine_differences(baseline.machine, machine)
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
        stored = baseline.machine.get("meters", "")
        if stored and meters not in stored.split(", "):
            gate.notes.append(
                f"baseline {path} holds runs measured with {stored}, this run uses {meters}: "
                "tests are compared only with runs of the same meter, so they count as new"
            )
        return gate

    def judge(self, results: list[TestResult]) -> list[Comparison]:
        """Verdicts for this run's results against the baseline (none without one), on the
        figure ``--energy-judge`` names (:mod:`.figures`)."""
        if not self.settings.compare or self.baseline is None:
            return []
        if self.judged is SCI and not any(run.sci_g for runs in self.baseline.tests.values() for run in runs):
            self.notes.append(NO_SCI)
            return []
        verdicts = self._judge_run(results)
        note = drift_note(verdicts.drift, f"the baseline {self.path}")
        if note:
            self.notes.append(note)
        self.comparisons = verdicts.comparisons
        return self.comparisons

    @property
    def judged(self) -> Figure:
        """The figure judged: joules or SCI per call (``--energy-judge``)."""
        return figure(self.settings.judge)

    def _judge_run(self, results: list[TestResult]) -> RunVerdicts:
        """:func:`.suite.judge_run` on the judged figure of this run and of the baseline."""
        assert self.baseline is not None
        judged = self.judged
        seen = results_as(results, judged)
        tests = {nodeid: runs_as(runs, judged) for nodeid, runs in self.baseline.tests.items()}
        files = {path: totals_as(totals, judged) for path, totals in self.baseline.files.items()}
        verdicts = judge_run(seen, tests, files, rule_for(self.rule, judged, results))
        return replace(verdicts, comparisons=labelled(verdicts.comparisons, judged))

    @property
    def rule(self) -> Rule:
        """The thresholds of this run's settings."""
        return Rule(self.settings.max_regression, self.settings.alpha, self.settings.tolerance)

    def to_recheck(self) -> list[str]:
        """Node ids of the regressions a recheck can take back (:mod:`.recheck`)."""
        return suspects(self.comparisons)

    def recheck(self, results: list[TestResult], calls: dict[str, FreshCalls]) -> None:
        """The run judged again with each rechecked test's fresh ``calls`` in place of its
        call; a regression taken back is said in a note."""
        if not calls or self.baseline is None:
            return
        again = self._judge_run(with_rechecks(results, calls))
        before = {c.nodeid: c for c in self.comparisons}
        counts = {nodeid: len(fresh.joules) for nodeid, fresh in calls.items()}
        self.comparisons = [after_recheck(before[c.nodeid], c, counts.get(c.nodeid, 0), self.rule.alpha)
                            for c in again.comparisons]
        self.notes += [taken_back_line(c) for c in self.comparisons
                       if before[c.nodeid].verdict == REGRESSION and c.verdict != REGRESSION]

    @property
    def regressions(self) -> list[Comparison]:
        """The comparisons judged regressions."""
        return [c for c in self.comparisons if c.verdict == REGRESSION]

    @property
    def fails_build(self) -> bool:
        """True when regressions were found and they count here (same machine, or forced)."""
        return bool(self.regressions) and (self.same_machine or self.settings.compare_any_machine)
