from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import powercap_sim
import pytest

HERE = Path(__file__).parent


@pytest.fixture
def run_energy(pytester: pytest.Pytester) -> Callable[..., tuple[pytest.RunResult, dict[str, Any]]]:
    """Run pytester inline with --energy and a JSON file; returns (result, json)."""

    def run(*args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
        out = pytester.path / "energy.json"
        result = pytester.runpytest("--energy", f"--energy-json={out}", *args)
        data = json.loads(out.read_text()) if out.exists() else {}
        return result, data

    return run


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch):
    """The clock every window, deadline and budget reads, faked for this test (and the
    pytester runs inside it): it moves 1 ms per reading, and by what ``advance`` or
    ``sleep`` say. Work a test stands for is ``timing.clock.advance(seconds)``."""
    from pytest_energy import timing

    clock = timing.FakeClock(tick=0.001)
    monkeypatch.setattr(timing, "clock", clock)
    return clock


def by_test(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The JSON's tests keyed by test name (the part after '::')."""
    return {t["nodeid"].split("::")[-1]: t for t in data["tests"]}


@pytest.fixture
def powercap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Build a fake powercap tree; yields a function zones -> (root, PowerSim started).

    In-process reads of ``energy_uj`` go through the real file but are synced to the
    simulator first, so they are exact however the machine schedules threads.
    """
    from pytest_energy.measurement.meters import rapl

    sims: list[powercap_sim.PowerSim] = []
    read_file = rapl._read_text

    def read_synced(path: str, *timeout: float) -> str:
        if path.endswith("energy_uj"):
            for sim in sims:
                sim.sync(path)
        return read_file(path, *timeout)

    monkeypatch.setattr(rapl, "_read_text", read_synced)

    def make(zones: list[powercap_sim.SimZone]) -> tuple[Path, powercap_sim.PowerSim]:
        root = powercap_sim.build_tree(tmp_path / f"sys{len(sims)}", zones)
        sim = powercap_sim.PowerSim(zones).__enter__()
        sims.append(sim)
        monkeypatch.setattr(powercap_sim, "CURRENT", sim)
        return root, sim

    yield make
    for sim in sims:
        sim.__exit__()


@pytest.fixture
def fake_pynvml(monkeypatch: pytest.MonkeyPatch):
    """Install tests/fake_pynvml.py as ``pynvml`` for this test; returns the module."""
    spec = importlib.util.spec_from_file_location("pynvml", HERE / "fake_pynvml.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "pynvml", module)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return module


@pytest.fixture
def exact_meter(fake_pynvml):
    """The fake NVML meter with no background power: only ``pynvml.consume(mJ)`` counts."""
    fake_pynvml.GPUS[0]["watts"] = 0.0
    return fake_pynvml


@pytest.fixture
def fake_codecarbon(pytester: pytest.Pytester) -> Path:
    """A ``codecarbon`` package holding only the data files pytest-energy reads."""
    pkg = pytester.path / "fakesite" / "codecarbon"
    (pkg / "data" / "private_infra").mkdir(parents=True)
    (pkg / "data" / "hardware").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('pytest-energy must not import codecarbon')\n")
    (pkg / "data" / "private_infra" / "global_energy_mix.json").write_text(json.dumps({
        "FRA": {"carbon_intensity": 56.039, "country_name": "France", "iso_code": "FRA", "year": 2023},
        "DEU": {"carbon_intensity": 380.95, "country_name": "Germany", "iso_code": "DEU", "year": 2023},
    }))
    (pkg / "data" / "hardware" / "cpu_power.csv").write_text(
        "Name,TDP\nAMD EPYC 7763,280\nIntel Xeon Gold 6248,150\nCore i7-8700,65\n"
    )
    pytester.syspathinsert(pkg.parent)
    return pkg


@pytest.fixture(autouse=True)
def _fresh_tdp_lookup() -> None:
    """The TDP table is read once per process; tests swap codecarbon's data in between."""
    from pytest_energy.measurement.meters import estimate

    estimate._tdp_table.cache_clear()
    estimate.lookup_tdp.cache_clear()


@pytest.fixture(autouse=True)
def _lean_inner_runs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep unrelated third-party plugins (slow to re-import) out of pytester runs."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when created
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:benchmark -p no:randomly")


@pytest.fixture(scope="session")
def sample_documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """A results file, a baseline and an ab file as the plugin writes them
    (tests/document_samples.py): made once per session, copy before changing."""
    import document_samples

    return document_samples.make_documents(tmp_path_factory.mktemp("documents"))
