"""The classic study: heap sort and selection sort in C against Python, by energy.

Same input, interleaved rounds (C, Python, C, Python, ...), each call on a fresh copy
made outside the measured window. Install the C extension first:
``pip install ./examples/native_vs_python``.
"""

import random

import pytest

energy_sorts = pytest.importorskip("energy_sorts._csort", reason="pip install ./examples/native_vs_python")
from energy_sorts import _csort, pysort  # noqa: E402

HEAP_INPUT = random.Random(1).sample(range(10_000_000), 100_000)
SELECTION_INPUT = random.Random(2).sample(range(1_000_000), 3_000)


@pytest.mark.energy(rounds=5)
@pytest.mark.energy_budget(joules=100)
@pytest.mark.energy_ratio(candidate="c", at_most=0.5)
def test_heap_sort_100k_c_vs_python(energy):
    result = energy.versus({"c": _csort.heap_sort, "python": pysort.heap_sort}, HEAP_INPUT, setup=list)
    assert result["c"].value == sorted(HEAP_INPUT)
    result.assert_ratio("c", at_most=0.25)  # C needs well under a quarter of Python's energy


@pytest.mark.energy(rounds=5)
@pytest.mark.energy_budget(joules=100)
@pytest.mark.energy_ratio(candidate="c", at_most=0.5)
def test_selection_sort_3k_c_vs_python(energy):
    result = energy.versus(
        {"c": _csort.selection_sort, "python": pysort.selection_sort}, SELECTION_INPUT, setup=list,
    )
    assert result["python"].value == sorted(SELECTION_INPUT)
    result.assert_ratio("c", at_most=0.25)


def test_unpackaged_c_file_built_by_the_helper(energy, native_module):
    """For projects whose C code is not packaged yet: build the file for this session."""
    csort = native_module("src/energy_sorts/_csort.c")
    result = energy.versus({"helper-built c": csort.heap_sort, "python": pysort.heap_sort},
                            HEAP_INPUT[:20_000], setup=list)
    result.assert_ratio("helper-built c", at_most=0.5)
