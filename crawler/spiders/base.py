"""The base of every spider in the project."""

from __future__ import annotations

import scrapy


class MeasurementSpider(scrapy.Spider):
    """Adds the project's default feeds when the command line names none.

    ``default_feeds`` names the settings that hold them: the Measurement feed, and for spiders
    that emit other records, theirs.
    """

    default_feeds: tuple[str, ...] = ("DEFAULT_FEED",)

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        if not settings.getdict("FEEDS"):
            feeds = {}
            for name in cls.default_feeds:
                feeds.update(settings.getdict(name))
            settings.set("FEEDS", feeds, priority="spider")

    def remembered(self, name: str) -> set:
        """A set that survives a paused and resumed crawl (``-s JOBDIR=...``: Scrapy's SpiderState
        keeps ``self.state`` in the job folder); an in-memory set otherwise."""
        if getattr(self, "state", None) is None:
            self.state = {}
        return self.state.setdefault(name, set())
