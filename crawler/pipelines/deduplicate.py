from __future__ import annotations

from scrapy.exceptions import DropItem

from crawler.items import Measurement
from crawler.pipelines import CountingPipeline


class DeduplicatePipeline(CountingPipeline):
    """Drops a record whose id was already emitted in this crawl (counted)."""

    def __init__(self, stats):
        super().__init__(stats)
        self.seen_ids: set[str] = set()

    def process_item(self, item):
        if not isinstance(item, Measurement):
            return item
        record_id = item["id"]
        if record_id in self.seen_ids:
            self.stats.inc_value("measurement/duplicate")
            raise DropItem(f"duplicate of {record_id}")
        self.seen_ids.add(record_id)
        return item
