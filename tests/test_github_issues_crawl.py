"""End to end: the real github_issues spider against the mock GitHub API (its own loopback host).

Expected records are worked out by hand from demosite/fixtures/github/issues.json.
"""

import pytest

from demosite.server import MockSite
from tests.conftest import assert_expected_fields, run_crawl

ISSUE = "https://github.com/huggingface/transformers/issues/25782"
TOKEN = "ghp_TESTtokenDoNotLeak0987654321"

# (url suffix, power_w or the per-token figure) -> expected fields
EXPECTED = {
    ("/issues/25782", 350.0): {"power_kind": "rated", "flags": ["rated_not_measured"], "gpu": None},
    ("/issues/30001", None): {"energy_per_token_j": 0.35, "gpu": "A100", "method": "codecarbon",
                              "workload": "inference"},
    ("#issuecomment-25782001", 285.0): {"gpu": "H100 PCIe", "batch_size": 8, "method": "zeus",
                                        "extractor": "prose"},
    ("#issuecomment-25782002", 285.0): {"gpu": "H100 PCIe", "method": "nvidia-smi", "extractor": "nvidia_smi"},
    ("#issuecomment-25782002", 62.0): {"gpu": "H100 PCIe", "extractor": "nvidia_smi"},
    ("#issuecomment-25782003", 312.45): {"gpu": "A100 SXM", "extractor": "nvidia_smi"},
    ("#issuecomment-25782003", 298.1): {"gpu": "A100 SXM", "extractor": "nvidia_smi"},
    ("#issuecomment-25782004", 180.0): {"energy_j": 2400.0, "batch_size": 1, "gpu": "A100 SXM", "method": "nvml",
                                        "extractor": "markdown_table.markdown"},
    ("#issuecomment-25782004", 330.0): {"energy_j": 9100.0, "batch_size": 16},
    ("/issues/30004", 55.0): {"gpu": "A10", "phase": "idle", "method": "nvidia-smi"},
    # "(nvidia-smi, power limit 450 W)": the limit is a cap, no record of its own; it is in the notes.
    ("#issuecomment-25782006", 60.0): {"gpu": "RTX 4090", "phase": "idle",
                                       "notes": "power cap 450 W stated beside it"},
    ("#issuecomment-25782006", 340.0): {"phase": "peak", "power_kind": "peak"},
    ("#issuecomment-25782008", 140.0): {"gpu": "A10", "extractor": "markdown_table.markdown"},
    # nvidia-smi dmon pasted in a comment: one power trace, 1 s apart by default; the mean of
    # 55, 56, 142 and 148 W is 401 / 4 = 100.25 W; the GPU is the one the comment names.
    ("#issuecomment-30004001", 100.25): {"gpu": "A10", "extractor": "nvidia_smi", "method": "nvidia-smi",
                                         "trace": {"interval_s": 1.0, "readings_w": [55.0, 56.0, 142.0, 148.0]}},
}


def key(item):
    suffix = item["url"][item["url"].find("#"):] if "#" in item["url"] else "/issues/" + item["url"].rsplit("/", 1)[1]
    return suffix, item["power_w"]


def check_expected(items):
    records = {key(item): item for item in items}
    assert len(items) == len(records) == len(EXPECTED) == 14
    assert_expected_fields(records, EXPECTED)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    with MockSite() as site:
        result = run_crawl(site, "github_issues", tmp_path_factory.mktemp("gh"), env={"GITHUB_TOKEN": TOKEN})
        result.requests = list(site.requests)
    assert result.returncode == 0, result.log[-3000:]
    return result


def test_exactly_the_expected_records(crawl):
    check_expected(crawl.items)
    assert not [i for i in crawl.items if i["url"].endswith("#issuecomment-25782005")]  # code only


