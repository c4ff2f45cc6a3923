"""Find codecarbon's bundled data files without importing codecarbon (it is heavy)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def data_file(relative: str) -> Path | None:
    """Path of ``codecarbon/data/<relative>`` when the ``carbon`` extra is installed."""
    try:
        spec = importlib.util.find_spec("codecarbon")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "data" / relative
        if path.is_file():
            return path
    return None
