"""The JSON Schemas of the records (``crawler/schema/``) and their field names, without Scrapy: the
postprocess command reads them, and importing Scrapy (and Twisted with it) would cost it over a
second of every run."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=2)
def _schema(name: str) -> dict:
    return json.loads(resources.files("crawler").joinpath(f"schema/{name}.schema.json").read_text("utf-8"))


def measurement_schema() -> dict:
    return _schema("measurement")


def discussion_schema() -> dict:
    return _schema("discussion")


MEASUREMENT_FIELDS: tuple[str, ...] = tuple(measurement_schema()["properties"])
DISCUSSION_FIELDS: tuple[str, ...] = tuple(discussion_schema()["properties"])
