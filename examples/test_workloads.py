"""A small real suite: CPU workloads of different cost, with energy budgets.

Run it with ``pytest --energy examples``. Where the machine has no RAPL or NVML the
figures come from the estimate meter and say so.
"""

import hashlib
import json
import random
import re

import pytest


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def test_fibonacci_recursive():
    assert fib(22) == 17711


def test_sort_100k_floats():
    rng = random.Random(42)
    data = [rng.random() for _ in range(100_000)]
    assert sorted(data)[0] == min(data)


def test_sha256_4mb():
    digest = hashlib.sha256(b"\x00" * 4_000_000).hexdigest()
    assert len(digest) == 64


def test_json_roundtrip():
    doc = {"items": [{"id": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(2_000)]}
    assert json.loads(json.dumps(doc)) == doc


def test_regex_scan():
    text = "user@example.com, x@y.org; " * 2_000
    assert len(re.findall(r"[\w.]+@[\w.]+", text)) == 4_000


@pytest.mark.energy_budget(joules=5)
def test_list_comprehension_within_budget():
    squares = [i * i for i in range(50_000)]
    assert squares[-1] == 49_999**2


@pytest.mark.energy_budget(co2_g=0.01)
def test_string_building_within_co2_budget():
    assert len("".join(str(i) for i in range(20_000))) == 88_890


@pytest.mark.energy(rounds=1)
def test_runs_once():
    assert sum(range(1_000_000)) == 499_999_500_000


def test_sorting_through_the_fixture(energy):
    data = list(range(50_000, 0, -1))
    result = energy(sorted, data)
    assert result[0] == 1


@pytest.mark.explicit_only
@pytest.mark.energy_budget(joules=0.000001)
def test_demo_budget_exceeded():
    """DEMO OF A FAILING BUDGET: 1 uJ is far too little for this loop.

    Deselected unless named: pytest --energy examples/test_workloads.py::test_demo_budget_exceeded
    """
    assert fib(20) == 6765
