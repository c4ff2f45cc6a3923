"""``pytest-energy ab --profile``: each regressed test profiled on both sides, to say which
functions' joules grew.

After the paired verdicts, each side's pytest runs again on the regressed tests only
(``--energy-profile-only``), one side after the other: profiles need shares, not paired
figures, so no turns. Each side's profile then splits that side's paired joules per call
(the figures the verdict rests on).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..errors import InputError
from ..judge.rules import REGRESSION
from ..profiles import Profile, ProfileDiff, rescaled
from ..store.documents import load_results
from ..store.profiles import write_nodeids
from .verdicts import AbResult

#: The diffs, and one line per problem.
Profiled = tuple[list[ProfileDiff], list[str]]


def profile_regressions(
    workspace: Any, sides: list[Any], pytest_args: list[str], verdicts: AbResult,
    progress: Callable[[str], None],
) -> Profiled:
    """Profiles of every regressed test on both sides (``workspace`` and ``sides`` as
    :mod:`.run` has them), as diffs, and one line per problem."""
    figures = {h.nodeid: (b.joules, h.joules) for b, h in verdicts.pairs}
    regressed = [c.nodeid for c in verdicts.comparisons if c.verdict == REGRESSION and c.nodeid in figures]
    if not regressed:
        return [], []
    listing = os.path.join(workspace.root, "profile-tests.txt")
    write_nodeids(listing, regressed)
    found: dict[str, dict[str, Profile]] = {}
    problems = []
    for side in sides:
        progress(f"{side.describe()}: profiling {len(regressed)} regressed tests")
        out = os.path.join(workspace.root, f"{side.name}-profiles.json")
        log = os.path.join(workspace.root, f"{side.name}-profiles.log")
        command = [side.python, "-m", "pytest", "--energy", f"--energy-json={out}", "-p", "no:randomly",
                   *pytest_args, "--energy-profile=0", f"--energy-profile-only={listing}"]
        workspace.start(command, side.cwd, side.env, log).wait()
        try:
            found[side.name] = {p.nodeid: p for p in load_results(out).profiles}
        except InputError:
            problems.append(f"profiles of {side.name} not taken (its pytest run wrote no results)")
            found[side.name] = {}
    diffs = []
    for nodeid in regressed:
        base, head = found["base"].get(nodeid), found["head"].get(nodeid)
        if base is None or head is None:
            continue
        base_joules, head_joules = figures[nodeid]
        diffs.append(ProfileDiff(nodeid, rescaled(base, base_joules), rescaled(head, head_joules)))
    return diffs, problems
