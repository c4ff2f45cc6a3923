"""Test ids shortened the way people read them, for tables narrower than the full ids.

In turn, while the ids do not fit: the directory prefix every id shares is dropped; then
each id keeps its file's base name and its test name, with its parameters (``[...]``)
shortened first; only then is it cut in the middle. Ids that would read alike keep the
middle cut of their full form, so rows can always be told apart.
"""

from __future__ import annotations

import re

from .markdown import shorten

_PARAMS = re.compile(r"\[([^\]]*)\]")
#: Parameters are shortened to no fewer characters than this.
MIN_PARAMS = 7


def common_dir(cells: list[str]) -> str:
    """The directories (``tests/unit/``) every id that has a path starts with; '' if none."""
    paths = [cell.split("::", 1)[0] for cell in cells if "/" in cell.split("::", 1)[0]]
    if not paths or len(paths) < len([c for c in cells if "::" in c or "/" in c]):
        return ""
    parts = [path.split("/")[:-1] for path in paths]
    shared = []
    for names in zip(*parts, strict=False):  # as far as the shortest
        if len(set(names)) != 1:
            break
        shared.append(names[0])
    return "/".join(shared) + "/" if shared else ""


def drop_common_dir(cells: list[str]) -> list[str]:
    """``cells`` without the directory prefix they all share."""
    prefix = common_dir(cells)
    return [cell[len(prefix):] if prefix and cell.startswith(prefix) else cell for cell in cells]


def short_id(nodeid: str, limit: int) -> str:
    """One id in at most ``limit`` characters: base name and test name, parameters first."""
    if len(nodeid) <= limit:
        return nodeid
    path, sep, rest = nodeid.partition("::")
    text = f"{path.rsplit('/', 1)[-1]}{sep}{rest}"
    match = _PARAMS.search(text)
    if len(text) > limit and match:
        inner = match.group(1)
        keep = max(MIN_PARAMS, len(inner) - (len(text) - limit))
        text = text[:match.start(1)] + shorten(inner, keep) + text[match.end(1):]
    base, sep, rest = text.partition("::")
    if len(text) <= limit or not sep:
        return shorten(text, limit)
    # the file's name keeps its start after test_ (what tells files apart), at most a third
    # of the room;
    # the test's name is cut in the middle (its start and its parameters' end)
    room = limit - len(sep)
    file_room = min(len(base), max(room // 3, room - len(rest)))
    head = base if len(base) <= file_room else _short_file(base, file_room)
    return head + sep + shorten(rest, limit - len(head) - len(sep))


def _short_file(base: str, room: int) -> str:
    """A file's base name in ``room`` characters: without the ``test_`` and ``.py`` every
    test file has, its start kept (``workloa...`` for test_workloads.py)."""
    core = base.removeprefix("test_").removesuffix(".py") or base
    return core if len(core) <= room else core[:max(1, room - 3)] + "..."


def readable_ids(nodeids: list[str], limit: int) -> dict[str, str]:
    """Each id as a row shows it: without the directories all share, then :func:`short_ids`."""
    return dict(zip(nodeids, short_ids(drop_common_dir(nodeids), limit), strict=True))


def short_ids(cells: list[str], limit: int) -> list[str]:
    """Each cell in at most ``limit`` characters; cells that would read alike are cut in
    the middle of their full form instead."""
    shortened = [short_id(cell, limit) for cell in cells]
    seen: dict[str, set[str]] = {}
    for cell, short in zip(cells, shortened, strict=True):
        seen.setdefault(short, set()).add(cell)
    return [short if len(seen[short]) == 1 else shorten(cell, limit)
            for cell, short in zip(cells, shortened, strict=True)]
