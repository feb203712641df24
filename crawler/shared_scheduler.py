"""The scheduler of a distributed crawl (crawler/distributed.py): scrapy-redis's, shared by the workers.

In a module of its own so that only a distributed crawl imports scrapy-redis and redis.
"""

from __future__ import annotations

import logging
import time

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.scheduler import Scheduler
from twisted.internet.task import LoopingCall

from crawler.distributed import WORKER_ID, SharedSeenSets

logger = logging.getLogger(__name__)


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
        self.busy_key = f"{self.busy_prefix}{WORKER_ID}"
        self.seen_sets = SharedSeenSets(self.server, spider.name)
        self.heartbeat.start(self.busy_ttl / 3, now=False)
        logger.info("Distributed crawl: worker %s shares %s (%d requests queued)",
                    WORKER_ID, self.queue.key, len(self.queue))

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
