"""The pytest side of ``pytest-energy ab``: this process runs only while it has the turn.

Registered in ``pytest_configure`` only with ``--energy-lockstep=SIDE@SOCKET`` (which
``pytest-energy ab`` passes; not meant to be typed). The process asks for the turn
before it measures idle power, reports its tests after collection, gives the turn up at
each test both revisions have, before its first round (saying how many calls per round
it wants) and after every warmup call and round of it (saying the round's joules): the
coordinator answers with the calls per round both sides make and when to stop. Once the
tests have run (``pytest_sessionfinish``), the turns end: both processes write their
outputs at once, each on any CPU.

Both processes run on the one CPU core the coordinator names: taking turns, they never
need two, and on a shared machine one core can be slower than another for minutes, which
would otherwise hit one revision only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from ..ab.turns import SIDES, SOURCE_ENV, TurnClient
from ..measurement.engine import Engine, Handover, Steer


def parse_address(value: str) -> tuple[str, str]:
    """``base@/tmp/x/turns.sock`` -> ("base", "/tmp/x/turns.sock")."""
    side, _, address = value.partition("@")
    if side not in SIDES or not address:
        raise pytest.UsageError(
            f"--energy-lockstep={value}: expected SIDE@SOCKET, SIDE base or head (set by pytest-energy ab)"
        )
    return side, address


class LockstepPlugin:
    """Takes turns with the other revision's process through a :class:`TurnClient`."""

    def __init__(self, client: TurnClient, engine: Engine) -> None:
        self.client = client
        self.engine = engine
        engine.paired = True
        self.shared: set[str] = set()
        #: The CPUs this process may use when it is not taking turns.
        self.cpus: set[int] | None = None

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> Iterator[None]:
        cpu = self.client.hello()  # before idle power is measured
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            self.cpus = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {cpu})
        return (yield)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Nothing is measured from here on: the turns end, and this process writes its
        outputs on any CPU, while the other one writes its own."""
        self.client.end()
        if self.cpus is not None:
            os.sched_setaffinity(0, self.cpus)

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_finish(self, session: pytest.Session) -> Iterator[None]:
        result = yield
        self.shared = self.client.collected([item.nodeid for item in session.items], imported_from_source())
        return result

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        if item.nodeid not in self.shared:
            return (yield)
        self.client.arrive(item.nodeid)
        self.engine.between_rounds = lambda done: self._hand_over(item.nodeid, done)
        try:
            return (yield)
        finally:
            self.engine.between_rounds = None

    def _hand_over(self, test: str, done: Handover) -> Steer:
        """Give the turn up, saying what was done; what the coordinator decided."""
        report: dict[str, Any] = {}
        if done.iterations:
            report["iterations"] = done.iterations
        if done.round_ is not None:
            report["joules"] = done.round_.joules / done.round_.iterations
        reply = self.client.pass_turn(test, **report)
        iterations = reply.get("iterations")
        return Steer(iterations if isinstance(iterations, int) and iterations > 0 else None,
                     reply.get("stop") is True)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.client.end()


def imported_from_source() -> list[str]:
    """Modules this process imported from the user's checkout instead of its own tree
    (an editable install of the project outside the tree): their figures would be wrong."""
    source = os.environ.get(SOURCE_ENV)
    if not source:
        return []
    source = os.path.realpath(source) + os.sep
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    own = (os.path.realpath(os.getcwd()) + os.sep, package + os.sep)
    leaks = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path:
            real = os.path.realpath(path)
            if real.startswith(source) and not real.startswith(own):
                leaks.append(real)
    return sorted(leaks)
