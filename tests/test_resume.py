"""A crawl stopped part-way (SIGINT, then SIGKILL if it lingers) and started again with the same
JOBDIR finishes the work: both runs' output together hold every record exactly once."""

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
