"""Distributed crawling: workers of one crawl share a Redis scheduler and duplicate filter.

Real redis-server, real ``scrapy crawl`` processes, switched on by REDIS_URL alone.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from scrapy.utils.test import get_crawler

from crawler.distributed import feed_uri_params
from crawler.settings import ADDONS
from crawler.spiders.base import MeasurementSpider
from crawler.spiders.hub_models import HubModelsSpider
from demosite.__main__ import DEMO_ARGUMENTS, crawl_environment
from demosite.hub import GENERATED_ORG
from demosite.server import MockSite
from tests.conftest import (REDIS_PASSWORD, ROOT, assert_valid_record, feed_records, run_crawl,
                            scrapy_crawl)

MODELS = 2000
PAGE_SIZE = 100
# Two searches whose listings overlap: "bench/" lists all 2,000 generated models, "model-00" the
# 1,000 numbered below 1000. A model met in both is read once, whichever worker meets it second.
SEARCHES = "bench/,model-00"


@pytest.fixture
def start_worker(tmp_path, redis_url):
    """Starts `scrapy crawl hub_models` workers of one distributed crawl; none outlives the test."""
    started = []

    def start(site: MockSite, name: str, *args: str) -> subprocess.Popen:
        started.append(worker_process(site, tmp_path, name, redis_url, *args))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def worker_process(site: MockSite, work: Path, name: str, redis_url: str, *args: str) -> subprocess.Popen:
    folder = work / name
    folder.mkdir(parents=True)
    environment = {**crawl_environment(site, folder / "output"), "REDIS_URL": redis_url,
                   "CRAWLER_HTTPCACHE_DIR": str(folder / "httpcache"),
                   "CRAWLER_STATS_JSON": str(folder / "stats.json")}
    command = scrapy_crawl("hub_models", folder / "crawl.log", "-a", "ids=", "-a", "filter=", *args)
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def worker_result(work: Path, name: str) -> tuple[list[dict], dict]:
    folder = work / name
    records, _ = feed_records(folder / "output" / "hub_models")
    stats_file = folder / "stats.json"
    return records, json.loads(stats_file.read_text()) if stats_file.exists() else {}


def test_two_workers_share_one_crawl_and_yield_every_record_once(tmp_path, redis_url, start_worker):
    with MockSite(page_size=PAGE_SIZE, generated_models=MODELS) as site:
        workers = [start_worker(site, name, "-a", f"search={SEARCHES}") for name in ("worker-1", "worker-2")]
        for worker in workers:
            assert worker.wait(timeout=300) == 0
        served = Counter(request.path for request in site.requests)

    results = {name: worker_result(tmp_path, name) for name in ("worker-1", "worker-2")}
    for name, (_, stats) in results.items():
        assert stats["finish_reason"] == "finished", name
    records = [record for worker_records, _ in results.values() for record in worker_records]

    # Every expected record exactly once: per model, its carbon metadata (emissions N+1 g) and
    # the card's prose figure (100 + N % 200 W on an RTX 4090 at batch size 1).
    assert len(records) == len({record["id"] for record in records}) == 2 * MODELS
    for record in records:
        assert_valid_record(record)
    co2_kg = {r["model_id"]: r["co2_kg"] for r in records if r["extractor"] == "card_yaml.co2_eq_emissions"}
    power = {r["model_id"]: (r["power_w"], r["gpu"], r["batch_size"]) for r in records if r["extractor"] == "prose"}
    models = [f"{GENERATED_ORG}/model-{n:05d}" for n in range(MODELS)]
    assert co2_kg == {model: pytest.approx((n + 1) / 1000) for n, model in enumerate(models)}
    assert power == {model: (100 + n % 200, "RTX 4090", 1) for n, model in enumerate(models)}

    # Every request, the two seeds included, went out once in the whole crawl: 2,000 cards,
    # 20 pages of "bench/" and 10 of "model-00".
    assert len(served) == MODELS + 20 + 10 and set(served.values()) == {1}
    stats = [stats for _, stats in results.values()]
    assert sum(s.get("scheduler/enqueued/redis", 0) for s in stats) == MODELS + 30
    # Both workers' start() yielded the two seeds; the shared filter let each in once.
    assert sum(s.get("scheduler/filtered/redis", 0) for s in stats) == 2
    assert sum(s.get("hub_models/models_listed", 0) for s in stats) == MODELS

    # Each worker did a real share: at least a quarter of the 2,000 cards.
    cards = [s.get("hub_models/cards_read", 0) for s in stats]
    assert sum(cards) == MODELS and min(cards) >= MODELS // 4, cards
    # Each wrote its own feed (the file name carries the worker), and the finished crawl
    # cleared what it kept in Redis: the next crawl starts afresh.
    feeds = [path.name for name in results for path in (tmp_path / name / "output" / "hub_models").iterdir()]
    assert len(set(feeds)) == 2
    assert redis.Redis.from_url(redis_url).keys("*") == []


def test_idle_worker_waits_for_a_busy_worker_and_no_longer_than_its_mark_lives(tmp_path, redis_url,
                                                                              start_worker):
    """A worker that has read everything stays open while another says it has work in hand (its
    responses could still queue requests); a worker killed mid-crawl stops holding it open once
    its mark expires. The other worker here is such a mark, set by hand for 12 s."""
    client = redis.Redis.from_url(redis_url)
    with MockSite(generated_models=20) as site:
        client.set("hub_models:busy:other-host-1", "1", px=12_000)
        worker = start_worker(site, "worker", "-a", "search=bench/")
        deadline = time.monotonic() + 60
        while len(site.requests) < 21:  # one listing page and 20 cards
            assert worker.poll() is None and time.monotonic() < deadline, "the worker did not crawl"
            time.sleep(0.1)
        while client.pttl("hub_models:busy:other-host-1") > 300:
            assert worker.poll() is None, "the worker closed while another was still busy"
            time.sleep(0.1)
        # It then closes within the idle grace (3 s) and Scrapy's 5 s idle heartbeat.
        assert worker.wait(timeout=30) == 0
    records, stats = worker_result(tmp_path, "worker")
    assert stats["finish_reason"] == "finished" and len(records) == 40
    assert client.keys("*") == []


def test_interrupted_worker_leaves_the_crawl_to_the_next(tmp_path, redis_url, start_worker):
    """Ctrl-C on the only worker keeps the crawl in Redis; a worker started later finishes it,
    and both workers' output together holds every record exactly once."""
    client = redis.Redis.from_url(redis_url)
    with MockSite(generated_models=200, page_size=50, latency=0.05) as site:
        first = start_worker(site, "first", "-a", "search=bench/", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")
        deadline = time.monotonic() + 60
        while len(site.requests) < 60:  # some cards read, most still queued
            assert first.poll() is None and time.monotonic() < deadline, "the first worker did not crawl"
            time.sleep(0.05)
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=60) == 0
        assert client.zcard("hub_models:requests") > 0 and client.exists("hub_models:dupefilter")
        second = start_worker(site, "second", "-a", "search=bench/")
        assert second.wait(timeout=120) == 0
        served = Counter(request.path for request in site.requests)

    first_records, first_stats = worker_result(tmp_path, "first")
    second_records, second_stats = worker_result(tmp_path, "second")
    assert first_stats["finish_reason"] == "shutdown" and second_stats["finish_reason"] == "finished"
    ids = [record["id"] for record in first_records + second_records]
    assert len(ids) == len(set(ids)) == 400 and second_records
    # Nothing was fetched twice: the second worker's seed was already in the shared filter.
    assert len(served) == 200 + 4 and set(served.values()) == {1}
    assert second_stats["scheduler/filtered/redis"] == 1
    assert client.keys("*") == []


