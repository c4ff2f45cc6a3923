"""End-to-end: regions measured in processes started under callgrind by the launcher."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from simulator_helpers import HERE, needs_valgrind, run_regions

from pytest_energy.measurement.simulator.counts import Simulator
from pytest_energy.measurement.simulator.launch import run
from pytest_energy.measurement.simulator.model import DEFAULT_MODEL
from pytest_energy.measurement.simulator.shim import SimulatorUnavailable

pytestmark = needs_valgrind

N = 20_000


def test_instruction_count_scales_linearly(tmp_path: Path) -> None:
    res = run_regions(tmp_path, f"loop:{N}", f"loop:{2 * N}")
    small, big = res[f"loop:{N}"]["counts"], res[f"loop:{2 * N}"]["counts"]
    assert small.ir > 1_000_000
    assert big.ir / small.ir == pytest.approx(2.0, rel=0.01)
    assert big.dr / small.dr == pytest.approx(2.0, rel=0.01)


def test_same_region_in_fresh_processes_is_deterministic(tmp_path: Path) -> None:
    # Same out_dir for all runs: the environment (and so the stack layout) must not differ.
    regions = (f"loop:{N}", "dict_set:2000")
    runs = [run_regions(tmp_path, *regions) for _ in range(3)]
    for region in regions:
        ref = runs[0][region]["counts"]
        for other in runs[1:]:
            got = other[region]["counts"]
            for field in ("ir", "dr", "dw", "i1mr", "d1mr", "d1mw", "ilmr", "dlmr", "dlmw"):
                a, b = getattr(ref, field), getattr(got, field)
                assert abs(a - b) <= 1e-5 * max(a, 1), (
                    region,
                    field,
                    [(r[region]["pid"], getattr(r[region]["counts"], field)) for r in runs],
                )
            assert DEFAULT_MODEL.joules(got) == pytest.approx(DEFAULT_MODEL.joules(ref), rel=1e-5)


def test_raising_and_threaded_regions_still_count(tmp_path: Path) -> None:
    res = run_regions(tmp_path, f"loop:{N}", f"raises:{N}", f"threaded:{N}")
    plain = res[f"loop:{N}"]["counts"]
    raised = res[f"raises:{N}"]
    assert raised["error"] == "ValueError"
    assert raised["counts"].ir >= plain.ir  # the loop ran before the raise
    threaded = res[f"threaded:{N}"]["counts"]
    # The other thread's loop is counted (callgrind sums threads), plus thread start-up.
    assert threaded.ir >= plain.ir
    assert threaded.sys_count > 0  # clone/futex calls are visible as system calls


def test_foreign_dump_inside_region_falls_back_to_full_read(tmp_path: Path) -> None:
    res = run_regions(tmp_path, f"loop:{N}", f"foreign_dump:{N}", f"loop:{N}")
    # A dump resets callgrind's counters: our part holds only the second loop.
    second = res[f"foreign_dump:{N}"]["counts"]
    assert second.ir == pytest.approx(res[f"loop:{N}"]["counts"].ir, rel=0.05)


def test_branch_sim_adds_branch_counts(tmp_path: Path) -> None:
    res = run_regions(tmp_path, f"loop:{N}", branch_sim=True)
    counts = res[f"loop:{N}"]["counts"]
    assert counts.bc > 0 and counts.bi > 0


def test_reexec_replaces_process_and_keeps_exit_code(tmp_path: Path) -> None:
    """The os.execvpe path the plugin would use: same stdio, exit code passed through."""
    script = tmp_path / "prog.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(HERE.parent)!r})\n"
        "from pytest_energy.measurement.simulator.launch import is_simulated_child, reexec\n"
        "from pytest_energy.measurement.simulator.counts import Simulator\n"
        "if not is_simulated_child():\n"
        f"    reexec({str(tmp_path / 'out')!r})\n"
        "sim = Simulator.from_env()\n"
        "sim.begin(); sum(range(1000)); c = sim.end('r')\n"
        "print('IR', c.ir)\n"
        "sys.exit(3)\n"
    )
    import subprocess

    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.startswith("IR ") and int(proc.stdout.split()[1]) > 0


def test_grandchild_not_under_valgrind_is_refused(tmp_path: Path) -> None:
    """--trace-children=no: a subprocess inherits the marker but runs natively."""
    code = (
        "import subprocess, sys\n"
        "probe = 'from pytest_energy.measurement.simulator.counts import Simulator; Simulator.from_env()'\n"
        "r = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True)\n"
        "print(r.returncode, r.stderr.strip().splitlines()[-1])\n"
    )
    proc = run(
        [sys.executable, "-c", code],
        tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(HERE.parent), "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout.startswith("1 "), proc.stderr
    assert "not running under valgrind" in proc.stdout


def test_simulator_refuses_outside_valgrind(tmp_path: Path) -> None:
    with pytest.raises(SimulatorUnavailable, match="not running under valgrind"):
        Simulator(tmp_path)
