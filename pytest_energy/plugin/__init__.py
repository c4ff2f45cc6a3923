"""The pytest plugins (entry point ``pytest_energy.plugin``): options, markers, fixtures,
and one plugin object per feature, registered in ``pytest_configure`` only when its option
is on, with state in ``config.stash``, released in ``pytest_unconfigure``, as pytest core
does (``cacheprovider``, ``junitxml``):

- :class:`~.measuring.MeasuringPlugin` with ``--energy`` (also on xdist workers);
- :class:`~.baseline.BaselinePlugin` with ``--energy-compare``/``--energy-save``, on the
  controller only;
- :class:`~.outputs.TerminalPlugin` and :class:`~.outputs.FilePlugin` on the controller;
- :class:`~.xdist.XdistPlugin` only when pytest-xdist is loaded;
- :class:`~.lockstep.LockstepPlugin` under ``pytest-energy ab``.

Without ``--energy`` only marker validation and the fixtures exist, and nothing else of
the package is imported.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from .. import timing  # noqa: F401 - captures the clocks before any conftest or test can patch them
from ..markers import MARKER_NAMES, MARKERS, parse_marks
from ..settings import OPTIONS, PROFILE_TOP, ConfigError, read_settings
from .keys import ALL_PLUGINS, MARKS_KEY, MEASURING, SETTINGS_KEY, STATE_KEY

if TYPE_CHECKING:
    from .fixture import EnergyFixture

NATIVE_CACHE = "pytest-energy-native"
LOCKSTEP_FLAG = "--energy-lockstep"
PROFILE_ONLY_FLAG = "--energy-profile-only"


#: What each option's value is, in ``--help`` (by ini key; else by kind, :data:`KIND_METAVARS`).
METAVARS = {
    "energy_meter": "METERS", "energy_model": "PATH", "energy_powercap_root": "DIR",
    "energy_core_watts": "WATTS", "energy_carbon_intensity": "G_PER_KWH", "energy_country": "ISO3",
    "energy_pue": "PUE", "energy_alpha": "P", "energy_json": "PATH", "energy_baseline": "PATH",
    "energy_markdown": "PATH", "energy_html": "PATH", "energy_csv": "PATH",
    "energy_min_time": "SECONDS", "energy_max_time": "SECONDS", "energy_time_budget": "SECONDS",
    "energy_idle_time": "SECONDS", "energy_lock_timeout": "SECONDS", "energy_cloud": "PROVIDER",
    "energy_region": "REGION", "energy_instance": "TYPE", "energy_embodied_kg": "KG",
    "energy_lifespan_years": "YEARS", "energy_reserved_share": "FRACTION", "energy_judge": "joules|sci",
}
KIND_METAVARS = {"int": "N", "float": "NUMBER", "percent": "PERCENT", "str": "TEXT"}
#: The ini value each kind takes, said in the ini key's help (numbers stay ``string`` keys:
#: ``10%`` is a valid percent, and pytest before 8.4 has no number type).
KIND_WORDS = {"int": "a whole number", "float": "a number", "percent": "a percent, e.g. 10 or 10%",
              "count": "a whole number", "str": "text"}


def _help(option: Any) -> str:
    """The option's help with its default, unless it already names one."""
    value = option.default
    if value is None or value is False or "default" in option.help:
        return option.help
    shown = (f"{value * 100:g}" if option.kind == "percent" else f"{value:g}" if option.kind == "float"
             else value)
    return f"{option.help} (default: {shown})"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("energy", "energy measurement (pytest-energy)")
    for option in OPTIONS:
        text = _help(option)
        if option.kind == "bool":
            group.addoption(option.flag, action="store_true", default=None, help=text)
            parser.addini(option.dest, text, type="bool", default=False)
            continue
        if option.kind == "count":  # --energy-profile or --energy-profile=N
            group.addoption(option.flag, nargs="?", const=str(PROFILE_TOP), default=None, help=text,
                            metavar="N")
        else:
            metavar = METAVARS.get(option.dest, KIND_METAVARS[option.kind])
            group.addoption(option.flag, default=None, help=text, metavar=metavar)
        parser.addini(option.dest, f"{text} [ini: {KIND_WORDS[option.kind]}]", type="string", default="")
    # internal (set by pytest-energy ab), hidden from --help
    group.addoption(LOCKSTEP_FLAG, default=None, metavar="SIDE@SOCKET", help=argparse.SUPPRESS)
    group.addoption(PROFILE_ONLY_FLAG, default=None, metavar="PATH", help=argparse.SUPPRESS)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """With the simulated meter, pytest runs again under valgrind before anything else."""
    if "simulated" not in str(config.getoption("energy_meter") or config.getini("energy_meter")):
        return
    try:
        enabled = read_settings(config.getoption, config.getini).enabled
    except ConfigError:
        return  # pytest_configure says what is wrong
    if enabled:
        from .simulate import reexec_under_simulator

        reexec_under_simulator(config)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    try:
        settings = read_settings(config.getoption, config.getini)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SETTINGS_KEY] = settings
    if settings.enabled:
        from .session import start

        start(config, settings, config.getoption(LOCKSTEP_FLAG))


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.meters.close()
    for name in ALL_PLUGINS:
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin, name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validate every energy mark of every collected test (with or without --energy) and
    merge each marker's marks keyword by keyword, closest first; with ``--energy-only``,
    deselect the tests without energy markers or the energy fixture."""
    errors = []
    only = config.stash[SETTINGS_KEY].only if SETTINGS_KEY in config.stash else False
    selected, deselected = [], []
    for item in items:
        found: dict[str, list[Any]] = {}
        for mark in item.iter_markers():  # one walk up the node chain, closest first
            if mark.name in MARKER_NAMES:
                found.setdefault(mark.name, []).append(mark)
        energy_test = bool(found) or "energy" in getattr(item, "fixturenames", ())
        (selected if energy_test or not only else deselected).append(item)
        if not found:
            continue
        try:
            item.stash[MARKS_KEY] = parse_marks(found)
        except ConfigError as exc:
            errors.append(f"{item.nodeid}: {exc}")
    if errors:
        raise pytest.UsageError("invalid energy marker: " + "\n".join(errors))
    if deselected:  # --energy-only: as --benchmark-only, pytest reports them as deselected
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture
def energy(request: pytest.FixtureRequest) -> EnergyFixture:
    """Measure a callable's energy: ``result = energy(fn, *args, **kwargs)``; candidates side
    by side: ``energy.versus({"c": c_fn, "python": py_fn}, data)``."""
    from ..settings import ProtocolSettings
    from .fixture import EnergyFixture

    plugin = request.config.pluginmanager.get_plugin(MEASURING)
    if plugin is None:
        return EnergyFixture(request.node, None, ProtocolSettings())
    return EnergyFixture(request.node, plugin.engine, plugin.protocol_for(request.node))


@pytest.fixture
def native_module(request: pytest.FixtureRequest) -> Callable[..., ModuleType]:
    """Build a C file into an extension module, cached by source hash in pytest's cache:
    ``csort = native_module("csort.c")`` (paths relative to the test file). A compiler
    error fails the test with the compiler's message."""
    from ..measurement.native import NativeBuildError, build_extension

    cache = getattr(request.config, "cache", None)
    cache_dir = cache.mkdir(NATIVE_CACHE) if cache else Path(tempfile.gettempdir()) / NATIVE_CACHE

    def build(source: str | os.PathLike[str], name: str | None = None) -> ModuleType:
        try:
            return build_extension(request.path.parent / source, cache_dir, name=name)
        except NativeBuildError as exc:
            pytest.fail(str(exc), pytrace=False)

    return build
