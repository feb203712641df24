"""The records' Arrow schemas, derived from the JSON Schemas in ``crawler/schema/`` (the one place
the data contract is written), and the conversion of records to Arrow tables.

Used for the Parquet feed (``-O x.parquet``), postprocess's ``measurements.parquet``, and by readers
of the JSONL: ``datasets``, polars and pyarrow infer a field's type in each file from its values, so
a field that is null throughout one file is typed null there and the files do not load together.
Given this schema, they do (README: "Reading the output").

Types: a JSON Schema ``integer`` is int64, ``number`` float64, ``boolean`` bool, a ``string`` is
``string`` (never ``large_string``) or, with ``"format": "date-time"``, a timestamp in UTC; an enum
takes the type of its values; an array is a list of its items; an object is a struct of its
``properties``, or of its ``propertyNames`` (each typed as ``additionalProperties``). Every field is
nullable: crawls made before a field was added are read with it null.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from functools import lru_cache

import pyarrow as pa

from crawler.record_schemas import discussion_schema, measurement_schema

TIMESTAMP = pa.timestamp("us", tz="UTC")
_SCALARS = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
_ENUM_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def arrow_type(schema: dict, where: str) -> pa.DataType:
    """The Arrow type of values that match ``schema`` (a field's JSON Schema); ``where`` names the
    field in errors."""
    if "enum" in schema:
        types = {_ENUM_TYPES[type(value)] for value in schema["enum"] if value is not None}
    else:
        declared = schema.get("type", [])
        types = {declared} if isinstance(declared, str) else set(declared)
    types.discard("null")
    if types == {"integer", "number"}:
        types = {"number"}
    if len(types) != 1:
        raise ValueError(f"{where}: JSON types {sorted(types)} have no single Arrow type")
    json_type = types.pop()
    if json_type == "string":
        return TIMESTAMP if schema.get("format") == "date-time" else pa.string()
    if json_type in _SCALARS:
        return _SCALARS[json_type]
    if json_type == "array":
        return pa.list_(arrow_type(schema["items"], f"{where}[]"))
    if "properties" in schema:
        return pa.struct([pa.field(name, arrow_type(sub, f"{where}.{name}"))
                          for name, sub in schema["properties"].items()])
    names = schema.get("propertyNames", {}).get("enum")
    if names is None:
        raise ValueError(f"{where}: an object without properties or propertyNames has no fixed Arrow type")
    value_type = arrow_type(schema["additionalProperties"], f"{where}.*")
    return pa.struct([pa.field(name, value_type) for name in names])


def arrow_schema(record_schema: dict) -> pa.Schema:
    """A record's JSON Schema as an Arrow schema, fields in the same order; the title and each
    field's description kept as metadata."""
    fields = []
    for name, sub in record_schema["properties"].items():
        metadata = {"description": sub["description"]} if "description" in sub else None
        fields.append(pa.field(name, arrow_type(sub, name), metadata=metadata))
    return pa.schema(fields, metadata={"title": record_schema.get("title", "")})


@lru_cache(maxsize=1)
def measurement_arrow_schema() -> pa.Schema:
    return arrow_schema(measurement_schema())


@lru_cache(maxsize=1)
def discussion_arrow_schema() -> pa.Schema:
    return arrow_schema(discussion_schema())


def _converter(arrow: pa.DataType):
    """A function from a JSON value to what pyarrow builds an ``arrow`` value from, or None when
    the value needs nothing."""
    if arrow == TIMESTAMP:
        return lambda value: None if value is None else parse_timestamp(value)
    if arrow == pa.int64():
        # JSON Schema counts 8.0 as an integer; pyarrow will not put a float in an int64.
        return lambda value: int(value) if isinstance(value, float) else value
    if arrow == pa.float64():
        # A non-finite figure is no figure (the JSONL has null there too).
        return lambda value: None if isinstance(value, float) and not math.isfinite(value) else value
    if pa.types.is_list(arrow):
        item = _converter(arrow.value_type)
        return None if item is None else (lambda value: None if value is None else [item(v) for v in value])
    if pa.types.is_struct(arrow):
        inner = {field.name: _converter(field.type) for field in arrow}
        inner = {name: convert for name, convert in inner.items() if convert}
        if not inner:
            return None
        return lambda value: None if value is None else {
            key: inner[key](v) if key in inner else v for key, v in value.items()}
    return None


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 date-time (``2026-11-29T12:00:00Z``) as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def record_converter(schema: pa.Schema):
    """A function from one JSON record (a dict) to a row ``pa.Table.from_pylist`` takes with
    ``schema``: every field of the schema, values in Arrow's terms."""
    converters = [(field.name, _converter(field.type)) for field in schema]

    def convert(record: dict) -> dict:
        row = {}
        for name, convert_value in converters:
            value = record.get(name)
            row[name] = convert_value(value) if convert_value and value is not None else value
        return row

    return convert
