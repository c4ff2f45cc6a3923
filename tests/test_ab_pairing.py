"""ab's rounds at a price a PR can pay: the same calls per round on both sides, and a test's
rounds stopped once its verdict is clear (never a test that may be a regression)."""

from __future__ import annotations

import random

import pytest

from pytest_energy.ab.turns import Pairing
from pytest_energy.ab.verdicts import LOOKS, clear_early
from pytest_energy.measurement.engine import PAIRED_STEPS, Engine, Handover, Steer
from pytest_energy.measurement.meters import Meter, MeterSet
from pytest_energy.settings import ProtocolSettings
from pytest_energy.timing import FakeClock


def _pairs(n, ratio, noise, seed=0):
    rng = random.Random(seed)
    base = [1 + rng.gauss(0, noise) for _ in range(n)]
    return base, [b * ratio * (1 + rng.gauss(0, noise)) for b in base]


def test_a_quiet_unchanged_test_is_clear_at_the_first_look_only():
    base, head = _pairs(LOOKS[0], 1.0, 0.01)
    assert clear_early(base, head, 0.10)
    assert not clear_early(base[:-1], head[:-1], 0.10)  # not a look
    between = next(n for n in range(LOOKS[0], LOOKS[-1]) if n not in LOOKS)
    more_base, more_head = _pairs(between, 1.0, 0.01)
    assert not clear_early(more_base, more_head, 0.10)  # not a look either
    assert LOOKS[0] == 3  # a quiet test stops after 3 pairs: 8 calls in all with the real ones


@pytest.mark.parametrize(("ratio", "noise"), [
    (1.3, 0.01),   # a regression: every round is spent on it
    (1.1, 0.01),   # at the limit: the bounds reach it
    (1.0, 0.3),    # too noisy yet
    (0.7, 0.01),   # an improvement is judged on every round too
])
def test_a_test_that_may_cross_the_limit_is_not_stopped(ratio, noise):
    for n in LOOKS:
        base, head = _pairs(n, ratio, noise, seed=n)
        assert not clear_early(base, head, 0.10), (ratio, noise, n)


def test_pairing_gives_both_sides_the_larger_calls_per_round_and_stops_both():
    pairing = Pairing(limit=0.10)
    pairing.record("base", {"iterations": 12})
    pairing.record("head", {"iterations": 30})
    assert pairing.reply() == {"iterations": 30}
    base, head = _pairs(LOOKS[0], 1.0, 0.01)
    for b, h in zip(base, head, strict=True):
        assert "stop" not in pairing.reply()
        pairing.record("base", {"joules": b})
        pairing.record("head", {"joules": h})
    assert pairing.reply() == {"iterations": 30, "stop": True}  # base hears it first...
    assert pairing.reply()["stop"] is True                      # ...then head, after its round
    pairing.record("base", {"iterations": "many", "joules": None})  # junk is ignored
    assert pairing.wants == {"base": 12, "head": 30}


class CountingMeter(Meter):
    """1 J per call made since the last read (the calls are counted by the source)."""

    name = "counting"
    min_window_s = 0.5
    resolution_s = 0.001

    def __init__(self, calls):
        self.calls = calls

    def read(self):
        return {"cpu": float(self.calls[0])}


def _engine():
    calls = [0]
    clock = FakeClock(tick=0.0)
    engine = Engine(MeterSet([CountingMeter(calls)]), clock=clock)

    def call():
        calls[0] += 1
        clock.advance(0.01)

    return engine, call


def test_the_engine_takes_the_partners_calls_per_round_and_stops_when_told():
    engine, call = _engine()
    handovers = []

    def steer(done: Handover) -> Steer:
        handovers.append(done)
        rounds = sum(h.round_ is not None for h in handovers)
        return Steer(iterations=7, stop=rounds == 3)

    engine.between_rounds = steer
    measurement = engine.run(call, ProtocolSettings(rounds=20, warmup=1, min_round_s=None, max_time_s=100))
    assert [r.iterations for r in measurement.rounds] == [7, 7, 7]  # no calibration, then stopped
    assert [r.joules for r in measurement.rounds] == [7.0, 7.0, 7.0]
    warmup, before_rounds = handovers[:2]
    assert warmup == Handover()
    assert before_rounds.round_ is None and before_rounds.iterations in (60, 61)  # 1.2 x 0.5 s / 10 ms
    assert [h.round_.iterations for h in handovers[2:]] == [7, 7, 7]


def test_paired_rounds_span_a_few_counter_steps_not_the_meters_minimum_window():
    engine, call = _engine()
    engine.paired = True
    wanted = []
    engine.between_rounds = lambda done: wanted.append(done.iterations) if done.iterations else None
    engine.run(call, ProtocolSettings(rounds=2, warmup=1, min_round_s=None))
    assert PAIRED_STEPS * 0.001 < 0.5
    assert wanted == [3]  # 1.2 x 20 steps of 1 ms / 10 ms per call


def test_a_process_ends_its_turns_once_though_told_twice(tmp_path):
    """The lockstep plugin ends the turns when the tests are done (pytest_sessionfinish),
    so both sides write their outputs at once, and again at pytest_unconfigure."""
    import threading

    from pytest_energy.ab.turns import END, Coordinator, TurnClient

    address = str(tmp_path / "turns.sock")
    coordinator = Coordinator(address, lambda turns, side, message: None, limit=0.10)
    served = {}
    server = threading.Thread(target=lambda: served.update(turns=coordinator.serve(lambda: {})))
    server.start()

    def side(name):
        client = TurnClient(address, name)
        client.hello()
        client.collected(["t.py::test"], [])
        client.end()
        client.end()

    sides = [threading.Thread(target=side, args=(name,)) for name in ("base", "head")]
    for thread in sides:
        thread.start()
    for thread in [*sides, server]:
        thread.join(timeout=10)
    assert not server.is_alive()
    ends = [side for side, event, _ in served["turns"].log if event == END]
    assert sorted(ends) == ["base", "head"]
