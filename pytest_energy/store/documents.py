"""Results and ab documents: loading and checking the files ``--energy-json`` and
``pytest-energy ab --json`` write (writing is :func:`~pytest_energy.store.files.write_json_atomic`)."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InputError
from ..runs import AB_FORMAT, RESULTS_FORMAT, AbRecord, RunRecord
from .files import reject_non_finite


def load_document(path: str, form: str, kind: str, writer: str) -> dict[str, Any]:
    """A JSON document of ``"format": form`` (a ``kind``, written by ``writer``);
    :class:`InputError` naming what is wrong."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle, parse_constant=reject_non_finite)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; give a {kind} written by {writer}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    except (ValueError, RecursionError) as exc:
        reason = exc if isinstance(exc, ValueError) else "nested too deeply"
        raise InputError(f"{path}: not valid JSON ({reason}); give a {kind} written by {writer}") from None
    if not isinstance(data, dict) or data.get("format") != form:
        raise InputError(f"{path}: not a pytest-energy {kind} (no \"format\": \"{form}\"); "
                         f"give a {kind} written by {writer}")
    return data


def load_results(path: str) -> RunRecord:
    """Read and check a results file written by ``--energy-json``."""
    data = load_document(path, RESULTS_FORMAT, "results file", "--energy-json")
    if not isinstance(data.get("tests"), list):
        raise InputError(f"{path}: has no list of tests; give a file written by --energy-json")
    try:
        return RunRecord.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(
            f"{path}: a test entry is malformed ({type(exc).__name__}: {exc}); re-run to write it again"
        ) from None


def load_ab(path: str) -> AbRecord:
    """Read and check a file written by ``pytest-energy ab --json``."""
    data = load_document(path, AB_FORMAT, "ab file", "pytest-energy ab --json")
    try:
        return AbRecord.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path}: a test entry is malformed ({type(exc).__name__}: {exc})") from None

