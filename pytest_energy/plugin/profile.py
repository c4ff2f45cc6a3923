"""``--energy-profile[=N]``: where the joules went, per function, for the tests that matter.

Registered in ``pytest_configure`` (controller only) when the option is given. After the
measured run, and after the baseline's verdicts, the N most expensive tests that passed,
every test that regressed and every test over its budget are run again with a SIGPROF
sampler (:mod:`pytest_energy.measurement.profile`): through the same fresh-fixture
rounds as repetition, with reports silenced, output captured and thrown away, and no
meter read. The main figures are untouched and no outcome changes; a re-run that fails
costs that test's profile, said in one line. Each function gets the test's joules times
its CPU-time share. With ``--energy-save`` the profiles are kept next to the baseline;
with ``--energy-compare`` a regressed test's profile is compared with the stored one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ..measurement.engine import Engine
from ..measurement.meters import MeterSet
from ..measurement.profile import (
    NoMeter,
    ProfileConflict,
    Sampler,
    frame_namer,
    interval_for,
    unavailable_reason,
)
from ..profiles import MIN_SAMPLES, Profile, ProfileDiff, build_profile
from ..report.profiles import profile_diff_lines, profile_lines
from ..results import TestResult
from ..settings import ProtocolSettings
from ..store import profiles as stored_profiles
from ..store.loader import BaselineError
from .compat import runner_code_dirs, verbosity
from .keys import GATE_KEY, PROFILE, PROFILE_KEY
from .measuring import RunState
from .rerun import in_turn, rerun
from .rounds import ItemSource, one_line

#: Samples a profile aims for: a share s is then within about 2 sqrt(s (1 - s) / n), a few
#: hundredths, of the truth (--energy-max-time caps the re-runs).
TARGET_SAMPLES = 600
#: Fewer samples than this and the re-runs go on past --energy-max-time, up to
#: PROFILE_OVERTIME times it: a loaded machine gives fewer signals per second, so it gets
#: more re-runs rather than a thinner profile.
ENOUGH_SAMPLES = 5 * MIN_SAMPLES
PROFILE_OVERTIME = 4.0
#: Seconds of calls the first batch of re-runs aims for; the next ones are sized by the
#: samples per second it gave.
PROFILE_CALLS_S = 2.0
#: Rounds each batch is split into when one call is shorter than the batch.
PROFILE_ROUNDS = 5
REGRESSION, OVER_BUDGET = "regression", "over budget"


@dataclass
class ProfileState:
    """The session's profiles, diffs against stored ones, and notes (one line each)."""

    profiles: list[Profile] = field(default_factory=list)
    diffs: list[ProfileDiff] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def register(config: pytest.Config, state: RunState) -> None:
    """Register the profile plugin (``--energy-profile``, on the controller)."""
    only = config.getoption("energy_profile_only", None)
    profile_state = config.stash[PROFILE_KEY] = ProfileState()
    config.pluginmanager.register(ProfilePlugin(config, state, profile_state, only), PROFILE)


@contextlib.contextmanager
def _sampling(sampler: Sampler) -> Iterator[None]:
    sampler.start()
    try:
        yield
    finally:
        sampler.stop()


class _Sampled:
    """An item's rounds with the sampler on during each call only."""

    def __init__(self, source: ItemSource, sampler: Sampler) -> None:
        self.source, self.sampler = source, sampler
        #: The test function's code: the stacks start there.
        self.entry = getattr(getattr(source.item, "obj", None), "__code__", None)

    def open(self, iterations: int) -> None:
        self.source.open(iterations)

    def call(self) -> None:
        self.sampler.run(self.source.call, self.entry)

    def close(self) -> None:
        self.source.close()


