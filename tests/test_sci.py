"""Software Carbon Intensity: the formula against hand-computed cases, the shipped data and
where each term comes from, the options' one-line errors, the modelled label, SCI budgets,
and the JSON, terminal and HTML outputs."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest
from conftest import by_test
from simulator_helpers import needs_valgrind

from pytest_energy.measurement import sci as sci_module
from pytest_energy.measurement.carbon import Intensity
from pytest_energy.measurement.sci import Site, SiteOptions, Term, for_result, load, resolve
from pytest_energy.results import TestResult

FAST = ("--energy-rounds=3", "--energy-min-time=0.01")
YEAR_S = 8760 * 3600
AWS_M5 = ("--energy-cloud=aws", "--energy-region=us-east-1", "--energy-instance=m5.xlarge")
SCI_KEYS = {"functional_unit", "energy_j", "seconds", "idle_watts", "operational_g", "embodied_g", "sci_g",
            "meter", "modelled", "g_per_j", "embodied_g_per_s"}


def test_the_issues_worked_example():
    """A 1 s single-core test on a 64-core server at 280 W, US grid, PUE 1.185, CCF's
    1,433 kg server over 4 years."""
    site = Site(embodied_kg=Term(1433.0, "CCF"), lifespan_years=Term(4.0, "CCF"), share=Term(1 / 64, "1 of 64"))
    us = Intensity(369.473, "United States 2023, codecarbon energy mix", 1.185)
    one = site.sci(280 / 64, 1.0, 0.0, us, "rapl", False)
    assert one.operational_g == pytest.approx(0.53e-3, rel=0.01)
    # M by hand: 1,433,000 g x 1 s / (4 x 8760 x 3600 s) x 1/64 = 0.1775 mg. (The issue
    # says 0.13 mg; its own figures give this, 25% of the total rather than 20%.)
    assert one.embodied_g == pytest.approx(1433e3 * 1 / (4 * YEAR_S) / 64, rel=1e-12)
    assert one.embodied_g == pytest.approx(0.1775e-3, rel=0.01)
    assert one.sci_g == one.operational_g + one.embodied_g
    # the whole 4-vCPU VM charged: M is four times larger, over half of the SCI
    vm = replace(site, share=Term(4 / 64, "the VM")).sci(280 / 64, 1.0, 0.0, us, "rapl", False)
    assert vm.embodied_g == pytest.approx(4 * one.embodied_g)
    assert vm.embodied_g / vm.sci_g == pytest.approx(0.572, abs=0.005)
    # the issue's US intensity is the one shipped for US regions without a state figure
    assert load("grid_intensity.json")["countries"]["USA"][0] == 369.473


def test_an_aws_instance_by_hand():
    site, intensity = resolve(SiteOptions(cloud="aws", region="us-east-1", instance="m5.xlarge"), {})
    assert intensity == Intensity(244.758, "Virginia 2023, EPA eGRID; aws us-east-1", 1.135)
    assert site.embodied_kg.value == 1610.4 and site.share.value == 4 / 96
    assert site.lifespan_years.value == pytest.approx(4.0)
    idle = 4 * 0.74 + 12.638 * 0.392  # CCF: min watts per vCPU, memory beyond what they include
    assert site.estimate_idle.value == pytest.approx(idle)
    assert site.busy_vcpu_watts == Term(pytest.approx(3.5 - 0.74), site.busy_vcpu_watts.source)
    result = SimpleNamespace(joules=0.1, seconds=0.5, idle_watts=0.0, meter="estimate", is_estimate=True,
                             counts=None, model="")
    figure = for_result(result, site, intensity)
    energy = 0.1 + idle * 0.5
    assert figure.energy_j == pytest.approx(energy)
    assert figure.operational_g == pytest.approx(energy / 3.6e6 * 244.758 * 1.135)
    assert figure.embodied_g == pytest.approx(1610.4e3 * 0.5 / (4 * YEAR_S) * 4 / 96)
    assert figure.modelled is True


def test_real_meters_charge_their_measured_idle_and_the_estimates_idle_only_to_the_estimate():
    site, intensity = resolve(SiteOptions(cloud="aws", instance="m5.xlarge"), {})
    rapl = SimpleNamespace(joules=2.0, seconds=1.0, idle_watts=12.0, meter="rapl", is_estimate=False,
                           counts=None, model="")
    figure = for_result(rapl, site, intensity)
    assert figure.energy_j == pytest.approx(14.0) and figure.modelled is False
    mixed = replace_ns(rapl, meter="nvml+estimate", idle_watts=3.0, is_estimate=True)
    assert for_result(mixed, site, intensity).energy_j == pytest.approx(2.0 + 3.0 + site.estimate_idle.value)
    # four xdist workers measuring at once share the machine's idle power and its embodied carbon
    shared = for_result(rapl, site, intensity, workers=4)
    assert shared.energy_j == pytest.approx(2.0 + 12.0 / 4) and shared.embodied_g == pytest.approx(figure.embodied_g / 4)


def replace_ns(ns: SimpleNamespace, **changes) -> SimpleNamespace:
    return SimpleNamespace(**{**vars(ns), **changes})


def test_a_simulated_figure_is_modelled_and_its_time_is_the_modelled_cycles():
    from pytest_energy.measurement.simulator.model import DEFAULT_MODEL

    counts = {"ir": 3_000_000, "dr": 0, "dw": 0, "i1mr": 0, "d1mr": 0, "d1mw": 0, "ilmr": 0, "dlmr": 0, "dlmw": 0}
    result = SimpleNamespace(joules=0.01, seconds=5.0, idle_watts=0.0, meter="simulated", is_estimate=True,
                             counts=counts, model="sim-energy/1#x")
    figure = for_result(result, Site(), Intensity())
    assert figure.seconds == pytest.approx(3_000_000 / DEFAULT_MODEL.clock_hz)  # not valgrind's 5 s
    assert figure.modelled is True


def test_defaults_name_their_sources():
    site, intensity = resolve(SiteOptions(), {})
    assert site == Site() and not site.configured and intensity == Intensity()
    assert site.embodied_kg.value == 1433 and "default" in site.embodied_kg.source
    assert site.lifespan_years.value == 4 and site.share.value == 1 and site.pue_source.startswith("default")


def test_cloud_pue_region_pue_and_explicit_settings_win():
    site, intensity = resolve(SiteOptions(cloud="gcp", region="us-central1"), {})
    assert intensity.pue == 1.11 and site.pue_source == "Cloud Carbon Footprint, gcp us-central1"
    assert intensity.source == "Iowa 2023, EPA eGRID; gcp us-central1"
    site, intensity = resolve(SiteOptions(cloud="azure", region="westeurope", pue=1.3, carbon_intensity=100,
                                          embodied_kg=900, lifespan_years=6, reserved_share=0.5), {})
    assert (intensity.pue, site.pue_source) == (1.3, "--energy-pue")
    assert intensity.g_per_kwh == 100 and intensity.source == "--energy-carbon-intensity"
    assert site.embodied_kg == Term(900, "--energy-embodied-kg") and site.share == Term(0.5, "--energy-reserved-share")
    assert site.lifespan_years == Term(6, "--energy-lifespan-years") and site.configured
    site, intensity = resolve(SiteOptions(cloud="azure", region="westeurope"), {})
    assert intensity.source == "Netherlands 2023, codecarbon energy mix; azure westeurope" and intensity.pue == 1.185


@pytest.mark.parametrize("name", ["Standard_D4as_v5", "d4as v5", "D4AS_V5"])
def test_azure_instance_names_as_the_api_or_ccf_writes_them(name):
    site, _ = resolve(SiteOptions(cloud="azure", instance=name), {})
    assert site.instance.name == "d4as v5" and site.instance.vcpus == 4


def test_the_ci_environment_tells_the_region():
    codebuild = {"CODEBUILD_BUILD_ARN": "arn:aws:codebuild:eu-west-3:1234:build/p:1", "AWS_REGION": "eu-west-3"}
    site, intensity = resolve(SiteOptions(), codebuild)
    assert (site.cloud, site.region, site.region_source) == ("aws", "eu-west-3", "AWS_REGION")
    assert intensity.source.startswith("France") and intensity.pue == 1.135
    site, _ = resolve(SiteOptions(), {"CODEBUILD_BUILD_ARN": "arn:aws:codebuild:ca-central-1:1:build/p"})
    assert (site.region, site.region_source) == ("ca-central-1", "CODEBUILD_BUILD_ARN")
    site, _ = resolve(SiteOptions(cloud="gcp"), {"CLOUDSDK_COMPUTE_REGION": "europe-west1"})
    assert (site.region, site.region_source) == ("europe-west1", "CLOUDSDK_COMPUTE_REGION")
    site, _ = resolve(SiteOptions(cloud="aws", region="us-west-2"), {"AWS_REGION": "eu-west-3"})
    assert (site.region, site.region_source) == ("us-west-2", "--energy-region")
    # a developer's AWS_REGION alone says nothing about where the tests run
    assert resolve(SiteOptions(), {"AWS_REGION": "eu-west-3"})[0] == Site()


@pytest.mark.parametrize(("args", "message"), [
    (["--energy-cloud=ibm"], "ERROR: --energy-cloud=ibm: unknown cloud; choose aws, gcp or azure"),
    (["--energy-region=us-east-1"],
     "ERROR: --energy-region needs --energy-cloud=aws|gcp|azure (the provider whose region it is)"),
    (["--energy-instance=m5.xlarge"],
     "ERROR: --energy-instance needs --energy-cloud=aws|gcp|azure (the provider whose instance it is)"),
    (["--energy-cloud=aws", "--energy-region=us-east-9"],
     "ERROR: --energy-region=us-east-9: unknown aws region; did you mean us-east-?? (the list: "
     "pytest_energy/measurement/data/cloud_regions.json; or give --energy-country or --energy-carbon-intensity)"),
    (["--energy-cloud=aws", "--energy-instance=m5.huge"],
     "ERROR: --energy-instance=m5.huge: unknown aws instance type; did you mean m5.*? (the list: "
     "pytest_energy/measurement/data/cloud_instances.json; or give --energy-embodied-kg and --energy-reserved-share)"),
    (["--energy-lifespan-years=-1"], "ERROR: --energy-lifespan-years=-1: must be above 0 years"),
    (["--energy-lifespan-years=0"], "ERROR: --energy-lifespan-years=0: must be above 0 years"),
    (["--energy-lifespan-years=long"], "ERROR: --energy-lifespan-years='long': expected a number"),
    (["--energy-embodied-kg=-5"], "ERROR: --energy-embodied-kg=-5: must be >= 0 kgCO2e"),
    (["--energy-reserved-share=0"], "ERROR: --energy-reserved-share=0: must be above 0 and at most 1"),
    (["--energy-reserved-share=1.5"], "ERROR: --energy-reserved-share=1.5: must be above 0 and at most 1"),
    (["--energy-cloud=aws", "--energy-region="], "ERROR: --energy-region is empty; give a value or leave the option out"),
])
def test_bad_sci_options_are_one_line_usage_errors(pytester, args, message):
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert len([line for line in result.stderr.lines if line.strip()]) == 1, result.stderr.lines
    assert "Traceback" not in result.stderr.str()


def test_a_bad_region_in_the_environment_names_the_variable(pytester, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "mars-1")
    result = pytester.runpytest("--energy", "--energy-cloud=aws")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: AWS_REGION=mars-1: unknown aws region; *"])


def test_estimate_takes_the_instances_watts_and_labels_sci_modelled(pytester, run_energy):
    pytester.makepyfile("def test_a(): sum(range(20_000))\ndef test_b(): pass\n")
    result, data = run_energy(*FAST, *AWS_M5, "--energy-meter=estimate")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "energy: meters estimate (2.76 W per busy core: Cloud Carbon Footprint, aws: 0.74-3.5 W per vCPU by "
        "utilisation, above idle)*",
        "energy: carbon intensity 244.758 gCO2e/kWh (Virginia 2023, EPA eGRID; aws us-east-1), PUE 1.135",
        "energy: SCI = E x I x PUE + M per R (ISO/IEC 21031:2024), R = one call of the test -- modelled: E "
        "comes from the estimate meter",
        "energy: SCI E = the estimate figure + idle power of the reserved hardware x time (7.91 W: 4 vCPUs x "
        "0.74 W + 12.638 GB x 0.392 W (Cloud Carbon Footprint, aws avg coefficients)); I = 244.758 gCO2e/kWh "
        "(*) (region from --energy-region); PUE 1.135 (Cloud Carbon Footprint, aws)",
        "energy: SCI M = 1610.4 kgCO2e (Cloud Carbon Footprint, aws m5.xlarge's host server) x time / 4 years "
        "(Cloud Carbon Footprint, aws server lifespan) x share 0.0417 (4 of the host's 96 vCPUs*",
    ])
    result.stdout.fnmatch_lines([
        "*energy: Software Carbon Intensity per test, R = one call of the test*",
        "test *E (J)*operational*embodied*SCI gCO2e*embodied share*",
        "*::test_a *modelled",
    ])
    result.stdout.fnmatch_lines(["energy: SCI * for one call of each measured test (2) = operational * + "
                                 "embodied *, modelled (estimate)"])
    tests = by_test(data)
    assert all(set(t["sci"]) == SCI_KEYS and t["sci"]["modelled"] for t in tests.values())
    assert "co2_g" in tests["test_a"] and tests["test_a"]["sci"]["idle_watts"] == pytest.approx(7.914096)
    session = data["sci"]
    assert session["functional_unit"] == "one call of each measured test" and session["tests"] == 2
    assert session["sci_g"] == pytest.approx(sum(t["sci"]["sci_g"] for t in tests.values()))
    assert set(session["terms"]) == {"energy", "idle_watts", "intensity_g_per_kwh", "region", "pue",
                                     "embodied_kg", "lifespan_years", "share"}
    assert session["terms"]["region"] == {"value": "us-east-1", "source": "--energy-region"}
    assert session["terms"]["pue"] == {"value": 1.135, "source": "Cloud Carbon Footprint, aws"}
    assert data["settings"]["sci"]["instance"]["name"] == "m5.xlarge"
    result, _ = run_energy(*FAST, *AWS_M5, "--energy-meter=estimate", "--energy-core-watts=3")
    result.stdout.fnmatch_lines(["energy: meters estimate (3 W per busy core: --energy-core-watts)*"])


def test_without_sci_settings_the_table_waits_for_v_and_the_session_line_stays(pytester, run_energy):
    pytester.makepyfile("def test_a(): pass")
    result, data = run_energy(*FAST)
    assert "Software Carbon Intensity per test" not in result.stdout.str()
    result.stdout.fnmatch_lines(["energy: SCI M = 1433 kgCO2e (default: *) x time / 4 years (default: *) x "
                                 "share 1 (default: the run reserves the whole machine)",
                                 "energy: SCI * for one call of each measured test (1) = *"])
    assert data["sci"]["terms"]["share"] == {"value": 1.0, "source": "default: the run reserves the whole machine"}
    result, _ = run_energy(*FAST, "-v")
    assert "Software Carbon Intensity per test" in result.stdout.str()


SCI_BUDGETS = """
import pytest

