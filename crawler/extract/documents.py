"""Free-form Markdown documents (card bodies, issue comments) -> records from tables and prose."""

from __future__ import annotations

from dataclasses import dataclass, field

from .datafiles import Problem
from .power_tables import table_records
from .prose import prose_records, strip_code
from .tables import document_tables, without_spans


@dataclass
class DocumentExtraction:
    records: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def document_records(text: str, *, table_extractor: str, locator_prefix: str,
                     prose_text_filter=None) -> DocumentExtraction:
    """Power tables (Markdown or HTML) and prose figures of a document; code blocks are skipped.

    ``table_extractor`` is a prefix: the table kind is appended ("card_table" -> "card_table.html").
    ``prose_text_filter`` may remove parts already read by another rule before prose is read.
    """
    result = DocumentExtraction()
    text = strip_code(text)
    tables = document_tables(text)
    for index, table in enumerate(tables, start=1):
        extracted = table_records(table, text, extractor=f"{table_extractor}.{table.kind}",
                                  locator_prefix=f"{locator_prefix}table{index}")
        result.records += extracted.records
        result.problems += extracted.problems
    prose = without_spans(text, [(table.start, table.end) for table in tables])
    if prose_text_filter is not None:
        prose = prose_text_filter(prose)
    result.records += prose_records(prose, locator_prefix=f"{locator_prefix}prose")
    return result
