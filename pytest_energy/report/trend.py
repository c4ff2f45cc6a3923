"""The HTML report's history: one chart of every test's stored runs, this run included,
each normalised to its own median (1.0 = the test's median), on one shared y axis.

A shared scale shows which tests moved and by how much without exaggerating noise (a
chart per test, scaled to its own min-max, makes a 1% wobble fill the plot). The runs
are aligned on the right: the last point of every line is the newest run.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from ..history import Baseline
from ..results import TestResult
from .ids import readable_ids
from .svg import _scale, esc, nice_ticks, x_axis

#: The chart draws at most this many tests: those that moved most.
TREND_TOP = 20
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
          "#7f7f7f", "#bcbd22")
THIS_RUN = "this run"


@dataclass(frozen=True)
class Series:
    """One test's runs: (label, J/call median) oldest first, and each as a ratio to their median."""

    nodeid: str
    points: list[tuple[str, float]]
    ratios: list[float]

    @property
    def moved(self) -> float:
        """How far the test strayed from its median (0.2: 20% at its furthest)."""
        return max(abs(r - 1) for r in self.ratios)


def series(baseline: Baseline, current: list[TestResult]) -> list[Series]:
    """Each stored test's runs on its last meter, with this run's figure as the last point
    (unless the baseline already holds it: a run that saved), normalised to its median."""
    now = {t.nodeid: t for t in current}
    found = []
    for nodeid, runs in baseline.tests.items():
        meter = runs[-1].meter if runs else ""
        kept = [r for r in runs if r.meter == meter and r.joules]
        points = [((r.commit or "")[:7] or r.time[:10] or f"run {i + 1}", statistics.median(r.joules))
                  for i, r in enumerate(kept)]
        result = now.get(nodeid)
        if result is not None and result.meter == meter and result.samples:
            if kept and list(result.samples) == list(kept[-1].joules):
                points[-1] = (THIS_RUN, points[-1][1])
            else:
                points.append((THIS_RUN, statistics.median(result.samples)))
        if not all(math.isfinite(p[1]) for p in points):
            continue
        middle = statistics.median(p[1] for p in points) if points else 0.0
        if middle > 0:
            found.append(Series(nodeid, points, [p[1] / middle for p in points]))
    return found


def trend_section(all_series: list[Series], meter: str, top: int = TREND_TOP) -> str:
    """The chart, its legend, and how many tests were left out."""
    if not all_series:
        return "<p>No stored run to draw.</p>"
    shown = sorted(all_series, key=lambda s: (-s.moved, s.nodeid))[:top]
    left_out = len(all_series) - len(shown)
    width, height, left, right, top_y, bottom = 760, 300, 56, 16, 12, 64
    runs = max(len(s.points) for s in shown)
    longest = max(shown, key=lambda s: len(s.points))
    low = min(min(r for s in shown for r in s.ratios), 0.9)
    high = max(max(r for s in shown for r in s.ratios), 1.1)
    ticks = nice_ticks(low, high, 5)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 0.1
    ticks = ([round(ticks[0] - step, 12)] if ticks[0] > low else []) + ticks
    ticks += [round(ticks[-1] + step, 12)] if ticks[-1] < high else []
    low, high = ticks[0], ticks[-1]
    x = _scale(0, max(runs - 1, 1), left, width - right)
    y = _scale(low, high, height - bottom, top_y)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" '
             f'aria-label="each test\'s energy per call over its stored runs, times its own median">']
    for tick in ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                     f'stroke="{"#999" if tick == 1 else "#eee"}"/>'
                     f'<text x="{left - 4}" y="{y(tick) + 3:.1f}" font-size="10" text-anchor="end" '
                     f'fill="#333">{tick:g}\u00d7</text>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top_y}" y2="{height - bottom}" stroke="#666"/>')
    parts.append(f'<text x="12" y="{(height - bottom + top_y) / 2:.0f}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {(height - bottom + top_y) / 2:.0f})">\u00d7 own median</text>')
    labels = ["" for _ in range(runs)]
    for i, (label, _) in enumerate(longest.points):
        labels[runs - len(longest.points) + i] = label
    parts.append(x_axis(x, height - bottom, list(range(runs)), lambda i: str(int(i) + 1), font=9))
    for i, label in enumerate(labels):
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 26}" font-size="9" text-anchor="end" '
                     f'transform="rotate(-35 {x(i):.1f} {height - bottom + 26})">{esc(label)}</text>')
    legend, shown_as = [], readable_ids([s.nodeid for s in shown], 60)
    for n, s in enumerate(shown):
        color = COLORS[n % len(COLORS)]
        dash = ' stroke-dasharray="5 3"' if n >= len(COLORS) else ""
        at = [(x(runs - len(s.ratios) + i), y(r)) for i, r in enumerate(s.ratios)]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in at)
        dots = "".join(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.2" fill="{color}"/>' for px, py in at)
        parts.append(f'<g><title>{esc(s.nodeid)}: last {s.ratios[-1]:.3g}\u00d7 its median</title>'
                     f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.6"{dash}/>'
                     f"{dots}</g>")
        legend.append(f'<li title="{esc(s.nodeid)}"><span class="swatch" style="background:{color}"></span>'
                      f"{esc(shown_as[s.nodeid])} ({s.ratios[-1]:.3g}\u00d7)</li>")
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="11" fill="#555">x: stored run, oldest first '
                 f"({THIS_RUN} last); y: the run's median J/call over the test's own ({esc(meter)})"
                 "</text></svg>")
    note = (f"<p>{left_out} more {'test is' if left_out == 1 else 'tests are'} in the baseline file, left "
            f"out: they moved less than the {len(shown)} drawn.</p>" if left_out else "")
    return f"<figure>{''.join(parts)}</figure><ol class=\"legend\">{''.join(legend)}</ol>{note}"
