"""Software Carbon Intensity (ISO/IEC 21031:2024, Green Software Foundation) per test.

``SCI = (O + M) per R``. Operational ``O = E x I x PUE``: E the energy of the hardware
reserved during the call (the test's figure plus the idle power of that hardware), I the
location-based grid intensity, PUE the datacentre's overhead. Embodied ``M = TE x (time
reserved / expected lifespan) x (resources reserved / total resources)``. R, the functional
unit, is one call of the test; a session's figure is the sum over its measured tests (one
call of each).

Where the run happens (``--energy-cloud``, ``--energy-region``, ``--energy-instance``, or a
CI's environment, :data:`REGION_ENV`) picks terms from the files in ``data/`` (Cloud Carbon
Footprint's coefficients, the providers' region lists, codecarbon's grid intensities; each
names its source and licence, and ``scripts/regenerate_sci_data.py`` rebuilds them).
Without them: the machine's own figures and the defaults below. Every term names its source.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from .carbon import DEFAULT_PUE, CarbonError, Intensity, resolve_intensity

DATA = Path(__file__).with_name("data")
CLOUDS = ("aws", "gcp", "azure")
FUNCTIONAL_UNIT = "one call of the test"
SESSION_UNIT = "one call of each measured test"
#: CCF's server lifespan: 35,040 hours; a year is 8,760 hours, as there.
YEAR_S = 8760 * 3600.0
DEFAULT_LIFESPAN_YEARS = 4.0
#: A general-purpose two-socket server in Cloud Carbon Footprint's coefficients (e.g. the
#: Azure D2-D64 v4 family's host: 1,432.9 kgCO2e).
DEFAULT_EMBODIED_KG = 1433.0
#: Environment variables that tell the region, by cloud, in the order read (CLI > these).
REGION_ENV = {"aws": ("AWS_REGION", "AWS_DEFAULT_REGION"), "gcp": ("CLOUDSDK_COMPUTE_REGION",),
              "azure": ("AZURE_DEFAULTS_LOCATION",)}
#: Set by AWS CodeBuild: the run is on AWS, in the region of this ARN.
CODEBUILD_ENV = "CODEBUILD_BUILD_ARN"


class SciError(CarbonError):
    """A bad SCI setting; the message is one line naming the fix."""


@dataclass(frozen=True)
class Term:
    """One term's value and where it came from."""

    value: float
    source: str


@dataclass(frozen=True)
class Instance:
    """A cloud instance type as Cloud Carbon Footprint describes it."""

    cloud: str
    name: str
    vcpus: int
    #: GB (None: not in the data).
    memory_gb: float | None
    #: kgCO2e of the host server (TE).
    embodied_kg: float
    #: vCPUs of the family's largest size: the whole host (total resources).
    host_vcpus: int
    #: GB of memory whose power the watts per vCPU do not already include.
    charged_memory_gb: float | None