@pytest.mark.energy_budget(sci_g=1e-15)
def test_over():
    sum(range(20_000))

@pytest.mark.energy_budget(sci_g=1.0)
def test_within():
    sum(range(20_000))
"""


def test_sci_budget_fails_a_test_as_an_ordinary_failure(pytester, run_energy):
    pytester.makepyfile(SCI_BUDGETS)
    result, data = run_energy(*FAST)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*energy budget exceeded: SCI * gCO2e per call (modelled) = operational * + "
                                 "embodied *, from * (95% CI *, estimate) > 1e-15 gCO2e"])
    assert "Traceback" not in result.stdout.str()
    tests = by_test(data)
    assert tests["test_over"]["budget"]["status"] == "over" and tests["test_over"]["budget"]["sci_g"] == 1e-15
    assert tests["test_within"]["budget"] == {"joules": None, "co2_g": None, "sci_g": 1.0, "status": "ok",
                                              "message": None}
    result.stdout.fnmatch_lines(["*energy: Software Carbon Intensity per test*"])  # a budget lists them
    result.stdout.fnmatch_lines(["*test_within*budget ok (1 gCO2e SCI)*"])
    pytester.runpytest().assert_outcomes(passed=2)  # without --energy: nothing judged


def test_sci_budget_marker_arguments_are_validated(pytester):
    pytester.makepyfile("import pytest\n@pytest.mark.energy_budget(sci_g=-1)\ndef test_a(): pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: invalid energy marker: *::test_a: energy_budget(sci_g=-1): sci_g must be > 0"])


def test_html_has_an_sci_section_and_old_results_files_still_load(pytester, run_energy):
    pytester.makepyfile("def test_a(): pass")
    html = pytester.path / "report.html"
    result, data = run_energy(*FAST, f"--energy-html={html}")
    text = html.read_text()
    assert "Software Carbon Intensity (ISO/IEC 21031:2024)" in text and "<b>Modelled</b>" in text
    assert "default: the run reserves the whole machine" in text
    old = dict(data["tests"][0])
    del old["sci"]
    assert TestResult.from_dict(old).sci is None
    assert TestResult.from_dict(data["tests"][0]).sci.sci_g == data["tests"][0]["sci"]["sci_g"]


def test_each_data_file_names_its_source_and_licence():
    for name in ("cloud_instances.json", "cloud_regions.json", "grid_intensity.json"):
        data = json.loads((sci_module.DATA / name).read_text())
        assert data["_source"] and data["_licence"] and "regenerate_sci_data.py" in data["_regenerate"]
    assert "Apache License" in (sci_module.DATA / "LICENSE-cloud-carbon-footprint.txt").read_text()
    providers = load("cloud_instances.json")["providers"]
    assert (providers["aws"]["min_watts"], providers["aws"]["max_watts"], providers["aws"]["pue"]) == (0.74, 3.5, 1.135)
    assert providers["aws"]["instances"]["m5.xlarge"][:4] == [4, 16.0, 1610.4, 96]


@needs_valgrind
def test_a_simulated_run_labels_its_sci_modelled(pytester):
    import subprocess
    import sys

    pytester.makepyfile("def test_a(): sum(range(1000))")
    out = pytester.path.parent / f"{pytester.path.name}-sci.json"
    done = subprocess.run([sys.executable, "-m", "pytest", "--energy", "--energy-meter=simulated", "-p",
                           "no:cacheprovider", f"--energy-json={out}"], cwd=pytester.path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "-- modelled: E comes from the simulated meter" in done.stdout
    figure = json.loads(out.read_text())["tests"][0]["sci"]
    assert figure["modelled"] is True and figure["meter"] == "simulated"
    assert 0 < figure["seconds"] < 0.1  # the modelled cycles, not valgrind's slow wall time


# -- judging SCI: the gate (--energy-judge=sci), ab (--judge sci) and the markdown --------

JUDGE_SUITE = """
    import itertools, os, time, pynvml

    NOISE = itertools.cycle([0.98, 1.01, 1.03, 0.99, 1.0, 0.97, 1.02])

    def work(joules):
        pynvml.consume(int(joules * next(NOISE) * 1000))
        time.sleep(0.01)

    def test_steady():
        work(2.0)

    def test_scaled():
        work(2.0 * float(os.environ.get("SCALE", "1")))
