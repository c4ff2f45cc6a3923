"""The ``energy`` fixture's object: measure a callable, or candidates side by side."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from ..measurement.candidates import VersusResult, run_versus
from ..measurement.engine import Engine
from ..results import Measurement
from ..settings import ProtocolSettings
from ..stats import Summary

#: (candidate label or None, measurement) for each figure a test produced.
MEASUREMENTS_KEY = pytest.StashKey[list[tuple["str | None", Measurement]]]()
VERSUS_KEY = pytest.StashKey[VersusResult]()


class EnergyFixture:
    """``energy(fn, *args, **kwargs)`` measures ``fn`` with the session's protocol and
    returns its result (from its last call); ``energy.stats`` is the summary of joules per
    call. ``energy.versus(...)`` measures candidates side by side (``energy.compare`` is
    its earlier name, kept for one release). Without ``--energy``
    callables simply run once and ``stats`` is None.
    """

    def __init__(self, item: pytest.Item, engine: Engine | None, settings: ProtocolSettings) -> None:
        self._item = item
        self._engine = engine
        self._settings = settings
        self.measurement: Measurement | None = None

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._engine is None:
            return fn(*args, **kwargs)
        results: list[Any] = []

        def call() -> None:
            results[:] = [fn(*args, **kwargs)]

        self.measurement = self._engine.run(call, self._settings)
        self._item.stash[MEASUREMENTS_KEY] = [(None, self.measurement)]
        return results[0]

    def versus(
        self, candidates: Mapping[str, Callable[..., Any]], *args: Any, **kwargs: Any,
    ) -> VersusResult:
        """Measure candidates on the same input in interleaved rounds; see
        :func:`pytest_energy.measurement.candidates.run_versus` for ``setup``, ``reference``, ``check``."""
        result = run_versus(self._engine, candidates, *args, settings=self._settings, **kwargs)
        if result.measured:
            self._item.stash[MEASUREMENTS_KEY] = [
                (c.label, c.measurement) for c in result.candidates.values() if c.measurement
            ]
        self._item.stash[VERSUS_KEY] = result
        return result

    #: The earlier name of :meth:`versus`, kept for one release.
    compare = versus

    @property
    def stats(self) -> Summary | None:
        """Summary of attributable joules per call of the last measured callable."""
        return self.measurement.summary if self.measurement and self.measurement.rounds else None
