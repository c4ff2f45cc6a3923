"""What the plugins share through pytest: stash keys and the registered plugins' names."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    pass

SETTINGS_KEY = pytest.StashKey["Settings"]()
#: A test's validated energy marks (absent: no energy marker).
MARKS_KEY = pytest.StashKey["Marks"]()
#: What the session measured (with --energy).
STATE_KEY = pytest.StashKey["RunState"]()
#: The baseline gate (with --energy-compare or --energy-save).
GATE_KEY = pytest.StashKey["Gate"]()
#: Per-function profiles (with --energy-profile).
PROFILE_KEY = pytest.StashKey["ProfileState"]()

MEASURING, BASELINE, TERMINAL, FILES, XDIST, LOCKSTEP, PROFILE = (
    "energy-measuring", "energy-baseline", "energy-terminal", "energy-files", "energy-xdist",
    "energy-lockstep", "energy-profile",
)
ALL_PLUGINS = (MEASURING, BASELINE, TERMINAL, FILES, XDIST, LOCKSTEP, PROFILE)
