"""Distributed crawling: several workers share one crawl through Redis (scrapy-redis).

Switched on by a setting alone: ``REDIS_URL`` (environment, or ``-s REDIS_URL=redis://host:6379/0``).
The spiders do not change. What the workers share, under keys named after the spider:

* ``<spider>:requests``: the request queue (scrapy-redis's priority queue);
* ``<spider>:dupefilter``: the fingerprints of every request scheduled, so a request, seeds
  included, is queued once in the whole crawl whichever worker yields it;
* ``<spider>:seen:<set>``: the spiders' seen-sets (``MeasurementSpider.first_time``), so a figure
  read from a listing entry is emitted once even when two workers read listings that overlap;
* ``<spider>:busy:<worker>``: one key per worker with work in hand, expiring on its own if the
  worker dies, so an idle worker waits while another may still add requests.

scrapy-redis's ``RedisSpider`` is not used: it reads its seeds in ``start_requests()``, which
Scrapy 2.13+ no longer calls (it calls ``start()``), so it would only pick them up once idle.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

# redis and scrapy-redis are imported by a distributed crawl only (shared_redis, and the shared
# scheduler in crawler/shared_scheduler.py): every crawl imports this module, and redis' import
# (redis.asyncio and all) took ~0.1 s CPU of each crawl's start.

WORKER_ID = f"{socket.gethostname()}-{os.getpid()}"


def is_distributed(settings) -> bool:
    return bool(settings.get("REDIS_URL"))


def feed_uri_params(params: dict, spider) -> dict:
    """FEED_URI_PARAMS: Scrapy's parameters plus ``%(worker)s``: empty in a crawl of one process,
    ``.<host>-<pid>`` for a worker of a distributed crawl, so workers never write the same file."""
    return {**params, "worker": worker_suffix(spider.settings)}


class RedisUnreachable(RuntimeError):
    """REDIS_URL is set but Redis does not answer: the worker stops before crawling anything
    rather than crawl on its own."""


def shared_redis(settings) -> redis.Redis:
    import redis  # noqa: PLC0415 (see above)
    from scrapy_redis.connection import get_redis_from_settings  # noqa: PLC0415

    server = get_redis_from_settings(settings)
    try:
        server.ping()
    except redis.RedisError as exc:
        # The message names the host, never the password in REDIS_URL.
        raise RedisUnreachable(f"REDIS_URL is set but Redis does not answer: {exc}") from None
    return server


def worker_suffix(settings) -> str:
    return f".{WORKER_ID}" if is_distributed(settings) else ""


class DistributedCrawl:
    """Add-on: with REDIS_URL set, the crawl's scheduler and duplicate filter are shared in Redis.

    Settings given on the command line (``-s SCHEDULER=...``) still win over the add-on's.
    """

    def update_settings(self, settings) -> None:
        if not is_distributed(settings):
            return
        settings.set("SCHEDULER", "crawler.shared_scheduler.SharedScheduler", "addon")
        settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", "addon")


class SharedSeenSets:
    """The spiders' seen-sets as Redis sets: one add is one atomic SADD, whichever worker asks."""

    def __init__(self, server, spider_name: str):
        self.server = server
        self.prefix = f"{spider_name}:seen:"

    @classmethod
    def from_settings(cls, settings, spider_name: str) -> "SharedSeenSets":
        return cls(shared_redis(settings), spider_name)

    def first_time(self, name: str, key: str) -> bool:
        return self.server.sadd(f"{self.prefix}{name}", key) == 1

    def clear(self) -> None:
        keys = list(self.server.scan_iter(match=f"{self.prefix}*"))
        if keys:
            self.server.delete(*keys)
