"""Tables inside documents as ``DocumentTable``: header cells, rows of cells, where the table stands
and how many rows were ragged.

Markdown tables come from the CommonMark parser (markdown_doc); raw HTML ``<table>`` elements in
an HTML block are read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from parsel import Selector

from .records import without_surrogates

_TABLE_TAG_RE: Final = re.compile(r"<(/?)table\b", re.IGNORECASE)
# Tables nested deeper than this are page layout, not data; parsing them costs time that grows
# with the square of the depth (every row's cells hold every deeper table's text).
MAX_TABLE_NESTING: Final = 3


@dataclass
class DocumentTable:
    header: list[str]
    rows: list[list[str]]
    start: int
    end: int
    kind: str  # "markdown" or "html"
    ragged_rows: list[int] = field(default_factory=list)  # 1-based numbers of rows with too few or many cells


# A link's text holds no "[" and a tag no "<": a run of thousands of "[" or "<" fails at once at
# each, instead of scanning to the end of the cell from each.
_LINK_RE: Final = re.compile(r"\[([^\]\[]*)\]\([^)]*\)")
_EMPHASIS_RE: Final = re.compile(r"[*_`]{1,3}")
_TAG_RE: Final = re.compile(r"<[^<>]+>")
_MARKUP_CHARS: Final = frozenset("[*_`<")


def clean_cell(text: str) -> str:
    """Cell text without Markdown emphasis, links' targets, footnote marks or extra spaces."""
    if not _MARKUP_CHARS.isdisjoint(text):
        text = _TAG_RE.sub(" ", _EMPHASIS_RE.sub("", _LINK_RE.sub(r"\1", text)))
    return " ".join(text.split())


def html_tables(text: str) -> list[DocumentTable]:
    """``<table>`` elements; the first row is the header (th cells, or td cells in <strong>)."""
    tables = []
    for start, end in _outer_table_spans(text):
        selector = Selector(text=without_surrogates(text[start:end]))
        rows = []
        for row in selector.css("tr"):
            cells = [clean_cell(" ".join(cell.css("::text").getall())) for cell in row.css("th, td")]
            if any(cells):
                rows.append(cells)
        if len(rows) < 2:
            continue
        header, body = rows[0], rows[1:]
        table = DocumentTable(header=header, rows=[], start=start, end=end, kind="html")
        for number, cells in enumerate(body, start=1):
            if len(cells) == len(header):
                table.rows.append(cells)
            else:
                table.ragged_rows.append(number)
        tables.append(table)
    return tables


def _outer_table_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each outermost ``<table>`` element, from one pass over its tags. One never
    closed runs to the end of the text, as a browser renders it; one nesting tables deeper than
    MAX_TABLE_NESTING is passed over."""
    spans, depth, deepest, start = [], 0, 0, 0
    for tag in _TABLE_TAG_RE.finditer(text):
        if not tag[1]:
            if depth == 0:
                start, deepest = tag.start(), 0
            depth += 1
            deepest = max(deepest, depth)
        elif depth:
            depth -= 1
            if depth == 0:
                tag_end = text.find(">", tag.end())
                spans.append((start, len(text) if tag_end < 0 else tag_end + 1, deepest))
    if depth:
        spans.append((start, len(text), deepest))
    return [(start, end) for start, end, deepest in spans if deepest <= MAX_TABLE_NESTING]
