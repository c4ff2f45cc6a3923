#!/usr/bin/env python3
"""Regenerate the SCI data shipped in ``pytest_energy/measurement/data/`` (not run at test time).

Sources (each output file names its own, with its licence):

* ``cloud_instances.json``: Cloud Carbon Footprint (CCF, Apache-2.0, (c) 2021 Thoughtworks,
  Inc.): each provider's PUE, min/max watts per vCPU, memory coefficient and server lifespan
  (``packages/<provider>/src/domain/*FootprintEstimationConstants.ts``) and the instance
  types with vCPUs, memory and embodied emissions (``AWSInstanceTypes.ts``,
  ``VirtualMachineTypes.ts``, ``MachineTypes.ts``). GCP memory per vCPU, which CCF does not
  list, comes from Google's published machine-type tables (:data:`GCP_GB_PER_VCPU`).
* ``cloud_regions.json``: the region codes of CCF's region lists (``*Regions.ts``), each
  placed in a country through the country prefix of CCF's Electricity Maps zone code (only
  the code is used, no Electricity Maps data) or, where CCF has none, by the providers'
  published region lists (:data:`REGION_COUNTRY`); US regions also in a state
  (:data:`US_REGION_STATE`) for the state grid.
* ``grid_intensity.json``: codecarbon's (MIT) ``global_energy_mix.json`` (the country
  intensities ``--energy-country`` already uses) and ``2023/usa_emissions.json`` (EPA eGRID
  2023 state rates, US public domain), for the countries and states the regions need.

Usage::

    git clone https://github.com/cloud-carbon-footprint/cloud-carbon-footprint /tmp/ccf
    pip install codecarbon   # or: pip download codecarbon --no-deps and unzip the wheel
    python scripts/regenerate_sci_data.py --ccf /tmp/ccf [--codecarbon DIR]

``--ccf`` may be a checkout or a bare git directory (read at HEAD); ``--codecarbon`` a
directory holding ``codecarbon/data`` (default: the installed codecarbon package).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import subprocess
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "pytest_energy" / "measurement" / "data"
LB_PER_MWH_TO_G_PER_KWH = 0.45359237
#: CCF: one physical chip is at most 96 vCPUs (``packages/core/src/memory/helpers.ts``).
VCPUS_PER_CHIP = 96

PROVIDERS = {
    "aws": {
        "constants": "packages/aws/src/domain/AwsFootprintEstimationConstants.ts",
        "regions": "packages/aws/src/lib/AWSRegions.ts",
        "instances": "packages/aws/src/lib/AWSInstanceTypes.ts",
        "tables": ("EC2_INSTANCE_TYPES", "INSTANCE_FAMILY_TO_INSTANCE_TYPE_MAPPING"),
    },
    "azure": {
        "constants": "packages/azure/src/domain/AzureFootprintEstimationConstants.ts",
        "regions": "packages/azure/src/lib/AzureRegions.ts",
        "instances": "packages/azure/src/lib/VirtualMachineTypes.ts",
        "tables": ("VIRTUAL_MACHINE_TYPE_SERIES_MAPPING",),
    },
    "gcp": {
        "constants": "packages/gcp/src/domain/GcpFootprintEstimationConstants.ts",
        "regions": "packages/gcp/src/lib/GCPRegions.ts",
        "instances": "packages/gcp/src/lib/MachineTypes.ts",
        "tables": ("MACHINE_FAMILY_TO_MACHINE_TYPE_MAPPING",),
    },
}

#: GiB per vCPU of GCP machine families (CCF lists vCPUs only), from Google's machine-type
#: tables, https://cloud.google.com/compute/docs/general-purpose-machines and
#: .../compute-optimized-machines (CC BY 4.0). Families not listed: memory unknown.
GCP_GB_PER_VCPU = {
    "e2-standard": 4, "e2-highmem": 8, "e2-highcpu": 1,
    "n2-standard": 4, "n2-highmem": 8, "n2-highcpu": 1,
    "n2d-standard": 4, "n2d-highmem": 8, "n2d-highcpu": 1,
    "n1-standard": 3.75, "n1-highmem": 6.5, "n1-highcpu": 0.9,
    "t2d-standard": 4, "c2-standard": 4, "c2d-standard": 4,
}

#: Countries (ISO 3166 alpha-3) of regions without a CCF zone code, from the providers'
#: published region lists: https://docs.aws.amazon.com/global-infrastructure/latest/regions/,
#: https://cloud.google.com/about/locations, https://azure.microsoft.com/explore/global-infrastructure/geographies/
REGION_COUNTRY = {
    "aws": {"ap-east-1": "HKG", "cn-north-1": "CHN", "cn-northwest-1": "CHN", "me-south-1": "BHR",
            "me-central-1": "ARE"},
    "gcp": {"asia-east2": "HKG"},
    "azure": {"southafrica": "ZAF", "australia": "AUS", "apeast": "HKG", "eastasia": "HKG",
              "southeastasia": "SGP", "japan": "JPN", "korea": "KOR", "india": "IND",
              "jioindiacentral": "IND", "jioindiawest": "IND", "westindia": "IND", "france": "FRA",
              "switzerland": "CHE", "germany": "DEU", "norway": "NOR", "uk": "GBR", "uae": "ARE",
              "uaecentral": "ARE", "uaenorth": "ARE", "qatarcentral": "QAT", "canada": "CAN",
              "unitedstates": "USA", "brazil": "BRA"},
}

#: US states of US regions (the same published lists); others in the US: the country's grid.
US_REGION_STATE = {
    "aws": {"us-east-1": "virginia", "us-east-2": "ohio", "us-west-1": "california", "us-west-2": "oregon"},
    "gcp": {"us-central1": "iowa", "us-east1": "south carolina", "us-east4": "virginia", "us-east5": "ohio",
            "us-south1": "texas", "us-west1": "oregon", "us-west2": "california", "us-west3": "utah",
            "us-west4": "nevada"},
    "azure": {"eastus": "virginia", "eastus2": "virginia", "centralus": "iowa", "northcentralus": "illinois",
              "southcentralus": "texas", "westus": "california", "westus2": "washington",
              "westus3": "arizona", "westcentralus": "wyoming"},
}

#: ISO 3166 alpha-2 (Electricity Maps zone prefixes in CCF) to alpha-3.
ISO2_TO_ISO3 = {
    "AU": "AUS", "BE": "BEL", "BR": "BRA", "CA": "CAN", "CH": "CHE", "CL": "CHL", "DE": "DEU",
    "ES": "ESP", "FI": "FIN", "FR": "FRA", "GB": "GBR", "ID": "IDN", "IE": "IRL", "IN": "IND",
    "IT": "ITA", "JP": "JPN", "KR": "KOR", "NL": "NLD", "NO": "NOR", "PL": "POL", "SE": "SWE",
    "SG": "SGP", "TW": "TWN", "US": "USA", "ZA": "ZAF",
}

#: Geographies, multi-regions and staging names: not a place, left out.
NOT_A_REGION = re.compile(
    r"^(asia|asiapacific|europe|eu|us|nam4|eur4|asia1|unknown|all regions|unassigned)$|stage$|euap$", re.I,
)


class Source:
    """A CCF checkout or bare git directory, read at HEAD."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bare = not (path / "packages").is_dir()
        self.commit = subprocess.run(
            ["git", f"--git-dir={path if self.bare else path / '.git'}", "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()

    def read(self, relative: str) -> str:
        if not self.bare:
            return (self.path / relative).read_text(encoding="utf-8")
        return subprocess.run(["git", f"--git-dir={self.path}", "show", f"HEAD:{relative}"],
                              capture_output=True, text=True, check=True).stdout


def _block(text: str, name: str) -> str:
    """The body of ``export const NAME ... = { ... }`` (up to the next export)."""
    start = text.index(f"export const {name}")
    end = text.find("export const", start + 1)
    return text[start:end if end > 0 else None]


def _constant(text: str, name: str) -> float:
    return float(re.search(rf"\b{name}: ([\d.]+)", text).group(1))


def _families(block: str) -> dict[str, dict[str, list[float]]]:
    """``family: { size: [numbers], ... }`` blocks, in source order."""
    families: dict[str, dict[str, list[float]]] = {}
    current = None
    for line in block.splitlines()[1:]:
        head = re.match(r"^  ['\"]?([^'\"]+?)['\"]?: \{", line)
        if head:
            current = families.setdefault(head.group(1), {})
            continue
        row = re.match(r"^\s+['\"]?([^'\":]+?)['\"]?: \[([\d., ]+)\]", line)
        if row and current is not None:
            current[row.group(1)] = [float(x) for x in row.group(2).split(",") if x.strip()]
    return families


def _charged_memory(memory: float, largest_vcpus: float, largest_memory: float, chip_memory: float) -> float:
    """CCF's memory beyond what its watts per vCPU include (``calculateGigabyteHours``)."""
    chips = math.ceil(largest_vcpus / VCPUS_PER_CHIP)
    extra = largest_memory / chips - chip_memory
    return round(max(0.0, extra) * memory / largest_memory, 3) if extra > 0 else 0.0


def _name(provider: str, family: str, size: str) -> str:
    if provider == "aws":
        return f"{family}.{size}".lower()
    return size.lower()  # azure 'D4as v5', gcp 'n2-standard-4'


def instances(source: Source, provider: str, paths: dict) -> dict:
    constants = source.read(paths["constants"])
    text = source.read(paths["instances"])
    chip_memory = (_constant(constants, "MEMORY_AVG") if "MEMORY_AVG" in constants else None)
    found: dict[str, list] = {}
    for table in paths["tables"]:
        for family, sizes in _families(_block(text, table)).items():
            rows = list(sizes.values())
            if not rows:
                continue
            largest = rows[-1]  # CCF: the family's last size stands for the whole server
            for size, row in sizes.items():
                if provider == "gcp":
                    vcpus, embodied_t = row[0], row[1]
                    per = GCP_GB_PER_VCPU.get(family)
                    memory = round(vcpus * per, 2) if per else None
                    charged = memory  # CCF charges GCP's separately billed memory in full
                else:
                    if len(row) < 3:
                        continue  # no embodied figure
                    vcpus, memory, embodied_t = row[0], row[1], row[2]
                    charged = _charged_memory(memory, largest[0], largest[1], chip_memory)
                found[_name(provider, family, size)] = [
                    int(vcpus), memory, round(embodied_t * 1000, 1), int(largest[0]), charged,
                ]
    pue_by_region = {}
    trailing = re.search(r"PUE_TRAILING_TWELVE_MONTH: \{(.*?)\}", constants, re.S)
    if trailing:
        regions = dict(re.findall(r"(\w+) = '([^']+)'", source.read(paths["regions"])))
        for key, value in re.findall(r"\[\w+\.(\w+)\]: ([\d.]+)", trailing.group(1)):
            pue_by_region[regions[key]] = float(value)
    minimum = "MIN_WATTS_AVG" if "MIN_WATTS_AVG" in constants else "MIN_WATTS_MEDIAN"
    maximum = "MAX_WATTS_AVG" if "MAX_WATTS_AVG" in constants else "MAX_WATTS_MEDIAN"
    return {
        "pue": _constant(constants, "PUE_AVG"), "pue_by_region": pue_by_region,
        "min_watts": _constant(constants, minimum), "max_watts": _constant(constants, maximum),
        "watts_basis": minimum.rsplit("_", 1)[1].lower(),
        "memory_watts_per_gb": round(_constant(constants, "MEMORY_COEFFICIENT") * 1000, 6),
        "lifespan_hours": _constant(constants, "SERVER_EXPECTED_LIFESPAN"),
        "instances": dict(sorted(found.items())),
    }


def regions(source: Source, provider: str, paths: dict) -> dict[str, list]:
    text = source.read(paths["regions"])
    codes = dict(re.findall(r"(\w+) = '([^']+)'", text))  # aws, gcp enums
    codes.update({key: name for key, name in re.findall(r"(\w+): \{\s*name: '([^']+)'", text)})  # azure
    zones = dict(re.findall(r"\[\w+\.(\w+)(?:\.name)?\]: '([A-Z]{2})[^']*'", _block(
        text, next(n for n in re.findall(r"export const (\w+ELECTRICITY_MAPS_ZONES)", text)))))
    table = {}
    for key, code in codes.items():
        code = code.lower()  # azure's names come in several cases; its CLI writes them lowercase
        if NOT_A_REGION.search(code):
            continue
        country = REGION_COUNTRY[provider].get(code) or ISO2_TO_ISO3.get(zones.get(key, ""))
        if country is None:
            print(f"skipped {provider} {code}: no country known")
            continue
        table[code] = [country, US_REGION_STATE[provider].get(code)]
    return dict(sorted(table.items()))


def codecarbon_data(path: str | None) -> Path:
    if path:
        base = Path(path)
        return base / "codecarbon" / "data" if (base / "codecarbon").is_dir() else base
    spec = importlib.util.find_spec("codecarbon")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("codecarbon not found: pip install codecarbon, or give --codecarbon DIR")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def grid(data: Path, region_tables: dict[str, dict[str, list]]) -> dict:
    mix = json.loads((data / "private_infra" / "global_energy_mix.json").read_text(encoding="utf-8"))
    usa = json.loads((data / "private_infra" / "2023" / "usa_emissions.json").read_text(encoding="utf-8"))
    countries = sorted({c for table in region_tables.values() for c, _ in table.values()})
    states = sorted({s for table in region_tables.values() for _, s in table.values() if s})
    return {
        "countries": {
            iso: [round(mix[iso]["carbon_intensity"], 3), mix[iso]["year"], mix[iso]["country_name"]]
            for iso in countries
        },
        "us_states": {state: [round(usa[state]["emissions"] * LB_PER_MWH_TO_G_PER_KWH, 3),
                              usa["_source"]["year"]] for state in states},
        "us_source": usa["_source"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ccf", required=True, help="Cloud Carbon Footprint checkout or bare git directory")
    parser.add_argument("--codecarbon", help="directory holding codecarbon/data (default: the installed one)")
    parser.add_argument("--out", default=str(OUT), help="output directory")
    args = parser.parse_args()
    source = Source(Path(args.ccf))
    repository = "github.com/cloud-carbon-footprint/cloud-carbon-footprint"
    ccf = f"Cloud Carbon Footprint, {repository} at {source.commit}"
    licence = "Apache-2.0, (c) 2021 Thoughtworks, Inc.; the licence text: LICENSE-cloud-carbon-footprint.txt"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "LICENSE-cloud-carbon-footprint.txt").write_text(source.read("LICENSE"), encoding="utf-8")
    providers = {name: instances(source, name, paths) for name, paths in PROVIDERS.items()}
    write(out / "cloud_instances.json", {
        "_source": f"{ccf}: packages/*/src/domain/*FootprintEstimationConstants.ts, AWSInstanceTypes.ts, "
                   "VirtualMachineTypes.ts, MachineTypes.ts; GCP memory per vCPU from Google's machine-type "
                   "tables (cloud.google.com/compute/docs, CC BY 4.0)",
        "_licence": licence,
        "_regenerate": "python scripts/regenerate_sci_data.py --ccf CCF_CHECKOUT",
        "_instances": "type: [vCPUs, memory GB (null: unknown), embodied kgCO2e of the host server, vCPUs of "
                      "the family's largest size (the host), memory GB charged beyond the watts per vCPU]",
        "providers": providers,
    })
    region_tables = {name: regions(source, name, paths) for name, paths in PROVIDERS.items()}
    write(out / "cloud_regions.json", {
        "_source": f"region codes: {ccf} (packages/*/src/lib/*Regions.ts); country: the ISO prefix of CCF's "
                   "zone code, else the providers' published region lists (docs.aws.amazon.com/"
                   "global-infrastructure, cloud.google.com/about/locations, azure.microsoft.com/explore/"
                   "global-infrastructure/geographies); US state: the same lists",
        "_licence": f"region codes: {licence}; countries and states: facts from the providers' public lists",
        "_regenerate": "python scripts/regenerate_sci_data.py --ccf CCF_CHECKOUT",
        "_regions": "region: [ISO 3166 alpha-3 country, US state or null]",
        "providers": region_tables,
    })
    table = grid(codecarbon_data(args.codecarbon), region_tables)
    write(out / "grid_intensity.json", {
        "_source": "countries: codecarbon data/private_infra/global_energy_mix.json (carbon_intensity, "
                   "gCO2e/kWh, year; codecarbon names Our World in Data/Ember as its source); US states: "
                   f"codecarbon data/private_infra/2023/usa_emissions.json ({table['us_source']['name']}, "
                   f"{table['us_source']['url']}), lb/MWh x 0.4536 = g/kWh",
        "_licence": "codecarbon: MIT; EPA eGRID: US government work, public domain; Our World in Data: "
                    "CC BY 4.0 (as codecarbon reports, not checked against each upstream figure)",
        "_regenerate": "python scripts/regenerate_sci_data.py --ccf CCF_CHECKOUT [--codecarbon DIR]",
        "countries": table["countries"], "us_states": table["us_states"],
    })


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=0, sort_keys=False, ensure_ascii=False)
    path.write_text(re.sub(r"\[\n([^\[\]{}]*?)\n\]", lambda m: "[" + m.group(1).replace("\n", " ") + "]",
                           text) + "\n", encoding="utf-8")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
