"""Checking loaded records against the shipped JSON Schemas (crawler/schema/), a column at a time.

jsonschema takes about half a millisecond per Measurement, minutes for a million records, so each
schema is compiled here once into checks over a chunk's columns: per field its JSON types, enum,
pattern, length and bounds, run over whole columns (type sets, numpy comparisons). A field whose
value is an array or an object (flags, bounds, trace, tools, tool_mentions) is checked by jsonschema
against the field's own subschema, once per distinct value: flags and tools repeat a small
vocabulary. A keyword this module does not check stops the import, so the schema cannot gain a rule
that goes unchecked. ``format`` is an annotation, as in jsonschema's default (the loader parses
``retrieved_at`` itself).

One leniency: a record without a field that may be null is read with that field null. The schema
requires every field, but crawl output made before a field was added stays in ``output/``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

import jsonschema
import numpy as np
import orjson

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int, float), "number": (int, float), "boolean": (bool,),
    "null": (type(None),), "array": (list,), "object": (dict,)}
NUMBERS = frozenset(JSON_TYPES["number"])
TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
              "null": "null", "array": "an array", "object": "an object"}
SCALAR_KEYWORDS = {"type", "enum", "pattern", "minLength", "maxLength", "minimum", "exclusiveMinimum", "maximum",
                   "exclusiveMaximum"}
STRUCTURE_KEYWORDS = {"items", "properties", "additionalProperties", "propertyNames", "required", "minItems",
                      "maxItems", "uniqueItems"}
ANNOTATIONS = {"description", "format", "title", "$comment", "$schema", "$id"}
# keyword -> (test a value passes, what a failing value is)
BOUNDS: dict[str, tuple[Callable, str]] = {
    "minimum": (operator.ge, "less than"), "exclusiveMinimum": (operator.gt, "not greater than"),
    "maximum": (operator.le, "greater than"), "exclusiveMaximum": (operator.lt, "not less than")}
# Reasons quote scraped values: never more than this of one.
SHOWN_CHARS = 60
REASON_CHARS = 300


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text):,} characters)"


def show(value) -> str:
    """A value as a reason quotes it: short, and never by walking a nested structure."""
    if isinstance(value, str):
        return repr(shorten(value, SHOWN_CHARS))
    if isinstance(value, list):
        return f"an array of {len(value):,} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return f"an object of {len(value):,} key{'s' if len(value) != 1 else ''}"
    if isinstance(value, bool) or value is None:
        return orjson.dumps(value).decode()
    return shorten(repr(value), SHOWN_CHARS)


def _unknown_keywords(schema: dict, known: set[str], where: str) -> None:
    unknown = set(schema) - known
    if unknown:
        raise ValueError(f"{where}: schema keywords {sorted(unknown)} are not checked by postprocess.schema_check")


class ScalarField:
    """A field whose value is a string, number, boolean or null: every keyword checked column-wide."""

    def __init__(self, name: str, schema: dict):
        _unknown_keywords(schema, SCALAR_KEYWORDS | ANNOTATIONS, name)
        if "type" not in schema and "enum" not in schema:
            raise ValueError(f"{name}: a field needs a type or an enum for postprocess.schema_check")
        self.name = name
        types = schema.get("type") or sorted({_json_type(v) for v in schema["enum"]})
        types = [types] if isinstance(types, str) else types
        self.python_types = frozenset(t for json_type in types for t in JSON_TYPES[json_type])
        self.integer = "integer" in types and "number" not in types
        self.enum = frozenset(schema["enum"]) if "enum" in schema else None
        self.enum_text = "one of " + ", ".join("null" if v is None else str(v) for v in schema.get("enum", []))
        self.expected = " or ".join(TYPE_NAMES[t] for t in types) if "type" in schema else self.enum_text
        self.pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
        self.min_length, self.max_length = schema.get("minLength", 0), schema.get("maxLength")
        self.bounds = [(test, schema[keyword], text) for keyword, (test, text) in BOUNDS.items() if keyword in schema]
        # Whether a value of the right type can still fail (a typed reader has checked the type).
        self.needs_values = bool(self.enum is not None or self.pattern or self.min_length or self.max_length is not None
                                 or self.bounds)

    def failures(self, values: list) -> dict[int, str]:
        bad = {}
        types = set(map(type, values))
        if not types <= self.python_types:
            bad = {i: f"{self.name}: {show(v)} is not {self.expected}"
                   for i, v in enumerate(values) if type(v) not in self.python_types}
            # Past the type, null passes every keyword: a wrong-typed value is read as null from here.
            values = [None if i in bad else v for i, v in enumerate(values)]
        if self.integer or self.bounds:
            # Numeric keywords apply to numbers only (a field may also allow strings).
            numbers = np.array([v if type(v) in NUMBERS else None for v in values] if types - NUMBERS - {type(None)}
                               else values, dtype=float)
            present = ~np.isnan(numbers)
            if self.integer:
                for i in np.flatnonzero(present & (numbers != np.floor(numbers))):
                    bad.setdefault(int(i), f"{self.name}: {show(values[i])} is not an integer")
            for test, bound, text in self.bounds:
                for i in np.flatnonzero(present & ~test(numbers, bound)):
                    bad.setdefault(int(i), f"{self.name}: {show(values[i])} is {text} {bound}")
        if self.enum is not None and not set(values) <= self.enum | {None}:
            for i, v in enumerate(values):
                if v is not None and v not in self.enum:
                    bad.setdefault(i, f"{self.name}: {show(v)} is not {self.enum_text}")
        if self.pattern is None and not self.min_length and self.max_length is None:
            return bad
        # String keywords: one pass in C over the strings, a second in Python only to find what failed.
        strings = values if types == {str} else [v for v in values if type(v) is str]
        if self.pattern is not None and not all(map(self.pattern.search, strings)):
            for i, v in enumerate(values):
                if type(v) is str and not self.pattern.search(v):
                    bad.setdefault(i, f"{self.name}: {show(v)} does not match {self.pattern.pattern}")
        high = self.max_length if self.max_length is not None else float("inf")
        lengths = list(map(len, strings))
        if lengths and (min(lengths) < self.min_length or max(lengths) > high):
            for i, v in enumerate(values):
                if type(v) is str and not self.min_length <= len(v) <= high:
                    limit = f"shorter than {self.min_length}" if len(v) < self.min_length else f"longer than {high}"
                    bad.setdefault(i, f"{self.name}: {show(v)} is {limit} characters")
        return bad


class StructuredField:
    """A field whose value is an array or an object: jsonschema on the field's subschema, once per
    distinct value."""

    def __init__(self, name: str, schema: dict, validator_class: type):
        _unknown_keywords(schema, SCALAR_KEYWORDS | STRUCTURE_KEYWORDS | ANNOTATIONS, name)
        validator_class.check_schema(schema)
        self.name = name
        self.validator = validator_class(schema)

    def _problem(self, value) -> str | None:
        try:
            error = jsonschema.exceptions.best_match(self.validator.iter_errors(value))
        except RecursionError:  # the error message quotes the value; a deep one cannot be quoted
            return f"{self.name}: nested too deeply"
        if error is None:
            return None
        path = "".join(f"[{shorten(repr(p), SHOWN_CHARS)}]" for p in error.absolute_path)
        return f"{self.name}{path}: {error.message}"

    def failures(self, values: list) -> dict[int, str]:
        bad, verdicts = {}, {}
        for index, value in enumerate(values):
            try:
                key = orjson.dumps(value)
            except orjson.JSONEncodeError:  # nested deeper than orjson writes: checked, not remembered
                key = None
            problem = verdicts[key] if key in verdicts else self._problem(value)
            if key is not None:
                verdicts[key] = problem
            if problem:
                bad[index] = problem
        return bad


def _json_type(value) -> str:
    return next(name for name, types in JSON_TYPES.items() if type(value) in types and name != "integer")


class SchemaCheck:
    """One record schema compiled into column checks: ``problem_with_fields`` for one record's set
    of fields, ``failures`` for the values in a chunk's columns."""

    def __init__(self, schema: dict):
        _unknown_keywords(schema, {"type", "additionalProperties", "required", "properties"} | ANNOTATIONS, "record")
        if schema.get("type") != "object" or not isinstance(schema.get("additionalProperties", True), bool):
            raise ValueError("record: postprocess.schema_check reads schemas of one object with named fields")
        validator_class = jsonschema.validators.validator_for(schema)
        self.title = schema.get("title", "record")
        self.fields = tuple(schema["properties"])
        self.field_set = frozenset(self.fields)
        self.closed = schema.get("additionalProperties") is False
        required = set(schema.get("required", ()))
        self.checks = []
        self.must_have = set()
        for name, subschema in schema["properties"].items():
            types = subschema.get("type", [])
            types = {types} if isinstance(types, str) else set(types)
            structured = bool(types & {"array", "object"}) or bool(set(subschema) & STRUCTURE_KEYWORDS)
            self.checks.append(StructuredField(name, subschema, validator_class) if structured
                               else ScalarField(name, subschema))
            if name in required and not validator_class(subschema).is_valid(None):
                self.must_have.add(name)

    def problem_with_fields(self, record: dict) -> tuple[str, str] | None:
        """(field, reason) when a record's fields are not the schema's: the first missing one, or
        fields the schema does not have (a missing field that may be null is read as null)."""
        missing = [name for name in self.fields if name in self.must_have and name not in record]
        if missing:
            return missing[0], shorten(f"missing {', '.join(missing)}", REASON_CHARS)
        unknown = [name for name in record if name not in self.field_set] if self.closed else []
        if unknown:
            return "(unknown fields)", shorten(f"fields not in the {self.title} schema: "
                                               f"{', '.join(shorten(repr(n), SHOWN_CHARS) for n in unknown)}",
                                               REASON_CHARS)
        return None

    def failures(self, columns: dict[str, list]) -> dict[int, tuple[str, str]]:
        """Row index -> (field, reason) for every row of ``columns`` that breaks the schema; the first
        field in schema order names it."""
        bad: dict[int, tuple[str, str]] = {}
        for check in self.checks:
            for index, reason in check.failures(columns[check.name]).items():
                bad.setdefault(index, (check.name, shorten(reason, REASON_CHARS)))
        return bad
