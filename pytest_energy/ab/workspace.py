"""The temporary trees, virtualenvs and processes of ``pytest-energy ab``, and their removal.

Everything a run makes lives under one temporary directory (``pytest-energy-ab-*``): the
trees, the virtualenvs, the logs, and the temporary files of the commands it runs (their
``TMPDIR`` points inside it, so ``ensurepip`` and ``pip`` leave nothing elsewhere). Every
command runs in a process group of its own, so :meth:`Workspace.close` ends the command
and all it started (a pip under a virtualenv's creation included) before removing the
directory. A run killed outright (SIGKILL) cannot clean up: the directory names its
owner, and the next run in the same repository removes the worktrees of owners that are
gone (:func:`remove_stale`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable

from ..errors import InputError

PREFIX = "pytest-energy-ab-"
#: The file in a workspace naming its owner: ``pid start-time host``.
OWNER = "owner"
#: The longest Unix socket path taken everywhere (``sun_path``: 108 bytes on Linux, 104 on
#: macOS, the terminating NUL included).
MAX_SOCKET_PATH = 100
#: Where sockets go when the workspace's path is too long for them (a directory each run,
#: named in the workspace's file :data:`SOCKET_DIR`, so that a killed run's is removed too).
SOCKET_PARENT, SOCKET_PREFIX, SOCKET_DIR = "/tmp", "pe-ab-", "socket-dir"


def git(repo: str, *args: str) -> str:
    """``git -C repo args``; stdout stripped, :class:`InputError` with git's message on failure."""
    done = git_quiet(repo, *args)
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        raise InputError(f"git {' '.join(args)} failed: {lines[-1] if lines else done.returncode}")
    return done.stdout.strip()


