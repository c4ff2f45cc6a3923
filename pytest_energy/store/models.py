"""Model files of the simulated meter, written by ``pytest-energy calibrate``: loading and checking."""

from __future__ import annotations

import json

from ..errors import InputError
from ..measurement.simulator.model import ModelCoefficients, ModelError
from .files import reject_non_finite


def load_model(path: str) -> ModelCoefficients:
    """Read a model file written by ``pytest-energy calibrate``; :class:`InputError` naming
    what is wrong."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle, parse_constant=reject_non_finite)
    except OSError as exc:
        raise InputError(f"cannot read model file {path}: {exc.strerror or exc}; "
                         "give a file written by pytest-energy calibrate") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"model file {path} is not valid JSON ({exc}); "
                         "give a file written by pytest-energy calibrate") from None
    try:
        return ModelCoefficients.from_dict(data)
    except (ModelError, TypeError) as exc:
        raise InputError(f"model file {path}: {exc}; re-create it with pytest-energy calibrate") from None
