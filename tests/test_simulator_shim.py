"""Building the shim: caching, atomic replace, one-line errors naming the fix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_energy.measurement.simulator.launch import check_tools
from pytest_energy.measurement.simulator.shim import (
    CACHE_ENV,
    INCLUDE_ENV,
    Shim,
    SimulatorUnavailable,
    build_shim,
)


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _one_line(exc: pytest.ExceptionInfo[SimulatorUnavailable]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 300
    return msg


def test_build_is_cached_and_leaves_no_temp_files(_cache: Path) -> None:
    first = build_shim()
    assert first.parent == _cache and first.suffix == ".so"
    mtime = first.stat().st_mtime_ns
    assert build_shim() == first and first.stat().st_mtime_ns == mtime
    assert [p.name for p in _cache.iterdir()] == [first.name]
    shim = Shim(first)
    assert shim.running_on_valgrind() == 0  # plain pytest process
    shim.zero_stats()  # client requests are no-ops outside valgrind
    shim.start_instrumentation()
    shim.stop_instrumentation()
    shim.dump_stats_at(b"x")


def test_missing_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.raises(SimulatorUnavailable) as exc:
        build_shim()
    assert "install" in _one_line(exc) and "gcc" in str(exc.value)


def test_no_compiler_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # empty directory
    with pytest.raises(SimulatorUnavailable) as exc:
        build_shim()
    assert "no C compiler found" in _one_line(exc)


def test_missing_header(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(INCLUDE_ENV, str(tmp_path / "no-include"))
    with pytest.raises(SimulatorUnavailable) as exc:
        build_shim()
    assert "apt-get install valgrind" in _one_line(exc)


def test_failing_compiler(monkeypatch: pytest.MonkeyPatch, _cache: Path) -> None:
    monkeypatch.setenv("CC", "false")
    with pytest.raises(SimulatorUnavailable) as exc:
        build_shim()
    assert "building the callgrind shim failed" in _one_line(exc)
    assert not any(_cache.iterdir())  # temp file removed, nothing half-built left


def test_not_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    for call in (build_shim, check_tools):
        with pytest.raises(SimulatorUnavailable) as exc:
            call()
        assert "Linux-only" in _one_line(exc)
