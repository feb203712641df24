"""The base of every spider in the project."""

from __future__ import annotations

import scrapy


class MeasurementSpider(scrapy.Spider):
    """Adds the project's default feed (DEFAULT_FEED) when the command line names none."""

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        if not settings.getdict("FEEDS"):
            settings.set("FEEDS", settings.getdict("DEFAULT_FEED"), priority="spider")
