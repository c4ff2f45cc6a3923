"""RAPL read straight from Linux powercap (``/sys/class/powercap``).

Counted: one ``package-N`` zone per socket plus ``dram`` zones. ``psys`` (the whole
SoC, which includes the packages) is used only when there is no package zone, never
added to them. ``intel-rapl-mmio`` zones that repeat a package are not counted twice.
``energy_uj`` wraps to 0 after ``max_energy_range_uj``: every read folds the delta
modulo the range into a 64-bit total, and a poller thread reads often enough that no
window can hide a second wrap; a gap long enough to hide one is reported as a warning.
A counter that steps back by less than half its range is a glitch, not a wrap (a wrap
steps back by nearly the whole range): it counts 0 and is reported as a warning, and the
last good value stays the base, so the counter's return to it charges no window; a counter
that moves on from the lower value was re-based there, and counts from it.
Only regular files of a few bytes are read, with a timeout while the zones are found: a
FIFO, a device or a directory where a file should be makes RAPL unavailable in one line.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass

from ...store.files import RefusedFile, read_text_bounded
from . import Meter, MeterOptions, MeterUnavailable, Reading

ZONE_RE = re.compile(r"^intel-rapl(?P<mmio>-mmio)?:(?P<socket>\d+)(?::(?P<sub>\d+))?$")
#: No RAPL zone draws more; it bounds how fast a counter can wrap.
MAX_ZONE_WATTS = 500.0
#: Longest sleep of the poller, whatever the range.
MAX_POLL_INTERVAL_S = 30.0
PERMISSION_FIX = (
    "Linux >= 5.10 lets only root read energy_uj (CVE-2020-8694); fix: "
    "sudo chmod -R a+r /sys/class/powercap/intel-rapl (until reboot) or a udev rule, "
    "or run pytest as root"
)
#: powercap files hold a name or a number: anything longer is not one.
MAX_FILE_BYTES = 4096
#: How long finding the zones waits for one file (sysfs reads can block).
DISCOVERY_TIMEOUT_S = 2.0


def _read_text(path: str, timeout_s: float | None = None) -> str:
    """A powercap file's text, stripped; :class:`RefusedFile` for anything but a small
    regular UTF-8 file (or, with ``timeout_s``, a read that does not answer)."""
    return read_text_bounded(path, MAX_FILE_BYTES, timeout_s).strip()


def refused(exc: RefusedFile) -> MeterUnavailable:
    """The one line for a powercap file that is not what powercap holds."""
    return MeterUnavailable(f"cannot read {exc}; check the powercap root or pick another meter")


@dataclass
class Zone:
    """One counted powercap zone and its extended (never wrapping) total."""

    domain: str
    energy_path: str
    range_uj: int
    last_raw: int = 0
    total_uj: int = 0
    #: The lowest value read since the counter stepped back below ``last_raw`` (None: it has not).
    low_raw: int | None = None


def find_zones(root: str) -> list[Zone]:
    """The zones to count under ``root``; raises :class:`MeterUnavailable`."""
    if not os.path.isdir(root):
        what = "is not a directory" if os.path.lexists(root) else "not found"
        raise MeterUnavailable(
            f"absent ({root} {what}; in a container set PYTEST_ENERGY_POWERCAP_ROOT "
            "to where the host's powercap is mounted)"
        )
    packages: dict[str, Zone] = {}
    mmio: dict[str, Zone] = {}
    dram: list[Zone] = []
    psys: list[Zone] = []
    for entry in sorted(os.listdir(root)):
        match = ZONE_RE.match(entry)
        if not match:
            continue
        path = os.path.join(root, entry)
        try:
            name = _read_text(os.path.join(path, "name"), DISCOVERY_TIMEOUT_S)
            range_text = _read_text(os.path.join(path, "max_energy_range_uj"), DISCOVERY_TIMEOUT_S)
        except PermissionError as exc:
            raise MeterUnavailable(f"no permission to read {exc.filename}; {PERMISSION_FIX}") from exc
        except RefusedFile as exc:
            raise refused(exc) from None
        except OSError:
            continue
        range_uj = _positive_int(range_text)
        if range_uj is None:
            raise MeterUnavailable(
                f"unusable {os.path.join(path, 'max_energy_range_uj')}: {range_text!r} (expected a whole "
                "number of microjoules above 0); check the powercap root or pick another meter"
            )
        socket = match["socket"]
        if name == "dram" and not match["mmio"]:
            dram.append(Zone(f"dram-{socket}", os.path.join(path, "energy_uj"), range_uj))
        elif match["sub"] is None and name.startswith("package"):
            target = mmio if match["mmio"] else packages
            target.setdefault(name, Zone(name, os.path.join(path, "energy_uj"), range_uj))
        elif match["sub"] is None and name == "psys" and not match["mmio"]:
            psys.append(Zone("psys", os.path.join(path, "energy_uj"), range_uj))
    for name, zone in mmio.items():
        packages.setdefault(name, zone)
    counted = list(packages.values()) or psys
    if not counted:
        raise MeterUnavailable(f"absent (no RAPL package or psys zone under {root})")
    return counted + dram


def _positive_int(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value > 0 else None


class RaplMeter(Meter):
    """Cumulative joules per RAPL domain, wraparound handled."""

    name = "rapl"
    min_window_s = 0.1
    #: energy_uj updates about every millisecond.
    resolution_s = 0.001

    def __init__(self, zones: list[Zone]) -> None:
        self.zones = zones
        self._lock = threading.Lock()
        self._warnings: list[str] = []
        self._long_gaps = 0
        self._longest_gap_s = 0.0
        self._backward_steps = 0
        self._largest_step_uj = 0
        safe_gap_s = min(z.range_uj for z in zones) / 1e6 / MAX_ZONE_WATTS
        self._safe_gap_s = safe_gap_s
        self._last_poll = time.monotonic()
        for zone in zones:
            zone.last_raw = self._read_raw(zone, DISCOVERY_TIMEOUT_S)
        self._stop = threading.Event()
        self._poller = threading.Thread(
            target=self._poll_forever, args=(min(MAX_POLL_INTERVAL_S, safe_gap_s / 4),),
            name="pytest-energy-rapl-poller", daemon=True,
        )
        self._poller.start()

    @staticmethod
    def _read_raw(zone: Zone, timeout_s: float | None = None) -> int:
        try:
            return int(_read_text(zone.energy_path, timeout_s))
        except PermissionError as exc:
            raise MeterUnavailable(f"no permission to read {zone.energy_path}; {PERMISSION_FIX}") from exc
        except RefusedFile as exc:
            raise refused(exc) from None
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not a whole number"
            raise MeterUnavailable(f"cannot read {zone.energy_path}: {reason}") from None

    def _poll(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last_poll > self._safe_gap_s:
                self._long_gaps += 1
                self._longest_gap_s = max(self._longest_gap_s, now - self._last_poll)
            self._last_poll = now
            for zone in self.zones:
                self._advance(zone, self._read_raw(zone))

    def _advance(self, zone: Zone, raw: int) -> None:
        """Fold one counter value into the zone's total (under the lock)."""
        back = zone.last_raw - raw
        if not 0 < back < zone.range_uj / 2:  # forward, or a wrap (back by nearly the range)
            zone.total_uj += (raw - zone.last_raw) % (zone.range_uj + 1)
            zone.last_raw, zone.low_raw = raw, None
        elif zone.low_raw is not None and raw > zone.low_raw:  # moving on below the base: re-based
            zone.total_uj += raw - zone.low_raw
            zone.last_raw, zone.low_raw = raw, None
        else:  # a glitch (one, however often it is read): counts 0, the last good value stays the base
            if zone.low_raw is None:
                self._backward_steps += 1
            self._largest_step_uj = max(self._largest_step_uj, back)
            zone.low_raw = raw

    def _poll_forever(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self._poll()
            except MeterUnavailable as exc:
                self._warnings.append(f"rapl: poller stopped: {exc}")
                return

    def read(self) -> Reading:
        """Joules per domain since the meter was opened."""
        self._poll()
        return {zone.domain: zone.total_uj / 1e6 for zone in self.zones}

    def describe(self) -> str:
        """E.g. ``rapl (package-0, package-1, dram-0)``."""
        return f"rapl ({', '.join(z.domain for z in self.zones)})"

    def warnings(self) -> list[str]:
        """Possible missed wraps and poller failures seen so far."""
        found = list(self._warnings)
        if self._backward_steps:
            found.append(
                f"rapl: {self._backward_steps} backward step(s) of a counter (largest "
                f"{self._largest_step_uj} uJ) counted as 0, not as wraps"
            )
        if self._long_gaps:
            found.append(
                f"rapl: {self._long_gaps} gap(s) between counter reads (longest "
                f"{self._longest_gap_s:.3f} s) exceeded the {self._safe_gap_s:.3f} s in which a "
                "counter can wrap; figures spanning them may miss a wrap"
            )
        return found

    def close(self) -> None:
        """Stop the poller."""
        self._stop.set()
        self._poller.join(timeout=1.0)


def open_meter(options: MeterOptions) -> RaplMeter:
    """Open RAPL under the configured powercap root."""
    return RaplMeter(find_zones(options.powercap_root))
