"""``pytest-energy ab``: two revisions of real git repositories measured in turns."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pytest_energy.ab.turns import ARRIVE, COLLECTED, END, HELLO, PASS, Turns, TurnsError
from pytest_energy.cli import main

WORK = '''
N = {n}


def work(n):
    return sum(i * i for i in range(n))


def test_loop():
    assert work(N) > 0


def test_small():
    assert work(3000) > 0
'''
#: Short rounds keep these tests quick; the verdicts still rest on 20 pairs.
FAST = ["-v", "--", "-q", "-p", "no:cacheprovider", "--energy-min-time=0.02"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    git(path, "init", "-q")
    git(path, "config", "user.email", "dev@example.com")
    git(path, "config", "user.name", "dev")
    commit(path, files, "base")
    return path


def commit(repo: Path, files: dict[str, str], message: str = "head") -> None:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


@pytest.fixture
def run_ab(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """Run ``pytest-energy ab`` in a repo; (exit status, stdout, stderr). Temporary trees
    go under tmp_path/tmp, so that their removal can be checked."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr("tempfile.tempdir", None)

    def run(repo: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.chdir(repo)
        status = main(["ab", *args])
        out, err = capsys.readouterr()
        return status, out, err

    yield run
    assert list(scratch.iterdir()) == [], "temporary trees left behind"


def worktrees(repo: Path) -> list[str]:
    return [line for line in git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree")]


#: Work counted exactly: the fake NVML counter (tests/fake_pynvml.py) with no background
#: power moves only by what the tests consume, so head/base is exactly their ratio.
EXACT_WORK = '''
import pynvml


def test_loop():
    pynvml.consume({mj})


def test_small():
    pynvml.consume(1000)
'''
EXACT_CONFTEST = """
import pynvml

pynvml.GPUS[0]["watts"] = 0.0
"""


def test_heavier_test_fails_with_its_ratio_and_the_order_is_recorded(tmp_path: Path, run_ab) -> None:
    fake_nvml = (Path(__file__).parent / "fake_pynvml.py").read_text()
    repo = make_repo(tmp_path / "repo", {"tests/test_work.py": EXACT_WORK.format(mj=1000),
                                         "tests/conftest.py": EXACT_CONFTEST, "tests/pynvml.py": fake_nvml})
    commit(repo, {"tests/test_work.py": EXACT_WORK.format(mj=3000)})
    # rounds of any length count (no calibration round to drop), so kept rounds alternate
    status, out, err = run_ab(repo, "HEAD~1", "HEAD", "--json", str(tmp_path / "ab.json"),
                              *FAST, "--energy-meter=nvml", "--energy-min-time=0.000001")
    assert status == 1, out + err
    line = next(li for li in out.splitlines() if li.startswith("energy regression: tests/test_work.py::test_loop"))
    assert "head/base 3 (3-3) over 20 paired rounds" in line, line  # three times the work, exactly
    assert "1 J -> 3 J per call" in line and "(nvml)" in line
    assert "test_small" not in "".join(li for li in out.splitlines() if li.startswith("energy regression"))
    assert "energy ab FAILED" in out
    assert "[1/2, 1 left] tests/test_work.py::test_loop: base and head in turns" in err
    document = json.loads((tmp_path / "ab.json").read_text())
    assert document["format"] == "pytest-energy-ab"
    assert document["base"]["commit"] == git(repo, "rev-parse", "HEAD~1").strip()
    pairs = {"tests/test_work.py::test_loop": 20, "tests/test_work.py::test_small": 3}  # clear after 3
    for test in document["tests"]:
        order = test["lockstep"]
        assert len(order) == 2 * pairs[test["nodeid"]] and order.count("base") == pairs[test["nodeid"]]
        assert all(a != b for a, b in zip(order, order[1:], strict=False)), order  # base, head, base, head...
        assert test["base"]["repeat"] == "repeated"
        assert len(test["head"]["samples"]["joules"]) == pairs[test["nodeid"]]
    verdicts = {c["nodeid"]: c["verdict"] for c in document["comparisons"]}
    assert verdicts["tests/test_work.py::test_loop"] == "regression"
    assert verdicts["tests/test_work.py (file, summed rounds)"] == "regression"
    assert worktrees(repo) == [f"worktree {repo}"]
    # the HTML report of it: ratios with their CI, both sides' rounds
    assert main(["report", "--ab", str(tmp_path / "ab.json"), "-o", str(tmp_path / "ab.html")]) == 0
    page = (tmp_path / "ab.html").read_text()
    assert "Base against head (pytest-energy ab)" in page and "head/base energy per call (nvml)" in page
    assert "tests/test_work.py::test_loop" in page and "http" not in page
    dots = sum(pairs.values())  # base and head: a dot per round each
    assert page.count('fill="#9e9e9e"') == page.count('fill="#1565c0" fill-opacity') >= dots


def test_unchanged_code_passes_and_the_working_tree_is_head(tmp_path: Path, run_ab) -> None:
    repo = make_repo(tmp_path / "repo", {"tests/test_work.py": WORK.format(n=20000), "README": "a\n"})
    (repo / "README").write_text("b\n")  # uncommitted, and a new untracked test file
    (repo / "tests" / "test_added.py").write_text("def test_added():\n    assert sum(range(1000))\n")
    (repo / ".gitignore").write_text("ignored.py\n")
    (repo / "tests" / "ignored.py").write_text("raise SystemExit('ignored files are not copied')\n")
    status, out, err = run_ab(repo, "HEAD", "--markdown", str(tmp_path / "ab.md"), *FAST)
    assert status == 0, out + err
    rows = {line.split()[0]: re.split(r"\s{2,}", line.strip())[-1] for line in out.splitlines()
            if line.startswith("tests/")}
    # never a regression; a few percent either way between two processes is "within limit"
    assert rows["tests/test_work.py::test_loop"] in ("unchanged", "within limit", "inconclusive", "improvement")
    assert rows["tests/test_added.py::test_added"] == "new"
    assert "energy ab passed" in out and "head (working tree)" in out
    summary = (tmp_path / "ab.md").read_text()
    assert summary.startswith("## Energy: base against head (pytest-energy ab)")
    assert "| `tests/test_added.py::test_added` |  |" in summary and "no energy regression" in summary


def test_a_long_tmpdir_gets_its_turns_socket_in_a_short_place(tmp_path: Path, run_ab, monkeypatch) -> None:
    repo = make_repo(tmp_path / "repo", {"tests/test_a.py": "def test_a():\n    pass\n"})
    long = tmp_path / ("t" * 60) / ("m" * 60)  # too long for a Unix socket's address
    long.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(long))
    monkeypatch.setattr("tempfile.tempdir", None)
    made, mkdtemp = [], tempfile.mkdtemp
    monkeypatch.setattr("tempfile.mkdtemp", lambda *a, **kw: made.append(mkdtemp(*a, **kw)) or made[-1])
    status, out, err = run_ab(repo, "HEAD", *FAST)
    assert status == 0, out + err
    assert "energy ab passed" in out
    short = [path for path in made if os.path.basename(path).startswith("pe-ab-")]
    assert [os.path.dirname(path) for path in short] == ["/tmp"]  # the socket's place
    assert list(long.iterdir()) == [] and not os.path.exists(short[0])  # all removed


def test_tests_added_and_removed_are_listed(tmp_path: Path, run_ab) -> None:
    repo = make_repo(tmp_path / "repo", {"tests/test_work.py": WORK.format(n=5000),
                                         "tests/test_old.py": "def test_old():\n    pass\n"})
    git(repo, "rm", "-q", "tests/test_old.py")
    commit(repo, {"tests/test_fresh.py": "def test_fresh():\n    pass\n"})
    status, out, err = run_ab(repo, "HEAD~1", "HEAD", "--json", str(tmp_path / "ab.json"), *FAST)
    assert status == 0, out + err
    document = json.loads((tmp_path / "ab.json").read_text())
    assert [r["nodeid"] for r in document["new"]] == ["tests/test_fresh.py::test_fresh"]
    assert [r["nodeid"] for r in document["removed"]] == ["tests/test_old.py::test_old"]
    verdicts = {c["nodeid"]: c["verdict"] for c in document["comparisons"]}
    assert verdicts["tests/test_fresh.py::test_fresh"] == "new"
    assert verdicts["tests/test_old.py::test_old"] == "removed"
    assert "base: 3 tests collected" in err and "head: 3 tests collected" in err


def test_prepare_runs_in_a_virtualenv_per_tree(tmp_path: Path, run_ab) -> None:
    check = (
        "import os, sys\n\n"
        "def test_prepared():\n"
        "    assert open('prepared.txt').read().strip() == sys.prefix\n"
        "    assert sys.prefix.endswith('-venv') and os.getcwd() in open('where.txt').read()\n"
        "    assert int(open('/proc/self/personality').read(), 16) & 0x0040000  # same layout, both sides\n"
    )
    repo = make_repo(tmp_path / "repo", {"tests/test_prepared.py": check})
    commit(repo, {"README": "head\n"})
    prepare = "python -c 'import sys; print(sys.prefix)' > prepared.txt && pwd > where.txt"
    status, out, err = run_ab(repo, "HEAD~1", "HEAD", "--prepare", prepare, *FAST)
    assert status == 0, out + err
    assert "preparing base (HEAD~1" in err and "preparing head (HEAD" in err
    assert "tests/test_prepared.py::test_prepared" in out


def test_a_src_layout_installed_per_tree_measures_each_trees_code(tmp_path: Path, run_ab) -> None:
    pyproject = ('[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
                 '[project]\nname = "mypkg"\nversion = "1"\n')
    code = "def work():\n    return sum(i * i for i in range({n}))\n"
    files = {"pyproject.toml": pyproject, "src/mypkg/__init__.py": code.format(n=20000),
             "tests/test_pkg.py": "import mypkg\n\ndef test_pkg():\n    assert mypkg.work() > 0\n"}
    repo = make_repo(tmp_path / "repo", files)
    commit(repo, {"src/mypkg/__init__.py": code.format(n=60000)})
    # what `pip install -e .` leaves in the tree's virtualenv, made offline: a .pth to its src/
    prepare = ("python -c \"import os, sysconfig; "
               "open(os.path.join(sysconfig.get_paths()['purelib'], 'mypkg.pth'), 'w').write(os.path.abspath('src'))\"")
    status, out, err = run_ab(repo, "HEAD~1", "HEAD", "--prepare", prepare, *FAST)
    assert status == 1, out + err
    assert "energy regression: tests/test_pkg.py::test_pkg" in out


def test_failing_prepare_is_one_line_and_removes_the_trees(tmp_path: Path, run_ab) -> None:
    repo = make_repo(tmp_path / "repo", {"tests/test_work.py": WORK.format(n=100)})
    status, out, err = run_ab(repo, "HEAD", "--prepare", "echo building; echo 'no compiler' >&2; exit 3")
    assert status == 2
    error = [line for line in err.splitlines() if "error" in line]
    assert error == ["pytest-energy ab: error: --prepare failed for base (HEAD "
                     f"{git(repo, 'rev-parse', 'HEAD')[:10]}): \"echo building; echo 'no compiler' >&2; exit 3\" "
                     "exited with 3: no compiler"]
    assert worktrees(repo) == [f"worktree {repo}"]


def test_code_imported_from_the_checkout_is_refused(tmp_path: Path, run_ab, monkeypatch) -> None:
    files = {"src/mypkg/__init__.py": "def work():\n    return 1\n",
             "tests/test_pkg.py": "import mypkg\n\ndef test_pkg():\n    assert mypkg.work() == 1\n"}
    repo = make_repo(tmp_path / "repo", files)
    monkeypatch.setenv("PYTHONPATH", str(repo / "src"))  # as an editable install of the checkout would
    status, out, err = run_ab(repo, "HEAD", *FAST)
    assert status == 2
    assert f"tests import code from your checkout, not from their own tree ({repo / 'src' / 'mypkg'}" in err
    assert "--prepare 'pip install -e .'" in err
    assert worktrees(repo) == [f"worktree {repo}"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-branch"], "error: unknown revision 'no-such-branch': give a branch, tag or commit"),
        (["HEAD", "--", "-n", "2"], "pytest for base stopped with exit status 4"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, run_ab, args: list[str], message: str) -> None:
    pytest.importorskip("xdist")
    repo = make_repo(tmp_path / "repo", {"tests/test_work.py": WORK.format(n=100)})
    status, out, err = run_ab(repo, *args)
    assert status == 2
    lines = [line for line in err.splitlines() if line.startswith("pytest-energy ab: error")]
    assert len(lines) == 1 and message in lines[0], err


def test_outside_a_git_repository(tmp_path: Path, run_ab) -> None:
    (tmp_path / "plain").mkdir()
    status, _, err = run_ab(tmp_path / "plain", "HEAD")
    assert status == 2
    assert err.strip() == (f"pytest-energy ab: error: {tmp_path / 'plain'} is not in a git repository; "
                           "run pytest-energy ab inside your project's checkout")


def test_ctrl_c_stops_both_runs_and_removes_the_trees(tmp_path: Path) -> None:
    slow = (
        "import os, time\n\n"
        "def test_slow():\n"
        f"    with open({str(tmp_path / 'pids')!r}, 'a') as f:\n"
        "        f.write(f'{os.getpid()}\\n')\n"
        "    time.sleep(0.05)\n"
    )
    repo = make_repo(tmp_path / "repo", {"tests/test_slow.py": slow})
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen(
        # a limit of 0.0001%: no test is clear early, so the run lasts until it is interrupted
        [sys.executable, "-m", "pytest_energy", "ab", "HEAD", "--max-regression=0.0001", "--", "-q",
         "--energy-rounds=1000"],
        cwd=repo, env={**os.environ, "TMPDIR": str(scratch)}, stderr=subprocess.PIPE, text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "base and head in turns" in line:
            break
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    assert "interrupted: stopping both runs and removing the trees" in process.stderr.read()
    pids = {int(p) for p in (tmp_path / "pids").read_text().split()}
    assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert list(scratch.iterdir()) == []
    assert worktrees(repo) == [f"worktree {repo}"]


# -- the turn rules, without processes -------------------------------------------------------

def _collected(turns: Turns, base: list[str], head: list[str]) -> None:
    for side, tests in (("base", base), ("head", head)):
        turns.receive(side, HELLO)
        assert turns.next() == side
        turns.receive(side, COLLECTED, tests=tests)


def test_turns_alternate_within_a_shared_test_and_one_side_finishes_alone() -> None:
    turns = Turns()
    _collected(turns, ["a", "b"], ["a", "b", "c"])
    assert turns.shared == ["a", "b"]
    assert turns.next() == "base"
    turns.receive("base", ARRIVE, "a")
    assert turns.next() == "head"
    turns.receive("head", ARRIVE, "a")
    ran = []
    for _ in range(4):
        side = turns.next()
        ran.append(side)
        turns.receive(side, PASS, "a")
    assert ran == ["base", "head", "base", "head"]
    assert turns.next() == "base"
    turns.receive("base", ARRIVE, "b")  # base's rounds of a are done; head finishes a alone
    assert turns.next() == "head"
    turns.receive("head", PASS, "a")
    assert turns.next() == "head"
    turns.receive("head", ARRIVE, "b")
    assert turns.next() == "base"  # both at b: base first
    turns.receive("base", END)
    assert turns.next() == "head"
    turns.receive("head", END)
    assert turns.done and turns.next() is None


def test_turns_refuse_shared_tests_in_different_orders() -> None:
    turns = Turns()
    turns.receive("base", COLLECTED, tests=["a", "b"])
    with pytest.raises(TurnsError, match="different orders"):
        turns.receive("head", COLLECTED, tests=["b", "a"])


def test_a_failing_test_is_never_hidden(tmp_path: Path, run_ab) -> None:
    repo = make_repo(tmp_path / "repo", {"tests/test_work.py": WORK.format(n=2000)})
    commit(repo, {"tests/test_work.py": WORK.format(n=2000).replace("assert work(N) > 0", "assert work(N) < 0")})
    out = tmp_path / "ab.json"
    status, stdout, stderr = run_ab(repo, "HEAD~1", "HEAD", "--json", str(out), "--markdown",
                                    str(tmp_path / "pr.md"), *FAST)
    assert status == 3, stdout + stderr  # its own status: not an energy regression (1)
    assert "test failed on head: tests/test_work.py::test_loop: assert 2664667000 < 0" in stdout
    assert "energy ab FAILED: " in stdout and ", 1 test failures (" in stdout
    document = json.loads(out.read_text())
    assert document["failures"] == [{"nodeid": "tests/test_work.py::test_loop", "side": "head",
                                     "outcome": "failed", "message": "assert 2664667000 < 0"}]
    logs = {side: (tmp_path / f"ab.{side}.log").read_text() for side in ("base", "head")}  # kept
    assert "2 passed" in logs["base"] and "1 failed, 1 passed" in logs["head"]
    assert "### :x: Tests that failed" in (tmp_path / "pr.md").read_text()


# -- edges: links, subdirectories, signals while preparing, killed runs ---------------------

def test_the_working_tree_copy_keeps_symlinks_to_directories(tmp_path: Path) -> None:
    from pytest_energy.ab.workspace import Workspace

    repo = make_repo(tmp_path / "repo", {"data/table.txt": "1 2 3\n", "tests/test_a.py": "def test_a(): pass\n"})
    os.symlink("data", repo / "linked")  # tracked: git stores the link itself
    os.symlink("../data/table.txt", repo / "tests" / "table.txt")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "links")
    (repo / "untracked-link").symlink_to("data")
    workspace = Workspace(str(repo))
    try:
        head = Path(workspace.copy_working_tree("head"))
        for name, target in (("linked", "data"), ("untracked-link", "data"), ("tests/table.txt", "../data/table.txt")):
            assert (head / name).is_symlink() and os.readlink(head / name) == target, name
        assert (head / "linked" / "table.txt").read_text() == "1 2 3\n"
    finally:
        workspace.close()
    assert not Path(workspace.root).exists()


def test_started_from_a_subdirectory_the_base_lacks_is_one_line(tmp_path: Path, run_ab) -> None:
    repo = make_repo(tmp_path / "repo", {"tests/test_work.py": WORK.format(n=100)})
    commit(repo, {"sub/tests/test_sub.py": "def test_sub(): pass\n"})
    status, out, err = run_ab(repo / "sub", "HEAD~1", "HEAD")
    assert status == 2
    lines = [line for line in err.splitlines() if "error" in line]
    assert lines == [f"pytest-energy ab: error: ab was started in sub, which base (HEAD~1 "
                     f"{git(repo, 'rev-parse', 'HEAD~1')[:10]}) does not have; start it from the repository's "
                     "top or a directory both sides have"], err
    assert worktrees(repo) == [f"worktree {repo}"]


def _processes_mentioning(text: str) -> list[int]:
    """Pids of the processes whose command line mentions ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if entry.isdigit() and text.encode() in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _wait_for(condition, seconds: float = 120.0) -> None:
    """Poll ``condition`` until it holds; fail (not hang) past ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("waited too long")
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_virtualenv_is_made_leaves_no_directory_and_no_pip(tmp_path: Path, signum) -> None:
    if not os.path.isdir("/proc"):
        pytest.skip("reads /proc")
    repo = make_repo(tmp_path / "repo", {"tests/test_a.py": "def test_a(): pass\n"})
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_energy", "ab", "HEAD", "--prepare", "true", "--", "-q"],
        cwd=repo, env={**os.environ, "TMPDIR": str(scratch)}, stderr=subprocess.PIPE, text=True,
    )
    try:
        # ensurepip's pip: a grandchild, run with the wheel ensurepip copied to a temporary directory
        _wait_for(lambda: any(pip in _processes_mentioning(str(scratch)) for pip in _processes_mentioning("run_module")))
        process.send_signal(signum)  # to ab alone, as `kill` or a CI runner's cancel would
        assert process.wait(timeout=60) == 130
    finally:
        if process.poll() is None:
            process.kill()
    assert process.stderr is not None and "interrupted" in process.stderr.read()
    _wait_for(lambda: not _processes_mentioning(str(scratch)), seconds=30)  # no orphaned pip
    assert list(scratch.iterdir()) == []
    assert worktrees(repo) == [f"worktree {repo}"]


def test_the_trees_of_a_killed_run_are_removed_by_the_next(tmp_path: Path, run_ab) -> None:
    slow = ("import os, time\n\ndef test_slow():\n"
            f"    open({str(tmp_path / 'pids')!r}, 'a').write(f'{{os.getpid()}}\\n')\n    time.sleep(0.05)\n")
    repo = make_repo(tmp_path / "repo", {"tests/test_slow.py": slow})
    long = tmp_path / ("t" * 60) / ("m" * 60)  # its turns socket goes to a directory of its own
    long.mkdir(parents=True)
    process = subprocess.Popen(
        # a limit of 0.0001%: no test is clear early, so the run lasts until it is interrupted
        [sys.executable, "-m", "pytest_energy", "ab", "HEAD", "--max-regression=0.0001", "--", "-q",
         "--energy-rounds=1000"],
        cwd=repo, env={**os.environ, "TMPDIR": str(long)}, stderr=subprocess.DEVNULL,
    )
    pids = tmp_path / "pids"
    _wait_for(lambda: pids.exists() and len(set(pids.read_text().split())) == 2)  # both sides run
    process.kill()  # no cleanup possible
    process.wait()
    orphans = {int(p) for p in pids.read_text().split()}
    try:
        assert len(worktrees(repo)) == 2  # base's worktree, left registered (head is a copy)
        [stale] = [line for line in worktrees(repo) if line != f"worktree {repo}"]
        socket_dir = Path((Path(stale[len("worktree "):]).parent / "socket-dir").read_text())
        assert socket_dir.parent == Path("/tmp") and socket_dir.is_dir()
        status, out, err = run_ab(repo, "HEAD", *FAST)
    finally:
        for pid in orphans:  # the killed run's pytest processes, if still there
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert status == 0, out + err
    assert "a tree an earlier run left behind when it was killed" in err
    assert worktrees(repo) == [f"worktree {repo}"]
    assert not socket_dir.exists() and list(long.iterdir()) == []


def test_a_step_summary_that_cannot_be_written_stops_ab_before_it_measures(tmp_path: Path, run_ab,
                                                                           monkeypatch) -> None:
    repo = make_repo(tmp_path / "repo", {"tests/test_work.py": WORK.format(n=100)})
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a directory
    status, out, err = run_ab(repo, "HEAD")
    assert status == 2 and out == ""
    assert err.strip() == (f"pytest-energy ab: error: $GITHUB_STEP_SUMMARY={tmp_path}: is a directory; "
                           "pick a path that can be written")


#: The same joules per call on both sides (the fake counter), head's calls ten times longer.
TIMED_WORK = '''
import time

import pynvml


def test_loop():
    pynvml.consume(1)
    time.sleep({seconds})
'''


def test_judge_sci_sees_the_embodied_carbon_of_a_longer_call(tmp_path: Path, run_ab, capsys) -> None:
    """SCI per call = (E + idle x time) x I x PUE + M(time): head's calls take 10x the time
    for the same joules, so its SCI grows (the embodied part follows time) while the joules
    do not; the same rounds give both."""
    fake_nvml = (Path(__file__).parent / "fake_pynvml.py").read_text()
    repo = make_repo(tmp_path / "repo", {"tests/test_work.py": TIMED_WORK.format(seconds=0.002),
                                         "tests/conftest.py": EXACT_CONFTEST, "tests/pynvml.py": fake_nvml})
    commit(repo, {"tests/test_work.py": TIMED_WORK.format(seconds=0.02)})
    status, out, err = run_ab(repo, "HEAD~1", "HEAD", "--judge", "sci", "--json", str(tmp_path / "ab.json"),
                              *FAST, "--energy-meter=nvml", "--energy-min-time=0.000001", "--energy-rounds=8")
    assert status == 1, out + err
    assert "head SCI g/call" in out and "SCI gCO2e per call" in out
    assert "energy regression: tests/test_work.py::test_loop (SCI, gCO2e): " in out
    assert "energy ab FAILED (judged on SCI)" in out
    document = json.loads((tmp_path / "ab.json").read_text())
    loop = next(c for c in document["comparisons"] if c["nodeid"] == "tests/test_work.py::test_loop")
    assert loop["verdict"] == "regression" and loop["quantity"] == "sci" and loop["change"] > 3
    assert document["settings"]["judge"] == "sci"
    assert main(["report", "--ab", str(tmp_path / "ab.json"), "-o", str(tmp_path / "ab.html")]) == 0
    page = (tmp_path / "ab.html").read_text()
    assert "head SCI g/call" in page and "head J/call" not in page  # the figures are grams, labelled so
    test = next(t for t in document["tests"] if t["nodeid"] == "tests/test_work.py::test_loop")
    assert test["base"]["samples"]["joules"] == test["head"]["samples"]["joules"]  # the joules: unchanged
    assert len(test["head"]["samples"]["joules"]) == 8  # judging SCI, no early stop on the joules
    with pytest.raises(SystemExit) as stopped:
        run_ab(repo, "HEAD~1", "--judge", "co2")
    assert stopped.value.code == 2
    assert "--judge: invalid choice: 'co2' (choose from 'joules', 'sci')" in capsys.readouterr().err
