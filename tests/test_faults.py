"""Crawls of a faulty mock site (demosite/faults.py): an outage, broken answers, listing entries of
unexpected shapes. What a fault costs is counted, and nothing else is lost.

The expected records are test_hub_models_crawl's, worked out by hand from the fixtures.
"""

import pytest

from demosite.__main__ import crawl_environment
from demosite.server import MockSite
from tests.conftest import FAST_RETRIES, assert_expected_fields, run_crawl
from tests.test_hub_models_crawl import EXPECTED, key

# The first request of a listing, and its second page (3 models a page in the mock).
LISTING = "/api/models?search={term}&full=true&cardData=true&sort=downloads&direction=-1&limit=100"
SECOND_PAGE = LISTING + "&cursor=3"
CO2_LISTING = "/api/models?filter=co2_eq_emissions&full=true"


def records_by_key(result):
    records = {key(item): item for item in result.items}
    assert len(records) == len(result.items), "a record was written twice"
    return records


def error_counts(result) -> dict:
    return {name: count for name, count in result.stats.items() if name.startswith("extract/error/")}


@pytest.mark.parametrize("answer", ["unavailable", "dropped"])  # 503s, or connections closed unanswered
def test_an_outage_shorter_than_the_retry_budget_costs_no_record(tmp_path, answer):
    # 2 s of outage (a minute on the real sources, scaled down) against retries that wait 0.2,
    # 0.4, 0.8, then 1 s five times: 6.4 s, the shape of the real budget (2 s doubling to 60 s).
    with MockSite() as site:
        site.faults.outage(2, answer)
        result = run_crawl(site, "hub_models", tmp_path,
                           settings={"RETRY_BACKOFF_BASE": 0.2, "RETRY_BACKOFF_MAX": 1})
        failed = [r for r in site.requests if r.status in (0, 503)]
    assert failed, "no request met the outage"
    assert result.returncode == 0 and result.stats["finish_reason"] == "finished"
    assert_expected_fields(records_by_key(result), EXPECTED)
    # (Twisted itself sends a request again, once, when a reused connection dies unanswered.)
    assert 0 < result.stat("retry/count") <= len(failed) and result.stat("retry/max_reached") == 0


def test_an_outage_past_the_retry_budget_stops_the_crawl_with_a_failure(tmp_path):
    with MockSite() as site:
        site.faults.outage(float("inf"))
        result = run_crawl(site, "hub_models", tmp_path)
    assert result.returncode == 3 and result.items == []
    assert result.stats["finish_reason"] == "source_unavailable"
    assert result.stat("fetch/source_unavailable") == 1
    lines = [line for line in result.log.splitlines() if "stopping the crawl (source_unavailable)" in line]
    assert len(lines) == 1 and "127.0.0.1 gave no usable answer" in lines[0]
    assert "scrapy crawl: the crawl stopped early (source_unavailable)" in result.log


def test_the_schedule_reports_a_source_outage_and_fails(tmp_path, capsys):
    from crawler.schedule import run_all

    with MockSite() as site:
        site.faults.outage(float("inf"))
        environment = {**crawl_environment(site, tmp_path / "output"),
                       "CRAWLER_HTTPCACHE_DIR": str(tmp_path / "httpcache")}
        failed = run_all(tmp_path / "output", spiders=["hub_models"], env=environment,
                         arguments={"hub_models": [*FAST_RETRIES, "-s", "RETRY_TIMES=2",
                                                   "-s", "AUTOTHROTTLE_START_DELAY=0.01"]}, report=False)
    line = capsys.readouterr().out.splitlines()[0]
    assert failed == 1
    assert line.startswith("hub_models: source_unavailable (exit 3), 0 records, 0 input errors counted, ")
    assert "retries" in line


