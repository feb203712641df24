from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import jsonschema_rs
from scrapy.exceptions import DropItem

from crawler.items import Discussion, Measurement, discussion_schema, measurement_schema
from crawler.pipelines import CountingPipeline

if TYPE_CHECKING:
    import jsonschema


def schema_validator(schema: dict) -> jsonschema.protocols.Validator:
    import jsonschema  # noqa: PLC0415 (a crawl whose records all match never needs it)

    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def _holds_tuple(value) -> bool:
    if isinstance(value, dict):
        inner = value.values()
    elif isinstance(value, list):
        inner = value
    else:
        return isinstance(value, tuple)
    # Containers only are looked into: a call for each of a record's ~35 values, most of them
    # numbers, strings and nulls, cost more than jsonschema_rs's whole check.
    return any(isinstance(entry, (tuple, list, dict)) and _holds_tuple(entry) for entry in inner)


class SchemaCheck:
    """One schema, checked by two validators: jsonschema_rs says in microseconds whether a record
    matches (jsonschema takes about 0.4 ms a record); only a record it turns down, or cannot read,
    goes to jsonschema, which has the last word and names the errors.

    jsonschema_rs checks formats (date-time) and reads patterns as ECMA-262 (``$`` before a final
    newline does not match): it is stricter than jsonschema as configured here, except that it
    takes a tuple for an array, so a record holding a tuple goes to jsonschema too. A record it
    lets through is then one jsonschema lets through, and a record it turns down is judged by
    jsonschema as before (tests/test_pipelines.py checks the two agree)."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.fast = jsonschema_rs.validator_for(schema, validate_formats=True)

    @cached_property
    def full(self):
        """jsonschema's validator, made when a record first needs it (importing it takes a while)."""
        return schema_validator(self.schema)

    def errors(self, record: dict) -> list:
        """What does not match in ``record``, in path order; empty when it matches."""
        try:
            if not _holds_tuple(record) and self.fast.is_valid(record):
                return []
        except (ValueError, TypeError, OverflowError):  # a value that is no JSON value to Rust
            pass
        return sorted(self.full.iter_errors(record), key=lambda e: list(e.path))


class ValidateSchemaPipeline(CountingPipeline):
    """Lets out only records that match their shipped JSON Schema; others are dropped and counted."""

    def __init__(self, stats):
        super().__init__(stats)
        self.checks = {Measurement: ("measurement", SchemaCheck(measurement_schema())),
                       Discussion: ("discussion", SchemaCheck(discussion_schema()))}

    def process_item(self, item):
        if type(item) not in self.checks:
            return item
        kind, check = self.checks[type(item)]
        errors = check.errors(dict(item))  # a flat Item: its fields hold no items to convert
        if errors:
            self.stats.inc_value(f"{kind}/invalid")
            for error in errors:
                self.stats.inc_value(f"{kind}/invalid/{'.'.join(map(str, error.path)) or 'record'}")
            described = "; ".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors[:3])
            raise DropItem(f"{kind} does not match the schema: {described}")
        self.stats.inc_value(f"{kind}/valid")
        return item
