"""Downloader middlewares: offline guard, retries that ride out outages and broken answers, redirect loops,
per-host auth tokens, GitHub limits."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import CloseSpider, IgnoreRequest, NotConfigured, ResponseDataLossError
from scrapy.utils.response import response_status_message
from w3lib.url import safe_url_string

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
    """Scrapy's retries, with a wait before each that rides out an outage of minutes, and retries
    of answers that are broken although their status is fine.

    Retried: the RETRY_HTTP_CODES; the RETRY_EXCEPTIONS (a refused or dropped connection, a
    timeout, a body shorter than its Content-Length: ``fetch/short_body``); a body whose
    Content-Encoding cannot be decoded (``fetch/broken_encoding``); and, for a request that expects
    JSON (meta ``json_shape``: "list" or "dict"), a 200 that is not JSON of that shape: an HTML
    error page, an empty or cut body (``fetch/error_page``). After the last retry a broken answer
    goes on to its callback, which counts what it cannot read as an input error.

    The wait is the server's Retry-After when given (up to RETRY_AFTER_MAX; longer gives up), else
    RETRY_BACKOFF_BASE * 2**n capped at RETRY_BACKOFF_MAX: with the defaults a request is tried for
    about four minutes. A wait ends early when the crawl is stopping, and the request goes back to
    the queue (kept in the job folder with JOBDIR, for the next run).

    A host that gave no usable answer for a request's whole retry budget, while other requests to
    it failed too, is down rather than serving one bad file: the crawl stops with the finish reason
    ``source_unavailable`` (and ``scrapy crawl`` exits non-zero, see crawler/commands/crawl.py).

    A crawl in which requests failed at the network level (refused, no DNS, timed out: the
    RETRY_EXCEPTIONS) and not one was answered by any server, not even with an error, closes as
    ``network_unreachable`` instead, whether it ran out of requests (it would otherwise "finish"
    with no records, like a source with nothing new) or was stopping for an outage.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX")
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX")
        self.last_usable_answer: dict[str, float] = {}  # host -> time.time() of its last usable answer
        self.failing: dict[str, dict[str, float]] = {}  # host -> URL -> time.time() of its last failure
        self.stopping_for_outage = False
        self.network_failures = 0
        self.last_network_failure = ""
        self.reached_a_server = False
        self.reported_unreachable = False

    @classmethod
    def from_crawler(cls, crawler):
        middleware = super().from_crawler(crawler)
        crawler.signals.connect(middleware.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(middleware.spider_idle, signal=signals.spider_idle)
        return middleware

    def response_downloaded(self, response, request, spider):
        # What the host answered, before the HTTP cache may put its copy in the answer's place.
        # The signal comes for every answer from the network (any status, a redirect, a 304) and
        # never for a copy the cache serves alone: here, and not in process_response, which a
        # middleware above this one (redirects, GitHub's rate limit) may answer first.
        request.meta["network_status"] = response.status
        self.reached_a_server = True

    async def process_response(self, request, response):
        if request.meta.get("dont_retry", False):
            return response
        problem = self.answer_problem(request, response)
        if problem is None:
            # A copy from the cache is news of the host only when the host said it was current (a
            # 304), not when the cache stood in for a failure or answered without asking.
            answered = request.meta.pop("network_status", None)
            if "cached" not in response.flags or answered == 304:
                host = _host(request.url)
                self.last_usable_answer[host] = time.time()
                self.failing.get(host, {}).pop(request.url, None)
            return response
        wait = None
        if response.status not in self.retry_http_codes:
            self.crawler.stats.inc_value(f"fetch/{problem}")
            # The HTTP cache may hold this very answer: the retry asks afresh (crawler/cache_policy.py).
            request.meta["broken_answer_retry"] = True
        elif not self.retries_spent(request):
            wait = _retry_after_seconds(response.headers.get(b"Retry-After"))
            if wait is not None and wait > self.retry_after_max:
                self.crawler.stats.inc_value("retry/retry_after_too_long")
                logger.warning(
                    "Giving up %s: the server asks to wait %.0f s (more than RETRY_AFTER_MAX=%.0f s)",
                    request.url, wait, self.retry_after_max,
                )
                return response
            if wait is not None:
                self.crawler.stats.inc_value("retry/retry_after_honoured")
        return await self.retry_later(request, problem, wait) or response

    async def process_exception(self, request, exception):
        if not isinstance(exception, self.exceptions_to_retry):
            return None
        if isinstance(exception, ResponseDataLossError):  # a server answered, and cut its body short
            self.reached_a_server = True
        else:
            self.network_failures += 1
            self.last_network_failure = f"{_host(request.url)}: {exception.__class__.__name__}: {exception}"
        if request.meta.get("dont_retry", False):
            return None
        if isinstance(exception, ResponseDataLossError):
            self.crawler.stats.inc_value("fetch/short_body")
        return await self.retry_later(request, exception, None)

    def answer_problem(self, request, response) -> str | None:
        """Why this answer is to be retried, or None when it is usable."""
        if response.status in self.retry_http_codes:
            return response_status_message(response.status)
        if "undecodable" in response.flags:
            return "broken_encoding"
        shape = request.meta.get("json_shape")
        if response.status == 200 and shape and not _is_json_of_shape(response, shape):
            return "error_page"
        return None

    def host_is_down(self, host: str, request) -> bool:
        """No usable answer from ``host`` since ``request`` began failing, and other URLs failed too."""
        since = request.meta["failing_since"]
        return self.last_usable_answer.get(host, 0.0) < since and any(
            url != request.url and when >= since for url, when in self.failing[host].items())

    def retries_spent(self, request) -> bool:
        return request.meta.get("retry_times", 0) >= request.meta.get("max_retry_times", self.max_retry_times)

    async def retry_later(self, request, reason, wait: float | None):
        """The retry of ``request``, sent after the wait; None when its retries are spent."""
        host = _host(request.url)
        self.failing.setdefault(host, {})[request.url] = time.time()
        request.meta.setdefault("failing_since", time.time())
        if self.retries_spent(request):
            if self.host_is_down(host, request):
                self.stop_for_outage(host, request)
                return self.for_a_later_run(request)
            del self.failing[host][request.url]
            return self._retry(request, reason)  # None: counts (retry/max_reached) and logs the give-up
        if wait is None:
            wait = min(self.backoff_base * 2 ** request.meta.get("retry_times", 0), self.backoff_max)
        if wait > 0:
            logger.info("Waiting %.1f s before retrying %s (%s)", wait, request.url, reason)
            await self.pause(wait)
        if self.crawl_stopping():
            return self.for_a_later_run(request)
        return self._retry(request, reason)

    async def pause(self, seconds: float) -> None:
        """Sleeps ``seconds``, or less when the crawl starts stopping: a stop need not wait it out."""
        deadline = time.monotonic() + seconds
        while not self.crawl_stopping() and (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.5))

    def crawl_stopping(self) -> bool:
        return self.stopping_for_outage or not self.crawler.engine.running

    @staticmethod
    def for_a_later_run(request):
        """The request as new, for the queue: with JOBDIR a resumed crawl sends it again."""
        again = request.replace(dont_filter=True)
        again.meta.pop("failing_since", None)
        again.meta["retry_times"] = 0
        return again

    def network_unreachable(self) -> bool:
        return self.network_failures > 0 and not self.reached_a_server

    def report_network_unreachable(self) -> None:
        self.reported_unreachable = True
        self.crawler.stats.inc_value("fetch/network_unreachable")
        logger.error(
            "Network unreachable: %d attempts failed and no server answered any request (last: %s). "
            "Check the connection, DNS, a proxy, and the endpoint settings (HF_ENDPOINT, GITHUB_API_URL, ...).",
            self.network_failures, self.last_network_failure,
        )

    def spider_idle(self, spider):
        """Out of requests with every one failed at the network level: not a crawl that "finished"."""
        if self.network_unreachable():
            if not self.reported_unreachable:
                self.report_network_unreachable()
            raise CloseSpider("network_unreachable")

    def stop_for_outage(self, host: str, request) -> None:
        if self.stopping_for_outage:
            return
        self.stopping_for_outage = True
        if self.network_unreachable():
            self.report_network_unreachable()
            reason = "network_unreachable"
        else:
            self.crawler.stats.inc_value("fetch/source_unavailable")
            logger.error(
                "%s gave no usable answer for %.0f s (every retry of %s failed): stopping the crawl "
                "(source_unavailable). Run it again later; with -s JOBDIR=... it carries on where it stopped.",
                host, time.time() - request.meta["failing_since"], request.url,
            )
            reason = "source_unavailable"
        # Not awaited: closing waits for the requests in flight, this one included.
        asyncio.ensure_future(self.crawler.engine.close_spider_async(reason=reason))


