"""``pytest-energy calibrate``: the model fitted to (counts, joules) pairs, written as a model file."""

from __future__ import annotations

import json

import pytest
from simulator_helpers import needs_valgrind

from pytest_energy.cli import main
from pytest_energy.measurement.simulator.counts import Counts
from pytest_energy.measurement.simulator.model import ModelCoefficients
from pytest_energy.store.models import load_model


def samples_from(truth: ModelCoefficients) -> list[dict]:
    """Pairs as RAPL would give them on a machine that follows ``truth`` exactly."""
    shapes = [(9_000_000, 20_000, 1_000), (4_000_000, 300_000, 5_000), (2_000_000, 50_000, 200_000),
              (6_000_000, 600_000, 90_000), (1_000_000, 10_000, 400_000), (8_000_000, 100_000, 30_000)]
    samples = []
    for l1, ll, ram in shapes:
        counts = Counts(ir=l1 + ll + ram, d1mr=ll + ram, dlmr=ram)
        samples.append({"counts": counts.to_dict(), "joules": truth.joules(counts)})
    return samples


def test_the_fit_recovers_known_coefficients_and_writes_a_usable_model(tmp_path, capsys):
    truth = ModelCoefficients(core_watts=14.0, ll_hit_cycles=7.0, joules_per_ram_access=35e-9)
    samples = tmp_path / "samples.json"
    samples.write_text(json.dumps({"format": "pytest-energy-calibration-samples", "version": 1,
                                   "samples": samples_from(truth)}))
    out = tmp_path / "model.json"
    assert main(["calibrate", "--samples", str(samples), "-o", str(out)]) == 0
    model = load_model(str(out))
    assert model.core_watts == pytest.approx(14.0, rel=1e-6)
    assert model.ll_hit_cycles == pytest.approx(7.0, rel=1e-6)
    assert model.joules_per_ram_access == pytest.approx(35e-9, rel=1e-6)
    assert model.source == "fit: NNLS on 6 samples"
    printed = capsys.readouterr().out
    assert f"model {model.identity}" in printed and "--energy-model=" in printed


def test_without_rapl_one_line_naming_the_way_out(tmp_path, capsys):
    out = tmp_path / "model.json"
    status = main(["calibrate", "--powercap-root", str(tmp_path / "none"), "-o", str(out)])
    assert status == 2 and not out.exists()
    error = capsys.readouterr().err.strip()
    assert error.startswith("pytest-energy calibrate: error: calibrate fits the model to RAPL, which is unavailable")
    assert "--samples FILE" in error and "\n" not in error


@pytest.mark.parametrize(("content", "message"), [
    ('{"format": "pytest-energy-calibration-samples", "version": 1, "samples": [{"joules": 1}]}',
     'is malformed at samples[0].counts: is missing'),
    ('{"format": "other"}', "not a pytest-energy samples file"),
    ('{"format": "pytest-energy-calibration-samples", "version": 1, "samples": []}',
     "cannot fit the model: fit needs at least 3"),
])
def test_bad_samples_are_one_line(tmp_path, capsys, content, message):
    samples = tmp_path / "samples.json"
    samples.write_text(content)
    assert main(["calibrate", "--samples", str(samples), "-o", str(tmp_path / "m.json")]) == 2
    assert message in capsys.readouterr().err


@needs_valgrind
def test_the_workloads_are_counted_under_the_simulator():
    from pytest_energy.cli.calibrate import count_workloads
    from pytest_energy.measurement.simulator.model import cache_levels

    counts = count_workloads()
    assert set(counts) == {"loop", "sort_floats", "json_round_trip", "dict_and_set", "random_reads", "copy_block"}
    ram_share = {name: cache_levels(c)[2] / c.ir for name, c in counts.items()}
    assert ram_share["random_reads"] > 20 * ram_share["loop"]  # the fit needs workloads that differ
