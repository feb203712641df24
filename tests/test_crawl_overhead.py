"""What a crawl does not spend CPU on: imports it has no use for, log lines nobody sees, per-field
export calls (issue 15). Each is checked against the behaviour it must keep."""

import io
import logging
import subprocess
import sys

import pytest
from scrapy.exporters import JsonLinesItemExporter
from scrapy.http import Request, TextResponse
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from crawler.exporters import StrictJsonLinesItemExporter
from crawler.items import Discussion, Measurement
from crawler.logformatter import VisibleLinesLogFormatter, shows_debug
from crawler.stats import CrawlStatsCollector
from demosite.__main__ import crawl_environment
from tests.conftest import ROOT

# What an empty crawl imported before issue 15 and never used: Scrapy's remote control (aiohttp),
# its cookie jar (tldextract), redis for distributed crawls, pyarrow for Parquet feeds.
UNUSED_BY_A_PLAIN_CRAWL = ("aiohttp", "tldextract", "redis", "scrapy_redis", "pyarrow")


def test_a_crawl_imports_only_what_it_uses(mock_site, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scrapy", "crawl", "hub_models", "-a", "search=", "-a", "filter=",
         "-a", "ids=", "--loglevel", "ERROR"],
        cwd=ROOT, env=crawl_environment(mock_site, tmp_path / "output"), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines()
                if line.startswith("import time:")}
    assert "scrapy.core.downloader.contextfactory" in imported  # the list is read right
    assert not {name for name in imported if name.split(".")[0] in UNUSED_BY_A_PLAIN_CRAWL}


def test_remote_control_and_cookies_are_out_of_scrapys_lists():
    settings = get_project_settings()
    assert "scrapy.extensions.remote_control.RemoteControl" not in settings.getwithbase("EXTENSIONS")
    assert "scrapy.downloadermiddlewares.cookies.CookiesMiddleware" not in settings.getwithbase("DOWNLOADER_MIDDLEWARES")
    # Everything else of Scrapy's own is still there.
    assert "scrapy.extensions.throttle.AutoThrottle" in settings.getwithbase("EXTENSIONS")
    assert "scrapy.downloadermiddlewares.redirect.RedirectMiddleware" in settings.getwithbase("DOWNLOADER_MIDDLEWARES")


@pytest.mark.parametrize("level, shown", [("DEBUG", True), ("debug", True), (logging.DEBUG, True), (5, True),
                                          ("INFO", False), ("ERROR", False), (logging.WARNING, False),
                                          ("NO_SUCH_LEVEL", True)])
def test_debug_lines_are_built_only_when_the_log_level_shows_them(level, shown):
    assert shows_debug(Settings({"LOG_LEVEL": level})) is shown
    assert shows_debug(Settings({"LOG_LEVEL": level, "LOG_ENABLED": False})) is False
    formatter = VisibleLinesLogFormatter(shown)
    request = Request("http://hub.test/a")
    response = TextResponse(request.url, body=b"{}", request=request)
    item = Measurement(source="hub_models")
    crawled, scraped = formatter.crawled(request, response, None), formatter.scraped(item, response, None)
    if shown:
        assert (crawled["level"], scraped["level"]) == (logging.DEBUG, logging.DEBUG)
        assert crawled["args"]["status"] == 200 and scraped["args"]["item"] is item
    else:
        assert crawled is None and scraped is None
    # Other lines are Scrapy's, whatever the level.
    assert formatter.item_error(item, ValueError("no"), response, None)["level"] == logging.ERROR


def scrapy_line(item, **options) -> bytes:
    file = io.BytesIO()
    JsonLinesItemExporter(file, allow_nan=False, encoding="utf-8", **options).export_item(item)
    return file.getvalue()


def our_line(item, **options) -> bytes:
    file = io.BytesIO()
    StrictJsonLinesItemExporter(file, encoding="utf-8", **options).export_item(item)
    return file.getvalue()


FULL = Measurement({**dict.fromkeys(Measurement.fields),
                    "source": "hub_models", "power_w": 350.5, "flags": ["derived"], "bounds": {"power_w": [300, 401]},
                    "excerpt": "draws ~350 W – “measured”", "model_id": "org/模型"})
# Filled in another order than the schema's, with fields missing.
PARTIAL = Measurement(excerpt="x", power_w=1e16, source="hub_models", gpu_count=8)


@pytest.mark.parametrize("item", [FULL, PARTIAL, Discussion(title="GPU power", tools=["nvidia-smi"], number=3)])
@pytest.mark.parametrize("options", [{}, {"export_empty_fields": True}, {"fields_to_export": ["power_w", "source"]}])
def test_a_record_is_written_as_scrapys_exporter_writes_it(item, options):
    assert our_line(item, **options) == scrapy_line(item, **options)


def test_a_record_holding_nan_is_refused_as_before():
    with pytest.raises(ValueError, match="not JSON compliant"):
        our_line(Measurement(source="hub_models", power_w=float("nan")))


def test_stats_are_kept_as_scrapys_collector_keeps_them_without_its_per_read_shim():
    settings = get_project_settings()
    assert settings["STATS_CLASS"] == "crawler.stats.CrawlStatsCollector"
    stats = CrawlStatsCollector(get_crawler(settings_dict={"STATS_DUMP": False}))
    stats.inc_value("records_found")
    stats.inc_value("records_found", 2)
    stats.inc_value("pages", spider=None)  # the deprecated argument still works
    stats.max_value("depth", 3)
    stats.max_value("depth", 1)
    stats.set_value("finish_reason", "finished")
    assert stats.get_stats() == {"records_found": 3, "pages": 1, "depth": 3, "finish_reason": "finished"}
    assert stats.get_value("records_found") == 3 and stats.get_value("missing", 0) == 0
    # Scrapy's shim leaves a wrapped copy of each method it was asked for on the instance.
    assert not [name for name in vars(stats) if name.startswith("_cached_")]


def test_the_downloader_is_imported_with_a_cheap_stack_and_inspect_is_left_as_it_was():
    """crawler.commands.crawl imports Scrapy's downloader with inspect.stack() reading no source:
    the deprecated aliases it makes still name their module, and inspect.stack is restored."""
    script = ("import inspect, sys; import crawler.commands.crawl; "
              "from scrapy.core.downloader.tls import ScrapyClientTLSOptions; "
              "print(ScrapyClientTLSOptions.__module__, type(inspect.stack).__name__, "
              "inspect.stack.__defaults__, 'scrapy.core.downloader.contextfactory' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert completed.stdout.split() == ["scrapy.core.downloader.tls", "function", "(1,)", "True"], completed.stderr
