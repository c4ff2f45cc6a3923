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


def bar_chart(rows: list[tuple[str, float, float | None, float | None]], unit: str, meter: str) -> str:
    """Horizontal bars (label, value, CI low, CI high), largest first."""
    if not rows:
        return ""
    width, left, row_h = 760, 330, 20
    top = max(max(v, hi or 0) for _, v, _, hi in rows) or 1.0
    x = _scale(0, top, left, width - 70)
    height = row_h * len(rows) + 34
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
    parts.append(f'<text x="4" y="{height - 6}" font-size="11" fill="#555">{esc(unit)} per call, '
                 f'bars: median, lines: 95% CI ({esc(meter)})</text></svg>')
    return "".join(parts)


def strip_plot(series: list[tuple[list[float], str]], width: int = 160, height: int = 18) -> str:
    """Each round's sample as a dot (one colour per series), on one scale."""
    values = [v for samples, _ in series for v in samples]
    if len(values) < 2:
        return ""
    x = _scale(min(values), max(values), 4, width - 4)
    dots = "".join(
        f'<circle cx="{x(v):.1f}" cy="{height / 2 + (i * 4 - 2 * (len(series) - 1)):.1f}" r="2.2" '
        f'fill="{color}" fill-opacity="0.7"/>'
        for i, (samples, color) in enumerate(series) for v in samples
    )
    return f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}">{dots}</svg>'


def trend_plot(title: str, points: list[tuple[str, float, float, float]], unit: str, meter: str) -> str:
    """A test's stored runs: median per run with its samples' range, commits on the axis."""
    width, height, left, bottom = 330, 150, 52, 40
    low = min(p[2] for p in points)
    high = max(p[3] for p in points) or 1.0
    x = _scale(0, max(len(points) - 1, 1), left, width - 10)
    y = _scale(low, high, height - bottom, 22)
    parts = [f'<figure><svg viewBox="0 0 {width} {height}" width="{width}" role="img" aria-label="trend">',
             f'<text x="4" y="13" font-size="11"><title>{esc(title)}</title>{esc(shorten(title, 56))}</text>',
             f'<text x="4" y="{y(high) + 4:.1f}" font-size="10">{esc(si(high, unit))}</text>',
             f'<text x="4" y="{y(low) + 4:.1f}" font-size="10">{esc(si(low, unit))}</text>']
    path = " ".join(f"{x(i):.1f},{y(p[1]):.1f}" for i, p in enumerate(points))
    parts.append(f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="1.5"/>')
    for i, (commit, median, lo, hi) in enumerate(points):
        parts.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(lo):.1f}" y2="{y(hi):.1f}" '
                     'stroke="#90caf9"/>')
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(median):.1f}" r="2.5" fill="#1565c0"/>')
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 12}" font-size="9" text-anchor="end" '
                     f'transform="rotate(-40 {x(i):.1f} {height - bottom + 12})">{esc(commit)}</text>')
    parts.append(f"</svg><figcaption>median {esc(unit)}/call per stored run, range of its rounds "
                 f"({esc(meter)})</figcaption></figure>")
    return "".join(parts)


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
    for tick in (low * 1.05, 1.0, high / 1.05):
        parts.append(f'<text x="{x(tick):.1f}" y="{axis + 12}" font-size="10" text-anchor="middle">'
                     f"{tick:.3g}</text>")
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
