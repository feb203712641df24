"""Crawl extensions."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.distributed import worker_suffix


class StatsJsonDump:
    """Writes the crawl stats as JSON when the spider closes (STATS_JSON_PATH), for schedulers and tests."""

    def __init__(self, crawler, path_template):
        self.crawler = crawler
        self.path_template = path_template

    @classmethod
    def from_crawler(cls, crawler):
        path = crawler.settings.get("STATS_JSON_PATH")
        if not path:
            raise NotConfigured
        extension = cls(crawler, path)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider, reason):
        stats = dict(self.crawler.stats.get_stats())
        stats["finish_reason"] = reason
        when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S")
        path = Path(self.path_template % {"name": spider.name, "time": when,
                                          "worker": worker_suffix(self.crawler.settings)})
        path.parent.mkdir(parents=True, exist_ok=True)
        strict = {key: None if isinstance(value, float) and not math.isfinite(value) else value
                  for key, value in stats.items()}
        # allow_nan=False: the file is strict JSON (a non-finite stat, were there one, is null above).
        path.write_text(json.dumps(strict, default=_json_default, indent=1, sort_keys=True, allow_nan=False), "utf-8")


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
