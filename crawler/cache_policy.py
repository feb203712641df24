"""The HTTP cache policy: RFC 2616, except for the retry of a broken answer."""

from __future__ import annotations

from scrapy.extensions.httpcache import RFC2616Policy


class RetryAwareRFC2616Policy(RFC2616Policy):
    """RFC 2616 caching, except that the retry of a broken answer (meta ``broken_answer_retry``,
    set by RetryAfterMiddleware: an error page, an undecodable body) is asked of the server afresh,
    without validators, and what it answers replaces the cached copy. The cache may hold that very
    broken answer: revalidated, a 304 would hand it back at every retry."""

    def is_cached_response_fresh(self, cachedresponse, request) -> bool:
        if request.meta.get("broken_answer_retry"):
            return False
        return super().is_cached_response_fresh(cachedresponse, request)

    def is_cached_response_valid(self, cachedresponse, response, request) -> bool:
        if request.meta.get("broken_answer_retry"):
            return False
        return super().is_cached_response_valid(cachedresponse, response, request)
