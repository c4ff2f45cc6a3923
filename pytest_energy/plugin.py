"""pytest hooks: options, markers, the ``energy`` fixture and the measuring session.

Kept thin: settings come from :mod:`config`, measuring from :mod:`protocol`, figures
from :mod:`report`. Without ``--energy`` only marker validation and the fixture exist.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .baseline import BaselineError
from .config import MARKERS, OPTIONS, ConfigError, Marks, RatioRule, Settings, parse_marks, read_settings
from .fixture import MEASUREMENTS_KEY, VERSUS_KEY, EnergyFixture
from .gate import Gate
from .jsonfile import write_json_atomic
from .meters import MeterSet, select_meters
from .native import NativeBuildError, build_extension
from .protocol import Engine, ProtocolSettings
from .report import (
    budget_verdict,
    comparison_table,
    markdown_summary,
    regression_line,
    result_record,
    si,
    terminal_table,
    verdict_counts,
    versus_table,
)
from .versus import VersusResult

SETTINGS_KEY = pytest.StashKey[Settings]()
SESSION_KEY = pytest.StashKey["EnergySession"]()
MARKS_KEY = pytest.StashKey[Marks]()
NATIVE_CACHE = "pytest-energy-native"
MARKER_NAMES = ("energy", "energy_budget", "energy_ratio")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("energy", "energy measurement (pytest-energy)")
    for option in OPTIONS:
        if option.kind == "bool":
            group.addoption(option.flag, action="store_true", default=None, help=option.help)
        else:
            group.addoption(option.flag, default=None, help=option.help, metavar=option.kind.upper())
        parser.addini(option.dest, option.help, type="string", default="")


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    try:
        settings = read_settings(config.getoption, config.getini)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SETTINGS_KEY] = settings
    if settings.enabled:
        session = EnergySession(config, settings)
        config.stash[SESSION_KEY] = session
        config.pluginmanager.register(session, "energy-session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validate marker arguments of every collected test (with or without --energy)."""
    errors = []
    for item in items:
        closest: dict[str, Any] = {}
        for mark in item.iter_markers():  # one walk up the node chain, closest first
            if mark.name in MARKER_NAMES:
                closest.setdefault(mark.name, mark)
        if not closest:
            continue
        try:
            item.stash[MARKS_KEY] = parse_marks(*(closest.get(name) for name in MARKER_NAMES))
        except ConfigError as exc:
            errors.append(f"{item.nodeid}: {exc}")
    if errors:
        raise pytest.UsageError("invalid energy marker: " + "\n".join(errors))


@pytest.fixture
def energy(request: pytest.FixtureRequest) -> EnergyFixture:
    """Measure a callable's energy: ``result = energy(fn, *args, **kwargs)``."""
    session = request.config.stash.get(SESSION_KEY, None)
    item = request.node
    if session is None:
        return EnergyFixture(item, None, ProtocolSettings())
    return EnergyFixture(item, session.engine, session.protocol_for(item))


@pytest.fixture
def native_module(request: pytest.FixtureRequest) -> Callable[..., ModuleType]:
    """Build a C file into an extension module, cached by source hash in pytest's cache:
    ``csort = native_module("csort.c")`` (paths relative to the test file). A compiler
    error fails the test with the compiler's message."""
    cache = getattr(request.config, "cache", None)
    cache_dir = cache.mkdir(NATIVE_CACHE) if cache else Path(tempfile.gettempdir()) / NATIVE_CACHE

    def build(source: str | os.PathLike[str], name: str | None = None) -> ModuleType:
        try:
            return build_extension(request.path.parent / source, cache_dir, name=name)
        except NativeBuildError as exc:
            pytest.fail(str(exc), pytrace=False)

    return build


