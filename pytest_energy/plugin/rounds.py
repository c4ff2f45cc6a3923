"""A test's call as a source of repeated rounds: fresh function-scoped fixtures per
round, set up and torn down outside the measured window (as pytest-rerunfailures re-runs
an item). Private pytest names are reached through :mod:`.compat`."""

from __future__ import annotations

from typing import Any

import pytest

from .compat import recorded_failure, setup_item, teardown_item


class RepeatFailed(Exception):
    """A round failed without raising (a failed subtest)."""


def doctest_globals(item: pytest.Item) -> dict[str, Any] | None:
    """A doctest item's globals as collected (None for other items). doctest's runner
    clears them after every run, and pytest fills them only when it collects: a round
    restores them."""
    test = getattr(item, "dtest", None)
    return dict(test.globs) if test is not None else None


class ItemSource:
    """A round of a test's call: fresh function-scoped fixtures, calls, teardown."""

    def __init__(
        self, item: pytest.Item, failed_reports: list[Any], globs: dict[str, Any] | None = None,
    ) -> None:
        self.item = item
        self._failed = failed_reports
        self._globs = globs

    def open(self, iterations: int) -> None:
        if self._globs is not None:
            self.item.dtest.globs.update(self._globs)  # type: ignore[attr-defined]
        setup_item(self.item)

    def call(self) -> None:
        self.item.runtest()
        caught = recorded_failure(self.item)  # unittest items record, not raise
        if caught is not None:
            raise caught
        if self._failed:
            raise RepeatFailed(f"a subtest failed ({self._failed[0].head_line or self.item.name})")

    def close(self) -> None:
        teardown_item(self.item)


def one_line(exc: BaseException) -> str:
    """``ValueError: bad input`` (first line of the message)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
