"""Starting a measured session: the run's state, and which plugins it registers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import pytest

from ..judge.gate import Gate
from ..measurement.engine import Engine
from ..measurement.meters import MeterSet, MeterUnavailable, select_meters
from ..settings import Settings
from ..store import baseline as store
from ..store.files import summary_outputs, unwritable_output
from .keys import BASELINE, FILES, GATE_KEY, LOCKSTEP, MEASURING, STATE_KEY, TERMINAL, XDIST
from .measuring import MeasuringPlugin, RunState


def start(config: pytest.Config, settings: Settings, lockstep: str | None) -> None:
    """Open the meters and register the plugins ``--energy`` needs."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    try:
        selection = select_meters(settings.meter_spec, settings.meter_options)
    except MeterUnavailable as exc:  # a meter named explicitly cannot run here
        raise pytest.UsageError(f"--energy-meter={settings.meter_spec}: {exc}") from None
    meters = MeterSet(selection.meters)
    state = RunState(settings, selection, meters, Engine(meters, lock=_window_lock(workerinput)))
    config.stash[STATE_KEY] = state
    if workerinput is None:
        _register_controller_plugins(config, state)
    config.pluginmanager.register(MeasuringPlugin(config, state), MEASURING)
    if lockstep and workerinput is None:
        _register_lockstep(config, state, lockstep)


def _register_lockstep(config: pytest.Config, state: RunState, value: str) -> None:
    from ..ab.turns import TurnClient
    from .lockstep import LockstepPlugin, parse_address

    side, address = parse_address(value)
    if config.getoption("numprocesses", None):
        raise pytest.UsageError("pytest-energy ab runs each revision in one process: drop -n")
    try:
        client = TurnClient(address, side)
    except OSError as exc:
        reason = exc.strerror or exc
        raise pytest.UsageError(f"--energy-lockstep: cannot reach {address} ({reason})") from None
    config.pluginmanager.register(LockstepPlugin(client, state.engine), LOCKSTEP)


def _open_gate(config: pytest.Config, state: RunState) -> Gate:
    """Load the baseline (:class:`~pytest_energy.store.baseline.BaselineError` when it
    cannot be read) and start the gate over it."""
    settings = state.settings
    path = os.path.join(str(config.rootpath), settings.baseline_path)
    label = state.meters.label
    return Gate.start(settings, path, store.load(path), store.machine_fingerprint(label),
                      store.git_commit(str(config.rootpath)), label)


def _register_controller_plugins(config: pytest.Config, state: RunState) -> None:
    """The baseline, output and xdist plugins: the controller's alone."""
    from .baseline import BaselinePlugin
    from .outputs import FilePlugin, TerminalPlugin

    settings = state.settings
    outputs = [("--energy-json", settings.json_path), ("--energy-html", settings.html_path),
               ("--energy-csv", settings.csv_path)]
    if settings.save:
        outputs.append(("--energy-baseline", os.path.join(str(config.rootpath), settings.baseline_path)))
    problem = unwritable_output([*((f"{option}={path}", path) for option, path in outputs),
                                 *summary_outputs("--energy-markdown", settings.markdown_path)])
    if problem:
        state.meters.close()
        raise pytest.UsageError(problem)
    if settings.compare or settings.save:
        try:
            gate = _open_gate(config, state)
        except store.BaselineError as exc:
            state.meters.close()
            raise pytest.UsageError(str(exc)) from None
        for note in gate.notes:
            config.issue_config_time_warning(pytest.PytestConfigWarning(f"pytest-energy: {note}"), 2)
        config.stash[GATE_KEY] = gate
        config.pluginmanager.register(BaselinePlugin(config, state, gate), BASELINE)
    # registered after the baseline plugin, so its section prints first
    config.pluginmanager.register(TerminalPlugin(config, state), TERMINAL)
    config.pluginmanager.register(FilePlugin(config, state), FILES)
    if settings.profile is not None:
        from .profile import register

        register(config, state)
    if config.pluginmanager.hasplugin("xdist"):
        from .xdist import XdistPlugin

        config.pluginmanager.register(XdistPlugin(state), XDIST)


def _window_lock(workerinput: dict[str, Any] | None) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    """Repeated rounds on xdist workers take turns through a file lock."""
    if workerinput and "energy_lock" in workerinput:
        from filelock import FileLock

        path = workerinput["energy_lock"]
        return lambda: FileLock(path)
    return contextlib.nullcontext
