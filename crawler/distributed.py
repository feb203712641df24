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

import logging
import os
import socket
import time

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.connection import get_redis_from_settings
from scrapy_redis.scheduler import Scheduler
from twisted.internet.task import LoopingCall

logger = logging.getLogger(__name__)

_WORKER_ID = f"{socket.gethostname()}-{os.getpid()}"


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
    server = get_redis_from_settings(settings)
    try:
        server.ping()
    except redis.RedisError as exc:
        # The message names the host, never the password in REDIS_URL.
        raise RedisUnreachable(f"REDIS_URL is set but Redis does not answer: {exc}") from None
    return server


def worker_suffix(settings) -> str:
    return f".{_WORKER_ID}" if is_distributed(settings) else ""


class DistributedCrawl:
    """Add-on: with REDIS_URL set, the crawl's scheduler and duplicate filter are shared in Redis.

    Settings given on the command line (``-s SCHEDULER=...``) still win over the add-on's.
    """

    def update_settings(self, settings) -> None:
        if not is_distributed(settings):
            return
        settings.set("SCHEDULER", "crawler.distributed.SharedScheduler", "addon")
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


class SharedScheduler(Scheduler):
    """scrapy-redis's scheduler, plus what several workers of one crawl need.

    * A worker that runs out of requests stays open while another worker has work in hand (its
      responses may queue more requests); it closes once the queue has been empty and every worker
      idle for ``DISTRIBUTED_IDLE_GRACE`` seconds.
    * A worker with work in hand says so in ``<spider>:busy:<worker>``, refreshed every
      ``DISTRIBUTED_WORKER_TTL / 3`` seconds and expiring after ``DISTRIBUTED_WORKER_TTL``: a
      worker that was killed stops holding the others open after that long.
    * A crawl that finishes (reason ``finished``) clears its queue, duplicate filter and seen-sets,
      so the next crawl starts afresh; one that is interrupted (Ctrl-C, a timeout, the GitHub rate
      limit) leaves them, and any worker started later carries on where it stopped.
      ``SCHEDULER_PERSIST = True`` keeps them even after a finished crawl, as in scrapy-redis.
    """

    @classmethod
    def from_crawler(cls, crawler):
        scheduler = super().from_crawler(crawler)
        # scrapy-redis 0.9.1 counts with inc_value(..., spider=...), which Scrapy 2.19 warns is
        # deprecated: this class does the counting instead.
        scheduler.stats = None
        scheduler.crawler = crawler
        scheduler.busy_ttl = crawler.settings.getfloat("DISTRIBUTED_WORKER_TTL")
        scheduler.idle_grace = crawler.settings.getfloat("DISTRIBUTED_IDLE_GRACE")
        scheduler.marked_busy_at = None
        scheduler.quiet_since = None
        scheduler.heartbeat = LoopingCall(scheduler.refresh_busy)
        crawler.signals.connect(scheduler.spider_idle, signal=signals.spider_idle)
        return scheduler

    def open(self, spider):
        super().open(spider)
        self.busy_prefix = f"{spider.name}:busy:"
        self.busy_key = f"{self.busy_prefix}{_WORKER_ID}"
        self.seen_sets = SharedSeenSets(self.server, spider.name)
        self.heartbeat.start(self.busy_ttl / 3, now=False)
        logger.info("Distributed crawl: worker %s shares %s (%d requests queued)",
                    _WORKER_ID, self.queue.key, len(self.queue))

    def enqueue_request(self, request):
        queued = super().enqueue_request(request)
        # filtered: already queued by this crawl, by this worker or another (seeds included)
        self.crawler.stats.inc_value("scheduler/enqueued/redis" if queued else "scheduler/filtered/redis")
        return queued

    def next_request(self):
        request = super().next_request()
        if request is not None:
            self.crawler.stats.inc_value("scheduler/dequeued/redis")
            self.mark_busy()
        return request

    def mark_busy(self, refresh_every: float = 1.0) -> None:
        """Say this worker has work in hand. The first request after idling says so at once: it
        may be the last one queued, and the other workers must not take the crawl for finished."""
        now = time.monotonic()
        if self.marked_busy_at is None or now - self.marked_busy_at >= refresh_every:
            self.server.set(self.busy_key, "1", px=int(self.busy_ttl * 1000))
            self.marked_busy_at = now

    def refresh_busy(self) -> None:
        # Long downloads or a full downloader pop nothing for a while: keep the mark alive.
        if self.marked_busy_at is not None and not self.crawler.engine.spider_is_idle():
            self.mark_busy(refresh_every=0)

    def others_busy(self) -> bool:
        return any(True for _ in self.server.scan_iter(match=f"{self.busy_prefix}*", count=1000))

    def spider_idle(self, spider):
        """Close only when the whole crawl is done, not when this worker's share is."""
        self.server.delete(self.busy_key)
        self.marked_busy_at = None
        if len(self.queue) or self.others_busy():
            self.quiet_since = None
            raise DontCloseSpider
        now = time.monotonic()
        if self.quiet_since is None:
            self.quiet_since = now
        if now - self.quiet_since < self.idle_grace:
            raise DontCloseSpider

    def close(self, reason):
        if self.heartbeat.running:
            self.heartbeat.stop()
        self.server.delete(self.busy_key)
        if reason == "finished" and not self.persist:
            self.flush()
            self.seen_sets.clear()
            logger.info("Distributed crawl finished: cleared %s, its duplicate filter and seen-sets",
                        self.queue.key)
        else:
            logger.info("Distributed crawl closed (%s): %d requests left in %s for the workers "
                        "still running or started later", reason, len(self.queue), self.queue.key)
