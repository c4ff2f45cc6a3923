"""The baseline plugin: this run against the stored baseline, and saving this run into it.

Registered on the controller only, and only with ``--energy-compare`` or ``--energy-save``.
Regressions fail the session the way pytest-cov fails it: counted in a
``pytest_runtestloop`` wrapper, never raised out of a report hook.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..judge.gate import Gate
from ..report.text import comparison_table, regression_line, table_size, verdict_counts
from ..store import baseline as store
from .compat import terminal_width, verbosity
from .measuring import RunState


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
        if self.gate.fails_build:
            session.testsfailed += len(self.gate.regressions)
        return result

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
            outcome = "FAILED" if gate.fails_build else "passed"
            write(f"energy check {outcome}: {verdict_counts(gate.comparisons)}",
                  red=gate.fails_build, green=not gate.fails_build)
        if gate.saved:
            write(f"energy: baseline saved to {gate.path}")
