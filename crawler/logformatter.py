"""LOG_FORMATTER: Scrapy's log lines, without building those the crawl's log level hides."""

from __future__ import annotations

import logging

from scrapy.logformatter import LogFormatter


def shows_debug(settings) -> bool:
    """Whether the crawl's log shows DEBUG lines: LOG_ENABLED and a LOG_LEVEL of DEBUG or below
    (a name or a number; a level logging does not know counts as showing them)."""
    if not settings.getbool("LOG_ENABLED"):
        return False
    level = settings.get("LOG_LEVEL")
    number = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    return not isinstance(number, int) or number <= logging.DEBUG


class VisibleLinesLogFormatter(LogFormatter):
    """Scrapy's, except that the DEBUG line of every response ("Crawled (200) ...") and of every
    item ("Scraped from ...") is not made when the log level hides it: Scrapy built each, a log
    record with it, and handed it to the handlers, which dropped it (~2% of a crawl's CPU)."""

    def __init__(self, debug_shown: bool):
        self.debug_shown = debug_shown

    @classmethod
    def from_crawler(cls, crawler):
        return cls(shows_debug(crawler.settings))

    def crawled(self, request, response, spider):
        return super().crawled(request, response, spider) if self.debug_shown else None

    def scraped(self, item, response, spider):
        return super().scraped(item, response, spider) if self.debug_shown else None
