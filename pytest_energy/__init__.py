"""pytest-energy: energy (joules, gCO2e) as a testable property of code.

The public API for scripts, loaded on first use (the pytest plugin, installed but off,
imports nothing of it)::

    from pytest_energy import measure, versus
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_PUBLIC = {
    "measure": "measurement.block", "Window": "measurement.block",
    "versus": "measurement.candidates", "compare": "measurement.candidates",
    "VersusResult": "measurement.candidates", "CandidateMismatch": "measurement.candidates",
    "Meter": "measurement.meters", "MeterUnavailable": "measurement.meters",
    "Intensity": "measurement.carbon", "Measurement": "results", "ProtocolSettings": "settings",
}

__all__ = [*sorted(_PUBLIC), "__version__"]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
