"""pytest's conventions: option help with metavars and defaults, typed ini keys with help,
internal options hidden, the baseline's lock file."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_energy.settings import OPTIONS

BASELINES_DOC = Path(__file__).parent.parent / "docs" / "baselines.md"


def _help_text(pytester) -> str:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    return result.stdout.str()


def test_options_have_metavars_and_defaults(pytester):
    text = _help_text(pytester)
    energy = text[text.index("energy measurement (pytest-energy):"):]
    energy = energy[:energy.index("\n\n")]
    assert not re.search(r"=(STR|INT|FLOAT|COUNT)\b", energy), energy
    for flag, metavar in (("--energy-rounds", "N"), ("--energy-max-time", "SECONDS"),
                          ("--energy-json", "PATH"), ("--energy-max-regression", "PERCENT"),
                          ("--energy-carbon-intensity", "G_PER_KWH")):
        assert f"{flag}={metavar}" in energy
    flat = re.sub(r"\s+", " ", energy)
    for shown in ("measured rounds per repeated test (default: 5)", "(default: .energy/baseline.json)",
                  "regression, percent (default: 10)", "(default: auto)"):
        assert shown in flat


def test_internal_options_are_hidden(pytester):
    text = _help_text(pytester)
    assert "--energy-lockstep" not in text and "--energy-profile-only" not in text


def test_ini_keys_are_typed_with_help(pytester):
    text = _help_text(pytester)
    ini = re.sub(r"\s+", " ", text[text.index("[pytest] configuration options"):])
    for option in OPTIONS:
        match = re.search(rf" {option.dest} \((\w+)\): (\S+)", ini)
        assert match, option.dest
        assert match.group(1) == ("bool" if option.kind == "bool" else "string")
    assert "energy_rounds (string): measured rounds per repeated test (default: 5) [ini: a whole number]" in ini
    pytester.makeini("[pytest]\nenergy = true\nenergy_repeat = yes\n")
    pytester.makepyfile("def test_a(): pass")
    pytester.runpytest().stdout.fnmatch_lines(["energy: 1 test measured (1 repeated in rounds*"])


def test_the_lock_file_is_left_empty_and_documented_for_gitignore(pytester):
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--energy-save", "--energy-baseline=base/baseline.json")
    assert result.ret == 0
    assert sorted(p.name for p in (pytester.path / "base").iterdir()) == ["baseline.json", "baseline.json.lock"]
    assert (pytester.path / "base" / "baseline.json.lock").read_bytes() == b""
    assert "add `*.json.lock` to your\n`.gitignore`" in BASELINES_DOC.read_text()
