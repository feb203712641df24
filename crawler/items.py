"""The Measurement record: the data contract with downstream tools (see DESIGN.md).

The JSON Schema in ``crawler/schema/measurement.schema.json`` is the machine-readable form of the
same contract; ``MEASUREMENT_FIELDS`` is read from it so the two cannot drift apart.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import scrapy


@lru_cache(maxsize=1)
def measurement_schema() -> dict:
    text = resources.files("crawler").joinpath("schema/measurement.schema.json").read_text("utf-8")
    return json.loads(text)


MEASUREMENT_FIELDS: tuple[str, ...] = tuple(measurement_schema()["properties"])


class Measurement(scrapy.Item):
    """One power or energy figure with its context; every field of the schema, null when unknown.

    Spiders may fill figures as written ("~300 W", "A100-80GB" in ``gpu_raw``); the normalising
    pipeline turns them into canonical units and fields.
    """

    fields = {name: scrapy.Field() for name in MEASUREMENT_FIELDS}
