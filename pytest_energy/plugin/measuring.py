"""The measuring plugin: every test's real call (tier 1), repeated rounds where asked (tier 2).

Registered in ``pytest_configure`` only with ``--energy``. Its rule: a test's outcome is
its own. The real call runs once, between two meter readings. Repetition starts only
after it passed; each round sets the test's function-scoped fixtures up afresh and tears
them down outside the measured window (as pytest-rerunfailures re-runs an item), and a
round that fails, errors or skips costs the figure, never the outcome. A meter that fails
costs figures from then on, said in one line.

Each test's results ride on its call report (``report.energy``), so they reach the
xdist controller as each test finishes; the controller keeps them in :class:`RunState`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from ..judge.budgets import check_ratio, judge_budget
from ..markers import Marks
from ..measurement.engine import Engine
from ..measurement.meters import MeterSet, Selection
from ..measurement.sci import for_result
from ..results import CUT, NOT_REPEATABLE, REPEATED, CallWindow, Measurement, TestResult
from ..settings import ProtocolSettings, Settings
from .compat import quiet_reports, recorded_failure, teardown_item
from .fixture import MEASUREMENTS_KEY, VERSUS_KEY
from .keys import MARKS_KEY
from .rounds import ItemSource, doctest_globals, one_line

#: The marks of a test without energy markers.
NO_MARKS = Marks()
#: Why a repeated test's rounds are sums of one-call windows.
FRESH_EACH_CALL = "one call per set of fixtures (the test changes its fixtures)"
_RESULTS_KEY = pytest.StashKey[list[TestResult]]()
_VERSUS_RESULT_KEY = pytest.StashKey[dict[str, Any]]()
_DEFERRED_TEARDOWN_KEY = pytest.StashKey[BaseException]()
_GLOBS_KEY = pytest.StashKey["dict[str, Any] | None"]()


@dataclass
class RunState:
    """What the session measured, kept on the controller for the reports and the gate."""

    settings: Settings
    selection: Selection
    meters: MeterSet
    engine: Engine
    #: By node id: a test reported twice (xdist after an interrupt) counts once.
    results: dict[str, TestResult] = field(default_factory=dict)
    versus: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Tests whose repetition the session's --energy-time-budget cut.
    cut_by_budget: int = 0
    #: One line per measuring fault (a meter that failed mid-run).
    faults: list[str] = field(default_factory=list)
    #: Every test's outcome as pytest reported it: (word, one line of its message).
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: The HTML report's path once written (the terminal prints it as a ``file://`` link).
    html_written: str = ""


class MeasuringPlugin:
    """Tier 1 and tier 2 measuring, budgets and ratio markers."""

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config = config
        self.state = state
        self.settings = state.settings
        self.engine = state.engine
        self.is_worker = hasattr(config, "workerinput")
        #: Seconds of repetition spent so far (for --energy-time-budget).
        self.repeat_spent_s = 0.0
        self.worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        workers = self.workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
        #: Other workers' work lands in a machine-wide meter's windows.
        self.shared = workers > 1 and any(not m.is_estimate for m in state.meters.meters)

    # -- session -------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if session.config.option.collectonly:
            return  # nothing runs, so nothing to subtract from
        workerinput = getattr(self.config, "workerinput", None)
        if workerinput is not None:
            self.engine.idle_watts = float(workerinput.get("energy_idle_watts", 0.0))
        else:
            self._guard(lambda: self.engine.measure_idle(self.settings.idle_time_s))
        self._guard(self.engine.measure_read_cost)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        state = self.state
        lines = [f"energy: meters {state.meters.describe()}"]
        if state.meters.deterministic:
            lines[0] += " -- modelled figures, labelled 'simulated', not measurements"
            lines.append("energy: simulated counts the CPU's instructions and cache misses of each test's "
                         "call, the same on every run; it cannot see sleeping, I/O, GPU work, the speed-up "
                         "of threads, hardware prefetch or subprocesses")
        elif state.meters.is_estimate:
            lines[0] += " -- modelled figures, labelled 'estimate', not measurements"
        lines += [f"energy: {name} unavailable: {why}" for name, why in state.selection.unavailable.items()]
        if config.option.collectonly:
            lines.append("energy: collecting only, nothing is measured")
        elif not all(m.is_estimate for m in state.meters.meters):
            lines.append(
                f"energy: idle power {self.engine.idle_watts:.3g} W subtracted (real meters)"
                if self.settings.idle_time_s > 0 else "energy: idle power not measured (--energy-idle-time=0)"
            )
        repeat = "every test" if self.settings.repeat else "tests with energy markers or the energy fixture"
        if state.meters.deterministic:
            ignored = (" (--energy-repeat and energy(rounds=...) are not needed: ignored)"
                       if self.settings.repeat else "")
            lines.append(f"energy: every test's real call counted once{ignored}")
        else:
            lines.append(f"energy: every test's real call measured; repeated in rounds: {repeat}")
        lines.append(f"energy: carbon intensity {self.settings.intensity.describe()}")
        if config.option.collectonly:
            return lines
        from ..report.sci import header_lines

        return lines + header_lines(self.settings.sci, self.settings.intensity, state.meters.label,
                                    state.meters.is_estimate, self.engine.idle_watts)

    def _guard(self, action: Any, item: pytest.Item | None = None) -> Any:
        """Run a meter action (or, with ``item``, the plugin's own work on that test); on
        an error, stop measuring, say why in one line, and return None: a fault in
        measuring costs figures, never a test's outcome."""
        if self.state.faults:
            return None
        try:
            return action()
        except Exception as exc:
            where = f"{self.state.meters.label} failed" if item is None else f"error measuring {item.nodeid}"
            self.state.faults.append(f"measuring stopped: {where} ({one_line(exc)})")
            return None

    # -- one test ------------------------------------------------------------------------
    def protocol_for(self, item: pytest.Item) -> ProtocolSettings:
        """The session's protocol with the test's ``energy`` marker applied (one call, no
        warmup, with a deterministic meter: a second call would give the same figure)."""
        test = item.stash.get(MARKS_KEY, NO_MARKS).test
        s = self.settings
        if self.state.meters.deterministic:
            return ProtocolSettings(rounds=1, warmup=0, min_round_s=0.0, max_time_s=s.max_time_s)
        return ProtocolSettings(
            rounds=test.rounds or s.rounds,
            warmup=s.warmup if test.warmup is None else test.warmup,
            min_round_s=s.min_time_s,
            max_time_s=test.max_time_s or s.max_time_s,
        )

    def _wants_repeat(self, item: pytest.Item) -> bool:
        if self.state.meters.deterministic:
            return False  # the real call's counts are the figure
        asked = self.settings.repeat or item.stash.get(MARKS_KEY, NO_MARKS).repeat
        return asked and self.protocol_for(item).rounds > 1

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        if "energy" in getattr(item, "fixturenames", ()) or self.state.faults:
            outcome = yield  # the fixture measures, or nothing can
            self._guard(lambda: self._record_fixture(item), item)
        else:
            if self._wants_repeat(item):
                item.stash[_GLOBS_KEY] = doctest_globals(item)
            clock = self.engine.clock
            start = self._guard(self.engine.start_window)
            t0 = clock.perf_counter()
            try:
                outcome = yield
            except BaseException:
                self._guard(lambda: self._tier1(item, start, clock.perf_counter() - t0), item)
                raise
            seconds = clock.perf_counter() - t0
            result = self._guard(lambda: self._tier1(item, start, seconds), item)
            if result is not None and _passed(item) and self._wants_repeat(item):
                self._guard(lambda: self._repeat(item, result), item)
        if _passed(item):
            failure = self._guard(lambda: self._judge(item), item)
            if failure:
                pytest.fail(failure, pytrace=False)
        return outcome

    def _tier1(self, item: pytest.Item, start: Any, seconds: float) -> TestResult | None:
        if start is None:
            return None
        window = self._guard(lambda: self.engine.end_window(start, seconds))
        if window is None:
            return None
        result = self._result(item, window, None)
        self._record(item, [result])
        return result

    def _result(
        self, item: pytest.Item, call: CallWindow | None, measurement: Measurement | None,
        label: str | None = None,
    ) -> TestResult:
        marks = item.stash.get(MARKS_KEY, NO_MARKS)
        result = TestResult(
            nodeid=item.nodeid if label is None else f"{item.nodeid}::{label}",
            meter=self.state.meters.label, is_estimate=self.state.meters.is_estimate,
            idle_watts=self.engine.idle_watts, call=call, measurement=measurement,
            repeat=None if measurement is None else REPEATED,
            max_regression=marks.test.max_regression, worker=self.worker, shared=self.shared,
            model=self.state.meters.model_id, candidate=label or "",
        )
        self._carbon(result)
        return result

    def _carbon(self, result: TestResult) -> None:
        """The result's gCO2e and Software Carbon Intensity per call."""
        s = self.settings
        result.co2_g = s.intensity.co2_g(result.joules)
        result.sci = for_result(result, s.sci, s.intensity, s.meter_options.model, self.workers)

    @staticmethod
    def _record(item: pytest.Item, results: list[TestResult]) -> None:
        item.stash[_RESULTS_KEY] = results

    def _record_fixture(self, item: pytest.Item) -> None:
        """What the ``energy`` fixture measured: its callable, or its candidates side by side."""
        measured = item.stash.get(MEASUREMENTS_KEY, [])
        self._record(item, [self._result(item, None, m, label) for label, m in measured if m.rounds])
        versus = item.stash.get(VERSUS_KEY, None)
        if versus is not None and versus.measured:
            item.stash[_VERSUS_RESULT_KEY] = {"nodeid": item.nodeid, **versus.to_dict()}

    def _repeat(self, item: pytest.Item, result: TestResult) -> None:
        """Tier 2 after a passed real call; every failure ends as ``result.repeat``."""
        protocol = self.protocol_for(item)
        budget_s = self.settings.time_budget_s
        budget_note = f"--energy-time-budget={budget_s} s spent"
        limited = False
        if budget_s is not None:
            left = budget_s - self.repeat_spent_s
            if left <= 0:
                self._cut(result, budget_note, by_budget=True)
                return
            limited = left < protocol.max_time_s
            protocol = replace(protocol, max_time_s=min(protocol.max_time_s, left))
        try:
            teardown_item(item)  # the real call's fixtures, torn down as pytest would
        except BaseException as exc:
            item.stash[_DEFERRED_TEARDOWN_KEY] = exc  # reported in the teardown phase, as without us
            result.repeat, result.repeat_reason = NOT_REPEATABLE, "the real call's teardown failed"
            return
        clock = self.engine.clock
        started = clock.perf_counter()
        try:
            measurements = self._rounds(item, result, protocol)
        finally:
            self.repeat_spent_s += clock.perf_counter() - started
        if measurements is None:
            return
        measurement = measurements.get("")
        if measurement is None:
            reason = budget_note if limited else f"no round fits in max_time {protocol.max_time_s:g} s"
            self._cut(result, reason, by_budget=limited)
            return
        result.measurement, result.repeat = measurement, REPEATED
        self._carbon(result)

    def _rounds(
        self, item: pytest.Item, result: TestResult, protocol: ProtocolSettings,
    ) -> dict[str, Measurement] | None:
        """The test's rounds: several calls on one set of fresh fixtures each, and when a
        round fails (a test that changes its fixtures: a directory made in ``tmp_path``, a
        generator consumed, a mock's call count), again with fresh fixtures for every call,
        each in its own window. None, and the first failure in ``result``, when neither works."""
        clock = self.engine.clock
        started = clock.perf_counter()
        for fresh in (False, True):
            failed: list[Any] = []
            left = protocol.max_time_s - (clock.perf_counter() - started)
            try:
                with quiet_reports(item, failed):
                    measurements, _ = self.engine.run_rounds(
                        {"": ItemSource(item, failed, item.stash.get(_GLOBS_KEY, None))},
                        replace(protocol, max_time_s=max(left, 1e-9)),
                        call_s={"": result.call.seconds if result.call else 0.0}, fresh_each_call=fresh,
                    )
            except BaseException as exc:  # a failing repeat costs the figure, never the outcome
                with contextlib.suppress(BaseException):
                    teardown_item(item)
                if isinstance(exc, KeyboardInterrupt):  # the user's, as far as anyone can tell
                    raise
                if not fresh:
                    result.repeat, result.repeat_reason = NOT_REPEATABLE, one_line(exc)
                continue
            if fresh:
                result.repeat_reason = FRESH_EACH_CALL
            for measurement in measurements.values():
                measurement.settings = protocol  # as asked, not the time left of it
            return measurements
        return None

    def _cut(self, result: TestResult, reason: str, *, by_budget: bool) -> None:
        result.repeat, result.repeat_reason = CUT, reason
        if by_budget:
            self.state.cut_by_budget += 1

    def _judge(self, item: pytest.Item) -> str | None:
        """Budgets and ratio markers: the failure message, if any (an ordinary test failure)."""
        marks = item.stash.get(MARKS_KEY, NO_MARKS)
        failures = []
        results = item.stash.get(_RESULTS_KEY, [])
        if marks.budget is not None:
            for result in results:
                result.budget = judge_budget(result, marks.budget, self.settings.intensity)
                message = result.budget.message
                if message:
                    label = result.nodeid[len(item.nodeid) + 2:]
                    failures.append(f"{label}: {message}" if label else message)
        if marks.ratio is not None:
            failures.append(check_ratio(marks.ratio, item.stash.get(VERSUS_KEY, None)) or "")
        return "\n".join(f for f in failures if f) or None

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        deferred = item.stash.get(_DEFERRED_TEARDOWN_KEY, None)
        outcome = yield
        if deferred is not None:
            del item.stash[_DEFERRED_TEARDOWN_KEY]
            raise deferred
        return outcome

    # -- results travel on the call report -------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        report = yield
        if call.when == "call":
            results = item.stash.get(_RESULTS_KEY, None)
            if results:
                report.energy = results
                from ..report.exports import junit_properties

                for result in results:  # as record_property: --junitxml writes them at teardown
                    item.user_properties.extend(junit_properties(result))
            versus = item.stash.get(_VERSUS_RESULT_KEY, None)
            if versus:
                report.energy_versus = versus
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        outcome = _outcome(report)
        if outcome is not None:
            self.state.outcomes[report.nodeid] = outcome
        if report.when != "call":
            return
        for result in getattr(report, "energy", ()):
            self.state.results[result.nodeid] = result
        versus = getattr(report, "energy_versus", None)
        if versus:
            self.state.versus[versus["nodeid"]] = versus

    @pytest.hookimpl(wrapper=True)
    def pytest_report_to_serializable(self, config: pytest.Config, report: Any) -> Iterator[Any]:
        data = yield
        if data and data.get("energy"):
            data["energy"] = [result.to_dict() for result in data["energy"]]
        return data

    @pytest.hookimpl(wrapper=True)
    def pytest_report_from_serializable(self, config: pytest.Config, data: dict[str, Any]) -> Iterator[Any]:
        report = yield
        results = getattr(report, "energy", None)
        if results:
            report.energy = [TestResult.from_dict(r) for r in results]
        return report


def _outcome(report: pytest.TestReport) -> tuple[str, str] | None:
    """The test's outcome word and message line from one phase's report, or None when
    that phase does not decide it (a passed setup or teardown)."""
    xfail = hasattr(report, "wasxfail")
    if report.failed:
        word = "failed" if report.when == "call" else "error"
    elif report.skipped:
        word = "xfailed" if xfail else "skipped"
    elif report.when == "call":
        word = "xpassed" if xfail else "passed"
    else:
        return None
    lines = report.longreprtext.splitlines() if not report.passed else []
    text = [line.strip() for line in lines if line.strip()]
    errors = [line[1:].strip() for line in text if line.startswith("E ")]  # pytest's "E   ..." lines
    message = errors[0] if errors else text[-1] if text else ""
    if report.skipped and isinstance(report.longrepr, tuple):  # (path, line, "Skipped: why")
        message = str(report.longrepr[2])
    return word, message[:300]


def _passed(item: pytest.Item) -> bool:
    """After a call that raised nothing: False when a unittest item recorded a failure."""
    return recorded_failure(item, keep=True) is None
