"""Icicle charts of profiles for the HTML report, as inline SVG: the test at the top, each
function below its caller, as wide as its share of the test's joules; ``path:line
function`` and its joules on hover. A diff chart is drawn from head's stacks, red where a
function's joules grew against base, blue where they shrank."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from ..profiles import Profile, ProfileDiff
from ..units import si
from .profiles import growth_text, profile_heading
from .svg import esc

WIDTH, ROW, MAX_DEPTH = 960, 17, 40
#: Frames narrower than this (pixels) are left out.
MIN_PX = 1.0


@dataclass
class _Node:
    weight: float = 0.0
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(stacks: dict[str, int], scale: float) -> _Node:
    """Collapsed stacks as a tree whose weights are ``weight * scale`` (joules)."""
    root = _Node()
    for stack, weight in stacks.items():
        node = root
        node.weight += weight * scale
        for frame in stack.split(";")[:MAX_DEPTH]:
            node = node.children.setdefault(frame, _Node())
            node.weight += weight * scale
    return root


def _joules_tree(profile: Profile) -> _Node:
    total = sum(profile.stacks.values())
    return _tree(profile.stacks, profile.joules / total if total else 0.0)


def _warm(frame: str) -> str:
    hue = zlib.crc32(frame.rpartition(" ")[2].encode()) % 55
    return f"hsl({hue},75%,{62 + hue % 10}%)"


def _diverging(head: float, base: float) -> str:
    """Red for growth, blue for shrinkage, grey for no change (saturation by how much)."""
    change = (head - base) / max(head, base, 1e-300)
    hue = 0 if change > 0 else 215
    return f"hsl({hue},{min(abs(change), 1) * 80:.0f}%,{88 - min(abs(change), 1) * 30:.0f}%)"


def _draw(node: _Node, base: _Node | None, x: float, depth: int, px_per_j: float, total: float,
          parts: list[str]) -> int:
    """Draw ``node``'s children from ``x`` at ``depth``; returns the deepest row drawn."""
    deepest = depth - 1
    for frame, child in sorted(node.children.items()):
        width = child.weight * px_per_j
        if width < MIN_PX:
            x += width
            continue
        before = base.children.get(frame) if base is not None else None
        fill = _warm(frame) if base is None else _diverging(child.weight, before.weight if before else 0.0)
        was = f"; base {si(before.weight if before else 0.0, 'J')}" if base is not None else ""
        y = depth * ROW
        name = frame.rpartition(" ")[2]
        fits = int(width / 6.5)
        label = name if len(name) <= fits else (name[: fits - 1] + "…" if fits > 3 else "")
        parts.append(
            f'<g><title>{esc(frame)}: {esc(si(child.weight, "J"))}/call, '
            f'{child.weight / total * 100 if total else 0:.1f}%{esc(was)}</title>'
            f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{ROW - 1}" fill="{fill}" '
            f'stroke="#fff" stroke-width="0.5"/>'
            + (f'<text x="{x + 3:.1f}" y="{y + 12}" font-size="11">{esc(label)}</text>' if label else "")
            + "</g>"
        )
        deepest = max(deepest, _draw(child, before, x, depth + 1, px_per_j, total, parts))
        x += width
    return deepest


def icicle(profile: Profile, base: Profile | None = None) -> str:
    """The profile's icicle chart (a diff chart against ``base`` when given)."""
    head = _joules_tree(profile)
    if head.weight <= 0:
        return ""
    parts: list[str] = []
    rows = _draw(head, _joules_tree(base) if base is not None else None, 0.0, 0, WIDTH / head.weight,
                 head.weight, parts) + 1
    label = f"{'diff ' if base is not None else ''}icicle chart of {profile.nodeid}"
    return (f'<svg viewBox="0 0 {WIDTH} {rows * ROW}" width="{WIDTH}" role="img" aria-label="{esc(label)}">'
            + "".join(parts) + "</svg>")


def profiles_section(profiles: list[Profile], diffs: list[ProfileDiff], base: str = "base") -> str:
    """The HTML section: an icicle chart per profiled test, a diff chart per regression."""
    if not profiles and not diffs:
        return ""
    parts = ["<h2>Where the joules went (profiles)</h2>",
             "<p>Each profiled test was run again with a CPU sampler; a function's joules are the "
             "test's joules per call times its share of the CPU samples. Widths: joules with callees; "
             "hover for the function's file and line. Time in C code counts for the Python function "
             "that called it.</p>"]
    for diff in diffs:
        parts.append(f"<h3>{esc(diff.nodeid)}: what grew ({esc(base)} &rarr; head)</h3>")
        if diff.note:
            parts.append(f"<p>No profile diff: {esc(diff.note)}</p>")
            continue
        growers = diff.growers()
        parts.append("<ul>" + "".join(f"<li><code>{esc(growth_text(c))}</code></li>" for c in growers)
                     + "</ul>" if growers else "<p>No function's joules grew.</p>")
        parts.append(f'<div class="scroll">{icicle(diff.head, diff.base)}</div>'
                     "<p>Red: joules grew against base; blue: shrank (widths: head).</p>")
    for profile in profiles:
        parts.append(f"<h3>{esc(profile_heading(profile))}</h3>")
        parts.append(f"<p>{esc(profile.note)}</p>" if profile.note
                     else f'<div class="scroll">{icicle(profile)}</div>')
    return "".join(parts)
