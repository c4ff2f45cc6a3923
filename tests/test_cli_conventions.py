"""The command's conventions: --version, merge -o, usage, broken pipes, ab's progress and errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pytest_energy import __version__
from pytest_energy.ab.run import duration, eta
from pytest_energy.ab.workspace import last_line


def cli(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.run(sys.executable, "-m", "pytest_energy", *args)


def test_version(pytester):
    result = cli(pytester, "--version")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"pytest-energy {__version__}"])


@pytest.fixture
def shards(pytester):
    pytester.makepyfile(test_a="def test_a(): pass", test_b="def test_b(): pass")
    for name in ("a", "b"):
        result = pytester.runpytest("--energy", f"test_{name}.py", f"--energy-json={name}.json")
        assert result.ret == 0
    return pytester.path / "a.json", pytester.path / "b.json"


def test_merge_never_overwrites_a_shard(pytester, shards):
    first, second = shards
    before = first.read_text()
    result = cli(pytester, "merge", str(first), str(second))  # the earlier form, with a shard first
    assert result.ret == 2
    result.stderr.fnmatch_lines([f"pytest-energy merge: error: name the merged file with -o "
                                 f"(pytest-energy merge -o merged.json {first} {second}); "
                                 f"{first} exists and is not overwritten"])
    result = cli(pytester, "merge", "-o", str(first), str(first), str(second))
    assert result.ret == 2
    result.stderr.fnmatch_lines([f"pytest-energy merge: error: -o {first} is one of the shards; *"])
    assert first.read_text() == before
    result = cli(pytester, "merge", "-o", "all.json", str(first), str(second))
    assert result.ret == 0
    result.stdout.fnmatch_lines(["pytest-energy: merged 2 tests from 2 files into all.json"])
    result = cli(pytester, "merge", "new.json", str(first), str(second))  # earlier form, new output
    assert result.ret == 0 and (pytester.path / "new.json").exists()


def test_ab_usage_shows_the_double_dash(pytester):
    result = cli(pytester, "ab", "--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["usage: pytest-energy ab [options] BASE [HEAD] [-- PYTEST ARGS...]"])


@pytest.mark.parametrize("args", [["doctor"], ["--help"]])
def test_a_closed_pipe_ends_quietly(args):
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before anything is written, as after `| head`
    process = subprocess.run([sys.executable, "-m", "pytest_energy", *args], stdout=writer,
                             stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(writer)
    assert "Traceback" not in process.stderr and "BrokenPipe" not in process.stderr
    assert process.returncode in (0, 141)  # argparse's help ignores the pipe itself


def test_a_side_that_cannot_start_says_pytests_error(pytester):
    """`-n 2` without xdist: pytest's usage error, not the rootdir line printed after it."""
    pytester.makepyfile("def test_a(): pass")
    log = pytester.path / "side.log"
    with open(log, "w") as out:
        status = subprocess.call([sys.executable, "-m", "pytest", "-p", "no:xdist", "-n", "2"],
                                 cwd=pytester.path, stdout=out, stderr=subprocess.STDOUT)
    assert status == 4
    assert "rootdir" in log.read_text().strip().splitlines()[-1]
    assert last_line(str(log)).endswith("error: unrecognized arguments: -n")


def test_progress_has_elapsed_time_and_an_estimate_of_time_left():
    assert eta(12.0, 1, 10) == ""  # no test finished yet: nothing to go by
    assert eta(60.0, 3, 10) == ", 1m00s elapsed, about 4m00s to go"
    assert [duration(s) for s in (4.4, 65, 3720)] == ["4s", "1m05s", "1h02m"]
