"""Profiles as text: the terminal's top functions per profiled test, and which functions
grew in a regression (terminal and markdown)."""

from __future__ import annotations

from collections.abc import Iterable

from ..profiles import TOP_FUNCTIONS, FunctionChange, Profile, ProfileDiff
from ..units import percent, si


def _share(value: float) -> str:
    return f"{value * 100:.1f}%"


def profile_heading(profile: Profile) -> str:
    """``test (top 5; 1.2 J/call, estimate; 312 samples in 1.25 s of CPU, 14 calls)``."""
    why = f"{profile.why}; " if profile.why else ""
    return (f"{profile.nodeid} ({why}{si(profile.joules, 'J')}/call, {profile.meter}; "
            f"{profile.samples} samples in {si(profile.cpu_s, 's')} of CPU, {profile.calls} calls)")


def profile_lines(profiles: Iterable[Profile], top: int = TOP_FUNCTIONS) -> str:
    """Each profiled test's top functions by self joules (file:line, function, J, share),
    or its one line when it has no shares."""
    from tabulate import tabulate

    blocks = []
    for profile in profiles:
        if profile.note:
            blocks.append(f"{profile.nodeid}: {profile.note}")
            continue
        rows = [[f.function, f.where, si(f.self_joules, "J"), _share(f.self_share), _share(f.total_share)]
                for f in profile.top(top)]
        table = tabulate(rows, headers=["function", "file:line", "J/call (self)", "share", "with callees"],
                         disable_numparse=True)
        blocks.append(profile_heading(profile) + "\n" + "\n".join("  " + line for line in table.splitlines()))
    return "\n".join(blocks)


def growth_text(change: FunctionChange) -> str:
    """``+38 mJ Parser._parse (+61%): 62 mJ -> 100 mJ, src/parser.py:12`` (and ``, most
    via Parser.feed`` for a function called from several places)."""
    relative = f" ({percent(change.relative)})" if change.relative is not None else " (new)"
    via = f", most via {change.via}" if change.via else ""
    return (f"+{si(change.change, 'J')} {change.function}{relative}: {si(change.base_joules, 'J')} -> "
            f"{si(change.head_joules, 'J')}, {change.where}{via}")


def profile_diff_lines(diff: ProfileDiff, sides: tuple[str, str] = ("base", "head")) -> str:
    """Which functions' joules grew in a regressed test, the largest growth first."""
    if diff.note:
        return f"energy: {diff.nodeid}: no profile diff ({diff.note})"
    growers = diff.growers()
    if not growers:
        return f"energy: {diff.nodeid}: no function's joules grew ({sides[0]} -> {sides[1]})"
    lines = [f"energy: functions whose joules grew in {diff.nodeid} ({sides[0]} -> {sides[1]}, self J/call):"]
    return "\n".join([*lines, *(f"  {growth_text(c)}" for c in growers)])


def profile_markdown(diffs: Iterable[ProfileDiff]) -> str:
    """A markdown section: per regressed test, the functions whose joules grew ('' without diffs)."""
    diffs = list(diffs)
    if not diffs:
        return ""
    lines = ["### Where the joules grew (profiles)", ""]
    for diff in diffs:
        lines.append(f"`{diff.nodeid}`" + (f": no profile diff ({diff.note})" if diff.note else ""))
        growers = [] if diff.note else diff.growers()
        if growers:
            lines += ["", "| function | file:line | base J/call | head J/call | change |",
                      "|---|---|---|---|---|"]
            lines += [f"| `{c.function}`{f' (most via `{c.via}`)' if c.via else ''} | `{c.where}` "
                      f"| {si(c.base_joules, 'J')} | {si(c.head_joules, 'J')} "
                      f"| +{si(c.change, 'J')} ({percent(c.relative) if c.relative is not None else 'new'}) |"
                      for c in growers]
        lines.append("")
    return "\n".join(lines)
