"""Output plugins on the controller: the terminal section, the JSON file, the markdown
summary, the HTML report.

Each writes what :class:`~pytest_energy.measuring.RunState` (and the baseline plugin's
gate, when registered) hold. A file that cannot be written costs that file only, said in
one line; the other outputs and pytest's summary are still written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..errors import InputError
from ..judge.gate import Gate
from ..report.profiles import profile_markdown
from ..report.sci import SCI_SECTION, sci_table, summary_line
from ..report.text import default_top, file_table, markdown_summary, tests_table
from ..report.totals import tests_word, total_row
from ..report.versus import versus_table
from ..results import REPEATED
from ..runs import RunRecord
from ..store.baseline import machine_fingerprint
from ..store.documents import save_results
from ..store.files import markdown_outputs, write_markdown, write_text_atomic
from ..units import si
from .compat import terminal_width, verbosity
from .keys import GATE_KEY, PROFILE_KEY
from .measuring import RunState


def _regressions(gate: Gate | None) -> list[str]:
    return [c.nodeid for c in gate.regressions] if gate else []


class TerminalPlugin:
    """The ``energy`` section of the terminal summary: tables unless -q, the total unless -qq."""

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config = config
        self.state = state

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        state = self.state
        level = verbosity(self.config)
        write = terminalreporter.write_line
        results = sorted(state.results.values(), key=lambda r: r.nodeid)
        if level >= 0:
            terminalreporter.section("energy")
            width = terminal_width(self.config) if level <= 0 else None  # -v: full node ids
            if results:
                write(file_table(results, _regressions(self.config.stash.get(GATE_KEY, None)), width))
                top = default_top(len(results), state.settings.top, level > 0)
                cut = top is not None and top < len(results)
                shown = f" (top {top} of {len(results)}; -v shows all)" if cut else ""
                terminalreporter.write_sep("-", f"energy per test{shown}")
                write(tests_table(results, top, width))
            if results and self._sci_table_wanted(results, level):
                terminalreporter.write_sep("-", SCI_SECTION)
                write(sci_table(results, top, width))
            if state.versus:
                terminalreporter.write_sep("-", "energy: candidates side by side")
                write(versus_table(list(state.versus.values()), width))
        if level >= -1:
            repeated = sum(1 for r in results if r.repeat == REPEATED)
            below = sum(1 for r in results if r.below_resolution)
            total = total_row(results)
            write(f"energy: {tests_word(total)} measured ({repeated} repeated in rounds, "
                  f"{below} below the meters' resolution), {si(total.joules, 'J')} in their real calls "
                  f"({state.meters.label})")
            if state.html_written:
                write(f"energy HTML report: {Path(state.html_written).resolve().as_uri()}")
            if state.cut_by_budget:
                write(f"energy: repetition of {state.cut_by_budget} tests cut by --energy-time-budget; "
                      "they keep their real-call figure", yellow=True)
        for line in state.faults:
            write(f"energy warning: {line}", yellow=True)
        if level >= 0:
            for warning in state.meters.warnings():
                write(f"energy warning: {warning}", yellow=True)
            sci = summary_line(results)
            if sci:
                write(sci)
            if state.settings.json_path:
                write(f"energy: results written to {state.settings.json_path}")

    def _sci_table_wanted(self, results: list[Any], level: int) -> bool:
        """Per-test SCI: with -v, when an SCI setting was given, or when a test has an SCI budget."""
        budgets = any(r.budget is not None and r.budget.sci_g is not None for r in results)
        return level > 0 or self.state.settings.sci.configured or budgets


class FilePlugin:
    """``--energy-json``, ``--energy-markdown`` (and ``$GITHUB_STEP_SUMMARY``), ``--energy-html``,
    ``--energy-csv``."""

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config = config
        self.state = state

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        settings = self.state.settings
        self.session = session
        run = self.run_record() if settings.json_path or settings.html_path else None
        if settings.json_path and run is not None:
            self._write(settings.json_path, lambda path: save_results(path, run))
        if settings.html_path and run is not None and self._write(
                settings.html_path, lambda path: self._write_html(path, run)):
            self.state.html_written = settings.html_path
        if settings.csv_path:
            from ..report.exports import csv_text

            text = csv_text(list(self.state.results.values()), self.state.outcomes, settings.intensity)
            self._write(settings.csv_path, lambda path: write_text_atomic(path, text))
        targets = markdown_outputs(settings.markdown_path)
        text = self._markdown() if targets else ""
        for target, mode in targets:
            self._write(target, lambda path, mode=mode: write_markdown(path, mode, text))

    def _write(self, path: str, write: Any) -> bool:
        """``write(path)``; False (said in one line, the run failed) when it could not be written."""
        try:
            write(path)
            return True
        except (OSError, InputError) as exc:
            failed = str(exc) if isinstance(exc, InputError) else f"{path} not written: {exc.strerror or exc}"
            self.state.faults.append(failed)
            if self.session.exitstatus == pytest.ExitCode.OK:
                self.session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return False

    def _write_html(self, path: str, run: RunRecord) -> None:
        """The HTML report of this run, with the baseline's history (as this run saved it, if it did)."""
        from ..report.html import render

        gate = self.config.stash.get(GATE_KEY, None)
        baseline = (gate.saved or gate.baseline) if gate is not None else None
        write_text_atomic(path, render(run, baseline))

    def _markdown(self) -> str:
        gate = self.config.stash.get(GATE_KEY, None)
        profiles = self.config.stash.get(PROFILE_KEY, None)
        return markdown_summary(
            sorted(self.state.results.values(), key=lambda r: r.nodeid), gate.comparisons if gate else [],
            self.state.meters.label, self.state.settings.intensity, gate.notes if gate else [],
            sci=self.run_record().sci(),
        ) + (profile_markdown(profiles.diffs) if profiles else "")

    def run_record(self) -> RunRecord:
        """Everything the run measured, with the settings and meters used."""
        from .. import __version__

        state = self.state
        gate = self.config.stash.get(GATE_KEY, None)
        profiles = self.config.stash.get(PROFILE_KEY, None)
        return RunRecord(
            meters=state.meters.describe(),
            tests=sorted(state.results.values(), key=lambda r: r.nodeid),
            machine=machine_fingerprint(state.meters.label),
            unavailable_meters=dict(state.selection.unavailable),
            idle_watts=state.engine.idle_watts,
            read_cost_joules=state.engine.read_cost_j,
            resolution_s=state.meters.resolution_s,
            settings=state.settings.to_dict(),
            comparisons=list(gate.comparisons) if gate else [],
            versus=[state.versus[key] for key in sorted(state.versus)],
            faults=list(state.faults),
            plugin_version=__version__,
            outcomes=dict(state.outcomes),
            **({"profiles": profiles.profiles, "profile_diffs": profiles.diffs} if profiles else {}),
        )
