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
    sleeps = RecordedSleeps()
    monkeypatch.setattr(middlewares.asyncio, "sleep", sleeps)
    middleware = middlewares.RetryAfterMiddleware.from_crawler(crawler)
    return middleware, sleeps, crawler, asyncio.run


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
