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


def test_the_log_relay_shows_warnings_errors_and_progress_but_not_info(tmp_path):
    import io

    from crawler.schedule import LogRelay

    log_file = tmp_path / "crawl.log"
    shown = io.StringIO()
    relay = LogRelay(log_file, shown)
    relay.relay()  # not written yet: nothing to show
    log_file.write_text(
        "2026-11-29 12:00:00 [scrapy.utils.log] INFO: Overridden settings:\n"
        "{'BOT_NAME': 'crawler'}\n"
        "2026-11-29 12:00:01 [scrapy.extensions.logstats] INFO: Crawled 0 pages (at 0 pages/min), scraped 0 items "
        "(at 0 items/min)\n"
        "2026-11-29 12:00:02 [hub_models] WARNING: gated: HTTP 401 for x\n"
        "2026-11-29 12:00:03 [scrapy.core.scraper] ERROR: Spider error processing y\n"
        "Traceback (most recent call last):\n"
        "  ValueError: z\n"
        "2026-11-29 12:01:01 [scrapy.extensions.logstats] INFO: Crawled 120 pages (at 120 pages/min), "
        "scraped 40 items (at 40 items/min)\n"
        "2026-11-29 12:01:02 [scrapy.core.engine] INFO: Closing spider (finished)\n"
        "2026-11-29 12:01:03 [hub_models] WARNING: half a li", "utf-8")
    relay.relay()
    assert shown.getvalue().splitlines() == [
        "2026-11-29 12:00:02 [hub_models] WARNING: gated: HTTP 401 for x",
        "2026-11-29 12:00:03 [scrapy.core.scraper] ERROR: Spider error processing y",
        "Traceback (most recent call last):",
        "  ValueError: z",
        "2026-11-29 12:01:01 [scrapy.extensions.logstats] INFO: Crawled 120 pages (at 120 pages/min), "
        "scraped 40 items (at 40 items/min)",
    ]
    with log_file.open("a", encoding="utf-8") as more:
        more.write("ne\n")  # the line is complete only now
    relay.close()
    assert shown.getvalue().splitlines()[-1] == "2026-11-29 12:01:03 [hub_models] WARNING: half a line"


def test_a_scheduled_crawl_shows_its_progress_and_keeps_its_whole_log(tmp_path, capfd):
    from crawler.schedule import run_all

    with MockSite() as site:
        environment = {**crawl_environment(site, tmp_path / "output"),
                       "CRAWLER_HTTPCACHE_DIR": str(tmp_path / "httpcache")}
        # The 429 on throttled.csv asks for a 1 s wait, so the crawl lasts longer than 0.2 s: at
        # least one progress line after the first (the first, at 0 pages, is not shown).
        failed = run_all(tmp_path / "output", spiders=["hub_datasets"], env=environment,
                         arguments={"hub_datasets": ["-s", "LOGSTATS_INTERVAL=0.2",
                                                     "-s", "AUTOTHROTTLE_START_DELAY=0.01"]}, report=False)
    out, err = capfd.readouterr()
    assert failed == 0 and out.splitlines()[0].startswith("hub_datasets: finished, 26 records")
    progress = [line for line in err.splitlines() if "[scrapy.extensions.logstats] INFO: Crawled " in line]
    assert progress and all(" pages (at " in line and " items (at " in line for line in progress)
    assert "[scrapy.core.engine] INFO" not in err  # the rest of INFO stays in the log file
    [log_file] = (tmp_path / "output" / "logs").glob("hub_datasets-*.log")
    log = log_file.read_text("utf-8")
    assert "[scrapy.core.engine] INFO: Spider closed (finished)" in log
    assert all(line in log for line in progress)
    assert log.count("[scrapy.extensions.logstats] INFO: Crawled ") == len(progress) + 1
