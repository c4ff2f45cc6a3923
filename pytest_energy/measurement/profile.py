"""A SIGPROF sampler: where a call's CPU time goes, per Python function, in every thread.

``setitimer(ITIMER_PROF)`` raises SIGPROF as the process burns CPU time, checked at the
kernel's tick: asking for 8 ms gives a signal at every other tick the process runs
through on a 250 Hz kernel (every tick cost the sampled code about 5-7% here, every other
one about 4-5%; :data:`INTERVAL_S`). At each signal the
interrupted main-thread stack, and the stacks of the other threads
(``sys._current_frames()``) when there are any, are kept as raw code objects and weighted
by the CPU time that thread used since the previous signal; names are resolved once, when
:attr:`Sampler.stacks` is read. CPython runs Python handlers only in the main thread,
between bytecodes, and the kernel hands the signal to whichever thread is running: a main
thread waiting in ``join()`` would never see the signals its workers earn. So a sampler
thread looks now and then whether the handler saw the signals the process's CPU time
called for; when it did not, the thread wakes every period and takes the samples the
handler does not (no wakeup fd: a test's asyncio loop may have it). Weighting matters:
during a long C call that holds
the GIL, samples collapse into one, which then carries all the CPU time of the call
(charged to the Python function that made it). The main thread's first sample in a call
weighs the CPU time since the previous signal, wherever it fell (the runner's code before
the call), and the time after its last one is dropped: in expectation the two are equal,
so calls shorter than a tick are still counted in proportion to their length.

Signals need the main thread and ``signal.setitimer`` (not on Windows):
:func:`unavailable_reason` says so in one line. No pytest here.
"""

from __future__ import annotations

import _signal
import _thread
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from .meters import Meter, Reading
from .stacks import MAIN, OTHER, OUTSIDE, RUNNER, Raw, StackNames, frame_namer

__all__ = ["RUNNER", "ProfileConflict", "Sampler", "frame_namer", "interval_for", "unavailable_reason"]

#: Timer interval asked for by default (the kernel's tick bounds what it gives: every other
#: tick on a 250 Hz kernel). Each signal costs the sampled code far more than the handler's
#: own work (side by side on a 2-core VM: every 4 ms 1.05-1.07x, every 8 ms 1.04-1.06x,
#: every 16 ms 1.01-1.04x; docs/benchmarks.md).
INTERVAL_S = 0.008
#: The longest interval :func:`interval_for` picks (long calls: fewer, cheaper samples).
MAX_INTERVAL_S = 0.02
#: While the main thread's handler takes the samples, the sampler thread waits this long
#: before its first look, and its next ones.
HELPER_LOOKS_S = (0.02, 0.2)
#: Signals in a row the main thread's handler takes before the sampler thread, once it
#: took one, goes back to looking only now and then.
ACTIVE_SIGNALS = 8
#: CPU seconds at most spent finding the timer's real period (once per sampler).
CALIBRATION_S = 0.2
#: A call's first sample weighs at most this many periods of CPU time before the call.
MAX_HEAD_PERIODS = 2.0
#: With no other thread known, the other threads are looked for at every this many signals.
OTHERS_EVERY = 8
#: Per-thread CPU clocks (Linux, BSDs); without them only the main thread is sampled,
#: weighted by the process's CPU time.
THREAD_CLOCKS = hasattr(time, "pthread_getcpuclockid")


#: Threads started through ``threading`` or ``_thread`` and alive (-2 where the
#: interpreter does not say: every call then looks at every thread).
_thread_count: Callable[[], int] = getattr(_thread, "_count", lambda: -2)


class ProfileConflict(Exception):
    """The profiled code took SIGPROF or the profiling timer for itself."""


CONFLICT = "the test uses SIGPROF or setitimer(ITIMER_PROF) itself"


def unavailable_reason() -> str | None:
    """Why this process cannot be sampled here (one line), or None when it can."""
    if not hasattr(signal, "setitimer") or not hasattr(signal, "SIGPROF"):
        return f"profiles need SIGPROF and signal.setitimer, which {sys.platform} does not have"
    if threading.current_thread() is not threading.main_thread():
        return "profiles need SIGPROF, whose handler only the main thread can set: run pytest in it"
    taken = signal.getsignal(signal.SIGPROF) not in (signal.SIG_DFL, None)
    if taken or signal.getitimer(signal.ITIMER_PROF)[1]:
        return "SIGPROF is already in use in this process (another profiler?): profiles not taken"
    return None


