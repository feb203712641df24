from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest
from scrapy import Request
from scrapy.exceptions import UsageError
from scrapy.utils.test import get_crawler

from crawler.middlewares import HostTokenMiddleware, _retry_after_seconds
from crawler.spiders.arguments import list_argument, positive_int_argument
from crawler.spiders.hub import next_link


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