def _is_json_of_shape(response, shape: str) -> bool:
    try:
        value = json.loads(response.text)
    except (ValueError, AttributeError):  # AttributeError: a binary answer has no text
        return False
    return isinstance(value, {"list": list, "dict": dict}[shape])


class TolerantHttpCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's decompression, except that a body that cannot be decoded (a broken gzip) goes on
    undecoded with the flag "undecodable", for RetryAfterMiddleware to retry, instead of failing
    its request at once (an error raised here is never retried)."""

    def process_response(self, request, response):
        try:
            return super().process_response(request, response)
        except IgnoreRequest:  # larger than DOWNLOAD_MAXSIZE once decoded
            raise
        except Exception as error:  # gzip, zlib, brotli and zstd each raise errors of their own
            logger.warning("Cannot decode the %s body of %s: %s",
                           response.headers.get(b"Content-Encoding", b"").decode("latin-1"), request.url, error)
            return response.replace(flags=[*response.flags, "undecodable"])


class RedirectLoop(IgnoreRequest):
    """A redirect back to a URL the request already went through."""


class RedirectLoopMiddleware:
    """Sees a redirect before RedirectMiddleware does: one back to a URL of its own chain is a loop,
    counted (``fetch/redirect_loop``) and failed with RedirectLoop for the errback to count, where
    Scrapy would drop it in its duplicate filter without a word."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response):
        location = response.headers.get(b"Location")
        if response.status not in (301, 302, 303, 307, 308) or not location or request.meta.get("dont_redirect"):
            return response
        target = urljoin(request.url, safe_url_string(location))
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if target not in chain:
            return response
        self.crawler.stats.inc_value("fetch/redirect_loop")
        raise RedirectLoop(f"redirect loop: {' -> '.join([*chain[chain.index(target):], target])}")


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
