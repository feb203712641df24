"""The HTTP cache's storage: one SQLite file per spider, what it stores and gives back."""

import pickle
import sqlite3
import time
import zlib

import pytest
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler
from twisted.internet.task import Clock

from crawler.http_cache import WRITE_AFTER_S, SqliteCacheStorage


def storage_for(tmp_path, clock=None, **settings):
    crawler = get_crawler(settings_dict={"HTTPCACHE_DIR": str(tmp_path / "cache"), **settings})
    crawler.spider = type("Spider", (), {"name": "hub_models", "crawler": crawler})()
    storage = SqliteCacheStorage(crawler.settings, call_later=(clock or Clock()).callLater)
    storage.open_spider(crawler.spider)
    return storage, crawler.spider


def rows_seen_by_another_crawl(tmp_path) -> int:
    with sqlite3.connect(tmp_path / "cache" / "hub_models.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


@pytest.mark.parametrize("gzip", [True, False])
def test_a_stored_response_comes_back_as_it_was(tmp_path, gzip):
    storage, spider = storage_for(tmp_path, HTTPCACHE_GZIP=gzip)
    request = Request("http://hub.test/api/models?search=a", headers={"Accept": "application/json"})
    response = TextResponse("http://hub.test/api/models?search=a&x=1", status=200, body=b'[{"id": "a/b"}]' * 50,
                            headers={"ETag": '"abc"', "Link": ["<http://hub.test/next>; rel=next", "<x>; rel=last"]},
                            encoding="utf-8", flags=["cached"])
    assert storage.retrieve_response(spider, request) is None
    storage.store_response(spider, request, response)
    cached = storage.retrieve_response(spider, request)
    assert type(cached) is TextResponse and cached.flags == ["cached"]
    assert (cached.url, cached.status, cached.body) == (response.url, 200, response.body)
    assert cached.headers.getlist("Link") == [b"<http://hub.test/next>; rel=next", b"<x>; rel=last"]
    assert cached.headers[b"ETag"] == b'"abc"'
    assert request.meta["cache_timestamp"] > 0
    assert storage.retrieve_response(spider, Request("http://hub.test/api/models?search=b")) is None
    storage.close_spider(spider)
    with sqlite3.connect(tmp_path / "cache" / "hub_models.sqlite") as db:
        (body, request_headers, response_headers), = db.execute(
            "SELECT response_body, request_headers, response_headers FROM responses")
    # HTTPCACHE_GZIP compresses the body alone: headers are too short to gain from it.
    assert (body == response.body) is not gzip and body == (zlib.compress(response.body, 1) if gzip else response.body)
    assert b"Accept: application/json" in request_headers and b'Etag: "abc"' in response_headers


def test_a_response_stored_by_the_earlier_format_comes_back(tmp_path):
    """Rows written before the headers were stored uncompressed (`compressed` = 1: every header
    and body blob compressed) are still given back."""
    storage, spider = storage_for(tmp_path)
    request = Request("http://hub.test/old")
    fingerprint = spider.crawler.request_fingerprinter.fingerprint(request).hex()
    extra = {key: value for key, value in TextResponse(request.url, body=b"", encoding="utf-8").to_dict().items()
             if key not in {"url", "status", "headers", "body"}}
    storage.db.execute(
        "INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (fingerprint, time.time(), request.url, "GET", zlib.compress(b""), zlib.compress(b""), 200, request.url,
         zlib.compress(b"ETag: old\r\n"), zlib.compress(b"stored long ago"), pickle.dumps(extra), 1))
    cached = storage.retrieve_response(spider, request)
    assert (cached.body, cached.headers[b"ETag"]) == (b"stored long ago", b"old")


def test_a_response_stored_again_replaces_the_first(tmp_path):
    storage, spider = storage_for(tmp_path)
    request = Request("http://hub.test/a/resolve/main/README.md")
    storage.store_response(spider, request, TextResponse(request.url, body=b"old", encoding="utf-8"))
    storage.store_response(spider, request, TextResponse(request.url, body=b"new", encoding="utf-8"))
    assert storage.retrieve_response(spider, request).body == b"new"


def test_an_expired_response_is_not_given_back(tmp_path):
    storage, spider = storage_for(tmp_path, HTTPCACHE_EXPIRATION_SECS=60)
    request = Request("http://hub.test/a")
    storage.store_response(spider, request, TextResponse(request.url, body=b"x", encoding="utf-8"))
    assert storage.retrieve_response(spider, request) is not None
    storage.write_stored()
    storage.db.execute("UPDATE responses SET stored_at = stored_at - 61")
    assert storage.retrieve_response(spider, request) is None


def test_two_crawls_share_one_cache_file(tmp_path):
    clock = Clock()
    first, spider = storage_for(tmp_path, clock)
    second, _ = storage_for(tmp_path, clock)
    request = Request("http://hub.test/a")
    first.store_response(spider, request, TextResponse(request.url, body=b"from the first", encoding="utf-8"))
    second.store_response(spider, Request("http://hub.test/b"), TextResponse("http://hub.test/b", body=b"b"))
    clock.advance(WRITE_AFTER_S)  # both write, one after the other
    assert second.retrieve_response(spider, request).body == b"from the first"
    assert first.retrieve_response(spider, Request("http://hub.test/b")).body == b"b"


def test_responses_are_written_together_after_a_short_wait_and_at_close(tmp_path):
    clock = Clock()
    storage, spider = storage_for(tmp_path, clock)
    requests = [Request(f"http://hub.test/{name}") for name in "abc"]
    for request in requests[:2]:
        storage.store_response(spider, request, TextResponse(request.url, body=b"x", encoding="utf-8"))
    # The crawl reads its own responses at once; another crawl sees them once they are written.
    assert storage.retrieve_response(spider, requests[0]).body == b"x"
    assert rows_seen_by_another_crawl(tmp_path) == 0
    clock.advance(WRITE_AFTER_S - 0.1)
    assert rows_seen_by_another_crawl(tmp_path) == 0
    clock.advance(0.1)
    assert rows_seen_by_another_crawl(tmp_path) == 2
    assert not storage.db.in_transaction  # the file's lock is held for the write alone
    assert storage.retrieve_response(spider, requests[1]).body == b"x"  # now from the file
    # The next response starts the wait again; closing writes it without waiting.
    storage.store_response(spider, requests[2], TextResponse(requests[2].url, body=b"x", encoding="utf-8"))
    assert rows_seen_by_another_crawl(tmp_path) == 2
    storage.close_spider(spider)
    assert rows_seen_by_another_crawl(tmp_path) == 3
    assert not clock.getDelayedCalls()  # the write scheduled for it was called off


def test_a_write_the_file_refuses_is_logged_and_the_crawl_goes_on(tmp_path, caplog):
    clock = Clock()
    storage, spider = storage_for(tmp_path, clock)
    other = sqlite3.connect(tmp_path / "cache" / "hub_models.sqlite", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holds the file
    storage.db.execute("PRAGMA busy_timeout = 0")
    request = Request("http://hub.test/a")
    storage.store_response(spider, request, TextResponse(request.url, body=b"x", encoding="utf-8"))
    clock.advance(WRITE_AFTER_S)
    assert "Could not write 1 responses to the HTTP cache" in caplog.text
    assert not storage.db.in_transaction
    other.execute("ROLLBACK")
    storage.store_response(spider, request, TextResponse(request.url, body=b"y", encoding="utf-8"))
    storage.close_spider(spider)
    assert rows_seen_by_another_crawl(tmp_path) == 1