def git_quiet(repo: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``git -C repo args``, output captured, never raising (cleaning up)."""
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)


def _start_time(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot; '' where unknown): a pid
    reused by another process does not pass for the owner."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _owner_alive(root: str) -> bool:
    """Whether the run that made workspace ``root`` may still be running (another host's: yes)."""
    try:
        with open(os.path.join(root, OWNER), encoding="utf-8") as handle:
            pid_text, started, host = handle.read().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return False  # no owner: killed before it said who it was, or not ours
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _start_time(pid) == started


def remove_stale(repo: str) -> list[str]:
    """Remove the worktrees of ``repo`` that a killed ``pytest-energy ab`` left registered
    (with their workspace), and prune those whose directory is gone; returns the paths removed."""
    listed = git_quiet(repo, "worktree", "list", "--porcelain").stdout.splitlines()
    removed = []
    for path in (line[len("worktree "):] for line in listed if line.startswith("worktree ")):
        root = os.path.dirname(path)
        if not os.path.basename(root).startswith(PREFIX) or _owner_alive(root):
            continue
        git_quiet(repo, "worktree", "remove", "--force", path)
        _remove_socket_dir(root)
        shutil.rmtree(root, ignore_errors=True)
        removed.append(path)
    git_quiet(repo, "worktree", "prune")
    return removed


class Workspace:
    """A temporary directory with one tree per side; :meth:`close` removes everything,
    processes included."""

    def __init__(self, repo: str) -> None:
        self.repo = repo
        self.root = tempfile.mkdtemp(prefix=PREFIX)
        self.worktrees: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        with open(os.path.join(self.root, OWNER), "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {_start_time(os.getpid()) or '-'} {socket.gethostname()}\n")
        #: Where the commands it runs keep their temporary files.
        self.scratch = os.path.join(self.root, "tmp")
        os.mkdir(self.scratch)
        self._socket_dir: str | None = None

    def socket_path(self, name: str) -> str:
        """Where a Unix socket called ``name`` goes: in the workspace, or, when that path is
        too long for a socket address (a long TMPDIR), in a private directory under /tmp,
        removed with the workspace."""
        path = os.path.join(self.root, name)
        if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
            return path
        if self._socket_dir is None:
            self._socket_dir = tempfile.mkdtemp(prefix=SOCKET_PREFIX, dir=SOCKET_PARENT)
            with open(os.path.join(self.root, SOCKET_DIR), "w", encoding="utf-8") as handle:
                handle.write(self._socket_dir)
        return os.path.join(self._socket_dir, name)

    def checkout(self, name: str, commit: str) -> str:
        path = os.path.join(self.root, name)
        self.worktrees.append(path)  # before it exists: a worktree half made is removed too
        git(self.repo, "worktree", "add", "--detach", "--quiet", path, commit)
        return path

    def copy_working_tree(self, name: str) -> str:
        """Tracked and untracked files (not ignored ones), as they are now; symlinks stay
        symlinks, to files and to directories alike."""
        path = os.path.join(self.root, name)
        listed = git(self.repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        for relative in filter(None, listed.split("\0")):
            source = os.path.join(self.repo, relative)
            if not os.path.lexists(source) or (os.path.isdir(source) and not os.path.islink(source)):
                continue  # deleted but still tracked, or a submodule
            target = os.path.join(path, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
        os.makedirs(path, exist_ok=True)
        return path

    def virtualenv(self, name: str, env: dict[str, str]) -> tuple[str, dict[str, str]]:
        """A fresh virtualenv, made by a process this workspace ends if interrupted: its
        python, and ``env`` changed to run in it (:class:`InputError` if it fails)."""
        path = os.path.join(self.root, f"{name}-venv")
        log = os.path.join(self.root, f"{name}-venv.log")
        status = self.run([sys.executable, "-m", "venv", path], self.root, env, log)
        if status:
            raise InputError(f"creating a virtualenv for {name} failed (exit status {status}): "
                             f"{last_line(log)}")
        bin_dir = os.path.join(path, "bin")
        env = {**env, "VIRTUAL_ENV": path, "PATH": bin_dir + os.pathsep + env.get("PATH", "")}
        env.pop("PYTHONHOME", None)
        return os.path.join(bin_dir, "python"), env

    @staticmethod
    def share_packages(python: str) -> None:
        """Let the virtualenv of ``python`` see this environment's packages (pytest,
        pytest-energy) after its own. Done after ``--prepare``: a build run by it must see
        only the virtualenv (an outer setuptools would shadow the one pip isolates)."""
        import site

        own = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        outer = [p for p in [*site.getsitepackages(), site.getusersitepackages()] if os.path.isdir(p)]
        with open(os.path.join(own, "zz_pytest_energy_outer.pth"), "w", encoding="utf-8") as handle:
            handle.writelines(f"import site; site.addsitedir({p!r})\n" for p in outer)

    def start(self, command: list[str], cwd: str, env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        """A command in a process group of its own, with the address layout of the other
        side (see :func:`same_layout`), output to ``log``."""
        with open(log, "wb") as out:
            process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True,
                                       preexec_fn=same_layout())
        self.processes.append(process)
        return process

    def run(self, command: list[str], cwd: str, env: dict[str, str], log: str) -> int:
        """A preparing command to its end, its temporary files kept in :attr:`scratch`."""
        return self.start(command, cwd, {**env, "TMPDIR": self.scratch}, log).wait()

    def close(self) -> None:
        """End every process group still running, remove the worktrees and the directory;
        SIGINT and SIGTERM wait until it is done."""
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            running = [process for process in self.processes if process.poll() is None]
            for process in running:
                _kill_group(process, signal.SIGTERM)
            for process in running:
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                _kill_group(process, signal.SIGKILL)  # what it started and left behind (a pip)
            for path in self.worktrees:
                git_quiet(self.repo, "worktree", "remove", "--force", path)
            git_quiet(self.repo, "worktree", "prune")
            _remove_socket_dir(self.root)
            shutil.rmtree(self.root, ignore_errors=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


#: A line that states an error (pytest's ``__main__.py: error: ...``, pip's ``ERROR: ...``),
#: not the usage line that comes before pytest's.
_ERROR_LINE = re.compile(r"\berror: (?!usage:)", re.IGNORECASE)


def last_line(path: str) -> str:
    """The cause, for one-line errors: the log's last line that states an error (pytest
    prints its ``rootdir:`` after it), else its last non-empty line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [line.strip() for line in handle if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    return errors[-1] if errors else lines[-1] if lines else "(no output)"


#: Linux's personality flag that turns address-space randomization off (``setarch -R``).
ADDR_NO_RANDOMIZE = 0x0040000


def same_layout() -> Callable[[], None] | None:
    """What a child runs before its exec to turn address-space randomization off, or None
    where that cannot be done. Randomized, each process draws its own memory layout, and
    CPython's speed depends on it: the same loop ran up to 15% faster or slower in one
    process than in another on this project's machine, a difference pairing cannot take
    out. With the randomization off, both sides get the same layout."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        personality = ctypes.CDLL(None, use_errno=True).personality
    except (OSError, AttributeError):
        return None

    def turn_off() -> None:
        current = personality(0xFFFFFFFF)
        if current != -1:
            personality(current | ADDR_NO_RANDOMIZE)

    return turn_off


def _remove_socket_dir(root: str) -> None:
    """Remove the socket directory workspace ``root`` names, if it names one of ours."""
    try:
        with open(os.path.join(root, SOCKET_DIR), encoding="utf-8") as handle:
            path = handle.read().strip()
    except OSError:
        return
    if os.path.dirname(path) == SOCKET_PARENT and os.path.basename(path).startswith(SOCKET_PREFIX):
        shutil.rmtree(path, ignore_errors=True)


def _kill_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
