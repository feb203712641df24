"""Tables inside documents: Markdown pipe tables and raw HTML ``<table>`` elements.

Both come out as ``DocumentTable``: header cells, rows of cells, where the table stands in the
text (so callers can read the prose around it) and how many rows were ragged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from parsel import Selector

_SEPARATOR_CELL_RE = re.compile(r"^\s*:?-{3,}:?\s*$")
_HTML_TABLE_RE = re.compile(r"<table\b.*?</table\s*>", re.IGNORECASE | re.DOTALL)


@dataclass
class DocumentTable:
    header: list[str]
    rows: list[list[str]]
    start: int
    end: int
    kind: str  # "markdown" or "html"
    ragged_rows: list[int] = field(default_factory=list)  # 1-based data row numbers skipped


def _split_pipe_row(line: str) -> list[str]:
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    if "\\|" in text:
        return [clean_cell(cell.replace("\\|", "|")) for cell in _UNESCAPED_PIPE_RE.split(text)]
    return [clean_cell(cell) for cell in text.split("|")]


_UNESCAPED_PIPE_RE = re.compile(r"(?<!\\)\|")
_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_EMPHASIS_RE = re.compile(r"[*_`]{1,3}")
_TAG_RE = re.compile(r"<[^>]+>")
_MARKUP_CHARS = frozenset("[*_`<")
# A separator row starts like "|---", "| :--" or "---|".
_SEPARATOR_START_RE = re.compile(r"^\s*\|?\s*:?-{3,}")


def clean_cell(text: str) -> str:
    """Cell text without Markdown emphasis, links' targets, footnote marks or extra spaces."""
    if not _MARKUP_CHARS.isdisjoint(text):
        text = _TAG_RE.sub(" ", _EMPHASIS_RE.sub("", _LINK_RE.sub(r"\1", text)))
    return " ".join(text.split())


def markdown_tables(text: str) -> list[DocumentTable]:
    """Pipe tables: a header row, a |---| separator row, then rows until a line without a pipe."""
    tables = []
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    index = 0
    while index < len(lines) - 1:
        header_line, separator_line = lines[index], lines[index + 1]
        separator = (_split_pipe_row(separator_line)
                     if "|" in separator_line and _SEPARATOR_START_RE.match(separator_line) else [])
        if "|" not in header_line or not separator or not all(
            _SEPARATOR_CELL_RE.match(cell or "---") for cell in separator
        ) or not any(cell for cell in separator_line.split("|") if "-" in cell):
            index += 1
            continue
        header = _split_pipe_row(header_line)
        table = DocumentTable(header=header, rows=[], start=offsets[index], end=0, kind="markdown")
        row_index = index + 2
        while row_index < len(lines) and "|" in lines[row_index] and lines[row_index].strip():
            cells = _split_pipe_row(lines[row_index])
            if len(cells) == len(header):
                table.rows.append(cells)
            else:
                table.ragged_rows.append(len(table.rows) + len(table.ragged_rows) + 1)
            row_index += 1
        table.end = offsets[row_index]
        tables.append(table)
        index = row_index
    return tables


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


def document_tables(text: str) -> list[DocumentTable]:
    """Markdown and HTML tables of a document, in the order they stand."""
    return sorted(markdown_tables(text) + html_tables(text), key=lambda table: table.start)


def without_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with the given spans blanked to newlines (positions of the rest are kept)."""
    pieces, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        pieces.append(text[last:start])
        pieces.append("\n" * text.count("\n", start, end) or "\n")
        last = end
    pieces.append(text[last:])
    return "".join(pieces)
