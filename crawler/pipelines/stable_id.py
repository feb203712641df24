from __future__ import annotations

import hashlib


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
        record = item  # a mapping: no ItemAdapter needed (see normalise.py)
        record["id"] = measurement_id(
            record["source"], record["url"], record["extractor"],
            record["locator"] or record["excerpt"],
        )
        return item