class EnergySession:
    """The registered plugin object while ``--energy`` is on."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        self.selection = select_meters(settings.meter_spec, settings.meter_options)
        self.meters = MeterSet(self.selection.meters)
        self.engine = Engine(self.meters, lock=self._lock)
        self.records: list[dict[str, Any]] = []
        self.versus_records: list[dict[str, Any]] = []
        self._lock_dir: str | None = None
        self.gate: Gate | None = None
        if (settings.compare or settings.save) and self.workerinput is None:
            try:
                self.gate = Gate.open(settings, str(config.rootpath), self.meters.label)
            except BaselineError as exc:
                self.meters.close()
                raise pytest.UsageError(str(exc)) from None
            for note in self.gate.notes:
                config.issue_config_time_warning(pytest.PytestConfigWarning(f"pytest-energy: {note}"), 2)
        self._notes_warned = len(self.gate.notes) if self.gate else 0
        if self.selection.fallback_note and self.workerinput is None:
            config.issue_config_time_warning(
                pytest.PytestConfigWarning(f"pytest-energy: {self.selection.fallback_note}"), stacklevel=2
            )

    # -- serialising measured windows across xdist workers ---------------------------------
    def _lock(self) -> contextlib.AbstractContextManager[Any]:
        if self.workerinput and "energy_lock" in self.workerinput:
            from filelock import FileLock

            return FileLock(self.workerinput["energy_lock"])
        return contextlib.nullcontext()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self._lock_dir is None:
            self._lock_dir = tempfile.mkdtemp(prefix="pytest-energy-")
        node.workerinput["energy_lock"] = os.path.join(self._lock_dir, "measure.lock")
        node.workerinput["energy_idle_watts"] = self.engine.idle_watts

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {})
        self.records.extend(output.get("energy_records", []))
        self.versus_records.extend(output.get("energy_versus", []))

    # -- session -------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.workerinput is not None:
            self.engine.idle_watts = float(self.workerinput.get("energy_idle_watts", 0.0))
        elif not session.config.option.collectonly:  # nothing runs, so nothing to subtract from
            self.engine.measure_idle(self.settings.idle_time_s)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = [f"energy: meters {self.meters.describe()}"]
        if self.meters.is_estimate:
            lines[0] += " -- modelled figures, labelled 'estimate', not measurements"
        lines += [f"energy: {name} unavailable: {why}" for name, why in self.selection.unavailable.items()]
        if config.option.collectonly:
            lines.append("energy: collecting only, nothing is measured")
        elif not all(m.is_estimate for m in self.meters.meters):
            lines.append(
                f"energy: idle power {self.engine.idle_watts:.3g} W subtracted (real meters)"
                if self.settings.idle_time_s > 0 else "energy: idle power not measured (--energy-idle-time=0)"
            )
        lines.append(f"energy: carbon intensity {self.settings.intensity.describe()}")
        return lines

    def protocol_for(self, item: pytest.Item) -> ProtocolSettings:
        """The session's protocol with the test's ``energy`` marker applied."""
        test = item.stash.get(MARKS_KEY, Marks()).test
        s = self.settings
        return ProtocolSettings(
            rounds=test.rounds or s.rounds,
            warmup=s.warmup if test.warmup is None else test.warmup,
            min_round_s=s.min_time_s,
            max_time_s=test.max_time_s or s.max_time_s,
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Iterator[Any]:
        original = pyfuncitem.obj
        if "energy" in pyfuncitem.fixturenames or inspect.iscoroutinefunction(original):
            return (yield)
        protocol = self.protocol_for(pyfuncitem)

        def measured(*args: Any, **kwargs: Any) -> None:
            measurement = self.engine.run(lambda: original(*args, **kwargs), protocol)
            pyfuncitem.stash[MEASUREMENTS_KEY] = [(None, measurement)]

        pyfuncitem.obj = measured
        try:
            return (yield)
        finally:
            pyfuncitem.obj = original

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        yield
        marks = item.stash.get(MARKS_KEY, Marks())
        failures = []
        for label, measurement in item.stash.get(MEASUREMENTS_KEY, []):
            over = budget_verdict(measurement, marks.budget, self.settings.intensity)
            nodeid = item.nodeid if label is None else f"{item.nodeid}::{label}"
            record = result_record(nodeid, measurement, self.settings.intensity, marks.budget, over)
            if marks.test.max_regression is not None:
                record["max_regression"] = marks.test.max_regression
            self.records.append(record)
            failures.append(f"{label}: {over}" if over and label else over)
        versus = item.stash.get(VERSUS_KEY, None)
        if versus is not None and versus.measured:
            self.versus_records.append({"nodeid": item.nodeid, **versus.to_dict()})
        if marks.ratio is not None:
            failures.append(self._check_ratio(marks.ratio, versus))
        failures = [f for f in failures if f]
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)

    @staticmethod
    def _check_ratio(rule: RatioRule, versus: VersusResult | None) -> str | None:
        if versus is None:
            return "energy_ratio marker: the test made no energy.compare(...) call"
        if rule.candidate not in versus.candidates or rule.candidate == versus.reference:
            return (f"energy_ratio marker: candidate {rule.candidate!r} is not a compared candidate "
                    f"other than the reference {versus.reference!r}")
        return versus.check_ratio(rule.candidate, at_most=rule.at_most, at_least=rule.at_least)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Iterator[Any]:
        result = yield
        if self.gate is not None:
            self.gate.compare(self.records)
            if self.gate.fails_build:
                session.testsfailed += len(self.gate.regressions)
        return result

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.workerinput is not None:
            self.config.workeroutput["energy_records"] = self.records  # type: ignore[attr-defined]
            self.config.workeroutput["energy_versus"] = self.versus_records  # type: ignore[attr-defined]
            return
        if self.gate is not None and self.settings.save:
            try:
                self.gate.save(self.records)
            except BaselineError as exc:
                self.gate.notes.append(f"baseline not saved: {exc}")
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.settings.json_path:
            write_json_atomic(self.settings.json_path, self.json_document())
        if self.settings.markdown_path or os.environ.get("GITHUB_STEP_SUMMARY"):
            self._write_markdown()

    def _write_markdown(self) -> None:
        gate = self.gate
        text = markdown_summary(
            self.records, gate.comparisons if gate else [], self.meters.label,
            self.settings.intensity, gate.notes if gate else [],
        )
        if self.settings.markdown_path:
            os.makedirs(os.path.dirname(os.path.abspath(self.settings.markdown_path)), exist_ok=True)
            with open(self.settings.markdown_path, "w", encoding="utf-8") as handle:
                handle.write(text)
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(text + "\n")

    def json_document(self) -> dict[str, Any]:
        """Everything the run measured, with the settings and meters used."""
        from . import __version__

        return {
            "format": "pytest-energy-results",
            "version": 1,
            "plugin_version": __version__,
            "meters": self.meters.describe(),
            "unavailable_meters": self.selection.unavailable,
            "idle_watts": self.engine.idle_watts,
            "settings": self.settings.to_dict(),
            "tests": sorted(self.records, key=lambda r: r["nodeid"]),
            "comparisons": self.gate.comparisons if self.gate else [],
            "versus": sorted(self.versus_records, key=lambda r: r["nodeid"]),
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Tables unless -q; the total unless -qq; the gate's verdict lines always."""
        if self.workerinput is not None:
            return
        verbosity = self.config.get_verbosity()
        write = terminalreporter.write_line
        gate = self.gate
        if verbosity >= 0:
            terminalreporter.section("energy")
            if self.records:
                write(terminal_table(self.records, self.settings.top))
            if self.versus_records:
                terminalreporter.write_sep("-", "energy: candidates side by side")
                write(versus_table(self.versus_records))
        if verbosity >= -1:
            total = sum(r["summary"]["median"] for r in self.records)
            count = len(self.records)
            write(f"energy: {count} test{'' if count == 1 else 's'} measured, "
                  f"{si(total, 'J')} per call in total ({self.meters.label})")
        if verbosity >= 0:
            for warning in self.meters.warnings():
                write(f"energy warning: {warning}", yellow=True)
            if gate is not None and gate.comparisons:
                terminalreporter.write_sep("-", "energy against the baseline")
                write(comparison_table(gate.comparisons))
            if self.settings.json_path:
                write(f"energy: results written to {self.settings.json_path}")
        if gate is None:
            return
        for note in gate.notes[self._notes_warned:]:  # the earlier ones were pytest warnings
            write(f"energy warning: {note}", yellow=True)
        for regression in gate.regressions:
            write(regression_line(regression), red=gate.fails_build)
        if self.settings.compare and gate.baseline is not None:
            outcome = "FAILED" if gate.fails_build else "passed"
            write(f"energy check {outcome}: {verdict_counts(gate.comparisons)}",
                  red=gate.fails_build, green=not gate.fails_build)
        if gate.saved:
            write(f"energy: baseline saved to {gate.path}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.meters.close()
        if self._lock_dir:
            shutil.rmtree(self._lock_dir, ignore_errors=True)
