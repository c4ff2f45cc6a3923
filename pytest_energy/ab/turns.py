"""Turn-taking between the two pytest processes of ``pytest-energy ab``.

Only the process holding the turn runs; the other is blocked in a request. A process
gives up the turn when it reaches a test both revisions have (``arrive``), after every
warmup call and round of such a test (``pass``), and when it ends. The coordinator then
hands the turn on, so that the rounds of a shared test go base, head, base, head, ...
and nothing else runs in between: drift of the machine hits both revisions alike.

Messages are JSON lines over a Unix socket; every request but ``end`` is answered with
``{"go": true}`` (the reply to ``hello`` also names the CPU core both processes are to
run on, the reply to ``collected`` the shared tests). A ``pass`` carries what the side
just did (the calls per round it wants, or a round's joules per call), and the reply to
it what :class:`Pairing` decided: the calls per round both sides make, and whether the
test's rounds can stop (its verdict is clear).
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .verdicts import clear_early

SIDES = ("base", "head")
#: Set by ``pytest-energy ab`` for both pytest processes: the user's checkout, which a
#: tree's tests must not import from.
SOURCE_ENV = "PYTEST_ENERGY_AB_SOURCE"
HELLO, COLLECTED, ARRIVE, PASS, END = "hello", "collected", "arrive", "pass", "end"


@dataclass
class Pairing:
    """One shared test's rounds as both sides report them, and what is decided from them:
    the same calls per round on both sides (the larger of the two wanted: both rounds
    span the minimum window), and a stop once :func:`clear_early` holds."""

    limit: float
    wants: dict[str, int] = field(default_factory=dict)
    joules: dict[str, list[float]] = field(default_factory=lambda: {side: [] for side in SIDES})
    stopped: bool = False

    def record(self, side: str, message: dict[str, Any]) -> None:
        """A ``pass`` from ``side``: its wanted calls per round, or a round's joules per call."""
        if isinstance(message.get("iterations"), int) and message["iterations"] > 0:
            self.wants[side] = message["iterations"]
        if isinstance(message.get("joules"), (int, float)):
            self.joules[side].append(float(message["joules"]))

    def reply(self) -> dict[str, Any]:
        """What the side about to run is told."""
        if not self.stopped and clear_early(self.joules["base"], self.joules["head"], self.limit):
            self.stopped = True
        reply: dict[str, Any] = {"iterations": max(self.wants.values())} if self.wants else {}
        return {**reply, "stop": True} if self.stopped else reply


class TurnsError(Exception):
    """The two processes cannot run in turns (the message says why and what to do)."""


@dataclass
class Turns:
    """Who runs next: the coordinator's rules, without sockets."""

    sides: tuple[str, ...] = SIDES
    #: Each side's last request: (event, test) while it waits; (END, "") once done.
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    collected: dict[str, list[str]] = field(default_factory=dict)
    #: Tests both sides have, in their (common) order; None until both collected.
    shared: list[str] | None = None
    running: str | None = None
    #: (side, event, test) for every request, in order: the turn log.
    log: list[tuple[str, str, str]] = field(default_factory=list)

    def receive(self, side: str, event: str, test: str = "", tests: list[str] | None = None) -> None:
        """A request from ``side`` (it now waits, unless the event is ``end``)."""
        self.log.append((side, event, test))
        if self.running == side:
            self.running = None
        self.waiting[side] = (event, test)
        if event == COLLECTED:
            self.collected[side] = list(tests or [])
        if self.shared is None and self._all_collected():
            self.shared = self._shared_order()

    def _all_collected(self) -> bool:
        return all(self.waiting.get(s, ("",))[0] in (COLLECTED, END) for s in self.sides) and any(
            self.waiting[s][0] == COLLECTED for s in self.sides
        )

    def _shared_order(self) -> list[str]:
        lists = [self.collected[s] for s in self.sides if s in self.collected]
        if len(lists) < len(self.sides):
            return []
        base, head = lists
        in_head, in_base = set(head), set(base)
        shared = [t for t in base if t in in_head]
        if shared != [t for t in head if t in in_base]:
            raise TurnsError(
                "base and head run their shared tests in different orders (a plugin reorders them); "
                "lockstep needs one order: pass -p no:NAME after -- to turn it off"
            )
        return shared

    @property
    def done(self) -> bool:
        return all(self.waiting.get(s, ("",))[0] == END for s in self.sides)

    def next(self) -> str | None:
        """The side that gets the turn now (None: keep waiting)."""
        if self.running is not None:
            return None
        ready = [s for s in self.sides if s in self.waiting and self.waiting[s][0] != END]
        started = [s for s in ready if self.waiting[s][0] == HELLO]
        if started:
            return self._give(started[0])
        if any(self.waiting[s][0] == COLLECTED for s in ready) and self.shared is None:
            return None  # both lists are needed first
        if len(ready) == len(self.sides) and len(self.sides) == 2:
            return self._give(self._pick(*ready))
        if len(ready) == 1 and all(s in self.waiting for s in self.sides):
            return self._give(ready[0])  # the other side has ended
        return None

    def _pick(self, a: str, b: str) -> str:
        (event_a, test_a), (event_b, test_b) = self.waiting[a], self.waiting[b]
        if event_a == PASS and event_b == PASS:
            return b if self.log[-1][0] == a else a  # alternate: not the side that just passed
        if PASS in (event_a, event_b):
            passer, other = (a, b) if event_a == PASS else (b, a)
            # the partner starts or goes on with the same test; else the passer carries on alone
            return other if self.waiting[other][1] == self.waiting[passer][1] else passer
        position = {t: i for i, t in enumerate(self.shared or [])}
        pos_a, pos_b = position.get(test_a, -1), position.get(test_b, -1)
        if pos_a == pos_b:
            return a  # the same test: base first
        return a if pos_a < pos_b else b  # the one behind catches up

    def _give(self, side: str) -> str:
        self.running = side
        return side


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


