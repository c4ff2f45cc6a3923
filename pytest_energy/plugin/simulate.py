"""``--energy-meter=simulated``: pytest runs again, the same command, under valgrind's
callgrind (the process is replaced: same pid, terminal and exit status)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time

import pytest

from ..measurement.simulator import launch
from ..measurement.simulator.shim import SimulatorUnavailable


def reexec_under_simulator(config: pytest.Config) -> None:
    """Replace this pytest by itself under callgrind; returns only in the simulated child."""
    if launch.is_simulated_child():
        return
    if list(config.invocation_params.args) != sys.argv[1:]:
        raise pytest.UsageError(
            "--energy-meter=simulated re-runs pytest under valgrind, which pytest.main() inside "
            "another program cannot do: run pytest from the command line"
        )
    if config.getoption("numprocesses", None):
        raise pytest.UsageError("--energy-meter=simulated counts in one process: drop -n")
    try:
        launch.check_tools()  # also builds the C shim here, so the counted child never compiles
    except SimulatorUnavailable as exc:
        raise pytest.UsageError(f"--energy-meter=simulated: {exc}") from None
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # the terminal's file descriptors back, for the new program
        capture.stop_global_capturing()
    launch.reexec(output_dir())


def output_dir() -> str:
    """Where callgrind writes (``callgrind.out.<pid>``, emptied at the end of each run, and
    valgrind's log). One folder per user, the same for every run: its name is part of what
    the measured process holds, and a random one moved counts by up to 0.05%. Files a day
    old are removed."""
    path = os.path.join(tempfile.gettempdir(), f"pytest-energy-sim-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    day_ago = time.time() - 86400
    for entry in os.scandir(path):
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < day_ago:
                os.unlink(entry.path)
    return path
