from __future__ import annotations

import hashlib

from itemadapter import ItemAdapter

from crawler.items import Measurement

ID_LENGTH = 20


def measurement_id(source: str, url: str, extractor: str, locator: str) -> str:
    """Stable id of a figure: the same figure crawled again gets the same id."""
    key = "\x1f".join((source, url, extractor, locator))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:ID_LENGTH]


class StableIdPipeline:
    """Sets ``id`` from source + document (url) + figure (extractor and locator, else excerpt)."""

    def process_item(self, item):
        if not isinstance(item, Measurement):
            return item
        adapter = ItemAdapter(item)
        adapter["id"] = measurement_id(
            adapter["source"], adapter["url"], adapter["extractor"],
            adapter["locator"] or adapter["excerpt"],
        )
        return item
