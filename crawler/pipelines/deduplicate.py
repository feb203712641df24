from __future__ import annotations

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem


class DeduplicatePipeline:
    """Drops a record whose id was already emitted in this crawl (counted)."""

    def __init__(self, stats):
        self.stats = stats
        self.seen_ids: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item):
        record_id = ItemAdapter(item)["id"]
        if record_id in self.seen_ids:
            self.stats.inc_value("measurement/duplicate")
            raise DropItem(f"duplicate of {record_id}")
        self.seen_ids.add(record_id)
        return item
