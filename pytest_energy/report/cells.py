"""The cells of a comparison table (terminal and markdown): medians in the judged
figure's unit, changes and ratios with their CIs, p-values, and the rows' order."""

from __future__ import annotations

from collections.abc import Iterable

from ..judge.figures import of
from ..judge.rules import Comparison, directed_p
from ..units import percent, si


def in_unit(c: Comparison, value: float | None) -> str:
    """A median of ``c`` in its figure's unit (``1.2 mJ``, ``3.4 µg``); '' for none."""
    return "" if value is None else si(value, of(c).unit)


def change_ci_cell(c: Comparison) -> str:  # '' for a single value without an interval
    return "" if c.change_ci_low is None or c.change_ci_high is None else (
        f"{percent(c.change_ci_low)}..{percent(c.change_ci_high)}")


def change_cell(c: Comparison) -> str:
    """``+12.0% (+8.0%..+16.0%)``: the change with its CI, when it has one."""
    if c.change is None:
        return ""
    ci = change_ci_cell(c)
    return f"{percent(c.change)} ({ci})" if ci else percent(c.change)


def by_change(comparisons: Iterable[Comparison]) -> list[Comparison]:
    return sorted(comparisons, key=lambda c: (c.change is None, -(c.change or 0), c.nodeid))


def ratio(c: Comparison) -> str:
    """``1.12``: head/base, the geometric mean of the paired rounds' ratios (an exact
    meter's one figure each side: 4 digits)."""
    if c.change is None:
        return ""
    return f"{1 + c.change:.4g}" if c.change_ci_low is None else f"{1 + c.change:.3g}"


def ratio_ci_cell(c: Comparison) -> str:
    return "" if c.change_ci_low is None or c.change_ci_high is None else (
        f"{1 + c.change_ci_low:.3g}-{1 + c.change_ci_high:.3g}")


def ratio_cell(c: Comparison) -> str:
    """``1.12 (1.08-1.16)``: the ratio with its CI, when it has one."""
    return f"{ratio(c)} ({ratio_ci_cell(c)})" if ratio_ci_cell(c) else ratio(c)


def p_cell(c: Comparison) -> str:
    p = c.p_adjusted if c.p_adjusted is not None else directed_p(c)
    return "" if p is None or c.p_increase is None else f"{p:.3g}"
