"""The pytest-xdist side: registered only when xdist is loaded (as pytest-randomly does)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import pytest

from .measuring import RunState


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
