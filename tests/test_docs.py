"""The README and the docs site: a strict MkDocs build, every relative link resolving (on
GitHub and on the site), the README's commands as .ci/run and the install page run them,
and no install line that needs pytest-energy on the package index."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).parent.parent
README, DOCS, CI = ROOT / "README.md", ROOT / "docs", ROOT / ".ci" / "run"
PAGES = [README, *sorted(DOCS.glob("*.md"))]


def test_the_docs_site_builds_without_a_warning(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(site)], capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "WARNING" not in output, output
    assert (site / "index.html").is_file() and (site / "report.png").is_file()
    built = {path.parent.name for path in site.glob("*/index.html")}
    assert built == {page.stem for page in DOCS.glob("*.md")} - {"index"}  # every page, nav or not


def _github_slug(text: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _parse(path: Path) -> tuple[set[str], list[str]]:
    """(the anchors of the file's headings, the targets of its links and images)."""
    anchors: set[str] = set()
    targets: list[str] = []
    tokens = MarkdownIt("gfm-like").parse(path.read_text())  # tables too, as GitHub reads them
    for i, token in enumerate(tokens):
        if token.type != "inline":
            continue
        if i and tokens[i - 1].type == "heading_open":
            slug = _github_slug("".join(child.content for child in token.children or []))
            anchor, n = slug, 0
            while anchor in anchors:  # GitHub numbers repeated headings
                n += 1
                anchor = f"{slug}-{n}"
            anchors.add(anchor)
        for child in token.children or []:
            if child.type == "link_open":
                targets.append(str(child.attrs["href"]))
            elif child.type == "image":
                targets.append(str(child.attrs["src"]))
    return anchors, targets


def test_every_relative_link_in_the_readme_and_docs_resolves():
    assert len(_parse(README)[1]) > 20  # the parser sees the README's links
    broken = []
    for page in PAGES:
        _, targets = _parse(page)
        for target in targets:
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists() or ROOT.resolve() not in file.parents:
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file in the repository)")
            elif anchor and anchor not in _parse(file)[0]:
                broken.append(f"{page.relative_to(ROOT)}: {target} (no heading with that anchor)")
    assert not broken, "\n".join(broken)


def _bash_blocks(path: Path) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", path.read_text(), re.S)


def test_the_readme_opens_with_the_set_up_that_ci_and_the_install_page_run():
    readme, install = _bash_blocks(README), _bash_blocks(DOCS / "install.md")
    set_up, try_it = readme[0], readme[1]
    assert set_up in install and try_it in install  # the same commands, word for word
    commands = [line for line in set_up.splitlines() if line and not line.startswith("#")]
    assert commands[0] == "python3 -m venv .venv && . .venv/bin/activate"
    assert commands[1].startswith("python3 -m pip install -e . -r examples/requirements.txt && ")
    assert "python3 -m pytest --energy " in commands[1] and commands[1].endswith(" examples")
    install_tests, run_tests = commands[2].split(" && ")
    ci = [line.replace(" -q", "") for line in CI.read_text().splitlines()]
    assert [install_tests, run_tests] in [ci[i:i + 2] for i in range(len(ci))], "not what .ci/run runs"
    lines = [line.split("#")[0].strip() for line in try_it.splitlines()]
    assert lines == ["python3 -m venv .venv && . .venv/bin/activate",
                     "python3 -m pip install -e /path/to/pytest-energy -e .", "python3 -m pytest --energy"]


def test_no_install_line_needs_pytest_energy_on_the_package_index():
    """pytest-energy is not on PyPI: an install names a clone, a URL, or the library itself."""
    files = [*PAGES, *(ROOT / "examples").glob("*.yml"), *(ROOT / "pytest_energy").rglob("*.py")]
    index_install = re.compile(r"pip install\s+['\"]?pytest-energy(\[[\w,]*\])?(?!\[|\s*@)")
    found = [f"{path.relative_to(ROOT)}: {match.group(0)}" for path in files
             for match in index_install.finditer(path.read_text())]
    assert not found, found
    url_installs = [line for path in (ROOT / "examples").glob("*.yml") for line in path.read_text().splitlines()
                    if "pip install" in line and "pytest-energy" in line]
    assert len(url_installs) == 2 and all(
        '"pytest-energy @ git+https://github.com/OWNER/pytest-energy.git"' in line for line in url_installs)