def test_error_pages_in_place_of_listings_are_retried_and_later_pages_read(tmp_path):
    with MockSite() as site:
        site.faults.add("html_page", LISTING.format(term="GPT"))
        site.faults.add("empty_body", SECOND_PAGE.format(term="GPT"))
        site.faults.add("broken_gzip", CO2_LISTING)
        result = run_crawl(site, "hub_models", tmp_path)
    assert result.returncode == 0
    assert_expected_fields(records_by_key(result), EXPECTED)
    assert result.stat("hub_models/listing_pages") == 7
    assert (result.stat("fetch/error_page"), result.stat("fetch/broken_encoding")) == (2, 1)
    assert result.stat("retry/count") == 3 and result.stat("extract/error/invalid_api_json") == 0


def test_a_listing_that_stays_an_error_page_is_an_input_error(tmp_path):
    with MockSite() as site:
        site.faults.add("html_page", LISTING.format(term="H100"), times=None)
        result = run_crawl(site, "hub_models", tmp_path, settings={"RETRY_TIMES": 2})
    lost = {k for k in EXPECTED if k[1] == "someone/H100-bench"}  # the one model of that search
    assert_expected_fields(records_by_key(result), {k: v for k, v in EXPECTED.items() if k not in lost})
    assert result.stat("fetch/error_page") == 3 and result.stat("retry/max_reached") == 1
    assert result.stat("extract/error/invalid_api_json") == 1
    assert result.stats["finish_reason"] == "finished"


def test_redirect_loops_and_short_bodies_are_counted(tmp_path):
    with MockSite() as site:
        site.faults.add("redirect_loop", "/someone/H100-bench/resolve/main/README.md", times=None)
        site.faults.add("short_body", LISTING.format(term="Mistral"))  # once: the retry reads it whole
        site.faults.add("short_body", "/someone/tiny-co2-number/resolve/main/README.md", times=None)
        result = run_crawl(site, "hub_models", tmp_path, settings={"RETRY_TIMES": 2})
    lost = {k for k in EXPECTED if k[1] == "someone/H100-bench"}  # its card is never read
    assert_expected_fields(records_by_key(result), {k: v for k, v in EXPECTED.items() if k not in lost})
    assert result.stat("fetch/redirect_loop") == 1 and result.stat("extract/error/redirect_loop") == 1
    # Mistral's listing once, then the card that never comes whole: its request and 2 retries.
    assert result.stat("fetch/short_body") == 1 + 3 and result.stat("extract/error/short_body") == 1
    assert result.stat("dupefilter/filtered") == 0
    assert result.stats["finish_reason"] == "finished"


def test_listing_entries_of_unexpected_shapes_cost_only_themselves(tmp_path):
    with MockSite() as site:
        site.hub.entry_overrides = {
            "someone/gpt2-finetuned-imdb": {"cardData": {"co2_eq_emissions": {"emissions": 10**400}}},
            "broken/gpt-broken-yaml": {"tags": 5},
            "gated-org/GPT-gated": {"siblings": [None, {"rfilename": 5}, {"rfilename": "README.md"}]},
        }
        result = run_crawl(site, "hub_models", tmp_path)
    assert result.returncode == 0
    # Only the metadata figure with the 400-digit emissions is gone; every card was still read
    # (the template of gpt2-finetuned-imdb, the prose of gpt-broken-yaml), and the next page too
    # (its binary and oversized cards are counted).
    lost = ("card_yaml.co2_eq_emissions", "someone/gpt2-finetuned-imdb", 0.017)
    assert_expected_fields(records_by_key(result), {k: v for k, v in EXPECTED.items() if k != lost})
    errors = error_counts(result)
    assert errors.pop("extract/error/unexpected_api_shape") == 2  # the tags, the unnamed files
    assert errors.pop("extract/error/gated") == 1  # GPT-gated's card was still asked for
    assert (errors.pop("extract/error/binary_card"), errors.pop("extract/error/oversized")) == (1, 1)
    assert result.stat("hub_models/listing_pages") == 7
    assert "spider_exceptions/count" not in result.stats

