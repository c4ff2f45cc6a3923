"""Carbon: joules to gCO2e with a grid intensity and a PUE."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from .codecarbon_data import data_file

JOULES_PER_KWH = 3.6e6
#: World average grid intensity (IEA, the fallback codecarbon uses), gCO2e/kWh.
WORLD_AVERAGE_G_PER_KWH = 475.0
#: Power usage effectiveness without a datacentre's overhead.
DEFAULT_PUE = 1.0


class CarbonError(ValueError):
    """Bad carbon settings; the message names the fix."""


@dataclass(frozen=True)
class Intensity:
    """Grid carbon intensity, the datacentre PUE, and where the intensity came from."""

    g_per_kwh: float = WORLD_AVERAGE_G_PER_KWH
    source: str = "world average (IEA)"
    pue: float = DEFAULT_PUE

    def co2_g(self, joules: float) -> float:
        """gCO2e for ``joules``: kWh x intensity x PUE."""
        return joules / JOULES_PER_KWH * self.g_per_kwh * self.pue

    def describe(self) -> str:
        """E.g. ``475 gCO2e/kWh (world average (IEA)), PUE 1``."""
        return f"{self.g_per_kwh:g} gCO2e/kWh ({self.source}), PUE {self.pue:g}"


def country_intensity(iso3: str) -> tuple[float, str]:
    """(gCO2e/kWh, source) for an ISO 3166 alpha-3 code, from codecarbon's energy mix."""
    path = data_file("private_infra/global_energy_mix.json")
    if path is None:
        raise CarbonError(
            f"--energy-country={iso3} needs codecarbon's data: pip install codecarbon "
            "(or give --energy-carbon-intensity=G_PER_KWH)"
        )
    try:
        with open(path, encoding="utf-8") as handle:
            mix = json.load(handle)
    except (OSError, ValueError) as exc:
        raise CarbonError(
            f"--energy-country={iso3}: cannot read codecarbon's {path} ({exc}); reinstall codecarbon "
            "or give --energy-carbon-intensity=G_PER_KWH"
        ) from None
    entry = mix.get(iso3.upper()) if isinstance(mix, dict) else None
    if not isinstance(entry, dict) or "carbon_intensity" not in entry:
        raise CarbonError(
            f"--energy-country={iso3}: unknown ISO3 country code; use a code such as FRA, DEU or USA"
        )
    value = entry["carbon_intensity"]
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < 0:
        raise CarbonError(
            f"--energy-country={iso3}: codecarbon's intensity {value!r} is not a number >= 0 gCO2e/kWh; "
            "give --energy-carbon-intensity=G_PER_KWH"
        )
    year = entry.get("year", "")
    name = entry.get("country_name", iso3.upper())
    return float(value), f"{name} {year}, codecarbon energy mix".replace("  ", " ")


def resolve_intensity(
    g_per_kwh: float | None, country: str | None, pue: float, region: Intensity | None = None,
) -> Intensity:
    """Intensity from an explicit figure, else a country, else a cloud region's grid, else
    the world average."""
    if pue < 1.0:
        raise CarbonError(f"--energy-pue={pue:g}: a PUE is at least 1.0")
    if g_per_kwh is not None:
        if g_per_kwh < 0:
            raise CarbonError(f"--energy-carbon-intensity={g_per_kwh:g}: must be >= 0 gCO2e/kWh")
        return Intensity(g_per_kwh, "--energy-carbon-intensity", pue)
    if country:
        value, source = country_intensity(country)
        return Intensity(value, source, pue)
    if region is not None:
        return Intensity(region.g_per_kwh, region.source, pue)
    return Intensity(pue=pue)
