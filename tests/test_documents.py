"""Documents (results, baseline, ab and model files): one loader, published JSON Schemas,
the same checks before anything is saved, one line naming the file and the field."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from document_samples import mutations, run_cli

from pytest_energy import settings
from pytest_energy.errors import InputError
from pytest_energy.store import baseline as store
from pytest_energy.store import documents, loader
from pytest_energy.store.schema import SCHEMA_DIR, SchemaError, load_schema, validate

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = sorted(p.name.removesuffix(".schema.json") for p in Path(SCHEMA_DIR).glob("*.schema.json"))


def _jsonschema_validator(name: str):
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    registry = referencing.Registry().with_resources(
        (f"{other}.schema.json", referencing.Resource.from_contents(load_schema(other))) for other in SCHEMAS
    )
    return jsonschema.Draft202012Validator(load_schema(name), registry=registry)


def test_schemas_are_valid_json_schemas_shipped_with_the_package():
    jsonschema = pytest.importorskip("jsonschema")
    assert SCHEMAS == ["ab", "baseline", "common", "model", "results", "samples"]
    for name in SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(load_schema(name))
    assert '"pytest_energy.store" = ["schemas/*.json"]' in (ROOT / "pyproject.toml").read_text()


def test_what_the_plugin_writes_passes_both_validators(sample_documents, tmp_path):
    for kind, data in sample_documents.items():
        validate(data, kind)
        assert not list(_jsonschema_validator(kind).iter_errors(data)), kind
    model = _jsonschema_validator("model")
    from pytest_energy.measurement.simulator.model import DEFAULT_MODEL

    assert not list(model.iter_errors(DEFAULT_MODEL.to_dict()))


@pytest.mark.parametrize("kind", ["results", "baseline", "ab"])
def test_the_package_validator_applies_the_published_schema(sample_documents, kind):
    """The schema is the rule: on mutated documents the package's validator refuses
    exactly what jsonschema refuses. (It also applies x-unique, which JSON Schema cannot
    say: see the duplicated test below.)"""
    reference = _jsonschema_validator(kind)
    for description, document in mutations(sample_documents[kind], seed=17, limit=150):
        theirs = next(reference.iter_errors(document), None)
        try:
            validate(document, kind)
            mine = None
        except SchemaError as exc:
            mine = exc
        assert (mine is None) == (theirs is None), (description, mine, theirs and theirs.message)


def test_the_documents_ceilings_are_the_settings_bounds():
    results = load_schema("results")["$defs"]["settings"]["properties"]["intensity"]["properties"]
    assert results["g_per_kwh"]["maximum"] == settings.MAX_INTENSITY
    assert results["pue"]["maximum"] == settings.MAX_PUE
    assert load_schema("model")["properties"]["core_watts"]["maximum"] == settings.MAX_CORE_WATTS
    common = load_schema("common")["$defs"]
    # the largest gCO2e the settings allow for the largest figure stays under the gCO2e ceiling
    most = common["joules"]["maximum"] / 3.6e6 * settings.MAX_INTENSITY * settings.MAX_PUE
    assert most < common["co2_g"]["maximum"]


def _write(path: Path, data) -> str:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def _one_line(status: int, err: str, *parts: str) -> None:
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in err, err


def _test_entry(results: dict, name: str) -> dict:
    return next(t for t in results["tests"] if t["nodeid"].endswith(name))


# -- results files (item 4) ---------------------------------------------------------------

@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.update(version=2), "has schema version 2, this pytest-energy reads version 1; upgrade"),
    (lambda d: d.update(version="1"), 'has schema version "1"'),
    (lambda d: _test_entry(d, "test_plain")["call"].update(joules=-5.0),
     "is malformed at tests[2].call.joules: -5 is below 0"),
    (lambda d: _test_entry(d, "test_plain")["call"].update(joules=1e308),
     "is malformed at tests[2].call.joules: 1e+308 is above 1e+09, the most allowed"),
    (lambda d: d["tests"].append(copy.deepcopy(_test_entry(d, "test_plain"))),
     'is malformed at tests[6].nodeid: "test_sample.py::test_plain" is listed twice'),
    (lambda d: _test_entry(d, "test_repeated")["rounds"][0].update(iterations=0),
     "tests[3].rounds[0].iterations: 0 is below 1"),
    (lambda d: d.update(faults=None), "at faults: must be a list, not null"),
    (lambda d: d["versus"][0].update(reference="nobody"), 'versus[0].reference: "nobody" is not one of'),
])
def test_bad_results_files_are_refused_in_one_line_naming_the_field(sample_documents, tmp_path, change, field):
    data = copy.deepcopy(sample_documents["results"])
    change(data)
    bad = _write(tmp_path / "bad.json", data)
    good = _write(tmp_path / "good.json", sample_documents["results"])
    for command in (["compare", good, bad], ["report", bad, "-o", "r.html"], ["merge", "m.json", bad]):
        status, err = run_cli(tmp_path, *command)
        _one_line(status, err, f"results file {bad}" if "version" not in field else bad, field)
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "r.html").exists()


def test_a_key_given_twice_is_refused(sample_documents, tmp_path):
    text = json.dumps(sample_documents["baseline"])
    nodeid = next(iter(sample_documents["baseline"]["tests"]))
    entry = json.dumps(sample_documents["baseline"]["tests"][nodeid])
    twice = text.replace('"tests": {', f'"tests": {{{json.dumps(nodeid)}: {entry}, ', 1)
    status, err = run_cli(tmp_path, "report", "--baseline", _write(tmp_path / "b.json", twice))
    _one_line(status, err, "is corrupt (the key", "appears twice in one object")


def test_deep_nesting_is_refused_before_anything_walks_it(sample_documents, tmp_path):
    text = json.dumps(sample_documents["results"]).replace('"machine": {', '"machine": {"x": ' + "[" * 900 + "]" * 900 + ", ", 1)
    status, err = run_cli(tmp_path, "merge", "m.json", _write(tmp_path / "deep.json", text))
    _one_line(status, err, "is corrupt (nested more than 64 levels deep)")


# -- report, compare: crashes that were tracebacks (item 5) -------------------------------

@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["base"].update(commit=5), "at base.commit: must be text or null, not 5"),
    (lambda d: d["settings"].update(max_regression=None), "at settings.max_regression: must be a number, not null"),
    (lambda d: d["tests"][1]["head"]["rounds"][0].update(iterations=0),
     "at tests[1].head.rounds[0].iterations: 0 is below 1"),
])
def test_bad_ab_files_are_refused_in_one_line(sample_documents, tmp_path, change, field):
    data = copy.deepcopy(sample_documents["ab"])
    change(data)
    status, err = run_cli(tmp_path, "report", "--ab", _write(tmp_path / "ab.json", data))
    _one_line(status, err, "ab file", field)


def test_compare_checks_its_summary_destinations_before_reading(sample_documents, tmp_path, monkeypatch):
    good = _write(tmp_path / "good.json", sample_documents["results"])
    (tmp_path / "dir").mkdir()
    status, err = run_cli(tmp_path, "compare", good, good, "--markdown", str(tmp_path / "dir"))
    _one_line(status, err, f"--markdown={tmp_path / 'dir'}: is a directory")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "dir"))
    status, err = run_cli(tmp_path, "compare", good, good)
    _one_line(status, err, f"$GITHUB_STEP_SUMMARY={tmp_path / 'dir'}: is a directory")


def test_ab_checks_its_summary_destination_before_measuring(tmp_path, monkeypatch):
    (tmp_path / "dir").mkdir()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "dir"))
    status, err = run_cli(tmp_path, "ab", "HEAD")  # not even a git repository: checked first
    _one_line(status, err, f"$GITHUB_STEP_SUMMARY={tmp_path / 'dir'}: is a directory")


@pytest.mark.parametrize("args", [["--max-regression", "nan"], ["--alpha", "1"], ["--tolerance", "-1"],
                                  ["--max-regression", "1e308"]])
def test_absurd_verdict_options_are_one_line(sample_documents, tmp_path, args):
    good = _write(tmp_path / "good.json", sample_documents["results"])
    _one_line(*run_cli(tmp_path, "compare", good, good, *args), args[0])


# -- nothing written that would be refused (item 4) ----------------------------------------

def test_merge_refuses_a_shard_it_would_have_saved_into_the_baseline(sample_documents, tmp_path):
    data = copy.deepcopy(sample_documents["results"])
    _test_entry(data, "test_plain")["call"]["joules"] = -5.0
    shard = _write(tmp_path / "shard.json", data)
    status, err = run_cli(tmp_path, "merge", "m.json", shard, "--baseline", "b.json")
    _one_line(status, err, "tests[2].call.joules: -5 is below 0")
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "m.json").exists()


def test_save_refuses_a_document_it_would_not_load(sample_documents, tmp_path):
    data = copy.deepcopy(sample_documents["results"])
    _test_entry(data, "test_plain")["co2_g"] = float("inf")  # written as null: refused
    with pytest.raises(InputError, match=r"results file .*out.json not written: it would be malformed at "
                       r"tests\[2\].co2_g: must be a number, not null"):
        loader.save(str(tmp_path / "out.json"), documents.RESULTS, data)
    assert not (tmp_path / "out.json").exists()
    from pytest_energy.measurement.simulator.model import ModelCoefficients
    from pytest_energy.store.models import save_model

    with pytest.raises(InputError, match="core_watts: 5000 is above 1000"):
        save_model(str(tmp_path / "model.json"), ModelCoefficients(core_watts=5000.0))
    assert not (tmp_path / "model.json").exists()


SUITE = """
    def test_one():
        sum(range(1000))
