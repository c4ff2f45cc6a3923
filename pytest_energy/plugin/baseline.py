"""The baseline plugin: this run against the stored baseline, and saving this run into it.

Registered on the controller only, and only with ``--energy-compare`` or ``--energy-save``.
Regressions fail the session the way pytest-cov fails it: counted in a
``pytest_runtestloop`` wrapper, never raised out of a report hook.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..judge.gate import Gate
from ..judge.recheck import FreshCalls, references, to_run_drift
from ..report.text import check_line, comparison_table, regression_line, table_size
from ..settings import ProtocolSettings
from ..store import baseline as store
from .compat import terminal_width, verbosity
from .measuring import RunState
from .rerun import in_turn, rerun
from .rounds import one_line


class BaselinePlugin:
    """Compare with and save to the baseline file."""

    def __init__(self, config: pytest.Config, state: RunState, gate: Gate) -> None:
        self.config = config
        self.state = state
        self.gate = gate
        self._notes_warned = len(gate.notes)  # these became pytest warnings at start

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        result = yield
        self.gate.judge(list(self.state.results.values()))
        if self.gate.fails_build and self.state.settings.recheck:
            try:
                self._recheck(session)
            except Exception as exc:  # a fault here costs the recheck, never the run
                self.gate.notes.append(f"regressions not rechecked: {one_line(exc)}")
        if self.gate.fails_build:
            session.testsfailed += len(self.gate.regressions)
        return result

    def _recheck(self, session: pytest.Session) -> None:
        """Measure each single-call regression again in fresh calls, each beside the tests
        of its size that tell the drift then (:mod:`..judge.recheck`)."""
        suspects = set(self.gate.to_recheck())
        if not suspects or session.shouldfail or session.shouldstop or self.state.engine.between_rounds:
            return
        if self.config.pluginmanager.has_plugin("dsession"):
            self.gate.notes.append("regressions not rechecked: that needs one process, not pytest-xdist's -n")
            return
        settings, calls = self.state.settings, {}
        protocol = ProtocolSettings(rounds=settings.recheck, warmup=0, min_round_s=settings.min_time_s,
                                    max_time_s=settings.max_time_s)
        comparisons = {c.nodeid: c for c in self.gate.comparisons}
        items = {item.nodeid: item for item in session.items if item.nodeid in self.state.results}
        plan = [(item, [n for n in references(self.gate.comparisons, item.nodeid) if n in items])
                for item in session.items if item.nodeid in suspects]  # beside tests of its size
        order = [i for item, beside in plan for i in (item, *(items[n] for n in beside))]
        fresh: list[tuple[FreshCalls, str]] = []
        for item in in_turn(session, order):
            call = self.state.results[item.nodeid].call
            measured, failure = rerun(item, self.state.engine, protocol, call.seconds if call else None)
            done = measured is not None and measured.rounds
            fresh.append((FreshCalls(measured.joules_per_call, measured.seconds_per_call) if done
                          else FreshCalls([], []), failure))
        for item, beside in plan:
            (values, failure), nearby = fresh[0], fresh[1:1 + len(beside)]
            del fresh[:1 + len(beside)]
            if values.joules:
                drift_beside = {n: v.joules for n, (v, _) in zip(beside, nearby, strict=True) if v.joules}
                calls[item.nodeid] = to_run_drift(values, comparisons[item.nodeid], drift_beside,
                                                  self.gate.comparisons)
            else:
                why = failure or f"one call does not fit in --energy-max-time={settings.max_time_s:g} s"
                self.gate.notes.append(f"{item.nodeid}: not rechecked, its regression stands: {why}")
        self.gate.recheck(list(self.state.results.values()), calls)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.state.settings.save:
            return
        gate, settings = self.gate, self.state.settings
        try:
            gate.saved, notes = store.save(
                gate.path, list(self.state.results.values()), gate.machine, gate.commit, settings.history,
                settings.lock_timeout_s,
            )
            gate.notes += notes
        except (store.BaselineError, OSError) as exc:
            reason = exc if isinstance(exc, store.BaselineError) else (exc.strerror or exc)
            self.gate.notes.append(f"baseline not saved: {reason}")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        gate = self.gate
        write = terminalreporter.write_line
        if verbosity(self.config) >= 0 and gate.comparisons:
            terminalreporter.write_sep("-", "energy against the baseline")
            top, width = table_size(len(gate.comparisons), self.state.settings.top,
                                    verbosity(self.config) > 0, terminal_width(self.config))
            write(comparison_table(gate.comparisons, top=top, width=width))
        for note in gate.notes[self._notes_warned:]:
            write(f"energy warning: {note}", yellow=True)
        for regression in gate.regressions:
            write(regression_line(regression), red=gate.fails_build)
        if self.state.settings.compare and gate.baseline is not None:
            write(check_line(gate.fails_build, gate.comparisons, gate.judged),
                  red=gate.fails_build, green=not gate.fails_build)
        if gate.saved:
            write(f"energy: baseline saved to {gate.path}")
