"""Model files of the simulated meter, written by ``pytest-energy calibrate``: loading and
saving them through :mod:`pytest_energy.store.loader` (schema ``model.schema.json``)."""

from __future__ import annotations

from ..measurement.simulator.model import ModelCoefficients, ModelError
from . import loader
from .loader import MODEL


def load_model(path: str) -> ModelCoefficients:
    """Read a model file written by ``pytest-energy calibrate``; :class:`InputError` naming
    the file, the field and the fix."""
    data = loader.read(path, MODEL)
    assert data is not None
    try:
        return ModelCoefficients(**data)
    except ModelError as exc:  # the schema holds every rule: a backstop
        raise MODEL.error(f"{MODEL.label} {path} is malformed ({exc}); {MODEL.fix}") from None


def save_model(path: str, model: ModelCoefficients) -> None:
    """Write a model file, checked as :func:`load_model` checks it."""
    loader.save(path, MODEL, model.to_dict())
