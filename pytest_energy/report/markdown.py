"""Markdown for GitHub that a pull request cannot escape from, in a comment that fits.

Every text a pull request controls (test ids, file names, failure messages, meter names,
revisions, notes) is written as an inline code span: GitHub renders a code span
literally, so no markdown, HTML, image, link, autolink, emoji or ``@mention`` inside one
does anything. :func:`code` makes the span unbreakable: control characters (newlines
first) are shown as escapes, the span's fence is longer than any run of backticks inside,
and in a table cell every ``|`` is escaped (GFM splits cells before it parses spans).
Fenced blocks get a fence longer than any run of backticks in them.

:class:`Capped` keeps a summary under GitHub's 65,536-character limit for a comment: the
sections come most important first, each table keeps the rows that fit, and a last line
says how many rows were left out and where the full tables are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..units import si

#: GitHub refuses a comment body over 65,536 characters; summaries stay below this,
#: leaving room for the comment workflow's marker and a job summary's other text.
COMMENT_LIMIT = 60_000
#: One text in a cell or a line shows at most this many characters (cut in the middle).
MAX_TEXT = 300
#: Control characters, and the invisible ones that reorder or hide text (bidi overrides).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TICKS = re.compile(r"`+")


def one_line(text: str) -> str:
    """``text`` with control and invisible characters (newlines, tabs, bidi overrides)
    shown as ``\\n``, ``\\x1b``, ``\\u202e`` and the like: one line, nothing hidden."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), _escape(ord(m.group()))), text)


def _escape(point: int) -> str:
    return f"\\x{point:02x}" if point <= 0xFF else f"\\u{point:04x}"


def shorten(text: str, limit: int) -> str:
    """``text`` cut in the middle with ``...`` to at most ``limit`` characters."""
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return text[:head] + "..." + text[len(text) - (limit - 3 - head):]


def code(text: object, cell: bool = True, limit: int = MAX_TEXT) -> str:
    """``text`` as one inline code span that nothing in it can end or escape: on one line,
    cut in the middle past ``limit`` characters; with ``cell``, fit for a table cell."""
    body = shorten(one_line(str(text)), limit)
    fence = "`" * (max(map(len, _TICKS.findall(body)), default=0) + 1)
    if not body.strip(" ") or body[0] in "` " or body[-1] in "` ":
        body = f" {body} "  # CommonMark strips one space each side: a leading ` stays text
    if cell:
        body = body.replace("|", "\\|")
    return f"{fence}{body}{fence}"


def fenced(text: str, info: str = "") -> list[str]:
    """``text`` as a fenced code block whose fence no line of ``text`` can close."""
    longest = max(map(len, _TICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *text.splitlines(), fence]


def _size(line: str) -> int:
    """Characters as GitHub counts them (UTF-16 code units), with the newline."""
    return len(line.encode("utf-16-le")) // 2 + 1


class Capped:
    """Markdown lines that stop at ``limit`` characters, most important section first.

    :meth:`add` always adds (headings, short fixed lines); :meth:`rows` adds a section's
    opening lines, then rows while they fit, then its closing lines (kept so that a
    ``<details>`` or a fence is always closed), counting rows left out. :meth:`text` ends
    with one line saying how many rows were left out and where the rest is."""

    #: Kept free for closing lines and the last line.
    RESERVE = 1_000

    def __init__(self, limit: int = COMMENT_LIMIT) -> None:
        self.limit = limit
        self.lines: list[str] = []
        self.size = 0
        self.left_out = 0

    def add(self, *lines: str) -> None:
        """Lines that are always shown."""
        self.lines += lines
        self.size += sum(map(_size, lines))

    def _fits(self, lines: Iterable[str], extra: int = 0) -> bool:
        return self.size + sum(map(_size, lines)) + extra <= self.limit - self.RESERVE

    def rows(self, opening: list[str], rows: list[str], closing: list[str]) -> None:
        """A table or block: ``opening``, the ``rows`` that fit, ``closing``; nothing of it
        when not even its first row fits."""
        if not rows:
            return
        closing_size = sum(map(_size, closing))
        if not self._fits([*opening, rows[0]], closing_size):
            self.left_out += len(rows)
            return
        self.add(*opening)
        for index, row in enumerate(rows):
            if not self._fits([row], closing_size):
                self.left_out += len(rows) - index
                break
            self.add(row)
        self.add(*closing)

    def text(self, where: str) -> str:
        """The summary; past the limit, a last line: how many rows are left out, and ``where``
        the full tables are."""
        lines = list(self.lines)
        if self.left_out:
            lines += ["", f"*{self.left_out} more rows left out to stay under GitHub's 65,536-character "
                          f"limit for a comment: {where}.*", ""]
        return "\n".join(lines)


def sci_markdown(sci: dict[str, Any]) -> str:
    """The session's Software Carbon Intensity in one paragraph, as the terminal says it: O,
    M, SCI (in all and per call), whether modelled, and the sources of intensity, PUE and
    embodied carbon (``sci``: :meth:`pytest_energy.runs.RunRecord.sci`'s form)."""
    terms, tests = sci.get("terms") or {}, max(int(sci.get("tests") or 0), 1)

    def source(name: str, unit: str) -> str:
        term = terms.get(name) or {}
        value = term.get("value")
        shown = f"{value:.3g}{unit}" if isinstance(value, (int, float)) else "?"
        return f"{shown} ({code(term.get('source') or 'not given', cell=False)})"

    meter = code(sci.get("meter", ""), cell=False)
    modelled = f", modelled: E comes from the {meter} meter" if sci.get("modelled") else f" ({meter})"
    return (
        f"**SCI** (ISO/IEC 21031:2024, R = one call of the test): {si(sci['sci_g'], 'g')}CO2e for "
        f"{sci.get('functional_unit', '')} ({tests}) = operational {si(sci['operational_g'], 'g')} + "
        f"embodied {si(sci['embodied_g'], 'g')}; {si(sci['sci_g'] / tests, 'g')}CO2e per call on average"
        f"{modelled}. "
        f"Sources: intensity {source('intensity_g_per_kwh', ' gCO2e/kWh')}, PUE {source('pue', '')}, "
        f"embodied {source('embodied_kg', ' kgCO2e')} over {source('lifespan_years', ' years')} x share "
        f"{source('share', '')}."
    )