class TurnClient:
    """A pytest process's end of the turns. Every call but :meth:`end` blocks until this
    process has the turn. When the coordinator is gone, the process exits at once."""

    def __init__(self, address: str, side: str) -> None:
        self.side = side
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(address)
        self._reader = self._sock.makefile("rb")
        self._ended = False

    def _ask(self, event: str, **payload: Any) -> dict[str, Any]:
        try:
            _send(self._sock, {"side": self.side, "event": event, **payload})
            line = self._reader.readline()
        except OSError:
            line = b""
        if not line:
            sys.stderr.write("pytest-energy: the ab coordinator went away; stopping\n")
            sys.stderr.flush()
            os._exit(3)
        return json.loads(line)

    def hello(self) -> int | None:
        """Wait for the first turn; returns the CPU core both processes are to run on."""
        return self._ask(HELLO).get("cpu")

    def collected(self, tests: list[str], leaks: list[str]) -> set[str]:
        """Report this side's tests; returns the tests both sides have."""
        return set(self._ask(COLLECTED, tests=tests, leaks=leaks)["shared"])

    def arrive(self, test: str) -> None:
        self._ask(ARRIVE, test=test)

    def pass_turn(self, test: str, **done: Any) -> dict[str, Any]:
        """Give the turn up after a warmup call or a round (``done``: what it was); returns
        the coordinator's decisions for this test (``iterations``, ``stop``)."""
        return self._ask(PASS, test=test, **done)

    def end(self) -> None:
        """This process takes no more turns (again: nothing)."""
        if self._ended:
            return
        self._ended = True
        try:
            _send(self._sock, {"side": self.side, "event": END})
        except OSError:
            pass
        self._sock.close()


class Coordinator:
    """Serves :class:`Turns` to the two processes over a Unix socket."""

    def __init__(
        self, address: str, on_request: Callable[[Turns, str, dict[str, Any]], None], limit: float,
    ) -> None:
        self.address = address
        #: The change that counts as a regression: rounds stop once a verdict is clear of it.
        self.limit = limit
        self.pairings: dict[str, Pairing] = {}
        #: The core both processes run on: the last one this process may use.
        self.cpu = max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        self.turns = Turns()
        self.leaks: dict[str, list[str]] = {}
        self._on_request = on_request
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(address)
        self._server.listen(len(SIDES))
        self._conns: dict[str, socket.socket] = {}

    def serve(self, alive: Callable[[], dict[str, bool]]) -> Turns:
        """Hand out turns until both sides end (a process that exits ends its side)."""
        selector = selectors.DefaultSelector()
        selector.register(self._server, selectors.EVENT_READ)
        buffers: dict[socket.socket, bytes] = {}
        try:
            while not self.turns.done:
                for key, _ in selector.select(timeout=0.2):
                    if key.fileobj is self._server:
                        conn, _ = self._server.accept()
                        selector.register(conn, selectors.EVENT_READ)
                        buffers[conn] = b""
                        continue
                    conn = key.fileobj  # type: ignore[assignment]
                    data = conn.recv(65536)
                    if not data:
                        selector.unregister(conn)
                        conn.close()
                        self._ended(conn)
                        continue
                    buffers[conn] += data
                    while b"\n" in buffers[conn]:
                        line, buffers[conn] = buffers[conn].split(b"\n", 1)
                        self._request(conn, json.loads(line))
                for side, running in alive().items():
                    if not running and self.turns.waiting.get(side, ("",))[0] != END:
                        self.turns.receive(side, END)
                self._hand_on()
        finally:
            selector.close()
            self.close()
        return self.turns

    def _request(self, conn: socket.socket, message: dict[str, Any]) -> None:
        side = message["side"]
        self._conns[side] = conn
        if message["event"] == COLLECTED and message.get("leaks"):
            self.leaks[side] = message["leaks"]
        self.turns.receive(side, message["event"], message.get("test", ""), message.get("tests"))
        if message["event"] == PASS:
            self._pairing(message.get("test", "")).record(side, message)
        self._on_request(self.turns, side, message)

    def _pairing(self, test: str) -> Pairing:
        return self.pairings.setdefault(test, Pairing(self.limit))

    def _ended(self, conn: socket.socket) -> None:
        for side, known in self._conns.items():
            if known is conn and self.turns.waiting.get(side, ("",))[0] != END:
                self.turns.receive(side, END)

    def _hand_on(self) -> None:
        side = self.turns.next()
        if side is None:
            return
        reply: dict[str, Any] = {"go": True}
        if self.turns.waiting[side][0] == HELLO:
            reply["cpu"] = self.cpu
        if self.turns.waiting[side][0] == COLLECTED:
            reply["shared"] = self.turns.shared or []
        if self.turns.waiting[side][0] == PASS:
            reply.update(self._pairing(self.turns.waiting[side][1]).reply())
        try:
            _send(self._conns[side], reply)
        except OSError:
            self.turns.receive(side, END)

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._server.close()
        if os.path.exists(self.address):
            os.unlink(self.address)
