"""Number formatting shared by every report: SI prefixes, three significant figures."""

from __future__ import annotations

_PREFIXES = ((1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))


def _scale(value: float) -> tuple[float, str]:
    rounded = float(f"{abs(value):.3g}")  # 999.7 rounds to 1e3: take the prefix of what is printed
    for scale, prefix in _PREFIXES:
        if rounded >= scale:
            return scale, prefix
    return _PREFIXES[-1]


def si(value: float, unit: str) -> str:
    """``0.00312, "J"`` -> ``3.12 mJ``; three significant figures."""
    if value == 0:
        return f"0 {unit}"
    scale, prefix = _scale(value)
    return f"{value / scale:.3g} {prefix}{unit}"


def si_range(low: float, high: float, unit: str) -> str:
    """``0.0059, 0.0065, "J"`` -> ``5.9-6.5 mJ`` (one prefix for both ends)."""
    scale, prefix = _scale(max(abs(low), abs(high)) or 1.0)
    return f"{low / scale:.3g}-{high / scale:.3g} {prefix}{unit}"


def percent(value: float | None) -> str:
    """``0.125`` -> ``+12.5%``; '' for None."""
    return "" if value is None else f"{value * 100:+.1f}%"