def test_discussions(crawl):
    discussions = {d["number"]: d for d in crawl.discussions}
    assert set(discussions) == {25782, 30001, 30003, 30004}  # the pull request is skipped
    rfc = discussions[25782]
    assert (rfc["url"], rfc["state"], rfc["comment_count"], rfc["comments_read"], rfc["complete"]) == (
        ISSUE, "closed", 8, 8, True)
    assert rfc["measurement_count"] == 11  # 1 in the body + 10 in the comments
    assert rfc["tool_mentions"] == {"NVML": 2, "Zeus": 2, "nvidia-smi": 3, "power capping": 1}
    assert discussions[30003]["tools"] == ["CodeCarbon", "RAPL"]  # title and a comment
    assert discussions[30003]["measurement_count"] == 0


def test_stats_and_requests(crawl):
    expected = {"github_issues/issues_read": 4, "github_issues/discussions": 4,
                "github_issues/search_pages": 3,  # "energy": 4 hits at 2 a page; "power": 1
                "github_issues/records_found": 14, "github_issues/comments_by_deleted_users": 1,
                "extract/skipped/pull_request": 1, "extract/skipped/empty_body": 2,
                "extract/error/ragged_row": 1, "measurement/valid": 14, "discussion/valid": 4,
                # Figures read and passed over, by role: the "power limit 450 W" beside a draw,
                # the nvidia-smi caps (350 W twice, 400 W twice), and the 300 W, 0.5 J/token and
                # "250W" of the script in a code block.
                "extract/skipped/cap": 5, "extract/skipped/code": 3}
    assert {name: crawl.stat(name) for name in expected} == expected
    comment_pages = [r.path for r in crawl.requests if "/issues/25782/comments" in r.path]
    assert len(comment_pages) == 2 and comment_pages[1].endswith("page=2")


def test_token_goes_to_the_api_host_only_and_is_never_written(crawl):
    assert {r.host for r in crawl.requests} == {"127.0.0.2"}
    assert {r.authorization for r in crawl.requests} == {f"Bearer {TOKEN}"}
    written = [path.read_text() for path in crawl.output_dir.rglob("*") if path.is_file()]
    assert written and all(TOKEN not in text for text in written + [crawl.log])


def test_near_rate_limit_reset_is_waited_for(tmp_path):
    with MockSite() as site:
        site.github.exhaust_after, site.github.reset_in = 3, 2.0
        result = run_crawl(site, "github_issues", tmp_path)
        statuses = [r.status for r in site.requests]
    assert 403 in statuses and result.stat("github/rate_limit_wait") >= 1
    assert result.stats["finish_reason"] == "finished"
    check_expected(result.items)


def test_far_rate_limit_reset_stops_cleanly_and_keeps_records(tmp_path):
    with MockSite() as site:
        site.github.exhaust_after, site.github.reset_in = 3, 3600.0
        result = run_crawl(site, "github_issues", tmp_path)
    # Non-zero, as python -m crawler.schedule counts it: the crawl is incomplete.
    assert result.returncode == 3
    assert result.stats["finish_reason"] == "github_rate_limited"
    assert result.stat("github/rate_limit_stop") == 1
    # The first three answers (the issue and two search pages) were read before the limit.
    assert 1 <= len(result.items) < 14
    lines = [line for line in result.log.splitlines() if "rate limit spent until" in line]
    assert len(lines) == 1 and "set GITHUB_TOKEN" in lines[0]


def test_secondary_limit_retry_after_is_honoured(tmp_path):
    with MockSite() as site:
        site.github.retry_after_once = {"/issues/25782/comments": 1}
        result = run_crawl(site, "github_issues", tmp_path)
        statuses = [r.status for r in site.requests if "/issues/25782/comments" in r.path]
    assert statuses[:2] == [403, 200] and result.stat("github/retry_after") == 1
    check_expected(result.items)


def test_non_json_comments_page_and_search_cap(tmp_path):
    with MockSite() as site:
        result = run_crawl(site, "github_issues", tmp_path, "-a", "issues=acme/broken#1",
                           "-a", "q=label:bug repo:huggingface/transformers")
    discussion = next(d for d in result.discussions if d["repo"] == "acme/broken")
    assert discussion["complete"] is False and result.stat("extract/error/invalid_api_json") == 1
    assert result.stat("github_issues/searches_cut_off") == 1
    assert "GitHub returns the first 1000 only" in result.log
