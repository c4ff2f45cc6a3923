"""Software Carbon Intensity in the terminal: the header's terms with their sources, the
session's figure, and a table per test (see :mod:`pytest_energy.measurement.sci`)."""

from __future__ import annotations

from ..measurement.carbon import Intensity
from ..measurement.sci import FUNCTIONAL_UNIT, SESSION_UNIT, Sci, Site, total
from ..results import TestResult
from ..units import si
from .text import fitted_table


def idle_text(site: Site, meter: str, measured_watts: float) -> str:
    """Where E's idle power of the reserved hardware comes from, by meter."""
    parts = []
    if any(name != "estimate" for name in meter.split("+")):
        parts.append(f"{measured_watts:.3g} W measured by the real meters")
    if "estimate" in meter.split("+"):
        parts.append(f"{site.estimate_idle.value:.3g} W: {site.estimate_idle.source}")
    return "; ".join(parts)


SCI_SECTION = f"energy: Software Carbon Intensity per test, R = {FUNCTIONAL_UNIT}"


def header_lines(
    site: Site, intensity: Intensity, meter: str, modelled: bool, measured_watts: float,
) -> list[str]:
    """The formula and every term with its source."""
    where = f" (region from {site.region_source})" if site.region_source else ""
    embodied, lifespan, share = site.embodied_kg, site.lifespan_years, site.share
    return [
        f"energy: SCI = E x I x PUE + M per R (ISO/IEC 21031:2024), R = {FUNCTIONAL_UNIT}"
        + (f" -- modelled: E comes from the {meter} meter" if modelled else ""),
        f"energy: SCI E = the {meter} figure + idle power of the reserved hardware x time "
        f"({idle_text(site, meter, measured_watts)}); I = {intensity.g_per_kwh:g} gCO2e/kWh "
        f"({intensity.source}){where}; PUE {intensity.pue:g} ({site.pue_source})",
        f"energy: SCI M = {embodied.value:g} kgCO2e ({embodied.source}) x time / {lifespan.value:g} years "
        f"({lifespan.source}) x share {share.value:.3g} ({share.source})",
    ]


def _grams(value: float) -> str:
    return si(value, "g")


def summary_line(results: list[TestResult]) -> str | None:
    """The session's SCI (:data:`~pytest_energy.measurement.sci.SESSION_UNIT`), or None."""
    measured = [r for r in results if r.sci is not None]
    if not measured:
        return None
    session = total([r.sci for r in measured if r.sci is not None])
    label = f", modelled ({session.meter})" if session.modelled else f" ({session.meter})"
    candidates = sum(1 for r in measured if r.candidate)
    count = (f"{len(measured)}: {len(measured) - candidates} tests' figures and {candidates} candidates'"
             if candidates else str(len(measured)))
    return (f"energy: SCI {_grams(session.sci_g)}CO2e for {SESSION_UNIT} ({count}) = operational "
            f"{_grams(session.operational_g)} + embodied {_grams(session.embodied_g)}{label}")


def _row(nodeid: str, sci: Sci) -> list[str]:
    share = sci.embodied_g / sci.sci_g if sci.sci_g > 0 else 0.0
    return [nodeid, si(sci.energy_j, "J"), si(sci.seconds, "s"), _grams(sci.operational_g),
            _grams(sci.embodied_g), _grams(sci.sci_g), f"{share:.0%}", "modelled" if sci.modelled else ""]


def sci_table(results: list[TestResult], top: int | None, width: int | None) -> str:
    """The tests with the highest SCI per call (all when ``top`` is None)."""
    ranked = sorted((r for r in results if r.sci is not None), key=lambda r: -(r.sci.sci_g if r.sci else 0.0))
    shown = ranked if top is None else ranked[:top]
    rows = [_row(r.nodeid, r.sci) for r in shown if r.sci is not None]
    headers = ["test", "E (J)", "time", "operational", "embodied", "SCI gCO2e", "embodied share", ""]
    table = fitted_table(rows, headers, width, (0,))
    hidden = len(ranked) - len(shown)
    return table + (f"\n... {hidden} more tests (-v lists all)" if hidden else "")
