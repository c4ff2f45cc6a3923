"""Re-execute a Python program under callgrind, set up for deterministic counts.

The command (see :func:`valgrind_command`)::

    setarch <uname -m> -R valgrind -q --tool=callgrind --cache-sim=yes
        --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64 --instr-atstart=no
        --collect-systime=nsec --compress-strings=no --combine-dumps=yes
        --dump-line=no --trace-children=no
        --callgrind-out-file=<dir>/callgrind.out.%p  <python> <args...>

with ``PYTHONHASHSEED=0`` (same str hashes, so same dict/set layouts),
``PYTHONMALLOC=malloc`` (pymalloc's arenas would otherwise make costs depend on
addresses; glibc malloc is deterministic under valgrind) and ``$PYTEST_ENERGY_SIM_CHILD``
set to the output directory: the child knows it is the simulated child and must not
re-execute itself again.

Choices:

* Fixed cache geometry (32 KiB 8-way L1s, 8 MiB 16-way LL, 64-byte lines) rather than
  the host's, so counts agree across machines. ``setarch -R`` turns ASLR off so that
  addresses, hence cache sets, repeat from run to run.
* ``--instr-atstart=no``: start-up (~140 M instructions for Python + pytest) runs
  uninstrumented, several times faster; only regions between begin()/end() are counted.
* ``--branch-sim`` is off by default (``branch_sim=True`` turns it on): it adds
  ~5-10 % CPU time inside regions (measured: loop +8 %, sort +5 %, json +8 %,
  dict/set +7 %), its simple predictor model says little about modern TAGE-style
  predictors, and the energy model does not use branch counts.
* ``--trace-children=no``: subprocesses a test starts run natively. Their counts
  would land in other files that the per-region reader never reads (they start with
  instrumentation off), so tracing them would only cost time (valgrind start-up of
  every ``git``/``python`` call). Forked (not exec'd) children stay under valgrind,
  as always.
* Threads: callgrind sums all threads of the process into one set of totals
  (``--separate-threads=no``, the default); valgrind runs one thread at a time, so
  threads cost their instructions but never show a parallel speed-up.
* ``--dump-line=no`` is kept to match CodSpeed; with ``--dump-instr=no`` callgrind still
  falls back to line positions, which does not affect totals.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from .shim import SimulatorUnavailable, build_shim

__all__ = [
    "MARKER_ENV",
    "VALGRIND_FLAGS",
    "valgrind_command",
    "child_env",
    "is_simulated_child",
    "check_tools",
    "reexec",
    "run",
    "current_argv",
]

MARKER_ENV = "PYTEST_ENERGY_SIM_CHILD"

VALGRIND_FLAGS: tuple[str, ...] = (
    "-q",
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
)


def check_tools() -> None:
    """Raise :class:`SimulatorUnavailable` unless Linux, valgrind, setarch and the shim are ok.

    Building the shim here, in the launching process, also means the measured child
    finds it cached and never runs the compiler itself.
    """
    if not sys.platform.startswith("linux"):
        raise SimulatorUnavailable(
            f"the simulated meter needs valgrind, which is Linux-only (this is {sys.platform})"
        )
    if shutil.which("valgrind") is None:
        raise SimulatorUnavailable("valgrind not found on PATH: apt-get install valgrind")
    if shutil.which("setarch") is None:
        raise SimulatorUnavailable("setarch not found on PATH: apt-get install util-linux")
    build_shim()


def valgrind_command(
    argv: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    branch_sim: bool = False,
    trace_children: bool = False,
    log_file: str | os.PathLike[str] | None = None,
) -> list[str]:
    """The full command line running ``argv`` under callgrind with ASLR off."""
    out = Path(out_dir).resolve()
    cmd = ["setarch", platform.machine(), "-R", "valgrind", *VALGRIND_FLAGS]
    cmd.append(f"--branch-sim={'yes' if branch_sim else 'no'}")
    cmd.append(f"--trace-children={'yes' if trace_children else 'no'}")
    cmd.append(f"--callgrind-out-file={out / 'callgrind.out.%p'}")
    # valgrind's own notes (cache warnings, "Using source line as position") go to a file
    cmd.append(f"--log-file={log_file if log_file is not None else out / 'valgrind.%p.log'}")
    return [*cmd, *argv]


def child_env(
    out_dir: str | os.PathLike[str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment of the simulated child: ``base`` (default os.environ) plus our settings."""
    env = dict(os.environ if base is None else base)
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONMALLOC"] = "malloc"
    env[MARKER_ENV] = str(Path(out_dir).resolve())
    return env


def is_simulated_child() -> bool:
    """True in a process started by this module (it must not re-execute again).

    The marker is inherited by grandchildren, which do not run under valgrind
    (``--trace-children=no``); :class:`simulated.counts.Simulator` checks
    ``RUNNING_ON_VALGRIND`` for that case.
    """
    return bool(os.environ.get(MARKER_ENV))


def current_argv() -> list[str]:
    """This interpreter's own command line, ready to run again.

    ``sys.orig_argv`` keeps interpreter options and ``-m pytest`` / ``-c``; the first
    element is replaced by ``sys.executable`` (an absolute path).
    """
    return [sys.executable, *sys.orig_argv[1:]]


def reexec(
    out_dir: str | os.PathLike[str], argv: Sequence[str] | None = None, **options: bool
) -> NoReturn:
    """Replace this process by ``argv`` (default: itself) under callgrind.

    Same pid, same stdio file descriptors and terminal, same exit code, signals go
    straight to the new program. Flush Python's buffers and undo any fd redirection
    (pytest's global capture) before calling this.
    """
    check_tools()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    cmd = valgrind_command(current_argv() if argv is None else argv, out_dir, **options)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(cmd[0], cmd, child_env(out_dir))


def run(
    argv: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    **kwargs: object,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` under callgrind as a subprocess (tests, and parents that must outlive it).

    ``kwargs`` go to :func:`subprocess.run` (e.g. ``capture_output=True, text=True``);
    keyword options of :func:`valgrind_command` are taken out first.
    """
    check_tools()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    vg_opts = {
        k: kwargs.pop(k) for k in ("branch_sim", "trace_children", "log_file") if k in kwargs
    }
    cmd = valgrind_command(argv, out_dir, **vg_opts)  # type: ignore[arg-type]
    return subprocess.run(cmd, env=child_env(out_dir, env), check=False, **kwargs)  # type: ignore[call-overload]
