"""Settings from the command line, ini file and environment, marker arguments, and the
repetition protocol's settings; every default is defined once, in :data:`OPTIONS`.

Everything is validated here into frozen dataclasses; bad input raises
:class:`ConfigError` with one line naming the problem and the fix.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .errors import InputError
from .measurement.carbon import CarbonError, Intensity
from .measurement.meters import MeterOptions, parse_meter_spec
from .measurement.sci import Site, SiteOptions, resolve

POWERCAP_ENV = "PYTEST_ENERGY_POWERCAP_ROOT"
#: Upper bound of every time setting, seconds.
MAX_SECONDS = 86400.0
#: Most fresh calls a regression's recheck may take (--energy-recheck).
MAX_RECHECK = 100
#: Tests profiled by a bare ``--energy-profile``: the most expensive N.
PROFILE_TOP = 5
#: Upper bounds of the figures a user may set (the documents' schemas hold the same
#: ceilings, so a run's files are never refused for its own settings): watts per busy
#: core, grid intensity (the dirtiest grids are about 1,100 gCO2e/kWh), PUE, and the
#: regression limit as a fraction (100 is +10,000%).
MAX_CORE_WATTS = 1000.0
MAX_INTENSITY = 5000.0
MAX_PUE = 10.0
MAX_REGRESSION = 100.0


class ConfigError(InputError, ValueError):
    """A bad setting or marker argument."""


@dataclass(frozen=True)
class Option:
    """One setting: its CLI flag and ini key (``dest``), kind and default."""

    dest: str
    #: The :class:`Settings` field it fills (None: combined into meter or carbon settings).
    field: str | None
    kind: str  # "bool", "int", "float", "str"
    default: Any
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")


OPTIONS = (
    Option("energy", "enabled", "bool", False,
           "measure every test's real call (ini: energy = true); implied by the baseline and output options"),
    Option("energy_meter", "meter_spec", "str", "auto",
           "meters: auto, or a comma list of rapl, nvml, estimate; or simulated alone (re-runs "
           "pytest under valgrind: the same figure on every run)"),
    Option("energy_model", None, "str", None,
           "simulated meter: a model file written by pytest-energy calibrate (default: the built-in model)"),
    Option("energy_tolerance", "tolerance", "percent", 0.01,
           "simulated meter: change of a test's modelled joules that counts as a regression, percent"),
    Option("energy_repeat", "repeat", "bool", False,
           "repeat every test in measured rounds, not only those with energy markers or the energy fixture"),
    Option("energy_rounds", "rounds", "int", 5, "measured rounds per repeated test"),
    Option("energy_warmup", "warmup", "int", 1,
           "unmeasured warmup calls per repeated test (the real call counts as the first)"),
    Option("energy_min_time", "min_time_s", "float", None,
           "seconds each round must span (default: what the meters need, 0.05-1 s)"),
    Option("energy_max_time", "max_time_s", "float", 10.0,
           "cap on seconds spent repeating one test (warmup, calibration and rounds)"),
    Option("energy_time_budget", "time_budget_s", "float", None,
           "cap on seconds of repetition in the whole session; later tests keep their real-call figure"),
    Option("energy_idle_time", "idle_time_s", "float", 1.0,
           "seconds of idle power measured before the first test"),
    Option("energy_powercap_root", None, "str", None,
           f"powercap directory (default ${POWERCAP_ENV} or /sys/class/powercap)"),
    Option("energy_core_watts", None, "float", None, "estimate meter: watts per busy core"),
    Option("energy_carbon_intensity", None, "float", None, "grid intensity, gCO2e/kWh (default 475)"),
    Option("energy_country", None, "str", None, "ISO3 country code for the grid intensity (codecarbon)"),
    Option("energy_pue", None, "float", None, "power usage effectiveness of the machine's site (default 1, "
           "or the cloud's)"),
    Option("energy_cloud", None, "str", None, "SCI: the machine's cloud, aws, gcp or azure (its PUE; with "
           "--energy-region its grid)"),
    Option("energy_region", None, "str", None,
           "SCI: the cloud region, e.g. us-east-1 (default: the CI's, see docs/carbon.md)"),
    Option("energy_instance", None, "str", None,
           "SCI: the instance type, e.g. m5.xlarge (vCPUs, memory, embodied carbon, watts per vCPU)"),
    Option("energy_embodied_kg", None, "float", None,
           "SCI: embodied carbon of the machine, kgCO2e (default: the instance's, else 1433)"),
    Option("energy_lifespan_years", None, "float", None, "SCI: the machine's expected lifespan (default 4)"),
    Option("energy_reserved_share", None, "float", None,
           "SCI: share of the machine the run reserves, 0-1 (default: the instance's vCPUs / its "
           "host's, else 1)"),
    Option("energy_top", "top", "int", None,
           "show the N most expensive tests (default 20 for suites over 50 tests; -v shows all)"),
    Option("energy_json", "json_path", "str", None, "write every measurement to this JSON file"),
    Option("energy_baseline", "baseline_path", "str", ".energy/baseline.json",
           "baseline file (relative paths are taken from the rootdir)"),
    Option("energy_save", "save", "bool", False, "save this run into the baseline (after comparing)"),
    Option("energy_compare", "compare", "bool", False,
           "compare this run with the baseline; regressions fail"),
    Option("energy_history", "history", "int", 10, "runs kept per test in the baseline"),
    Option("energy_lock_timeout", "lock_timeout_s", "float", 60.0,
           "seconds to wait for another process's lock on the baseline before giving up"),
    Option("energy_max_regression", "max_regression", "percent", 0.10,
           "increase that counts as a regression, percent"),
    Option("energy_alpha", "alpha", "float", 0.01, "significance level of the regression test"),
    Option("energy_recheck", "recheck", "int", 5,
           "before a sampled meter's single-call regression fails the run, measure the test again in N "
           "fresh calls: it stands only if they show it too (0: never)"),
    Option("energy_judge", "judge", "str", "joules",
           "what the baseline comparison judges: joules per call, or sci (Software Carbon Intensity, "
           "gCO2e per call)"),
    Option("energy_compare_any_machine", "compare_any_machine", "bool", False,
           "fail on regressions even when the baseline comes from another machine"),
    Option("energy_markdown", "markdown_path", "str", None,
           "write a pull-request summary (markdown) here; also appended to $GITHUB_STEP_SUMMARY"),
    Option("energy_html", "html_path", "str", None,
           "write a self-contained HTML report (tables, plots) here"),
    Option("energy_csv", "csv_path", "str", None,
           "write one row per measured test (CSV: node id, outcome, joules, seconds, gCO2e, meter) here"),
    Option("energy_only", "only", "bool", False,
           "run only the tests with energy markers or the energy fixture (the rest are deselected)"),
    Option("energy_profile", "profile", "count", None,
           f"after the run, profile the N most expensive tests (default {PROFILE_TOP}) and every one that "
           "regressed or broke its budget: joules per function"),
)


def _as_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _as_number(kind: str) -> Callable[[Any], Any]:
    def convert(raw: Any) -> Any:
        try:
            value = int(raw) if kind == "int" else float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected a {'whole ' if kind == 'int' else ''}number") from None
        if not math.isfinite(value):
            raise ValueError("expected a finite number")
        return value
    return convert


def _as_count(raw: Any) -> int:
    value = _as_number("int")(raw)
    if value < 0:
        raise ValueError("expected 0 or more")
    return int(value)


def _as_percent(raw: Any) -> float:
    text = str(raw).strip().removesuffix("%")
    return _as_number("float")(text) / 100


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "bool": _as_bool, "int": _as_number("int"), "float": _as_number("float"), "str": str,
    "percent": _as_percent, "count": _as_count,
}


@dataclass(frozen=True)
class Settings:
    """Validated session settings (defaults: :data:`OPTIONS`)."""

    enabled: bool
    meter_spec: str
    repeat: bool
    rounds: int
    warmup: int
    min_time_s: float | None
    max_time_s: float
    time_budget_s: float | None
    idle_time_s: float
    top: int | None
    json_path: str | None
    baseline_path: str
    save: bool
    compare: bool
    history: int
    lock_timeout_s: float
    #: Fraction: 0.10 is 10%.
    max_regression: float
    #: Fraction: a deterministic meter's change that counts (0.01 is 1%).
    tolerance: float
    alpha: float
    compare_any_machine: bool
    #: Fresh calls that recheck a single-call regression before it fails the run (0: none).
    recheck: int
    #: The figure the comparison judges: "joules" or "sci" (per call).
    judge: str
    markdown_path: str | None
    html_path: str | None
    #: Tests to profile after the run (the most expensive N), None: no profiles.
    profile: int | None
    csv_path: str | None = None
    #: Only tests with energy markers or the energy fixture are run (``--energy-only``).
    only: bool = False
    meter_options: MeterOptions = MeterOptions()
    intensity: Intensity = Intensity()
    #: Where the run happens: the SCI terms and their sources.
    sci: Site = Site()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        options = self.meter_options
        data["meter_options"] = {"powercap_root": options.powercap_root, "core_watts": options.core_watts,
                                 "model": options.model.to_dict() if options.model else None}
        data["intensity"] = vars(self.intensity).copy()
        data["sci"] = self.sci.to_dict()
        return data


def default(dest: str) -> Any:
    """The default of the option ``dest`` (one home for every default)."""
    return next(option.default for option in OPTIONS if option.dest == dest)


@dataclass(frozen=True)
class ProtocolSettings:
    """How one test or callable is repeated (tier 2)."""

    rounds: int = default("energy_rounds")
    warmup: int = default("energy_warmup")
    #: Seconds a round must span; None means the meters' own minimum window.
    min_round_s: float | None = default("energy_min_time")
    #: Cap on seconds spent repeating one test (warmup, calibration and rounds).
    max_time_s: float = default("energy_max_time")


#: The figures the comparison can judge (--energy-judge; pytest_energy.judge.figures).
JUDGED = ("joules", "sci")
#: Options whose value is text: empty text is a mistake, not "unset".
TEXT_OPTIONS = (
    "energy_json", "energy_markdown", "energy_html", "energy_baseline", "energy_country",
    "energy_powercap_root", "energy_model", "energy_cloud", "energy_region", "energy_instance",
    "energy_csv",
)
#: Options that make no sense without measuring: each turns ``--energy`` on.
IMPLY_ENERGY = ("energy_save", "energy_compare", "energy_json", "energy_markdown", "energy_html",
                "energy_csv", "energy_only")


def read_settings(
    cli: Callable[[str], Any], ini: Callable[[str], Any], env: dict[str, str] | None = None
) -> Settings:
    """Resolve each option (CLI over ini, powercap root CLI > env > ini) and validate."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    for option in OPTIONS:
        value, source = cli(option.dest), option.flag
        if option.dest == "energy_powercap_root" and value is None and env.get(POWERCAP_ENV):
            value, source = env[POWERCAP_ENV], POWERCAP_ENV
        if value is None or value is False:
            ini_value = ini(option.dest)
            if ini_value not in (None, "", []):
                value, source = ini_value, f"ini option {option.dest}"
        if value is None:
            raw[option.dest] = option.default
            continue
        try:
            raw[option.dest] = _CONVERT[option.kind](value)
        except ValueError as exc:
            hint = (f" (write {option.flag}=N; a bare {option.flag} takes the next argument as N)"
                    if option.kind == "count" else "")
            raise ConfigError(f"{source}={value!r}: {exc}{hint}") from None
    return _validate(raw, env)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def check_verdict_options(max_regression: float, alpha: float, tolerance: float, prefix: str = "--") -> None:
    """The verdict thresholds (fractions) the plugin and the commands share; :class:`ConfigError`."""
    _require(0 < max_regression <= MAX_REGRESSION,
             f"{prefix}max-regression must be above 0 and at most {MAX_REGRESSION * 100:g} percent")
    _require(0 < alpha < 1, f"{prefix}alpha must be between 0 and 1, e.g. 0.01")
    _require(0 < tolerance < 1, f"{prefix}tolerance must be above 0 and below 100 percent")


