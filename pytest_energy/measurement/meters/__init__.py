"""Meters: one small interface over RAPL, NVML and the estimate.

A meter turns "read now" into cumulative joules per domain. Deltas between two
readings are the energy of the window in between. Meters never know about pytest.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..simulator.model import ModelCoefficients

Reading = dict[str, float]
"""Cumulative joules per domain name, e.g. ``{"package-0": 1234.5}``."""

METER_NAMES = ("rapl", "nvml", "estimate", "simulated")


class MeterUnavailable(Exception):
    """A meter cannot run here; the message says why and, where there is one, the fix."""


class Meter(ABC):
    """A source of cumulative energy readings."""

    name: str = ""
    #: True for modelled figures: every output labels them "estimate".
    is_estimate: bool = False
    #: Shortest window (seconds) this meter resolves well; calibration aims for it.
    min_window_s: float = 0.1
    #: Shortest window whose figure means anything alone (the counter's update period).
    resolution_s: float = 0.001
    #: True when the same code always gives the same figure (the simulated meter).
    deterministic: bool = False

    @abstractmethod
    def read(self) -> Reading:
        """Cumulative joules per domain, now."""

    def begin(self) -> None:  # noqa: B027 - sampled meters count all the time
        """A window opens (right after its opening reading): a counting meter starts."""

    def end(self) -> None:  # noqa: B027
        """The window closes (right before its closing reading): a counting meter stops."""

    def window_counts(self) -> dict[str, int] | None:
        """The raw counts behind the last window, for meters that count events."""
        return None

    def describe(self) -> str:
        """One short phrase for the header, e.g. ``rapl (package-0, dram-0)``."""
        return self.name

    def warnings(self) -> list[str]:
        """Problems seen while reading (a possibly missed wrap, a failed sample)."""
        return []

    def close(self) -> None:  # noqa: B027 - most meters hold nothing to release
        """Release threads and handles."""


@dataclass(frozen=True)
class MeterOptions:
    """What meters need from the user's settings."""

    powercap_root: str = "/sys/class/powercap"
    #: Overrides the estimate's per-core watts (and where that figure came from).
    core_watts: float | None = None
    core_watts_source: str = "--energy-core-watts"
    #: The simulated meter's model (None: its default model).
    model: ModelCoefficients | None = None


_MODULES = {"rapl": "rapl", "nvml": "nvml", "estimate": "estimate", "simulated": "simulated"}


def open_meter(name: str, options: MeterOptions) -> Meter:
    """Open one meter by name; raises :class:`MeterUnavailable` with the reason."""
    module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    factory: Callable[[MeterOptions], Meter] = module.open_meter
    return factory(options)


def parse_meter_spec(spec: str) -> tuple[str, ...]:
    """Validate ``auto`` or a comma list such as ``rapl,nvml``."""
    names = tuple(part.strip() for part in spec.split(",") if part.strip())
    if not names:
        raise ValueError("--energy-meter is empty; use auto, rapl, nvml, estimate or a comma list")
    if names == ("auto",):
        return names
    for name in names:
        if name not in METER_NAMES:
            raise ValueError(
                f"--energy-meter: unknown meter {name!r}; choose auto or a comma list of "
                + ", ".join(METER_NAMES)
            )
    if "simulated" in names and len(names) > 1:
        raise ValueError("--energy-meter: simulated counts alone; give --energy-meter=simulated by itself")
    if "rapl" in names and "estimate" in names:
        raise ValueError(
            "--energy-meter: rapl and estimate both cover the CPU and would count it twice; pick one"
        )
    return tuple(dict.fromkeys(names))


@dataclass
class Selection:
    """The meters that run, and why each real meter that does not is missing."""

    meters: list[Meter]
    unavailable: dict[str, str] = field(default_factory=dict)


def select_meters(spec: str, options: MeterOptions) -> Selection:
    """Open the meters named by ``spec``.

    ``auto`` takes every available real meter, and the estimate only when no real CPU
    meter (RAPL) is available; the reason each real meter is missing is kept for the
    header. A meter named explicitly is a request: when it cannot run, this raises
    :class:`MeterUnavailable` (a usage error) rather than measure with another meter.
    """
    names = parse_meter_spec(spec)
    if names == ("simulated",):  # deterministic figures never fall back to sampled ones
        return Selection(meters=[open_meter("simulated", options)])
    auto = names == ("auto",)
    wanted = ("rapl", "nvml") if auto else names
    selection = Selection(meters=[])
    for name in wanted:
        if name == "estimate":
            continue
        try:
            selection.meters.append(open_meter(name, options))
        except MeterUnavailable as exc:
            if not auto:
                for opened in selection.meters:
                    opened.close()
                raise MeterUnavailable(
                    f"{name} unavailable: {exc} (--energy-meter=auto falls back to the estimate)"
                ) from None
            selection.unavailable[name] = str(exc)
    if "estimate" in names or (auto and not any(m.name == "rapl" for m in selection.meters)):
        selection.meters.append(open_meter("estimate", options))
    return selection


class MeterSet:
    """Several meters read together; joules are summed over all their domains."""

    def __init__(self, meters: list[Meter]) -> None:
        if not meters:
            raise ValueError("MeterSet needs at least one meter")
        self.meters = meters

    @property
    def label(self) -> str:
        """Which meters produced the figures, e.g. ``rapl+nvml`` or ``estimate``."""
        return "+".join(m.name for m in self.meters)

    @property
    def is_estimate(self) -> bool:
        """True when any part of the figure is modelled rather than measured."""
        return any(m.is_estimate for m in self.meters)

    @property
    def min_window_s(self) -> float:
        """The longest minimum window among the meters."""
        return max(m.min_window_s for m in self.meters)

    @property
    def resolution_s(self) -> float:
        """The coarsest resolution among the meters."""
        return max(m.resolution_s for m in self.meters)

    @property
    def deterministic(self) -> bool:
        """True when every meter gives the same figure for the same code."""
        return all(m.deterministic for m in self.meters)

    @property
    def model_id(self) -> str:
        """What the figures of deterministic meters depend on (model, caches); "" otherwise."""
        return " ".join(getattr(m, "model_id", "") for m in self.meters if m.deterministic)

    def begin(self) -> None:
        """A window opens: meters that count start counting."""
        for meter in self.meters:
            meter.begin()

    def end(self) -> None:
        """A window closes: meters that count stop."""
        for meter in self.meters:
            meter.end()

    def window_counts(self) -> dict[str, int] | None:
        """The raw counts behind the last window (None without a counting meter)."""
        counts = [c for m in self.meters if (c := m.window_counts()) is not None]
        return counts[0] if counts else None

    def read(self) -> Reading:
        """One reading of every meter, keys prefixed with the meter name."""
        reading: Reading = {}
        for meter in self.meters:
            for domain, joules in meter.read().items():
                reading[f"{meter.name}:{domain}"] = joules
        return reading

    def joules_between(self, start: Reading, end: Reading, *, real_only: bool = False) -> float:
        """Total joules between two readings; ``real_only`` leaves out estimate meters."""
        skip = {m.name for m in self.meters if m.is_estimate} if real_only else set()
        return sum(
            value - start[key] for key, value in end.items() if key.split(":", 1)[0] not in skip
        )

    def describe(self) -> str:
        """Header phrase for all meters."""
        return ", ".join(m.describe() for m in self.meters)

    def warnings(self) -> list[str]:
        """Warnings from every meter."""
        return [w for m in self.meters for w in m.warnings()]

    def close(self) -> None:
        """Close every meter."""
        for meter in self.meters:
            meter.close()
