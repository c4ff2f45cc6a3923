"""Ids in the terminal tables, shortened the way people read them; empty columns dropped."""

from __future__ import annotations

import pytest

from pytest_energy.report.ids import drop_common_dir, short_id, short_ids
from pytest_energy.report.text import fitted_table

MODULE = """
    import pytest

    @pytest.mark.parametrize("payload", ["a-rather-long-parameter-value-number-one",
                                         "a-rather-long-parameter-value-number-two"])
    def test_serialises_the_payload_quickly(payload): sum(range(500))

    def test_native_and_python_agree(): sum(range(800))
"""


def _rows(lines: list[str], first: str) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    rows = []
    for line in lines[start + 2:]:
        if not line.strip() or line.startswith(("-", "=", "energy", "measured:", "meter:")):
            break
        rows.append(line)
    return [lines[start], *rows]


def test_narrow_terminal_rows_keep_base_name_and_test_name(pytester, run_energy, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    pytester.mkpydir("project")
    (pytester.path / "project" / "tests_of_the_serialisation_layer").mkdir()
    for name in ("test_json_encoding_module", "test_msgpack_encoding_module"):
        pytester.makepyfile(**{f"project/tests_of_the_serialisation_layer/{name}": MODULE})
    result, data = run_energy()
    result.assert_outcomes(passed=6)
    lines = result.stdout.lines
    table = _rows(lines, "test ")
    # no empty columns; a column with one value for every row said once below
    assert table[0].split() == ["test", "J/call", "s/call", "gCO2e"]
    assert "measured: real call; meter: estimate" in lines
    ids = [line.split("  ")[0].strip() for line in table[1:]]
    assert len(set(ids)) == 6 and all(len(line) <= 80 for line in table)
    assert not any(i.startswith("project/") for i in ids)
    for module in ("json_encoding", "msgpack_encod"):  # the file's name without test_ and .py
        assert sum(i.startswith(module) for i in ids) == 3, table
    assert sum(i.endswith("agree") for i in ids) == 2
    assert sorted(i[-3:] for i in ids if i.endswith("]")) == ["ne]", "ne]", "wo]", "wo]"]
    files = _rows(lines, "file ")
    assert sorted(line.split()[0][:12] for line in files[1:-1]) == ["test_json_en", "test_msgpack"]
    monkeypatch.setenv("COLUMNS", "250")  # wide enough: the full ids
    result, _ = run_energy()
    assert any(line.startswith("project/tests_of_the_serialisation_layer/") for line in result.stdout.lines)


def test_id_rules():
    assert drop_common_dir(["a/b/x.py::t", "a/b/y.py::u", "TOTAL"]) == ["x.py::t", "y.py::u", "TOTAL"]
    assert drop_common_dir(["a/x.py::t", "b/y.py::u"]) == ["a/x.py::t", "b/y.py::u"]
    assert short_id("dir/test_x.py::test_y[abcdefghijkl]", 40) == "dir/test_x.py::test_y[abcdefghijkl]"
    assert short_id("dir/test_x.py::test_y[abcdefghijkl]", 32) == "test_x.py::test_y[abcdefghijkl]"
    assert short_id("dir/test_x.py::test_y[abcdefghijklmnop]", 28) == "test_x.py::test_y[abc...nop]"
    cut = short_ids(["a/test_x.py::t[1234567890]", "b/test_x.py::t[1234567890]"], 24)
    assert len(set(cut)) == 2 and all(len(c) <= 24 for c in cut)


@pytest.mark.parametrize("width", [None, 200])
def test_ids_that_fit_are_kept_whole(width):

    table = fitted_table([["tests/test_a.py::test_b", "1"]], ["test", "n"], width, (0,))
    assert "tests/test_a.py::test_b" in table


def test_ids_with_control_characters_keep_a_table_on_its_rows():
    table = fitted_table([["t.py::test_a\n\x1b[2J", "1 J"], ["t.py::test_\u202eb", "2 J"]], ["test", "J"], 80, (0,))
    lines = table.splitlines()
    assert len(lines) == 4 and "\x1b" not in table and "\u202e" not in table
    assert lines[2].startswith("t.py::test_a\\n\\x1b[2J") and lines[3].startswith("t.py::test_\\u202eb")
    assert all(len(line) <= len(lines[1]) for line in lines)  # every row within the rule's width
