"""Energy markers: ``energy``, ``energy_budget`` and ``energy_ratio``, validated into frozen
dataclasses; bad arguments raise :class:`~pytest_energy.settings.ConfigError` in one line."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .settings import MAX_SECONDS, ConfigError

MARKERS = (
    "energy(rounds=N, warmup=N, max_time=SECONDS, max_regression=PERCENT): per-test "
    "measurement settings; rounds=1 runs the test once, without warmup or calibration",
    "energy_budget(joules=J, co2_g=G, sci_g=G): fail the test when the median attributable energy "
    "per call, its gCO2e or its Software Carbon Intensity per call is over budget (with --energy)",
    "energy_ratio(candidate=LABEL, at_most=R, at_least=R): after energy.versus, fail when the "
    "candidate's median energy ratio to the reference is outside the bounds (with --energy)",
)


@dataclass(frozen=True)
class TestSettings:
    """Per-test overrides from ``@pytest.mark.energy``."""

    rounds: int | None = None
    warmup: int | None = None
    max_time_s: float | None = None
    #: Fraction (the marker takes percent).
    max_regression: float | None = None


@dataclass(frozen=True)
class Budget:
    """``@pytest.mark.energy_budget``: joules, grams of CO2e and/or SCI grams per call."""

    joules: float | None = None
    co2_g: float | None = None
    #: Software Carbon Intensity (operational + embodied), gCO2e per call.
    sci_g: float | None = None


def _number(
    marker: str, key: str, value: Any, *, whole: bool = False, zero_ok: bool = False,
    most: float | None = None,
) -> Any:
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        raise ConfigError(f"{marker}({key}={value!r}): {key} must be {kind}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise ConfigError(f"{marker}({key}={value!r}): {key} must be {bound}")
    if most is not None and value > most:
        raise ConfigError(f"{marker}({key}={value!r}): {key} must be at most {most:g}")
    return value


def _check_kwargs(marker: str, args: tuple, kwargs: dict, allowed: tuple[str, ...]) -> None:
    if args:
        raise ConfigError(f"{marker}: takes keyword arguments only ({', '.join(allowed)}), got {args!r}")
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ConfigError(f"{marker}: unknown argument {unknown[0]!r}; allowed: {', '.join(allowed)}")


def parse_energy_marker(args: tuple, kwargs: dict) -> TestSettings:
    """Validate ``energy(...)`` marker arguments."""
    _check_kwargs("energy", args, kwargs, ("rounds", "warmup", "max_time", "max_regression"))
    for key, value in kwargs.items():
        if value is None:
            raise ConfigError(f"energy({key}=None): leave {key} out to use the session's setting")
    rounds = kwargs.get("rounds")
    warmup = kwargs.get("warmup")
    max_time = kwargs.get("max_time")
    max_regression = kwargs.get("max_regression")
    return TestSettings(
        rounds=None if rounds is None else _number("energy", "rounds", rounds, whole=True),
        warmup=None if warmup is None else _number("energy", "warmup", warmup, whole=True, zero_ok=True),
        max_time_s=None if max_time is None else _number("energy", "max_time", max_time, most=MAX_SECONDS),
        max_regression=None if max_regression is None
        else _number("energy", "max_regression", max_regression) / 100,
    )


def parse_budget_marker(args: tuple, kwargs: dict) -> Budget:
    """Validate ``energy_budget(...)`` marker arguments."""
    _check_kwargs("energy_budget", args, kwargs, ("joules", "co2_g", "sci_g"))
    if not kwargs:
        raise ConfigError("energy_budget: give joules=J, co2_g=G and/or sci_g=G")
    return Budget(**{key: _number("energy_budget", key, value) for key, value in kwargs.items()})


@dataclass(frozen=True)
class RatioRule:
    """``@pytest.mark.energy_ratio``: bounds on a candidate's energy ratio to the reference."""

    candidate: str
    at_most: float | None = None
    at_least: float | None = None


def parse_ratio_marker(args: tuple, kwargs: dict) -> RatioRule:
    """Validate ``energy_ratio(...)`` marker arguments."""
    _check_kwargs("energy_ratio", args, kwargs, ("candidate", "at_most", "at_least"))
    candidate = kwargs.get("candidate")
    if not isinstance(candidate, str) or not candidate:
        raise ConfigError("energy_ratio: candidate='LABEL' (a label given to energy.versus) is required")
    bounds = {key: kwargs[key] for key in ("at_most", "at_least") if key in kwargs}
    if not bounds:
        raise ConfigError("energy_ratio: give at_most=R and/or at_least=R")
    rule = RatioRule(candidate, **{key: _number("energy_ratio", key, v) for key, v in bounds.items()})
    if rule.at_most is not None and rule.at_least is not None and rule.at_least > rule.at_most:
        raise ConfigError(
            f"energy_ratio(at_most={rule.at_most:g}, at_least={rule.at_least:g}): no ratio can pass; "
            "at_least must not exceed at_most"
        )
    return rule


@dataclass(frozen=True)
class Marks:
    """A test's validated energy markers."""

    test: TestSettings = TestSettings()
    budget: Budget | None = None
    ratio: RatioRule | None = None
    #: An ``energy`` or ``energy_budget`` mark asks for repeated rounds (tier 2).
    repeat: bool = False


def merge_marks(marks: list[Any]) -> tuple[tuple, dict]:
    """One marker's arguments from its marks, closest first: keyword by keyword, the
    closest mark that sets a keyword wins (positional arguments: the closest that has any)."""
    kwargs: dict[str, Any] = {}
    for mark in marks:
        for key, value in mark.kwargs.items():
            kwargs.setdefault(key, value)
    args = next((mark.args for mark in marks if mark.args), ())
    return args, kwargs


_PARSERS: dict[str, Callable[[tuple, dict], Any]] = {
    "energy": parse_energy_marker, "energy_budget": parse_budget_marker, "energy_ratio": parse_ratio_marker,
}
MARKER_NAMES = tuple(_PARSERS)


def parse_marks(marks: dict[str, list[Any]]) -> Marks:
    """Validate every mark (objects with ``args`` and ``kwargs``, by marker name, closest
    first), then merge each marker's marks keyword by keyword."""
    for name, found in marks.items():
        for mark in found:
            _PARSERS[name](mark.args, mark.kwargs)
    merged = {name: _PARSERS[name](*merge_marks(found)) for name, found in marks.items() if found}
    return Marks(
        test=merged.get("energy", TestSettings()), budget=merged.get("energy_budget"),
        ratio=merged.get("energy_ratio"), repeat="energy" in merged or "energy_budget" in merged,
    )
