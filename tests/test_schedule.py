"""python -m crawler.schedule: one process per spider, a hard timeout each, stats, the synthesis."""

import subprocess
import sys

from demosite.__main__ import crawl_environment
from demosite.server import MockSite
from tests.conftest import ROOT


def schedule(site, tmp_path, *args, env=None):
    environment = {**crawl_environment(site, tmp_path / "output"),
                   "CRAWLER_HTTPCACHE_DIR": str(tmp_path / "httpcache"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "crawler.schedule", "--output", str(tmp_path / "output"), *args],
                          cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)


def test_runs_each_spider_then_the_synthesis(tmp_path):
    with MockSite() as site:
        completed = schedule(site, tmp_path, "--spiders", "ai_energy_score,hub_datasets")
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("ai_energy_score: finished, 8 records, 5 input errors counted")
    assert lines[1].startswith("hub_datasets: finished, 26 records, 7 input errors counted")
    assert "34 measurements from 2 files" in lines[-1]
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "output" / "stats").iterdir()) == [
        "ai_energy_score", "hub_datasets"]
    assert (tmp_path / "output" / "report" / "report.html").exists()


def test_a_spider_past_its_timeout_is_stopped_and_the_run_fails(tmp_path):
    with MockSite() as site:
        # The 429 on throttled.csv asks for a 1 s wait: a 0.5 s bound always cuts the crawl short.
        completed = schedule(site, tmp_path, "--spiders", "hub_datasets", "--timeout", "0.5", "--no-report")
    assert completed.returncode == 1
    assert completed.stdout.splitlines()[0].startswith("hub_datasets: timed out")
    assert not (tmp_path / "output" / "report").exists()


def test_the_summary_line_names_retries_and_fetch_problems():
    from crawler.schedule import SpiderRun

    run = SpiderRun(name="hub_models", outcome="finished", items=25, errors=2, seconds=3.0, feed=None, retries=3,
                    fetch_problems={"fetch/error_page": 2, "fetch/redirect_loop": 1})
    assert run.summary() == ("hub_models: finished, 25 records, 2 input errors counted, 3 retries "
                             "(2 error pages, 1 redirect loop), 3.0 s -> None")
    quiet = SpiderRun(name="hub_models", outcome="finished", items=25, errors=0, seconds=3.0, feed=None, retries=1)
    assert quiet.summary() == "hub_models: finished, 25 records, 0 input errors counted, 1 retry, 3.0 s -> None"
