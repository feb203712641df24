"""The records the crawler writes: the data contract with downstream tools (see DESIGN.md).

``Measurement`` is the main record; ``Discussion`` summarises a GitHub issue. The JSON Schemas in
``crawler/schema/`` are the machine-readable form of the same contract, and the item fields are
read from them so the two cannot drift apart.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import scrapy


@lru_cache(maxsize=2)
def _schema(name: str) -> dict:
    return json.loads(resources.files("crawler").joinpath(f"schema/{name}.schema.json").read_text("utf-8"))


def measurement_schema() -> dict:
    return _schema("measurement")


def discussion_schema() -> dict:
    return _schema("discussion")


MEASUREMENT_FIELDS: tuple[str, ...] = tuple(measurement_schema()["properties"])
DISCUSSION_FIELDS: tuple[str, ...] = tuple(discussion_schema()["properties"])


class Measurement(scrapy.Item):
    """One power or energy figure with its context; every field of the schema, null when unknown.

    Spiders may fill figures as written ("~300 W", "A100-80GB" in ``gpu_raw``); the normalising
    pipeline turns them into canonical units and fields.
    """

    fields = {name: scrapy.Field() for name in MEASUREMENT_FIELDS}


class Discussion(scrapy.Item):
    """One GitHub issue discussing GPU power: tools mentioned and measurements found (github_issues)."""

    fields = {name: scrapy.Field() for name in DISCUSSION_FIELDS}
