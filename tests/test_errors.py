"""Errors a person can act on: the real commands, run as a user runs them, end with one line saying
what is wrong and an exit code a scheduler can read, never a traceback.

"One line" is exact: the whole of stderr (or, for a crawl that did run, its last line, after the
crawl's own log) is compared, not searched.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from demosite.__main__ import crawl_environment
from demosite.server import MockSite
from tests.conftest import FAST_RETRIES, ROOT, run_crawl

KNOWN_SPIDERS = "ai_energy_score, github_issues, hub_datasets, hub_models, mlperf_power"


def scrapy(*args: str, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    # Nothing may reach the network: loopback only, as in every test.
    environment = {**os.environ, "CRAWLER_ALLOWED_HOSTS": "127.0.0.1", **(env or {})}
    environment.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize(("arguments", "message"), [
    (["hub_models", "-a", "max_pages=abc"], "-a max_pages='abc': expected a whole number of 1 or more"),
    (["hub_datasets", "-a", "max_files=0"], "-a max_files='0': expected a whole number of 1 or more"),
    (["github_issues", "-a", "issues=foo"], "-a issues: 'foo' is not owner/repo#number"),
    (["ai_energy_score", "-a", "reports=report.json"],
     "-a reports: 'report.json' is neither a URL nor datasets|spaces|models/<org>/<name>/<path>"),
    (["hub_models", "-a", "max_pages"], "Invalid -a value, use -a NAME=VALUE"),
    (["no_such_spider"], f"no spider named 'no_such_spider' (known: {KNOWN_SPIDERS})"),
    ([], f"name one spider to run (known: {KNOWN_SPIDERS})"),
    (["hub_models", "hub_datasets"], f"name one spider to run (known: {KNOWN_SPIDERS})"),
])
def test_a_bad_spider_argument_is_one_line_and_exit_2(tmp_path, arguments, message):
    completed = scrapy("scrapy", "crawl", *arguments, env={"CRAWLER_OUTPUT_DIR": str(tmp_path / "output")})
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [f"scrapy crawl: error: {message}"]
    assert completed.stdout == "" and not (tmp_path / "output").exists()


@pytest.mark.parametrize("module", ["crawler.schedule", "demosite"])
def test_run_outside_the_project_says_so_and_exits_2(tmp_path, module):
    completed = scrapy(module, cwd=tmp_path, env={"SCRAPY_SETTINGS_MODULE": ""})
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        f"python -m {module}: error: no scrapy.cfg in {tmp_path} or any folder above it "
        "(and SCRAPY_SETTINGS_MODULE is not set): run it from the project folder"]
    assert completed.stdout == "" and list(tmp_path.iterdir()) == []


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


UNREACHABLE_LINE = ("scrapy crawl: network unreachable: no request got an answer from any server (refused, "
                    "no DNS, timed out); check the connection and the endpoint settings")


@pytest.mark.parametrize(("arguments", "given_up"), [
    # One request (no robots.txt either): given up after its retries, nothing is left to do, and
    # the crawl would "finish" with no record.
    (("-a", "search=", "-a", "filter=", "-a", "ids=org/model", "-s", "ROBOTSTXT_OBEY=False"), 1),
    # Many requests to one host: the outage check stops the crawl, as for a host that went down.
    ((), 0),
], ids=["idle", "outage"])
def test_a_crawl_that_reached_no_server_says_network_unreachable_and_fails(tmp_path, arguments, given_up):
    with MockSite() as site:
        result = run_crawl(site, "hub_models", tmp_path, *arguments, "-s", "RETRY_TIMES=2",
                           env={"HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"})
        assert site.requests == []
    assert result.returncode == 3 and result.items == []
    assert result.stats["finish_reason"] == "network_unreachable"
    assert result.stat("fetch/network_unreachable") == 1 and result.stat("fetch/source_unavailable") == 0
    assert result.stat("retry/max_reached") == given_up
    # Every attempt refused (three per request with RETRY_TIMES=2), not one answered.
    assert result.stat("downloader/exception_count") >= 3 and result.stat("downloader/response_count") == 0
    errors = [line for line in result.log.splitlines() if "Network unreachable:" in line]
    assert len(errors) == 1 and "no server answered any request" in errors[0] and "Connection refused" in errors[0]
    assert result.log.rstrip("\n").splitlines()[-1] == UNREACHABLE_LINE


def test_a_healthy_source_with_nothing_new_finishes_with_exit_0(mock_site, tmp_path):
    # Same spider and arguments as the "idle" case above, against a source that answers: a search
    # that matches no model is a crawl with no records, not a failure.
    result = run_crawl(mock_site, "hub_models", tmp_path, "-a", "search=no-model-has-this-name", "-a", "filter=")
    assert mock_site.requests
    assert result.returncode == 0 and result.items == []
    assert result.stats["finish_reason"] == "finished" and result.stat("fetch/network_unreachable") == 0
    assert "network unreachable" not in result.log.lower()


def test_the_schedule_reports_network_unreachable_and_fails(tmp_path, capfd):
    from crawler.schedule import run_all

    with MockSite() as site:
        environment = {**crawl_environment(site, tmp_path / "output"),
                       "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
                       "CRAWLER_HTTPCACHE_DIR": str(tmp_path / "httpcache")}
        failed = run_all(tmp_path / "output", spiders=["hub_models"], env=environment,
                         arguments={"hub_models": [*FAST_RETRIES, "-s", "RETRY_TIMES=2",
                                                   "-s", "AUTOTHROTTLE_START_DELAY=0.01"]}, report=False)
    out, err = capfd.readouterr()
    assert failed == 1
    assert out.splitlines()[0].startswith("hub_models: network_unreachable (exit 3), 0 records, ")
    # The crawl's own last line, and its error from the log, reach the person watching the run.
    assert UNREACHABLE_LINE in err.splitlines()
    assert sum("[crawler.middlewares] ERROR: Network unreachable:" in line for line in err.splitlines()) == 1
    assert "Traceback" not in err


def test_appending_to_a_parquet_file_that_holds_data_is_refused_before_crawling(tmp_path):
    earlier = tmp_path / "earlier.parquet"
    earlier.write_bytes(b"PAR1 an earlier crawl's records")
    result = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "hub_models", "-o", str(earlier)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"scrapy crawl: error: {earlier} holds data and a Parquet file cannot be appended to: use -O to replace it"]
    assert earlier.read_bytes() == b"PAR1 an earlier crawl's records"