"""
#: Tier 2 on the fake NVML meter (no background power); a small embodied share keeps the
#: time's noise (a loaded machine's sleeps) out of these verdicts.
JUDGE = ("--energy", "--energy-repeat", "--energy-meter=nvml", "--energy-idle-time=0", "--energy-min-time=0.05",
         "--energy-rounds=5", "--energy-warmup=0", "--energy-reserved-share=0.01")


def _compare(pytester, *args: str) -> tuple[pytest.RunResult, dict[str, dict]]:
    out = pytester.path / "results.json"
    result = pytester.runpytest(*JUDGE, "--energy-compare", f"--energy-json={out}", *args)
    data = json.loads(out.read_text())
    return result, {c["nodeid"].split("::")[-1]: c for c in data["comparisons"]}


@pytest.fixture
def judge_suite(pytester, exact_meter, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("SCALE", "1")
    monkeypatch.setenv("COLUMNS", "160")
    pytester.makepyfile(test_suite=JUDGE_SUITE)
    pytester.runpytest(*JUDGE, "--energy-save").assert_outcomes(passed=2)
    return pytester


def test_the_gate_judges_sci_per_call_and_says_so(judge_suite, monkeypatch):
    stored = json.loads((judge_suite.path / ".energy" / "baseline.json").read_text())
    run = stored["tests"]["test_suite.py::test_scaled"]["runs"][-1]
    assert len(run["samples"]["sci_g"]) == len(run["samples"]["joules"]) == 5
    assert run["call_sci_g"] > 0 and stored["files"]["test_suite.py"]["runs"][-1]["sci_g"] > 0
    monkeypatch.setenv("SCALE", "3")
    result, found = _compare(judge_suite, "--energy-judge=sci", "--energy-markdown=summary.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert found["test_scaled"]["verdict"] == "regression" and found["test_steady"]["verdict"] != "regression"
    summary = (judge_suite.path / "summary.md").read_text()
    assert "Against the baseline (2 tests in both, judged on SCI): " in summary
    assert "| test | baseline SCI g/call | current SCI g/call | change (95% CI) |" in summary
    assert {c["quantity"] for c in found.values()} == {"sci"}
    # the medians are gCO2e per call: 2 J at 475 gCO2e/kWh is 264 µg, plus a little embodied carbon
    assert found["test_steady"]["baseline_median"] == pytest.approx(2.0 * 475 / 3.6e6, rel=0.1)
    result.stdout.fnmatch_lines([
        "test *baseline SCI g/call*current SCI g/call*",
        "SCI gCO2e per call (a file: its tests' calls summed)*",
        "energy regression: test_suite.py::test_scaled (SCI, gCO2e): * µg -> * µg per call, +*",
        "energy check FAILED (judged on SCI): *regression*",
    ])
    result, found = _compare(judge_suite)  # joules, the default: the same regression, in joules
    assert found["test_scaled"]["verdict"] == "regression" and found["test_scaled"]["quantity"] == "joules"
    assert found["test_scaled"]["baseline_median"] == pytest.approx(2.0, rel=0.05)
    assert "judged on" not in result.stdout.str()


def test_an_old_baseline_without_sci_figures_says_so_and_does_not_fail(judge_suite, monkeypatch):
    path = judge_suite.path / ".energy" / "baseline.json"
    stored = json.loads(path.read_text())
    for entry in [*stored["tests"].values(), *stored["files"].values()]:
        for run in entry["runs"]:
            run.pop("call_sci_g", None), run.pop("sci_g", None), run.get("samples", {}).pop("sci_g", None)
    path.write_text(json.dumps(stored))
    monkeypatch.setenv("SCALE", "3")
    result, found = _compare(judge_suite, "--energy-judge=sci")
    assert result.ret == 0 and found == {}
    result.stdout.fnmatch_lines(["energy warning: baseline has no SCI figures: save one with this version "
                                 "(--energy-save)"])
    result, found = _compare(judge_suite)  # the joules are still judged
    assert result.ret == pytest.ExitCode.TESTS_FAILED and found["test_scaled"]["verdict"] == "regression"


@pytest.mark.parametrize("how", [["--energy-judge=watts"], ["-o", "energy_judge=co2"]])
def test_a_bad_judge_is_a_one_line_usage_error(pytester, how):
    pytester.makepyfile("def test_a(): raise AssertionError('must not run')")
    result = pytester.runpytest("--energy", *how)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    value = how[-1].split("=")[1]
    result.stderr.fnmatch_lines([f"ERROR: --energy-judge={value}: choose joules or sci (what the baseline "
                                 "comparison judges per call)"])
    assert len([line for line in result.stderr.lines if line.strip()]) == 1 and "must not run" not in result.stdout.str()


def test_the_markdown_has_the_sessions_sci_with_its_sources(pytester, run_energy):
    pytester.makepyfile("def test_a(): sum(range(20_000))\ndef test_b(): pass\n")
    summary = pytester.path / "summary.md"
    result, data = run_energy(*FAST, *AWS_M5, "--energy-meter=estimate", f"--energy-markdown={summary}")
    result.assert_outcomes(passed=2)
    line = next(x for x in summary.read_text().splitlines() if x.startswith("**SCI**"))
    assert line.startswith("**SCI** (ISO/IEC 21031:2024, R = one call of the test): ")
    assert "CO2e for one call of each measured test (2) = operational " in line
    assert ", modelled: E comes from the `estimate` meter." in line
    assert "intensity 245 gCO2e/kWh (`Virginia 2023, EPA eGRID; aws us-east-1`), PUE 1.14 " in line
    assert "embodied 1.61e+03 kgCO2e (`Cloud Carbon Footprint, aws m5.xlarge's host server`)" in line
    per_call = data["sci"]["sci_g"] / 2
    assert f"{per_call * 1e9:.3g} ngCO2e per call on average" in line or "gCO2e per call on average" in line


def test_a_rounds_sci_comes_from_its_joules_and_time_and_old_figures_have_none():
    from pytest_energy.history import StoredRun, sci_samples
    from pytest_energy.judge.figures import JOULES, SCI, results_as, runs_as
    from pytest_energy.results import CallWindow, Measurement, Round

    site, intensity = resolve(SiteOptions(cloud="aws", region="us-east-1", instance="m5.xlarge"), {})
    figure = site.sci(0.5, 0.25, 3.0, intensity, "rapl", False, workers=2)
    for joules, seconds in ((0.5, 0.25), (1.0, 0.25), (0.5, 1.0), (0.0, 0.0)):
        again = site.sci(joules, seconds, 3.0, intensity, "rapl", False, workers=2).sci_g
        assert figure.at(joules, seconds) == pytest.approx(again, rel=1e-12, abs=1e-18)
    rounds = [Round(1.0, 1.0, 0.5, 2, 0.5, 0.0, 1.0), Round(1.0, 1.0, 1.0, 2, 1.0, 1.0, 2.0)]
    result = TestResult("t.py::test_a", "rapl", False, 3.0, call=CallWindow(0.5, 0.5, 0.25, 0.25, False),
                        measurement=Measurement("rapl", False, rounds, 3.0), sci=figure)
    assert sci_samples(result) == [figure.at(0.5, 0.25), figure.at(0.5, 0.5)]  # per call: same joules, 2x time
    assert sci_samples(result)[1] > sci_samples(result)[0]  # the embodied part and the idle power follow time
    seen = results_as([result], SCI)[0]
    assert seen.samples == pytest.approx(sci_samples(result)) and seen.call.joules == pytest.approx(figure.sci_g)
    assert results_as([result], JOULES) == [result]
    old = replace(result, sci=replace(figure, g_per_j=0.0, embodied_g_per_s=0.0))  # a file from before
    assert sci_samples(old) == [] and results_as([old], SCI) == []
    stored = StoredRun.from_result(result)
    assert StoredRun.from_dict(stored.to_dict()) == stored and stored.call_sci_g == pytest.approx(figure.sci_g)
    assert runs_as([stored], SCI)[0].joules == stored.sci_g
    assert runs_as([StoredRun.from_dict({**stored.to_dict(), "samples": {"joules": [1.0]}})], SCI) == []
