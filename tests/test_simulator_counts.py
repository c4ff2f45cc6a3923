"""Dump parsing, Counts (de)serialisation, launch command construction (no valgrind)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_energy.measurement.simulator.counts import (
    Counts,
    DumpFormatError,
    _parse_windows,
    dump_name,
    parse_last_part,
)
from pytest_energy.measurement.simulator.launch import MARKER_ENV, child_env, current_argv, valgrind_command

PART = """part: {n}


desc: I1 cache: 32768 B, 64 B, 8-way associative
desc: Timerange: Basic block 0 - 25493448
desc: Trigger: Client Request: {name}

positions: line
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw sysCount sysTime sysCpuTime
summary: 0

ob=(1) /usr/bin/python3.11
fn=(1) _PyEval_EvalFrameDefault
16 {ir} 5
totals: {ir} 40 30 9 8 7 3 2 1
"""
HEADER = "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\npid: 1\ncmd: x\n"


def test_parse_last_part_takes_newest_and_zero_fills() -> None:
    data = (
        HEADER
        + PART.format(n=1, name="#1 a", ir=100)
        + "\n"
        + PART.format(n=2, name="#2 b", ir=200)
    ).encode()
    c = parse_last_part(data, b"#2 b")
    assert c == Counts(ir=200, dr=40, dw=30, i1mr=9, d1mr=8, d1mw=7, ilmr=3, dlmr=2, dlmw=1)
    assert c.sys_count == 0 and c.bc == 0
    with pytest.raises(DumpFormatError, match="expected"):
        parse_last_part(data, b"#1 a")


def _windows(text: str) -> tuple[bytearray, int, bytearray, int]:
    data = text.encode()
    head, tail = bytearray(4096), bytearray(4096)
    head[: len(data[:4096])] = data[:4096]
    tail[: len(data[-4096:])] = data[-4096:]
    return head, min(len(data), 4096), tail, min(len(data), 4096)


def test_fast_path_windows() -> None:
    one = PART.format(n=3, name="#3 t", ir=77)
    assert _parse_windows(*_windows(one), b"#3 t") == parse_last_part(one.encode())
    first = HEADER + PART.format(n=1, name="#1 t", ir=5)  # first dump: file header first
    assert _parse_windows(*_windows(first), b"#1 t").ir == 5
    # A foreign dump before ours: the head shows the wrong part, so no fast answer.
    two = PART.format(n=3, name="foreign", ir=1) + PART.format(n=4, name="#3 t", ir=2)
    assert _parse_windows(*_windows(two), b"#3 t") is None
    assert parse_last_part(two.encode(), b"#3 t").ir == 2


def test_parse_truncated_part() -> None:
    data = PART.format(n=1, name="x", ir=1).split("totals:")[0].encode()
    with pytest.raises(DumpFormatError, match="totals"):
        parse_last_part(data)


def test_branch_events_mapped() -> None:
    part = "part: 1\nevents: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim\n"
    part += "totals: 10 0 0 0 0 0 0 0 0 4 1 2 1\n"
    c = parse_last_part(part.encode())
    assert (c.ir, c.bc, c.bcm, c.bi, c.bim) == (10, 4, 1, 2, 1)


def test_dump_name_is_unique_bounded_one_line() -> None:
    long = "test_x[" + "é" * 300 + "]\nnext"
    name = dump_name(7, long)
    assert name.startswith(b"#7 ") and b"\n" not in name and len(name) <= 200
    name.decode("utf-8")  # not cut inside a multi-byte character


def test_counts_dict_round_trip() -> None:
    c = Counts(ir=5, dr=4, dw=3, sys_time_ns=99)
    assert Counts.from_dict(c.to_dict()) == c
    assert Counts.from_dict({"ir": 1}) == Counts(ir=1)
    with pytest.raises(ValueError, match="unknown"):
        Counts.from_dict({"Ir": 1})
    with pytest.raises(ValueError, match="non-negative int"):
        Counts.from_dict({"ir": -1})
    with pytest.raises(ValueError, match="non-negative int"):
        Counts.from_dict({"ir": 1.5})


def test_valgrind_command_and_env(tmp_path: Path) -> None:
    cmd = valgrind_command(["python", "-c", "pass"], tmp_path)
    assert cmd[:3] == ["setarch", cmd[1], "-R"] and cmd[3] == "valgrind"
    for flag in (
        "--tool=callgrind",
        "--cache-sim=yes",
        "--I1=32768,8,64",
        "--D1=32768,8,64",
        "--LL=8388608,16,64",
        "--instr-atstart=no",
        "--collect-systime=nsec",
        "--compress-strings=no",
        "--combine-dumps=yes",
        "--dump-line=no",
        "--branch-sim=no",
        "--trace-children=no",
        f"--callgrind-out-file={tmp_path.resolve()}/callgrind.out.%p",
    ):
        assert flag in cmd
    assert cmd[-3:] == ["python", "-c", "pass"]
    assert "--branch-sim=yes" in valgrind_command(["x"], tmp_path, branch_sim=True)
    env = child_env(tmp_path, {"HOME": "/h"})
    assert env == {
        "HOME": "/h",
        "PYTHONHASHSEED": "0",
        "PYTHONMALLOC": "malloc",
        MARKER_ENV: str(tmp_path.resolve()),
    }


def test_current_argv() -> None:
    argv = current_argv()
    assert argv[0] == sys.executable and argv[1:] == sys.orig_argv[1:]
