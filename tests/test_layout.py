"""The layout's promises: no import cycle, pytest only in plugin/, nothing loaded when off."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_energy

PACKAGE = Path(pytest_energy.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """Package modules ``name`` imports, at any depth of its code (lazy imports too)."""
    modules = _modules()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            elif node.module and node.module.startswith("pytest_energy"):
                base = node.module
            else:
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("pytest_energy")}
    return {m for m in found if m in modules and m != name}


def test_no_import_cycle():
    graph = {name: _imports(name, path) for name, path in _modules().items()}
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(name):], name]))
        if name in done:
            return
        for dependency in sorted(graph[name]):
            visit(dependency, [*stack, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_only_the_plugin_package_imports_pytest():
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        imports = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imports |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                    and not n.level}
        if "pytest" in imports or "_pytest" in imports:
            assert name.startswith("pytest_energy.plugin"), name


def test_every_subpackage_says_what_it_owns():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 40, init


def test_no_module_is_over_about_400_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert max(sizes.values()) <= 420, max(sizes.items(), key=lambda kv: kv[1])


def test_installed_but_off_imports_only_the_entry_point(tmp_path):
    """Without --energy a pytest run loads the options, markers and fixtures, nothing else."""
    (tmp_path / "test_a.py").write_text("def test_a(): pass\n")
    probe = (
        "import sys, pytest\n"
        "assert pytest.main(['-q', '-p', 'no:cacheprovider', 'test_a.py']) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('pytest_energy')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    loaded = set(ast.literal_eval(done.stdout.strip().splitlines()[-1]))
    assert "pytest_energy.plugin" in loaded
    assert loaded <= {
        "pytest_energy", "pytest_energy.errors", "pytest_energy.settings", "pytest_energy.markers",
        "pytest_energy.plugin", "pytest_energy.timing",  # the clocks, captured before tests run
        "pytest_energy.plugin.keys", "pytest_energy.measurement", "pytest_energy.measurement.carbon",
        "pytest_energy.measurement.codecarbon_data", "pytest_energy.measurement.meters",
        "pytest_energy.measurement.sci",  # validates the SCI options; reads no data file unless given
    }, loaded
