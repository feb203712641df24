"""The base of every spider in the project: default feeds, counting skipped input, Link pages."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import scrapy

from crawler.distributed import SharedSeenSets, is_distributed

_NEXT_LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?', re.IGNORECASE)


def next_link(link_header: bytes | str | None) -> str | None:
    """The rel="next" URL of a Link header (the Hub and GitHub paginate this way)."""
    if not link_header:
        return None
    text = link_header.decode("latin-1") if isinstance(link_header, bytes) else link_header
    match = _NEXT_LINK_RE.search(text)
    return match[1] if match else None


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class MeasurementSpider(scrapy.Spider):
    """What every spider shares: the default feeds, stats counters and counted, logged problems.

    The default feeds are added when the command line names none; ``default_feeds`` names the
    settings that hold them (the Measurement feed, and for spiders that emit other records, theirs).
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

    def count(self, key: str, amount: int = 1) -> None:
        self.crawler.stats.inc_value(f"{self.name}/{key}", amount)

    def count_problem(self, kind: str, detail: str, *, error: bool = True, amount: int = 1) -> None:
        """Count and log skipped input: extract/error/<kind> (broken) or extract/skipped/<kind>."""
        self.crawler.stats.inc_value(f"extract/{'error' if error else 'skipped'}/{kind}", amount)
        (self.logger.warning if error else self.logger.info)("%s: %s", kind, detail)

    def report_problems(self, where: str, problems) -> None:
        """Count every problem met in one document; log each kind once, with how many there were."""
        by_kind: dict[tuple[str, bool], list] = {}
        for problem in problems:
            by_kind.setdefault((problem.kind, problem.error), []).append(problem)
        for (kind, error), found in by_kind.items():
            more = f" (and {len(found) - 1} more like it)" if len(found) > 1 else ""
            self.count_problem(kind, f"{where}: {found[0].detail}{more}", error=error, amount=len(found))

    def report_skipped(self, where: str, skipped) -> None:
        """Count the figures a document held that are not records, by role (extract/skipped/<role>):
        power supplies, caps, CPUs, guesses... so a user can audit what was passed over."""
        for role, amount in sorted(skipped.items()):
            self.crawler.stats.inc_value(f"extract/skipped/{role}", amount)
        if skipped:
            self.logger.debug("%s: figures not recorded, by role: %s", where, dict(sorted(skipped.items())))

    def json_or_none(self, response, shape: type):
        """The JSON body if it is a ``shape`` (dict or list); otherwise counted, logged and None."""
        try:
            value = json.loads(response.text)
        except (ValueError, AttributeError):
            self.count_problem("invalid_api_json",
                               f"{response.url}: not JSON ({response.headers.get('Content-Type')})")
            return None
        if not isinstance(value, shape):
            self.count_problem("unexpected_api_shape", f"{response.url}: expected a JSON {shape.__name__}")
            return None
        return value

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.shared_seen = (SharedSeenSets.from_settings(crawler.settings, spider.name)
                              if is_distributed(crawler.settings) else None)
        return spider

    def first_time(self, name: str, key: str) -> bool:
        """True the first time the crawl meets ``key`` in the seen-set ``name``, False after.

        The sets live in ``self.state``, which Scrapy's SpiderState keeps in the job folder
        (``-s JOBDIR=...``), so a resumed crawl remembers them; in a distributed crawl they live
        in Redis, shared by every worker, and testing and adding is one atomic step.
        """
        if self.shared_seen is not None:
            return self.shared_seen.first_time(name, key)
        if getattr(self, "state", None) is None:
            self.state = {}
        seen = self.state.setdefault(name, set())
        if key in seen:
            return False
        seen.add(key)
        return True
