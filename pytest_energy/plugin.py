"""pytest entry point: options, markers, fixtures, and the plugins registered per feature.

As pytest core does (``cacheprovider``, ``junitxml``), each feature is a plugin object
registered in ``pytest_configure`` only when its option is on, with state in
``config.stash``, released in ``pytest_unconfigure``:

- :class:`~pytest_energy.measuring.MeasuringPlugin` with ``--energy`` (also on xdist workers);
- :class:`~pytest_energy.checking.BaselinePlugin` with ``--energy-compare``/``--energy-save``,
  on the controller only;
- :class:`~pytest_energy.outputs.TerminalPlugin` and ``FilePlugin`` on the controller;
- :class:`XdistPlugin` only when pytest-xdist is loaded.

Without ``--energy`` only marker validation and the fixtures exist.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .baseline import BaselineError
from .config import MARKER_NAMES, MARKERS, OPTIONS, ConfigError, Settings, parse_marks, read_settings
from .fixture import EnergyFixture
from .gate import Gate
from .jsonfile import unwritable_output
from .measuring import MARKS_KEY, STATE_KEY, MeasuringPlugin, RunState
from .meters import MeterSet, select_meters
from .native import NativeBuildError, build_extension
from .protocol import Engine, ProtocolSettings

SETTINGS_KEY = pytest.StashKey[Settings]()
NATIVE_CACHE = "pytest-energy-native"
MEASURING = "energy-measuring"
LOCKSTEP = "energy-lockstep"
LOCKSTEP_FLAG = "--energy-lockstep"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("energy", "energy measurement (pytest-energy)")
    for option in OPTIONS:
        if option.kind == "bool":
            group.addoption(option.flag, action="store_true", default=None, help=option.help)
        else:
            group.addoption(option.flag, default=None, help=option.help, metavar=option.kind.upper())
        parser.addini(option.dest, option.help, type="string", default="")
    group.addoption(LOCKSTEP_FLAG, default=None, metavar="SIDE@SOCKET",
                    help="internal: take turns with another revision's run (set by pytest-energy ab)")


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    try:
        settings = read_settings(config.getoption, config.getini)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SETTINGS_KEY] = settings
    if not settings.enabled:
        return
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    selection = select_meters(settings.meter_spec, settings.meter_options)
    meters = MeterSet(selection.meters)
    state = RunState(settings, selection, meters, Engine(meters, lock=_window_lock(workerinput)))
    config.stash[STATE_KEY] = state
    if workerinput is None:
        _register_controller_plugins(config, state)
    config.pluginmanager.register(MeasuringPlugin(config, state), MEASURING)
    lockstep = config.getoption(LOCKSTEP_FLAG)
    if lockstep and workerinput is None:
        _register_lockstep(config, state, lockstep)


def _register_lockstep(config: pytest.Config, state: RunState, value: str) -> None:
    from .lockstep import LockstepPlugin, parse_address
    from .turns import TurnClient

    side, address = parse_address(value)
    if config.getoption("numprocesses", None):
        raise pytest.UsageError("pytest-energy ab runs each revision in one process: drop -n")
    try:
        client = TurnClient(address, side)
    except OSError as exc:
        raise pytest.UsageError(f"{LOCKSTEP_FLAG}: cannot reach {address} ({exc.strerror or exc})") from None
    config.pluginmanager.register(LockstepPlugin(client, state.engine), LOCKSTEP)


def _register_controller_plugins(config: pytest.Config, state: RunState) -> None:
    """The baseline, output and xdist plugins: the controller's alone."""
    from .checking import BaselinePlugin
    from .outputs import GATE_KEY, FilePlugin, TerminalPlugin

    settings = state.settings
    outputs = [("--energy-json", settings.json_path), ("--energy-markdown", settings.markdown_path),
               ("--energy-html", settings.html_path)]
    if settings.save:
        outputs.append(("--energy-baseline", os.path.join(str(config.rootpath), settings.baseline_path)))
    problem = unwritable_output((f"{option}={path}", path) for option, path in outputs)
    if problem:
        state.meters.close()
        raise pytest.UsageError(problem)
    if settings.compare or settings.save:
        try:
            gate = Gate.open(settings, str(config.rootpath), state.meters.label)
        except BaselineError as exc:
            state.meters.close()
            raise pytest.UsageError(str(exc)) from None
        for note in gate.notes:
            config.issue_config_time_warning(pytest.PytestConfigWarning(f"pytest-energy: {note}"), 2)
        config.stash[GATE_KEY] = gate
        config.pluginmanager.register(BaselinePlugin(config, state, gate), "energy-baseline")
    if state.selection.fallback_note:
        config.issue_config_time_warning(
            pytest.PytestConfigWarning(f"pytest-energy: {state.selection.fallback_note}"), stacklevel=2
        )
    # registered after the baseline plugin, so its section prints first
    config.pluginmanager.register(TerminalPlugin(config, state), "energy-terminal")
    config.pluginmanager.register(FilePlugin(config, state), "energy-files")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistPlugin(state), "energy-xdist")


def _window_lock(workerinput: dict[str, Any] | None) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    """Repeated rounds on xdist workers take turns through a file lock."""
    if workerinput and "energy_lock" in workerinput:
        from filelock import FileLock

        path = workerinput["energy_lock"]
        return lambda: FileLock(path)
    return contextlib.nullcontext


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.meters.close()
    for name in (MEASURING, "energy-baseline", "energy-terminal", "energy-files", "energy-xdist", LOCKSTEP):
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin, name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validate every energy mark of every collected test (with or without --energy) and
    merge each marker's marks keyword by keyword, closest first."""
    errors = []
    for item in items:
        found: dict[str, list[Any]] = {}
        for mark in item.iter_markers():  # one walk up the node chain, closest first
            if mark.name in MARKER_NAMES:
                found.setdefault(mark.name, []).append(mark)
        if not found:
            continue
        try:
            item.stash[MARKS_KEY] = parse_marks(found)
        except ConfigError as exc:
            errors.append(f"{item.nodeid}: {exc}")
    if errors:
        raise pytest.UsageError("invalid energy marker: " + "\n".join(errors))


@pytest.fixture
def energy(request: pytest.FixtureRequest) -> EnergyFixture:
    """Measure a callable's energy: ``result = energy(fn, *args, **kwargs)``."""
    plugin = request.config.pluginmanager.get_plugin(MEASURING)
    if plugin is None:
        return EnergyFixture(request.node, None, ProtocolSettings())
    return EnergyFixture(request.node, plugin.engine, plugin.protocol_for(request.node))


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


class XdistPlugin:
    """Controller side of pytest-xdist: idle power and the window lock for the workers.

    Results need nothing here: they travel on each test's report."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self._lock_dir: str | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self._lock_dir is None:
            self._lock_dir = tempfile.mkdtemp(prefix="pytest-energy-")
        node.workerinput["energy_lock"] = os.path.join(self._lock_dir, "measure.lock")
        node.workerinput["energy_idle_watts"] = self.state.engine.idle_watts

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._lock_dir:
            shutil.rmtree(self._lock_dir, ignore_errors=True)
