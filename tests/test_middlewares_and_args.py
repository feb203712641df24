from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest
from scrapy import Request
from scrapy.exceptions import UsageError
from scrapy.utils.test import get_crawler

from crawler.middlewares import HostTokenMiddleware, _retry_after_seconds
from crawler.spiders.arguments import list_argument, positive_int_argument
from crawler.spiders.base import next_link


@pytest.mark.parametrize("header, seconds", [(b"5", 5.0), (b" 0 ", 0.0), (b"soon", None), (None, None)])
def test_retry_after_seconds(header, seconds):
    assert _retry_after_seconds(header) == seconds


def test_retry_after_http_date():
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 <= _retry_after_seconds(format_datetime(when, usegmt=True).encode()) <= 30


def token_middleware(monkeypatch, endpoint):
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    return HostTokenMiddleware.from_crawler(get_crawler(settings_dict={"HF_ENDPOINT": endpoint}))


def test_token_goes_to_the_hub_host_only(monkeypatch):
    middleware = token_middleware(monkeypatch, "https://huggingface.co")
    hub = Request("https://huggingface.co/api/datasets?search=energy")
    cdn = Request("https://cdn-lfs.huggingface.co/x.parquet", headers={"Authorization": "Bearer hf_secret"})
    other_port = Request("https://huggingface.co:8443/api/datasets")
    downgraded = Request("http://huggingface.co/api/datasets")
    for request in (hub, cdn, other_port, downgraded):
        middleware.process_request(request)
    assert hub.headers[b"Authorization"] == b"Bearer hf_secret"
    assert [b"Authorization" in r.headers for r in (cdn, other_port, downgraded)] == [False] * 3


def test_a_failed_request_goes_back_for_a_retry_without_its_token(monkeypatch):
    # The retry is queued again: on disk with JOBDIR, in Redis in a distributed crawl.
    middleware = token_middleware(monkeypatch, "https://huggingface.co")
    request = Request("https://huggingface.co/api/models?search=llama")
    middleware.process_request(request)
    assert middleware.process_exception(request, TimeoutError()) is None
    assert b"Authorization" not in request.headers