def interval_for(call_cpu_s: float, samples: int, tick_s: float = 0.004) -> float:
    """The timer interval for calls of ``call_cpu_s`` CPU seconds: :data:`INTERVAL_S`
    (or the tick ``tick_s``, if longer) unless one call alone gives more than ``samples``
    samples at that rate; then about ``samples`` per call, at most :data:`MAX_INTERVAL_S`
    apart (fewer signals, less cost, for long tests)."""
    if call_cpu_s <= samples * max(tick_s, INTERVAL_S):
        return INTERVAL_S
    return min(MAX_INTERVAL_S, max(INTERVAL_S, call_cpu_s / samples))


class Sampler:
    """Samples the stacks of calls made through :meth:`run`, between :meth:`start` and
    :meth:`stop`. ``name(code)`` gives a frame's ``path:line function``; frames for which
    ``skip(code)`` is true are dropped from the bottom of each stack (the test runner's),
    and the stacks of threads running code for which ``own(code)`` is true are ignored
    (the meters' poller threads, this sampler's)."""

    def __init__(
        self, name: Callable[[CodeType], str], skip: Callable[[CodeType], bool] = lambda code: False,
        own: Callable[[CodeType], bool] = lambda code: False, interval_s: float = INTERVAL_S,
    ) -> None:
        self._own = own
        self._names = StackNames(name, skip, own)
        #: Timer interval for the next :meth:`start` (see :func:`interval_for`).
        self.interval_s = interval_s
        #: The timer's real period in CPU seconds (measured by :meth:`calibrate`).
        self.period_s = interval_s
        self._main = threading.main_thread().ident or 0
        self._main_cpu = time.thread_time if THREAD_CLOCKS else time.process_time
        self._lock = threading.Lock()
        self._sampling = False
        #: The main thread's CPU time at the latest signal (in a call or not).
        self._mark = 0.0
        #: Other threads' CPU time at their previous sample, and their CPU clocks.
        self._last: dict[int, float] = {}
        self._clocks: dict[int, int] = {}
        #: Threads not sampled (the main one is sampled apart; this sampler's, the meters').
        self._quiet: set[int] = set()
        self._theirs: set[int] = set()
        #: ``_thread._count()`` at the latest look at every thread (-1: none yet).
        self._counted = -1
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._resumed = threading.Event()
        self._closing = False
        self._previous: Any = None
        self._entry: CodeType | None = None
        #: Signals the main thread's handler has seen.
        self._handled = 0
        #: The handler, bound once: SIGPROF's is checked to be this very object.
        self._handler = self._handle
        self.reset()

    def reset(self) -> None:
        """Forget what was sampled (the timer's period is kept)."""
        self._raw: dict[Raw, float] = {}
        self._raw_counts: dict[Raw, int] = {}
        self.samples = 0
        self.calls = 0
        self.errors = 0

    @property
    def stacks(self) -> dict[tuple[str, ...], float]:
        """CPU seconds per stack sampled (frames ``path:line function``, root first)."""
        return self._names.resolve(self._raw, self._raw_counts)[0]

    @property
    def counts(self) -> dict[tuple[str, ...], int]:
        """Samples per stack (as :attr:`stacks`)."""
        return self._names.resolve(self._raw, self._raw_counts)[1]

    # -- the timer and the sampler thread -----------------------------------------------------
    def start(self) -> None:
        """Start the timer (samples are taken only inside :meth:`run`) and, on the first
        start, the sampler thread: it then waits from each :meth:`stop` to the next start,
        until :meth:`close` (a thread started per batch of calls cost them about 2%)."""
        self._mark = self._main_cpu()
        self._previous = signal.signal(signal.SIGPROF, self._handler)
        self._stopping.clear()
        if self._thread is None:
            self._closing = False
            self._thread = threading.Thread(target=self._loop, name="pytest-energy-sampler", daemon=True)
            self._thread.start()
        else:
            self._resumed.set()
        signal.setitimer(signal.ITIMER_PROF, self.interval_s, self.interval_s)

    def stop(self) -> None:
        """Stop the timer; SIGPROF as it was (the sampler thread waits for the next start).
        Then :class:`ProfileConflict` if a call set the timer itself."""
        interval = signal.setitimer(signal.ITIMER_PROF, 0)[1]
        self._stopping.set()
        signal.signal(signal.SIGPROF, self._previous if self._previous is not None else signal.SIG_DFL)
        if abs(interval - self.interval_s) > 1e-6:
            raise ProfileConflict(CONFLICT)

    def close(self) -> None:
        """End the sampler thread (after :meth:`stop`)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._closing = True
            self._stopping.set()
            self._resumed.set()
            thread.join()

    def _loop(self) -> None:
        while not self._closing:
            self._watch()
            self._resumed.wait()
            self._resumed.clear()

    def _watch(self) -> None:
        """The sampler thread, from a start to its stop. Each of its wakes takes the GIL
        from the thread running Python, whose wait for it costs CPU time and shifts the next
        signals (they come later in the calls), so while the main thread's handler takes the
        samples the thread only looks now and then (:data:`HELPER_LOOKS_S`): did the handler see about
        the signals the CPU time used called for? When it missed most (it waits in
        ``join()``, or is in C), the thread wakes every period and takes a sample whenever
        the handler took none since its last wake, until the handler takes
        :data:`ACTIVE_SIGNALS` in a row."""
        active, handled, cpu, looks, streak = False, self._handled, time.process_time(), 0, 0
        while not self._stopping.is_set():
            period = max(self.period_s, self.interval_s)
            if not active:
                self._stopping.wait(HELPER_LOOKS_S[min(looks, len(HELPER_LOOKS_S) - 1)])
                looks += 1
                now = time.process_time()
                active = self._handled - handled < (now - cpu) / period / 2
                handled, cpu, streak = self._handled, now, 0
                continue
            before = self._handled
            if self._stopping.wait(period):
                break
            if self._handled != before:  # the main thread's handler came
                streak += 1
                if streak >= ACTIVE_SIGNALS:  # it takes them again: back to looking
                    active, handled, cpu = False, self._handled, time.process_time()
            elif self._sampling:
                streak = 0
                with self._lock:  # the main thread's handler did not come: it waits, or is in C
                    if self._sampling:
                        try:
                            self._sample(None, None)
                        except Exception:  # a sample's fault costs the sample only
                            self.errors += 1

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """The main thread's SIGPROF handler: outside calls it only notes the main thread's
        CPU time; it never waits (a busy lock skips the sample)."""
        self._handled += 1
        if not self._sampling:
            self._mark = self._main_cpu()
        elif self._lock.acquire(blocking=False):
            try:
                self._sample(frame, self._main_cpu())
            except Exception:  # never into the profiled code
                self.errors += 1
            finally:
                self._lock.release()

    def calibrate(self) -> float:
        """Measure the timer's real period: CPU seconds between signals in a busy loop."""
        marks: list[float] = []
        previous = signal.signal(signal.SIGPROF, lambda signum, frame: marks.append(time.thread_time()))
        signal.setitimer(signal.ITIMER_PROF, self.interval_s, self.interval_s)
        try:
            started = time.thread_time()
            while len(marks) < 8 and time.thread_time() - started < CALIBRATION_S:
                sum(range(200))
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous if previous is not None else signal.SIG_DFL)
        gaps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
        self.period_s = max(statistics.median(gaps), self.interval_s) if len(gaps) >= 3 else self.interval_s
        return self.period_s

    # -- sampling ----------------------------------------------------------------------------
    def run(self, call: Callable[[], Any], entry: CodeType | None = None) -> Any:
        """``call()``, sampled. Its main-thread stacks start at the frame of ``entry`` (the
        test function), those that never reach it are the runner's own (:data:`RUNNER`);
        without ``entry`` they start where this method calls. After it,
        :class:`ProfileConflict` if the call took SIGPROF's handler for itself."""
        self._entry = entry
        with self._lock:
            if self._theirs or _thread_count() != self._counted or self._counted < 0:
                self._threads()
            # the first sample weighs from the previous signal (before the call, in expectation
            # what falls after the last one), at most a few periods
            head = MAX_HEAD_PERIODS * max(self.period_s, self.interval_s)
            self._mark = max(self._mark, self._main_cpu() - head)
            self._sampling = True
        try:
            return call()
        finally:
            self._sampling = False  # a sample under way in the sampler thread ends as it was
            self.calls += 1
            # after each call: a test that put SIG_DFL back would have the next signal end the
            # process (the timer is checked at stop()); ``signal.getsignal`` would first try the
            # handler as an enum member, through a caught ValueError (6 us)
            if _signal.getsignal(signal.SIGPROF) is not self._handler:
                raise ProfileConflict(CONFLICT)

    def _threads(self) -> None:
        """Sort the threads alive before a call: theirs (CPU time noted) and ours. :meth:`run`
        skips it while no other thread was found and none started or ended since: between
        calls the caches go cold, and a look at every thread's frame then costs tens of
        microseconds (docs/benchmarks.md)."""
        self._counted = _thread_count()
        sampler = self._thread.ident if self._thread is not None else None
        self._quiet = {self._main} | ({sampler} if sampler else set())
        self._theirs, self._last, self._clocks = set(), {}, {}
        for ident, top in self._other_frames().items():
            if ident not in self._quiet and self._mine(ident, top) is False:
                cpu = self._cpu(ident)
                if cpu is not None:
                    self._last[ident] = cpu

    def _other_frames(self) -> dict[int, FrameType]:
        """``sys._current_frames()`` less the calling thread's own frame. Kept in a local,
        that frame would hold itself: a cycle through which the frames it was called from,
        the sampled test's among them, outlive their calls with their locals until the
        garbage collector runs (a test checking that an object dies with its function
        would then fail)."""
        frames = sys._current_frames()
        frames.pop(threading.get_ident(), None)
        return frames

    def _mine(self, ident: int, frame: FrameType | None) -> bool:
        """Whether the thread runs this package's code (it is then quiet from now on)."""
        while frame is not None:
            if self._own(frame.f_code):
                self._quiet.add(ident)
                return True
            frame = frame.f_back
        self._theirs.add(ident)
        return False

    def _cpu(self, ident: int) -> float | None:
        """CPU seconds the thread has used (None when it cannot be read)."""
        if not THREAD_CLOCKS:
            return time.process_time() if ident == self._main else None
        try:
            clock = self._clocks.get(ident)
            if clock is None:
                clock = self._clocks[ident] = time.pthread_getcpuclockid(ident)
            return time.clock_gettime(clock)
        except (OSError, OverflowError, ValueError):
            return None

    def _sample(self, main_frame: FrameType | None, main_cpu: float | None) -> None:
        """One sample: the main thread (``main_frame``: where it was interrupted; None when
        the sampler thread samples) and, when there are any, the other threads."""
        # the other threads: at every signal while there are any (or some started), else at
        # every OTHERS_EVERY-th, for threads started from C (a look costs tens of us, cold)
        started = self._counted != _thread_count()  # threads started (or ended) since the look
        look = main_cpu is None or self._theirs or started
        frames = self._other_frames() if look or not self._handled % OTHERS_EVERY else {}
        if main_cpu is None:
            main_frame, main_cpu = frames.pop(self._main, None), self._cpu(self._main)
        found = False
        if main_cpu is not None:
            used, self._mark = main_cpu - self._mark, main_cpu
            key = self._main_stack(main_frame) if used > 0 else None
            if key is not None:
                self._add(key, used)
                found = key[0] == MAIN
        if (frames and self._others(frames, started)) or found:
            self.samples += 1  # samples of the runner alone do not make a profile

    def _others(self, frames: dict[int, FrameType], started: bool) -> bool:
        """Sample the threads of ``frames`` other than the main one and ours; whether any
        had used CPU time since its previous sample."""
        found = False
        for ident in frames.keys() - self._quiet:
            top = frames[ident]
            if ident not in self._theirs and self._mine(ident, top):
                continue
            cpu = self._cpu(ident)
            if cpu is None:
                continue
            last = self._last.get(ident)
            if last is None and not started:  # not started by this call: from
                last = cpu  # C, running before it (no scan saw it); its CPU time counts from now
            used, self._last[ident] = cpu - (last or 0.0), cpu
            if used > 0:
                self._add(self._names.raw(OTHER, top), used)
                found = True
        return found

    def _add(self, key: Raw, used: float) -> None:
        self._raw[key] = self._raw.get(key, 0.0) + used
        self._raw_counts[key] = self._raw_counts.get(key, 0) + 1

    def _main_stack(self, frame: FrameType | None) -> Raw | None:
        """The main thread's raw stack up to the call's entry (``(OUTSIDE,)`` when the
        entry is not on it; None outside :meth:`run`)."""
        root, entry, codes = _RUN, self._entry, self._names.codes
        while frame is not None and frame.f_code.co_filename == __file__ and frame.f_code is not root:
            frame = frame.f_back  # the main thread in this sampler's code: where it was
        ids = [MAIN]
        while frame is not None:
            code = frame.f_code
            if code is root:
                return (OUTSIDE,) if entry is not None else tuple(ids)
            ident = id(code)
            if ident not in codes:
                codes[ident] = code
            ids.append(ident)
            if code is entry:
                return tuple(ids)
            frame = frame.f_back
        return None



_RUN = Sampler.run.__code__


class NoMeter(Meter):
    """Reads nothing: the engine's rounds without a meter (profiled re-runs are not measured)."""

    name = "none"

    def read(self) -> Reading:
        return {}
