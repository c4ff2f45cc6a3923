"""A fake Linux powercap tree with the kernel's layout, and a thread that drives it.

Layout as on a two-socket Intel server: zones live under
``devices/virtual/powercap/intel-rapl/intel-rapl:N[/intel-rapl:N:M]`` and
``class/powercap`` holds symlinks to every zone plus the ``intel-rapl`` control type.
Each zone has ``name``, ``energy_uj``, ``max_energy_range_uj``, ``enabled`` and
``constraint_0_*`` files.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SimZone:
    zone_id: str  # e.g. "intel-rapl:0:2" or "intel-rapl-mmio:0"
    name: str
    max_range_uj: int = 262_143_328_850
    watts: float = 0.0
    energy_uj: float = 0.0
    path: Path = field(default=Path())

    def write(self) -> None:
        value = int(self.energy_uj) % (self.max_range_uj + 1)
        tmp = self.path / f"energy_uj.{threading.get_ident()}.tmp"  # one per writing thread
        tmp.write_text(f"{value}\n")
        os.replace(tmp, self.path / "energy_uj")


def build_tree(base: Path, zones: list[SimZone]) -> Path:
    """Create the tree; returns the ``class/powercap`` directory to point the meter at."""
    base = Path(os.path.realpath(base))  # zone paths are compared with resolved read paths
    devices = base / "devices" / "virtual" / "powercap"
    klass = base / "class" / "powercap"
    klass.mkdir(parents=True)
    for control in {"intel-rapl", "intel-rapl-mmio"} & {z.zone_id.rsplit(":", 2)[0] for z in zones}:
        (devices / control).mkdir(parents=True, exist_ok=True)
        (devices / control / "enabled").write_text("1\n")
        os.symlink(os.path.relpath(devices / control, klass), klass / control)
    for zone in zones:
        control = zone.zone_id.split(":")[0]
        parts = zone.zone_id.split(":")
        parent = devices / control
        if len(parts) == 3:  # subzone: nested inside its package zone
            parent = parent / f"{control}:{parts[1]}"
        zone.path = parent / zone.zone_id
        zone.path.mkdir(parents=True, exist_ok=True)
        (zone.path / "name").write_text(zone.name + "\n")
        (zone.path / "max_energy_range_uj").write_text(f"{zone.max_range_uj}\n")
        (zone.path / "enabled").write_text("1\n")
        (zone.path / "constraint_0_name").write_text("long_term\n")
        (zone.path / "constraint_0_power_limit_uw").write_text("150000000\n")
        zone.write()
        os.symlink(os.path.relpath(zone.path, klass), klass / zone.zone_id)
    return klass


class PowerSim:
    """Advances every zone's counter at its ``watts``.

    A thread rewrites the files every ~1 ms for readers in other processes (xdist
    workers); :meth:`sync` brings one counter exactly up to date for a reader in this
    process, so in-process figures do not depend on how promptly the thread runs.
    """

    def __init__(self, zones: list[SimZone]) -> None:
        self.zones = zones
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def set_watts(self, zone_name: str, watts: float) -> None:
        with self._lock:
            self._advance()
            for zone in self.zones:
                if zone.name == zone_name:
                    zone.watts = watts

    def sync(self, energy_path: str) -> None:
        """Advance every counter to now and rewrite the one at ``energy_path``."""
        real = os.path.realpath(energy_path)
        with self._lock:
            self._advance(write=False)
            for zone in self.zones:
                if str(zone.path / "energy_uj") == real:
                    zone.write()

    def _advance(self, write: bool = True) -> None:
        now = time.perf_counter()
        for zone in self.zones:
            zone.energy_uj += zone.watts * 1e6 * (now - self._last)
            if write:
                zone.write()
        self._last = now

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            with self._lock:
                self._advance()

    def stop(self) -> None:
        """Stop the thread; counters then move only through :meth:`sync` or by hand."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> PowerSim:
        self._last = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: The simulator of the running test, for tests inside pytester runs to drive.
CURRENT: PowerSim | None = None


def two_socket_server() -> list[SimZone]:
    """Two packages with core/uncore/dram subzones, a psys zone and an mmio duplicate."""
    return [
        SimZone("intel-rapl:0", "package-0"),
        SimZone("intel-rapl:0:0", "core"),
        SimZone("intel-rapl:0:1", "uncore"),
        SimZone("intel-rapl:0:2", "dram"),
        SimZone("intel-rapl:1", "package-1"),
        SimZone("intel-rapl:1:0", "core"),
        SimZone("intel-rapl:1:1", "dram"),
        SimZone("intel-rapl:2", "psys"),
        SimZone("intel-rapl-mmio:0", "package-0"),
    ]
