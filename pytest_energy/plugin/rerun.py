"""Tests run again after the measured run (profiles, the gate's rechecks): the same
fresh-fixture rounds as repetition, with reports silenced and output captured and thrown
away, so no outcome and no main figure changes; a re-run that fails costs what it was
for, said in one line."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..measurement.engine import Engine, Source
from ..results import Measurement
from ..settings import ProtocolSettings
from .compat import output_discarded, quiet_reports, teardown_item, teardown_to
from .rounds import ItemSource, one_line


def rerun(
    item: pytest.Item, engine: Engine, protocol: ProtocolSettings, call_s: float | None = None,
    wrap: Callable[[ItemSource], Source] = lambda source: source,
    around: contextlib.AbstractContextManager[Any] | None = None, told: tuple[type[Exception], ...] = (),
) -> tuple[Measurement | None, str]:
    """The item's call in ``protocol``'s rounds, fresh fixtures for every call (``wrap``
    may wrap the source, ``around`` runs around the rounds). Returns the measurement (None
    when the rounds did not fit) and '' or why the re-run failed (the message alone for
    the exceptions in ``told``)."""
    failed: list[Any] = []
    try:
        with output_discarded(item.config), quiet_reports(item, failed), around or contextlib.nullcontext():
            measured, _ = engine.run_rounds({"": wrap(ItemSource(item, failed))}, protocol,
                                            call_s={"": call_s} if call_s else None, fresh_each_call=True)
    except BaseException as exc:  # the figure and the outcome are already the test's
        with contextlib.suppress(BaseException):
            teardown_item(item)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, str(exc) if isinstance(exc, told) else f"its re-run failed ({one_line(exc)})"
    if failed:
        return None, "its re-run failed (a subtest failed)"
    return measured.get(""), ""


def in_turn(session: pytest.Session, items: list[pytest.Item]) -> Iterator[pytest.Item]:
    """``items`` one after the other, tearing down between them what the next does not
    need, as pytest does between tests (and everything after the last)."""
    for i, item in enumerate(items):
        yield item
        with contextlib.suppress(Exception):
            teardown_to(session, items[i + 1] if i + 1 < len(items) else None)
