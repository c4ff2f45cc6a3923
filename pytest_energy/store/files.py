"""Output files: stable, atomic JSON, and the markdown summary's destinations."""

from __future__ import annotations

import glob
import json
import math
import os
import tempfile
from collections.abc import Iterable
from typing import Any


def finite(data: Any) -> Any:
    """``data`` with every NaN or infinity replaced by None (strict JSON has neither)."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(value) for value in data]
    return data


def reject_non_finite(name: str) -> Any:
    """``parse_constant`` for ``json.load``: NaN and infinities are not JSON numbers."""
    raise ValueError(f"{name} is not a number JSON allows")


def _temp_prefix(path: str) -> str:
    return f".{os.path.basename(path)}.tmp-"


def json_text(data: Any) -> str:
    """``data`` as sorted, indented, strict JSON (NaN and infinities become null)."""
    return json.dumps(finite(data), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) through a temporary file and a rename.

    Readers see the old file or the new one, never a partial write; an interrupted write
    leaves the old file as it was and removes the temporary file. A symlink is written
    through to its target, and an existing file keeps its permissions (a new one gets
    the umask's).
    """
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=_temp_prefix(path), suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def remove_stale_temps(path: str) -> int:
    """Remove temporary files that killed writes of ``path`` left behind; call it only
    while holding the lock that guards writes of ``path``. Returns how many."""
    path = os.path.realpath(path)
    removed = 0
    for stale in glob.glob(os.path.join(os.path.dirname(path), glob.escape(_temp_prefix(path)) + "*.json")):
        try:
            os.unlink(stale)
            removed += 1
        except OSError:
            pass
    return removed


def unwritable_reason(path: str) -> str | None:
    """Why ``path`` could not be written (checked by creating a scratch file where it
    would go), or None. Creates no directory and leaves nothing behind."""
    if os.path.isdir(path):
        return "is a directory"
    if os.path.exists(path) and not os.path.isfile(path):
        return "is not a regular file (a rename would replace it)"
    directory = os.path.dirname(os.path.realpath(path))
    while not os.path.exists(directory):
        directory = os.path.dirname(directory)
    if not os.path.isdir(directory):
        return f"{directory} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        return f"cannot write in {directory} ({exc.strerror or exc})"
    return None


def unwritable_output(outputs: Iterable[tuple[str, str | None]]) -> str | None:
    """For (label, path) pairs, the one-line error for the first path that cannot be
    written (``<label>: <why>; pick a path that can be written``); unset paths are skipped."""
    for label, path in outputs:
        reason = unwritable_reason(path) if path else None
        if reason:
            return f"{label}: {reason}; pick a path that can be written"
    return None


def markdown_outputs(path: str | None) -> list[tuple[str, str]]:
    """Where a markdown summary goes, as (file, open mode): ``path`` is replaced, and
    GitHub's ``$GITHUB_STEP_SUMMARY`` (when set) is appended to."""
    targets = [(path, "w")] if path else []
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        targets.append((step_summary, "a"))
    return targets


def summary_outputs(option: str, path: str | None) -> list[tuple[str, str]]:
    """(label, path) of each place :func:`markdown_outputs` writes, for :func:`unwritable_output`:
    ``option=path`` and ``$GITHUB_STEP_SUMMARY``. Check them before a long run, not after."""
    return [(f"{option}={target}" if mode == "w" else f"GITHUB_STEP_SUMMARY={target}", target)
            for target, mode in markdown_outputs(path)]


def write_markdown(path: str, mode: str, text: str) -> None:
    """Write (``"w"``) or append (``"a"``, as its own paragraph) a markdown summary."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, mode, encoding="utf-8") as handle:
        handle.write(text + "\n" if mode == "a" else text)
