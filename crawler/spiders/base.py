"""The base of every spider in the project: default feeds, counting skipped input, containing
failures of extraction, Link pages."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import traceback
from datetime import datetime, timezone

import scrapy
from scrapy.exceptions import CloseSpider, ResponseDataLossError

from crawler.distributed import SharedSeenSets, is_distributed
from crawler.middlewares import RedirectLoop

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


def failed_rule(error: BaseException) -> str:
    """The function that failed: the extraction rule a spider called (the outermost function of
    crawler.extract in the traceback), else the innermost spider function."""
    names = [(frame.f_globals.get("__name__", ""), frame.f_code.co_name)
             for frame, _ in traceback.walk_tb(error.__traceback__)]
    for module, function in names:
        if module.startswith("crawler.extract"):
            return function
    spider_functions = [function for module, function in names if module.startswith("crawler.spiders")]
    return spider_functions[-1] if spider_functions else names[-1][1]


def contained(callback):
    """Decorator of a spider callback that reads a document: whatever the callback raises is
    contained by ``failures_contained(response.url)``, and what it yielded before is kept."""

    @functools.wraps(callback)
    def reading(self, response, *args, **kwargs):
        with self.failures_contained(response.url):
            yield from callback(self, response, *args, **kwargs)

    return reading


def download_failure_kind(failure) -> str:
    """The input error a failed download is counted as, for what has no better name (not HTTP)."""
    if failure.check(RedirectLoop):
        return "redirect_loop"
    if failure.check(ResponseDataLossError):
        return "short_body"
    return "download_failed"


def beside(uri: str, kind: str) -> str:
    """The feed URI for records of ``kind`` beside ``uri``: ``x.jsonl`` -> ``x.discussions.jsonl``."""
    tag = f".{kind.rsplit('.', 1)[-1].lower()}s"
    folder, slash, name = uri.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    return f"{folder}{slash}{stem}{tag}.{suffix}" if dot and stem else f"{uri}{tag}"


def feeds_of_one_kind(feeds: dict, kinds: list[str]) -> dict:
    """The feeds named on the command line (-O, -o, FEEDS), each holding one kind of record.

    A feed that names no ``item_classes`` gets the spider's first kind (Measurement); each other
    kind the spider emits (github_issues: Discussion) gets a feed of its own beside it, with the
    same options: ``-O x.jsonl`` writes x.jsonl and x.discussions.jsonl. Standard output cannot
    be split: there only the first kind is written, and the log says so.
    """
    separated = {}
    for uri, options in feeds.items():
        if options.get("item_classes") or not kinds:
            separated[uri] = options
            continue
        separated[uri] = {**options, "item_classes": kinds[:1]}
        for kind in kinds[1:]:
            if str(uri).startswith("stdout:"):
                logging.getLogger(__name__).warning(
                    "%s records are not written to standard output, which holds %s records only: "
                    "name a file (-O x.jsonl writes them to x%s.jsonl beside it)",
                    kind.rsplit(".", 1)[-1], kinds[0].rsplit(".", 1)[-1], beside("", kind))
                continue
            separated.setdefault(beside(str(uri), kind), {**options, "item_classes": [kind]})
    return separated


class MeasurementSpider(scrapy.Spider):
    """What every spider shares: the default feeds, stats counters and counted, logged problems.

    The default feeds are added when the command line names none; ``default_feeds`` names the
    settings that hold them (the Measurement feed, and for spiders that emit other records, theirs).
    Feeds named on the command line are split so that each holds one kind of record
    (``feeds_of_one_kind``).
    """

    default_feeds: tuple[str, ...] = ("DEFAULT_FEED",)

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        named = settings.getdict("FEEDS")
        if not named:
            feeds = {}
            for name in cls.default_feeds:
                feeds.update(settings.getdict(name))
            settings.set("FEEDS", feeds, priority="spider")
            return
        kinds = [kind for name in cls.default_feeds for options in settings.getdict(name).values()
                 for kind in options.get("item_classes", ())]
        # Above the command line's priority: `scrapy crawl` copies its settings onto the crawler's
        # again after this, which would otherwise put the feeds back as they were named.
        settings.set("FEEDS", feeds_of_one_kind(named, kinds), priority=settings.getpriority("FEEDS") + 1)

    def count(self, key: str, amount: int = 1) -> None:
        self.crawler.stats.inc_value(f"{self.name}/{key}", amount)

    def count_problem(self, kind: str, detail: str, *, error: bool = True, amount: int = 1) -> None:
        """Count and log skipped input: extract/error/<kind> (broken) or extract/skipped/<kind>."""
        self.crawler.stats.inc_value(f"extract/{'error' if error else 'skipped'}/{kind}", amount)
        (self.logger.warning if error else self.logger.info)("%s: %s", kind, detail)

    @contextlib.contextmanager
    def failures_contained(self, document: str):
        """Reads one document, or one entry of a listing, inside: an exception goes no further.

        It is counted as an input error, ``extract/error/<rule>/<exception class>``, and logged in
        one line that names the document and the rule; what was yielded before it is kept, and
        the caller goes on with the next entry or page. (CloseSpider still closes the spider.)
        """
        try:
            yield
        except CloseSpider:
            raise
        except Exception as error:
            rule = failed_rule(error)
            message = str(error)
            self.count_problem(f"{rule}/{type(error).__name__}",
                               f"{document}: {message[:300]}{'...' if len(message) > 300 else ''}")
            self.logger.debug("Traceback of the failure above", exc_info=error)

    def listed(self, entry: dict, field: str, where: str) -> list:
        """``entry[field]`` when it is a list; missing or null is an empty list, and so is any other
        value (a number, a string, an object), counted as unexpected_api_shape."""
        value = entry.get(field)
        if value is None or isinstance(value, list):
            return value or []
        self.count_problem("unexpected_api_shape", f"{where}: {field} is a {type(value).__name__}, not a list")
        return []

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
            content_type = (response.headers.get(b"Content-Type") or b"no Content-Type").decode("latin-1")
            self.count_problem("invalid_api_json", f"{response.url}: not JSON ({content_type})")
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