@pytest.mark.parametrize("spider", ["hub_datasets", "hub_models", "ai_energy_score", "github_issues"])
def test_every_spider_yields_the_same_records_as_a_worker(spider, tmp_path, redis_url):
    """No spider changes for a distributed crawl: its requests go through Redis (pickled, with
    their callbacks and arguments) and come back to give the same records as in one process."""
    arguments = DEMO_ARGUMENTS.get(spider, [])
    with MockSite() as site:
        alone = run_crawl(site, spider, tmp_path / "alone", *arguments)
        # The only worker: nobody to wait for once idle.
        worker = run_crawl(site, spider, tmp_path / "worker", *arguments, env={"REDIS_URL": redis_url},
                           settings={"DISTRIBUTED_IDLE_GRACE": 0})
    assert alone.returncode == worker.returncode == 0
    assert worker.stat("scheduler/dequeued/redis") > 0 and alone.stat("scheduler/dequeued/redis") == 0
    assert alone.items and sorted(r["id"] for r in worker.items) == sorted(r["id"] for r in alone.items)
    assert len(worker.discussions) == len(alone.discussions)
    # The Redis password stays out of the log, the stats and the records.
    written = [worker.log, json.dumps(worker.stats), json.dumps(worker.items + worker.discussions)]
    assert not any(REDIS_PASSWORD in text for text in written)


