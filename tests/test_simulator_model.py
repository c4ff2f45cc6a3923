"""Energy model: formula, JSON round trip and validation, NNLS fit."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from pytest_energy.errors import InputError
from pytest_energy.measurement.simulator.counts import Counts
from pytest_energy.measurement.simulator.model import (
    DEFAULT_MODEL,
    ModelCoefficients,
    ModelError,
    cache_levels,
    fit,
    joules,
    nnls,
)
from pytest_energy.store.models import load_model, save_model


def make_counts(l1: int, ll: int, ram: int) -> Counts:
    """Counts with the given (L1 hits, LL hits, RAM accesses) split over the event kinds."""
    misses = ll + ram
    return Counts(
        ir=l1 + misses, d1mr=misses - ram // 2, d1mw=ram // 2, dlmr=ram - ram // 2, dlmw=ram // 2
    )


def test_formula() -> None:
    c = Counts(ir=1000, dr=400, dw=200, i1mr=10, d1mr=20, d1mw=5, ilmr=2, dlmr=3, dlmw=1)
    assert cache_levels(c) == (1600 - 35, 35 - 6, 6)
    m = ModelCoefficients(core_watts=12.0, clock_hz=2e9, joules_per_ram_access=30e-9)
    cycles = (1600 - 35) * 1 + 29 * 5 + 6 * 35
    assert m.cycles(c) == cycles
    assert joules(c, m) == pytest.approx(12.0 * cycles / 2e9 + 6 * 30e-9)
    assert joules(Counts()) == 0.0


def test_round_trip(tmp_path: Path) -> None:
    m = ModelCoefficients(core_watts=7.5, ll_hit_cycles=6.0, source="test")
    path = tmp_path / "model.json"
    save_model(str(path), m)
    assert load_model(str(path)) == m
    assert json.loads(path.read_text())["version"] == "sim-energy/1"
    save_model(str(path), DEFAULT_MODEL)
    assert load_model(str(path)) == DEFAULT_MODEL
    assert m.identity != DEFAULT_MODEL.identity and m.identity.startswith("sim-energy/1#")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"version": "sim-energy/99"}', 'at version: "sim-energy/99" is not one of "sim-energy/1"'),
        ('{"core_watts": 5}', "at version: is missing"),
        ('{"version": "sim-energy/1", "core_watts": -1}', "at core_watts: -1 is below 0"),
        ('{"version": "sim-energy/1", "core_watts": 1e9}', "at core_watts: 1e[+]09 is above 1000"),
        ('{"version": "sim-energy/1", "core_watts": NaN}', "NaN is not a number JSON allows"),
        ('{"version": "sim-energy/1", "core_watts": "10"}', 'core_watts: must be a number, not "10"'),
        ('{"version": "sim-energy/1", "clock_hz": 0}', "clock_hz: must be above 0, not 0"),
        ('{"version": "sim-energy/1", "watts": 3}', "at watts: is not a known field"),
        ("[1, 2]", "at the document: must be an object, not a list"),
        ("{not json", "is corrupt [(]invalid JSON"),
    ],
)
def test_validation(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "model.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as exc:
        load_model(str(path))
    assert "\n" not in str(exc.value) and "pytest-energy calibrate" in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="absent.json: no such file; give a file written by pytest-energy calibrate"):
        load_model(str(tmp_path / "absent.json"))


def _samples(truth: ModelCoefficients, n: int, noise: float, seed: int = 1):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        c = make_counts(
            rng.randint(10**6, 10**9), rng.randint(10**3, 10**7), rng.randint(10**2, 10**6)
        )
        out.append((c, truth.joules(c) * (1 + rng.gauss(0, noise))))
    return out


def test_fit_recovers_known_coefficients() -> None:
    truth = ModelCoefficients(core_watts=14.0, ll_hit_cycles=7.0, joules_per_ram_access=25e-9)
    got = fit(_samples(truth, 30, noise=0.0))
    assert got.core_watts == pytest.approx(14.0, rel=1e-6)
    assert got.ll_hit_cycles == pytest.approx(7.0, rel=1e-6)
    assert got.joules_per_ram_access == pytest.approx(25e-9, rel=1e-6)
    assert (got.l1_hit_cycles, got.ram_cycles, got.clock_hz) == (1.0, 35.0, 3e9)
    assert got.source.startswith("fit")


def test_fit_with_noise_and_active_constraint() -> None:
    truth = ModelCoefficients(core_watts=9.0, ll_hit_cycles=5.0, joules_per_ram_access=0.0)
    got = fit(_samples(truth, 200, noise=0.01))
    assert got.core_watts == pytest.approx(9.0, rel=0.02)
    assert got.ll_hit_cycles == pytest.approx(5.0, rel=0.2)
    assert got.joules_per_ram_access >= 0.0  # clamped, never negative
    assert got.joules_per_ram_access < 5e-9


def test_fit_rejects_too_few_or_bad_samples() -> None:
    with pytest.raises(ModelError, match="at least 3"):
        fit([(Counts(ir=1), 1.0)])
    with pytest.raises(ModelError, match="finite"):
        fit([(make_counts(10, 1, 1), math.nan)] * 3)


def test_nnls_small_problem() -> None:
    # Unconstrained solution would be x = (2, -1); NNLS must give x2 = 0.
    cols = [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
    b = [2.0, -1.0, 1.0]
    x = nnls(cols, b)
    assert x[1] == 0.0
    assert x[0] == pytest.approx(1.5)
    # Exact non-negative solution is recovered.
    assert nnls(cols, [1.0, 2.0, 3.0]) == pytest.approx([1.0, 2.0])
