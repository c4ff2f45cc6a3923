"""Inline SVG plots for the HTML report: bars, strips, trends and ratios, drawn by hand
(no plotting library to install, nothing fetched)."""

from __future__ import annotations

import html
import math
from typing import Any

from ..units import si
from .text import shorten


def esc(text: Any) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def _scale(low: float, high: float, start: float, end: float) -> Any:
    span = (high - low) or 1.0
    return lambda value: start + (value - low) / span * (end - start)


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values (steps of 1, 2, 2.5 or 5 times a power of ten) from ``low`` to ``high``."""
    span = high - low
    if not (math.isfinite(span) and span > 0):
        return [low]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    first = math.ceil(low / step - 1e-9)
    return [round((first + i) * step, 12) for i in range(int((high - first * step) / step + 1e-9) + 1)]


def x_axis(x: Any, y: float, ticks: list[float], label: Any, font: int = 10) -> str:
    """An axis line at height ``y`` with a mark and a label (``label(value)``) at each tick."""
    start, end = x(ticks[0]), x(ticks[-1])
    parts = [f'<line x1="{start:.1f}" x2="{end:.1f}" y1="{y}" y2="{y}" stroke="#666"/>']
    for tick in ticks:
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{y}" y2="{y + 4}" stroke="#666"/>'
                     f'<text x="{x(tick):.1f}" y="{y + 5 + font}" font-size="{font}" text-anchor="middle" '
                     f'fill="#333">{esc(label(tick))}</text>')
    return "".join(parts)


def bar_chart(rows: list[tuple[str, float, float | None, float | None]], unit: str, meter: str) -> str:
    """Horizontal bars (label, value, CI low, CI high), largest first, over an axis in ``unit``."""
    if not rows:
        return ""
    width, left, row_h = 760, 330, 20
    top = max(max(v, hi or 0) for _, v, _, hi in rows) or 1.0
    ticks = nice_ticks(0, top)
    if ticks[-1] < top:
        ticks.append(ticks[-1] + (ticks[1] - ticks[0] if len(ticks) > 1 else top))
    x = _scale(0, ticks[-1], left, width - 70)
    axis = 6 + row_h * len(rows) + 2
    height = axis + 44
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" aria-label="bars">']
    for i, (label, value, low, high) in enumerate(rows):
        y = 6 + i * row_h
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" font-size="11">'
                     f'<title>{esc(label)}</title>{esc(shorten(label, 52))}</text>')
        parts.append(f'<rect x="{left}" y="{y + 2}" width="{max(x(value) - left, 1):.1f}" '
                     f'height="{row_h - 6}" fill="#64b5f6"/>')
        if low is not None and high is not None:
            parts.append(f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y + 9}" y2="{y + 9}" '
                         'stroke="#0d47a1" stroke-width="1.5"/>')
        parts.append(f'<text x="{max(x(value), x(high or 0)) + 4:.1f}" y="{y + 13}" font-size="11">'
                     f'{esc(si(value, unit))}</text>')
    parts.append(x_axis(x, axis, ticks, lambda v: si(v, unit)))
    parts.append(f'<text x="4" y="{height - 6}" font-size="11" fill="#555">{esc(unit)} per call, '
                 f'bars: median, lines: 95% CI ({esc(meter)})</text></svg>')
    return "".join(parts)


def strip_plot(
    series: list[tuple[list[float], str]], unit: str = "J", width: int = 170, height: int = 30,
) -> str:
    """Each round's sample as a dot (one colour per series), on one scale, over an axis
    that names its two ends in ``unit``."""
    values = [v for samples, _ in series for v in samples]
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    x = _scale(low, high, 6, width - 6)
    dots = "".join(
        f'<circle cx="{x(v):.1f}" cy="{8 + (i * 5 - 2.5 * (len(series) - 1)):.1f}" r="2.6" '
        f'fill="{color}" fill-opacity="0.8"/>'
        for i, (samples, color) in enumerate(series) for v in samples
    )
    ends = [low, high] if high > low else [low]
    axis = "".join(
        f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="15" y2="18" stroke="#666"/>'
        f'<text x="{x(v):.1f}" y="{height - 2}" font-size="9" fill="#333" '
        f'text-anchor="{"start" if v == low and high > low else "end"}">{esc(si(v, unit))}</text>'
        for v in ends
    )
    return (f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="rounds, {esc(si(low, unit))} to {esc(si(high, unit))}">{dots}'
            f'<line x1="6" x2="{width - 6}" y1="15" y2="15" stroke="#666"/>{axis}</svg>')


def ratio_plot(
    rows: list[tuple[str, float, float, float, str]], what: str, limit: float | None = None,
) -> str:
    """Ratios with their CI as points and whiskers (label, ratio, low, high, colour) on a
    log scale, a line at 1 and, when given, at the regression limit."""
    rows = [r for r in rows if all(math.isfinite(v) and v > 0 for v in r[1:4])]
    if not rows:
        return ""
    width, left, row_h = 760, 330, 20
    low = min([1.0, *(r[2] for r in rows)]) / 1.05
    high = max([1.0, limit or 1.0, *(r[3] for r in rows)]) * 1.05
    linear = _scale(math.log(low), math.log(high), left, width - 60)

    def x(value: float) -> float:
        return linear(math.log(value))

    height = row_h * len(rows) + 52
    axis = height - 42
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" aria-label="{esc(what)}">',
             f'<line x1="{x(1):.1f}" x2="{x(1):.1f}" y1="0" y2="{axis}" stroke="#999"/>']
    parts.append(x_axis(x, axis, sorted({low * 1.05, 1.0, high / 1.05}), lambda v: f"{v:.3g}\u00d7"))
    if limit is not None:
        parts.append(f'<line x1="{x(limit):.1f}" x2="{x(limit):.1f}" y1="0" y2="{axis}" '
                     'stroke="#c62828" stroke-dasharray="4 3"/>')
    for i, (label, ratio, lo, hi, color) in enumerate(rows):
        y = 6 + i * row_h + 9
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" font-size="11">'
                     f'<title>{esc(label)}</title>{esc(shorten(label, 52))}</text>')
        parts.append(f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{y}" y2="{y}" stroke="{color}" '
                     'stroke-width="2"/>')
        parts.append(f'<circle cx="{x(ratio):.1f}" cy="{y}" r="3.5" fill="{color}"/>')
        parts.append(f'<text x="{x(hi) + 5:.1f}" y="{y + 4}" font-size="11">{ratio:.3g}</text>')
    limit_note = "; red dashed: the regression limit" if limit else ""
    parts.append(f'<text x="4" y="{height - 6}" font-size="11" fill="#555">{esc(what)}, log scale: dot the '
                 f"ratio, line its 95% CI{limit_note}</text></svg>")
    return "".join(parts)