def test_a_worker_that_cannot_reach_redis_stops_at_once_without_crawling(mock_site, tmp_path):
    # Crawling on its own would repeat what the other workers do. The whole of stderr is one line
    # (the check runs before Scrapy logs anything) and the exit code is a usage error's.
    unreachable = f"unix://{tmp_path / 'missing.sock'}?password={REDIS_PASSWORD}"
    environment = {**crawl_environment(mock_site, tmp_path / "output"), "REDIS_URL": unreachable}
    completed = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "hub_models"], cwd=ROOT, env=environment,
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2 and not mock_site.requests and not (tmp_path / "output").exists()
    assert completed.stderr.splitlines() == [
        f"scrapy crawl: error: REDIS_URL is set but Redis does not answer: "
        f"Error 2 connecting to {tmp_path / 'missing.sock'}. No such file or directory."]
    assert completed.stdout == ""


def test_redis_url_alone_switches_a_crawl_to_the_shared_scheduler(redis_url):
    def crawler_with(**settings):
        """A crawler with the project's add-ons and these settings, applied as at crawl start."""
        return get_crawler(HubModelsSpider, settings_dict={"ADDONS": ADDONS, "REDIS_URL": "", **settings})

    alone = crawler_with()
    assert alone.settings["SCHEDULER"] == "scrapy.core.scheduler.Scheduler"
    assert feed_uri_params({}, HubModelsSpider.from_crawler(alone))["worker"] == ""
    shared = crawler_with(REDIS_URL=redis_url)
    assert shared.settings["SCHEDULER"] == "crawler.shared_scheduler.SharedScheduler"
    assert shared.settings["DUPEFILTER_CLASS"] == "scrapy_redis.dupefilter.RFPDupeFilter"
    assert feed_uri_params({}, HubModelsSpider.from_crawler(shared))["worker"].startswith(".")
    # A scheduler named in the settings or on the command line still wins.
    chosen = crawler_with(REDIS_URL=redis_url, SCHEDULER="my.Scheduler")
    assert chosen.settings["SCHEDULER"] == "my.Scheduler"


def test_first_time_is_true_once_per_key_and_kept_in_the_spider_state():
    spider = MeasurementSpider.from_crawler(get_crawler(MeasurementSpider), name="probe")
    assert [spider.first_time("models_seen", key) for key in ("a/x", "a/y", "a/x")] == [True, True, False]
    assert spider.first_time("cards_read", "a/x") is True  # each set on its own
    assert spider.state == {"models_seen": {"a/x", "a/y"}, "cards_read": {"a/x"}}
