"""Tables inside documents as ``DocumentTable``: header cells, rows of cells, where the table stands
and how many rows were ragged.

Markdown tables come from the CommonMark parser (markdown_doc); raw HTML ``<table>`` elements in
an HTML block are read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from parsel import Selector

_HTML_TABLE_RE = re.compile(r"<table\b.*?</table\s*>", re.IGNORECASE | re.DOTALL)


@dataclass
class DocumentTable:
    header: list[str]
    rows: list[list[str]]
    start: int
    end: int
    kind: str  # "markdown" or "html"
    ragged_rows: list[int] = field(default_factory=list)  # 1-based numbers of rows with too few or many cells


_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_EMPHASIS_RE = re.compile(r"[*_`]{1,3}")
_TAG_RE = re.compile(r"<[^>]+>")
_MARKUP_CHARS = frozenset("[*_`<")


def clean_cell(text: str) -> str:
    """Cell text without Markdown emphasis, links' targets, footnote marks or extra spaces."""
    if not _MARKUP_CHARS.isdisjoint(text):
        text = _TAG_RE.sub(" ", _EMPHASIS_RE.sub("", _LINK_RE.sub(r"\1", text)))
    return " ".join(text.split())


def html_tables(text: str) -> list[DocumentTable]:
    """``<table>`` elements; the first row is the header (th cells, or td cells in <strong>)."""
    tables = []
    for found in _HTML_TABLE_RE.finditer(text):
        selector = Selector(text=found.group(0))
        rows = []
        for row in selector.css("tr"):
            cells = [clean_cell(" ".join(cell.css("::text").getall())) for cell in row.css("th, td")]
            if any(cells):
                rows.append(cells)
        if len(rows) < 2:
            continue
        header, body = rows[0], rows[1:]
        table = DocumentTable(header=header, rows=[], start=found.start(), end=found.end(), kind="html")
        for number, cells in enumerate(body, start=1):
            if len(cells) == len(header):
                table.rows.append(cells)
            else:
                table.ragged_rows.append(number)
        tables.append(table)
    return tables
