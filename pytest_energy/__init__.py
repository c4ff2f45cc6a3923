"""pytest-energy: energy (joules, gCO2e) as a testable property of code."""

from .carbon import Intensity
from .meters import Meter, MeterUnavailable
from .protocol import Measurement, ProtocolSettings, Window, measure

__version__ = "0.1.0"

__all__ = [
    "Intensity", "Measurement", "Meter", "MeterUnavailable", "ProtocolSettings", "Window",
    "measure", "__version__",
]
