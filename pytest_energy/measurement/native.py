"""Build a C source file into an importable extension module, cached by source hash.

For projects that do not package their C code yet. Needs a C compiler (``$CC``, else the
one Python was built with, usually gcc or clang) and the Python headers (Debian/Ubuntu:
``python3-dev``). Builds land in a cache directory (under pytest's cache when used through
the ``native_module`` fixture), keyed by the source, compiler, flags and Python version,
so an unchanged file is never rebuilt and an edited one always is.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType

DEFAULT_FLAGS = ("-O2", "-fPIC", "-shared")


class NativeBuildError(Exception):
    """The compiler failed (or is missing); the message holds its output."""


def compiler_command() -> list[str]:
    """The C compiler: ``$CC``, else the compiler Python was built with, else ``cc``."""
    return shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")


def build_command(source: Path, output: Path, flags: tuple[str, ...] = DEFAULT_FLAGS) -> list[str]:
    """The compiler invocation that turns ``source`` into the shared library ``output``."""
    command = [*compiler_command(), *flags, f"-I{sysconfig.get_paths()['include']}", str(source)]
    if sys.platform == "darwin":
        command += ["-undefined", "dynamic_lookup"]
    return [*command, "-o", str(output)]


def build_extension(
    source: str | os.PathLike[str], cache_dir: str | os.PathLike[str], *, name: str | None = None,
    flags: tuple[str, ...] = DEFAULT_FLAGS,
) -> ModuleType:
    """Compile ``source`` (defining ``PyInit_<name>``; ``name`` defaults to the file stem)
    unless a build of the same source and flags is cached, then import it."""
    source = Path(source).resolve()
    name = name or source.stem
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    key = hashlib.sha256()
    for part in (source.read_bytes(), " ".join(build_command(source, Path(name), flags)).encode(),
                 sys.version.encode()):
        key.update(part)
    directory = Path(cache_dir) / f"{name}-{key.hexdigest()[:16]}"
    library = directory / f"{name}{suffix}"
    if not library.exists():
        _compile(source, library, flags)
    spec = importlib.util.spec_from_file_location(name, library)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _compile(source: Path, library: Path, flags: tuple[str, ...]) -> None:
    library.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=library.parent, suffix=library.suffix)
    os.close(handle)
    command = build_command(source, Path(tmp), flags)
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        os.unlink(tmp)
        raise NativeBuildError(
            f"building {source.name}: no C compiler {command[0]!r}; install gcc or clang and the "
            "Python headers (python3-dev), or set CC"
        ) from None
    if done.returncode != 0:
        os.unlink(tmp)
        raise NativeBuildError(
            f"building {source.name} failed ({shlex.join(command[:1])} exit {done.returncode}):\n"
            f"{(done.stderr or done.stdout).strip()}"
        )
    os.replace(tmp, library)  # atomic: parallel sessions see a whole library or none
