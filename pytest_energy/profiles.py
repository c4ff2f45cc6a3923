"""Per-function energy of a profiled test, typed: which functions' CPU time (and so which
share of the test's joules) a sampled re-run found, and what grew between two profiles.

A profile splits the test's joules per call by CPU-time shares: a function's *self*
joules are the test's joules times the share of CPU samples in which it was running, its
*total* joules the share in which it was anywhere on the stack. The stacks themselves are
kept in the collapsed format (``a;b;c weight``, weights in CPU microseconds) that
flamegraph.pl, inferno and speedscope read. Pure: no IO, no pytest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .units import si

#: Fewer samples than this give no shares: the test is too short to profile.
MIN_SAMPLES = 20
#: Functions the terminal lists per profiled test, and growers per regression.
TOP_FUNCTIONS = 5
#: A function counts as grown when its joules grew by this fraction of the test's at least
#: (shares from about 100 samples move by a few percent between runs).
MIN_GROWTH = 0.02


@dataclass(frozen=True)
class FunctionCost:
    """One function's share of a profiled test's CPU time and joules."""

    #: ``path:first line`` of the function.
    where: str
    #: Its qualified name (``Parser.parse``).
    function: str
    self_share: float
    total_share: float
    self_joules: float
    total_joules: float
    #: Samples in which it was on the stack.
    samples: int

    @property
    def key(self) -> str:
        """``path:line function``, as in the collapsed stacks."""
        return f"{self.where} {self.function}"


@dataclass
class Profile:
    """A test's sampled re-run: its functions' shares and joules, and its stacks."""

    nodeid: str
    meter: str
    #: The test's joules per call (its main figure), which the shares split.
    joules: float
    #: Why it was profiled: ``top 5``, ``regression``, ``over budget``.
    why: str = ""
    samples: int = 0
    #: CPU seconds the samples cover, and the profiled calls.
    cpu_s: float = 0.0
    calls: int = 0
    #: Collapsed stack (root first, ``;`` between frames) -> CPU microseconds.
    stacks: dict[str, int] = field(default_factory=dict)
    #: Every function seen, the most self joules first.
    functions: list[FunctionCost] = field(default_factory=list)
    #: One line when there are no shares: too short, or not profiled and why.
    note: str = ""

    @property
    def collapsed(self) -> str:
        """The stacks as collapsed-stack text (one ``stack weight`` line each)."""
        return "".join(f"{stack} {weight}\n" for stack, weight in sorted(self.stacks.items()))

    def top(self, count: int = TOP_FUNCTIONS) -> list[FunctionCost]:
        """The ``count`` functions with the most self joules."""
        return self.functions[:count]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (``collapsed`` is the flame-graph text)."""
        return {
            "nodeid": self.nodeid, "meter": self.meter, "joules": self.joules, "why": self.why,
            "samples": self.samples, "cpu_s": self.cpu_s, "calls": self.calls, "note": self.note,
            "collapsed": self.collapsed, "functions": [asdict(f) for f in self.functions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        """Inverse of :meth:`to_dict`."""
        return cls(
            nodeid=str(data["nodeid"]), meter=str(data.get("meter") or ""), joules=float(data["joules"]),
            why=str(data.get("why") or ""), samples=int(data.get("samples") or 0),
            cpu_s=float(data.get("cpu_s") or 0.0), calls=int(data.get("calls") or 0),
            stacks=parse_collapsed(str(data.get("collapsed") or "")),
            functions=[FunctionCost(**f) for f in data.get("functions") or []],
            note=str(data.get("note") or ""),
        )


def parse_collapsed(text: str) -> dict[str, int]:
    """Collapsed-stack text back to ``{stack: weight}`` (the weight follows the last space,
    as flamegraph.pl and speedscope read it); ValueError on a line without one."""
    stacks: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        stack, _, weight = line.rpartition(" ")
        if not stack or not weight.isdigit():
            raise ValueError(f"collapsed stacks, line {number}: expected 'frame;...;frame weight': {line!r}")
        stacks[stack] = stacks.get(stack, 0) + int(weight)
    return stacks


def split_frame(frame: str) -> tuple[str, str]:
    """``path:line function`` -> (``path:line``, ``function``)."""
    where, _, function = frame.rpartition(" ")
    return where, function


def build_profile(
    nodeid: str, meter: str, joules: float, stacks: dict[tuple[str, ...], float],
    counts: dict[tuple[str, ...], int], samples: int, calls: int, why: str = "",
) -> Profile:
    """Shares and joules per function from sampled stacks (root first, CPU seconds each)
    and how many samples each stack had; too few samples give one line and no shares."""
    cpu_s = sum(stacks.values())
    profile = Profile(nodeid, meter, joules, why, samples, cpu_s, calls,
                      {";".join(s): round(w * 1e6) for s, w in stacks.items() if round(w * 1e6) > 0})
    if samples < MIN_SAMPLES or cpu_s <= 0:
        profile.note = (f"too short to profile: {samples} samples in {si(cpu_s, 's')} of CPU over {calls} "
                        f"calls (needs {MIN_SAMPLES})")
        return profile
    own: dict[str, float] = {}
    total: dict[str, float] = {}
    seen: dict[str, int] = {}
    for stack, weight in stacks.items():
        own[stack[-1]] = own.get(stack[-1], 0.0) + weight
        for frame in set(stack):
            total[frame] = total.get(frame, 0.0) + weight
            seen[frame] = seen.get(frame, 0) + counts.get(stack, 0)
    functions = []
    for frame, weight in total.items():
        where, function = split_frame(frame)
        self_share, total_share = own.get(frame, 0.0) / cpu_s, weight / cpu_s
        functions.append(FunctionCost(where, function, self_share, total_share, joules * self_share,
                                      joules * total_share, seen[frame]))
    profile.functions = sorted(functions, key=lambda f: (-f.self_joules, -f.total_joules, f.key))
    return profile


def rescaled(profile: Profile, joules: float) -> Profile:
    """The profile splitting ``joules`` per call instead (another figure of the same test)."""
    functions = [replace(f, self_joules=joules * f.self_share, total_joules=joules * f.total_share)
                 for f in profile.functions]
    return replace(profile, joules=joules, functions=functions)


@dataclass(frozen=True)
class FunctionChange:
    """One function's self joules in two profiles of the same test."""

    where: str
    function: str
    base_joules: float
    head_joules: float
    #: For a function called from several places: the caller whose share of it grew most.
    via: str = ""

    @property
    def change(self) -> float:
        """Head minus base, joules per call."""
        return self.head_joules - self.base_joules

    @property
    def relative(self) -> float | None:
        """The change as a fraction of base (None for a function base did not run)."""
        return self.change / self.base_joules if self.base_joules > 0 else None


def profile_diff(base: Profile, head: Profile) -> list[FunctionChange]:
    """Every function of either profile with its self joules on both sides, the largest
    growth first (a function one side lacks counts 0 there). Functions are matched by
    name and file, not line, so code moved within a file still matches."""
    def by_name(profile: Profile) -> dict[tuple[str, str], tuple[str, float]]:
        found: dict[tuple[str, str], tuple[str, float]] = {}
        for f in profile.functions:
            name = (f.where.rpartition(":")[0], f.function)
            found[name] = (f.where, found.get(name, ("", 0.0))[1] + f.self_joules)
        return found

    old, new = by_name(base), by_name(head)
    old_callers, new_callers = _callers(base), _callers(head)
    changes = []
    for name in old.keys() | new.keys():
        before, after = old_callers.get(name, {}), new_callers.get(name, {})
        growth = {caller: after.get(caller, 0.0) - before.get(caller, 0.0)
                  for caller in before.keys() | after.keys()}
        via = max(sorted(growth), key=lambda caller: growth[caller]) if len(growth) > 1 else ""
        changes.append(FunctionChange((new.get(name) or old[name])[0], name[1], old.get(name, ("", 0.0))[1],
                                      new.get(name, ("", 0.0))[1], via))
    return sorted(changes, key=lambda c: (-c.change, c.function, c.where))


def _callers(profile: Profile) -> dict[tuple[str, str], dict[str, float]]:
    """Per function (file, name): its self joules by the function that called it."""
    total = sum(profile.stacks.values())
    found: dict[tuple[str, str], dict[str, float]] = {}
    for stack, weight in profile.stacks.items():
        frames = stack.split(";")
        where, function = split_frame(frames[-1])
        caller = split_frame(frames[-2])[1] if len(frames) > 1 else ""
        by_caller = found.setdefault((where.rpartition(":")[0], function), {})
        by_caller[caller] = by_caller.get(caller, 0.0) + weight * profile.joules / total
    return found


@dataclass
class ProfileDiff:
    """A regressed test's profile on both sides (base: a stored profile, or ab's base)."""

    nodeid: str
    base: Profile
    head: Profile

    @property
    def changes(self) -> list[FunctionChange]:
        """:func:`profile_diff` of the two sides."""
        return profile_diff(self.base, self.head)

    def growers(self, count: int = TOP_FUNCTIONS) -> list[FunctionChange]:
        """The ``count`` functions whose joules grew the most (by :data:`MIN_GROWTH` of the
        test's joules at least)."""
        floor = MIN_GROWTH * max(self.head.joules, self.base.joules)
        return [c for c in self.changes if c.change > floor][:count]

    @property
    def note(self) -> str:
        """Why there is no diff ('' when both sides have shares)."""
        side = next((s for s, p in (("base", self.base), ("head", self.head)) if p.note), None)
        return f"{side}: {(self.base if side == 'base' else self.head).note}" if side else ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {"nodeid": self.nodeid, "base": self.base.to_dict(), "head": self.head.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProfileDiff:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["nodeid"]), Profile.from_dict(data["base"]), Profile.from_dict(data["head"]))