@dataclass(frozen=True)
class Site:
    """Where the run happens and the SCI terms that follow, each with its source."""

    cloud: str | None = None
    region: str | None = None
    #: The option or CI environment variable that told the region.
    region_source: str = ""
    instance: Instance | None = None
    embodied_kg: Term = Term(DEFAULT_EMBODIED_KG, "default: a general-purpose server in Cloud Carbon "
                                                  "Footprint's coefficients")
    lifespan_years: Term = Term(DEFAULT_LIFESPAN_YEARS, "default: 4 years, as Cloud Carbon Footprint")
    share: Term = Term(1.0, "default: the run reserves the whole machine")
    pue_source: str = "default: no datacentre overhead"
    #: Idle power of the reserved hardware that the estimate meter leaves out (the instance's
    #: vCPUs at their minimum watts and its memory); real meters measure theirs.
    estimate_idle: Term = Term(0.0, "the estimate has no idle part (--energy-instance models one)")
    #: Watts per busy vCPU above idle from the instance (None: the estimate's own figure).
    busy_vcpu_watts: Term | None = None
    #: True when any SCI option or CI variable set a term (the terminal then lists every test).
    configured: bool = False

    def embodied_g(self, seconds: float) -> float:
        """M for ``seconds`` of the hardware reserved."""
        lifespan_s = self.lifespan_years.value * YEAR_S
        return self.embodied_kg.value * 1000.0 * seconds / lifespan_s * self.share.value

    def sci(
        self, joules: float, seconds: float, idle_watts: float, intensity: Intensity, meter: str,
        modelled: bool, workers: int = 1,
    ) -> Sci:
        """The SCI of one functional unit: ``joules`` attributed, ``idle_watts`` of the reserved
        hardware; ``workers`` processes measuring side by side (xdist) share that hardware."""
        idle = idle_watts / workers
        energy = joules + idle * seconds
        operational = intensity.co2_g(energy)
        return Sci(energy, seconds, idle, operational, self.embodied_g(seconds) / workers, meter, modelled,
                   intensity.co2_g(1.0), self.embodied_g(1.0) / workers)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON: every term with its source."""
        return asdict(self)


@dataclass(frozen=True)
class Sci:
    """O, M and SCI of one functional unit (:data:`FUNCTIONAL_UNIT`), with what they came from."""

    #: E before PUE: the test's joules plus the reserved hardware's idle power over the time.
    energy_j: float
    #: Time reserved, seconds (the simulated meter's: its modelled cycles / clock).
    seconds: float
    idle_watts: float
    operational_g: float
    embodied_g: float
    #: The meter of E.
    meter: str
    #: E is modelled (estimate or simulated meter), not measured.
    modelled: bool
    #: Operational gCO2e per joule (I x PUE) and embodied gCO2e per second reserved: what
    #: :meth:`at` needs (0 in a session's sum and in files written before them).
    g_per_j: float = 0.0
    embodied_g_per_s: float = 0.0

    def at(self, joules: float, seconds: float) -> float:
        """gCO2e of one call of this test that measured ``joules`` in ``seconds``: the same
        site, intensity and idle power (a round's SCI per call, from its joules and time)."""
        return (joules + self.idle_watts * seconds) * self.g_per_j + seconds * self.embodied_g_per_s

    @property
    def sci_g(self) -> float:
        """O + M, gCO2e per functional unit."""
        return self.operational_g + self.embodied_g

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {"functional_unit": FUNCTIONAL_UNIT, **asdict(self), "sci_g": self.sci_g}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sci:
        """Inverse of :meth:`to_dict`."""
        return cls(*(data[name] for name in ("energy_j", "seconds", "idle_watts", "operational_g",
                                             "embodied_g", "meter", "modelled")),
                   float(data.get("g_per_j") or 0.0), float(data.get("embodied_g_per_s") or 0.0))


def total(figures: list[Sci]) -> Sci:
    """The session's SCI: the sum of the tests' (:data:`SESSION_UNIT`)."""
    meters = ", ".join(sorted({f.meter for f in figures})) or "none"
    return Sci(sum(f.energy_j for f in figures), sum(f.seconds for f in figures),
               max((f.idle_watts for f in figures), default=0.0), sum(f.operational_g for f in figures),
               sum(f.embodied_g for f in figures), meters, any(f.modelled for f in figures))


def terms(site: dict[str, Any], intensity: dict[str, Any], meter: str) -> dict[str, dict[str, Any]]:
    """Every term's value and source, from a run's settings as JSON holds them
    (:meth:`Site.to_dict` and the intensity's fields)."""
    estimate = site["estimate_idle"] if "estimate" in meter else None
    return {
        "energy": {"value": meter, "source": "the meter's figure per call, plus idle power x time"},
        "idle_watts": estimate or {"value": None, "source": "measured by the real meters (idle_watts)"},
        "intensity_g_per_kwh": {"value": intensity.get("g_per_kwh"), "source": intensity.get("source")},
        "region": {"value": site.get("region"), "source": site.get("region_source") or "not given"},
        "pue": {"value": intensity.get("pue"), "source": site.get("pue_source")},
        "embodied_kg": site["embodied_kg"], "lifespan_years": site["lifespan_years"], "share": site["share"],
    }


class Figure(Protocol):
    """What :func:`for_result` reads of a test's result."""

    joules: float
    seconds: float
    idle_watts: float
    meter: str
    is_estimate: bool
    counts: dict[str, int] | None
    model: str


def for_result(result: Figure, site: Site, intensity: Intensity, model: Any = None, workers: int = 1) -> Sci:
    """The SCI of one call of a test: its figure, with the idle power of the hardware reserved
    (measured by real meters, :attr:`Site.estimate_idle` for the estimate) over its time, both
    that and M split among ``workers`` measuring at once; a simulated figure's time is its
    modelled cycles over ``model``'s clock."""
    seconds = result.seconds
    if result.counts and result.model:
        from .simulator.counts import Counts
        from .simulator.model import DEFAULT_MODEL

        model = model or DEFAULT_MODEL
        seconds = model.cycles(Counts(**result.counts)) / model.clock_hz
    idle = result.idle_watts + (site.estimate_idle.value if "estimate" in result.meter.split("+") else 0.0)
    return site.sci(result.joules, seconds, idle, intensity, result.meter, result.is_estimate, workers)


# -- the shipped data ---------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def load(name: str) -> dict[str, Any]:
    """One of the data files (read once per process)."""
    with open(DATA / name, encoding="utf-8") as handle:
        return json.load(handle)


def _unknown(flag: str, value: str, kind: str, choices: list[str], file: str, fix: str) -> SciError:
    import difflib

    close = difflib.get_close_matches(value.strip().lower(), choices, n=1)
    hint = f"did you mean {close[0]}?" if close else f"e.g. {', '.join(choices[:3])}"
    return SciError(f"{flag}={value}: unknown {kind}; {hint} (the list: pytest_energy/measurement/data/"
                    f"{file}; or {fix})")


def instance(cloud: str, name: str) -> Instance:
    """An instance type (``m5.xlarge``, ``n2-standard-4``, ``Standard_D4as_v5``)."""
    table = load("cloud_instances.json")["providers"][cloud]["instances"]
    key = name.strip().lower()
    if cloud == "azure":
        key = key.removeprefix("standard_").replace("_", " ")
    if key not in table:
        raise _unknown("--energy-instance", name, f"{cloud} instance type", sorted(table),
                       "cloud_instances.json", "give --energy-embodied-kg and --energy-reserved-share")
    vcpus, memory, embodied, host, charged = table[key]
    return Instance(cloud, key, vcpus, memory, embodied, host, charged)


def region_intensity(cloud: str, region: str, via: str) -> Intensity:
    """The grid intensity of a region (its US state's, else its country's) and the cloud's PUE."""
    regions = load("cloud_regions.json")["providers"][cloud]
    provider = load("cloud_instances.json")["providers"][cloud]
    key = region.strip().lower()
    if key not in regions:
        raise _unknown(via, region, f"{cloud} region", sorted(regions), "cloud_regions.json",
                       "give --energy-country or --energy-carbon-intensity")
    country, state = regions[key]
    grid = load("grid_intensity.json")
    if state and state in grid["us_states"]:
        value, year = grid["us_states"][state]
        source = f"{state.title()} {year}, EPA eGRID; {cloud} {key}"
    else:
        value, year, name = grid["countries"][country]
        source = f"{name} {year}, codecarbon energy mix; {cloud} {key}"
    return Intensity(value, source, provider["pue_by_region"].get(key, provider["pue"]))


@dataclass(frozen=True)
class SiteOptions:
    """The raw SCI and carbon settings (None: not given)."""

    cloud: str | None = None
    region: str | None = None
    instance: str | None = None
    embodied_kg: float | None = None
    lifespan_years: float | None = None
    reserved_share: float | None = None
    pue: float | None = None
    carbon_intensity: float | None = None
    country: str | None = None


def _where(options: SiteOptions, env: Mapping[str, str]) -> tuple[str | None, str | None, str]:
    """(cloud, region, where the region came from): options first, then the CI's environment."""
    cloud, region, via = options.cloud, options.region, "--energy-region"
    if cloud is None and env.get(CODEBUILD_ENV):
        cloud = "aws"
    if cloud is not None:
        cloud = cloud.strip().lower()
        if cloud not in CLOUDS:
            raise SciError(f"--energy-cloud={options.cloud}: unknown cloud; choose aws, gcp or azure")
    if region is None and cloud is not None:
        found = [(name, env[name]) for name in REGION_ENV[cloud] if env.get(name)]
        arn = env.get(CODEBUILD_ENV, "").split(":")
        if not found and cloud == "aws" and len(arn) > 3 and arn[3]:
            found = [(CODEBUILD_ENV, arn[3])]
        if found:
            via, region = found[0]
    if cloud is None and (region is not None or options.instance is not None):
        flag = "--energy-region" if region is not None else "--energy-instance"
        raise SciError(f"{flag} needs --energy-cloud=aws|gcp|azure (the provider whose {flag[9:]} it is)")
    return cloud, region, via


def resolve(options: SiteOptions, env: Mapping[str, str]) -> tuple[Site, Intensity]:
    """Validate the settings into the site's terms and the carbon intensity (explicit
    intensity > country > region > world average; explicit PUE > the cloud's > 1)."""
    cloud, region, via = _where(options, env)
    for value, flag, ok, rule in (
        (options.embodied_kg, "--energy-embodied-kg", lambda v: v >= 0, ">= 0 kgCO2e"),
        (options.lifespan_years, "--energy-lifespan-years", lambda v: v > 0, "above 0 years"),
        (options.reserved_share, "--energy-reserved-share", lambda v: 0 < v <= 1, "above 0 and at most 1"),
    ):
        if value is not None and not ok(value):
            raise SciError(f"{flag}={value:g}: must be {rule}")
    grid = region_intensity(cloud, region, via) if cloud and region else None
    site = Site(cloud=cloud, region=region.strip().lower() if region else None,
                region_source=via if region else "",
                configured=any(v is not None for v in (cloud, options.embodied_kg, options.lifespan_years,
                                                       options.reserved_share)))
    terms: dict[str, Any] = {}
    if cloud:
        provider = load("cloud_instances.json")["providers"][cloud]
        ccf = f"Cloud Carbon Footprint, {cloud}"
        terms["pue_source"] = f"{ccf}{f' {site.region}' if site.region in provider['pue_by_region'] else ''}"
        terms["lifespan_years"] = Term(provider["lifespan_hours"] * 3600 / YEAR_S, f"{ccf} server lifespan")
    if cloud and options.instance:
        found = instance(cloud, options.instance)
        idle_vcpus = found.vcpus * provider["min_watts"]
        memory = (found.charged_memory_gb or 0.0) * provider["memory_watts_per_gb"]
        memory_note = (f" + {found.charged_memory_gb:g} GB x {provider['memory_watts_per_gb']:g} W"
                       if found.charged_memory_gb is not None else ", memory not in the data")
        terms.update(
            instance=found,
            embodied_kg=Term(found.embodied_kg, f"{ccf} {found.name}'s host server"),
            share=Term(found.vcpus / found.host_vcpus,
                       f"{found.vcpus} of the host's {found.host_vcpus} vCPUs ({ccf} {found.name})"),
            estimate_idle=Term(idle_vcpus + memory, f"{found.vcpus} vCPUs x {provider['min_watts']:g} W"
                               f"{memory_note} ({ccf} {provider['watts_basis']} coefficients)"),
            busy_vcpu_watts=Term(provider["max_watts"] - provider["min_watts"],
                                 f"{ccf}: {provider['min_watts']:g}-{provider['max_watts']:g} W per vCPU by "
                                 "utilisation, above idle"),
        )
    for key, value, flag in (("embodied_kg", options.embodied_kg, "--energy-embodied-kg"),
                             ("lifespan_years", options.lifespan_years, "--energy-lifespan-years"),
                             ("share", options.reserved_share, "--energy-reserved-share")):
        if value is not None:
            terms[key] = Term(value, flag)
    pue = options.pue
    if pue is not None:
        terms["pue_source"] = "--energy-pue"
    elif cloud:
        pue = grid.pue if grid is not None else provider["pue"]
    site = replace(site, **terms)
    intensity = resolve_intensity(options.carbon_intensity, options.country,
                                  DEFAULT_PUE if pue is None else pue, grid)
    return site, intensity
