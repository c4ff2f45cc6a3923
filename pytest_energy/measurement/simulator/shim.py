"""Build and load the tiny C library that issues callgrind client requests.

The client requests are macros in ``<valgrind/callgrind.h>`` (inline assembly), so
they cannot be called from Python directly. ``_shim.c`` wraps each in a plain C
function; this module compiles it on first use with the system C compiler and
loads it with :mod:`ctypes`.

Build cache: ``$PYTEST_ENERGY_SIM_CACHE`` or ``$XDG_CACHE_HOME/pytest-energy-sim``
(default ``~/.cache/pytest-energy-sim``). The file name holds a hash of the C
source, the compiler (resolved path, size, mtime), and the header contents, so a new
compiler or valgrind gives a new build. Builds go to a temporary file first and
are moved into place with :func:`os.replace`, so concurrent processes (xdist
workers) never load a half-written library.

Settings read from the environment:

* ``CC``: the C compiler (default: the first of ``cc``, ``gcc``, ``clang`` on PATH).
* ``PYTEST_ENERGY_SIM_INCLUDE``: a directory holding ``valgrind/callgrind.h``
  (default: the usual system include directories).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

__all__ = ["Shim", "SimulatorUnavailable", "load_shim", "build_shim"]

SOURCE_PATH = Path(__file__).with_name("_shim.c")
INCLUDE_ENV = "PYTEST_ENERGY_SIM_INCLUDE"
CACHE_ENV = "PYTEST_ENERGY_SIM_CACHE"
_DEFAULT_INCLUDE_DIRS = ("/usr/include", "/usr/local/include")
_HEADER = Path("valgrind") / "callgrind.h"


class SimulatorUnavailable(RuntimeError):
    """The simulated meter cannot run here; ``str(exc)`` is one line naming the fix."""


def _check_platform() -> None:
    if not sys.platform.startswith("linux"):
        raise SimulatorUnavailable(
            f"the simulated meter needs valgrind, which is Linux-only (this is {sys.platform})"
        )


def find_compiler() -> list[str]:
    """Return the compiler command (``$CC`` split like a shell would, or cc/gcc/clang)."""
    env_cc = os.environ.get("CC")
    if env_cc:
        argv = shlex.split(env_cc)
        if argv and shutil.which(argv[0]):
            return [shutil.which(argv[0]) or argv[0], *argv[1:]]
        raise SimulatorUnavailable(
            f"C compiler CC={env_cc!r} not found: install one (apt-get install gcc) or fix $CC"
        )
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return [path]
    raise SimulatorUnavailable(
        "no C compiler found (cc/gcc/clang): install one (apt-get install gcc) or set $CC"
    )


def find_include_dir() -> Path:
    """Return the directory that holds ``valgrind/callgrind.h``."""
    configured = os.environ.get(INCLUDE_ENV)
    candidates = [Path(configured)] if configured else [Path(d) for d in _DEFAULT_INCLUDE_DIRS]
    for directory in candidates:
        if (directory / _HEADER).is_file():
            return directory
    where = ", ".join(str(d) for d in candidates)
    raise SimulatorUnavailable(
        f"valgrind/callgrind.h not found in {where}: apt-get install valgrind "
        f"(or set {INCLUDE_ENV} to the directory holding valgrind/callgrind.h)"
    )


def _compiler_identity(compiler: list[str]) -> str:
    """Resolved compiler path, size and mtime: a new compiler gives a new cache key.

    Deliberately not ``cc --version``: this runs in the measured process, and a
    subprocess (pipe reads that depend on timing) would make the heap, hence the
    counts of later regions, differ from run to run.
    """
    real = os.path.realpath(compiler[0])
    try:
        st = os.stat(real)
    except OSError as exc:
        raise SimulatorUnavailable(
            f"C compiler {compiler[0]} not usable ({exc.strerror}): apt-get install gcc"
        ) from exc
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


def cache_dir() -> Path:
    """Directory for built libraries."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-energy-sim"


def build_shim() -> Path:
    """Build the shared library if it is not cached yet; return its path."""
    _check_platform()
    compiler = find_compiler()
    include = find_include_dir()
    source = SOURCE_PATH.read_bytes()
    key = hashlib.sha256()
    for part in (
        source,
        " ".join(compiler).encode(),
        _compiler_identity(compiler).encode(),
        (include / "valgrind" / "valgrind.h").read_bytes(),
        (include / _HEADER).read_bytes(),
    ):
        key.update(part)
        key.update(b"\0")
    target_dir = cache_dir()
    target = target_dir / f"callgrind_shim-{key.hexdigest()[:16]}.so"
    if target.is_file():
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".build-", suffix=".so", dir=target_dir)
    os.close(fd)
    cmd = [
        *compiler,
        "-shared",
        "-fPIC",
        "-O2",
        "-I",
        str(include),
        "-o",
        tmp_name,
        str(SOURCE_PATH),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            first = next(
                (ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()
            )
            raise SimulatorUnavailable(
                f"building the callgrind shim failed ({first.strip()[:200]}): "
                "check the C compiler and apt-get install valgrind"
            )
        os.replace(tmp_name, target)
    except OSError as exc:
        raise SimulatorUnavailable(
            f"C compiler {compiler[0]} cannot run ({exc}): install one (apt-get install gcc)"
        ) from exc
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target


class Shim:
    """The loaded library: one Python method per client request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        lib = ctypes.CDLL(str(path))
        for name in ("zero_stats", "start_instrumentation", "stop_instrumentation"):
            getattr(lib, name).restype = None
            getattr(lib, name).argtypes = []
        lib.dump_stats_at.restype = None
        lib.dump_stats_at.argtypes = [ctypes.c_char_p]
        lib.running_on_valgrind.restype = ctypes.c_int
        lib.running_on_valgrind.argtypes = []
        # Bound once so a measured region does not pay for attribute lookups in ctypes.
        self.zero_stats = lib.zero_stats
        self.start_instrumentation = lib.start_instrumentation
        self.stop_instrumentation = lib.stop_instrumentation
        self._dump_stats_at = lib.dump_stats_at
        self._running = lib.running_on_valgrind

    def dump_stats_at(self, name: bytes) -> None:
        """Write a dump whose trigger is ``name`` (one line; keep it under 500 bytes)."""
        self._dump_stats_at(name)

    def running_on_valgrind(self) -> int:
        """Valgrind nesting depth: 0 when not under valgrind."""
        return int(self._running())


@cache
def load_shim() -> Shim:
    """Build (if needed) and load the shim once per process."""
    return Shim(build_shim())
