"""pytest-energy: energy (joules, gCO2e) as a testable property of code."""

from .carbon import Intensity
from .meters import Meter, MeterUnavailable
from .protocol import Measurement, ProtocolSettings, Window, measure
from .versus import CandidateMismatch, VersusResult, compare

__version__ = "0.1.0"

__all__ = [
    "CandidateMismatch", "Intensity", "Measurement", "Meter", "MeterUnavailable", "ProtocolSettings",
    "VersusResult", "Window", "compare", "measure", "__version__",
]
