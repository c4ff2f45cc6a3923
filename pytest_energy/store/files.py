"""Output files: stable, atomic JSON, and the markdown summary's destinations; bounded reads."""

from __future__ import annotations

import errno
import glob
import json
import math
import os
import stat
import tempfile
import threading
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
    return [(f"{option}={target}" if mode == "w" else f"$GITHUB_STEP_SUMMARY={target}", target)
            for target, mode in markdown_outputs(path)]


def write_markdown(path: str, mode: str, text: str) -> None:
    """Write (``"w"``) or append (``"a"``, as its own paragraph) a markdown summary."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, mode, encoding="utf-8") as handle:
        handle.write(text + "\n" if mode == "a" else text)


class RefusedFile(OSError):
    """A file :func:`read_text_bounded` would not read; ``str()`` is one line: the path and why."""

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _read_regular(path: str, limit_bytes: int) -> bytes:
    # O_NONBLOCK: opening a FIFO does not wait for a writer; fstat then sees what was opened
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise RefusedFile(errno.EINVAL, f"not a file ({kind}); only regular files are read", path)
        chunks, size = [], 0
        while size <= limit_bytes:
            chunk = os.read(fd, limit_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit_bytes:
        raise RefusedFile(errno.EFBIG, f"larger than {limit_bytes} bytes; refused", path)
    return b"".join(chunks)


def read_text_bounded(path: str, limit_bytes: int, timeout_s: float | None = None) -> str:
    """The UTF-8 text of ``path``, read only if it is a regular file (symlinks followed) of
    at most ``limit_bytes``; with ``timeout_s``, the read runs in a daemon thread and is
    given up after that long (sysfs and network file systems can block).

    Raises :class:`RefusedFile` (an ``OSError`` whose ``str()`` is one line) for a FIFO, a
    device, a directory, a socket, a larger file, text that is not UTF-8, or a read that
    timed out; other ``OSError``\\ s (absent, no permission) pass through unchanged."""
    if timeout_s is None:
        data = _read_regular(path, limit_bytes)
    else:
        box: list[Any] = []

        def read() -> None:
            try:
                box.append(_read_regular(path, limit_bytes))
            except BaseException as exc:  # handed to the caller's thread
                box.append(exc)

        reader = threading.Thread(target=read, name="pytest-energy-bounded-read", daemon=True)
        reader.start()
        reader.join(timeout_s)
        if not box:
            raise RefusedFile(errno.ETIMEDOUT, f"no answer within {timeout_s:g} s; refused", path)
        if isinstance(box[0], BaseException):
            raise box[0]
        data = box[0]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedFile(errno.EILSEQ, "not UTF-8 text", path) from None
