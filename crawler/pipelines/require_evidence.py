from __future__ import annotations

from scrapy.exceptions import DropItem

from crawler.items import Measurement
from crawler.pipelines import CountingPipeline

EVIDENCE_FIELDS = ("url", "excerpt", "extractor")


class RequireEvidencePipeline(CountingPipeline):
    """Refuses a record that lacks url, excerpt or extractor (counted per missing field)."""

    def process_item(self, item):
        if not isinstance(item, Measurement):
            return item
        record = item  # a mapping: no ItemAdapter needed (see normalise.py)
        missing = [name for name in EVIDENCE_FIELDS if not str(record.get(name) or "").strip()]
        if missing:
            for name in missing:
                self.stats.inc_value(f"measurement/dropped/missing_{name}")
            raise DropItem(f"record without {', '.join(missing)}: no evidence to check it against")
        return item
