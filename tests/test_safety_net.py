"""The spiders' safety net (MeasurementSpider.failures_contained and @contained): a rule that raises
costs its own document or listing entry only, is counted as an input error and logged once.

The rules that raise here are stand-ins, compiled as if they lived in crawler.extract: the real
rules are being made not to raise, and what is tested is what the spiders do when one does.
"""

import json
import logging
from types import SimpleNamespace

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from crawler.items import Discussion, Measurement
from crawler.spiders.base import failed_rule
from crawler.spiders.github_issues import GitHubIssuesSpider, IssueState
from crawler.spiders.hub_models import HubModelsSpider

HUB = "https://hub.example"
LISTING_URL = f"{HUB}/api/models?search=x&full=true&cardData=true"


def compiled_in(module: str, source: str, name: str):
    """Function ``name`` of ``source``, compiled as if module ``module`` held it."""
    namespace = {"__name__": module}
    exec(compile(source, f"<{module}>", "exec"), namespace)
    return namespace[name]


def test_the_failed_rule_is_the_extraction_function_the_spider_called():
    rule = compiled_in("crawler.extract.fake", "def fake_rule(text):\n    return helper(text)\n"
                                               "def helper(text):\n    raise ValueError(text)\n", "fake_rule")
    spider_code = compiled_in("crawler.spiders.fake", "def read_entry(entry):\n    return rule(entry)\n"
                                                      "def bad_entry(entry):\n    return sorted(entry)\n",
                              "read_entry")
    spider_code.__globals__["rule"] = rule
    with pytest.raises(ValueError) as raised:
        spider_code("x")
    assert failed_rule(raised.value) == "fake_rule"  # not its helper, not the spider
    with pytest.raises(TypeError) as raised:
        spider_code.__globals__["bad_entry"](5)  # raised inside a builtin called by the spider
    assert failed_rule(raised.value) == "bad_entry"


def opened(spider_class, **settings):
    crawler = get_crawler(spider_class, settings_dict={"HF_ENDPOINT": HUB, "GITHUB_API_URL": "https://api.example",
                                                       "HUB_MAX_CARD_BYTES": 1000, "HUB_MAX_FILE_BYTES": 1000,
                                                       **settings})
    crawler.stats.open_spider()
    return spider_class.from_crawler(crawler), crawler.stats


def errors(stats) -> dict:
    return {key: value for key, value in stats.get_stats().items() if key.startswith("extract/error/")}


def test_what_was_yielded_before_a_failure_is_kept_and_the_failure_counted_once(caplog):
    spider, stats = opened(HubModelsSpider)

    def reading():
        with spider.failures_contained("https://hub.example/doc"):
            yield 1
            yield 2
            compiled_in("crawler.extract.cards", "def card_rule():\n    raise KeyError('emissions')\n",
                        "card_rule")()
            yield 3

    with caplog.at_level(logging.WARNING):
        assert list(reading()) == [1, 2]
    assert errors(stats) == {"extract/error/card_rule/KeyError": 1}
    lines = [r.getMessage() for r in caplog.records if "card_rule" in r.getMessage()]
    assert lines == ["card_rule/KeyError: https://hub.example/doc: 'emissions'"]
    with pytest.raises(CloseSpider):
        with spider.failures_contained("https://hub.example/doc"):
            raise CloseSpider("stop")


def listing_response(entries, next_url):
    return TextResponse(LISTING_URL, body=json.dumps(entries).encode(), encoding="utf-8",
                        headers={"Content-Type": "application/json", "Link": f'<{next_url}>; rel="next"'})


def test_an_entry_that_breaks_a_rule_costs_no_other_entry_and_not_the_next_page(monkeypatch, caplog):
    from crawler.spiders import hub_models

    real_rule = hub_models.co2_eq_emissions_records
    breaking_rule = compiled_in(
        "crawler.extract.model_cards",
        "def co2_eq_emissions_records(card_data):\n"
        "    if card_data.get('co2_eq_emissions') == 'breaks':\n"
        "        raise OverflowError('int too large to convert to float')\n"
        "    return real(card_data)\n", "co2_eq_emissions_records")
    breaking_rule.__globals__["real"] = real_rule
    monkeypatch.setattr(hub_models, "co2_eq_emissions_records", breaking_rule)
    spider, stats = opened(HubModelsSpider)
    card = [{"rfilename": "README.md"}]
    entries = [
        {"id": "org/first", "cardData": {"co2_eq_emissions": 17}, "siblings": card},
        {"id": "org/breaks", "cardData": {"co2_eq_emissions": "breaks"}, "siblings": card},
        {"id": "org/tags", "tags": 5, "cardData": {"co2_eq_emissions": 12}, "siblings": card},
        None,
        {"id": "org/last", "cardData": {"co2_eq_emissions": 9}, "siblings": [None, {"rfilename": 7}, *card]},
    ]
    following = f"{LISTING_URL}&cursor=5"
    with caplog.at_level(logging.WARNING):
        output = list(spider.parse_listing(listing_response(entries, following), page=1, from_listing="search"))

    assert isinstance(output[0], Request) and output[0].url == following  # asked for before the entries
    emissions = {item["model_id"]: item["co2_kg"] for item in output if isinstance(item, Measurement)}
    assert emissions == {"org/first": 17 / 1000, "org/tags": 12 / 1000, "org/last": 9 / 1000}
    cards = [r.cb_kwargs["repo_id"] for r in output[1:] if isinstance(r, Request)]
    assert cards == ["org/first", "org/breaks", "org/tags", "org/last"]  # its card is still read
    assert errors(stats) == {"extract/error/co2_eq_emissions_records/OverflowError": 1,
                             "extract/error/unexpected_api_shape": 3}  # tags, the null entry, the files
    lines = [r.getMessage() for r in caplog.records if "OverflowError" in r.getMessage()]
    assert len(lines) == 1 and f"{HUB}/org/breaks (cardData in the listing)" in lines[0]


def test_a_post_that_breaks_a_rule_costs_no_other_post_nor_the_discussion(monkeypatch):
    from crawler.spiders import github_issues

    fake_rule = compiled_in(
        "crawler.extract.github_issues",
        "def comment_records(body, locator_prefix, *, reply, title):\n"
        "    if 'breaks' in body:\n"
        "        raise RecursionError('maximum recursion depth exceeded')\n"
        "    record = {'extractor': 'prose', 'excerpt': body, 'locator': locator_prefix}\n"
        "    return Extraction(records=[record], problems=[], skipped={})\n", "comment_records")
    fake_rule.__globals__["Extraction"] = SimpleNamespace
    monkeypatch.setattr(github_issues, "comment_records", fake_rule)
    spider, stats = opened(GitHubIssuesSpider)
    issue = {"html_url": "https://github.com/acme/x/issues/1", "number": 1, "title": "Power draw"}
    state = IssueState(issue=issue, repo="acme/x")
    comments = [{"id": n, "html_url": f"{issue['html_url']}#issuecomment-{n}", "user": {"login": "a"},
                 "body": body} for n, body in enumerate(["250 W", "this one breaks", "300 W"], start=1)]
    response = TextResponse("https://api.example/repos/acme/x/issues/1/comments", body=json.dumps(comments).encode(),
                            encoding="utf-8", headers={"Content-Type": "application/json"})
    output = list(spider.parse_comments(response, state))
    assert [item["excerpt"] for item in output if isinstance(item, Measurement)] == ["250 W", "300 W"]
    assert isinstance(output[-1], Discussion) and output[-1]["comments_read"] == 3
    assert errors(stats) == {"extract/error/comment_records/RecursionError": 1}
