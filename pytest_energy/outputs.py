"""Output plugins on the controller: the terminal section, the JSON file, the markdown
summary, the HTML report.

Each writes what :class:`~pytest_energy.measuring.RunState` (and the baseline plugin's
gate, when registered) hold. A file that cannot be written costs that file only, said in
one line; the other outputs and pytest's summary are still written.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from .baseline import BaselineError, machine_fingerprint
from .baseline import load as load_baseline
from .gate import Gate
from .jsonfile import markdown_outputs, write_json_atomic, write_markdown, write_text_atomic
from .measuring import RunState
from .report import default_top, file_table, markdown_summary, tests_table, versus_table
from .results import REPEATED
from .units import si
from .verdict import file_totals

GATE_KEY = pytest.StashKey[Gate]()


def _regressions(gate: Gate | None) -> list[str]:
    return [c["nodeid"] for c in gate.regressions] if gate else []


class TerminalPlugin:
    """The ``energy`` section of the terminal summary: tables unless -q, the total unless -qq."""

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config = config
        self.state = state

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        state = self.state
        verbosity = self.config.get_verbosity()
        write = terminalreporter.write_line
        results = sorted(state.results.values(), key=lambda r: r.nodeid)
        if verbosity >= 0:
            terminalreporter.section("energy")
            width = terminalreporter._tw.fullwidth if verbosity <= 0 else None  # -v: full node ids
            if results:
                write(file_table(results, _regressions(self.config.stash.get(GATE_KEY, None)), width))
                top = default_top(len(results), state.settings.top, verbosity > 0)
                cut = top is not None and top < len(results)
                shown = f" (top {top} of {len(results)}; -v shows all)" if cut else ""
                terminalreporter.write_sep("-", f"energy per test{shown}")
                write(tests_table(results, top, width))
            if state.versus:
                terminalreporter.write_sep("-", "energy: candidates side by side")
                write(versus_table(list(state.versus.values())))
        if verbosity >= -1:
            repeated = sum(1 for r in results if r.repeat == REPEATED)
            below = sum(1 for r in results if r.below_resolution)
            total = sum(joules for joules, _ in file_totals(results).values())
            count = len(results)
            write(f"energy: {count} test{'' if count == 1 else 's'} measured ({repeated} repeated in rounds, "
                  f"{below} below the meters' resolution), {si(total, 'J')} in their real calls "
                  f"({state.meters.label})")
            if state.cut_by_budget:
                write(f"energy: repetition of {state.cut_by_budget} tests cut by --energy-time-budget; "
                      "they keep their real-call figure", yellow=True)
        for line in state.faults:
            write(f"energy warning: {line}", yellow=True)
        if verbosity >= 0:
            for warning in state.meters.warnings():
                write(f"energy warning: {warning}", yellow=True)
            if state.settings.json_path:
                write(f"energy: results written to {state.settings.json_path}")


class FilePlugin:
    """``--energy-json``, ``--energy-markdown`` (and ``$GITHUB_STEP_SUMMARY``), ``--energy-html``."""

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config = config
        self.state = state

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        settings = self.state.settings
        self.session = session
        document = self.json_document() if settings.json_path or settings.html_path else {}
        if settings.json_path:
            self._write(settings.json_path, lambda path: write_json_atomic(path, document))
        if settings.html_path:
            self._write(settings.html_path, lambda path: self._write_html(path, document))
        targets = markdown_outputs(settings.markdown_path)
        text = self._markdown() if targets else ""
        for target, mode in targets:
            self._write(target, lambda path, mode=mode: write_markdown(path, mode, text))

    def _write(self, path: str, write: Any) -> None:
        try:
            write(path)
        except OSError as exc:
            self.state.faults.append(f"{path} not written: {exc.strerror or exc}")
            if self.session.exitstatus == pytest.ExitCode.OK:
                self.session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write_html(self, path: str, document: dict[str, Any]) -> None:
        """The HTML report of ``document`` (:meth:`json_document`), with the baseline's
        history (as saved by this run, if it was)."""
        from .html import render

        gate = self.config.stash.get(GATE_KEY, None)
        baseline = gate.baseline if gate is not None else None
        if gate is not None and gate.saved:
            with contextlib.suppress(BaselineError):
                baseline = load_baseline(gate.path) or baseline
        write_text_atomic(path, render(document, baseline.data if baseline else None))

    def _markdown(self) -> str:
        gate = self.config.stash.get(GATE_KEY, None)
        return markdown_summary(
            sorted(self.state.results.values(), key=lambda r: r.nodeid), gate.comparisons if gate else [],
            self.state.meters.label, self.state.settings.intensity, gate.notes if gate else [],
        )

    def json_document(self) -> dict[str, Any]:
        """Everything the run measured, with the settings and meters used."""
        from . import __version__

        state = self.state
        gate = self.config.stash.get(GATE_KEY, None)
        return {
            "format": "pytest-energy-results",
            "version": 1,
            "plugin_version": __version__,
            "meters": state.meters.describe(),
            "machine": machine_fingerprint(state.meters.label),
            "unavailable_meters": state.selection.unavailable,
            "idle_watts": state.engine.idle_watts,
            "read_cost_joules": state.engine.read_cost_j,
            "resolution_s": state.meters.resolution_s,
            "settings": state.settings.to_dict(),
            "tests": [r.to_dict() for r in sorted(state.results.values(), key=lambda r: r.nodeid)],
            "comparisons": gate.comparisons if gate else [],
            "versus": [state.versus[key] for key in sorted(state.versus)],
            "faults": list(state.faults),
        }
