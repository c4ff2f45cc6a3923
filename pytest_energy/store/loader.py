"""The one loader: every document pytest-energy reads or writes goes through here:
results files (``--energy-json``, ``merge``), baselines, ab files (``ab --json``), the
simulated meter's model files and calibration samples. Each has a published JSON Schema
(``store/schemas/``); a document is checked against it when loaded and before it is
saved, so the plugin never writes a file it would refuse. A bad document is one
:class:`~pytest_energy.errors.InputError` line naming the file, the field and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from .files import json_text, read_text_bounded, reject_non_finite, write_text_atomic
from .schema import SchemaError, show, validate

BASELINE_FORMAT = "pytest-energy-baseline"
#: Documents nest about 8 levels; deeper ones are refused before anything walks them.
MAX_DEPTH = 64
#: Documents larger than this are refused (a 5,000-test baseline of 10 runs is ~20 MB).
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024


class BaselineError(InputError):
    """An unreadable, corrupt or unknown baseline; the message names the fix."""


@dataclass(frozen=True)
class Kind:
    """One kind of document: its schema, its ``format`` and version, and who writes it."""

    label: str
    schema: str
    #: The ``format`` field's value (None: the document has none).
    form: str | None
    version: int | None
    #: What to do about a bad document.
    fix: str
    #: What to do about a file of another kind.
    elsewhere: str
    error: type[InputError] = InputError
    #: What to do about an unreadable file, besides fixing its permissions.
    other: str = "give another file"
    #: What the schema cannot say: ``<field>: <problem>`` or None, for a valid document.
    extra: Callable[[dict[str, Any]], str | None] | None = None


BASELINE = Kind("baseline", "baseline", BASELINE_FORMAT, 1,
                "restore it from version control or re-create it with --energy-save",
                "point --energy-baseline at the right file", BaselineError,
                "pick another file with --energy-baseline")
MODEL = Kind("model file", "model", None, None, "re-create it with pytest-energy calibrate",
             "give a file written by pytest-energy calibrate")
SAMPLES = Kind("samples file", "samples", "pytest-energy-calibration-samples", 1,
               "re-create it with pytest-energy calibrate --save-samples",
               "give a file written by pytest-energy calibrate --save-samples")


def _read_text(path: str) -> str:
    """The file's text (the one place documents are read): a regular file of at most
    :data:`MAX_DOCUMENT_BYTES` (a FIFO or ``/dev/zero`` is refused, never waited on)."""
    return read_text_bounded(path, MAX_DOCUMENT_BYTES)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a key given twice in one object (a test listed twice) is refused."""
    data = dict(pairs)
    if len(data) < len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for index, key in enumerate(keys) if key in keys[:index])
        raise ValueError(f"the key {show(twice)} appears twice in one object")
    return data


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` levels (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def read(path: str, kind: Kind, missing_ok: bool = False) -> dict[str, Any] | None:
    """Read, parse and check a document; None for a missing file when ``missing_ok``."""
    try:
        text = _read_text(path)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise kind.error(f"{path}: no such file; {kind.elsewhere}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = (exc.strerror or exc) if isinstance(exc, OSError) else "not UTF-8 text"
        raise kind.error(f"cannot read {kind.label} {path}: {reason}; "
                         f"fix its permissions or {kind.other}") from None
    return parse(path, text, kind)


def parse(path: str, text: str, kind: Kind) -> dict[str, Any]:
    """A document's text, parsed and checked; ``kind.error`` naming what is wrong."""
    try:
        data = json.loads(text, parse_constant=reject_non_finite, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise kind.error(f"{kind.label} {path} is corrupt (invalid JSON at line {exc.lineno} column "
                         f"{exc.colno}: {exc.msg}); {kind.fix}") from None
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise kind.error(f"{kind.label} {path} is corrupt ({reason}); {kind.fix}") from None
    if _deeper_than(data, MAX_DEPTH):
        raise kind.error(f"{kind.label} {path} is corrupt (nested more than {MAX_DEPTH} levels deep); "
                         f"{kind.fix}")
    if kind.form is not None:
        if not isinstance(data, dict) or data.get("format") != kind.form:
            raise kind.error(f"{path} is not a pytest-energy {kind.label} (no \"format\": \"{kind.form}\"); "
                             f"{kind.elsewhere}")
        version = data.get("version")
        number = isinstance(version, (int, float)) and not isinstance(version, bool)
        if not (number and version == kind.version):  # 1.0 is 1, as the schema's const says
            newer = number and version > (kind.version or 0)
            raise kind.error(f"{kind.label} {path} has schema version {show(version)}, this pytest-energy "
                             f"reads version {kind.version}; {'upgrade pytest-energy or ' if newer else ''}"
                             f"{kind.fix}")
    problem = check(data, kind)
    if problem:
        raise kind.error(f"{kind.label} {path} is malformed at {problem}; {kind.fix}")
    return data


def check(data: Any, kind: Kind) -> str | None:
    """What is wrong with ``data`` as a ``kind`` (``<field>: <problem>``), or None."""
    try:
        validate(data, kind.schema)
    except SchemaError as exc:
        return str(exc)
    return kind.extra(data) if kind.extra else None


def save(path: str, kind: Kind, data: dict[str, Any]) -> None:
    """Write ``data`` as ``kind`` (atomically) after the checks a load makes: a document
    that would be refused is not written (``kind.error``)."""
    text = json_text(data)
    problem = check(json.loads(text), kind)
    if problem:
        raise kind.error(f"{kind.label} {path} not written: it would be malformed at {problem}")
    write_text_atomic(path, text)