class ProfilePlugin:
    """Profiles chosen tests after the run; prints and keeps what it found."""

    def __init__(
        self, config: pytest.Config, state: RunState, profiles: ProfileState, only: str | None,
    ) -> None:
        self.config = config
        self.state = state
        self.profiles = profiles
        self.count = state.settings.profile or 0
        self.only = _listed(only) if only else None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """With ``--energy-profile-only``: only the listed tests run."""
        if self.only is None:
            return
        kept = [item for item in items if item.nodeid in self.only]
        dropped = [item for item in items if item.nodeid not in self.only]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Iterator[Any]:
        result = yield  # tryfirst: outermost, so the baseline's verdicts are in by now
        try:
            self._profile_run(session)
        except Exception as exc:  # a fault here costs profiles, never the run
            self.profiles.notes.append(f"profiles stopped: {one_line(exc)}")
        return result

    # -- choosing and running ----------------------------------------------------------------
    def targets(self, session: pytest.Session) -> dict[str, str]:
        """Node id -> why it is profiled, for tests with a real call on a session item."""
        items = {item.nodeid for item in session.items}
        results = {r.nodeid: r for r in self.state.results.values() if r.nodeid in items and r.call}
        passed = [r for r in results.values() if self.state.outcomes.get(r.nodeid, ("",))[0] == "passed"]
        chosen: dict[str, str] = {}
        if self.only is not None:
            return {r.nodeid: REGRESSION for r in passed if r.nodeid in self.only}
        gate = self.config.stash.get(GATE_KEY, None)
        for comparison in gate.regressions if gate else []:
            if comparison.nodeid in results:
                chosen[comparison.nodeid] = REGRESSION
        for r in results.values():
            if r.budget is not None and r.budget.status == "over":
                chosen.setdefault(r.nodeid, OVER_BUDGET)
        for r in sorted(passed, key=lambda r: -r.joules)[: self.count]:
            chosen.setdefault(r.nodeid, f"top {min(self.count, len(passed))}")
        return chosen

    def _profile_run(self, session: pytest.Session) -> None:
        chosen = self.targets(session)
        if not chosen:
            return
        notes = self.profiles.notes
        if self.config.pluginmanager.has_plugin("dsession"):
            notes.append("profiles need one process: not taken under pytest-xdist's -n")
            return
        if session.shouldfail or session.shouldstop:
            notes.append("profiles not taken: the run stopped early")
            return
        reason = unavailable_reason()
        if reason:
            notes.append(reason)
            return
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
        runner = (*runner_code_dirs(), os.path.join(package, "plugin") + os.sep)
        sampler = Sampler(
            frame_namer(str(self.config.rootpath)), skip=lambda code: code.co_filename.startswith(runner),
            own=lambda code: code.co_filename.startswith(package),
        )
        sampler.calibrate()
        engine = Engine(MeterSet([NoMeter()]), clock=self.state.engine.clock)
        try:
            for item in in_turn(session, [item for item in session.items if item.nodeid in chosen]):
                result, why = self.state.results[item.nodeid], chosen[item.nodeid]
                self.profiles.profiles.append(self._profile(item, result, why, sampler, engine))
        finally:
            sampler.close()
        self._compare_stored()

    def _profile(
        self, item: pytest.Item, result: TestResult, why: str, sampler: Sampler, engine: Engine,
    ) -> Profile:
        """One test's sampled re-run (a profile with a one-line note when it could not be)."""
        seconds = result.call.seconds if result.call else result.seconds
        if self.state.meters.deterministic:  # counted under the simulator: its seconds say nothing
            seconds = 0.0
        sampler.reset()
        if "energy" in getattr(item, "fixturenames", ()):
            note = "not profiled: it measures itself with the energy fixture"
        else:
            sampler.interval_s = interval_for(seconds, TARGET_SAMPLES, sampler.period_s)
            failure = self._sample_until_enough(item, sampler, engine, seconds)
            note = f"not profiled: {failure}" if failure else ""
            if not note and not sampler.calls:
                max_time = self.state.settings.max_time_s
                note = f"not profiled: one call does not fit in --energy-max-time={max_time:g} s"
        profile = build_profile(item.nodeid, result.meter, result.joules, sampler.stacks, sampler.counts,
                                sampler.samples, sampler.calls, why)
        if note:
            profile.note, profile.functions = note, []
        return profile

    def _sample_until_enough(
        self, item: pytest.Item, sampler: Sampler, engine: Engine, seconds: float,
    ) -> str:
        """Sampled re-runs in batches until :data:`TARGET_SAMPLES` samples or
        --energy-max-time; past it, up to :data:`PROFILE_OVERTIME` times it, while fewer
        than :data:`ENOUGH_SAMPLES` and the pace so far promises :data:`MIN_SAMPLES`.
        Returns '' or why a re-run failed."""
        clock, max_time = engine.clock, self.state.settings.max_time_s
        started = clock.perf_counter()
        batch_s = PROFILE_CALLS_S
        while sampler.samples < TARGET_SAMPLES:
            spent = clock.perf_counter() - started
            pace = sampler.samples / spent if spent > 0 else 0.0
            thin = sampler.calls and sampler.samples < ENOUGH_SAMPLES
            if max_time - spent > seconds:  # a call still fits in --energy-max-time
                goal, left = TARGET_SAMPLES, max_time - spent
            elif thin and pace * max_time * PROFILE_OVERTIME >= MIN_SAMPLES:
                goal, left = ENOUGH_SAMPLES, max_time * PROFILE_OVERTIME - spent
            else:
                break
            if left <= seconds:
                break
            if pace:  # the batch that should bring the rest
                batch_s = max(1.2 * (goal - sampler.samples) / pace, 0.05)
            budget = min(batch_s, left)
            long_call = seconds >= budget  # one call gives the batch
            protocol = ProtocolSettings(rounds=1 if long_call else PROFILE_ROUNDS, warmup=0,
                                        min_round_s=0.0 if long_call else budget / PROFILE_ROUNDS,
                                        max_time_s=left if long_call else budget)
            calls = sampler.calls
            _, failure = rerun(item, engine, protocol, seconds or None, lambda of: _Sampled(of, sampler),
                               _sampling(sampler), told=(ProfileConflict,))
            if failure or sampler.calls == calls:
                return failure
        return ""

    # -- the baseline's profiles ----------------------------------------------------------------
    def _stored_path(self) -> str:
        return stored_profiles.profiles_path(os.path.join(str(self.config.rootpath),
                                                          self.state.settings.baseline_path))

    def _compare_stored(self) -> None:
        """Each regressed test's profile against the one stored with the baseline."""
        regressed = [p for p in self.profiles.profiles if p.why == REGRESSION and not p.note]
        if not regressed or not self.state.settings.compare:
            return
        stored, problem = stored_profiles.load(self._stored_path())
        if problem:
            self.profiles.notes.append(problem)
        for profile in regressed:
            base = stored.get(profile.nodeid)
            if base is not None and base.meter == profile.meter:
                self.profiles.diffs.append(ProfileDiff(profile.nodeid, base, profile))
            else:
                self.profiles.notes.append(f"{profile.nodeid}: no stored profile to compare with "
                                           "(save one with --energy-save --energy-profile)")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        gate = self.config.stash.get(GATE_KEY, None)
        kept = [p for p in self.profiles.profiles if not p.note]
        if gate is None or gate.saved is None or not kept:
            return
        try:
            stored_profiles.save(self._stored_path(), kept, gate.commit, self.state.settings.lock_timeout_s)
        except (OSError, ValueError, BaselineError) as exc:
            self.profiles.notes.append(f"profiles not saved: {getattr(exc, 'strerror', None) or exc}")

    # -- the terminal --------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        found, level = self.profiles, verbosity(self.config)
        if level >= 0 and (found.profiles or found.notes):
            terminalreporter.write_sep("-", "energy per function (--energy-profile)")
            if found.profiles:
                terminalreporter.write_line(profile_lines(found.profiles))
            for diff in found.diffs:
                terminalreporter.write_line(profile_diff_lines(diff, ("stored profile", "this run")))
        elif level == -1 and found.profiles:
            taken = sum(1 for p in found.profiles if not p.note)
            chosen = len(found.profiles)
            terminalreporter.write_line(f"energy profile: {taken} of {chosen} test{'s' * (chosen != 1)} "
                                        "profiled (without -q: their functions)")
        for note in found.notes:
            terminalreporter.write_line(f"energy profile: {note}", yellow=True)



def _listed(path: str) -> set[str]:
    try:
        return stored_profiles.read_nodeids(path)
    except OSError as exc:
        reason = exc.strerror or exc
        raise pytest.UsageError(f"--energy-profile-only={path}: cannot read it ({reason})") from None