def test_no_token_no_header(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    middleware = HostTokenMiddleware.from_crawler(get_crawler())
    request = Request("https://huggingface.co/api/datasets")
    middleware.process_request(request)
    assert b"Authorization" not in request.headers


def test_next_link():
    header = (b'<https://huggingface.co/api/datasets?search=x&cursor=abc>; rel="next", '
              b'<https://huggingface.co/api/datasets?search=x>; rel="first"')
    assert next_link(header) == "https://huggingface.co/api/datasets?search=x&cursor=abc"
    assert next_link(b'<https://x/1>; rel="prev"') is None
    assert next_link(None) is None


def test_list_argument():
    assert list_argument("search", None, ("energy",)) == ("energy",)
    assert list_argument("search", "a, b ,,c", ()) == ("a", "b", "c")
    assert list_argument("ids", "", ("x",)) == ()


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5"])
def test_bad_positive_int_argument_is_a_usage_error(value):
    with pytest.raises(UsageError, match=f"max_pages={value!r}"):
        positive_int_argument("max_pages", value, None)


def test_positive_int_argument():
    assert positive_int_argument("max_pages", "3", None) == 3
    assert positive_int_argument("max_pages", None, 50) == 50


class RecordedSleeps:
    def __init__(self):
        self.delays = []

    async def __call__(self, delay):
        self.delays.append(delay)


@pytest.fixture
def retry_middleware(monkeypatch):
    import asyncio

    from scrapy import Spider

    from crawler import middlewares

    crawler = get_crawler(Spider, settings_dict={"RETRY_BACKOFF_BASE": 2.0, "RETRY_BACKOFF_MAX": 5.0,
                                                 "RETRY_AFTER_MAX": 60.0, "RETRY_TIMES": 3})
    crawler.spider = crawler._create_spider("test")
    crawler.stats.open_spider()
    crawler.engine = RunningEngine()
    sleeps = RecordedSleeps()
    middleware = middlewares.RetryAfterMiddleware.from_crawler(crawler)
    monkeypatch.setattr(middleware, "pause", sleeps)
    return middleware, sleeps, crawler, asyncio.run


class RunningEngine:
    """The engine as the retry middleware sees it: running, and asked to close for a reason."""

    running = True

    def __init__(self):
        self.closed_for = []

    async def close_spider_async(self, reason):
        self.closed_for.append(reason)


def respond(status, retry_times=0, **headers):
    from scrapy.http import Response

    request = Request("https://huggingface.co/api/datasets", meta={"retry_times": retry_times})
    return request, Response(request.url, status=status, headers=headers)


def test_retry_after_is_honoured(retry_middleware):
    middleware, sleeps, crawler, run = retry_middleware
    retried = run(middleware.process_response(*respond(429, **{"Retry-After": "7"})))
    assert isinstance(retried, Request) and retried.meta["retry_times"] == 1
    assert sleeps.delays == [7.0]
    assert crawler.stats.get_value("retry/retry_after_honoured") == 1


def test_without_retry_after_the_wait_doubles_up_to_the_cap(retry_middleware):
    middleware, sleeps, _, run = retry_middleware
    for retries in (0, 1, 2):
        assert isinstance(run(middleware.process_response(*respond(503, retries))), Request)
    assert sleeps.delays == [2.0, 4.0, 5.0]  # 2 * 2**n, capped at RETRY_BACKOFF_MAX = 5


def test_too_long_retry_after_or_spent_retries_give_up(retry_middleware):
    middleware, sleeps, crawler, run = retry_middleware
    request, response = respond(429, **{"Retry-After": "3600"})
    assert run(middleware.process_response(request, response)) is response
    request, response = respond(503, retry_times=3)
    assert run(middleware.process_response(request, response)) is response
    assert sleeps.delays == []
    assert crawler.stats.get_value("retry/retry_after_too_long") == 1


def test_other_statuses_pass_through(retry_middleware):
    middleware, sleeps, _, run = retry_middleware
    request, response = respond(404)
    assert run(middleware.process_response(request, response)) is response


def test_browser_requests_obey_allowed_hosts(monkeypatch):
    from types import SimpleNamespace

    from crawler.middlewares import browser_request_not_allowed

    page = SimpleNamespace(url="http://127.0.0.1:8000/app", resource_type="document")
    script = SimpleNamespace(url="https://cdn.example.com/gradio.js", resource_type="script")
    image = SimpleNamespace(url="http://127.0.0.1:8000/logo.png", resource_type="image")
    monkeypatch.setenv("CRAWLER_ALLOWED_HOSTS", "127.0.0.1,localhost")
    assert [browser_request_not_allowed(r) for r in (page, script, image)] == [False, True, True]
    monkeypatch.delenv("CRAWLER_ALLOWED_HOSTS")
    assert [browser_request_not_allowed(r) for r in (page, script, image)] == [False, False, True]


def test_json_of_the_wrong_shape_or_not_json_is_counted_and_skipped():
    from scrapy.http import TextResponse

    from crawler.spiders.base import MeasurementSpider

    crawler = get_crawler(MeasurementSpider)
    crawler.stats.open_spider()
    spider = MeasurementSpider.from_crawler(crawler, name="probe")

    def answer(body, content_type=b"application/json"):
        return TextResponse("https://api.github.com/x", body=body, encoding="utf-8",
                            headers={"Content-Type": content_type})

    assert spider.json_or_none(answer(b'[{"id": 1}]'), list) == [{"id": 1}]
    assert spider.json_or_none(answer(b'{"message": "moved"}'), list) is None
    assert spider.json_or_none(answer(b"<html>502</html>", b"text/html"), dict) is None
    assert crawler.stats.get_value("extract/error/unexpected_api_shape") == 1
    assert crawler.stats.get_value("extract/error/invalid_api_json") == 1


def json_request(retry_times=0, search="a", **meta):
    return Request(f"https://huggingface.co/api/models?search={search}",
                   meta={"json_shape": "list", "retry_times": retry_times, **meta})


def answer(request, body, status=200, content_type=b"application/json"):
    from scrapy.http import TextResponse

    return TextResponse(request.url, status=status, body=body, headers={"Content-Type": content_type})


def test_an_error_page_where_json_is_expected_is_retried_then_passed_on(retry_middleware):
    middleware, sleeps, crawler, run = retry_middleware
    request = json_request()
    for body in (b"<html><h1>502 Bad Gateway</h1></html>", b"", b'{"error": "not a list"}', b'[{"id": "x"'):
        retried = run(middleware.process_response(request, answer(request, body)))
        assert isinstance(retried, Request) and retried.meta["retry_times"] == 1, body
    assert sleeps.delays == [2.0] * 4 and crawler.stats.get_value("fetch/error_page") == 4
    spent = json_request(retry_times=3)
    html = answer(spent, b"<html>502</html>", content_type=b"text/html")
    assert run(middleware.process_response(spent, html)) is html  # the callback counts it
    listing = answer(request, b'[{"id": "x"}]')
    assert run(middleware.process_response(request, listing)) is listing
    assert crawler.engine.closed_for == []


def test_a_short_body_is_counted_and_retried_after_a_wait(retry_middleware):
    from scrapy.exceptions import ResponseDataLossError

    middleware, sleeps, crawler, run = retry_middleware
    retried = run(middleware.process_exception(json_request(retry_times=1), ResponseDataLossError()))
    assert isinstance(retried, Request) and retried.meta["retry_times"] == 2
    assert sleeps.delays == [4.0] and crawler.stats.get_value("fetch/short_body") == 1
    assert run(middleware.process_exception(json_request(retry_times=3), ResponseDataLossError())) is None


def test_a_host_with_no_usable_answer_for_a_whole_retry_budget_stops_the_crawl(retry_middleware):
    import asyncio
    import time

    middleware, _, crawler, run = retry_middleware

    async def outage():
        # Failing for four minutes (its retries are spent), while another URL fails too.
        first = json_request(retry_times=3, failing_since=time.time() - 240)
        other = json_request(retry_times=1, search="b")
        assert isinstance(await middleware.process_response(other, answer(other, b"", 503)), Request)
        kept = await middleware.process_response(first, answer(first, b"", 503))
        await asyncio.sleep(0)  # the close the middleware asked for
        return kept

    kept = run(outage())
    assert crawler.engine.closed_for == ["source_unavailable"]
    assert crawler.stats.get_value("fetch/source_unavailable") == 1
    # Not given up: back to the queue as new, for a resumed crawl (JOBDIR) to send again.
    assert isinstance(kept, Request) and kept.meta["retry_times"] == 0 and kept.dont_filter


def test_one_url_failing_while_its_host_answers_is_given_up_alone(retry_middleware):
    import time

    middleware, _, crawler, run = retry_middleware

    async def one_bad_url():
        bad = json_request(retry_times=3, failing_since=time.time() - 240)
        other = json_request(retry_times=1, search="b")
        await middleware.process_response(other, answer(other, b"", 503))
        good = json_request(search="c")
        await middleware.process_response(good, answer(good, b"[]"))
        last = answer(bad, b"", 503)
        return last, await middleware.process_response(bad, last)

    last, result = run(one_bad_url())
    assert result is last and crawler.engine.closed_for == []
    assert crawler.stats.get_value("retry/max_reached") == 1


def test_a_stopping_crawl_does_not_wait_and_keeps_the_request_for_later(retry_middleware):
    middleware, _, crawler, run = retry_middleware
    crawler.engine.running = False  # Ctrl-C: the engine is stopping
    request = json_request(retry_times=1)
    kept = run(middleware.process_response(request, answer(request, b"", 503)))
    assert isinstance(kept, Request) and kept.meta["retry_times"] == 0 and kept.dont_filter


def test_a_redirect_back_into_its_own_chain_is_a_counted_loop():
    from scrapy import Spider
    from scrapy.http import Response

    from crawler.middlewares import RedirectLoop, RedirectLoopMiddleware

    crawler = get_crawler(Spider)
    crawler.stats.open_spider()
    middleware = RedirectLoopMiddleware.from_crawler(crawler)
    start = "https://huggingface.co/api/models?search=a"
    request = Request(f"{start}&hop=1", meta={"redirect_urls": [start]})
    onward = Response(request.url, status=302, headers={"Location": "https://cdn-lfs.huggingface.co/x"})
    assert middleware.process_response(request, onward) is onward
    back = Response(request.url, status=302, headers={"Location": "/api/models?search=a"})
    with pytest.raises(RedirectLoop, match=r"search=a -> .*search=a&hop=1 -> .*search=a$"):
        middleware.process_response(request, back)
    itself = Request(start)
    with pytest.raises(RedirectLoop):
        middleware.process_response(itself, Response(start, status=301, headers={"Location": start}))
    assert crawler.stats.get_value("fetch/redirect_loop") == 2


def test_an_undecodable_body_goes_on_flagged_for_a_retry():
    import gzip

    from scrapy import Spider
    from scrapy.http import Response

    from crawler.middlewares import TolerantHttpCompressionMiddleware

    crawler = get_crawler(Spider)
    crawler.spider = crawler._create_spider("test")
    crawler.stats.open_spider()
    middleware = TolerantHttpCompressionMiddleware.from_crawler(crawler)
    request = Request("https://huggingface.co/api/models")
    zipped = gzip.compress(b'[{"id": "x"}]')
    broken = Response(request.url, body=zipped[:10] + b"\xff" * 20, headers={"Content-Encoding": "gzip"})
    kept = middleware.process_response(request, broken)
    assert "undecodable" in kept.flags and kept.body == broken.body
    whole = Response(request.url, body=zipped, headers={"Content-Encoding": "gzip"})
    assert middleware.process_response(request, whole).body == b'[{"id": "x"}]'


@pytest.mark.parametrize("network_status, host_down", [(304, False), (503, True)])
def test_a_cached_copy_is_news_of_the_host_only_after_a_304(retry_middleware, network_status, host_down):
    import time

    middleware, _, crawler, run = retry_middleware

    async def cached_copy_meanwhile():
        first = json_request(retry_times=3, failing_since=time.time() - 240)
        other = json_request(retry_times=1, search="b")
        await middleware.process_response(other, answer(other, b"", 503))
        cached = json_request(search="c")
        copy = answer(cached, b"[]").replace(flags=["cached"])
        middleware.response_downloaded(answer(cached, b"", network_status), cached, None)
        await middleware.process_response(cached, copy)
        return await middleware.process_response(first, answer(first, b"", 503))

    run(cached_copy_meanwhile())
    assert crawler.engine.closed_for == (["source_unavailable"] if host_down else [])


def refused():
    from twisted.internet.error import ConnectionRefusedError

    return ConnectionRefusedError("Connection refused")


def test_requests_that_all_failed_to_connect_close_the_idle_crawl_as_network_unreachable(retry_middleware):
    from scrapy.exceptions import CloseSpider

    middleware, _, crawler, run = retry_middleware
    middleware.spider_idle(crawler.spider)  # nothing failed (nothing sent): it may finish
    # Given up (no retry left): a failure at the network level, and no other answer.
    assert run(middleware.process_exception(json_request(retry_times=3), refused())) is None
    for _ in range(2):  # the engine may ask again while closing: one count, one log line
        with pytest.raises(CloseSpider) as closing:
            middleware.spider_idle(crawler.spider)
        assert closing.value.reason == "network_unreachable"
    assert crawler.stats.get_value("fetch/network_unreachable") == 1


@pytest.mark.parametrize(("downloaded", "status", "reached"), [
    (True, 503, True),  # any answer, a 503 included: the network works, the source does not
    (True, 302, True),  # a redirect, which the redirect middleware answers before this one sees it
    (True, 304, True),  # the host said the cached copy is current
    (False, 200, False),  # the HTTP cache standing in alone: no server was reached
])
def test_only_an_answer_from_a_server_rules_out_network_unreachable(retry_middleware, downloaded, status, reached):
    from scrapy.exceptions import CloseSpider
    from scrapy.http import TextResponse

    middleware, _, crawler, run = retry_middleware
    assert run(middleware.process_exception(json_request(retry_times=3), refused())) is None
    request = json_request(retry_times=3, search="b")
    if downloaded:  # what the downloader signals for every answer from the network
        middleware.response_downloaded(TextResponse(request.url, status=status, body=b""), request, None)
    else:
        run(middleware.process_response(request, TextResponse(request.url, status=status, body=b"", flags=["cached"])))
    if reached:
        middleware.spider_idle(crawler.spider)
    else:
        with pytest.raises(CloseSpider):
            middleware.spider_idle(crawler.spider)


def test_a_body_cut_short_is_an_answer_not_an_unreachable_network(retry_middleware):
    from scrapy.exceptions import ResponseDataLossError

    middleware, _, crawler, run = retry_middleware
    assert run(middleware.process_exception(json_request(retry_times=3), refused())) is None
    cut_short = json_request(retry_times=3, search="b")
    assert run(middleware.process_exception(cut_short, ResponseDataLossError("body cut short"))) is None
    middleware.spider_idle(crawler.spider)  # a server answered: the crawl may finish
    assert crawler.stats.get_value("fetch/network_unreachable") is None


def test_an_outage_in_which_no_server_ever_answered_stops_as_network_unreachable(retry_middleware):
    import asyncio
    import time

    middleware, _, crawler, run = retry_middleware

    async def outage():
        other = json_request(retry_times=1, search="b")
        assert isinstance(await middleware.process_exception(other, refused()), Request)
        first = json_request(retry_times=3, failing_since=time.time() - 240)
        kept = await middleware.process_exception(first, refused())
        await asyncio.sleep(0)  # the close the middleware asked for
        return kept

    assert isinstance(run(outage()), Request)
    assert crawler.engine.closed_for == ["network_unreachable"]
    assert crawler.stats.get_value("fetch/network_unreachable") == 1
    assert crawler.stats.get_value("fetch/source_unavailable") is None
