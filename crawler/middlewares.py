"""Downloader middlewares: offline guard, Retry-After aware retries, per-host auth tokens, GitHub limits."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.response import response_status_message

logger = logging.getLogger(__name__)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class OfflineGuardMiddleware:
    """Refuses, loudly, any request to a host outside ALLOWED_HOSTS and stops the crawl.

    Off unless ALLOWED_HOSTS is set; the tests and the offline demo set it to the mock site.
    """

    def __init__(self, crawler, allowed_hosts):
        self.crawler = crawler
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.closing: asyncio.Task | None = None

    @classmethod
    def from_crawler(cls, crawler):
        allowed = crawler.settings.getlist("ALLOWED_HOSTS")
        if not allowed:
            raise NotConfigured
        return cls(crawler, allowed)

    def process_request(self, request):
        host = _host(request.url)
        if host in self.allowed_hosts:
            return None
        self.crawler.stats.inc_value("offline_guard/blocked")
        logger.critical(
            "Blocked a live request to %s (allowed: %s): this crawl must stay on the local mock site",
            host, ", ".join(sorted(self.allowed_hosts)),
        )
        if self.closing is None:
            # Not awaited: closing waits for requests in flight, this one included.
            self.closing = asyncio.ensure_future(
                self.crawler.engine.close_spider_async(reason="live_request_blocked"))
        raise IgnoreRequest(f"host {host} is not allowed")


def _retry_after_seconds(value: bytes | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's retries, plus a wait before each retry of a response.

    The wait is the server's Retry-After when given (up to RETRY_AFTER_MAX; longer gives up), else
    an exponential backoff from RETRY_BACKOFF_BASE capped at RETRY_BACKOFF_MAX.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX")
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX")

    async def process_response(self, request, response):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retries = request.meta.get("retry_times", 0)
        if retries >= request.meta.get("max_retry_times", self.max_retry_times):
            return self._retry(request, response_status_message(response.status)) or response
        retry_after = _retry_after_seconds(response.headers.get(b"Retry-After"))
        if retry_after is not None:
            if retry_after > self.retry_after_max:
                self.crawler.stats.inc_value("retry/retry_after_too_long")
                logger.warning(
                    "Giving up %s: the server asks to wait %.0f s (more than RETRY_AFTER_MAX=%.0f s)",
                    request.url, retry_after, self.retry_after_max,
                )
                return response
            delay = retry_after
            self.crawler.stats.inc_value("retry/retry_after_honoured")
        else:
            delay = min(self.backoff_base * 2**retries, self.backoff_max)
        if delay > 0:
            logger.info("Waiting %.1f s before retrying %s (HTTP %d)", delay, request.url, response.status)
            await asyncio.sleep(delay)
        return self._retry(request, response_status_message(response.status)) or response


class HostTokenMiddleware:
    """Sends each token as a bearer token to its own API host only, and strips it elsewhere.

    Tokens are read from the environment, never from settings, so they stay out of the settings
    Scrapy logs. A redirect to another host (the Hub's CDN for LFS files) carries no token.
    """

    # token environment variable -> setting that holds the URL of the only host it may go to
    TOKEN_HOSTS = {"HF_TOKEN": "HF_ENDPOINT", "GITHUB_TOKEN": "GITHUB_API_URL"}

    def __init__(self, tokens_by_origin):
        self.tokens_by_origin = tokens_by_origin

    @classmethod
    def from_crawler(cls, crawler):
        tokens = {}
        for env_name, setting in cls.TOKEN_HOSTS.items():
            token = os.environ.get(env_name, "").strip()
            if token:
                tokens[_origin(crawler.settings[setting])] = f"Bearer {token}"
        return cls(tokens)

    def process_request(self, request):
        token = self.tokens_by_origin.get(_origin(request.url))
        if token:
            request.headers[b"Authorization"] = token
        elif b"Authorization" in request.headers:
            del request.headers[b"Authorization"]
        return None

    def process_response(self, request, response):
        # The request goes on to the HTTP cache (which stores its headers) and to retries: it
        # leaves without the token, and gets it again if it is sent again.
        request.headers.pop(b"Authorization", None)
        return response

    def process_exception(self, request, exception):
        # A request that failed goes back to the scheduler for a retry: the job folder's disk
        # queue or a distributed crawl's Redis queue would store its headers.
        request.headers.pop(b"Authorization", None)


def browser_request_not_allowed(request) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: the rendering browser's own requests obey ALLOWED_HOSTS too.

    Reads CRAWLER_ALLOWED_HOSTS (scrapy-playwright passes no crawler to this hook); images,
    fonts and media are never needed to read a table, so they are not fetched either.
    """
    allowed = {h.lower() for h in os.environ.get("CRAWLER_ALLOWED_HOSTS", "").split(",") if h}
    if allowed and _host(request.url) not in allowed:
        logger.critical("Blocked a live browser request to %s", _host(request.url))
        return True
    return request.resource_type in ("image", "font", "media")


class GitHubRateLimitMiddleware:
    """Keeps within GitHub's rate limits on the GITHUB_API_URL host.

    * ``x-ratelimit-remaining: 0`` (on a 403/429 or on a good answer): wait for
      ``x-ratelimit-reset`` if it comes within GITHUB_RATE_LIMIT_MAX_WAIT, then go on; otherwise
      stop the crawl cleanly ("github_rate_limited") with a one-line message on when to retry.
    * 403/429 with ``retry-after`` (secondary limits): wait that long, then retry.
    """

    MAX_RETRIES = 3

    def __init__(self, crawler, api_origin, max_wait):
        self.crawler = crawler
        self.api_origin = api_origin
        self.max_wait = max_wait
        self.blocked_until = 0.0
        self.stopping = False
        self.closing: asyncio.Task | None = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler, _origin(crawler.settings["GITHUB_API_URL"]),
                   crawler.settings.getfloat("GITHUB_RATE_LIMIT_MAX_WAIT"))

    def _is_api(self, request) -> bool:
        return _origin(request.url) == self.api_origin

    async def process_request(self, request):
        if not self._is_api(request):
            return None
        if self.stopping:
            raise IgnoreRequest("the GitHub rate limit is spent")
        wait = self.blocked_until - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        return None

    async def process_response(self, request, response):
        if not self._is_api(request):
            return response
        remaining = response.headers.get(b"x-ratelimit-remaining")
        reset = response.headers.get(b"x-ratelimit-reset")
        spent = remaining is not None and remaining.strip() == b"0" and reset is not None
        limited = response.status in (403, 429)
        if limited and response.headers.get(b"retry-after") is not None:
            delay = _retry_after_seconds(response.headers.get(b"retry-after")) or 0.0
            return await self._wait_and_retry(request, response, delay, "retry_after")
        if spent:
            delay = max(0.0, float(reset) - time.time()) + 1.0  # the reset second itself, then go
            if not limited:  # this answer is good; the next requests must wait for the reset
                if delay > self.max_wait:
                    self._stop(float(reset))
                else:
                    self.blocked_until = max(self.blocked_until, time.time() + delay)
                return response
            return await self._wait_and_retry(request, response, delay, "rate_limit_wait", float(reset))
        return response

    async def _wait_and_retry(self, request, response, delay, kind, reset_epoch=None):
        retries = request.meta.get("github_rate_limit_retries", 0)
        if delay > self.max_wait or retries >= self.MAX_RETRIES:
            self._stop(reset_epoch if reset_epoch is not None else time.time() + delay)
            raise IgnoreRequest("the GitHub rate limit is spent")
        self.crawler.stats.inc_value(f"github/{kind}")
        logger.info("GitHub asks to wait %.0f s (%s); waiting, then retrying %s", delay, kind, request.url)
        self.blocked_until = max(self.blocked_until, time.time() + delay)
        await asyncio.sleep(delay)
        retry = request.replace(dont_filter=True)
        retry.meta["github_rate_limit_retries"] = retries + 1
        return retry

    def _stop(self, reset_epoch: float) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.crawler.stats.inc_value("github/rate_limit_stop")
        when = datetime.fromtimestamp(reset_epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        logger.error(
            "GitHub API rate limit spent until %s: stopping (records so far are kept). Run again after "
            "that, or set GITHUB_TOKEN to raise the limit from 60 to 5,000 requests an hour.", when)
        self.closing = asyncio.ensure_future(
            self.crawler.engine.close_spider_async(reason="github_rate_limited"))
