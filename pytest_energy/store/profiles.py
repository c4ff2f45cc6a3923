"""Profiles kept with the baseline: ``<baseline>.profiles.json``, the last profile of each
test saved with ``--energy-save --energy-profile``, for ``--energy-compare`` to say which
functions grew in a regression. A file of its own, so the baseline's format is unchanged.

Schema (version 1)::

    {"format": "pytest-energy-profiles", "version": 1,
     "tests": {"<node id>": {"commit": "<sha or null>", "profile": {<Profile.to_dict()>}}}}
"""

from __future__ import annotations

import json
from typing import Any

from ..profiles import Profile
from .baseline import locked
from .files import json_text, read_text_bounded, reject_non_finite, write_text_atomic
from .loader import MAX_DOCUMENT_BYTES

FORMAT = "pytest-energy-profiles"
VERSION = 1


def profiles_path(baseline_path: str) -> str:
    """``.energy/baseline.json`` -> ``.energy/baseline.profiles.json``."""
    stem = baseline_path[: -len(".json")] if baseline_path.endswith(".json") else baseline_path
    return f"{stem}.profiles.json"


def _read(path: str) -> dict[str, Any]:
    data = json.loads(read_text_bounded(path, MAX_DOCUMENT_BYTES), parse_constant=reject_non_finite)
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("tests"), dict):
        raise ValueError(f'not a pytest-energy profiles file (no "format": "{FORMAT}")')
    return data


def load(path: str) -> tuple[dict[str, Profile], str]:
    """The stored profiles by node id, and a one-line problem ('' when none): a missing
    file is no problem, an unreadable or corrupt one is ignored and said."""
    try:
        data = _read(path)
        return {nodeid: Profile.from_dict(entry["profile"]) for nodeid, entry in data["tests"].items()}, ""
    except FileNotFoundError:
        return {}, ""
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        return {}, (f"stored profiles {path} ignored ({reason}); "
                    "the next --energy-save --energy-profile rewrites it")


def save(path: str, profiles: list[Profile], commit: str | None, lock_timeout_s: float = 60.0) -> None:
    """Keep ``profiles`` (replacing those of the same tests) atomically, under the file
    lock baselines use (two runs saving at once both keep theirs); an unreadable file is
    replaced. A lock held past ``lock_timeout_s`` raises ``BaselineError``."""
    with locked(path, lock_timeout_s):
        try:
            tests = dict(_read(path)["tests"])
        except (OSError, ValueError):
            tests = {}
        for profile in profiles:
            tests[profile.nodeid] = {"commit": commit, "profile": profile.to_dict()}
        write_text_atomic(path, json_text({"format": FORMAT, "version": VERSION, "tests": tests}))


def read_nodeids(path: str) -> set[str]:
    """Node ids, one a line (``--energy-profile-only``); OSError when unreadable."""
    with open(path, encoding="utf-8") as handle:
        return {line.strip() for line in handle if line.strip()}


def write_nodeids(path: str, nodeids: list[str]) -> None:
    """The list :func:`read_nodeids` reads."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(f"{nodeid}\n" for nodeid in nodeids)
