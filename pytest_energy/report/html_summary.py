"""The HTML report's summary box: what went wrong, first, each item linked to its row.

Regressions, failed or errored tests and budgets exceeded are counted and listed; new
tests (no history to compare with) are listed apart, folded. When nothing went wrong the
box says so in one line. Rows get stable ids (:func:`row_id`) made only of safe
characters, so a hostile test id can neither break the attribute nor collide.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ..judge.rules import Comparison, Verdict
from ..judge.suite import FILE_TOTAL
from ..runs import AbRecord, RunRecord
from ..units import percent
from .svg import esc
from .text import budget_text
from .totals import test_id, tests_word, total_row

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def row_id(table: str, nodeid: str) -> str:
    """``row-tests-test_a.py..test_x-1a2b3c4d``: the end of the id (its test name and
    parameters) in safe characters, and a digest of the whole id that tells ids apart."""
    slug = _UNSAFE.sub("-", nodeid)[-40:].strip("-.")
    digest = hashlib.sha256(nodeid.encode("utf-8", "backslashreplace")).hexdigest()[:8]
    return f"row-{table}-{slug}-{digest}" if slug else f"row-{table}-{digest}"


@dataclass(frozen=True)
class Item:
    """One listed test: its id, a short note, and the row it links to (None: no row)."""

    nodeid: str
    note: str = ""
    href: str | None = None

    def html(self) -> str:
        name = esc(self.nodeid)
        link = f'<a href="#{esc(self.href)}">{name}</a>' if self.href else name
        return f"<li>{link}{' ' + esc(self.note) if self.note else ''}</li>"


@dataclass
class Findings:
    regressions: list[Item]
    failures: list[Item]
    budgets: list[Item]
    new: list[Item]


def _judged(comparisons: list[Comparison], table: str, found: Findings) -> None:
    for c in comparisons:
        if c.verdict not in (Verdict.REGRESSION, Verdict.NEW):
            continue
        if table == "tests" and c.nodeid.endswith(FILE_TOTAL):
            href = row_id("files", c.nodeid[: -len(FILE_TOTAL)])
        else:
            href = row_id(table, c.nodeid)
        if c.verdict == Verdict.REGRESSION:
            found.regressions.append(Item(c.nodeid, percent(c.change), href))
        else:
            found.new.append(Item(c.nodeid, "", href))


def findings(run: RunRecord | None, ab: AbRecord | None) -> Findings:
    """Everything the summary box lists, from a run and an ab run (either may be None)."""
    found = Findings([], [], [], [])
    if run is not None:
        _judged(run.comparisons, "tests", found)
        rows: dict[str, str] = {}
        for t in run.tests:
            rows.setdefault(test_id(t), t.nodeid)
        for nodeid, (word, message) in sorted(run.outcomes.items()):
            if word in ("failed", "error"):
                row = rows.get(nodeid)
                found.failures.append(Item(nodeid, f"{word}: {message}" if message else word,
                                           row_id("tests", row) if row else None))
        for t in run.tests:
            if t.budget is not None and t.budget.status == "over":
                found.budgets.append(Item(t.nodeid, f"budget {budget_text(t)}", row_id("tests", t.nodeid)))
    if ab is not None:
        _judged(ab.comparisons, "ab", found)
        judged = {c.nodeid for c in ab.comparisons}
        for nodeid, side, word, message in ab.failures:
            if word in ("failed", "error"):
                found.failures.append(Item(nodeid, f"{word} on {side}" + (f": {message}" if message else ""),
                                           row_id("ab", nodeid) if nodeid in judged else None))
    return found


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _listed(title: str, items: list[Item], folded: bool = False) -> str:
    if not items:
        return ""
    body = "".join(item.html() for item in items)
    if folded:
        return f"<details><summary>{esc(title)}</summary><ul>{body}</ul></details>"
    return f"<h3>{esc(title)}</h3><ul>{body}</ul>"


def summary_section(run: RunRecord | None, ab: AbRecord | None) -> str:
    """The box at the top of the page."""
    found = findings(run, ab)
    judged = bool(ab is not None or (run is not None and run.comparisons))
    measured = f"{tests_word(total_row(run.tests))} measured" if run is not None else ""
    new = _count(len(found.new), "new test", "new tests") + " (no history)" if found.new else ""
    context = "; ".join(filter(None, [measured, new, "" if judged else "no baseline compared"]))
    counts = [(found.regressions, "regression", "regressions"),
              (found.failures, "failed or errored test", "failed or errored tests"),
              (found.budgets, "budget exceeded", "budgets exceeded")]
    new_list = _listed(new, found.new, folded=True)
    if not any(items for items, _, _ in counts):
        return (f'<section id="summary" class="summary ok"><p><b>Nothing wrong:</b> no regression, no failed '
                f"or errored test, no budget exceeded{f' ({esc(context)})' if context else ''}.</p>"
                f"{new_list}</section>")
    head = ", ".join(_count(len(items), one, many) for items, one, many in counts)
    lists = "".join(_listed(_count(len(items), one, many).capitalize(), items) for items, one, many in counts)
    return (f'<section id="summary" class="summary bad"><p><b>{esc(head)}</b>'
            f"{f'; {esc(context)}' if context else ''}.</p>{lists}{new_list}</section>")
