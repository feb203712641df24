"""Small helpers shared by the extractors that turn rows into measurement dicts."""

from __future__ import annotations

import math

from .units import parse_number

EXCERPT_LIMIT = 500


def number_or_none(value) -> float | None:
    """A cell as a float: None for blanks, 'N/A', NaN and anything non-numeric."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if math.isnan(value) else float(value)
    try:
        return parse_number(str(value))
    except ValueError:
        return None


def text_or_none(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def row_excerpt(row: dict, columns=None, prefix: str = "") -> str:
    """'col=value, ...' for the given columns (all when None), cut to the record's excerpt limit."""
    keys = columns if columns is not None else list(row)
    parts = [f"{key}={_cell(row.get(key))}" for key in keys if key in row]
    return truncate(prefix + ", ".join(parts))


def _cell(value) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def truncate(text: str, limit: int = EXCERPT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
