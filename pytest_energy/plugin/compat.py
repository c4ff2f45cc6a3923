"""Every private or version-dependent pytest name the plugins use, and only here.

Each function says which pytest versions need what. The declared range is
``pytest>=7.4``; tox runs the suite on the floor and on the latest release.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import pytest


def verbosity(config: pytest.Config) -> int:
    """``-v`` minus ``-q``. ``Config.get_verbosity`` exists from pytest 8.0; before it,
    ``config.option.verbose`` holds the same number."""
    get = getattr(config, "get_verbosity", None)
    return int(get()) if get is not None else int(config.option.verbose)


def terminal_width(config: pytest.Config) -> int:
    """The terminal's width in columns (public ``Config.get_terminal_writer``, all versions)."""
    return int(config.get_terminal_writer().fullwidth)


class _Parents:
    """Stands for "the next item" in ``teardown_exact``: keeps the item's parents set up."""

    def __init__(self, item: pytest.Item) -> None:
        self._chain = item.listchain()[:-1]

    def listchain(self) -> list[pytest.Item]:
        return self._chain


def teardown_item(item: pytest.Item) -> None:
    """Run the item's own finalizers (its function-scoped fixtures), parents left set up;
    nothing when the item is not set up. ``Session._setupstate`` and
    ``SetupState.teardown_exact(nextitem)`` are private, unchanged from pytest 7.0 to 9."""
    item.session._setupstate.teardown_exact(_Parents(item))  # type: ignore[arg-type]


def _phase_outcomes_key() -> Any:
    """pytest's ``tmp_path`` teardown reads the phases' outcomes that its ``makereport``
    stores under ``_pytest.tmpdir.tmppath_result_key`` (pytest 7.3 and later; older
    versions keep no such record)."""
    try:
        from _pytest.tmpdir import tmppath_result_key
    except ImportError:
        return None
    return tmppath_result_key


def setup_item(item: pytest.Item) -> None:
    """Set the item's function-scoped fixtures up afresh, as pytest does before a test.

    ``Function._initrequest`` (private, all versions) makes a new fixture request. On
    pytest 8.0 to 8.x, ``TestCaseFunction.teardown`` leaves ``_instance = None``, which its
    ``instance`` property then returns instead of a fresh TestCase (the test fails with a
    bare ``assert testcase is not None``): it is dropped so that one is made, as for the
    real call (pytest 7 re-creates it in ``setup``, pytest 9 deletes the attribute). A
    round makes no reports, so it records the phases as passed for the ``tmp_path``
    teardown (see :func:`_phase_outcomes_key`)."""
    if "_instance" in item.__dict__ and item.__dict__["_instance"] is None:
        del item.__dict__["_instance"]
    init = getattr(item, "_initrequest", None)
    if init is not None:
        init()
    item.session._setupstate.setup(item)
    key = _phase_outcomes_key()
    if key is not None:
        item.stash[key] = {"setup": True, "call": True}


def recorded_failure(item: pytest.Item, *, keep: bool = False) -> BaseException | None:
    """The failure or skip a ``unittest.TestCase`` item recorded instead of raising it
    (its private ``_excinfo`` list, pytest 7 to 9); removed unless ``keep``."""
    caught = item.__dict__.get("_excinfo") if keep else item.__dict__.pop("_excinfo", None)
    return caught[0].value if caught else None


class _QuietHooks:
    """The item's hooks, except that reports made during a round (subtests report as the
    test runs) reach no one: a round is not a test run. Failed ones are kept."""

    def __init__(self, hooks: Any, failed: list[Any]) -> None:
        self._hooks = hooks
        self._failed = failed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hooks, name)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self._failed.append(report)

    def pytest_exception_interact(self, **kwargs: Any) -> None:
        pass


@contextlib.contextmanager
def quiet_reports(item: pytest.Item, failed: list[Any]) -> Iterator[None]:
    """While rounds run, hooks reached through ``item.ihook`` report nothing (failed
    reports are collected in ``failed``), and warnings are not recorded for the test
    (``pytest.warns`` and ``recwarn`` still see their own). ``Node.ihook`` asks
    ``Session.gethookproxy(path)`` in pytest 7 to 9; it is replaced for the rounds."""
    session = item.session
    real = session.gethookproxy
    session.gethookproxy = lambda fspath: _QuietHooks(real(fspath), failed)  # type: ignore[method-assign]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        del session.gethookproxy  # the instance attribute: the method shows through again


def teardown_to(session: pytest.Session, nextitem: pytest.Item | None) -> None:
    """Tear down what ``nextitem`` does not need (everything for None), as pytest does
    between tests (``SetupState.teardown_exact``, private, pytest 7 to 9)."""
    session._setupstate.teardown_exact(nextitem)


@contextlib.contextmanager
def output_discarded(config: pytest.Config) -> Iterator[None]:
    """Outside a test's phases, capture what runs inside and throw it away (the capture
    manager's global capture, ``CaptureManager.resume_global_capture`` and friends,
    unchanged from pytest 7 to 9); with ``-s`` output goes through."""
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        yield
        return
    capman.resume_global_capture()
    try:
        yield
    finally:
        capman.suspend_global_capture(in_=False)
        with contextlib.suppress(Exception):
            capman.read_global_capture()


def runner_code_dirs() -> tuple[str, ...]:
    """Directories of pytest's and pluggy's code: the frames between a runner and a test."""
    import os

    import _pytest
    import pluggy

    return tuple(os.path.dirname(module.__file__ or "") + os.sep for module in (_pytest, pluggy))
