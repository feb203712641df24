"""Figures with units, as people write them, converted to the record's canonical units.

Canonical units: watts, joules, J/token, J/query, seconds. This module recognises how a figure is
written ("~300 W", "350-400W", "3.5 Wh per 1k queries", "7,059,021 tokens/kWh"), says which
quantity it is and converts it with a table of factors that tests/test_units.py checks against
pint, for every unit and every way of writing a rate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

# Each unit the symbols below name: the quantity it measures and its factor to the canonical unit.
# A table, not pint at run time: importing pint and building its registry cost ~0.7 s CPU at the
# first figure of every crawl, for 17 factors. The test holds each factor (and each rate built from
# one, "Wh / (1000 * query)", and each inverse, "tokens/kWh") equal to pint's float for float.
UNIT_FACTORS: Final = {
    "watt": ("power", 1.0), "kilowatt": ("power", 1000.0),
    "milliwatt": ("power", 0.001), "megawatt": ("power", 1000000.0),
    "joule": ("energy", 1.0), "kilojoule": ("energy", 1000.0),
    "millijoule": ("energy", 0.001), "megajoule": ("energy", 1000000.0),
    "watt_hour": ("energy", 3600.0), "kilowatt_hour": ("energy", 3600000.0),
    "milliwatt_hour": ("energy", 3.6), "megawatt_hour": ("energy", 3600000000.0),
    "gigawatt_hour": ("energy", 3600000000000.0),
    "second": ("duration", 1.0), "millisecond": ("duration", 0.001),
    "minute": ("duration", 60.0), "hour": ("duration", 3600.0),
}
# An energy per one of these is an energy per token or per query.
_ENERGY_PER: Final = {"token": "energy_per_token", "query": "energy_per_query"}

# Unit symbols as written, to the names of UNIT_FACTORS. Keys are matched case-insensitively except
# where the case changes the meaning (mW vs MW), which is why those few stand in _CASED_SYMBOLS.
_SYMBOLS: Final = {
    "w": "watt", "watt": "watt", "watts": "watt",
    "kw": "kilowatt", "kilowatt": "kilowatt", "kilowatts": "kilowatt",
    "j": "joule", "joule": "joule", "joules": "joule",
    "kj": "kilojoule", "kilojoule": "kilojoule", "kilojoules": "kilojoule",
    "millijoule": "millijoule", "millijoules": "millijoule", "megajoule": "megajoule", "megajoules": "megajoule",
    "wh": "watt_hour", "kwh": "kilowatt_hour", "gwh": "gigawatt_hour",
    "s": "second", "sec": "second", "secs": "second", "second": "second", "seconds": "second",
    "ms": "millisecond", "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute",
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour",
}
_CASED_SYMBOLS: Final = {
    "MW": "megawatt", "mW": "milliwatt",
    "MWh": "megawatt_hour", "mWh": "milliwatt_hour",
    "MJ": "megajoule", "mJ": "millijoule",
}
_PER_UNITS: Final = {
    "token": "token", "tokens": "token", "tok": "token",
    "query": "query", "queries": "query", "request": "query", "requests": "query",
    "prompt": "query", "prompts": "query", "inference": "query", "inferences": "query",
    "sample": "query", "samples": "query",
}

# Atomic, and never started inside a run of digits: a run of 10,000 digits with no unit after it
# is tried once, not once per digit with every split of the run (quadratic and worse).
# Scientific notation included: "1e-300" is one number, not a 300 after a dash.
_NUMBER: Final = r"(?<!\d)(?>(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d{1,3}(?![\d.]))?)"
# Alternatives that start alike are written together ("a(?:bout|round|...)"): the engine tries each
# alternative of an alternation in turn, a few hundred instructions apiece, where none of them
# matches as much as where one does; what they match, and in which order, is the same.
_APPROX: Final = r"[~≈]|a(?:bout|round|pprox(?:\.|imately)?)\s+|roughly\s+|c(?:irca\s+|a\.\s*)"
# Where a figure may start: an approximation word or mark, or its number. The engine tries a
# pattern at every position; these lookaheads turn most positions away in one test each. The
# first is a class read case-sensitively (it lists both cases: no other character folds to these,
# and a case-blind class costs a case fold of every character); the second lets only the
# approximation words through of the letters the first admits ("a" of "about", not of "data").
_APPROX_STARTS: Final = r"about|around|approx|roughly|circa|ca\."
_STARTS_A_FIGURE: Final = rf"(?=(?-i:[~≈\d.aArRcC\-−]))(?=[~≈\d.\-−]|{_APPROX_STARTS})"
_STARTS_A_QUANTITY: Final = rf"(?=(?-i:[~≈\d.aArRcC]))(?=[~≈\d.]|{_APPROX_STARTS})"  # no sign
# The units by first letter, each letter's in the order "kilowatts?|kilojoules?|millijoules?|
# megajoules?|watts?|joules?|seconds?|secs?|minutes?|mins?|hours?|hrs?|GWh|MWh|kWh|mWh|Wh|MW|kW|mW|W|
# MJ|kJ|mJ|J|ms|min|s|h" gives them (matched case-blind: MWh and mWh are one alternative).
_UNIT: Final = (
    r"k(?:ilowatts?|ilojoules?|Wh|W|J)|m(?:illijoules?|egajoules?|inutes?|ins?|Wh|W|J|s|in)|w(?:atts?|h|)|"
    r"j(?:oules?|)|s(?:econds?|ecs?|)|h(?:ours?|rs?|)|GWh"
)
# The characters the units and the rate words (_PER) can start with, as IGNORECASE matches them,
# those a range's repeated unit or its dash can, and the rate words alone: a lookahead for one of them fails at once
# where the alternatives after it would each be tried and fail (a number followed by no unit).
_UNIT_OR_PER_START: Final = r"(?=[kmwjshgtqrpi])"
_RANGE_START: Final = r"(?=[kwmjt~\-–—])"
_PER_START: Final = r"(?=[tqrpis])"
_PER: Final = r"tokens?|tok|quer(?:y|ies)|requests?|prompts?|inferences?|samples?"
# The unit a range may repeat after its first number ("50w to 70w"); the figure's own unit follows.
_RANGE_UNIT: Final = r"(?:k?w|watts?|k?wh|[km]?j)(?![A-Za-z0-9])"
_PER_COUNT: Final = r"1k|1K|\d{1,3}(?:,\d{3})+|\d+"

_FIGURE_RE: Final = re.compile(
    _STARTS_A_FIGURE +
    rf"(?P<approx>{_APPROX})?"
    # A sign glued to the number ("-300 W", "−300 W"), not a dash after a word ("GPU-300").
    r"(?:(?P<sign>[-−])(?<![\w.][-−]))?"
    rf"(?P<num>{_NUMBER})"
    # A range: "350-400W", "50 to 70 W", "50w to 70w", "45W-50W", "114~118w".
    rf"(?:\s*{_RANGE_START}(?:{_RANGE_UNIT}\s*)?(?:-|–|—|to|~)\s*(?P<num2>{_NUMBER}))?"
    r"\s*"
    rf"{_UNIT_OR_PER_START}(?:"
    rf"(?P<inv_per>{_PER})\s*(?:/|per)\s*(?P<inv_unit>kWh|Wh|kJ|J)"
    rf"|"
    rf"(?P<unit>{_UNIT})(?:\s*(?:/|per)\s*(?:(?=\d)(?P<per_count>{_PER_COUNT}))?\s*{_PER_START}(?P<per>{_PER}))?"
    rf")"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)

# Where a figure or quantity above may start in an ASCII text: an approximation word's first two
# letters, "~", a sign not glued to a word, a digit or "." with no digit before it. The patterns
# above start with lookaheads, which the engine enters at every position of a text (most of a
# sentence's reading time); every alternative here starts with a literal, so the engine scans for
# their first characters at C speed, and a pattern is tried only where this finds a place
# (_matches). A superset of the places a match starts: the pattern decides. Other texts hold more
# characters that can start a figure ("≈", "−", digits of other scripts, İ and ı that match "i"
# under IGNORECASE) and are searched with the pattern itself.
_ASCII_FIGURE_START_RE: Final = re.compile("|".join(
    [r"a[bBrRpP]", r"A[bBrRpP]", r"r[oO]", r"R[oO]", r"c[iIaA]", r"C[iIaA]", "~", r"-(?<![\w.]-)", r"\.(?<![0-9]\.)"]
    + [f"{digit}(?<![0-9]{digit})" for digit in "0123456789"]))


def _matches(pattern: re.Pattern, text: str) -> list[re.Match] | Iterator[re.Match]:
    """What pattern.finditer(text) gives, for a pattern that can match in an ASCII text only where
    _ASCII_FIGURE_START_RE finds a place (and never matches empty)."""
    if not text.isascii():
        return pattern.finditer(text)
    found, position, starts, match_at = [], 0, _ASCII_FIGURE_START_RE.search, pattern.match
    while start := starts(text, position):
        position = start.start()
        match = match_at(text, position)
        if match:
            found.append(match)
            position = match.end()
        else:
            position += 1
    return found


_COUNT_RE: Final = re.compile(
    rf"^\s*(?P<num>{_NUMBER})\s*(?P<mult>[kKmMbBtT])?\s*$"
)
_COUNT_MULTIPLIERS: Final = {"k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}


class UnitError(ValueError):
    """A unit that this module does not know how to convert."""


@dataclass(frozen=True)
class Figure:
    """One figure read from text, in canonical units.

    For a range ("350-400W") ``value`` is the midpoint and ``low``/``high`` keep both ends.
    """

    kind: str  # "power", "energy", "energy_per_token", "energy_per_query", "duration", "co2", "gpu_hours"
    value: float
    low: float | None
    high: float | None
    approximate: bool
    written: str
    start: int
    end: int

    @property
    def is_range(self) -> bool:
        return self.low is not None and self.high is not None

    def describe(self) -> str:
        """A note saying how the figure was written when that matters to a reader."""
        parts = []
        if self.is_range:
            parts.append(
                f"written as the range {self.written.strip()!r} "
                f"({_fmt(self.low)}–{_fmt(self.high)} {_short_unit(self.kind)}); value is the midpoint"
            )
        if self.approximate:
            parts.append(f"written as approximate ({self.written.strip()!r})")
        return "; ".join(parts)


def _fmt(number: float | None) -> str:
    return f"{number:g}"


def _short_unit(kind: str) -> str:
    return {"power": "W", "energy": "J", "energy_per_token": "J/token",
            "energy_per_query": "J/query", "duration": "s", "co2": "kg", "gpu_hours": "GPU-hours"}[kind]


def parse_number(text: str) -> float:
    """'2,040' -> 2040.0, '0.35' -> 0.35; raises ValueError on anything else."""
    cleaned = text.strip().replace(",", "")
    if cleaned.isascii() and cleaned.replace(".", "", 1).isdigit():
        # Plain digits: float() rounds them to the same float as through Decimal (which converts
        # its exact value's digits with float()), without building a Decimal.
        value = float(cleaned)
    else:
        try:
            value = float(Decimal(cleaned))
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {text!r}") from exc
    if not math.isfinite(value):  # "1e999", 400 digits: no figure anyone measured
        raise ValueError(f"not a finite number: {text[:40]!r}")
    return value


def parse_count(text: str) -> float | None:
    """Counts as tables write them: '1.3M' -> 1.3e6, '30.84M', '2,040', '184320'. None if not a count."""
    match = _COUNT_RE.match(str(text))
    if not match:
        return None
    value = Decimal(match["num"].replace(",", ""))
    if match["mult"]:
        value *= _COUNT_MULTIPLIERS[match["mult"].lower()]
    return float(value)


def unit_name(symbol: str) -> str:
    """The name in UNIT_FACTORS of a unit symbol as written ('kWh' -> 'kilowatt_hour')."""
    if symbol in _CASED_SYMBOLS:
        return _CASED_SYMBOLS[symbol]
    lowered = symbol.lower()
    if lowered in _SYMBOLS:
        return _SYMBOLS[lowered]
    raise UnitError(f"unknown unit {symbol!r}")


def to_canonical(value: float, unit: str, per_count: int = 1, per: str | None = None) -> tuple[str, float]:
    """(kind, value in the canonical unit) of a value in a unit of UNIT_FACTORS, or in that unit
    per ``per_count`` tokens or queries (``per`` 'token' or 'query')."""
    if unit not in UNIT_FACTORS:
        raise UnitError(f"unknown unit {unit!r}")
    kind, factor = UNIT_FACTORS[unit]
    if per is None:
        return kind, value * factor
    if kind != "energy":  # "5 W per token", "2 s per query": no field holds these
        raise UnitError(f"{unit} per {per} is not an energy per token or query")
    if per_count == 0:
        raise ZeroDivisionError(f"per 0 {per}")
    # (1 / count) * factor, in pint's order: the same float as pint's conversion.
    return _ENERGY_PER[per], value * ((1 / per_count) * factor)


def symbol_kind_and_factor(symbol: str) -> tuple[str, float] | None:
    """('power', 1000.0) for 'kW': which quantity a unit symbol measures and its canonical factor."""
    try:
        return to_canonical(1.0, unit_name(symbol))
    except UnitError:
        return None


def _per_count(written: str | None) -> int:
    """How many tokens or queries a rate is per: '1k' -> 1000, '1,000' -> 1000, none -> 1."""
    if written and written.lower() == "1k":
        return 1000
    return int(parse_number(written or "1"))


def _inverse_to_canonical(value: float, per: str, energy_symbol: str) -> tuple[str, float]:
    """'7,059,021 tokens/kWh' -> J/token: the reciprocal of a per-energy efficiency figure."""
    _, factor = UNIT_FACTORS[unit_name(energy_symbol)]
    return _ENERGY_PER[_PER_UNITS[per.lower()]], (1 / value) * factor


def _figure_from_match(match: re.Match) -> Figure | None:
    try:
        first = parse_number(match["num"])
        second = parse_number(match["num2"]) if match["num2"] else None
    except ValueError:  # not finite: no figure
        return None
    if match["sign"]:
        first = -first
    try:
        if match["inv_per"]:
            if first == 0:
                return None
            kind, value = _inverse_to_canonical(first, match["inv_per"], match["inv_unit"])
            low = high = None
            if second:
                _, end_value = _inverse_to_canonical(second, match["inv_per"], match["inv_unit"])
                low, high = sorted((value, end_value))
        else:
            unit = unit_name(match["unit"])
            per = _PER_UNITS[match["per"].lower()] if match["per"] else None
            per_count = _per_count(match["per_count"]) if per else 1
            kind, value = to_canonical(first, unit, per_count, per)
            low = high = None
            if second is not None:
                _, end_value = to_canonical(second, unit, per_count, per)
                low, high = value, end_value
    except (UnitError, ZeroDivisionError, OverflowError):  # "5 Wh per 0 queries"
        return None
    if not (math.isfinite(value) and math.isfinite(low or 0.0) and math.isfinite(high or 0.0)):
        return None  # inverted past what a float holds ("1e-310 tokens/kWh")
    if low is not None and high is not None:
        value = (low + high) / 2
    return Figure(kind, value, low, high, bool(match["approx"]), match.group(0), match.start(), match.end())


def find_figures(text: str) -> list[Figure]:
    """Every figure with a recognised unit in the text, in order."""
    figures = []
    for match in _matches(_FIGURE_RE, text):
        figure = _figure_from_match(match)
        if figure is not None:
            figures.append(figure)
    return figures


def parse_figure(text: str) -> Figure | None:
    """The first figure with a recognised unit in the text, or None."""
    figures = find_figures(text)
    return figures[0] if figures else None


# Carbon as people write it: "30.16 kg CO2 eq.", "75.05 tCO2eq", "~5.3 kg CO₂eq", "1.2 tons CO2e",
# "64.52 kg CO2_2", "6.8 kgCO2". The unit must name CO2 (a bare "0.6 kg" is read only where a
# label says it is carbon: see carbon_value).
_MASS_UNITS: Final = {"g": 0.001, "gram": 0.001, "grams": 0.001, "kg": 1.0, "kilogram": 1.0, "kilograms": 1.0,
               "kgs": 1.0, "t": 1000.0, "ton": 1000.0, "tons": 1000.0, "tonne": 1000.0,
               "tonnes": 1000.0, "metric ton": 1000.0, "metric tons": 1000.0,
               "lb": 0.45359237, "lbs": 0.45359237, "pound": 0.45359237, "pounds": 0.45359237}
_MASS: Final = r"metric tons?|kilograms?|kgs?|grams?|g|tonnes?|tons?|t|pounds?|lbs?"
_CO2: Final = r"(?:of\s+)?co(?:2|₂)(?:[\s_-]?(?:eq|e)\b\.?|e\b|eq\.?|_2)?"
_CARBON_RE: Final = re.compile(
    rf"{_STARTS_A_QUANTITY}(?P<approx>{_APPROX})?(?P<num>{_NUMBER})"
    rf"(?:\s*(?:-|–|to)\s*(?P<num2>{_NUMBER}))?\s*(?P<unit>{_MASS})(?:(?=\s*(?:of\s+)?co[2₂])|\b)\.?\s*(?P<co2>{_CO2})?",
    re.IGNORECASE)
# GPU-hours: "10 V100 GPU hours", "147K H100 hours", "1.3M GPU-hours", "600 GPU hours".
_GPU_HOURS_RE: Final = re.compile(
    rf"{_STARTS_A_QUANTITY}(?P<approx>{_APPROX})?(?P<num>{_NUMBER})\s*(?:(?P<mult>[kKmM])\b\s*)?"
    r"(?P<gpu>(?:[A-Za-z]{1,6}[- ]?)?[A-Z]{1,3}\d{2,4}[A-Za-z0-9-]{0,8}\s+)?"
    r"(?:gpu|accelerator)?[- ]?hours?\b",
    re.IGNORECASE)


def _scaled_range(match: re.Match, factor: float) -> tuple[float, float | None, float | None]:
    first = parse_number(match["num"]) * factor
    if not match["num2"]:
        return first, None, None
    second = parse_number(match["num2"]) * factor
    return (first + second) / 2, first, second


def find_carbon(text: str, *, unit_names_co2: bool = True) -> list[Figure]:
    """Carbon masses in kg. ``unit_names_co2=False`` also takes a bare mass ("0.6 kg") for text
    already known to be about carbon (a "Carbon Emitted:" value)."""
    found = []
    for match in _matches(_CARBON_RE, text):
        if unit_names_co2 and not match["co2"]:
            continue
        try:
            value, low, high = _scaled_range(match, _MASS_UNITS[match["unit"].lower()])
        except (ValueError, KeyError):
            continue
        found.append(Figure("co2", value, low, high, bool(match["approx"]), match.group(0),
                              match.start(), match.end()))
    return found


def find_gpu_hours(text: str) -> list[Figure]:
    """GPU-hours counts stated as such ("GPU hours", or hours of a named GPU)."""
    found = []
    for match in _matches(_GPU_HOURS_RE, text):
        written = match.group(0)
        if "gpu" not in written.lower() and "accelerator" not in written.lower() and not match["gpu"]:
            continue
        factor = _COUNT_MULTIPLIERS[match["mult"].lower()] if match["mult"] else 1
        try:
            value = parse_number(match["num"]) * factor
        except ValueError:
            continue
        found.append(Figure("gpu_hours", value, None, None, bool(match["approx"]), written,
                              match.start(), match.end()))
    return found
