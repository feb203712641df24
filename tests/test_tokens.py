"""HF_TOKEN reaches the Hub host and nothing else, and appears in no output, log or stats."""

import sqlite3

from tests.conftest import run_crawl

TOKEN = "hf_TESTtokenDoNotLeak1234567890"


def test_token_only_to_the_hub_host_and_never_written(mock_site, tmp_path):
    out = tmp_path / "x.jsonl"
    cache = tmp_path / "cache"
    result = run_crawl(mock_site, "hub_datasets", tmp_path, "-O", str(out),
                       env={"HF_TOKEN": TOKEN, "CRAWLER_STATS_JSON": str(tmp_path / "stats.json"),
                            "CRAWLER_HTTPCACHE_DIR": str(cache)},
                       settings={"LOG_LEVEL": "DEBUG", "HTTPCACHE_GZIP": "False"})
    assert result.returncode == 0
    hub = [r for r in mock_site.requests if r.host == "127.0.0.1"]
    cdn = [r for r in mock_site.requests if r.host == "localhost"]
    assert hub and cdn
    assert {r.authorization for r in hub} == {f"Bearer {TOKEN}"}
    assert {r.authorization for r in cdn} == {None}
    # -O works as usual: the records go to the named file and not to the default feed.
    assert len(out.read_text().splitlines()) == 26
    assert not (result.output_dir / "hub_datasets").exists()
    with sqlite3.connect(cache / "hub_datasets.sqlite") as db:
        cached_requests = [headers for (headers,) in db.execute("SELECT request_headers FROM responses")]
    assert cached_requests and all(b"User-Agent" in headers for headers in cached_requests)
    # The HTTP cache stores request headers (above, uncompressed): none may hold the token.
    written = [out.read_text(), (tmp_path / "stats.json").read_text(), result.log]
    written += [path.read_bytes().decode("latin-1") for path in cache.rglob("*") if path.is_file()]
    assert all(TOKEN not in text for text in written)
    assert "Authorization" not in result.log


def test_without_token_no_authorization_is_sent(mock_site, tmp_path):
    result = run_crawl(mock_site, "hub_datasets", tmp_path, "-a", "search=", env={"HF_TOKEN": ""})
    assert result.returncode == 0 and result.items
    assert {r.authorization for r in mock_site.requests} == {None}
