"""The records the crawler writes: the data contract with downstream tools (see DESIGN.md).

``Measurement`` is the main record; ``Discussion`` summarises a GitHub issue. The JSON Schemas in
``crawler/schema/`` are the machine-readable form of the same contract, and the item fields are
read from them so the two cannot drift apart.
"""

from __future__ import annotations

import scrapy

# The schema readers live apart, where reading them imports no Scrapy; importers here keep them.
from crawler.record_schemas import (DISCUSSION_FIELDS, MEASUREMENT_FIELDS, discussion_schema,  # noqa: F401
                                    measurement_schema)


class Measurement(scrapy.Item):
    """One power or energy figure with its context; every field of the schema, null when unknown.

    Spiders may fill figures as written ("~300 W", "A100-80GB" in ``gpu_raw``); the normalising
    pipeline turns them into canonical units and fields.
    """

    fields = {name: scrapy.Field() for name in MEASUREMENT_FIELDS}


class Discussion(scrapy.Item):
    """One GitHub issue discussing GPU power: tools mentioned and measurements found (github_issues)."""

    fields = {name: scrapy.Field() for name in DISCUSSION_FIELDS}
