"""Small helpers shared by the extractors that turn rows into measurement dicts."""

from __future__ import annotations

import math
import re

from .units import parse_number

EXCERPT_LIMIT = 500


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """The text with each lone surrogate (a JSON "\\ud83d" escape with no pair) as U+FFFD: such a
    string cannot be encoded, so parsing or writing it would fail."""
    return _SURROGATE_RE.sub("\ufffd", text) if not text.isascii() else text


def number_or_none(value) -> float | None:
    """A cell as a float: None for blanks, 'N/A', NaN, infinities, numbers past what a float
    holds (a 400-digit integer) and anything non-numeric."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
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


class cached_attribute:
    """functools.cached_property without its lock: Python 3.11 takes an RLock on every first read,
    which costs more than most of the values read here (a block's text, a sentence's facts), and
    the extractors run on one thread. The value is stored on the instance, read from then on
    without calling this."""

    def __init__(self, compute):
        self.compute = compute
        self.__doc__ = getattr(compute, "__doc__", None)  # a method compiled by mypyc has none

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value
