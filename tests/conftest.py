"""Shared test set-up: no network, a local mock site, and a helper that runs a real crawl."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.items import discussion_schema, measurement_schema
from crawler.pipelines.validate_schema import schema_validator
from demosite.__main__ import crawl_environment
from demosite.server import MockSite

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def refuse_network(monkeypatch):
    """Any connection from the test process to a non-loopback address fails loudly."""
    real_connect = socket.socket.connect

    def guarded_connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


REDIS_PASSWORD = "redis-password-b71f0c"


@pytest.fixture
def redis_url(tmp_path):
    """A real redis-server (Debian's package) of the test's own, on a Unix socket: no port to
    collide with, nothing reachable from outside. It asks for a password, as a deployed one
    should (REDIS_PASSWORD). Stopped, with its data, when the test ends."""
    if not shutil.which("redis-server"):
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing: scripts/test installs it in CI")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    import redis

    socket_path = tmp_path / "redis.sock"
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(socket_path), "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path), "--requirepass", REDIS_PASSWORD],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"unix://{socket_path}?password={REDIS_PASSWORD}"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert server.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def mock_site():
    with MockSite() as site:
        yield site


_VALIDATOR = schema_validator(measurement_schema())
_DISCUSSION_VALIDATOR = schema_validator(discussion_schema())


def assert_valid_record(record: dict) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in _VALIDATOR.iter_errors(record)]
    assert not errors, f"record breaks the schema: {errors}\n{record}"


def assert_expected_fields(records_by_key: dict, expected: dict) -> None:
    """Exactly the expected records, each with the expected value of every field named."""
    assert set(records_by_key) == set(expected)
    for key, fields in expected.items():
        for name, value in fields.items():
            actual = records_by_key[key][name]
            if isinstance(value, float):
                assert actual == pytest.approx(value, rel=1e-9), (key, name)
            else:
                assert actual == value, (key, name)


@dataclass
class CrawlResult:
    items: list[dict]
    discussions: list[dict]
    stats: dict
    log: str
    returncode: int
    output_dir: Path

    def stat(self, key: str) -> int:
        return self.stats.get(key, 0)


# Retries wait 0.05 s doubling to 0.2 s: the same retries as on the real sources, in a moment.
FAST_RETRIES = ("-s", "RETRY_BACKOFF_BASE=0.05", "-s", "RETRY_BACKOFF_MAX=0.2")


def scrapy_crawl(spider: str, log_file: Path, *args: str) -> list[str]:
    """The ``scrapy crawl`` command line of the tests: no waiting on a local site, a log file."""
    return [sys.executable, "-m", "scrapy", "crawl", spider, "-s", f"LOG_FILE={log_file}",
            "-s", "AUTOTHROTTLE_START_DELAY=0.01", "-s", "AUTOTHROTTLE_MAX_DELAY=0.5", *FAST_RETRIES, *args]


def feed_records(folder: Path) -> tuple[list[dict], list[dict]]:
    """The Measurement and Discussion records of every JSONL feed in ``folder``."""
    items, discussions = [], []
    for feed in sorted(folder.glob("*.jsonl")):
        records = [json.loads(line) for line in feed.read_text("utf-8").splitlines()]
        (discussions if feed.name.endswith(".discussions.jsonl") else items).extend(records)
    return items, discussions


def run_crawl(site: MockSite, spider: str, tmp_path: Path, *args: str, env: dict | None = None,
              settings: dict | None = None) -> CrawlResult:
    """Run ``scrapy crawl`` for real (its own process, project settings) against the mock site.

    Every item it wrote is validated against the shipped schema before the test sees it.
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    output_dir = tmp_path / "output"
    log_file = tmp_path / f"{spider}.log"
    environment = crawl_environment(site, output_dir)
    environment.update(env or {})
    # Each crawl has an HTTP cache of its own unless a test shares one on purpose (CRAWLER_HTTPCACHE_DIR).
    environment.setdefault("CRAWLER_HTTPCACHE_DIR", str(tmp_path / "httpcache"))
    command = scrapy_crawl(spider, log_file, *args)
    for key, value in (settings or {}).items():
        command += ["-s", f"{key}={value}"]
    completed = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True,
                               timeout=300)
    items, discussions = feed_records(output_dir / spider)
    for item in items:
        assert_valid_record(item)
    for discussion in discussions:
        errors = [e.message for e in _DISCUSSION_VALIDATOR.iter_errors(discussion)]
        assert not errors, f"discussion breaks the schema: {errors}\n{discussion}"
    stats_files = sorted((output_dir / "stats").glob(f"{spider}-*.json"))
    stats = json.loads(stats_files[-1].read_text()) if stats_files else {}
    log = log_file.read_text("utf-8") if log_file.exists() else ""
    return CrawlResult(items, discussions, stats, log + completed.stdout + completed.stderr,
                       completed.returncode, output_dir)