def _check_bounds(raw: dict[str, Any]) -> None:
    """Absurd figures (they would overflow the gCO2e, or be refused in the files), and two
    outputs on one file."""
    for dest, most, unit in (("energy_core_watts", MAX_CORE_WATTS, "W"),
                             ("energy_carbon_intensity", MAX_INTENSITY, "gCO2e/kWh"),
                             ("energy_pue", MAX_PUE, "")):
        if raw[dest] is not None and raw[dest] > most:
            raise ConfigError(f"--{dest.replace('_', '-')}={raw[dest]:g}: at most {most:g} {unit}".rstrip())
    outputs: dict[str, str] = {}
    for dest in ("energy_json", "energy_html", "energy_markdown", "energy_csv"):
        if raw[dest]:
            real = os.path.realpath(raw[dest])
            _require(real not in outputs, f"--{outputs.get(real, '').replace('_', '-')} and "
                     f"--{dest.replace('_', '-')} name one file ({raw[dest]}); give each its own path")
            outputs[real] = dest


def _validate(raw: dict[str, Any], env: Mapping[str, str]) -> Settings:
    try:
        parse_meter_spec(raw["energy_meter"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _require(raw["energy_rounds"] >= 1, "--energy-rounds must be at least 1")
    _require(raw["energy_warmup"] >= 0, "--energy-warmup must be 0 or more")
    for dest in TEXT_OPTIONS:
        _require(raw[dest] is None or raw[dest].strip() != "",
                 f"--{dest.replace('_', '-')} is empty; give a value or leave the option out")
    profiling = raw["energy_profile"] is not None
    raw["energy"] = raw["energy"] or profiling or any(raw[dest] for dest in IMPLY_ENERGY)
    for dest in ("energy_min_time", "energy_max_time", "energy_time_budget", "energy_core_watts"):
        value = raw[dest]
        _require(value is None or value > 0, f"--{dest.replace('_', '-')} must be greater than 0")
    _require(0 <= raw["energy_lock_timeout"] <= MAX_SECONDS,
             f"--energy-lock-timeout must be 0 to {MAX_SECONDS:g} seconds")
    for dest in ("energy_min_time", "energy_max_time", "energy_time_budget", "energy_idle_time"):
        if raw[dest] is not None:
            _require(raw[dest] <= MAX_SECONDS,
                     f"--{dest.replace('_', '-')}={raw[dest]:g}: at most {MAX_SECONDS:g} seconds (one day)")
    _require(raw["energy_idle_time"] >= 0, "--energy-idle-time must be 0 or more (0 skips idle power)")
    _require(raw["energy_top"] is None or raw["energy_top"] >= 1, "--energy-top must be at least 1")
    _require(raw["energy_history"] >= 1, "--energy-history must be at least 1")
    _require(0 <= raw["energy_recheck"] <= MAX_RECHECK,
             f"--energy-recheck must be 0 (no recheck) to {MAX_RECHECK} fresh calls")
    judged = raw["energy_judge"].strip().lower()
    _require(judged in JUDGED, f"--energy-judge={raw['energy_judge']}: choose joules or sci (what the "
             "baseline comparison judges per call)")
    raw["energy_judge"] = judged
    check_verdict_options(raw["energy_max_regression"], raw["energy_alpha"], raw["energy_tolerance"],
                          "--energy-")
    _check_bounds(raw)
    model = None
    if raw["energy_model"]:
        from .store.models import load_model

        try:
            model = load_model(raw["energy_model"])
        except InputError as exc:
            raise ConfigError(f"--energy-model: {exc}") from None
    try:
        given = SiteOptions(**{f.name: raw[f"energy_{f.name}"] for f in fields(SiteOptions)})
        site, intensity = resolve(given, env)
    except CarbonError as exc:
        raise ConfigError(str(exc)) from None
    _require(intensity.g_per_kwh <= MAX_INTENSITY,
             f"carbon intensity {intensity.g_per_kwh:g} gCO2e/kWh ({intensity.source}): at most "
             f"{MAX_INTENSITY:g}; give --energy-carbon-intensity=G_PER_KWH")
    core = raw["energy_core_watts"], MeterOptions.core_watts_source
    if core[0] is None and site.busy_vcpu_watts is not None:  # the instance's, else the CPU's
        core = site.busy_vcpu_watts.value, site.busy_vcpu_watts.source
    return Settings(
        **{option.field: raw[option.dest] for option in OPTIONS if option.field},
        meter_options=MeterOptions(
            powercap_root=raw["energy_powercap_root"] or "/sys/class/powercap",
            core_watts=core[0], core_watts_source=core[1], model=model,
        ),
        intensity=intensity, sci=site,
    )
