"""A crawl stopped part-way and started again with the same JOBDIR finishes the work: both runs'
output together hold every record exactly once, whether the first run stopped cleanly (SIGINT) or
was killed outright (SIGKILL)."""

import json
import os
import signal
import subprocess
import time

from demosite.__main__ import crawl_environment
from demosite.server import MockSite
from tests.conftest import ROOT, feed_records, scrapy_crawl


def crawl(site, output, jobdir, cache):
    environment = {**crawl_environment(site, output), "CRAWLER_HTTPCACHE_DIR": str(cache),
                   "CRAWLER_STATS_JSON": str(output / "stats.json")}
    output.mkdir(parents=True, exist_ok=True)
    command = scrapy_crawl("hub_models", output / "crawl.log", "-s", f"JOBDIR={jobdir}",
                           "-s", "CONCURRENT_REQUESTS=2", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def records(output):
    return feed_records(output / "hub_models")[0]


def test_stopped_crawl_resumes_with_its_jobdir(tmp_path):
    jobdir, cache = tmp_path / "job", tmp_path / "cache"
    # 21 responses at 0.4 s each, two at a time: the crawl takes about 4 s once it has started.
    with MockSite(latency=0.4) as site:
        first = crawl(site, tmp_path / "first", jobdir, cache)
        deadline = time.time() + 60
        while len(site.requests) < 6:  # the listings are in: stop while cards are being read
            assert time.time() < deadline and first.poll() is None, "the first crawl did not start"
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGINT)
        try:
            first.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        stopped_with = records(tmp_path / "first")
        first_stats = json.loads((tmp_path / "first" / "stats.json").read_text())
        assert first_stats["finish_reason"] == "shutdown" and len(stopped_with) < 25  # stopped part-way
        second = crawl(site, tmp_path / "second", jobdir, cache)
        assert second.wait(timeout=120) == 0
    assert json.loads((tmp_path / "second" / "stats.json").read_text())["finish_reason"] == "finished"
    both = stopped_with + records(tmp_path / "second")
    ids = [record["id"] for record in both]
    assert len(ids) == len(set(ids)) == 25  # every expected record, exactly once


def test_killed_crawl_resumes_without_writing_a_record_twice(tmp_path):
    jobdir, cache = tmp_path / "job", tmp_path / "cache"
    with MockSite(latency=0.4) as site:
        first = crawl(site, tmp_path / "first", jobdir, cache)
        deadline = time.time() + 60
        # The first listing's card metadata is in the feed: kill while cards are still to be read.
        while not any(feed.stat().st_size for feed in (tmp_path / "first").glob("hub_models/*.jsonl")):
            assert time.time() < deadline and first.poll() is None, "the first crawl wrote nothing"
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        killed_with = records(tmp_path / "first")
        assert 1 <= len(killed_with) < 25  # killed part-way, after writing some records
        second = crawl(site, tmp_path / "second", jobdir, cache)
        assert second.wait(timeout=120) == 0
    stats = json.loads((tmp_path / "second" / "stats.json").read_text())
    assert stats["finish_reason"] == "finished" and stats["resume/after_hard_kill"] == 1
    # The second run read everything again and wrote only what the first had not.
    assert stats["resume/already_written"] == len(killed_with)
    both = killed_with + records(tmp_path / "second")
    ids = [record["id"] for record in both]
    assert len(ids) == len(set(ids)) == 25  # every expected record, exactly once


def wait_for_a_record(process, output):
    deadline = time.time() + 60
    while not any(feed.stat().st_size for feed in output.glob("hub_models/*.jsonl")):
        assert time.time() < deadline and process.poll() is None, "the crawl wrote nothing"
        time.sleep(0.05)


def test_killed_resumed_crawl_starts_over_from_a_clean_job_folder(tmp_path):
    # Stopped cleanly (its queue saved), resumed, killed: the folder now holds the first stop's
    # queue index, queue files the second run changed since, and the requests it had taken.
    jobdir, cache = tmp_path / "job", tmp_path / "cache"
    with MockSite(latency=0.4) as site:
        first = crawl(site, tmp_path / "first", jobdir, cache)
        wait_for_a_record(first, tmp_path / "first")
        os.killpg(first.pid, signal.SIGINT)
        assert first.wait(timeout=30) == 0
        second = crawl(site, tmp_path / "second", jobdir, cache)
        wait_for_a_record(second, tmp_path / "second")
        os.killpg(second.pid, signal.SIGKILL)
        second.wait()
        third = crawl(site, tmp_path / "third", jobdir, cache)
        assert third.wait(timeout=120) == 0
    stats = json.loads((tmp_path / "third" / "stats.json").read_text())
    assert stats["finish_reason"] == "finished" and stats["resume/after_hard_kill"] == 1
    runs = [records(tmp_path / run) for run in ("first", "second", "third")]
    assert all(runs[:2]) and len(runs[0]) + len(runs[1]) < 25  # both stopped part-way
    assert stats["resume/already_written"] == len(runs[0]) + len(runs[1])
    ids = [record["id"] for run in runs for record in run]
    assert len(ids) == len(set(ids)) == 25
