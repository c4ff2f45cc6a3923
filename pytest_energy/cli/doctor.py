"""``pytest-energy doctor``: what this machine can measure, and how to fix what it cannot."""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..measurement.carbon import Intensity
from ..measurement.codecarbon_data import data_file
from ..measurement.meters import MeterOptions, MeterUnavailable, open_meter
from ..measurement.meters.estimate import core_watts, cpu_model
from ..measurement.meters.rapl import PERMISSION_FIX, ZONE_RE
from ..settings import POWERCAP_ENV
from ..store.files import RefusedFile

CONTAINER_HINT = (
    "in a container, mount the host's /sys/class/powercap (read-only) and point "
    "PYTEST_ENERGY_POWERCAP_ROOT or --energy-powercap-root at it"
)


@dataclass
class Finding:
    """One meter's state: usable or not, what was seen, and the fix."""

    meter: str
    usable: bool
    summary: str
    details: list[str] = field(default_factory=list)
    fix: str = ""


def _zones(root: str) -> list[str]:
    """One line per powercap zone: its name and whether ``energy_uj`` can be read (only
    small regular files are read, each given up after a timeout: a FIFO cannot hang it)."""
    from ..measurement.meters import rapl  # at call time: the module the meter itself reads with

    lines = []
    for entry in sorted(os.listdir(root)):
        if not ZONE_RE.match(entry):
            continue
        path = os.path.join(root, entry)
        try:
            name = rapl._read_text(os.path.join(path, "name"), rapl.DISCOVERY_TIMEOUT_S)
        except RefusedFile as exc:
            name = f"name {exc.strerror}"
        except OSError:
            name = "?"
        try:
            int(rapl._read_text(os.path.join(path, "energy_uj"), rapl.DISCOVERY_TIMEOUT_S))
            state = "energy_uj readable"
        except PermissionError:
            state = "energy_uj root-only"
        except RefusedFile as exc:
            state = f"energy_uj refused: {exc.strerror}"
        except (OSError, ValueError) as exc:
            state = f"energy_uj unreadable ({getattr(exc, 'strerror', None) or 'not a number'})"
        lines.append(f"{entry} ({name}): {state}")
    return lines


def check_rapl(root: str) -> Finding:
    """RAPL through powercap under ``root``."""
    if not os.path.isdir(root):
        what = "is not a directory" if os.path.lexists(root) else "not found"
        return Finding("rapl", False, f"absent: {root} {what}", fix=CONTAINER_HINT)
    zones = _zones(root)
    return _try_meter(
        "rapl", MeterOptions(powercap_root=root), zones,
        lambda why: PERMISSION_FIX if "permission" in why else "" if zones else CONTAINER_HINT,
    )


def check_nvml() -> Finding:
    """NVIDIA GPUs through NVML."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    details = [f"CUDA_VISIBLE_DEVICES={visible}"] if visible is not None else []
    return _try_meter(
        "nvml", MeterOptions(), details,
        lambda why: "pip install nvidia-ml-py" if "library missing" in why else "",
    )


def _try_meter(name: str, options: MeterOptions, details: list[str], fix: Callable[[str], str]) -> Finding:
    """Open the meter: usable with its description, or not with the reason and ``fix(reason)``."""
    try:
        meter = open_meter(name, options)
    except MeterUnavailable as exc:
        return Finding(name, False, str(exc), details, fix(str(exc)))
    try:
        return Finding(name, True, meter.describe(), details)
    finally:
        meter.close()


def check_estimate() -> Finding:
    """The estimate: always usable, modelled, with where its watts come from."""
    watts, source = core_watts(MeterOptions())
    details = [f"CPU model: {cpu_model() or 'unknown'}", f"{watts:.3g} W per busy core: {source}"]
    if data_file("hardware/cpu_power.csv") is None:
        details.append("TDP table: none (codecarbon's: pip install codecarbon)")
    return Finding("estimate", True, "modelled figures, labelled 'estimate'", details)


def check_simulated() -> Finding:
    """The simulated meter: usable where valgrind, setarch and a C compiler are (builds its shim)."""
    from ..measurement.simulator.launch import check_tools
    from ..measurement.simulator.shim import SimulatorUnavailable

    try:
        check_tools()
    except SimulatorUnavailable as exc:
        return Finding("simulated", False, str(exc))
    return Finding("simulated", True, "valgrind's counts through a model, labelled 'simulated' "
                   "(--energy-meter=simulated: the same figure on every run)")


def diagnose(powercap_root: str) -> dict[str, Any]:
    """Every finding, the carbon intensity in use by default, and whether a real meter works."""
    findings = [check_rapl(powercap_root), check_nvml(), check_estimate(), check_simulated()]
    intensity = Intensity()
    countries = data_file("private_infra/global_energy_mix.json") is not None
    return {
        "real_meter": any(f.usable for f in findings if f.meter in ("rapl", "nvml")),
        "meters": [asdict(f) for f in findings],
        "carbon": {
            "intensity": intensity.describe(),
            "countries": "available (--energy-country=ISO3)" if countries
            else "not installed (pip install codecarbon)",
        },
    }


def render(report: dict[str, Any]) -> str:
    """The report as lines for a terminal."""
    lines = []
    for finding in report["meters"]:
        lines.append(f"{finding['meter']}: {'OK' if finding['usable'] else 'NO'} - {finding['summary']}")
        lines += [f"    {detail}" for detail in finding["details"]]
        if finding["fix"]:
            lines.append(f"    fix: {finding['fix']}")
    lines.append(f"carbon: {report['carbon']['intensity']}; country data {report['carbon']['countries']}")
    verdict = "a real meter is usable" if report["real_meter"] else "no real meter: figures will be estimates"
    simulated = next((f for f in report["meters"] if f["meter"] == "simulated"), None)
    if not report["real_meter"] and simulated and simulated["usable"]:
        verdict += "; for pull-request verdicts use --energy-meter=simulated (valgrind is here)"
    lines.append(f"verdict: {verdict}")
    return "\n".join(re.sub(r"\s+$", "", line) for line in lines)


def run(args: argparse.Namespace) -> int:
    """``pytest-energy doctor``: exit status 0 when a real meter is usable, 1 otherwise."""
    root = args.powercap_root or os.environ.get(POWERCAP_ENV) or "/sys/class/powercap"
    report = diagnose(root)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if report["real_meter"] else 1
