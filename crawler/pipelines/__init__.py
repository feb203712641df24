"""Item pipelines, one job each; their order is set and explained in crawler/settings.py."""


class CountingPipeline:
    """Base of the pipelines that count what they do in the crawl stats."""

    def __init__(self, stats):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)
