"""A SIGPROF sampler: where a call's CPU time goes, per Python function, in every thread.

``setitimer(ITIMER_PROF)`` raises SIGPROF as the process burns CPU time (jiffy-limited:
asking for 1 ms gives about 250 Hz on a 250 Hz kernel). At each signal the Python stack
of every thread (``sys._current_frames()``) is walked and weighted by the CPU time that
thread used since the previous sample. CPython runs Python handlers only in the main
thread, between bytecodes, and the kernel hands the signal to whichever thread is
running: a main thread waiting in ``join()`` would never see the signals its workers
earn. So the signal also writes a byte to the wakeup fd (``signal.set_wakeup_fd``), and
a sampler thread woken by it takes the sample when the main thread's handler has not
(the handler comes first whenever the main thread runs Python: it runs before the main
thread hands the GIL over). Weighting matters: during a long C call that holds the
GIL, samples collapse into one, which then carries all the CPU time of the call (charged
to the Python function that made it). The first sample of a call weighs at least one
timer period, and the time after the last one is dropped: in expectation that is what
falls between two samples, so calls shorter than the period are still counted in
proportion to their length.

Signals need the main thread and ``signal.setitimer`` (not on Windows):
:func:`unavailable_reason` says so in one line. No pytest here.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import signal
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from .meters import Meter, Reading

#: Timer interval asked for; the kernel's tick bounds what it gives.
INTERVAL_S = 0.001
#: While the main thread's handler takes the samples, the sampler thread waits this long
#: between looks.
HELPER_BACKOFF_S = 0.2
#: CPU seconds at most spent finding the timer's real period (once per sampler).
CALIBRATION_S = 0.2
_THREADING = threading.__file__
#: Frames that count for the function around them (comprehensions have frames of their own
#: before Python 3.12, generator expressions always; threading's frames are a thread's start
#: and its waits).
_INLINE = frozenset({"<genexpr>", "<listcomp>", "<setcomp>", "<dictcomp>"})
#: The frame of samples in the runner's own code during a call (outside the test function).
RUNNER = "pytest:0 <runner>"
#: Per-thread CPU clocks (Linux, BSDs); without them only the main thread is sampled,
#: weighted by the process's CPU time.
THREAD_CLOCKS = hasattr(time, "pthread_getcpuclockid")


class ProfileConflict(Exception):
    """The profiled code took SIGPROF, the profiling timer or the wakeup fd for itself."""


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
        self._name, self._skip, self._own = name, skip, own
        self.interval_s = interval_s
        #: The timer's real period in CPU seconds (measured by :meth:`calibrate`).
        self.period_s = interval_s
        self._keys: dict[CodeType, str | None] = {}
        self._main = threading.main_thread().ident or 0
        self._lock = threading.Lock()
        self._sampling = False
        self._last: dict[int, float] = {}
        self._first = False
        #: Process CPU times of the latest signals: their gaps are the timer's period now.
        self._ticks: deque[float] = deque(maxlen=33)
        self._pipe: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._previous: Any = None
        self._entry: CodeType | None = None
        self._random = random.Random()
        self._call_s = 0.0
        #: Signals the main thread's handler has seen.
        self._handled = 0
        self.reset()

    def reset(self) -> None:
        """Forget what was sampled (the timer's period is kept)."""
        self.stacks: dict[tuple[str, ...], float] = {}
        self.counts: dict[tuple[str, ...], int] = {}
        self.samples = 0
        self.calls = 0
        self.errors = 0

    # -- the timer and the sampler thread -----------------------------------------------------
    def start(self) -> None:
        """Start the sampler thread and the timer (samples are taken only inside :meth:`run`);
        :class:`ProfileConflict` when the wakeup fd is already in use."""
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        old = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        if old != -1:
            signal.set_wakeup_fd(old)
            os.close(read)
            os.close(write)
            raise ProfileConflict("signal.set_wakeup_fd is in use in this process (an asyncio loop's "
                                  "signal handlers?)")
        self._pipe = (read, write)
        self._stopping.clear()
        self._previous = signal.signal(signal.SIGPROF, self._handle)
        self._thread = threading.Thread(target=self._loop, name="pytest-energy-sampler", daemon=True)
        self._thread.start()
        signal.setitimer(signal.ITIMER_PROF, self.interval_s, self.interval_s)

    def stop(self) -> None:
        """Stop the timer and the sampler thread; SIGPROF and the wakeup fd as they were."""
        signal.setitimer(signal.ITIMER_PROF, 0)
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            signal.set_wakeup_fd(-1)
            self._stopping.set()
            os.write(pipe[1], b"\0")
            if self._thread is not None:
                self._thread.join()
            for fd in pipe:
                os.close(fd)
        signal.signal(signal.SIGPROF, self._previous if self._previous is not None else signal.SIG_DFL)

    def _loop(self) -> None:
        assert self._pipe is not None
        read = self._pipe[0]
        while not self._stopping.is_set():
            handled = self._handled
            select.select([read], [], [], 1.0)
            try:
                data = os.read(read, 4096)
            except BlockingIOError:
                continue
            if self._handled != handled:
                # The main thread takes the samples: keep off the GIL, whose hand-overs at
                # every signal would fall into step with the calls and skew the samples.
                self._stopping.wait(HELPER_BACKOFF_S)
                with contextlib.suppress(BlockingIOError):
                    os.read(read, 65536)  # signals of the wait: the main thread saw them
            elif self._sampling and signal.SIGPROF in data:
                with self._lock:  # the main thread's handler did not come: it waits, or is in C
                    self._ticks.append(time.process_time())
                    self._guarded(None)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """The main thread's SIGPROF handler (it never waits: a busy lock skips the sample)."""
        self._handled += 1
        self._ticks.append(time.process_time())
        if self._sampling and self._lock.acquire(blocking=False):
            try:
                self._guarded(frame)
            finally:
                self._lock.release()

    def _guarded(self, frame: FrameType | None) -> None:
        if not self._sampling:
            return
        try:
            self._sample(frame)
        except Exception:  # never into the profiled code
            self.errors += 1

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

    def current_period(self) -> float:
        """The timer's period lately, in process CPU seconds (it stretches on a loaded
        machine); the calibrated one until enough signals came."""
        ticks = list(self._ticks)
        gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False) if b > a]
        return statistics.median(gaps) if len(gaps) >= 8 else self.period_s

    def check(self) -> None:
        """:class:`ProfileConflict` when SIGPROF, the timer or the wakeup fd is no longer ours."""
        interval = signal.getitimer(signal.ITIMER_PROF)[1]
        wakeup = signal.set_wakeup_fd(self._pipe[1], warn_on_full_buffer=False) if self._pipe else -1
        if (signal.getsignal(signal.SIGPROF) != self._handle or abs(interval - self.interval_s) > 1e-6
                or self._pipe is None or wakeup != self._pipe[1]):
            raise ProfileConflict("the test uses SIGPROF, setitimer(ITIMER_PROF) or the signal wakeup fd "
                                  "itself")

    # -- sampling ----------------------------------------------------------------------------
    def run(self, call: Callable[[], Any], entry: CodeType | None = None) -> Any:
        """``call()``, sampled. Its main-thread stacks start at the frame of ``entry`` (the
        test function), those that never reach it are the runner's own (:data:`RUNNER`);
        without ``entry`` they start where this method calls. After it,
        :class:`ProfileConflict` if the call took SIGPROF or the timer for itself."""
        self._entry = entry
        self._desynchronize()
        with self._lock:
            self._last = {ident: cpu for ident in sys._current_frames()
                          if (cpu := self._cpu(ident)) is not None}
            self._first = True
            self._sampling = True
        started = time.thread_time()
        try:
            return call()
        finally:
            with self._lock:
                self._sampling = False
            self._call_s = time.thread_time() - started
            self.calls += 1
            self.check()

    def _desynchronize(self) -> None:
        """Sleep a random part of a period before some calls: the timer ticks on a fixed
        grid, and calls repeated at a steady pace would otherwise meet it at the same
        points each time. The sleeps cost wall time only, about a tenth of the calls'."""
        wait = self._random.uniform(0, self.period_s)
        if self._random.random() < 0.1 * self._call_s / max(wait, 1e-6):
            time.sleep(wait)

    def _cpu(self, ident: int) -> float | None:
        """CPU seconds the thread has used (None when it cannot be read)."""
        if not THREAD_CLOCKS:
            return time.process_time() if ident == self._main else None
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(ident))
        except (OSError, OverflowError, ValueError):
            return None

    def _sample(self, main_frame: FrameType | None) -> None:
        """One sample of every thread (``main_frame``: where the main thread was interrupted)."""
        found: list[tuple[tuple[str, ...], float]] = []
        frames = sys._current_frames()
        if main_frame is not None:
            frames[self._main] = main_frame
        sampler = self._thread.ident if self._thread is not None else None
        for ident, top in frames.items():
            if ident == sampler:
                continue
            cpu = self._cpu(ident)
            if cpu is None:
                continue
            used = cpu - self._last.get(ident, 0.0)
            self._last[ident] = cpu
            if used <= 0:
                continue
            stack = self._stack(top, ident == self._main)
            if stack:
                found.append((stack, used))
        if not found:
            return
        scale = 1.0
        if self._first:  # the CPU time before a call's first sample is, in expectation, one period
            self._first = False
            scale = max(1.0, self.current_period() / sum(used for _, used in found))
        if any(stack != (RUNNER,) for stack, _ in found):
            self.samples += 1  # samples of the runner alone do not make a profile
        for stack, used in found:
            self.stacks[stack] = self.stacks.get(stack, 0.0) + used * scale
            self.counts[stack] = self.counts.get(stack, 0) + 1

    def _stack(self, frame: FrameType | None, main: bool) -> tuple[str, ...]:
        """The frame's stack, root first, without the runner's frames below the code
        sampled (() for a thread not to sample, or a main thread outside :meth:`run`)."""
        codes: list[CodeType] = []
        root = Sampler.run.__code__
        while frame is not None and frame.f_code.co_filename == __file__ and frame.f_code is not root:
            frame = frame.f_back  # the main thread in this sampler's handler: where it was
        while frame is not None:
            code = frame.f_code
            if code is root:
                break
            if not main and self._own(code):
                return ()
            codes.append(code)
            frame = frame.f_back
        else:
            if main:
                return ()
        if main and self._entry is not None:
            if self._entry not in codes:
                return (RUNNER,)
            codes = codes[: codes.index(self._entry) + 1]
        names = []
        skipping = True
        for code in reversed(codes):
            key = self._keys.get(code, "")
            if key == "":
                skipped = code.co_filename == _THREADING or self._skip(code) or code.co_name in _INLINE
                key = self._keys[code] = None if skipped else self._name(code).replace(";", ",")
            if key is None and (skipping or code.co_name in _INLINE or code.co_filename == _THREADING):
                continue  # the runner below the test; comprehensions, waits count for their caller
            skipping = False
            names.append(key or self._name(code).replace(";", ","))
        return tuple(names)


class NoMeter(Meter):
    """Reads nothing: the engine's rounds without a meter (profiled re-runs are not measured)."""

    name = "none"

    def read(self) -> Reading:
        return {}


def frame_namer(root: str) -> Callable[[CodeType], str]:
    """``path:line function`` for a code object: the path relative to ``root`` inside it,
    else from the ``site-packages`` or standard-library folder on; the function's first
    line and qualified name."""
    root = os.path.abspath(root) + os.sep
    stdlib = os.path.dirname(os.__file__) + os.sep

    def name(code: CodeType) -> str:
        path = code.co_filename
        if path.startswith(root):
            path = path[len(root):]
        elif "site-packages" + os.sep in path:
            path = path.rpartition("site-packages" + os.sep)[2]
        elif path.startswith(stdlib):
            path = path[len(stdlib):]
        return f"{path}:{code.co_firstlineno} {getattr(code, 'co_qualname', code.co_name)}"

    return name
