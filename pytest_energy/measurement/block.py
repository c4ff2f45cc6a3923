"""Measuring one block of code outside pytest: ``with measure() as m: ...``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from .carbon import Intensity
from .engine import Engine
from .meters import MeterOptions, MeterSet, select_meters


@dataclass
class Window:
    """Result of one :func:`measure` block (filled in when the block ends)."""

    meter: str = ""
    is_estimate: bool = False
    joules: float = 0.0
    gross_joules: float = 0.0
    seconds: float = 0.0
    co2_g: float = 0.0


@contextlib.contextmanager
def measure(
    meter: str = "auto",
    *,
    idle_watts: float = 0.0,
    powercap_root: str = "/sys/class/powercap",
    intensity: Intensity | None = None,
) -> Iterator[Window]:
    """Measure one block of code outside pytest::

        with measure() as m:
            work()
        print(m.joules, m.meter)

    ``joules`` is gross minus ``idle_watts`` x seconds (floored at 0); ``meter`` says
    which meters produced it ("estimate" for modelled figures).
    """
    selection = select_meters(meter, MeterOptions(powercap_root=powercap_root))
    meters = MeterSet(selection.meters)
    engine = Engine(meters, idle_watts)
    window = Window(meter=meters.label, is_estimate=meters.is_estimate)
    try:
        start = engine.start_window()
        t0 = engine.clock.perf_counter()
        yield window
        result = engine.end_window(start, engine.clock.perf_counter() - t0)
    finally:
        meters.close()
    window.seconds = result.window_s
    window.gross_joules = result.gross_joules
    window.joules = result.joules
    window.co2_g = (intensity or Intensity()).co2_g(window.joules)