"""


def test_a_refused_output_costs_that_file_only(pytester, monkeypatch):
    from pytest_energy.history import StoredRun
    from pytest_energy.runs import RunRecord

    pytester.makepyfile(SUITE)
    real = RunRecord.to_dict
    monkeypatch.setattr(RunRecord, "to_dict", lambda self: {**real(self), "faults": [None]})
    stored = StoredRun.to_dict
    monkeypatch.setattr(StoredRun, "to_dict", lambda self: {**stored(self), "call_joules": -5.0})
    result = pytester.runpytest("--energy-idle-time=0", "--energy-json=r.json", "--energy-html=r.html",
                                "--energy-markdown=r.md", "--energy-save")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "energy warning: results file r.json not written: it would be malformed at faults[[]0]: must be text, not null",
        "energy warning: baseline not saved: baseline * not written: it would be malformed at "
        '*runs[[]0].call_joules: -5 is below 0, the least allowed',
    ])
    assert not (pytester.path / "r.json").exists() and not (pytester.path / ".energy" / "baseline.json").exists()
    assert (pytester.path / "r.html").exists() and (pytester.path / "r.md").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--energy-core-watts=1e308"], "ERROR: --energy-core-watts=1e+308: at most 1000 W"),
    (["--energy-carbon-intensity=1e300", "--energy-pue=1e10"], "ERROR: --energy-carbon-intensity=1e+300: at most 5000 gCO2e/kWh"),
    (["--energy-pue=1e10"], "ERROR: --energy-pue=1e+10: at most 10"),
    (["--energy-max-regression=1e308"], "ERROR: --energy-max-regression must be above 0 and at most 10000 percent"),
    (["--energy-json=out", "--energy-html=out"],
     "ERROR: --energy-json and --energy-html name one file (out); give each its own path"),
    (["--energy-json=out.json", "--energy-markdown=./out.json"],
     "ERROR: --energy-json and --energy-markdown name one file (./out.json); give each its own path"),
])
def test_absurd_options_are_refused_at_configure(pytester, args, message):
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--energy", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not list(pytester.path.glob("out*"))


# -- the baseline lock (item 8) -----------------------------------------------------------

def test_the_baseline_lock_is_keyed_on_the_real_file(tmp_path):
    from filelock import FileLock

    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "baseline.json"
    link = tmp_path / "link.json"
    link.symlink_to(target)
    with FileLock(str(target) + ".lock"), pytest.raises(store.BaselineError, match="stayed locked"):
        store.save(str(link), [], {}, None, 10, lock_timeout_s=0)
    assert not target.exists()
    store.save(str(link), [], {}, None, 10, lock_timeout_s=0)
    assert json.loads(target.read_text())["format"] == "pytest-energy-baseline"
    assert sorted(os.listdir(tmp_path / "real")) == ["baseline.json", "baseline.json.lock"]


@pytest.mark.parametrize("meter", ["missing", 5])
@pytest.mark.parametrize("args", [["--energy-save", "--energy-json=r.json"],
                                  ["--energy-compare", "--energy-html=r.html"]])
def test_a_stored_run_without_a_meter_is_one_line_before_any_test(pytester, sample_documents, meter, args):
    """Item 2: it used to end the session in a KeyError (or an IndexError in the HTML's
    history) and lose the other outputs; now the baseline is refused at the start."""
    data = copy.deepcopy(sample_documents["baseline"])
    run = data["tests"]["test_sample.py::test_plain"]["runs"][0]
    if meter == "missing":
        del run["meter"]
    else:
        run["meter"] = meter
    path = pytester.path / ".energy" / "baseline.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--energy-idle-time=0", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    problem = "is missing" if meter == "missing" else "must be text, not 5"
    result.stderr.fnmatch_lines([f'ERROR: baseline {path} is malformed at tests[[]"test_sample.py::test_plain"]'
                                 f".runs[[]0].meter: {problem}; restore it from version control or re-create it "
                                 "with --energy-save"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert json.loads(path.read_text()) == data


@pytest.mark.parametrize("special", ["fifo", "dev-zero"])
def test_a_fifo_or_dev_zero_document_is_refused_not_waited_on(tmp_path, special):
    import subprocess
    import sys

    path = tmp_path / "results.json"
    if special == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    for args in (["compare", str(path), str(path)], ["report", str(path), "-o", str(tmp_path / "r.html")]):
        done = subprocess.run([sys.executable, "-m", "pytest_energy", *args], capture_output=True, text=True,
                              timeout=60)  # a hang fails here instead of stalling the suite
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert "only regular files are read" in line and "Traceback" not in done.stderr
    with pytest.raises(InputError, match="only regular files are read"):
        store.load(str(path))
